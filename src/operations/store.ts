import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import { BotError, ErrorCode } from '../errors.js';
import { isTerminal, type Operation } from '../domain/operation.js';

const lua = (name: string) => readFileSync(new URL(`./lua/${name}.lua`, import.meta.url), 'utf8');
const CREATE = lua('create');
const CAS = lua('cas');
const ACK_OUTBOX = lua('ack-outbox');
const BREAK_GLASS = lua('break-glass');

/** Something to deliver to Slack for an operation, in order. `card` re-renders the status card from the record. */
export type OutboxItem =
  | { kind: 'card' }
  | { kind: 'reply'; text: string; blocks?: unknown[]; broadcast?: boolean }
  | { kind: 'ephemeral'; user: string; text: string };

export interface QueuedItem {
  seq: number;
  item: OutboxItem;
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

/**
 * Operation records in Redis. Every change is a compare-and-set (Lua) that also appends its outbox items
 * and audit entries, so a crash can never leave a state change without its notification or audit line.
 * All keys share one hash tag, so the scripts also run on Redis Cluster.
 */
export class OperationStore {
  readonly keyPrefix: string;

  constructor(
    readonly redis: Redis,
    prefix: string,
    private now: () => number = Date.now,
    /** How long a finished operation's record is kept (its audit lines follow auditRetentionMs). */
    private retention: { operationMs: number; auditMs: number } = { operationMs: 90 * 86_400_000, auditMs: 400 * 86_400_000 },
  ) {
    this.keyPrefix = `{${prefix}}:`;
  }

  key(...parts: string[]): string {
    return this.keyPrefix + parts.join(':');
  }

  private opKey = (id: string) => this.key('op', id);
  private lockKey = (prefix: string) => this.key('lock', prefix);
  private outboxKey = (id: string) => this.key('outbox', id);
  private seqKey = (id: string) => this.key('outbox-seq', id);
  private deliveredKey = (id: string) => this.key('delivered', id);
  readonly pendingKey = () => this.key('outbox-pending');
  readonly auditKey = () => this.key('audit');
  readonly openKey = () => this.key('open');
  readonly recentKey = () => this.key('recent');
  /** Operations not yet in a terminal state (the recovery sweep's list). */
  readonly activeKey = () => this.key('active');

  /** Creates the operation and takes the prefix lock, or says which operation holds the lock. */
  async create(op: Operation, notify: OutboxItem[], audit: AuditEntry): Promise<{ created: true } | { created: false; lockedBy: string }> {
    const res = (await this.redis.eval(
      CREATE,
      9,
      this.lockKey(op.prefix),
      this.opKey(op.id),
      this.outboxKey(op.id),
      this.pendingKey(),
      this.recentKey(),
      this.auditKey(),
      this.openKey(),
      this.seqKey(op.id),
      this.activeKey(),
      op.id,
      JSON.stringify(op),
      String(op.createdAt),
      String(op.expiresAt),
      String(notify.length),
      ...notify.map((n) => JSON.stringify(n)),
      ...this.auditFields(audit),
    )) as [number, string];
    return res[0] === 1 ? { created: true } : { created: false, lockedBy: res[1] };
  }

  async get(id: string): Promise<Operation | null> {
    const json = await this.redis.hget(this.opKey(id), 'json');
    return json ? (JSON.parse(json) as Operation) : null;
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
      const terminal = isTerminal(result.op.state);
      const leaveOpen = result.op.state !== 'awaiting_approval' ? '1' : '0';
      const notify = result.notify ?? [];
      const audit = result.audit ?? [];
      const auditArgs: string[] = [String(audit.length)];
      for (const a of audit) {
        const f = this.auditFields(a);
        auditArgs.push(String(f.length), ...f);
      }
      const res = (await this.redis.eval(
        CAS,
        8,
        this.opKey(id),
        this.lockKey(current.prefix),
        this.outboxKey(id),
        this.pendingKey(),
        this.auditKey(),
        this.openKey(),
        this.seqKey(id),
        this.activeKey(),
        v,
        JSON.stringify(result.op),
        id,
        terminal ? '1' : '0',
        leaveOpen,
        String(notify.length),
        ...notify.map((n) => JSON.stringify(n)),
        ...auditArgs,
      )) as number;
      if (res !== -1) {
        if (terminal && !isTerminal(current.state)) {
          const ttl = this.retention.operationMs;
          await this.redis.multi().pexpire(this.opKey(id), ttl).pexpire(this.seqKey(id), ttl).pexpire(this.deliveredKey(id), ttl).pexpire(this.outboxKey(id), ttl).exec();
        }
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

  /** Operations still waiting for approval whose expiry has passed. */
  async dueForExpiry(now: number): Promise<string[]> {
    return this.redis.zrangebyscore(this.openKey(), 0, now);
  }

  /** Takes one break-glass use if the policy's limit allows it; says how many were used and when one frees up. */
  async takeBreakGlassUse(opId: string, maxUses: number, windowMs: number): Promise<{ ok: boolean; used: number; nextFreeAt: number | null }> {
    const now = this.now();
    const [ok, used, oldest] = (await this.redis.eval(BREAK_GLASS, 1, this.key('break-glass-uses'), String(now), String(windowMs), String(maxUses), opId)) as [number, number, string];
    return { ok: ok === 1, used, nextFreeAt: ok === 1 ? null : Number(oldest) + windowMs };
  }

  /** Operations not yet finished. */
  async active(): Promise<Operation[]> {
    const ids = await this.redis.smembers(this.activeKey());
    const ops = await Promise.all(ids.map((id) => this.get(id)));
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
    const pipe = this.redis.pipeline();
    ids.forEach((id) => pipe.hget(this.opKey(id), 'json'));
    const res = (await pipe.exec()) ?? [];
    return res.map(([, json]) => (typeof json === 'string' ? (JSON.parse(json) as Operation) : null)).filter((o): o is Operation => o !== null);
  }

  // -- outbox --

  async outboxHead(id: string): Promise<QueuedItem | null> {
    const raw = await this.redis.lindex(this.outboxKey(id), 0);
    if (!raw) return null;
    const bar = raw.indexOf('|');
    return { seq: Number(raw.slice(0, bar)), item: JSON.parse(raw.slice(bar + 1)) as OutboxItem };
  }

  async lastDelivered(id: string): Promise<number> {
    return Number((await this.redis.get(this.deliveredKey(id))) ?? 0);
  }

  async ackOutbox(id: string, seq: number): Promise<void> {
    await this.redis.eval(ACK_OUTBOX, 3, this.outboxKey(id), this.pendingKey(), this.deliveredKey(id), String(seq), id);
  }

  async pendingOutboxes(): Promise<string[]> {
    return this.redis.smembers(this.pendingKey());
  }

  private auditFields(a: AuditEntry): string[] {
    return ['type', a.type, 'op', a.opId, 'actor', a.actor, 'at', String(this.now()), 'data', JSON.stringify(a.data ?? {})];
  }
}
