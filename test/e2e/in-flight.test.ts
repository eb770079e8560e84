import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SCENARIO } from '../../world/simulator/cloudflare/scenarios.js';
import { ActionId } from '../../src/slack/ids.js';
import { CHANNEL, fileRequest, patchCalls, testStack, startWorkerProcess as startWorker } from '../helpers/stack.js';

type TestStack = Awaited<ReturnType<typeof testStack>>;


// The PATCH is held this long by the simulator before it takes effect; the Cloudflare client's request timeout (the
// in-flight window, CLOUDFLARE_TIMEOUT_MS) is longer, as it must be for such a call to succeed at all.
const PATCH_LATENCY_MS = 10_000;
const TIMEOUT_MS = 12_000;

describe('a worker killed while its PATCH is in flight', () => {
  let stack: TestStack;
  const children: ChildProcess[] = [];
  beforeAll(async () => {
    stack = await testStack({ role: 'web', pollIntervalMs: 200, jobLockDurationMs: 1500, cloudflareTimeoutMs: TIMEOUT_MS });
  });
  afterAll(async () => {
    children.forEach((c) => c.kill('SIGKILL'));
    await stack.cleanup();
  });

  it('the worker that takes over waits out the in-flight window, re-reads, and does not send it again: one PATCH, Done', async () => {
    const p = DEFAULT_SCENARIO.prefixes.advertised;
    const first = await startWorker(stack.env);
    children.push(first);
    const fault = stack.cloudflare.addFault({ path: `/bgp/prefixes/${p.bgpPrefixId}$`, method: 'PATCH', kind: 'latency', ms: PATCH_LATENCY_MS, times: 1 });

    const card = await fileRequest(stack, 'U0ALICE', 'withdraw', p.cidr, 'in-flight drill');
    await stack.sender!.clickButton('U0BOB', { channel: CHANNEL, messageTs: card.ts, actionId: ActionId.Approve });
    // The PATCH has reached Cloudflare, which is still working on it.
    await stack.slack.waitFor(() => (fault.hits === 1 ? true : undefined), 15_000);
    const patchArrived = Date.now();

    // A second worker is ready to take over; the first dies mid-call.
    children.push(await startWorker(stack.env));
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    const killedAfter = Date.now() - patchArrived;
    const op = (await stack.bot!.store.recent(1))[0]!;
    expect(op.state).toBe('executing');
    expect(op.cloudflare).toMatchObject({ outcome: 'called' });
    expect(op.cloudflare!.answeredAt).toBeUndefined();
    expect(killedAfter).toBeLessThan(PATCH_LATENCY_MS); // killed while the PATCH was still in flight

    await stack.slack.waitFor(() => stack.slack.thread(CHANNEL, card.ts).find((m) => m.text.startsWith('Done:')), 40_000);
    await new Promise((r) => setTimeout(r, 1000)); // room for a late duplicate, if there were one

    const patches = patchCalls(stack, p.bgpPrefixId);
    expect(patches).toHaveLength(1);
    expect(stack.cloudflare.state.bgpPrefixes.get(p.bgpPrefixId)!.advertised).toBe(false);
    const audit = await stack.bot!.store.auditTrail(op.id);
    const types = audit.map((a) => a.type);
    expect(types.filter((t) => t === 'cloudflare_call')).toHaveLength(1);
    const wait = audit.find((a) => a.type === 'waiting_in_flight');
    expect(wait?.data).toMatchObject({ sentAt: op.cloudflare!.at, until: op.cloudflare!.at + TIMEOUT_MS });
    // The takeover's read came after the first PATCH had landed, and the thread says it was accepted once.
    const reads = stack.cloudflare.state.calls.filter((c) => c.method === 'GET' && c.path.endsWith(`/bgp/prefixes/${p.bgpPrefixId}`));
    expect(reads.some((r) => r.at >= op.cloudflare!.at + TIMEOUT_MS)).toBe(true);
    const thread = stack.slack.thread(CHANNEL, card.ts).map((m) => m.text);
    expect(thread.filter((t) => t.includes('Cloudflare accepted'))).toHaveLength(1);
    expect(thread.filter((t) => t.startsWith('Done:'))).toHaveLength(1);
    expect((await stack.bot!.store.get(op.id))!.state).toBe('done');
    const takeover = reads.find((r) => r.at >= op.cloudflare!.at + TIMEOUT_MS)!;
    console.log(
      `in flight: worker killed ${killedAfter} ms after its PATCH reached Cloudflare (held ${PATCH_LATENCY_MS} ms); the new worker read ${takeover.at - op.cloudflare!.at} ms after the call was sent (window ${TIMEOUT_MS} ms); 1 PATCH, Done`,
    );
  }, 90_000);
});
