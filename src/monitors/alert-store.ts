/**
 * Alerts in Redis: one alert per finding `key` while it is not resolved, its states (open / acknowledged / resolved),
 * its audit lines, and the delivery of ONE alert card per alert to the policy's alerts channel, updated in place.
 *
 * Keys live under the OperationStore's key prefix (one hash tag), so the compare-and-set script runs on Redis Cluster.
 * Every change is one CAS (Lua) that checks the key's pointer to its open alert and the record's version, writes the
 * record, moves the pointer, appends the audit line and marks the alert for delivery: concurrent raises of one key
 * make one alert.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { BlastRadiusFacts } from '../domain/operation.js';
import { alertsChannel, type EnginePolicy } from '../domain/policy.js';
import { BotError, ErrorCode } from '../errors.js';
import type { OperationStore } from '../operations/store.js';
import { DeliveryBackoff, DeliveryError } from '../operations/deliverer.js';
import type { AlertSink, AlertState, Finding } from './findings.js';

/** What the card shows of the prefix's surroundings: read once per card version by the deliverer (never on the webhook's path). */
export interface AlertContext {
  /** The bindings, delegations, address maps and BGP prefixes of the prefix (src/kinds/blast-radius.ts), or why not. */
  blast: BlastRadiusFacts | null;
  /** The looking glass: how many peers see it, from which origins, or why not. */
  routing: { peersSeeing: number; origins: number[]; error: string | null } | null;
  readAt: number;
}

export interface Alert {
  id: string;
  key: string;
  state: AlertState;
  /** The latest finding raised for this key. */
  finding: Finding;
  raisedAt: number;
  updatedAt: number;
  /** How many raises were folded into this alert (duplicates and updates included). */
  raises: number;
  acknowledgedBy?: string;
  acknowledgedAt?: number;
  resolvedAt?: number;
  resolvedWhy?: string;
  /** Plain lines added after the fact (e.g. the detector's automatic advertise, or why it was not sent). */
  notes: string[];
  channel: string;
  cardTs?: string;
  context?: AlertContext;
}

/** Posts and updates alert cards (implemented in src/slack/alert-notifier.ts). Throws DeliveryError. */
export interface AlertNotifier {
  postCard(alert: Alert): Promise<string>;
  updateCard(alert: Alert): Promise<void>;
  /** What the card would show now; an update that would show the same is skipped. */
  fingerprint(alert: Alert): string;
  /** The ts of this alert's card already in the channel (a post whose answer was lost), if any. */
  findPosted(alert: Alert): Promise<string | null>;
}

/** Enqueues the alert's delivery (a BullMQ job, so it survives a crash). */
export type AlertDispatch = (alertId: string) => Promise<void>;

const CAS = `
-- KEYS: 1 pointer (key -> open alert id), 2 record, 3 audit stream, 4 recent zset, 5 pending set
-- ARGV: 1 expected pointer ('*' = do not check), 2 expected version ('' = new record), 3 json, 4 pointer op (set|del|keep),
--       5 id, 6 now, 7 retention ms, 8.. audit fields
local cur = redis.call('GET', KEYS[1]) or ''
if ARGV[1] ~= '*' and cur ~= ARGV[1] then return -1 end
local v = redis.call('HGET', KEYS[2], 'v') or ''
if v ~= ARGV[2] then return -1 end
local nv = (tonumber(v) or 0) + 1
redis.call('HSET', KEYS[2], 'v', tostring(nv), 'json', ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[7])
if ARGV[4] == 'set' then redis.call('SET', KEYS[1], ARGV[5])
elseif ARGV[4] == 'del' and cur == ARGV[5] then redis.call('DEL', KEYS[1]) end
if #ARGV > 7 then
  local f = {}
  for i = 8, #ARGV do f[#f + 1] = ARGV[i] end
  redis.call('XADD', KEYS[3], '*', unpack(f))
end
redis.call('ZADD', KEYS[4], ARGV[6], ARGV[5])
redis.call('SADD', KEYS[5], ARGV[5])
return nv
`;

type Change = { alert: Alert; pointer: 'set' | 'del' | 'keep'; audit: { type: string; actor: string; data?: Record<string, unknown> } | null };

export interface AlertStoreDeps {
  store: OperationStore;
  policy: EnginePolicy;
  logger: Logger;
  /** Set once the queue exists (app.ts); without it, raises are recorded and the maintenance sweep delivers. */
  dispatch?: AlertDispatch;
  now?: () => number;
  /** How long an alert record is kept (default 90 days). */
  retentionMs?: number;
}

/** Who acknowledged, with the reason not asked for: an acknowledgement is "someone is on it". */
export class AlertStore implements AlertSink {
  private now: () => number;
  dispatch: AlertDispatch | undefined;

