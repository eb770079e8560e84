import { readFileSync } from 'node:fs';
import type { RedisClient } from '../redis.js';
import type { OpEvent } from '../domain/events.js';
import { BotError, ErrorCode } from '../errors.js';
import { isTerminal, type Operation } from '../domain/operation.js';
import type { EmergencyBatch } from '../domain/batch.js';

export type { RedisClient };

const lua = (name: string) => readFileSync(new URL(`./lua/${name}.lua`, import.meta.url), 'utf8');
const SCRIPTS = { byoipCreate: lua('create'), byoipCas: lua('cas'), byoipAckOutbox: lua('ack-outbox'), byoipCreateBatch: lua('create-batch') } as const;

type ScriptFn = (...args: (string | number)[]) => Promise<unknown>;
type WithScripts = RedisClient & Record<keyof typeof SCRIPTS, ScriptFn>;

/**
 * Something to deliver to Slack for an operation, in order. `card` re-renders the status card from the record;
 * `event` is rendered by the Slack layer into a thread reply.
 */
export type OutboxItem = { kind: 'card' } | { kind: 'event'; event: OpEvent };

/** Re-render the status card. */
export const CARD: OutboxItem = { kind: 'card' };
/** Post an event in the thread. */
export const eventItem = (event: OpEvent): OutboxItem => ({ kind: 'event', event });

export interface QueuedItem {
  seq: number;
  item: OutboxItem;
  /** When the item was recorded (absent on items recorded before the stamp existed). */
  recordedAt?: number;
}

/** One line of the audit stream: who did what to which operation, and what came back. */
export interface AuditEntry {
  type: string;
  opId: string;
  actor: string;
  data?: Record<string, unknown>;
}

export interface AuditRecord extends AuditEntry {
  id: string;
  at: number;
}

export interface UpdateResult {
  op: Operation;
  notify?: OutboxItem[];
  audit?: AuditEntry[];
}

export type CreateResult = { created: true } | { created: false; lockedBy: string } | { created: false; noUseLeft: { used: number; nextFreeAt: number } };

export type CreateBatchResult = { created: true } | { created: false; lockedBy: string; prefix: string } | { created: false; noUseLeft: { used: number; nextFreeAt: number } };

export interface CreateOptions {
  /** Break glass: take one use of the sliding window in the same step (a lost race spends nothing). */
  breakGlassUse?: { maxUses: number; windowMs: number };
  /** Break glass: supersede the open request holding the lock, compare-and-set on the version read. */
  supersede?: { id: string; version: string; op: Operation; notify: OutboxItem[]; audit: AuditEntry };
}

/**
 * Operation records in Redis. Every change is a compare-and-set (Lua, loaded once and sent by SHA) that also appends
 * its outbox items and audit entries, so a crash can never leave a state change without its notification or audit
 * line. All keys share one hash tag, so the scripts also run on Redis Cluster.
 */
export class OperationStore {
  readonly keyPrefix: string;
  /** Told of every state an operation enters through this store (metrics); created records included. */
  onStateChange: ((kind: string, state: string) => void) | undefined;
  private scripts: WithScripts;

  constructor(
    readonly redis: RedisClient,
    prefix: string,
    private now: () => number = Date.now,
    /** How long a finished operation's record is kept (its audit lines follow auditRetentionMs). */
    private retention: { operationMs: number; auditMs: number } = { operationMs: 90 * 86_400_000, auditMs: 400 * 86_400_000 },
  ) {
    this.keyPrefix = `{${prefix}}:`;
    for (const [name, lua] of Object.entries(SCRIPTS)) {
      if (!(name in redis)) redis.defineCommand(name, { lua });
    }
    this.scripts = redis as WithScripts;
  }

  key(...parts: string[]): string {
    return this.keyPrefix + parts.join(':');
  }

  private opKey = (id: string) => this.key('op', id);
  private lockKey = (prefix: string) => this.key('lock', prefix);
  private outboxKey = (id: string) => this.key('outbox', id);
  private seqKey = (id: string) => this.key('outbox-seq', id);
  private deliveredKey = (id: string) => this.key('delivered', id);
  readonly cardShownKey = (id: string) => this.key('card-shown', id);
  readonly pendingKey = () => this.key('outbox-pending');
  readonly auditKey = () => this.key('audit');
  readonly openKey = () => this.key('open');
  readonly recentKey = () => this.key('recent');
  /** Operations not yet in a terminal state (the recovery sweep's list). */
  readonly activeKey = () => this.key('active');
  readonly breakGlassUsesKey = () => this.key('break-glass-uses');

