import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import type { RedisClient } from '../redis.js';
import { ErrorCode } from '../errors.js';
import { CloudflareError } from './errors.js';
import { classRank, REQUEST_CLASSES, type RequestClass } from './request-class.js';

/**
 * A request budget for one Cloudflare API token, shared in Redis by every replica.
 *
 * Cloudflare allows 1200 requests per 5 minutes per token and locks the token out for 5 minutes when that is
 * exceeded. The budget keeps the bot under `share` of the limit in a sliding window, and divides the bot's part
 * between request classes (emergency > change > interactive > background, see request-class.ts): each class has a
 * reserved share; a request is granted only if, after it, the unused reserves of every higher class still fit. So a
 * lower class can never take what a higher one needs, and a higher class may use whatever lower classes leave unused.
 * The same rule divides the per-second cap. It pauses every replica when Cloudflare answers 429 with `Retry-After`.
 * One Lua script makes the whole check atomically. Keys hold a hash of the token, never the token.
 */

export type { RequestClass };

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
  /** Reserved share of the bot's part per class; emergency 0.1, change 0.3, interactive 0.45, background 0.15. */
  classShares?: Partial<Record<RequestClass, number>>;
  /** Longest a caller waits for a slot before acquire() gives up with CloudflareRateLimited; 60 s. */
  maxWaitMs?: number;
  /** Most requests per second across replicas (Cloudflare also limits 200 per second per client IP); 100. 0 = no cap. */
  perSecond?: number;
}

export const DEFAULT_CLASS_SHARES: Record<RequestClass, number> = { emergency: 0.1, change: 0.3, interactive: 0.45, background: 0.15 };

export interface BudgetDecision {
  granted: boolean;
  /** When not granted: ms until a slot of this class may free up. */
  waitMs: number;
  /** Requests of every class counted in the current window (after this one when granted). */
  used: number;
  /** The most this class may have in a window when every other class is idle. */
  cap: number;
  /** True when refused because Cloudflare told us to back off (Retry-After). */
  paused: boolean;
}

export interface BudgetUsage {
  used: number;
  byClass: Record<RequestClass, number>;
  pausedForMs: number;
  /** Per class: the most it may use in a window when every other class is idle. */
  caps: Record<RequestClass, number>;
  /** Per class: the share nobody below it may take. */
  reserved: Record<RequestClass, number>;
}

// KEYS 1-4: window zsets (emergency, change, interactive, background); 5-8: per-second zsets (same order);
// 9: pause; 10: low-class pause; 11: sequence.
// ARGV: windowMs, class (1-4), window cap, 4 window reserves, per-second cap (0 = none), 4 per-second reserves,
// low ('1' for interactive and background: held by the low-class pause).
// Redis TIME keeps every replica on one clock. Answers {granted, waitMs, used}; used -1 = paused, -2 = low classes paused.
const ACQUIRE_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
local c = tonumber(ARGV[2])
local pause = redis.call('PTTL', KEYS[9])
if pause > 0 then return {0, pause, -1} end
if ARGV[13] == '1' then
  local lp = redis.call('PTTL', KEYS[10])
  if lp > 0 then return {0, lp, -2} end
end
-- Is there room for one more request of class c in the zsets KEYS[base..base+3] over span ms?
-- Room: everything counted, plus the unused reserves of the classes above c, plus this one, fits in cap.
local function check(base, span, cap, reserves)
  local used = {}
  local total = 0
  for k = 1, 4 do
    redis.call('ZREMRANGEBYSCORE', KEYS[base + k - 1], '-inf', now - span)
    used[k] = redis.call('ZCARD', KEYS[base + k - 1])
    total = total + used[k]
  end
  local held = 0
  for h = 1, c - 1 do
    if reserves[h] > used[h] then held = held + reserves[h] - used[h] end
  end
  local need = total + held + 1 - cap
  if need <= 0 then return 0, total end
  -- Entries whose expiry makes room: all of class c and below, and those of a higher class beyond its reserve.
  local times = {}
  for k = 1, 4 do
    local n = used[k]
    if k < c then n = used[k] - reserves[k] end
    if n > need then n = need end
    if n > 0 then
      local e = redis.call('ZRANGE', KEYS[base + k - 1], 0, n - 1, 'WITHSCORES')
      for i = 2, #e, 2 do times[#times + 1] = tonumber(e[i]) end
    end
  end
  table.sort(times)
  local oldest = times[need]
  if oldest == nil then return span, total end
  local wait = oldest + span - now + 1
  if wait < 1 then wait = 1 end
  return wait, total
end
local wait, used = check(1, window, tonumber(ARGV[3]), {tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])})
if wait > 0 then return {0, wait, used} end
local perSecond = tonumber(ARGV[8])
if perSecond > 0 then
  local w2 = check(5, 1000, perSecond, {tonumber(ARGV[9]), tonumber(ARGV[10]), tonumber(ARGV[11]), tonumber(ARGV[12])})
  if w2 > 0 then return {0, w2, used} end
