import { classRank, currentRequestContext } from '../cloudflare/request-class.js';
import type { RedisClient } from '../redis.js';

const FETCH_LOCK_MS = 10_000;

/**
 * One read per key per tick, shared by every watcher in every replica: the first caller fetches and caches the
 * answer in Redis for `ttlMs`; callers arriving while it fetches wait for that answer instead of fetching again.
 * Except a caller of a more urgent request class (request-class.ts) than the fetcher's: a change does not wait behind
 * a look-up that the budget is holding back; it fetches under its own class.
 */
export class CoalescedReader {
  /** Fetches actually made by this instance (for tests and benchmarks). */
  fetches = 0;

  constructor(
    private redis: RedisClient,
    private keyPrefix: string,
  ) {}

  async read<T>(key: string, ttlMs: number, fetch: () => Promise<T>, revive: (raw: unknown) => T = (r) => r as T): Promise<T> {
    const dataKey = `${this.keyPrefix}coalesce:${key}`;
    const lockKey = `${dataKey}:fetching`;
    // Wait as long as another caller's fetch may take (its lock lasts FETCH_LOCK_MS), or as long as this caller may
    // wait for a request at all (its class's wait bound); then fetch ourselves.
    const ctx = currentRequestContext();
    const deadline = Date.now() + Math.min(FETCH_LOCK_MS + 1000, ctx.maxWaitMs ?? Infinity);
    const rank = classRank(ctx.class);
    const fetchAndShare = async (): Promise<T> => {
      this.fetches++;
      const value = await fetch();
      await this.redis.set(dataKey, JSON.stringify(value), 'PX', Math.max(1, ttlMs));
      return value;
    };
    while (Date.now() < deadline) {
      const cached = await this.redis.get(dataKey);
      if (cached !== null) return revive(JSON.parse(cached));
      const mine = await this.redis.set(lockKey, String(rank), 'PX', FETCH_LOCK_MS, 'NX');
      if (mine === 'OK') {
        try {
          return await fetchAndShare();
        } finally {
          await this.redis.del(lockKey);
        }
      }
      // The fetcher's class: a less urgent one may be waiting for the budget far longer than this caller may.
      const holder = Number(await this.redis.get(lockKey));
      if (Number.isInteger(holder) && holder > rank) return fetchAndShare();
      await new Promise((r) => setTimeout(r, 20));
    }
    // The fetcher is stuck; read for ourselves rather than wait forever.
    this.fetches++;
    return fetch();
  }

  /** Drops a shared answer (after a change that makes it stale). */
  async invalidate(...keys: string[]): Promise<void> {
    if (keys.length) await Promise.all(keys.map((k) => this.redis.del(`${this.keyPrefix}coalesce:${k}`)));
  }
}