  /** Creates the operation and takes the prefix lock, or says which operation holds the lock / that no use is left. */
  async create(op: Operation, notify: OutboxItem[], audit: AuditEntry, opts: CreateOptions = {}): Promise<CreateResult> {
    const auditFields = this.auditFields(audit);
    const s = opts.supersede;
    const holderId = s?.id ?? '';
    const holderAudit = s ? this.auditFields(s.audit) : [];
    const res = (await this.scripts.byoipCreate(
      14,
      this.lockKey(op.prefix),
      this.opKey(op.id),
      this.outboxKey(op.id),
      this.pendingKey(),
      this.recentKey(),
      this.auditKey(),
      this.openKey(),
      this.seqKey(op.id),
      this.activeKey(),
      this.breakGlassUsesKey(),
      this.opKey(holderId || '-'),
      this.outboxKey(holderId || '-'),
      this.seqKey(holderId || '-'),
      this.deliveredKey(holderId || '-'),
      op.id,
      JSON.stringify(op),
      String(op.createdAt),
      op.state === 'awaiting_approval' ? String(op.expiresAt) : '0',
      String(notify.length),
      ...notify.map((n) => this.stamp(n)),
      String(auditFields.length),
      ...auditFields,
      String(opts.breakGlassUse ? opts.breakGlassUse.maxUses : -1),
      String(this.now()),
      String(opts.breakGlassUse?.windowMs ?? 0),
      holderId,
      s?.version ?? '',
      s ? JSON.stringify(s.op) : '',
      String(this.retention.operationMs),
      String(s?.notify.length ?? 0),
      ...(s?.notify ?? []).map((n) => this.stamp(n)),
      String(holderAudit.length),
      ...holderAudit,
    )) as [number, string | number, string?];
    switch (res[0]) {
      case 1:
        this.onStateChange?.(op.kind, op.state);
        if (s) this.onStateChange?.(s.op.kind, s.op.state);
        return { created: true };
      case 2:
        return { created: false, noUseLeft: { used: Number(res[1]), nextFreeAt: Number(res[2]) + (opts.breakGlassUse?.windowMs ?? 0) } };
      case 3:
        return { created: false, lockedBy: holderId };
      default:
        return { created: false, lockedBy: String(res[1]) };
    }
  }

  private batchKey = (id: string) => this.key('batch', id);

  /**
   * A multi-prefix emergency: every operation, every prefix lock and ONE break-glass use in one atomic step (all or
   * nothing: a lock held by anyone or no use left creates nothing and spends nothing). See src/domain/batch.ts.
   */
  async createBatch(
    batch: EmergencyBatch,
    children: { op: Operation; notify: OutboxItem[]; audit: AuditEntry }[],
    use: { maxUses: number; windowMs: number },
  ): Promise<CreateBatchResult> {
    const keys: string[] = [this.breakGlassUsesKey(), this.recentKey(), this.auditKey(), this.activeKey(), this.pendingKey(), this.batchKey(batch.id)];
    const args: string[] = [String(use.maxUses), String(this.now()), String(use.windowMs), batch.id, JSON.stringify(batch), String(this.retention.operationMs), String(children.length)];
    for (const c of children) {
      keys.push(this.lockKey(c.op.prefix), this.opKey(c.op.id), this.outboxKey(c.op.id), this.seqKey(c.op.id));
      args.push(c.op.id, JSON.stringify(c.op), String(c.op.createdAt), String(c.notify.length), ...c.notify.map((n) => this.stamp(n)));
    }
    for (const c of children) {
      const f = this.auditFields(c.audit);
      args.push(String(f.length), ...f);
    }
    const res = (await this.scripts.byoipCreateBatch(keys.length, ...keys, ...args)) as [number, string | number, string?];
    if (res[0] === 1) {
      for (const c of children) this.onStateChange?.(c.op.kind, c.op.state);
      return { created: true };
    }
    if (res[0] === 2) return { created: false, noUseLeft: { used: Number(res[1]), nextFreeAt: Number(res[2]) + use.windowMs } };
    return { created: false, lockedBy: String(res[2] ?? ''), prefix: children[Number(res[1]) - 1]?.op.prefix ?? '' };
  }

