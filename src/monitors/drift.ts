/**
 * Drift: a change at Cloudflare nobody made through the bot (the dashboard, auto-advertisement, the account team).
 * Each tick (a BullMQ job scheduler, one per deployment: src/jobs/drift.ts) reads every managed prefix of every
 * configured account through the shared coalesced reader, in the `background` budget class, and compares each BGP
 * prefix's advertisement and prepend, the service bindings and the delegations with the baseline: what the bot last
 * set or saw (in Redis). A difference no open or just-finished request explains becomes a Finding; back to the
 * baseline, it is resolved. A Cloudflare read that fails is a log line and a retry next tick, never a drift.
 */
import type { Logger } from 'pino';
import { withRequestClass } from '../cloudflare/request-class.js';
import type { Prefix } from '../domain/addressing.js';
import { compareState, driftTitle, rebase, sameItem, sectionsOf, type DriftItem, type DriftSection, type PrefixState } from '../domain/drift.js';
import { TERMINAL_STATES, type Operation } from '../domain/operation.js';
import { ErrorCode, isBotError, userMessageOf } from '../errors.js';
import { canonical, listPrefixes } from '../kinds/lookup.js';
import type { KindDeps } from '../kinds/types.js';
import type { OperationStore } from '../operations/store.js';
import type { RedisClient } from '../redis.js';
import type { AlertSink, Finding } from './findings.js';

/** Why a prefix was not compared this tick (a bounded set: a metric label). */
export type DriftSkipReason = 'read_failed' | 'rate_limited' | 'baseline_changed' | 'error';

/**
 * What the drift check reports to the metrics (src/metrics.ts implements it; the monitor knows nothing of
 * Prometheus). Every label is from a bounded set.
 */
export interface DriftMetrics {
  /** A tick ended: `completed`, `overlapped` (the previous one still held the lock: nothing done) or `failed` (threw). */
  driftTick(outcome: 'completed' | 'overlapped' | 'failed', seconds: number): void;
  /** A prefix's Cloudflare state was read and compared with its baseline (a first baseline is not a comparison). */
  driftCompared(): void;
  driftSkipped(reason: DriftSkipReason): void;
  driftRaised(section: DriftSection): void;
  driftResolved(section: DriftSection): void;
  /** A Cloudflare read of the check failed (an account's prefix list, or a prefix's state), by error code. */
  driftReadFailed(code: string): void;
}

/** A Cloudflare read of the check failed: told apart from Redis or the alert sink failing. */
class CloudflareReadFailed extends Error {
  constructor(readonly reason: unknown) {
    super('a Cloudflare read of the drift check failed');
  }
}

export interface DriftDeps {
  redis: RedisClient;
  /** The store's key prefix (`{prefix}:`): one hash tag with everything else. */
  keyPrefix: string;
  kinds: Pick<KindDeps, 'cloudflare' | 'reader' | 'policy'>;
  store: Pick<OperationStore, 'active' | 'recent'>;
  sink: AlertSink;
  logger: Logger;
  now?: () => number;
  /**
   * A request that finished this long before the previous tick still explains a difference on its prefix (its own
   * hook may have failed; replicas' clocks differ a little). 2 s. A change made outside the bot within this margin
   * of a request on the same part of the prefix is taken as the request's.
   */
  finishedMarginMs?: number;
  /**
   * How long the drift check's own reads are shared (through the coalesced reader) with other readers: under the
   * tick interval, so every tick sees Cloudflare as it is. 1 s.
   */
  shareMs?: number;
  metrics?: DriftMetrics;
}

/** What one tick did (the job's return value, and what tests look at). */
export interface DriftTickReport {
  tick: number;
  at: number;
  prefixes: number;
  /** Prefixes compared with their baseline this tick. */
  compared: number;
  /** Prefixes left for the next tick because the budget's background share ran out (it starts with them). */
  notReached?: number;
  /** Prefixes not compared this tick, and why (a read failed, a request is changing it...); `reason`: the metric's label. */
  skipped: { prefix: string; why: string; reason: DriftSkipReason }[];
  raised: string[];
  resolved: string[];
  baselined: string[];
}

