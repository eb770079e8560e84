import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { RedisClient } from '../redis.js';

/** What a worker process says about itself every heartbeat. */
export interface Heartbeat {
  id: string;
  role: string;
  host: string;
  pid: number;
  startedAt: number;
  /** When this heartbeat was written (the writer's clock). */
  at: number;
}

/**
 * Worker heartbeats in Redis: each worker process writes `{prefix}:heartbeat:<id>` with a TTL and lists its id in
 * `{prefix}:heartbeats` (scored by expiry), so `/readyz` on any replica can tell whether some worker is alive. All
 * keys carry the bot's one hash tag, so this works on a Redis Cluster too.
 */
export class Heartbeats {
  constructor(
    private readonly redis: RedisClient,
    /** The store's key prefix, e.g. `{byoip}:`. */
    private readonly keyPrefix: string,
  ) {}

  static newId(role: string): string {
    return `${role}-${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  }

  private key(id: string): string {
    return `${this.keyPrefix}heartbeat:${id}`;
  }

  private indexKey(): string {
    return `${this.keyPrefix}heartbeats`;
  }

  async beat(beat: Heartbeat, ttlMs: number): Promise<void> {
    const now = Date.now();
    await this.redis
      .multi()
      .set(this.key(beat.id), JSON.stringify(beat), 'PX', ttlMs)
      .zadd(this.indexKey(), now + ttlMs, beat.id)
      .zremrangebyscore(this.indexKey(), '-inf', now)
      .exec();
  }

  async remove(id: string): Promise<void> {
    await this.redis.multi().del(this.key(id)).zrem(this.indexKey(), id).exec();
  }

  /** The heartbeats whose TTL has not run out. */
  async live(): Promise<Heartbeat[]> {
    const ids = await this.redis.zrangebyscore(this.indexKey(), Date.now(), '+inf');
    if (ids.length === 0) return [];
    const values = await this.redis.mget(...ids.map((id) => this.key(id)));
    return values.filter((v): v is string => v !== null).map((v) => JSON.parse(v) as Heartbeat);
  }
}
