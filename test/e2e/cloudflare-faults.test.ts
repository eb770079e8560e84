import { afterEach, beforeEach, describe, expect, it } from 'vitest';
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
  });
});
