import { afterAll, describe, expect, it } from 'vitest';
import { RedisLease } from '../../src/monitors/routing-monitor.js';
import { deleteKeys, newRedis, uniquePrefix } from './redis.js';

/** One RIS Live connection per deployment: the replica holding the lease streams; another takes over once it lapses. */
describe('the stream lease', () => {
  const redis = newRedis();
  const prefix = `{${uniquePrefix()}}:`;
  afterAll(async () => {
    await deleteKeys(redis, `${prefix}*`);
    await redis.quit();
  });

  it('one holder at a time; renewing keeps it; a dead holder is replaced after the TTL; release frees it only for its holder', async () => {
    const key = `${prefix}routing-monitor:lease`;
    const a = new RedisLease(redis as never, key, 300);
    const b = new RedisLease(redis as never, key, 300);
    expect(await a.acquire()).toBe(true);
    expect(await b.acquire()).toBe(false);
    await new Promise((r) => setTimeout(r, 200));
    expect(await a.acquire()).toBe(true); // renewed
    await new Promise((r) => setTimeout(r, 200));
    expect(await b.acquire()).toBe(false); // still a's: the renewal moved the expiry
    await new Promise((r) => setTimeout(r, 250)); // a stops renewing (a crash)
    expect(await b.acquire()).toBe(true);
    expect(await a.acquire()).toBe(false);
    await a.release(); // not a's any more: nothing happens
    expect(await redis.get(key)).toBe(b.holder);
    await b.release();
    expect(await redis.get(key)).toBeNull();
  });
});
