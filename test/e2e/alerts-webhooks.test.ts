import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Finding } from '../../src/monitors/findings.js';
import { ActionId } from '../../src/slack/ids.js';
import { DEFAULT_SCENARIO } from '../../world/simulator/cloudflare/scenarios.js';
import { CHANNEL, patchCalls, testStack } from '../helpers/stack.js';

type TestStack = Awaited<ReturnType<typeof testStack>>;
const CAROL = 'U0CAROL'; // on call
const ALICE = 'U0ALICE'; // requester
const BOB = 'U0BOB'; // approver

const ADV = DEFAULT_SCENARIO.prefixes.advertised;

/** The alert cards in the alerts channel (top-level bot messages with alert buttons or an alert id). */
function alertCards(stack: TestStack) {
  return stack.slack.messages(CHANNEL).filter((m) => !m.threadTs && JSON.stringify(m.blocks).includes('alert `'));
}

const leak = (over: Partial<Finding> = {}): Finding => ({
  key: 'test:leak-1',
  source: 'cloudflare',
  type: 'bgp_hijack_notification',
  prefix: ADV.cidr,
  title: `Route leak: ${ADV.cidr} seen from AS64666`,
  facts: [{ label: 'Seen from', value: 'AS64666' }],
  observedAt: Date.now(),
  actions: ['emergency_withdraw', 'acknowledge'],
  ...over,
});

describe('alert cards: one per alert, updated in place, buttons through the break-glass path', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await testStack({ breakGlassMaxUses: 5 });
  });
  afterAll(async () => {
    await stack.cleanup();
  });

  it('a raised finding makes one card with its blast radius and routing view; raising it again does not post again', async () => {
    const alerts = stack.bot!.alerts;
    await Promise.all(Array.from({ length: 5 }, () => alerts.raise(leak())));
    const card = await stack.slack.waitFor(() => alertCards(stack).find((m) => JSON.stringify(m.blocks).includes('Routing now')), 10_000);
    expect(JSON.stringify(card.blocks)).toContain('Blast radius');
    await new Promise((r) => setTimeout(r, 300));
    expect(alertCards(stack)).toHaveLength(1);
  });

  it('Acknowledge: refused for alice, taken for bob, and the card shows who', async () => {
    const card = alertCards(stack)[0]!;
    const before = stack.slack.ephemerals(ALICE).length;
    await stack.sender!.clickButton(ALICE, { channel: CHANNEL, messageTs: card.ts, actionId: ActionId.AlertAcknowledge });
    expect((await stack.slack.waitFor(() => stack.slack.ephemerals(ALICE).at(before), 5000)).text).toMatch(/Only approvers and the on-call/);
    await stack.sender!.clickButton(BOB, { channel: CHANNEL, messageTs: card.ts, actionId: ActionId.AlertAcknowledge });
    await stack.slack.waitFor(() => (JSON.stringify(stack.slack.message(CHANNEL, card.ts)?.blocks).includes('Acknowledged* by <@U0BOB>') ? true : undefined), 5000);
  });

  it('Emergency withdraw: refused for alice (a sentence, nothing sent), opens the confirm step for carol, Send now PATCHes once', async () => {
    const card = alertCards(stack)[0]!;
    const before = stack.slack.ephemerals(ALICE).length;
    await stack.sender!.clickButton(ALICE, { channel: CHANNEL, messageTs: card.ts, actionId: ActionId.AlertWithdraw });
    expect((await stack.slack.waitFor(() => stack.slack.ephemerals(ALICE).at(before), 5000)).text).toMatch(/Only the on-call \(break-glass\) group/);
    expect(stack.slack.openModal(ALICE)).toBeUndefined();
    await stack.sender!.clickButton(CAROL, { channel: CHANNEL, messageTs: card.ts, actionId: ActionId.AlertWithdraw });
    const modal = await stack.slack.waitFor(() => stack.slack.openModal(CAROL), 5000);
    expect(JSON.stringify(modal.view.blocks)).toContain(`Break glass: withdraw ${ADV.cidr}`);
    const res = await stack.sender!.submitView(CAROL, modal.id);
    expect((res.json as { errors?: unknown } | undefined)?.errors).toBeUndefined();
    await stack.slack.waitFor(() => (patchCalls(stack, ADV.bgpPrefixId).length ? true : undefined), 10_000);
    await new Promise((r) => setTimeout(r, 300));
    const patches = patchCalls(stack, ADV.bgpPrefixId);
    expect(patches).toHaveLength(1);
    expect(JSON.stringify(patches[0]!.body)).toContain('"advertised":false');
  });

  it('an Emergency click on a prefix that has moved on gets a clear answer, nothing sent', async () => {
    const card = alertCards(stack)[0]!;
    const calls = stack.cloudflare.state.calls.filter((c) => c.method === 'PATCH').length;
    const before = stack.slack.ephemerals(CAROL).length;
    await stack.sender!.clickButton(CAROL, { channel: CHANNEL, messageTs: card.ts, actionId: ActionId.AlertWithdraw });
    const answer = (await stack.slack.waitFor(() => stack.slack.ephemerals(CAROL).at(before), 5000)).text;
    expect(answer).toMatch(/already running|already withdrawn|nothing/);
    expect(stack.cloudflare.state.calls.filter((c) => c.method === 'PATCH')).toHaveLength(calls);
  });

  it('resolve updates the same card: resolved, no buttons', async () => {
    const card = alertCards(stack)[0]!;
    await stack.bot!.alerts.resolve('test:leak-1', 'the leak is gone', Date.now());
    await stack.slack.waitFor(() => (JSON.stringify(stack.slack.message(CHANNEL, card.ts)?.blocks).includes('RESOLVED') ? true : undefined), 5000);
    expect(JSON.stringify(stack.slack.message(CHANNEL, card.ts)?.blocks)).not.toContain(ActionId.AlertWithdraw);
    expect(alertCards(stack)).toHaveLength(1);
  });
});
