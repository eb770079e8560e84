import { createHash } from 'node:crypto';
import type { RedisClient } from '../redis.js';

/** KEYS: the marks of one request. ARGV: ttlMs. 1 when none was set before (and all are set now), else 0. */
const FIRST_LUA = `
for i = 1, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then return 0 end
end
for i = 1, #KEYS do
  redis.call('SET', KEYS[i], '1', 'PX', ARGV[1])
end
return 1
`;

type ScriptRedis = RedisClient & { byoipSeenFirst(...args: (string | number)[]): Promise<number> };

/**
 * Remembers, for `ttlMs`, the requests the bot has taken, by one or more marks each (a hash of the signature and
 * timestamp, the trigger_id, the event_id...). `first()` is atomic: of two identical requests at once, one wins.
 */
export class SeenOnce {
  private readonly redis: ScriptRedis;

  constructor(
    redis: RedisClient,
    private readonly keyPrefix: string,
    readonly ttlMs: number,
  ) {
    if (!('byoipSeenFirst' in redis)) redis.defineCommand('byoipSeenFirst', { lua: FIRST_LUA });
    this.redis = redis as ScriptRedis;
  }

  /** The Redis keys of `marks` (for a script that checks them in the same step as something else). */
  keysOf(marks: string[]): string[] {
    return marks.map((m) => `${this.keyPrefix}seen:${createHash('sha256').update(m).digest('hex').slice(0, 40)}`);
  }

  /** True when none of `marks` was seen within the TTL (and records them all); false for a repeat. */
  async first(marks: string[]): Promise<boolean> {
    if (marks.length === 0) return true;
    const keys = this.keysOf(marks);
    return (await this.redis.byoipSeenFirst(keys.length, ...keys, this.ttlMs)) === 1;
  }
}
