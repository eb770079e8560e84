import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ONBOARDING_SCENARIO } from '../../world/simulator/cloudflare/scenarios.js';
import { ActionId } from '../../src/slack/ids.js';
import { CHANNEL, cardFor, checklist, fileRequest, reason, testStack } from '../helpers/stack.js';

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
    // The cause and the fix from the troubleshooting page, with the exact record to publish.
    expect(failed.text).toMatch(/\*Ownership `(missing|invalid)`\*: .*Fix: /);
    expect(failed.text).toContain(`remarks: cf-validation: ${P.ownershipToken}`);
    expect(failed.text).toContain(`cf-validation.2.0.192.in-addr.arpa IN TXT "${P.ownershipToken}"`);
    expect(failed.text).not.toMatch(/IRR `|RPKI `/); // those pass here
    expect(stack.cloudflare.state.prefixes.get(P.id)!.approved).toBe('P');
    expect(await stack.bot!.store.lockHolder(P.cidr)).toBeNull();

    // re-validation is one button away on the failed card; the same gates as /byoip validate
    const failedCard = await stack.slack.waitFor(() => {
      const m = stack.slack.message(CHANNEL, card.ts);
      return m && JSON.stringify(m.blocks).includes('Validate again') ? m : undefined;
    }, 10_000);
    expect(JSON.stringify(failedCard.blocks)).toContain(ActionId.ValidateAgain);
    await stack.sender!.clickButtonByText('U0MALLORY', { channel: CHANNEL, messageTs: card.ts }, 'Validate again'); // in no group
    const notRequester = await stack.slack.waitFor(() => stack.slack.ephemerals('U0MALLORY').find((e) => e.text.includes('not in a group allowed to request')), 5000);
    expect(notRequester.text).toContain('nothing was filed');
    expect(stack.slack.openModal('U0MALLORY')).toBeUndefined();

    // publish the token as an IRR remark, ask again with the button
    const route = stack.world.routeObjects.find((r) => r.prefix === P.cidr && r.source !== 'RPKI')!;
    route.remarks.push(`cf-validation: ${P.ownershipToken}`);
    await stack.sender!.clickButtonByText('U0ALICE', { channel: CHANNEL, messageTs: card.ts }, 'Validate again');
    const modal = await stack.slack.waitFor(() => stack.slack.openModal('U0ALICE'), 5000);
    expect(JSON.stringify(modal.view.blocks)).toContain(`Validate ${P.cidr}`);
    await stack.sender!.submitView('U0ALICE', modal.id, { ...reason('token published'), ...checklist });
    const second = await stack.slack.waitFor(() => {
      const c = cardFor(stack, P.cidr);
      return c && c.ts !== card.ts ? c : undefined;
    }, 20_000);
    expect(JSON.stringify(second.blocks)).toContain("every check Cloudflare will run looks right");
    await stack.sender!.clickButton('U0BOB', { channel: CHANNEL, messageTs: second.ts, actionId: ActionId.Approve });
    const done = await stack.slack.waitFor(() => stack.slack.thread(CHANNEL, second.ts).find((m) => m.text.includes('Done:')), 20_000);
    expect(done.text).toContain('validated and approved 192.0.2.0/24');
    expect(stack.cloudflare.state.prefixes.get(P.id)!.approved).toBe('V');
    expect(validateCalls(stack)).toHaveLength(2);
    // our own LOA (delegate_loa_creation false): the PATCH the docs ask for once approved, sent once by the engine,
    // with the description unchanged (the only editable field)
    const patches = stack.cloudflare.state.calls.filter((c) => c.method === 'PATCH' && c.path.endsWith(`/prefixes/${P.id}`));
    expect(patches).toHaveLength(1);
    expect(patches[0]!.body).toEqual({ description: `BYOIP ${P.cidr}` });
    expect(stack.cloudflare.state.prefixes.get(P.id)!.description).toBe(`BYOIP ${P.cidr}`);
    expect(done.text).toContain(`sent the PATCH the docs ask for once the prefix is approved (\`PATCH /accounts/`);
    expect(done.text).toContain('account team');
    const op = (await stack.bot!.store.recent(10)).find((o) => o.kind === 'validate' && o.state === 'done')!;
    const audited = (await stack.bot!.store.auditTrail(op.id)).find((r) => r.type === 'done');
    expect(audited?.data?.loaPatch).toMatchObject({ sent: 'now' });

    // nothing left to do
    const before = stack.slack.ephemerals('U0ALICE').length;
    await stack.sender!.command('U0ALICE', `validate ${P.cidr}`, { channel: CHANNEL });
    const refusal = await stack.slack.waitFor(() => stack.slack.ephemerals('U0ALICE').at(before), 5000);
    expect(refusal.text).toContain('already validated and approved');
    expect(stack.slack.openModal('U0ALICE')).toBeUndefined();
  });

  it('IRR with another origin and no ROA: each failing check explained with the route object and the ROA to publish', async () => {
    const route = stack.world.routeObjects.find((r) => r.prefix === P.cidr && r.source !== 'RPKI')!;
    route.origin = 64511;
    stack.world.roas.splice(0, stack.world.roas.length, ...stack.world.roas.filter((r) => r.prefix !== P.cidr));
    const card = await fileRequest(stack, 'U0ALICE', 'validate', P.cidr, 'check the explanations');
    await stack.sender!.clickButton('U0BOB', { channel: CHANNEL, messageTs: card.ts, actionId: ActionId.Approve });
    const failed = await stack.slack.waitFor(() => stack.slack.thread(CHANNEL, card.ts).find((m) => m.text.startsWith('Failed:')), 20_000);
    expect(failed.text).toMatch(/\*IRR `mismatch_asn`\*: .*origin is not AS13335/);
    expect(failed.text).toContain('route: 192.0.2.0/24\norigin: AS13335');
    expect(failed.text).toMatch(/\*RPKI `missing`\*: no ROA covers 192\.0\.2\.0\/24/);
    expect(failed.text).toContain('ROA: prefix 192.0.2.0/24, origin AS13335, max length /24');
    expect(failed.text).not.toMatch(/<YOUR/); // angle brackets escaped for Slack
  });
});
