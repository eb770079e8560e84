import { afterEach, describe, expect, it } from 'vitest';
import { createRedis } from '../../src/redis.js';
import { ActionId } from '../../src/slack/ids.js';
import { DEFAULT_SCENARIO } from '../../world/simulator/cloudflare/scenarios.js';
import { pausableRedisProxy } from '../helpers/redis-proxy.js';
import { hasRedisServer, startPrivateRedis, type PrivateRedis } from '../helpers/redis-server.js';
import { CHANNEL, expectWithdrawDone, fileRequest, testStack } from '../helpers/stack.js';

type TestStack = Awaited<ReturnType<typeof testStack>>;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const P = DEFAULT_SCENARIO.prefixes.advertised;

/** How long `stack.stop()` (the bot's stop() and the simulators) takes. */
async function timedStop(stack: TestStack): Promise<number> {
  const started = Date.now();
  await stack.stop();
  return Date.now() - started;
}

/** Waits until the bot's own connection answers again after a Redis restart. */
async function waitReconnected(stack: TestStack, timeoutMs = 15_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([stack.bot!.store.redis.ping(), new Promise((_r, reject) => (timer = setTimeout(() => reject(new Error('the bot did not reconnect')), timeoutMs)))]);
  clearTimeout(timer);
  await sleep(500); // its other connections (queues, workers) reconnect on the same back-off
}

/** Polls the record until it is in `state`; returns how long that took. */
async function untilState(stack: TestStack, opId: string, state: string, timeoutMs: number): Promise<number> {
  const started = Date.now();
  for (;;) {
    const op = await stack.bot!.store.get(opId);
    if (op?.state === state) return Date.now() - started;
    if (Date.now() - started > timeoutMs) throw new Error(`operation ${opId} is ${op?.state ?? 'gone'}, not ${state}, after ${timeoutMs} ms`);
    await sleep(100);
  }
}

describe.skipIf(!hasRedisServer)('Redis faults: stop() is bounded', () => {
  let redis: PrivateRedis | null = null;
  afterEach(async () => {
    await redis?.stop();
    redis = null;
  });

  it('stop() completes within 10 s while Redis is down (no quit can be answered)', async () => {
    redis = await startPrivateRedis();
    const stack = await testStack({ redisUrl: redis.url });
    const op = await stack.bot!.service.request({ kind: 'withdraw', cidr: P.cidr, userId: 'U0ALICE', reason: 'stop drill' });
    expect(op.state).toBe('awaiting_approval');
    await redis.kill();
    await sleep(500);
    const ms = await timedStop(stack);
    console.log(`stop() with Redis down: ${ms} ms`);
    expect(ms).toBeLessThan(10_000);
  }, 30_000);

  it('stop() completes within 10 s while Redis accepts connections but answers nothing', async () => {
    redis = await startPrivateRedis();
    const proxy = await pausableRedisProxy(new URL(redis.url));
    const stack = await testStack({ redisUrl: proxy.url });
    try {
      proxy.pause();
      await sleep(300);
      const ms = await timedStop(stack);
      console.log(`stop() with Redis silent: ${ms} ms`);
      expect(ms).toBeLessThan(10_000);
    } finally {
      await proxy.close();
    }
  }, 30_000);

  it('stop() completes within 10 s after Redis restarted under a running watch', async () => {
    redis = await startPrivateRedis();
    const stack = await testStack({ redisUrl: redis.url, timeScale: 60, pollIntervalMs: 100 });
    const card = await fileRequest(stack, 'U0ALICE', 'withdraw', P.cidr, 'restart drill');
    await stack.sender!.clickButton('U0BOB', { channel: CHANNEL, messageTs: card.ts, actionId: ActionId.Approve });
    await stack.slack.waitFor(() => stack.slack.thread(CHANNEL, card.ts).find((m) => m.text.includes('Cloudflare accepted')), 10_000);
    await redis.kill();
    await sleep(1000);
    await redis.start();
    await sleep(2000);
    const ms = await timedStop(stack);
    console.log(`stop() after a Redis restart: ${ms} ms`);
    expect(ms).toBeLessThan(10_000);
  }, 40_000);
});

