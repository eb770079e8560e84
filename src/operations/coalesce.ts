import { classRank, currentRequestContext } from '../cloudflare/request-class.js';
import type { RedisClient } from '../redis.js';

const FETCH_LOCK_MS = 10_000;

/** What one caller needs of a shared answer beyond its age. */
export interface ReadOptions {
  /**
   * Epoch ms: an answer fetched before this is never served to this caller (a watch after a change must not judge
   * the change by a read made before it). A fetch in flight that started before it is not waited for either.
   */
  notBefore?: number;
}

/** A shared answer as kept in Redis: when its fetch started, and the value. */
interface Stored {
  __at: number;
  v: unknown;
}

function parseStored(raw: string): { at: number; value: unknown } {
  const parsed = JSON.parse(raw) as unknown;
  if (parsed !== null && typeof parsed === 'object' && typeof (parsed as Stored).__at === 'number' && '__at' in parsed) {
    return { at: (parsed as Stored).__at, value: (parsed as Stored).v };
  }
  // Written by a version that kept no time: of unknown age, too old for a caller with a floor.
  return { at: 0, value: parsed };
}

/** The fetch lock's value: the fetcher's class rank and when its fetch started. */
function parseLock(raw: string | null): { rank: number; startedAt: number } | null {
  if (raw === null) return null;
  const [rank, startedAt] = raw.split(':');
  const r = Number(rank);
  return Number.isInteger(r) ? { rank: r, startedAt: Number(startedAt) || 0 } : null;
}

/**
 * One read per key per tick, shared by every watcher in every replica: the first caller fetches and caches the
 * answer in Redis for `ttlMs`; callers arriving while it fetches wait for that answer instead of fetching again.
 * Except a caller of a more urgent request class (request-class.ts) than the fetcher's: a change does not wait behind
 * a look-up that the budget is holding back; it fetches under its own class. And a caller with a freshness floor
 * (`notBefore`) is served only an answer whose fetch started at or after it.
 */
export class CoalescedReader {
  /** Fetches actually made by this instance (for tests and benchmarks). */
  fetches = 0;

  constructor(
    private redis: RedisClient,
    private keyPrefix: string,
  ) {}

  async read<T>(key: string, ttlMs: number, fetch: () => Promise<T>, revive: (raw: unknown) => T = (r) => r as T, opts: ReadOptions = {}): Promise<T> {
    const dataKey = `${this.keyPrefix}coalesce:${key}`;
    const lockKey = `${dataKey}:fetching`;
    const floor = opts.notBefore ?? 0;
    // Wait as long as another caller's fetch may take (its lock lasts FETCH_LOCK_MS), or as long as this caller may
    // wait for a request at all (its class's wait bound); then fetch ourselves.
    const ctx = currentRequestContext();
    const deadline = Date.now() + Math.min(FETCH_LOCK_MS + 1000, ctx.maxWaitMs ?? Infinity);
    const rank = classRank(ctx.class);
    const fetchAndShare = async (): Promise<T> => {
      this.fetches++;
      const at = Date.now();
      const value = await fetch();
      const stored: Stored = { __at: at, v: value };
      await this.redis.set(dataKey, JSON.stringify(stored), 'PX', Math.max(1, ttlMs));
      return value;
    };
    while (Date.now() < deadline) {
      const cached = await this.redis.get(dataKey);
      if (cached !== null) {
        const { at, value } = parseStored(cached);
        if (at >= floor) return revive(value);
      }
      const mine = await this.redis.set(lockKey, `${rank}:${Date.now()}`, 'PX', FETCH_LOCK_MS, 'NX');
      if (mine === 'OK') {
        try {
          return await fetchAndShare();
        } finally {
          await this.redis.del(lockKey);
        }
      }
      const holder = parseLock(await this.redis.get(lockKey));
      // The fetcher's class: a less urgent one may be waiting for the budget far longer than this caller may. A fetch
      // that started before this caller's floor will not answer it either.
      if (holder && (holder.rank > rank || holder.startedAt < floor)) return fetchAndShare();
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
