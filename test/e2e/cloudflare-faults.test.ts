import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_SCENARIO } from '../../world/simulator/cloudflare/scenarios.js';
import { ActionId } from '../../src/slack/ids.js';
import { CHANNEL, fileRequest, patchCalls, testStack } from '../helpers/stack.js';

type TestStack = Awaited<ReturnType<typeof testStack>>;
const p = DEFAULT_SCENARIO.prefixes.advertised;

async function approvedWithdraw(stack: TestStack) {
  const card = await fileRequest(stack, 'U0ALICE', 'withdraw', p.cidr, 'fault drill');
  await stack.sender!.clickButton('U0BOB', { channel: CHANNEL, messageTs: card.ts, actionId: ActionId.Approve });
  return card;
}

const patches = (stack: TestStack) => patchCalls(stack, p.bgpPrefixId);

describe('Cloudflare misbehaving during execution', () => {
  let stack: TestStack;
  beforeEach(async () => {
    stack = await testStack({ executeAttempts: 2 });
  });
  afterEach(async () => {
    await stack.cleanup();
  });

  it('a PATCH that took effect but answered 500 is not sent again: the retry reads first', async () => {
    stack.cloudflare.addFault({ path: `/bgp/prefixes/${p.bgpPrefixId}$`, method: 'PATCH', kind: 'error', status: 500, applied: 'after', times: 1 });
    const card = await approvedWithdraw(stack);
    await stack.slack.waitFor(() => stack.slack.thread(CHANNEL, card.ts).find((m) => m.text.includes('Done:')), 30_000);
    expect(patches(stack)).toHaveLength(1);
    expect(stack.cloudflare.state.bgpPrefixes.get(p.bgpPrefixId)!.advertised).toBe(false);
    const op = (await stack.bot!.store.recent(1))[0]!;
    const types = (await stack.bot!.store.auditTrail(op.id)).map((a) => a.type);
    expect(types.filter((t) => t === 'cloudflare_call')).toHaveLength(1);
    expect(types).toContain('cloudflare_error');
    expect(op.cloudflare?.outcome).toBe('called');
  });

  it('Cloudflare unreachable for every attempt: the request fails honestly and the prefix is unlocked', async () => {
    stack.cloudflare.addFault({ path: `/bgp/prefixes/${p.bgpPrefixId}$`, method: 'GET', kind: 'error', status: 503 });
    const card = await approvedWithdraw(stack);
    const gaveUp = await stack.slack.waitFor(() => stack.slack.thread(CHANNEL, card.ts).find((m) => m.text.startsWith('Failed: gave up')), 40_000);
    expect(gaveUp.text).toContain('Nothing was sent to Cloudflare');
    expect(stack.slack.thread(CHANNEL, card.ts).at(-1)!.text).toBe(gaveUp.text);
    expect(patches(stack)).toHaveLength(0);
    const op = (await stack.bot!.store.recent(1))[0]!;
    expect(op.state).toBe('failed');
    expect(await stack.bot!.store.lockHolder(p.cidr)).toBeNull();
  }, 60_000);

  it('a locked BGP prefix (on_demand_locked) is refused at the command with Cloudflare\'s reason, before any form opens', async () => {
    stack.cloudflare.state.bgpPrefixes.get(p.bgpPrefixId)!.onDemandLocked = true;
    const before = stack.slack.ephemerals('U0ALICE').length;
    await stack.sender!.command('U0ALICE', `withdraw ${p.cidr}`, { channel: CHANNEL });
    const refusal = await stack.slack.waitFor(() => stack.slack.ephemerals('U0ALICE').at(before), 5000);
    expect(refusal.text).toMatch(/locked for on-demand changes at Cloudflare/);
    expect(stack.slack.openModal('U0ALICE')).toBeUndefined();
    expect(patches(stack)).toHaveLength(0);
  });

  it('a PATCH that Cloudflare applied but answered with a malformed body continues as accepted after a read: never "failed"', async () => {
    stack.cloudflare.addFault({ path: `/bgp/prefixes/${p.bgpPrefixId}$`, method: 'PATCH', kind: 'malformed', applied: 'after', times: 1 });
    const card = await approvedWithdraw(stack);
    await stack.slack.waitFor(() => stack.slack.thread(CHANNEL, card.ts).find((m) => m.text.startsWith('Done:')), 30_000);
    const thread = stack.slack.thread(CHANNEL, card.ts).map((m) => m.text);
    expect(thread.join('\n')).not.toMatch(/Failed:|refused/);
    expect(patches(stack)).toHaveLength(1);
    const op = (await stack.bot!.store.recent(1))[0]!;
    expect(op.state).toBe('done');
    const types = (await stack.bot!.store.auditTrail(op.id)).map((a) => a.type);
    expect(types.filter((t) => t === 'cloudflare_call')).toHaveLength(1);
    expect(types).toContain('cloudflare_error');
    // Cloudflare's own answer to the mutation, as it came (status and raw body), is in the audit
    const answer = (await stack.bot!.store.auditTrail(op.id)).find((a) => a.type === 'cloudflare_answer');
    expect(answer?.data).toMatchObject({ status: 200 });
    expect(String(answer?.data?.body)).not.toContain('sandbox-cloudflare-token');
  });
});

