import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ONBOARDING_SCENARIO } from '../../world/simulator/cloudflare/scenarios.js';
import { ActionId } from '../../src/slack/ids.js';
import { CHANNEL, fileRequest, testStack } from '../helpers/stack.js';

type TestStack = Awaited<ReturnType<typeof testStack>>;
const P = ONBOARDING_SCENARIO.prefix;
const validateCalls = (stack: TestStack) => stack.cloudflare.state.calls.filter((c) => c.method === 'POST' && c.path.endsWith(`/prefixes/${P.id}/validate`));

describe('/byoip validate: the preflight on the card, then Cloudflare\'s own checks followed to the end', () => {
  let stack: TestStack;
  beforeEach(async () => {
    stack = await testStack({ scenario: 'onboarding' });
  });
  afterEach(async () => {
    await stack.cleanup();
  });

  it('warns on the card that the token is missing, fails with Cloudflare\'s states, then passes once the token is published', async () => {
    const card = await fileRequest(stack, 'U0ALICE', 'validate', P.cidr, 'onboarding 192.0.2.0/24');
    const cardText = JSON.stringify(card.blocks);
    expect(cardText).toContain('Pre-flight');
    expect(cardText).toMatch(/Ownership token/);
    expect(cardText).toContain('cf-validation');

    await stack.sender!.clickButton('U0BOB', { channel: CHANNEL, messageTs: card.ts, actionId: ActionId.Approve });
    const failed = await stack.slack.waitFor(() => stack.slack.thread(CHANNEL, card.ts).find((m) => m.text.includes('validation of 192.0.2.0/24 failed')), 20_000);
    expect(failed.text).toMatch(/^Failed: /);
    expect(failed.text).toMatch(/ownership (missing|invalid)/);
    expect(stack.cloudflare.state.prefixes.get(P.id)!.approved).toBe('P');
    expect(await stack.bot!.store.lockHolder(P.cidr)).toBeNull();

    // publish the token as an IRR remark, ask again
    const route = stack.world.routeObjects.find((r) => r.prefix === P.cidr && r.source !== 'RPKI')!;
    route.remarks.push(`cf-validation: ${P.ownershipToken}`);
    const second = await fileRequest(stack, 'U0ALICE', 'validate', P.cidr, 'token published');
    expect(JSON.stringify(second.blocks)).toContain("every check Cloudflare will run looks right");
    await stack.sender!.clickButton('U0BOB', { channel: CHANNEL, messageTs: second.ts, actionId: ActionId.Approve });
    const done = await stack.slack.waitFor(() => stack.slack.thread(CHANNEL, second.ts).find((m) => m.text.includes('Done:')), 20_000);
    expect(done.text).toContain('validated and approved 192.0.2.0/24');
    expect(stack.cloudflare.state.prefixes.get(P.id)!.approved).toBe('V');
    expect(validateCalls(stack)).toHaveLength(2);

    // nothing left to do
    const before = stack.slack.ephemerals('U0ALICE').length;
    await stack.sender!.command('U0ALICE', `validate ${P.cidr}`, { channel: CHANNEL });
    const refusal = await stack.slack.waitFor(() => stack.slack.ephemerals('U0ALICE').at(before), 5000);
    expect(refusal.text).toContain('already validated and approved');
    expect(stack.slack.openModal('U0ALICE')).toBeUndefined();
  });
});