interface OpenDrift {
  item: DriftItem;
  /** The tick that first saw it, and the one before (the change happened in between). */
  seenAt: number;
  previousTickAt: number | null;
  tick: number;
}

interface Versioned {
  v: number;
  state: PrefixState;
}

const MOVING = new Set(['approved', 'executing', 'verifying']);

/** Longest a tick holds the lock (a replica that died mid-tick frees it by then). */
const TICK_LOCK_MS = 10 * 60_000;
const UNLOCK = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

/** Writes the baseline if its version is still the one read (or none was there): no lost update between replicas. */
const CAS = `local v = redis.call('HGET', KEYS[1], 'v')
if (v or '') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[2], 'state', ARGV[3])
return 1`;

export class DriftMonitor {
  private readonly now: () => number;

  constructor(private deps: DriftDeps) {
    this.now = deps.now ?? Date.now;
  }

  private key(...parts: string[]): string {
    return `${this.deps.keyPrefix}drift:${parts.join(':')}`;
  }

  /**
   * One comparison of every managed prefix; its Cloudflare reads are `background` in the budget. A tick that outlasts
   * the interval is not run twice at once by two replicas: the later one finds the lock held and does nothing (null).
   */
  async tick(): Promise<DriftTickReport | null> {
    const lock = this.key('lock');
    const token = `${process.pid}-${Math.random().toString(36).slice(2)}`;
    const started = performance.now();
    const seconds = () => (performance.now() - started) / 1000;
    if ((await this.deps.redis.set(lock, token, 'PX', TICK_LOCK_MS, 'NX')) !== 'OK') {
      this.deps.logger.info('drift: the previous tick is still running; skipping this one');
      this.deps.metrics?.driftTick('overlapped', seconds());
      return null;
    }
    try {
      const report = await withRequestClass('background', () => this.tickOnce(), { maxWaitMs: 5000 });
      this.deps.metrics?.driftTick('completed', seconds());
      return report;
    } catch (err) {
      this.deps.metrics?.driftTick('failed', seconds());
      throw err;
    } finally {
      await this.deps.redis.eval(UNLOCK, 1, lock, token);
    }
  }

  /** `counted: false`: an account whose prefix list could not be read (its prefixes are not known, so not counted). */
  private skip(report: DriftTickReport, prefix: string, why: string, reason: DriftSkipReason, counted = true): void {
    report.skipped.push({ prefix, why, reason });
    if (counted) this.deps.metrics?.driftSkipped(reason);
  }

  private readFailed(err: unknown): void {
    this.deps.metrics?.driftReadFailed(isBotError(err) ? err.code : 'unknown');
  }