  async getBatch(id: string): Promise<EmergencyBatch | null> {
    const json = await this.redis.get(this.batchKey(id));
    return json ? (JSON.parse(json) as EmergencyBatch) : null;
  }

  /** Records the batch card's ts (once: a second post's ts never replaces the first). */
  async setBatchCardTs(id: string, ts: string): Promise<EmergencyBatch | null> {
    const batch = await this.getBatch(id);
    if (!batch) return null;
    if (batch.cardTs) return batch;
    const next = { ...batch, cardTs: ts };
    await this.redis.set(this.batchKey(id), JSON.stringify(next), 'PX', this.retention.operationMs);
    return next;
  }

  async get(id: string): Promise<Operation | null> {
    const json = await this.redis.hget(this.opKey(id), 'json');
    return json ? (JSON.parse(json) as Operation) : null;
  }

  /** The record and its version (for a compare-and-set elsewhere, e.g. superseding it). */
  async getVersioned(id: string): Promise<{ op: Operation; version: string } | null> {
    const [v, json] = await this.redis.hmget(this.opKey(id), 'v', 'json');
    return v && json ? { op: JSON.parse(json) as Operation, version: v } : null;
  }

  async require(id: string): Promise<Operation> {
    const op = await this.get(id);
    if (!op) throw new BotError(ErrorCode.OperationNotFound, 'That request no longer exists (it may have been cleaned up); nothing was changed.');
    return op;
  }

  /** Which operation holds the lock on `prefix`, if any. */
  async lockHolder(prefix: string): Promise<string | null> {
    return this.redis.get(this.lockKey(prefix));
  }

  /**
   * Applies `fn` to the current record atomically (optimistic concurrency, retried on conflict).
   * `fn` may throw a BotError to refuse; it is called again on every retry with the fresh record.
   */
  async update(id: string, fn: (op: Operation) => UpdateResult): Promise<UpdateResult> {
    for (let attempt = 0; attempt < 100; attempt++) {
      const [v, json] = await this.redis.hmget(this.opKey(id), 'v', 'json');
      if (!v || !json) throw new BotError(ErrorCode.OperationNotFound, 'That request no longer exists; nothing was changed.');
      const current = JSON.parse(json) as Operation;
      const result = fn(current);
      const terminal = isTerminal(result.op.state) && !isTerminal(current.state);
      const leaveOpen = result.op.state !== 'awaiting_approval' ? '1' : '0';
      const enterOpen = result.op.state === 'awaiting_approval' && current.state !== 'awaiting_approval' ? String(result.op.expiresAt) : '0';
      const notify = result.notify ?? [];
      const audit = result.audit ?? [];
      const auditArgs: string[] = [String(audit.length)];
      for (const a of audit) {
        const f = this.auditFields(a);
        auditArgs.push(String(f.length), ...f);
      }
      const res = (await this.scripts.byoipCas(
        10,
        this.opKey(id),
        this.lockKey(current.prefix),
        this.outboxKey(id),
        this.pendingKey(),
        this.auditKey(),
        this.openKey(),
        this.seqKey(id),
        this.activeKey(),
        this.deliveredKey(id),
        this.cardShownKey(id),
        v,
        JSON.stringify(result.op),
        id,
        terminal ? '1' : '0',
        leaveOpen,
        String(this.retention.operationMs),
        enterOpen,
        String(notify.length),
        ...notify.map((n) => this.stamp(n)),
        ...auditArgs,
      )) as number;
      if (res !== -1) {
        if (result.op.state !== current.state) this.onStateChange?.(result.op.kind, result.op.state);
        return result;
      }
      await new Promise((r) => setTimeout(r, Math.random() * 5 * (attempt + 1)));
    }
    throw new BotError(ErrorCode.InvalidInput, 'That request is being changed by many people at once; try again in a moment.', true);
  }

  /** Appends one audit line on its own (refused clicks, Cloudflare calls and their answers). */
  async audit(entry: AuditEntry): Promise<void> {
    await this.redis.xadd(this.auditKey(), '*', ...this.auditFields(entry));
  }

