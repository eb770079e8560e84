import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SCENARIO } from '../../world/simulator/cloudflare/scenarios.js';
import { ActionId } from '../../src/slack/ids.js';
import { CHANNEL, cardFor, checklist, fileRequest as newCard, reason, staleClick, testStack } from '../helpers/stack.js';

type TestStack = Awaited<ReturnType<typeof testStack>>;
const ALICE = 'U0ALICE';
const BOB = 'U0BOB';
const CAROL = 'U0CAROL';

/** Sends a command and returns the ephemeral answer the user sees. */
async function answer(stack: TestStack, user: string, text: string): Promise<string> {
  const before = stack.slack.ephemerals(user).length;
  const res = await stack.sender!.command(user, text, { channel: CHANNEL });
  expect(res.status).toBe(200);
  const e = await stack.slack.waitFor(() => stack.slack.ephemerals(user).at(before), 5000);
  return e.text;
}

async function fileRequest(stack: TestStack, user: string, kind: string, cidr: string) {
  const before = stack.slack.ephemerals(user).length;
  await stack.sender!.command(user, `${kind} ${cidr}`, { channel: CHANNEL });
  const modal = await stack.slack.waitFor(() => stack.slack.openModal(user), 5000);
  await stack.sender!.submitView(user, modal.id, { ...reason('bad input drill'), ...checklist });
  return before;
}

async function nextEphemeral(stack: TestStack, user: string, before: number): Promise<string> {
  return (await stack.slack.waitFor(() => stack.slack.ephemerals(user).at(before), 5000)).text;
}

const cfMutations = (stack: TestStack) => stack.cloudflare.state.calls.filter((c) => c.method !== 'GET');