describe('Cloudflare rate-limiting the token during execution', () => {
  let stack: TestStack;
  beforeAll(async () => {
    // Two attempts only: rate-limit waits must not spend them. A change held over 1.5 s says so (20 s in production).
    stack = await testStack({ executeAttempts: 2, rateLimitNoticeMs: 1500 });
  });
  afterAll(async () => {
    await stack.cleanup();
  });

  it('a 429 storm with Retry-After posts one "held by the rate limit" line, the job waits, and the change completes', async () => {
    const card = await fileRequest(stack, 'U0ALICE', 'withdraw', p.cidr, 'storm drill');
    // Two reads and then two PATCHes answered 429 with Retry-After: 2 s, one after the other.
    stack.cloudflare.addFault({ path: `/bgp/prefixes/${p.bgpPrefixId}$`, method: 'GET', kind: 'rate_limit', retryAfterS: 2, times: 2 });
    stack.cloudflare.addFault({ path: `/bgp/prefixes/${p.bgpPrefixId}$`, method: 'PATCH', kind: 'rate_limit', retryAfterS: 2, times: 2 });
    const approved = Date.now();
    await stack.sender!.clickButton('U0BOB', { channel: CHANNEL, messageTs: card.ts, actionId: ActionId.Approve });
    await stack.slack.waitFor(() => stack.slack.thread(CHANNEL, card.ts).find((m) => m.text.startsWith('Done:')), 40_000);
    await new Promise((r) => setTimeout(r, 500));

    const thread = stack.slack.thread(CHANNEL, card.ts).map((m) => m.text);
    const held = thread.filter((t) => t.includes('rate limit is holding this change'));
    expect(held).toHaveLength(1);
    expect(thread.findIndex((t) => t.includes('rate limit is holding'))).toBeLessThan(thread.findIndex((t) => t.includes('Cloudflare accepted')));
    expect(thread.join('\n')).not.toMatch(/Failed:/);
    const limited = stack.cloudflare.state.calls.filter((c) => c.status === 429);
    expect(limited.map((c) => c.method)).toEqual(['GET', 'GET', 'PATCH', 'PATCH']);
    // Each retry waited for its Retry-After (in a delayed job, not a spinning one).
    for (let i = 1; i < limited.length; i++) expect(limited[i]!.at - limited[i - 1]!.at).toBeGreaterThanOrEqual(1900);
    const sent = patches(stack).filter((c) => c.status === 200);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.at - limited.at(-1)!.at).toBeGreaterThanOrEqual(1900);
    expect(stack.cloudflare.state.bgpPrefixes.get(p.bgpPrefixId)!.advertised).toBe(false);
    const op = (await stack.bot!.store.recent(1))[0]!;
    expect(op.state).toBe('done');
    const types = (await stack.bot!.store.auditTrail(op.id)).map((a) => a.type);
    expect(types.filter((t) => t === 'rate_limited')).toHaveLength(1);
    console.log(`429 storm: ${limited.length} x 429 (Retry-After 2 s), one thread line, PATCH sent ${sent[0]!.at - approved} ms after the approval, Done`);
  }, 60_000);
});
