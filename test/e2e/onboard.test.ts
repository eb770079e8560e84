import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ActionId } from '../../src/slack/ids.js';
import { CHANNEL, fileRequest, testStack } from '../helpers/stack.js';

type TestStack = Awaited<ReturnType<typeof testStack>>;
const CIDR = '192.0.2.0/24';
const creates = (stack: TestStack) => stack.cloudflare.state.calls.filter((c) => c.method === 'POST' && /\/addressing\/prefixes$/.test(c.path));

async function approveAndWait(stack: TestStack, cardTs: string, text: string) {
  await stack.sender!.clickButton('U0BOB', { channel: CHANNEL, messageTs: cardTs, actionId: ActionId.Approve });
  return stack.slack.waitFor(() => stack.slack.thread(CHANNEL, cardTs).find((m) => m.text.includes(text)), 20_000);
}

describe('onboarding a prefix from Slack: preflight on the card, add, publish the token, validate', () => {
  let stack: TestStack;
  beforeEach(async () => {
    stack = await testStack({ scenario: 'fresh' });
  });
  afterEach(async () => {
    await stack.cleanup();
  });

  it('runs the whole onboarding, each step approved, and tells what to publish', async () => {
    // Nothing published yet: the card says what will fail before anything is sent.
    const card = await fileRequest(stack, 'U0ALICE', 'onboard', CIDR, 'new anycast block', '13335');
    const onCard = JSON.stringify(card.blocks);
    expect(onCard).toContain('Pre-flight');
    expect(onCard).toMatch(/RPKI/);
    expect(onCard).toMatch(/Create a ROA/);
    const done = await approveAndWait(stack, card.ts, 'Done:');
    expect(creates(stack)).toHaveLength(1);
    const added = [...stack.cloudflare.state.prefixes.values()].find((p) => p.cidr === CIDR)!;
    expect(added.approved).toBe('P');
    expect(done.text).toContain(added.ownershipValidationToken);
    expect(done.text).toContain('2.0.192.in-addr.arpa');
    expect(done.text).toContain(`/byoip validate ${CIDR}`);

    // Adding it again is refused at the command, before any form opens.
    const before = stack.slack.ephemerals('U0ALICE').length;
    await stack.sender!.command('U0ALICE', `onboard ${CIDR} 13335`, { channel: CHANNEL });
    expect((await stack.slack.waitFor(() => stack.slack.ephemerals('U0ALICE').at(before), 5000)).text).toMatch(/already on Cloudflare account/);
    expect(stack.slack.openModal('U0ALICE')).toBeUndefined();

    // Publish ROA, route object with the token; validate; Cloudflare approves.
    stack.world.addRoa({ prefix: CIDR, maxLength: 24, asn: 13335 });
    stack.world.addRouteObject({ prefix: CIDR, origin: 13335, source: 'RADB', remarks: [`cf-validation: ${added.ownershipValidationToken}`], descr: [] });
    const validate = await fileRequest(stack, 'U0ALICE', 'validate', CIDR, 'published');
    expect(JSON.stringify(validate.blocks)).toContain('every check Cloudflare will run looks right');
    await approveAndWait(stack, validate.ts, 'Done:');
    expect(stack.cloudflare.state.prefixes.get(added.id)!.approved).toBe('V');
    expect(creates(stack)).toHaveLength(1);
  });

  it('refuses a prefix too small for BYOIP and a bad ASN with a sentence', async () => {
    const ask = async (text: string) => {
      const before = stack.slack.ephemerals('U0ALICE').length;
      await stack.sender!.command('U0ALICE', text, { channel: CHANNEL });
      return (await stack.slack.waitFor(() => stack.slack.ephemerals('U0ALICE').at(before), 5000)).text;
    };
    expect(await ask('onboard 192.0.2.0/24')).toMatch(/Say which prefix and the ASN/);
    expect(await ask('onboard 192.0.2.0/24 AS-FOO')).toMatch(/is not an AS number/);
    expect(await ask('onboard 192.0.2.0/25 13335')).toMatch(/too small for BYOIP/);
    expect(await ask('onboard 2001:db8:1::/56 13335')).toMatch(/too small for BYOIP/);
    expect(stack.slack.openModal('U0ALICE')).toBeUndefined();
    expect(creates(stack)).toHaveLength(0);
  });
});
