import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import type { RedisClient } from '../redis.js';
import { ErrorCode } from '../errors.js';
import { CloudflareError } from './errors.js';

/**
 * A request budget for one Cloudflare API token, shared in Redis by every replica.
 *
 * Cloudflare allows 1200 requests per 5 minutes per token and locks the token out for 5 minutes when that is
 * exceeded. The budget keeps the bot under `share` of the limit in a sliding window, keeps `mutationReserve`
 * of that share for mutations only (reads yield to mutations), and pauses every replica when Cloudflare answers
 * 429 with `Retry-After`. Keys hold a hash of the token, never the token.
 */

export type RequestKind = 'read' | 'mutation';

export interface RequestBudgetOptions {
  /** An ioredis connection (left open on close) or a Redis URL (closed on close). */
  redis: RedisClient | string;
  /** Prefix of every key, e.g. `byoip:cf-budget:`. */
  keyPrefix?: string;
  /** Cloudflare's limit per window; 1200. */
  limit?: number;
  /** Cloudflare's window; 5 minutes. */
  windowMs?: number;
  /** Share of the limit the bot may use; 0.8. */
  share?: number;
  /** Share of the bot's part that only mutations may use; 0.1. */
  mutationReserve?: number;
  /** Longest a caller waits for a slot before acquire() gives up with CloudflareRateLimited; 60 s. */
  maxWaitMs?: number;
  /** Most requests per second across replicas (Cloudflare also limits 200 per second per client IP); 100. 0 = no cap. */
  perSecond?: number;
}

export interface BudgetDecision {
  granted: boolean;
  /** When not granted: ms until a slot of this kind may free up. */
  waitMs: number;
  /** Requests counted in the current window (after this one when granted). */
  used: number;
  /** The cap for this kind of request. */
  cap: number;
  /** True when refused because Cloudflare told us to back off (Retry-After). */
  paused: boolean;
}

// KEYS: window zset, pause key, sequence, per-second zset, read-pause key. ARGV: windowMs, cap, perSecond, isRead.
// Redis TIME keeps every replica on one clock. Answers {granted, waitMs, used}; used -1 = paused, -2 = reads paused.
const ACQUIRE_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
local cap = tonumber(ARGV[2])
local perSecond = tonumber(ARGV[3])
local pause = redis.call('PTTL', KEYS[2])
if pause > 0 then return {0, pause, -1} end
if ARGV[4] == '1' then
  local rp = redis.call('PTTL', KEYS[5])
  if rp > 0 then return {0, rp, -2} end
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local used = redis.call('ZCARD', KEYS[1])
if used >= cap then
  if cap <= 0 then return {0, window, used} end
  local e = redis.call('ZRANGE', KEYS[1], used - cap, used - cap, 'WITHSCORES')
  local wait = tonumber(e[2]) + window - now + 1
  if wait < 1 then wait = 1 end
  return {0, wait, used}
end
if perSecond > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now - 1000)
  local inSecond = redis.call('ZCARD', KEYS[4])
  if inSecond >= perSecond then
    local e = redis.call('ZRANGE', KEYS[4], inSecond - perSecond, inSecond - perSecond, 'WITHSCORES')
    local wait = tonumber(e[2]) + 1000 - now + 1
    if wait < 1 then wait = 1 end
    return {0, wait, used}
  end
end
local seq = tostring(redis.call('INCR', KEYS[3]))
redis.call('ZADD', KEYS[1], now, seq)
redis.call('PEXPIRE', KEYS[1], window)
redis.call('PEXPIRE', KEYS[3], window)
if perSecond > 0 then
  redis.call('ZADD', KEYS[4], now, seq)
  redis.call('PEXPIRE', KEYS[4], 1000)
end
return {1, 0, used + 1}
`;

// KEYS: pause key. ARGV: ms. Only ever lengthens a pause.
const PAUSE_LUA = `
local left = redis.call('PTTL', KEYS[1])
local ms = tonumber(ARGV[1])
if left < ms then redis.call('SET', KEYS[1], '1', 'PX', ms) end
return 1
`;

// KEYS: window zset, pause key. ARGV: windowMs.
const USAGE_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[1]))
return {redis.call('ZCARD', KEYS[1]), redis.call('PTTL', KEYS[2])}
`;

