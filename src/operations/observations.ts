import type { Observations } from '../kinds/types.js';
import type { RedisClient } from '../redis.js';

/** What the bot saw, remembered in Redis under the store's hash tag (kept 400 days). */
export class RedisObservations implements Observations {
  constructor(
    private redis: RedisClient,
    private keyPrefix: string,
  ) {}

  private key = (k: string) => `${this.keyPrefix}observed:${k}`;

  get(key: string): Promise<string | null> {
    return this.redis.get(this.key(key));
  }

  async setOnce(key: string, value: string): Promise<string> {
    const k = this.key(key);
    await this.redis.set(k, value, 'PX', 400 * 86_400_000, 'NX');
    return (await this.redis.get(k)) ?? value;
  }
}