end
local seq = tostring(redis.call('INCR', KEYS[11]))
redis.call('ZADD', KEYS[c], now, seq)
redis.call('PEXPIRE', KEYS[c], window)
redis.call('PEXPIRE', KEYS[11], window)
if perSecond > 0 then
  redis.call('ZADD', KEYS[4 + c], now, seq)
  redis.call('PEXPIRE', KEYS[4 + c], 1000)
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

// KEYS: 4 window zsets, pause key. ARGV: windowMs.
const USAGE_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out = {}
for k = 1, 4 do
  redis.call('ZREMRANGEBYSCORE', KEYS[k], '-inf', now - tonumber(ARGV[1]))
  out[k] = redis.call('ZCARD', KEYS[k])
end
out[5] = redis.call('PTTL', KEYS[5])
return out
`;

/** Floors of `total * share` per class; the most urgent class gets what rounding leaves over. */
function reservesOf(total: number, shares: Record<RequestClass, number>): number[] {
  const r = REQUEST_CLASSES.map((c) => Math.floor(total * shares[c]));
  r[0] = total - r.slice(1).reduce((a, b) => a + b, 0);
  return r;
}

type ScriptRedis = Redis & {
  cfBudgetAcquire(...args: (string | number)[]): Promise<[number, number, number]>;
  cfBudgetPause(k1: string, ms: number): Promise<number>;
  cfBudgetUsage(...args: (string | number)[]): Promise<[number, number, number, number, number]>;
};

interface BudgetKeys {
  windows: string[];
  seconds: string[];
  pause: string;
  lowPause: string;
  seq: string;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const LOW_CLASSES: ReadonlySet<RequestClass> = new Set(['interactive', 'background']);

export class RequestBudget {
  readonly limit: number;
  readonly windowMs: number;
  readonly share: number;
  readonly classShares: Readonly<Record<RequestClass, number>>;
  readonly maxWaitMs: number;
  readonly perSecond: number;
  private readonly redis: ScriptRedis;
  private readonly ownsRedis: boolean;
  private readonly keyPrefix: string;
  /** The bot's part of the window, and each class's reserve of it (REQUEST_CLASSES order). */
  private readonly total: number;
  private readonly reserves: number[];
  private readonly secondReserves: number[];

  constructor(opts: RequestBudgetOptions) {
    this.limit = opts.limit ?? 1200;
    this.windowMs = opts.windowMs ?? 300_000;
    this.share = opts.share ?? 0.8;
    this.maxWaitMs = opts.maxWaitMs ?? 60_000;
    this.perSecond = opts.perSecond ?? 100;
    const shares = { ...DEFAULT_CLASS_SHARES, ...opts.classShares };
    if (!(this.limit > 0) || !(this.windowMs > 0)) throw new Error('RequestBudget: limit and windowMs must be positive');
    if (!(this.share > 0 && this.share <= 1)) throw new Error('RequestBudget: share must be in (0, 1]');
    if (!(this.perSecond >= 0)) throw new Error('RequestBudget: perSecond must be 0 (no cap) or positive');
    if (REQUEST_CLASSES.some((c) => !(shares[c] >= 0))) throw new Error('RequestBudget: class shares must not be negative');
    const sum = REQUEST_CLASSES.reduce((a, c) => a + shares[c], 0);
    if (Math.abs(sum - 1) > 1e-9) throw new Error(`RequestBudget: class shares must add up to 1 (they add up to ${sum})`);
    this.classShares = shares;
    this.total = Math.floor(this.limit * this.share);
    this.reserves = reservesOf(this.total, shares);
    this.secondReserves = reservesOf(this.perSecond, shares);
    this.keyPrefix = opts.keyPrefix ?? 'byoip:cf-budget:';
    this.ownsRedis = typeof opts.redis === 'string';
    const redis = typeof opts.redis === 'string' ? new Redis(opts.redis, { maxRetriesPerRequest: 3 }) : opts.redis;
    // Connection errors of our own connection: ioredis reconnects, and failed commands reach the caller.
    if (typeof opts.redis === 'string') redis.on('error', () => undefined);
    redis.defineCommand('cfBudgetAcquire', { numberOfKeys: 11, lua: ACQUIRE_LUA });
    redis.defineCommand('cfBudgetPause', { numberOfKeys: 1, lua: PAUSE_LUA });
    redis.defineCommand('cfBudgetUsage', { numberOfKeys: 5, lua: USAGE_LUA });
    this.redis = redis as ScriptRedis;
  }

  /** The key under which a token's budget is kept: a SHA-256 of the token, never the token itself. */
  static tokenKey(apiToken: string): string {
    return createHash('sha256').update(apiToken).digest('hex').slice(0, 32);
  }

  /** Requests of this class the bot may make per window when every other class is idle (its own and lower shares). */
  capFor(cls: RequestClass): number {
    return this.total - this.reserves.slice(0, classRank(cls)).reduce((a, b) => a + b, 0);
  }

  /** The share of the window kept for this class: no lower class may take it. */
  reservedFor(cls: RequestClass): number {
    return this.reserves[classRank(cls)]!;
  }

  /** Takes a slot if there is one, atomically across replicas. */
  async tryAcquire(tokenKey: string, cls: RequestClass): Promise<BudgetDecision> {
    const k = this.keys(tokenKey);
    const [granted, waitMs, used] = await this.redis.cfBudgetAcquire(
      ...k.windows,
      ...k.seconds,
      k.pause,
      k.lowPause,
      k.seq,
      this.windowMs,
      classRank(cls) + 1,
      this.total,
      ...this.reserves,
      this.perSecond,
      ...this.secondReserves,
      LOW_CLASSES.has(cls) ? '1' : '0',
    );
    return { granted: granted === 1, waitMs: Number(waitMs), used: Number(used), cap: this.capFor(cls), paused: Number(used) < 0 };
  }

  /**
   * Waits for a slot. Throws CloudflareRateLimited (retryable, with `retryAfterMs`) when the wait would be longer
   * than `maxWaitMs`; nothing has been sent then.
   */
  async acquire(tokenKey: string, cls: RequestClass, opts: { maxWaitMs?: number } = {}): Promise<void> {
    const maxWait = opts.maxWaitMs ?? this.maxWaitMs;
    const started = Date.now();
    for (;;) {
      const d = await this.tryAcquire(tokenKey, cls);
      if (d.granted) return;
      const waited = Date.now() - started;
      if (waited + d.waitMs > maxWait) {
        const seconds = Math.ceil(d.waitMs / 1000);
        throw new CloudflareError(
          ErrorCode.CloudflareRateLimited,
          d.paused
            ? `Cloudflare asked the bot to slow down; it is holding its API calls for about ${seconds} s. Nothing was sent; try again after that.`
            : `The bot has used its share of Cloudflare's API limit for ${cls === 'interactive' ? 'look-ups' : `${cls} requests`} (${this.limit} requests per ${Math.round(this.windowMs / 1000)} s, shared with approved changes and emergencies) for now. Nothing was sent; try again in about ${seconds} s.`,
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
   * When what is left dips into the share kept for others, interactive and background requests hold until the
   * reset (changes and emergencies go on); when almost nothing is left, everything holds, so the token is never
   * locked out.
   */
  async observeRateLimit(tokenKey: string, remaining: number, resetSeconds: number): Promise<void> {
    const ms = Math.max(1, resetSeconds) * 1000;
    if (remaining <= Math.floor(this.limit * 0.01)) await this.pause(tokenKey, ms);
    else if (remaining < Math.floor(this.limit * (1 - this.share))) await this.redis.cfBudgetPause(this.keys(tokenKey).lowPause, ms);
  }

  async usage(tokenKey: string): Promise<BudgetUsage> {
    const k = this.keys(tokenKey);
    const out = await this.redis.cfBudgetUsage(...k.windows, k.pause, this.windowMs);
    const byClass = Object.fromEntries(REQUEST_CLASSES.map((c, i) => [c, Number(out[i])])) as Record<RequestClass, number>;
    const perClass = (f: (c: RequestClass) => number) => Object.fromEntries(REQUEST_CLASSES.map((c) => [c, f(c)])) as Record<RequestClass, number>;
    return {
      used: REQUEST_CLASSES.reduce((a, c) => a + byClass[c], 0),
      byClass,
      pausedForMs: Math.max(0, Number(out[4])),
      caps: perClass((c) => this.capFor(c)),
      reserved: perClass((c) => this.reservedFor(c)),
    };
  }

  /** Deletes this token's keys (tests). */
  async reset(tokenKey: string): Promise<void> {
    const k = this.keys(tokenKey);
    await this.redis.del(...k.windows, ...k.seconds, k.pause, k.lowPause, k.seq);
  }

  async close(): Promise<void> {
    if (!this.ownsRedis) return;
    if (this.redis.status === 'ready') await this.redis.quit();
    else this.redis.disconnect();
  }

  private keys(tokenKey: string): BudgetKeys {
    // The hash tag keeps a token's keys in one Redis Cluster slot so the script may touch them together.
    const base = `${this.keyPrefix}{${tokenKey}}`;
    return {
      windows: REQUEST_CLASSES.map((c) => `${base}:window:${c}`),
      seconds: REQUEST_CLASSES.map((c) => `${base}:second:${c}`),
      pause: `${base}:pause`,
      lowPause: `${base}:low-pause`,
      seq: `${base}:seq`,
    };
  }
}