describe('bad input gets a clear sentence and changes nothing', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await testStack({ expiresAfter: '2s' });
  });
  afterAll(async () => {
    await stack.cleanup();
  });

  it('unknown subcommand lists what exists', async () => {
    const t = await answer(stack, ALICE, 'withdrw 203.0.113.0/24');
    expect(t).toContain('`withdrw` is not a /byoip command');
    expect(t).toContain('/byoip withdraw <cidr>');
  });

  it('malformed CIDR, missing length and host bits set', async () => {
    expect(await answer(stack, ALICE, 'withdraw 203.0.113/24')).toMatch(/is not an IP prefix/);
    expect(await answer(stack, ALICE, 'withdraw 203.0.113.0')).toMatch(/has no prefix length/);
    expect(await answer(stack, ALICE, 'withdraw 203.0.113.7/24')).toMatch(/host bits set\. Did you mean `203\.0\.113\.0\/24`\?/);
    expect(await answer(stack, ALICE, 'withdraw')).toMatch(/Say which prefix/);
  });

  it('a user in no group cannot even open the request form', async () => {
    const t = await answer(stack, 'U0MALLORY', 'withdraw 203.0.113.0/24');
    expect(t).toMatch(/not in a group allowed to request/);
    expect(stack.slack.openModal('U0MALLORY')).toBeUndefined();
  });

  it('a prefix not on the account is refused at the command, before any form opens', async () => {
    expect(await answer(stack, ALICE, 'withdraw 192.0.2.0/24')).toMatch(/192\.0\.2\.0\/24 is not a BGP prefix on the Cloudflare account/);
    expect(stack.slack.openModal(ALICE)).toBeUndefined();
    expect(await stack.bot!.store.recent(10)).toHaveLength(0);
  });

  it('a prefix already in the wanted state is refused at the command, and audited', async () => {
    expect(await answer(stack, ALICE, `advertise ${DEFAULT_SCENARIO.prefixes.advertised.cidr}`)).toMatch(/is already advertised at Cloudflare; nothing to do/);
    expect(stack.slack.openModal(ALICE)).toBeUndefined();
    const refused = (await stack.bot!.store.auditTrail()).filter((a) => a.type === 'request_refused' && a.actor === ALICE);
    expect(refused.map((a) => a.data?.why)).toContain('target');
  });

  it('the modal refuses an empty reason and an unticked checklist', async () => {
    await stack.sender!.command(ALICE, 'withdraw 203.0.113.0/24', { channel: CHANNEL });
    const modal = await stack.slack.waitFor(() => stack.slack.openModal(ALICE), 5000);
    const res = await stack.sender!.submitView(ALICE, modal.id, { ...reason(' '), checklist: { checklist_input: { type: 'checkboxes', selected_options: [] } } });
    expect(res.json).toMatchObject({ response_action: 'errors', errors: { reason: expect.stringContaining('reason'), checklist: expect.stringContaining('Confirm') } });
    await stack.sender!.closeView(ALICE, modal.id);
    expect(await stack.bot!.store.recent(10)).toHaveLength(0);
  });

  it('a second request on a locked prefix is refused, naming the open one', async () => {
    await fileRequest(stack, ALICE, 'withdraw', DEFAULT_SCENARIO.prefixes.advertised.cidr);
    const card = await stack.slack.waitFor(() => cardFor(stack, DEFAULT_SCENARIO.prefixes.advertised.cidr), 5000);
    // refused at the command: no form opens for a locked prefix
    const t = await answer(stack, CAROL, `withdraw ${DEFAULT_SCENARIO.prefixes.advertised.cidr}`);
    expect(stack.slack.openModal(CAROL)).toBeUndefined();
    expect(t).toMatch(/already has an open request \(a withdraw request by <@U0ALICE> that is waiting for approval\)/);
    expect((await stack.bot!.store.recent(10)).length).toBe(1);

    // it expires (policy: 2 s here), the card says so, and a late Approve is refused
    await stack.slack.waitFor(() => (/expired/.test(stack.slack.message(CHANNEL, card.ts)?.text ?? '') ? true : undefined), 10_000);
    const b = stack.slack.ephemerals(BOB).length;
    await staleClick(stack, BOB, card.ts, ActionId.Approve, (await stack.bot!.store.recent(1))[0]!.id);
    expect(await nextEphemeral(stack, BOB, b)).toMatch(/expired/);
    expect(cfMutations(stack)).toHaveLength(0);
    expect(await stack.bot!.store.lockHolder(DEFAULT_SCENARIO.prefixes.advertised.cidr)).toBeNull();
  });

  it('a click on a finished (rejected) card changes nothing', async () => {
    const cidr = DEFAULT_SCENARIO.prefixes.withdrawn.cidr;
    await fileRequest(stack, ALICE, 'advertise', cidr);
    const card = await stack.slack.waitFor(() => cardFor(stack, cidr), 5000);
    await stack.sender!.clickButton(BOB, { channel: CHANNEL, messageTs: card.ts, actionId: ActionId.Reject });
    await stack.slack.waitFor(() => (/rejected/.test(stack.slack.message(CHANNEL, card.ts)?.text ?? '') ? true : undefined), 5000);
    const opId = (await stack.bot!.store.recent(1))[0]!.id;
    const b = stack.slack.ephemerals(CAROL).length;
    // an old copy of the card still shows the buttons: click it anyway
    await staleClick(stack, CAROL, card.ts, ActionId.Approve, opId);
    expect(await nextEphemeral(stack, CAROL, b)).toMatch(/already rejected by <@U0BOB>; your click changed nothing/);
    expect(cfMutations(stack)).toHaveLength(0);
  });

  it('when Slack cannot say who is in the approver group, an approver is told so, not "not a member"', async () => {
    const cidr = DEFAULT_SCENARIO.prefixes.withdrawn.cidr;
    const card = await newCard(stack, ALICE, 'advertise', cidr);
    stack.slack.failNext('usergroups.users.list', { error: 'internal_error', count: 1 }); // the one approver group, read live for this click
    const b = stack.slack.ephemerals(BOB).length;
    await stack.sender!.clickButton(BOB, { channel: CHANNEL, messageTs: card.ts, actionId: ActionId.Approve });
    const t = (await stack.slack.waitFor(() => stack.slack.ephemerals(BOB).at(b), 5000)).text;
    expect(t).toMatch(/Could not check your group membership \(Slack said internal_error\); nothing was changed/);
    expect(t).not.toMatch(/not in an approver group/);
    expect(cfMutations(stack)).toHaveLength(0);
    await stack.sender!.clickButton(ALICE, { channel: CHANNEL, messageTs: card.ts, actionId: ActionId.Reject }); // leave the prefix free
    await stack.slack.waitFor(() => (/cancelled/.test(stack.slack.message(CHANNEL, card.ts)?.text ?? '') ? true : undefined), 5000);
  });

  it('a bad or stale Slack signature gets 401 and changes nothing', async () => {
    const body = new URLSearchParams({ command: '/byoip', text: 'status', user_id: ALICE, channel_id: CHANNEL, team_id: 'T0SIM', response_url: `${stack.slack.url}/response/x`, trigger_id: 'x' }).toString();
    const calls = stack.slack.calls.length;
    expect((await stack.sender!.raw(body, stack.sender!.badSignatureHeaders(body))).status).toBe(401);
    expect((await stack.sender!.raw(body, stack.sender!.staleHeaders(body))).status).toBe(401);
    expect((await stack.sender!.raw(body, { 'content-type': 'application/x-www-form-urlencoded' })).status).toBe(401);
    await new Promise((r) => setTimeout(r, 300));
    expect(stack.slack.calls.length).toBe(calls);
  });
});

describe('a request typed in a direct message', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await testStack();
  });
  afterAll(async () => {
    await stack.cleanup();
  });

  it('posts its card in the policy\'s channel, where the team watches', async () => {
    const dm = 'D0ALICEDM';
    await stack.sender!.command(ALICE, `withdraw ${DEFAULT_SCENARIO.prefixes.advertised.cidr}`, { channel: dm });
    const modal = await stack.slack.waitFor(() => stack.slack.openModal(ALICE), 5000);
    await stack.sender!.submitView(ALICE, modal.id, { ...reason('from a DM'), ...checklist });
    const card = await stack.slack.waitFor(() => cardFor(stack, DEFAULT_SCENARIO.prefixes.advertised.cidr), 5000);
    expect(card.channel).toBe(CHANNEL);
  });
});
