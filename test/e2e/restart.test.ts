import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SCENARIO } from '../../world/simulator/cloudflare/scenarios.js';
import { ActionId } from '../../src/slack/ids.js';
import { CHANNEL, fileRequest, patchCalls, testStack, redisModes, startWorkerProcess as startWorker } from '../helpers/stack.js';

type TestStack = Awaited<ReturnType<typeof testStack>>;


describe.each(redisModes())('a worker killed while watching ($name)', ({ redisClusterNodes }) => {
  let stack: TestStack;
  const children: ChildProcess[] = [];
  beforeAll(async () => {
    // Listener in this process, workers in child processes; a withdraw takes ~15 simulated min = ~7.5 s here.
    stack = await testStack({ ...(redisClusterNodes ? { redisClusterNodes } : {}), role: 'web', timeScale: 120, pollIntervalMs: 200, jobLockDurationMs: 1500 });
  });
  afterAll(async () => {
    children.forEach((c) => c.kill('SIGKILL'));
    await stack.cleanup();
  });

  it('is replaced by a new one that finishes the watch: one Cloudflare call, one final reply', async () => {
    const p = DEFAULT_SCENARIO.prefixes.advertised;
    const first = await startWorker(stack.env);
    children.push(first);

    const card = await fileRequest(stack, 'U0ALICE', 'withdraw', p.cidr, 'restart drill');
    await stack.sender!.clickButton('U0BOB', { channel: CHANNEL, messageTs: card.ts, actionId: ActionId.Approve });
    // Cloudflare has confirmed its own state: the watch is on the route collectors (progress only: no thread reply;
    // the card's Latest line may already show the next sample).
    for (let i = 0; i < 15_000 / 50; i++) {
      const op = (await stack.bot!.store.recent(5)).find((o) => o.prefix === p.cidr);
      if (op?.watch?.data.phase === 'routing') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect((await stack.bot!.store.recent(5)).find((o) => o.prefix === p.cidr)?.watch?.data.phase).toBe('routing');

    first.kill('SIGKILL'); // mid-watch: Cloudflare has withdrawn, the Internet has not caught up yet
    await new Promise((r) => first.once('exit', r));
    const op = (await stack.bot!.store.recent(1))[0]!;
    expect(op.state).toBe('verifying');

    children.push(await startWorker(stack.env));
    await stack.slack.waitFor(() => stack.slack.thread(CHANNEL, card.ts).find((m) => m.text.includes('Done:')), 30_000);
    await new Promise((r) => setTimeout(r, 1500)); // room for a duplicate to show up, if there were one

    const thread = stack.slack.thread(CHANNEL, card.ts).map((m) => m.text);
    expect(thread.filter((t) => t.includes('Done:'))).toHaveLength(1);
    expect(thread.filter((t) => t.includes('Cloudflare accepted'))).toHaveLength(1);
    const patches = patchCalls(stack, p.bgpPrefixId);
    expect(patches).toHaveLength(1);
    expect((await stack.bot!.store.get(op.id))!.state).toBe('done');
  }, 90_000);
});