  constructor(private deps: AlertStoreDeps) {
    this.now = deps.now ?? Date.now;
    this.dispatch = deps.dispatch;
    if (!('byoipAlertCas' in deps.store.redis)) deps.store.redis.defineCommand('byoipAlertCas', { lua: CAS });
  }

  private get redis() {
    return this.deps.store.redis;
  }

  private pointerKey(key: string): string {
    return this.deps.store.key('alert-key', createHash('sha1').update(key).digest('hex'));
  }
  private recordKey(id: string): string {
    return this.deps.store.key('alert', id);
  }
  readonly recentKey = (): string => this.deps.store.key('alerts-recent');
  readonly pendingKey = (): string => this.deps.store.key('alerts-pending');

  async get(id: string): Promise<Alert | null> {
    const json = await this.redis.hget(this.recordKey(id), 'json');
    return json ? (JSON.parse(json) as Alert) : null;
  }

  /** The open (not resolved) alert of a key, if any. */
  async openFor(key: string): Promise<Alert | null> {
    const id = await this.redis.get(this.pointerKey(key));
    return id ? this.get(id) : null;
  }

  async recent(limit = 50): Promise<Alert[]> {
    const ids = await this.redis.zrevrange(this.recentKey(), 0, limit - 1);
    const all = await Promise.all(ids.map((id) => this.get(id)));
    return all.filter((a): a is Alert => a !== null);
  }

  async raise(finding: Finding): Promise<{ alertId: string; created: boolean }> {
    for (let attempt = 0; attempt < 50; attempt++) {
      const pointer = this.pointerKey(finding.key);
      const openId = await this.redis.get(pointer);
      const now = this.now();
      if (openId) {
        const [v, json] = await this.redis.hmget(this.recordKey(openId), 'v', 'json');
        if (v && json) {
          const current = JSON.parse(json) as Alert;
          const next: Alert = { ...current, finding: { ...finding, raw: undefined }, updatedAt: now, raises: current.raises + 1 };
          const changed = JSON.stringify(current.finding.facts) !== JSON.stringify(finding.facts) || current.finding.title !== finding.title;
          // A duplicate (a webhook delivered again) is counted, not audited line by line: the audit says what changed.
          const audit = changed ? { type: 'alert_updated', actor: finding.source, data: { key: finding.key, title: finding.title, raw: finding.raw ?? null } } : null;
          if (await this.cas(openId, openId, v, { alert: next, pointer: 'keep', audit })) {
            if (changed) await this.kick(openId);
            return { alertId: openId, created: false };
          }
          continue;
        }
        // A pointer to a record that is gone (retention): open anew, replacing it.
      }
      const id = randomBytes(8).toString('hex');
      const alert: Alert = {
        id,
        key: finding.key,
        state: 'open',
        finding: { ...finding, raw: undefined },
        raisedAt: now,
        updatedAt: now,
        raises: 1,
        notes: [],
        channel: alertsChannel(this.deps.policy),
      };
      const audit = { type: 'alert_raised', actor: finding.source, data: { key: finding.key, type: finding.type, prefix: finding.prefix, title: finding.title, raw: finding.raw ?? null } };
      if (await this.cas(id, openId ?? '', '', { alert, pointer: 'set', audit })) {
        this.deps.logger.warn({ alertId: id, key: finding.key, type: finding.type, prefix: finding.prefix }, 'alert raised');
        await this.kick(id);
        return { alertId: id, created: true };
      }
    }
    throw new BotError(ErrorCode.InvalidInput, `The alert ${finding.key} is being raised by many at once; try again in a moment.`, true);
  }

  async resolve(key: string, why: string, at: number): Promise<{ alertId: string } | null> {
    const id = await this.redis.get(this.pointerKey(key));
    if (!id) return null;
    const done = await this.change(id, (a) => {
      if (a.state === 'resolved') return null;
      return { alert: { ...a, state: 'resolved', resolvedAt: at, resolvedWhy: why, updatedAt: this.now() }, pointer: 'del', audit: { type: 'alert_resolved', actor: a.finding.source, data: { key, why } } };
    });
    return done ? { alertId: id } : null;
  }

