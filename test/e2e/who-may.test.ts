import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SCENARIO } from '../../world/simulator/cloudflare/scenarios.js';
import { SANDBOX_GROUPS } from '../../world/sandbox/stack.js';
import { ActionId } from '../../src/slack/ids.js';
import { CHANNEL, commandAnswer, fileRequest, patchCalls, testStack, upstreamReads } from '../helpers/stack.js';

type TestStack = Awaited<ReturnType<typeof testStack>>;
const ALICE = 'U0ALICE';
const CAROL = 'U0CAROL';
const MALLORY = 'U0MALLORY';
const DAVE = 'U0DAVE';
const ONCALL = SANDBOX_GROUPS.breakGlass.id;
const NOT_A_VIEWER = /not in a group allowed to see BYOIP state, so nothing was read/;
const p = DEFAULT_SCENARIO.prefixes.advertised;

const refusedBy = async (stack: TestStack, user: string) =>
  (await stack.bot!.store.auditTrail()).filter((a) => a.type === 'request_refused' && a.actor === user).map((a) => `${String(a.data?.kind)}:${String(a.data?.why)}`);

describe('who may do what (signed HTTP)', () => {
  let stack: TestStack;
  beforeAll(async () => {
    // Membership is cached for 10 minutes here: only the subteam_members_changed event can make the bot forget it.
    stack = await testStack({ usergroupCacheTtlMs: 600_000, extraUsers: [{ id: DAVE, name: 'dave' }] });
  });
  afterAll(async () => {
    await stack.cleanup();
  });

  it('someone in no group is refused status and preflight, nothing is read, and each refusal is audited', async () => {
    const before = upstreamReads(stack);
    expect(await commandAnswer(stack, MALLORY, 'status')).toMatch(NOT_A_VIEWER);
    expect(await commandAnswer(stack, MALLORY, `status ${p.cidr}`)).toMatch(NOT_A_VIEWER);
    expect(await commandAnswer(stack, MALLORY, `preflight ${p.cidr} 13335`)).toMatch(NOT_A_VIEWER);
    await new Promise((r) => setTimeout(r, 200));
    expect(upstreamReads(stack)).toEqual(before);
    expect(await refusedBy(stack, MALLORY)).toEqual(['status:not a viewer', 'status:not a viewer', 'preflight:not a viewer']);
  });

  it('every other subcommand is checked too: only help is open to anyone', async () => {
    expect(await commandAnswer(stack, MALLORY, 'help')).toContain('/byoip status');
    for (const kind of ['withdraw', 'advertise', 'validate']) expect(await commandAnswer(stack, MALLORY, `${kind} ${p.cidr}`)).toMatch(/not in a group allowed to request/);
    expect(await commandAnswer(stack, MALLORY, 'onboard 192.0.2.0/24 13335')).toMatch(/not in a group allowed to request/);
    expect(await commandAnswer(stack, MALLORY, `emergency withdraw ${p.cidr} drill`)).toMatch(/Only the on-call \(break-glass\) group/);
    expect(stack.slack.openModal(MALLORY)).toBeUndefined();
  });

  it('every button is checked: Approve and Reject from outside the approver group change nothing', async () => {
    const card = await fileRequest(stack, ALICE, 'withdraw', p.cidr);
    for (const actionId of [ActionId.Approve, ActionId.Reject]) {
      const before = stack.slack.ephemerals(MALLORY).length;
      await stack.sender!.clickButton(MALLORY, { channel: CHANNEL, messageTs: card.ts, actionId });
      expect((await stack.slack.waitFor(() => stack.slack.ephemerals(MALLORY).at(before), 5000)).text).toMatch(/approver/i);
    }
    expect(patchCalls(stack, p.bgpPrefixId)).toHaveLength(0);
    // alice takes her own request back (Reject by the requester cancels it)
    await stack.sender!.clickButton(ALICE, { channel: CHANNEL, messageTs: card.ts, actionId: ActionId.Reject });
    await stack.slack.waitFor(() => (/cancelled/.test(stack.slack.message(CHANNEL, card.ts)?.text ?? '') ? true : undefined), 5000);
  });

  it('a member removed from the on-call group is refused on the very next command (subteam_members_changed)', async () => {
    // dave joins on call: the event makes the bot read the group again, and on call may view
    expect((await stack.sender!.changeUsergroup(ONCALL, [CAROL, DAVE])).status).toBe(200);
    expect(await commandAnswer(stack, DAVE, 'status')).toContain(p.cidr);

    // an admin removes him; until Slack's event arrives the bot still has him cached (10 minutes here)
    const change = stack.slack.setUsergroupUsers(ONCALL, [CAROL]);
    expect(change).toMatchObject({ subteamId: ONCALL, added: [], removed: [DAVE] });
    expect(await commandAnswer(stack, DAVE, 'status')).toContain(p.cidr);

    // the event, signed like Slack's: the very next command is refused, before anything is read
    const event = stack.sender!.payloads.subteamMembersChangedEvent(change);
    expect(event).toMatchObject({ type: 'subteam_members_changed', subteam_id: ONCALL, removed_users: [DAVE], removed_users_count: '1' });
    expect((await stack.sender!.event(event)).status).toBe(200);
    const before = upstreamReads(stack);
    expect(await commandAnswer(stack, DAVE, 'status')).toMatch(NOT_A_VIEWER);
    expect(await commandAnswer(stack, DAVE, `emergency withdraw ${p.cidr} incident`)).toMatch(/Only the on-call/);
    expect(upstreamReads(stack).cloudflare).toBe(before.cloudflare);
    expect(await refusedBy(stack, DAVE)).toEqual(['status:not a viewer']);
  });
});

describe('who may do what (Socket Mode: the event arrives as an events_api envelope)', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await testStack({ socketMode: true, usergroupCacheTtlMs: 600_000 });
  });
  afterAll(async () => {
    await stack.cleanup();
  });

  it('a requester removed from her group is refused status and requests on her next command', async () => {
    expect(await commandAnswer(stack, ALICE, 'status')).toContain(p.cidr);
    const res = await stack.socketSender!.changeUsergroup(SANDBOX_GROUPS.requesters.id, [CAROL]);
    expect(res).toMatchObject({ status: 200, acked: true });
    expect(stack.socket!.deliveries.at(-1)).toMatchObject({ type: 'events_api' });
    expect((stack.socket!.deliveries.at(-1)!.message.payload as { event: { type: string } }).event.type).toBe('subteam_members_changed');
    expect(await commandAnswer(stack, ALICE, 'status')).toMatch(NOT_A_VIEWER);
    expect(await commandAnswer(stack, ALICE, `withdraw ${p.cidr}`)).toMatch(/not in a group allowed to request/);
    expect(stack.slack.openModal(ALICE)).toBeUndefined();
  });
});