describe.skipIf(!hasRedisServer)('Redis faults: an empty Redis gets its maintenance schedule back', () => {
  let redis: PrivateRedis | null = null;
  let stack: TestStack | null = null;
  afterEach(async () => {
    await stack?.stop();
    await redis?.stop();
    stack = null;
    redis = null;
  });

  const setUp = async () => {
    redis = await startPrivateRedis(); // no persistence: a restart comes back empty
    stack = await testStack({ redisUrl: redis.url, expiresAfter: '3s', sweepIntervalMs: 300, heartbeatIntervalMs: 1000 });
    return { redis, stack };
  };

  it('after a restart of a Redis without persistence, a 3 s request still expires', async () => {
    const { redis, stack } = await setUp();
    await redis.kill();
    await sleep(500);
    await redis.start();
    await waitReconnected(stack);
    const card = await fileRequest(stack, 'U0ALICE', 'withdraw', P.cidr, 'after the restart');
    const op = (await stack.bot!.store.recent(1))[0]!;
    expect(JSON.stringify(card.blocks)).toContain(P.cidr);
    const ms = await untilState(stack, op.id, 'expired', 8000);
    console.log(`expired ${ms} ms after filing (3 s expiry) after an empty restart`);
    expect(await stack.bot!.dispatcher.queues.maintenance.getJobScheduler('sweep')).toBeTruthy();
  }, 40_000);

  it('after FLUSHALL (no reconnect at all), a 3 s request still expires', async () => {
    const { redis, stack } = await setUp();
    const admin = createRedis({ url: redis.url });
    try {
      await admin.flushall();
    } finally {
      await admin.quit();
    }
    const card = await fileRequest(stack, 'U0ALICE', 'withdraw', P.cidr, 'after the flush');
    expect(JSON.stringify(card.blocks)).toContain(P.cidr);
    const op = (await stack.bot!.store.recent(1))[0]!;
    const ms = await untilState(stack, op.id, 'expired', 8000);
    console.log(`expired ${ms} ms after filing (3 s expiry) after FLUSHALL`);
  }, 40_000);
});

describe.skipIf(!hasRedisServer)('Redis persistence: AOF (appendfsync everysec) survives a crash', () => {
  it('an open request, its lock and its audit lines survive kill -9 and a restart; it can still be approved and completes', async () => {
    const redis = await startPrivateRedis({ aof: true });
    const stack = await testStack({ redisUrl: redis.url, timeScale: 600 });
    try {
      const card = await fileRequest(stack, 'U0ALICE', 'withdraw', P.cidr, 'persistence drill');
      const op = (await stack.bot!.store.recent(1))[0]!;
      const before = (await stack.bot!.store.auditTrail(op.id)).map((a) => a.type);
      expect(before).toContain('requested');
      expect(await stack.bot!.store.lockHolder(P.cidr)).toBe(op.id);

      await sleep(1500); // everysec: what was written more than a second ago is on disk
      await redis.kill('SIGKILL'); // a crash: nothing flushed on the way out
      await redis.start();
      await waitReconnected(stack);

      const after = await stack.bot!.store.get(op.id);
      expect(after?.state).toBe('awaiting_approval');
      expect(await stack.bot!.store.lockHolder(P.cidr)).toBe(op.id);
      // nothing lost: every line written before the crash is still there (more may follow, e.g. the card's delivery)
      expect((await stack.bot!.store.auditTrail(op.id)).map((a) => a.type)).toEqual(expect.arrayContaining(before));

      await stack.sender!.clickButton('U0BOB', { channel: CHANNEL, messageTs: card.ts, actionId: ActionId.Approve });
      await expectWithdrawDone(stack, card.ts, P);
      expect((await stack.bot!.store.get(op.id))?.state).toBe('done');
      expect(await stack.bot!.store.lockHolder(P.cidr)).toBeNull();
    } finally {
      await stack.stop();
      await redis.stop();
    }
  }, 60_000);
});