  /** Someone is on it: recorded, audited, shown on the card. Refuses a resolved alert with a sentence. */
  async acknowledge(id: string, userId: string): Promise<Alert> {
    const alert = await this.change(id, (a) => {
      if (a.state === 'resolved') throw new BotError(ErrorCode.InvalidInput, 'This alert is already resolved; nothing to acknowledge.');
      if (a.state === 'acknowledged') throw new BotError(ErrorCode.InvalidInput, `This alert was already acknowledged by {by}.`, false, { people: { by: a.acknowledgedBy ?? '' } });
      return { alert: { ...a, state: 'acknowledged', acknowledgedBy: userId, acknowledgedAt: this.now(), updatedAt: this.now() }, pointer: 'keep', audit: { type: 'alert_acknowledged', actor: userId, data: { key: a.key } } };
    });
    if (!alert) throw new BotError(ErrorCode.InvalidInput, 'That alert no longer exists.');
    return alert;
  }

  /** Adds a plain line to the card (audited as an update). */
  async note(id: string, line: string, actor: string): Promise<void> {
    await this.change(id, (a) => ({ alert: { ...a, notes: [...a.notes, line].slice(-10), updatedAt: this.now() }, pointer: 'keep', audit: { type: 'alert_updated', actor, data: { key: a.key, note: line } } }));
  }

  /** Stores what the deliverer read for the card (no audit line: it is a read, not a change). */
  async setContext(id: string, context: AlertContext): Promise<void> {
    await this.change(id, (a) => ({ alert: { ...a, context }, pointer: 'keep', audit: null }), false);
  }

  async setCardTs(id: string, ts: string): Promise<void> {
    await this.change(id, (a) => (a.cardTs ? null : { alert: { ...a, cardTs: ts }, pointer: 'keep', audit: null }), false);
  }

  /** Applies `fn` to the current record (CAS, retried). `fn` returning null changes nothing. */
  private async change(id: string, fn: (a: Alert) => Change | null, deliver = true): Promise<Alert | null> {
    for (let attempt = 0; attempt < 50; attempt++) {
      const [v, json] = await this.redis.hmget(this.recordKey(id), 'v', 'json');
      if (!v || !json) return null;
      const c = fn(JSON.parse(json) as Alert);
      if (!c) return null;
      if (await this.cas(id, '*', v, c, c.pointer === 'del' ? c.alert.key : undefined)) {
        if (deliver) await this.kick(id);
        return c.alert;
      }
      await new Promise((r) => setTimeout(r, Math.random() * 5 * (attempt + 1)));
    }
    throw new BotError(ErrorCode.InvalidInput, 'That alert is being changed by many at once; try again in a moment.', true);
  }

  private async cas(id: string, expectedPointer: string, expectedVersion: string, c: Change, key?: string): Promise<boolean> {
    const s = this.deps.store;
    const auditFields = c.audit ? ['type', c.audit.type, 'op', `alert:${id}`, 'actor', c.audit.actor, 'at', String(this.now()), 'data', JSON.stringify({ alertId: id, ...(c.audit.data ?? {}) })] : [];
    const res = (await (this.redis as unknown as { byoipAlertCas: (...a: (string | number)[]) => Promise<number> }).byoipAlertCas(
      5,
      this.pointerKey(key ?? c.alert.key),
      this.recordKey(id),
      s.auditKey(),
      this.recentKey(),
      this.pendingKey(),
      expectedPointer,
      expectedVersion,
      JSON.stringify(c.alert),
      c.pointer,
      id,
      String(this.now()),
      String(this.deps.retentionMs ?? 90 * 86_400_000),
      ...auditFields,
    )) as number;
    return res !== -1;
  }

  private async kick(id: string): Promise<void> {
    if (!this.dispatch) return;
    await this.dispatch(id).catch((err: unknown) => this.deps.logger.warn({ err, alertId: id }, 'alert delivery not enqueued; the sweep delivers it'));
  }

  /** Drops index entries of alerts past retention (their records expire on their own). */
  async prune(): Promise<void> {
    await this.redis.zremrangebyscore(this.recentKey(), 0, this.now() - (this.deps.retentionMs ?? 90 * 86_400_000));
  }

  async pending(): Promise<string[]> {
    return this.redis.smembers(this.pendingKey());
  }

  async donePending(id: string): Promise<void> {
    await this.redis.srem(this.pendingKey(), id);
  }
}

const LEASE_MS = 5_000;

export interface AlertDelivererDeps {
  alerts: AlertStore;
  store: OperationStore;
  notifier: AlertNotifier;
  /** Reads the blast radius and the routing view for the card; failures are shown, never thrown. */
  readContext?: (alert: Alert) => Promise<AlertContext>;
  logger: Logger;
  /** A context older than this is read again before an update (default 60 s). */
  contextMaxAgeMs?: number;
}

/**
 * Delivers alert cards: one post per alert (exactly once, even when Slack's answer is lost: an attempt key, then a
 * metadata lookup before posting again), then chat.update in place while what the card shows changes. Alerts have
 * their own queue and do not wait for the operations' per-channel pacing: incident time first.
 */