  private async tickOnce(): Promise<DriftTickReport> {
    const { redis, logger } = this.deps;
    const at = this.now();
    const prev = await redis.hgetall(this.key('tick'));
    const previousTickAt = prev.at ? Number(prev.at) : null;
    const tick = (prev.n ? Number(prev.n) : 0) + 1;
    const report: DriftTickReport = { tick, at, prefixes: 0, compared: 0, skipped: [], raised: [], resolved: [], baselined: [] };
    const [active, recent] = await Promise.all([this.deps.store.active(), this.deps.store.recent(200)]);
    // The budget's background share used up: the rest of this tick waits for the next one (said once per tick).
    const outOfBudget = (err: unknown) => isBotError(err) && err.code === ErrorCode.CloudflareRateLimited;
    const all: { accountId: string; prefix: Prefix }[] = [];
    for (const account of this.deps.kinds.policy.cloudflare.accounts) {
      try {
        const prefixes = await listPrefixes(this.deps.kinds as KindDeps, account.id);
        for (const prefix of [...prefixes].sort((a, b) => a.id.localeCompare(b.id))) all.push({ accountId: account.id, prefix });
      } catch (err) {
        logger.warn({ account: account.id, why: userMessageOf(err) }, 'drift: the prefixes of an account could not be read; retrying next tick');
        this.readFailed(err);
        // Its prefixes are not known: listed as the account, not counted as skipped prefixes.
        this.skip(report, `account ${account.name}`, userMessageOf(err), outOfBudget(err) ? 'rate_limited' : 'read_failed', false);
        if (outOfBudget(err)) break;
      }
    }
    // A tick the budget cut short left a cursor: this one starts there, so the prefixes at the end of the list are
    // compared too, in turn, however many there are (each is compared every few ticks instead of never).
    const cursor = prev.cursor ?? '';
    const start = Math.max(0, all.findIndex((x) => `${x.accountId}:${x.prefix.id}` >= cursor));
    const order = [...all.slice(start), ...all.slice(0, start)];
    let stoppedAt: string | null = null;
    for (const { accountId, prefix } of order) {
      report.prefixes++;
      try {
        await this.checkPrefix(accountId, prefix, { at, tick, previousTickAt, active, recent }, report);
      } catch (thrown) {
        const read = thrown instanceof CloudflareReadFailed;
        const err = read ? thrown.reason : thrown;
        logger.warn({ prefix: prefix.cidr, why: userMessageOf(err) }, 'drift: a prefix could not be read; no comparison this tick, retrying next tick');
        if (read) this.readFailed(err);
        this.skip(report, prefix.cidr, userMessageOf(err), outOfBudget(err) ? 'rate_limited' : read ? 'read_failed' : 'error');
        if (outOfBudget(err)) {
          stoppedAt = `${accountId}:${prefix.id}`;
          report.notReached = order.length - report.prefixes;
          break;
        }
      }
    }
    await redis.hset(this.key('tick'), 'n', String(tick), 'at', String(at), 'cursor', stoppedAt ?? '');
    if (report.raised.length || report.resolved.length) logger.info({ tick, raised: report.raised, resolved: report.resolved }, 'drift tick');
    return report;
  }

  private async checkPrefix(
    accountId: string,
    prefix: Prefix,
    t: { at: number; tick: number; previousTickAt: number | null; active: Operation[]; recent: Operation[] },
    report: DriftTickReport,
  ): Promise<void> {
    const base = await this.loadBase(prefix.id);
    const current = await this.readState(accountId, prefix).catch((err: unknown) => {
      throw new CloudflareReadFailed(err);
    });
    const here = (o: Operation) => o.prefixId === prefix.id;
    const open = t.active.filter(here);
    // A request being carried out may be changing these sections right now: not drift, and not yet settled.
    const skip = [...new Set(open.filter((o) => MOVING.has(o.state)).flatMap((o) => sectionsOf(o.kind)))];
    if (!base) {
      if (await this.writeBase(prefix.id, null, current)) report.baselined.push(prefix.cidr);
      return;
    }
    // Finished since the last tick (its own hook should have re-baselined; if it could not, this does).
    const since = (t.previousTickAt ?? t.at) - (this.deps.finishedMarginMs ?? 2000);
    const finished = t.recent.filter((o) => here(o) && TERMINAL_STATES.has(o.state) && o.cloudflare !== null && o.updatedAt >= since);
    const settled = [...new Set(finished.flatMap((o) => sectionsOf(o.kind)))].filter((s) => !skip.includes(s));
    let baseline = base.state;
    if (settled.length) {
      const next = rebase(baseline, current, settled);
      if (JSON.stringify(next) !== JSON.stringify(baseline)) {
        if (!(await this.writeBase(prefix.id, base.v, next))) {
          this.skip(report, prefix.cidr, 'baseline changed meanwhile', 'baseline_changed');
          return;
        }
        report.baselined.push(prefix.cidr);
        baseline = next;
      }
    } else {
      // A request's hook may have re-baselined while this tick read Cloudflare: compare next tick instead.
      const again = await this.loadBase(prefix.id);
      if (again?.v !== base.v) {
        this.skip(report, prefix.cidr, 'baseline changed meanwhile', 'baseline_changed');
        return;
      }
    }

    const items = compareState(baseline, current, skip);
    const openKey = this.key('open', prefix.id);
    const stored = await this.deps.redis.hgetall(openKey);
    const known = new Map(Object.entries(stored).map(([id, raw]) => [id, JSON.parse(raw) as OpenDrift]));
    for (const item of items) {
      const was = known.get(item.id);
      if (was && sameItem(was.item, item)) continue;
      const entry: OpenDrift = { item, seenAt: t.at, previousTickAt: t.previousTickAt, tick: t.tick };
      // Raised first, recorded after: a sink that fails is tried again next tick.
      await this.deps.sink.raise(this.finding(prefix, accountId, entry, open));
      await this.deps.redis.hset(openKey, item.id, JSON.stringify(entry));
      report.raised.push(this.findingKey(prefix.id, item.id));
      this.deps.metrics?.driftRaised(item.section);
    }
    const present = new Set(items.map((i) => i.id));
    for (const [id, was] of known) {
      if (present.has(id) || skip.includes(was.item.section)) continue;
      const by = finished.find((o) => sectionsOf(o.kind).includes(was.item.section));
      const why = by
        ? `Request ${by.id} (${by.kind}) finished on ${prefix.cidr}; Cloudflare now shows what the bot expects.`
        : `Cloudflare shows ${was.item.before} again, as the bot last left it.`;
      await this.deps.sink.resolve(this.findingKey(prefix.id, id), why, t.at);
      await this.deps.redis.hdel(openKey, id);
      report.resolved.push(this.findingKey(prefix.id, id));
      this.deps.metrics?.driftResolved(was.item.section);
    }
    report.compared++;
    this.deps.metrics?.driftCompared();
  }

