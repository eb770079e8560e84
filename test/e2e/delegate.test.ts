/** `/byoip delegate|undelegate|delegations`: a CIDR of a prefix lent to another account and taken back, the docs' rules checked at the command. */
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_SCENARIO, OTHER_ACCOUNT_ID, SANDBOX_ACCOUNT_ID, SERVICES_SCENARIO } from '../../world/simulator/cloudflare/scenarios.js';
import { ActionId } from '../../src/slack/ids.js';
import { CHANNEL, cardFor, checklist, reason, testStack } from '../helpers/stack.js';

type TestStack = Awaited<ReturnType<typeof testStack>>;
const P = DEFAULT_SCENARIO.prefixes.advertised; // 203.0.113.0/24, no delegations
const S = SERVICES_SCENARIO; // 203.0.113.0/24 with 203.0.113.128/25 delegated to OTHER_ACCOUNT_ID
let stack: TestStack | null = null;
afterEach(async () => {
  await stack?.cleanup();
  stack = null;
});
const mutations = (s: TestStack) => s.cloudflare.state.calls.filter((c) => c.method !== 'GET');

async function answer(s: TestStack, user: string, text: string): Promise<string> {
  const before = s.slack.ephemerals(user).length;
  const res = await s.sender!.command(user, text, { channel: CHANNEL });
  expect(res.status).toBe(200);
  return (await s.slack.waitFor(() => s.slack.ephemerals(user).at(before), 5000)).text;
}

/** Files the request from the command, has Bob approve it, and returns the card and the finished thread. */
async function fileAndApprove(s: TestStack, command: string, prefix: string) {
  await s.sender!.command('U0ALICE', command, { channel: CHANNEL });
  const modal = await s.slack.waitFor(() => s.slack.openModal('U0ALICE'), 5000);
  const res = await s.sender!.submitView('U0ALICE', modal.id, { ...reason('tenant onboarding, CHG-52'), ...checklist });
  expect((res.json as { response_action?: string } | undefined)?.response_action).toBeUndefined();
  const card = await s.slack.waitFor(() => cardFor(s, prefix), 10_000);
  await s.sender!.clickButton('U0ALICE', { channel: CHANNEL, messageTs: card.ts, actionId: ActionId.Approve }); // not her own
  await s.sender!.clickButton('U0BOB', { channel: CHANNEL, messageTs: card.ts, actionId: ActionId.Approve });
  await s.slack.waitFor(() => s.slack.thread(CHANNEL, card.ts).find((m) => /^(Done|Failed|Not confirmed):/.test(m.text)), 30_000);
  return { card, modal, thread: s.slack.thread(CHANNEL, card.ts).map((m) => m.text) };
}

describe('/byoip delegate', () => {
  it('a /26 to another account: the card says bindings stay here, approved by a second person, one POST, Done when listed', async () => {
    stack = await testStack();
    const { card, modal, thread } = await fileAndApprove(stack, `delegate ${P.cidr} 203.0.113.64/26 ${OTHER_ACCOUNT_ID}`, P.cidr);
    expect(JSON.stringify(modal.view.blocks)).toContain(OTHER_ACCOUNT_ID);
    const text = JSON.stringify(card.blocks);
    expect(text).toContain('`203.0.113.64/26`');
    expect(text).toContain(OTHER_ACCOUNT_ID);
    expect(text).toContain('service bindings stay on this, the parent account');
    expect(thread.at(-1)).toMatch(/^Done:/);
    expect(thread.at(-1)).toContain('203.0.113.64/26');
    expect(mutations(stack)).toHaveLength(1);
    expect(mutations(stack)[0]).toMatchObject({ method: 'POST' });
    expect(mutations(stack)[0]!.path).toMatch(/\/delegations$/);
    expect(mutations(stack)[0]!.body).toMatchObject({ cidr: '203.0.113.64/26', delegated_account_id: OTHER_ACCOUNT_ID });
    const listed = [...stack.cloudflare.state.delegations.values()];
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ cidr: '203.0.113.64/26', delegatedAccountId: OTHER_ACCOUNT_ID });
  }, 60_000);

  it('outside the prefix, to the owning account, overlapping another delegation, or not an account id: refused at the command, no modal, nothing sent', async () => {
    stack = await testStack({ scenario: 'services' });
    const cases: [string, RegExp][] = [
      [`delegate ${S.prefix.cidr} 198.51.100.0/26 ${OTHER_ACCOUNT_ID}`, /outside the prefix 203\.0\.113\.0\/24/],
      [`delegate ${S.prefix.cidr} 203.0.113.0/26 ${SANDBOX_ACCOUNT_ID}`, /cannot be delegated to its owner/],
      [`delegate ${S.prefix.cidr} 203.0.113.192/26 ${'ab'.repeat(16)}`, /overlaps the delegation of 203\.0\.113\.128\/25/],
      [`delegate ${S.prefix.cidr} 203.0.113.0/26 not-an-account`, /not a Cloudflare account id/],
      [`delegate 192.0.2.0/24 192.0.2.0/26 ${OTHER_ACCOUNT_ID}`, /not a prefix on the Cloudflare accounts/],
    ];
    for (const [command, why] of cases) {
      const text = await answer(stack, 'U0ALICE', command);
      expect(text, command).toMatch(why);
    }
    expect(stack.slack.openModal('U0ALICE')).toBeUndefined();
    expect(await stack.bot!.store.recent(5)).toHaveLength(0);
    expect(mutations(stack)).toHaveLength(0);
  }, 60_000);
});

describe('/byoip undelegate and /byoip delegations', () => {
  it('lists the delegations for a viewer (not for an outsider), then takes 203.0.113.128/25 back: one DELETE, Done when gone', async () => {
    stack = await testStack({ scenario: 'services' });
    const list = await answer(stack, 'U0BOB', `delegations ${S.prefix.cidr}`);
    expect(list).toContain('203.0.113.128/25');
    expect(list).toContain(OTHER_ACCOUNT_ID);
    const outsider = await answer(stack, 'U0MALLORY', `delegations ${S.prefix.cidr}`);
    expect(outsider).toMatch(/not in a group allowed to see/);
    const missing = await answer(stack, 'U0ALICE', `undelegate ${S.prefix.cidr} 203.0.113.0/25`);
    expect(missing).toContain('has no delegation of 203.0.113.0/25');
    expect(missing).toContain('203.0.113.128/25');

    const { card, thread } = await fileAndApprove(stack, `undelegate ${S.prefix.cidr} ${S.delegation.cidr}`, S.prefix.cidr);
    expect(JSON.stringify(card.blocks)).toContain('`203.0.113.128/25`');
    expect(thread.at(-1)).toMatch(/^Done:/);
    expect(thread.at(-1)).toContain('no longer delegated');
    expect(mutations(stack)).toHaveLength(1);
    expect(mutations(stack)[0]).toMatchObject({ method: 'DELETE' });
    expect(mutations(stack)[0]!.path).toContain(`/delegations/${S.delegation.id}`);
    expect(stack.cloudflare.state.delegations.size).toBe(0);
    const after = await answer(stack, 'U0BOB', `delegations ${S.prefix.cidr}`);
    expect(after).toContain('no delegations');
  }, 60_000);
});