  async auditTrail(opId?: string): Promise<AuditRecord[]> {
    const rows = await this.redis.xrange(this.auditKey(), '-', '+');
    const out: AuditRecord[] = [];
    for (const [id, fields] of rows) {
      const f: Record<string, string> = {};
      for (let i = 0; i < fields.length; i += 2) f[fields[i]!] = fields[i + 1]!;
      if (opId && f.op !== opId) continue;
      out.push({ id, type: f.type ?? '', opId: f.op ?? '', actor: f.actor ?? '', at: Number(f.at), data: f.data ? (JSON.parse(f.data) as Record<string, unknown>) : undefined });
    }
    return out;
  }

  /** Up to `count` audit lines before `end` (a stream id, `(id` exclusive, or `+`), newest first. */
  async auditBefore(end: string, count: number): Promise<AuditRecord[]> {
    const rows = await this.redis.xrevrange(this.auditKey(), end, '-', 'COUNT', count);
    return rows.map(([id, fields]) => {
      const f: Record<string, string> = {};
      for (let i = 0; i < fields.length; i += 2) f[fields[i]!] = fields[i + 1]!;
      return { id, type: f.type ?? '', opId: f.op ?? '', actor: f.actor ?? '', at: Number(f.at), data: f.data ? (JSON.parse(f.data) as Record<string, unknown>) : undefined };
    });
  }

  /** Operations still waiting for approval whose expiry has passed. */
  async dueForExpiry(now: number): Promise<string[]> {
    return this.redis.zrangebyscore(this.openKey(), 0, now);
  }

  /** Break-glass uses in the current window. */
  async breakGlassUses(windowMs: number): Promise<number> {
    return this.redis.zcount(this.breakGlassUsesKey(), this.now() - windowMs, '+inf');
  }

  /** Operations not yet finished. */
  async active(): Promise<Operation[]> {
    const ids = await this.redis.smembers(this.activeKey());
    const ops = await Promise.all(ids.map((id) => this.get(id)));
    // An id whose record is gone (deleted by hand) would be re-armed forever: drop it from the set.
    const gone = ids.filter((_, i) => ops[i] === null);
    if (gone.length) await this.redis.srem(this.activeKey(), ...gone);
    return ops.filter((o): o is Operation => o !== null);
  }

  /** Drops index entries of operations past retention and audit lines older than the audit retention. */
  async prune(): Promise<void> {
    const now = this.now();
    await this.redis.zremrangebyscore(this.recentKey(), 0, now - this.retention.operationMs);
    await this.redis.xtrim(this.auditKey(), 'MINID', String(now - this.retention.auditMs));
  }

  async recent(limit = 20): Promise<Operation[]> {
    const ids = await this.redis.zrevrange(this.recentKey(), 0, limit - 1);
    if (ids.length === 0) return [];
    const ops = await Promise.all(ids.map((id) => this.get(id)));
    return ops.filter((o): o is Operation => o !== null);
  }

  // -- outbox --

  async outboxHead(id: string): Promise<QueuedItem | null> {
    const raw = await this.redis.lindex(this.outboxKey(id), 0);
    if (!raw) return null;
    const bar = raw.indexOf('|');
    const { at, ...item } = JSON.parse(raw.slice(bar + 1)) as OutboxItem & { at?: number };
    return { seq: Number(raw.slice(0, bar)), item: item as OutboxItem, ...(at !== undefined ? { recordedAt: at } : {}) };
  }

  async lastDelivered(id: string): Promise<number> {
    return Number((await this.redis.get(this.deliveredKey(id))) ?? 0);
  }

  async ackOutbox(id: string, seq: number): Promise<void> {
    await this.scripts.byoipAckOutbox(3, this.outboxKey(id), this.pendingKey(), this.deliveredKey(id), String(seq), id);
  }

  async pendingOutboxes(): Promise<string[]> {
    return this.redis.smembers(this.pendingKey());
  }

  /** An outbox item as stored: stamped with when it was recorded, for the delivery-lag metric. */
  private stamp(item: OutboxItem): string {
    return JSON.stringify({ ...item, at: this.now() });
  }

  private auditFields(a: AuditEntry): string[] {
    return ['type', a.type, 'op', a.opId, 'actor', a.actor, 'at', String(this.now()), 'data', JSON.stringify(a.data ?? {})];
  }
}