  /**
   * The engine's hook: a request finished (done, contested, unconfirmed, or failed after a call). The sections it
   * may have changed become the baseline as Cloudflare shows them now. A failure here is logged; the next tick sees
   * the request as just finished and re-baselines then.
   */
  async recordFinished(op: Operation): Promise<void> {
    const sections = sectionsOf(op.kind);
    if (!op.prefixId || !sections.length) return;
    try {
      const prefix = (await listPrefixes(this.deps.kinds as KindDeps, op.accountId)).find((p) => p.id === op.prefixId);
      if (!prefix) return;
      const current = await this.readState(op.accountId, prefix, true);
      for (let i = 0; i < 3; i++) {
        const base = await this.loadBase(op.prefixId);
        const next = base ? rebase(base.state, current, sections) : current;
        if (await this.writeBase(op.prefixId, base?.v ?? null, next)) return;
      }
    } catch (err) {
      this.deps.logger.warn({ operationId: op.id, why: userMessageOf(err) }, 'drift: baseline not updated after the request; the next tick does it');
    }
  }

  /** The last tick that finished: its number and when it started (null before the first). */
  async lastTick(): Promise<{ n: number; at: number } | null> {
    const h = await this.deps.redis.hgetall(this.key('tick'));
    return h.n ? { n: Number(h.n), at: Number(h.at) } : null;
  }

  /** The differences open now on one prefix (for status and tests). */
  async openDrift(prefixId: string): Promise<DriftItem[]> {
    const stored = await this.deps.redis.hgetall(this.key('open', prefixId));
    return Object.values(stored).map((raw) => (JSON.parse(raw) as OpenDrift).item);
  }

  findingKey(prefixId: string, itemId: string): string {
    return `drift:${prefixId}:${itemId}`;
  }

