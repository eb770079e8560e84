import { randomBytes } from 'node:crypto';
import type { RedisClient } from '../redis.js';

/**
 * Sliding-window log per user and per workspace, in one Lua step (Redis' clock, so every replica agrees).
 *
 * KEYS: the user's window (zset), the workspace's window (zset), then any number of replay marks of the request.
 * ARGV: windowMs, per-user limit, per-workspace limit, skip the workspace limit (0/1), a unique member, cap, the
 * marks' TTL in ms.
 *
 * With marks, the replay check comes first, in the same step: a request one of whose marks is set was taken before
 * and is neither counted nor let through ({-1, ...}); otherwise its marks are set (a later replay of a refused
 * request is ignored too) and the limits below decide. One round trip for both checks.
 *
 * Every attempt of a user is logged in the user's window (a flood keeps its sender slowed; the log keeps at most
 * `cap` entries). Only attempts the user's limit let through count against the workspace, and only accepted ones
 * are logged there, so one user's flood cannot lock out the rest of the workspace.
 *
 * Returns {allowed 0/1, scope (0 none, 1 user, 2 workspace), count in the window, ms until the next one is let through}.
 */
const TAKE_LUA = `
for i = 3, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then return {-1, 0, 0, 0} end
end
for i = 3, #KEYS do
  redis.call('SET', KEYS[i], '1', 'PX', ARGV[7])
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
local userLimit = tonumber(ARGV[2])
local teamLimit = tonumber(ARGV[3])
local member = now .. '-' .. ARGV[5]
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
redis.call('ZADD', KEYS[1], now, member)
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -(tonumber(ARGV[6]) + 1))
redis.call('PEXPIRE', KEYS[1], window)
local userCount = redis.call('ZCARD', KEYS[1])
if userCount > userLimit then
  -- let through again once only userLimit - 1 of these attempts are left in the window
  local e = redis.call('ZRANGE', KEYS[1], -userLimit, -userLimit, 'WITHSCORES')
  return {0, 1, userCount, tonumber(e[2]) + window - now}
end
if ARGV[4] == '1' then return {1, 0, userCount, 0} end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
local teamCount = redis.call('ZCARD', KEYS[2])
if teamCount >= teamLimit then
  local e = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  return {0, 2, teamCount, tonumber(e[2]) + window - now}
end
redis.call('ZADD', KEYS[2], now, member)
redis.call('PEXPIRE', KEYS[2], window)
return {1, 0, userCount, 0}
`;

type ScriptRedis = RedisClient & {
  byoipRateTake(numKeys: number, ...args: (string | number)[]): Promise<[number, number, number, number]>;
};

export interface RateLimits {
  perUser: number;
  perWorkspace: number;
  windowMs: number;
}

export type RateVerdict = { allowed: true } | { allowed: false; scope: 'user' | 'workspace'; count: number; limit: number; windowMs: number; retryAfterMs: number };

/** The request's replay marks, as keys (SeenOnce.keysOf) and how long they are remembered. */
export interface SeenMarks {
  keys: string[];
  ttlMs: number;
}

/** How many commands a user and a workspace may send per window, shared by every replica through Redis. */
export class CommandRateLimit {
  private readonly redis: ScriptRedis;

  constructor(
    redis: RedisClient,
    private readonly keyPrefix: string,
    readonly limits: RateLimits,
  ) {
    if (!('byoipRateTake' in redis)) redis.defineCommand('byoipRateTake', { lua: TAKE_LUA });
    this.redis = redis as ScriptRedis;
  }

  /**
   * Counts one command of `userId` in `teamId` and says whether it may run. `skipWorkspace`: the workspace limit
   * does not apply (break glass: a flood by others must not lock out the on-call engineer).
   */
  async take(teamId: string, userId: string, opts: { skipWorkspace?: boolean } = {}): Promise<RateVerdict> {
    const v = await this.takeFirst(teamId, userId, null, opts);
    if (v === 'seen') throw new Error('unreachable: no replay marks were given');
    return v;
  }

  /**
   * The replay check and the limit in one atomic step (one round trip): 'seen' when the request was taken before
   * (nothing counted), else the limit's verdict, the marks now remembered.
   */
  async takeFirst(teamId: string, userId: string, seen: SeenMarks | null, opts: { skipWorkspace?: boolean } = {}): Promise<RateVerdict | 'seen'> {
    const { perUser, perWorkspace, windowMs } = this.limits;
    const marks = seen?.keys ?? [];
    const [allowed, scope, count, retryAfterMs] = await this.redis.byoipRateTake(
      2 + marks.length,
      `${this.keyPrefix}rate:user:${teamId}:${userId}`,
      `${this.keyPrefix}rate:team:${teamId}`,
      ...marks,
      windowMs,
      perUser,
      perWorkspace,
      opts.skipWorkspace ? 1 : 0,
      randomBytes(6).toString('hex'),
      Math.max(perUser, 1000),
      seen?.ttlMs ?? 0,
    );
    if (allowed === -1) return 'seen';
    if (allowed === 1) return { allowed: true };
    return { allowed: false, scope: scope === 2 ? 'workspace' : 'user', count, limit: scope === 2 ? perWorkspace : perUser, windowMs, retryAfterMs: Math.max(0, retryAfterMs) };
  }
}