export class AlertDeliverer {
  constructor(private deps: AlertDelivererDeps) {}

  async drain(id: string): Promise<void> {
    const { store } = this.deps;
    const lockKey = store.key('alert-deliver-lock', id);
    for (let round = 0; round < 20; round++) {
      const token = randomBytes(8).toString('hex');
      if ((await store.redis.set(lockKey, token, 'PX', LEASE_MS, 'NX')) !== 'OK') return; // the holder delivers; it re-checks after
      let again = false;
      try {
        again = await this.deliverLocked(id);
      } finally {
        await store.redis.eval("if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0", 1, lockKey, token);
      }
      if (!again) return;
    }
  }

  /** One pass; true when the record changed meanwhile (another pass is needed). */
  private async deliverLocked(id: string): Promise<boolean> {
    const { alerts, store, notifier, logger } = this.deps;
    let alert = await alerts.get(id);
    if (!alert) {
      await alerts.donePending(id);
      return false;
    }
    const maxAge = this.deps.contextMaxAgeMs ?? 60_000;
    // Incident time first: the card goes out at once; its blast radius and routing view follow as an update.
    if (alert.cardTs && this.deps.readContext && alert.finding.prefix && alert.state !== 'resolved' && (!alert.context || Date.now() - alert.context.readAt > maxAge)) {
      const context = await this.deps.readContext(alert).catch((err: unknown) => ({ blast: null, routing: null, readAt: Date.now(), error: String(err) }) as AlertContext);
      await alerts.setContext(id, context);
      alert = (await alerts.get(id)) ?? alert;
    }
    const seen = JSON.stringify(alert);
    try {
      await this.withRetryAfter(async () => {
        if (!alert!.cardTs) {
          const attemptKey = store.key('alert-deliver-attempt', id);
          if (await store.redis.get(attemptKey)) {
            const ts = await notifier.findPosted(alert!).catch(() => null);
            if (ts) {
              await alerts.setCardTs(id, ts);
              await store.audit({ type: 'delivered', opId: `alert:${id}`, actor: 'system', data: { alertId: id, item: 'alert_card', ts, found: true } });
              alert = { ...alert!, cardTs: ts };
            }
          }
        }
        if (!alert!.cardTs) {
          const attemptKey = store.key('alert-deliver-attempt', id);
          await store.redis.set(attemptKey, '1', 'PX', 7 * 86_400_000);
          const ts = await notifier.postCard(alert!);
          await alerts.setCardTs(id, ts);
          await store.redis.set(store.key('alert-card-shown', id), createHash('sha1').update(notifier.fingerprint(alert!)).digest('hex'), 'PX', 7 * 86_400_000);
          await store.audit({ type: 'delivered', opId: `alert:${id}`, actor: 'system', data: { alertId: id, item: 'alert_card', ts } });
          return;
        }
        const shownKey = store.key('alert-card-shown', id);
        const print = createHash('sha1').update(notifier.fingerprint(alert!)).digest('hex');
        if ((await store.redis.get(shownKey)) === print) return;
        await notifier.updateCard(alert!);
        await store.redis.set(shownKey, print, 'PX', 7 * 86_400_000);
      });
    } catch (err) {
      if (err instanceof DeliveryError && err.permanent) {
        logger.error({ alertId: id, err }, 'Slack refused an alert card for good');
        await store.audit({ type: 'delivery_failed', opId: `alert:${id}`, actor: 'system', data: { alertId: id, item: 'alert_card', error: err.message } });
        await alerts.donePending(id);
        return false;
      }
      throw err;
    }
    const now = await alerts.get(id);
    // Just posted without its context: another pass reads it and updates the card.
    if (now && !JSON.parse(seen).cardTs && now.cardTs && this.deps.readContext && now.finding.prefix && now.state !== 'resolved' && !now.context) return true;
    const { cardTs: _a, context: _b, ...a } = now ?? ({} as Alert);
    const { cardTs: _c, context: _d, ...b } = JSON.parse(seen) as Alert;
    if (now && JSON.stringify(a) !== JSON.stringify(b)) return true;
    await alerts.donePending(id);
    return false;
  }

  private async withRetryAfter(fn: () => Promise<void>): Promise<void> {
    for (let i = 0; ; i++) {
      try {
        return await fn();
      } catch (err) {
        if (err instanceof DeliveryError && err.retryAfterMs !== null && err.retryAfterMs > 0) {
          if (err.retryAfterMs > 10_000 || i >= 3) throw new DeliveryBackoff(Date.now() + err.retryAfterMs);
          await new Promise((r) => setTimeout(r, err.retryAfterMs!));
          continue;
        }
        throw err;
      }
    }
  }
}