  private finding(prefix: Prefix, accountId: string, d: OpenDrift, open: Operation[]): Finding {
    const { item } = d;
    const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const when = d.previousTickAt !== null ? `between the drift checks at ${iso(d.previousTickAt)} and ${iso(d.seenAt)}` : `before the drift check at ${iso(d.seenAt)}`;
    const requests = open.length ? open.map((o) => `${o.kind} ${o.prefix} requested by ${o.requestedBy} (${o.state.replace(/_/g, ' ')}, request ${o.id})`).join('; ') : 'none';
    const putBack = item.putBack;
    const facts = [
      { label: 'Before (the bot last set or saw)', value: item.before },
      { label: 'After (Cloudflare now)', value: item.after },
      { label: 'When', value: when },
      { label: 'Open requests on this prefix', value: requests },
      {
        label: 'Put back',
        value: putBack
          ? `a ${putBack.kind} request${putBack.args?.target ? ` of ${putBack.args.target}` : ''} on ${putBack.cidr}, approved as usual`
          : 'no request kind of the bot sets this; set it back at Cloudflare, or acknowledge it',
      },
    ];
    return {
      key: this.findingKey(prefix.id, item.id),
      source: 'drift',
      type: 'drift',
      prefix: item.what === 'advertised' || item.what === 'prepend' ? item.cidr : (canonical(prefix.cidr) ?? prefix.cidr),
      accountId,
      title: driftTitle(item, canonical(prefix.cidr) ?? prefix.cidr),
      facts,
      observedAt: d.seenAt,
      actions: putBack ? ['put_back', 'acknowledge'] : ['acknowledge'],
      ...(putBack ? { putBack: { kind: putBack.kind, cidr: putBack.cidr, ...(putBack.args ? { args: putBack.args } : {}) } } : {}),
      raw: { item, tick: d.tick, previousTickAt: d.previousTickAt, seenAt: d.seenAt, openRequests: open.map((o) => o.id) },
    };
  }

  /** Cloudflare's state of one prefix, through the shared reader (`fresh`: just after a change, skip shared answers). */
  private async readState(accountId: string, prefix: Prefix, fresh = false): Promise<PrefixState> {
    const { reader, cloudflare } = this.deps.kinds;
    // Keys of its own: a tick's answer read just before a change must never be what a request's watch reads after it.
    if (fresh) await reader.invalidate(`drift-bgp:${prefix.id}`, `drift-bindings:${prefix.id}`, `drift-delegations:${prefix.id}`);
    const ttl = Math.max(1, this.deps.shareMs ?? 1000);
    const [bgp, bindings, delegations] = await Promise.all([
      reader.read(`drift-bgp:${prefix.id}`, ttl, () => cloudflare.listBgpPrefixes(accountId, prefix.id)),
      reader.read(`drift-bindings:${prefix.id}`, ttl, () => cloudflare.listServiceBindings(accountId, prefix.id)),
      reader.read(`drift-delegations:${prefix.id}`, ttl, () => cloudflare.listDelegations(accountId, prefix.id)),
    ]);
    const c = (cidr: string) => canonical(cidr) ?? cidr;
    const sort = <T extends { cidr: string }>(xs: T[]) => xs.sort((a, b) => a.cidr.localeCompare(b.cidr));
    return {
      prefixId: prefix.id,
      accountId,
      cidr: c(prefix.cidr),
      bgp: sort(bgp.map((b) => ({ cidr: c(b.cidr), advertised: b.onDemand.advertised, prepend: b.asnPrependCount }))),
      bindings: sort(bindings.map((b) => ({ cidr: c(b.cidr), service: b.serviceName }))),
      delegations: sort(delegations.map((d) => ({ cidr: c(d.cidr), account: d.delegatedAccountId.toLowerCase() }))),
    };
  }

  private async loadBase(prefixId: string): Promise<Versioned | null> {
    const h = await this.deps.redis.hgetall(this.key('base', prefixId));
    if (!h.state) return null;
    return { v: Number(h.v), state: JSON.parse(h.state) as PrefixState };
  }

  private async writeBase(prefixId: string, v: number | null, state: PrefixState): Promise<boolean> {
    const res = await this.deps.redis.eval(CAS, 1, this.key('base', prefixId), v === null ? '' : String(v), String((v ?? 0) + 1), JSON.stringify(state));
    return res === 1;
  }
}

