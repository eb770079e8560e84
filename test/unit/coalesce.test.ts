import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { withRequestClass } from '../../src/cloudflare/request-class.js';
import { CoalescedReader } from '../../src/operations/coalesce.js';
import { deleteKeys, newRedis, uniquePrefix } from './redis.js';

let redis: Redis;
let keyPrefix: string;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A fetch that counts its calls and answers after `delayMs`. */
function counted<T>(value: (n: number) => T, delayMs = 50) {
  const f = Object.assign(
    async () => {
      f.calls += 1;
      const n = f.calls;
      await sleep(delayMs);
      return value(n);
    },
    { calls: 0 },
  );
  return f;
}

beforeAll(() => {
  redis = newRedis();
});

afterAll(async () => {
  await redis.quit();
});

beforeEach(() => {
  keyPrefix = `${uniquePrefix()}:`;
});

afterEach(async () => {
  await deleteKeys(redis, `${keyPrefix}*`);
});

describe('CoalescedReader', () => {
  it('20 concurrent reads of one key make exactly one fetch and all get its answer', async () => {
    const reader = new CoalescedReader(redis, keyPrefix);
    const fetch = counted((n) => ({ advertised: true, call: n }));
    const results = await Promise.all(Array.from({ length: 20 }, () => reader.read('cf-bgp:abc', 5_000, fetch)));
    expect(fetch.calls).toBe(1);
    expect(reader.fetches).toBe(1);
    for (const r of results) expect(r).toEqual({ advertised: true, call: 1 });
  });

  it('readers in different replicas (separate connections) share one fetch', async () => {
    const clients = Array.from({ length: 4 }, () => newRedis());
    try {
      const readers = clients.map((c) => new CoalescedReader(c, keyPrefix));
      const fetch = counted(() => 42);
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => readers[i % readers.length]!.read('lg:203.0.113.0/24', 5_000, fetch)));
      expect(fetch.calls).toBe(1);
      expect(readers.reduce((n, r) => n + r.fetches, 0)).toBe(1);
      expect(new Set(results)).toEqual(new Set([42]));
    } finally {
      await Promise.all(clients.map((c) => c.quit()));
    }
  });

  it('different keys are fetched separately', async () => {
    const reader = new CoalescedReader(redis, keyPrefix);
    const a = counted(() => 'a');
    const b = counted(() => 'b');
    expect(await Promise.all([reader.read('a', 5_000, a), reader.read('b', 5_000, b)])).toEqual(['a', 'b']);
    expect([a.calls, b.calls]).toEqual([1, 1]);
  });

  it('within the TTL the cached answer is reused; after it a new fetch happens', async () => {
    const reader = new CoalescedReader(redis, keyPrefix);
    const fetch = counted((n) => n, 5);
    expect(await reader.read('k', 150, fetch)).toBe(1);
    expect(await reader.read('k', 150, fetch)).toBe(1);
    expect(fetch.calls).toBe(1);
    await sleep(250);
    expect(await reader.read('k', 150, fetch)).toBe(2);
    expect(fetch.calls).toBe(2);
  });

  it('a failing fetch reaches its caller and does not poison the cache', async () => {
    const reader = new CoalescedReader(redis, keyPrefix);
    let calls = 0;
    const fetch = async () => {
      calls += 1;
      await sleep(20);
      if (calls === 1) throw new Error('RIPEstat timed out');
      return { peers: 300 };
    };
    await expect(reader.read('lg:x', 5_000, fetch)).rejects.toThrow('RIPEstat timed out');
    // The next reader does not wait on a lock left behind, and gets a fresh answer.
    const started = Date.now();
    expect(await reader.read('lg:x', 5_000, fetch)).toEqual({ peers: 300 });
    expect(Date.now() - started).toBeLessThan(500);
    expect(calls).toBe(2);
    expect(await reader.read('lg:x', 5_000, fetch)).toEqual({ peers: 300 });
    expect(calls).toBe(2);
  });

  it('when the shared fetch fails, the readers waiting on it still get an answer', async () => {
    const reader = new CoalescedReader(redis, keyPrefix);
    let calls = 0;
    const fetch = async () => {
      calls += 1;
      await sleep(50);
      if (calls === 1) throw new Error('Cloudflare 503');
      return 'ok';
    };
    const settled = await Promise.allSettled(Array.from({ length: 10 }, () => reader.read('k', 5_000, fetch)));
    expect(settled.filter((s) => s.status === 'rejected').length).toBe(1);
    expect(settled.filter((s) => s.status === 'fulfilled').map((s) => (s as PromiseFulfilledResult<string>).value)).toEqual(Array(9).fill('ok'));
    expect(calls).toBe(2);
  });

  it('revive turns the cached JSON back into the caller\'s type', async () => {
    const reader = new CoalescedReader(redis, keyPrefix);
    const revive = (raw: unknown) => ({ at: new Date((raw as { at: string }).at) });
    const fetch = async () => ({ at: new Date(Date.UTC(2026, 0, 1)) });
    await reader.read('d', 5_000, fetch, revive);
    const cached = await reader.read('d', 5_000, fetch, revive);
    expect(cached.at).toBeInstanceOf(Date);
    expect(cached.at.toISOString()).toBe('2026-01-01T00:00:00.000Z');
  });

  // Was a bug (fixed): waiters poll only 50 x 20 ms (about one second) and then fetch for themselves, although the fetch lock
  // lasts 10 s. Any fetch slower than ~1 s (a RIPEstat looking-glass call often is) is therefore not coalesced:
  // every waiting watcher makes its own call, which is exactly the load the reader exists to prevent.
  it('20 concurrent reads of a slow (1.5 s) fetch still make one fetch', async () => {
    const reader = new CoalescedReader(redis, keyPrefix);
    const fetch = counted(() => 'slow answer', 1500);
    const results = await Promise.all(Array.from({ length: 20 }, () => reader.read('slow', 10_000, fetch)));
    expect(results).toEqual(Array(20).fill('slow answer'));
    expect(fetch.calls).toBe(1);
  });

  it('a change does not wait behind a look-up the budget is holding back; look-ups still share one fetch', async () => {
    const reader = new CoalescedReader(redis, keyPrefix);
    // An interactive fetch that takes 2 s (held by the request budget, say) and nine more look-ups waiting on it.
    const slow = counted(() => 'look-up answer', 2000);
    const lookups = Promise.all(Array.from({ length: 10 }, () => withRequestClass('interactive', () => reader.read('prefixes:acc', 5_000, slow))));
    await sleep(50);
    const fast = counted(() => 'change answer', 5);
    const started = Date.now();
    expect(await withRequestClass('change', () => reader.read('prefixes:acc', 5_000, fast))).toBe('change answer');
    expect(Date.now() - started).toBeLessThan(500);
    expect(fast.calls).toBe(1);
    // The look-ups that were already waiting still get one shared answer (the change's, or the slow one's).
    const answers = await lookups;
    expect(slow.calls).toBe(1);
    expect(answers.every((a) => a === 'look-up answer' || a === 'change answer')).toBe(true);
    // Two changes behind one change: they wait for it as before.
    await reader.invalidate('prefixes:acc');
    const shared = counted(() => 'shared', 200);
    await Promise.all(Array.from({ length: 5 }, () => withRequestClass('change', () => reader.read('prefixes:acc', 5_000, shared))));
    expect(shared.calls).toBe(1);
  });

  describe('a freshness floor (notBefore)', () => {
    it('a value fetched before the floor is never served to that caller; callers without one still share it', async () => {
      const reader = new CoalescedReader(redis, keyPrefix);
      const fetch = counted((n) => `sample ${n}`, 5);
      expect(await reader.read('lg:p', 60_000, fetch)).toBe('sample 1');
      expect(await reader.read('lg:p', 60_000, fetch)).toBe('sample 1'); // shared, as before
      await sleep(5);
      const patchAcceptedAt = Date.now();
      expect(await reader.read('lg:p', 60_000, fetch, undefined, { notBefore: patchAcceptedAt })).toBe('sample 2');
      expect(fetch.calls).toBe(2);
      // The new one is shared from now on, with or without the floor.
      expect(await reader.read('lg:p', 60_000, fetch, undefined, { notBefore: patchAcceptedAt })).toBe('sample 2');
      expect(await reader.read('lg:p', 60_000, fetch)).toBe('sample 2');
      expect(fetch.calls).toBe(2);
    });

    it('a fetch in flight that started before the floor is not waited for, even in another replica', async () => {
      const other = newRedis();
      try {
        const before = new CoalescedReader(other, keyPrefix);
        const after = new CoalescedReader(redis, keyPrefix);
        const old = counted(() => 'before the change', 300);
        let oldDone = false;
        const inFlight = before.read('lg:p', 60_000, old).finally(() => (oldDone = true));
        await sleep(50);
        const floor = Date.now();
        const fresh = counted(() => 'after the change', 5);
        expect(await after.read('lg:p', 60_000, fresh, undefined, { notBefore: floor })).toBe('after the change');
        expect(oldDone).toBe(false); // it did not sit behind the old fetch
        expect(await inFlight).toBe('before the change');
        expect(old.calls).toBe(1);
        expect(fresh.calls).toBe(1);
      } finally {
        await other.quit();
      }
    });

    it('floored callers with the same floor still share one fetch', async () => {
      const reader = new CoalescedReader(redis, keyPrefix);
      await reader.read('lg:p', 60_000, async () => 'old');
      await sleep(5);
      const floor = Date.now();
      const fetch = counted(() => 'new', 100);
      const answers = await Promise.all(Array.from({ length: 10 }, () => reader.read('lg:p', 60_000, fetch, undefined, { notBefore: floor })));
      expect(answers).toEqual(Array(10).fill('new'));
      expect(fetch.calls).toBe(1);
    });

    it('an entry of the version before (no fetch time) is served without a floor and refused with one', async () => {
      const reader = new CoalescedReader(redis, keyPrefix);
      await redis.set(`${keyPrefix}coalesce:lg:p`, JSON.stringify({ peers: 57 }), 'PX', 60_000);
      const fetch = counted(() => ({ peers: 0 }), 5);
      expect(await reader.read('lg:p', 60_000, fetch)).toEqual({ peers: 57 });
      expect(await reader.read('lg:p', 60_000, fetch, undefined, { notBefore: 1 })).toEqual({ peers: 0 });
      expect(fetch.calls).toBe(1);
    });
  });
});