type ScriptRedis = Redis & {
  cfBudgetAcquire(k1: string, k2: string, k3: string, k4: string, k5: string, windowMs: number, cap: number, perSecond: number, isRead: 0 | 1): Promise<[number, number, number]>;
  cfBudgetPause(k1: string, ms: number): Promise<number>;
  cfBudgetUsage(k1: string, k2: string, windowMs: number): Promise<[number, number]>;
};

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class RequestBudget {
  readonly limit: number;
  readonly windowMs: number;
  readonly share: number;
  readonly mutationReserve: number;
  readonly maxWaitMs: number;
  readonly perSecond: number;
  private readonly redis: ScriptRedis;
  private readonly ownsRedis: boolean;
  private readonly keyPrefix: string;

  constructor(opts: RequestBudgetOptions) {
    this.limit = opts.limit ?? 1200;
    this.windowMs = opts.windowMs ?? 300_000;
    this.share = opts.share ?? 0.8;
    this.mutationReserve = opts.mutationReserve ?? 0.1;
    this.maxWaitMs = opts.maxWaitMs ?? 60_000;
    this.perSecond = opts.perSecond ?? 100;
    if (!(this.limit > 0) || !(this.windowMs > 0)) throw new Error('RequestBudget: limit and windowMs must be positive');
    if (!(this.share > 0 && this.share <= 1)) throw new Error('RequestBudget: share must be in (0, 1]');
    if (!(this.mutationReserve >= 0 && this.mutationReserve < 1)) throw new Error('RequestBudget: mutationReserve must be in [0, 1)');
    this.keyPrefix = opts.keyPrefix ?? 'byoip:cf-budget:';
    this.ownsRedis = typeof opts.redis === 'string';
    const redis = typeof opts.redis === 'string' ? new Redis(opts.redis, { maxRetriesPerRequest: 3 }) : opts.redis;
    // Connection errors of our own connection: ioredis reconnects, and failed commands reach the caller.
    if (typeof opts.redis === 'string') redis.on('error', () => undefined);
    redis.defineCommand('cfBudgetAcquire', { numberOfKeys: 5, lua: ACQUIRE_LUA });
    redis.defineCommand('cfBudgetPause', { numberOfKeys: 1, lua: PAUSE_LUA });
    redis.defineCommand('cfBudgetUsage', { numberOfKeys: 2, lua: USAGE_LUA });
    this.redis = redis as ScriptRedis;
  }

  /** The key under which a token's budget is kept: a SHA-256 of the token, never the token itself. */
  static tokenKey(apiToken: string): string {
    return createHash('sha256').update(apiToken).digest('hex').slice(0, 32);
  }

  /** Requests of this kind the bot may make per window. */
  capFor(kind: RequestKind): number {
    const ours = Math.floor(this.limit * this.share);
    return kind === 'mutation' ? ours : Math.floor(ours * (1 - this.mutationReserve));
  }

  /** Takes a slot if there is one, atomically across replicas. */
  async tryAcquire(tokenKey: string, kind: RequestKind): Promise<BudgetDecision> {
    const k = this.keys(tokenKey);
    const cap = this.capFor(kind);
    const [granted, waitMs, used] = await this.redis.cfBudgetAcquire(
      k.window,
      k.pause,
      k.seq,
      k.second,
      k.readPause,
      this.windowMs,
      cap,
      this.perSecond,
      kind === 'read' ? 1 : 0,
    );
    return { granted: granted === 1, waitMs: Number(waitMs), used: Number(used), cap, paused: Number(used) < 0 };
  }

  /**
   * Waits for a slot. Throws CloudflareRateLimited (retryable, with `retryAfterMs`) when the wait would be longer
   * than `maxWaitMs`; nothing has been sent then.
   */
  async acquire(tokenKey: string, kind: RequestKind, opts: { maxWaitMs?: number } = {}): Promise<void> {
    const maxWait = opts.maxWaitMs ?? this.maxWaitMs;
    const started = Date.now();
    for (;;) {
      const d = await this.tryAcquire(tokenKey, kind);
      if (d.granted) return;
      const waited = Date.now() - started;
      if (waited + d.waitMs > maxWait) {
        const seconds = Math.ceil(d.waitMs / 1000);
        throw new CloudflareError(
          ErrorCode.CloudflareRateLimited,
          d.paused
            ? `Cloudflare asked the bot to slow down; it is holding its API calls for about ${seconds} s. Nothing was sent; try again after that.`
            : `The bot has used its share of Cloudflare's API limit (${this.limit} requests per ${Math.round(this.windowMs / 1000)} s) for now. Nothing was sent; try again in about ${seconds} s.`,
          { status: null, retryable: true, retryAfterMs: d.waitMs },
        );
      }
      // Jitter so replicas woken together do not all hit Redis in the same millisecond.
      await sleep(Math.min(d.waitMs, 1000) + Math.floor(Math.random() * 20));
    }
  }

  /** Cloudflare said 429 with Retry-After: hold every replica's calls on this token for `ms`. */
  async pause(tokenKey: string, ms: number): Promise<void> {
    if (!(ms > 0)) return;
    await this.redis.cfBudgetPause(this.keys(tokenKey).pause, Math.ceil(ms));
  }

  /**
   * Cloudflare's own count (the `Ratelimit` header) includes the dashboard and every other client of the token.
   * When what is left dips into the share kept for others, reads hold until the reset; when almost nothing is left,
   * everything holds, so the token is never locked out.
   */
  async observeRateLimit(tokenKey: string, remaining: number, resetSeconds: number): Promise<void> {
    const ms = Math.max(1, resetSeconds) * 1000;
    if (remaining <= Math.floor(this.limit * 0.01)) await this.pause(tokenKey, ms);
    else if (remaining < Math.floor(this.limit * (1 - this.share))) await this.redis.cfBudgetPause(this.keys(tokenKey).readPause, ms);
  }

  async usage(tokenKey: string): Promise<{ used: number; pausedForMs: number; readCap: number; mutationCap: number }> {
    const k = this.keys(tokenKey);
    const [used, pttl] = await this.redis.cfBudgetUsage(k.window, k.pause, this.windowMs);
    return { used: Number(used), pausedForMs: Math.max(0, Number(pttl)), readCap: this.capFor('read'), mutationCap: this.capFor('mutation') };
  }

  /** Deletes this token's keys (tests). */
  async reset(tokenKey: string): Promise<void> {
    const k = this.keys(tokenKey);
    await this.redis.del(k.window, k.pause, k.seq, k.second, k.readPause);
  }

  async close(): Promise<void> {
    if (!this.ownsRedis) return;
    if (this.redis.status === 'ready') await this.redis.quit();
    else this.redis.disconnect();
  }

  private keys(tokenKey: string): { window: string; pause: string; seq: string; second: string; readPause: string } {
    // The hash tag keeps a token's keys in one Redis Cluster slot so the script may touch them together.
    const base = `${this.keyPrefix}{${tokenKey}}`;
    return { window: `${base}:window`, pause: `${base}:pause`, seq: `${base}:seq`, second: `${base}:second`, readPause: `${base}:read-pause` };
  }
}
