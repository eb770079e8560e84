import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SCENARIO } from '../../world/simulator/cloudflare/scenarios.js';
import { CHANNEL, checklist, patchCalls, reason, testStack } from '../helpers/stack.js';

type TestStack = Awaited<ReturnType<typeof testStack>>;
const ALICE = 'U0ALICE';
const CAROL = 'U0CAROL';
const LOBBY = { id: 'C0LOBBY', name: 'lobby' };
const ADVERTS = { id: 'C0ADVERTS', name: 'netops-advertise' };
const LINK = /The card is in <#(C[A-Z0-9]+)>: <(https:\/\/sim-workspace\.slack\.com\/archives\/C[A-Z0-9]+\/p\d+)\|open it>\.$/;

/** Types `/byoip <kind> <cidr>` in `channel`, submits the form; returns the card, wherever the bot posted it. */
async function requestFrom(stack: TestStack, user: string, channel: string, kind: string, cidr: string) {
  await stack.sender!.command(user, `${kind} ${cidr}`, { channel });
  const modal = await stack.slack.waitFor(() => stack.slack.openModal(user), 5000);
  await stack.sender!.submitView(user, modal.id, { ...reason('card channel drill'), ...checklist });
  return stack.slack.waitFor(() => stack.slack.messages().find((m) => !m.threadTs && m.text.includes(cidr)), 5000);
}

const permalinkOf = (channel: string, ts: string) => `https://sim-workspace.slack.com/archives/${channel}/p${ts.replace('.', '')}`;

describe('cards go to the policy\'s channel, wherever the command was typed', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await testStack({ extraChannels: [LOBBY, ADVERTS], actionChannels: { advertise: ADVERTS.id } });
  });
  afterAll(async () => {
    await stack.cleanup();
  });

  it('a withdraw typed in #lobby puts its card in #netops, and the requester is told where, with a link', async () => {
    const p = DEFAULT_SCENARIO.prefixes.advertised;
    const card = await requestFrom(stack, ALICE, LOBBY.id, 'withdraw', p.cidr);
    expect(card.channel).toBe(CHANNEL);
    expect(stack.slack.messages(LOBBY.id)).toHaveLength(0);
    const told = await stack.slack.waitFor(() => stack.slack.ephemerals(ALICE).find((e) => e.channel === LOBBY.id), 10_000);
    expect(told.text).toMatch(/^Your withdraw request for 203\.0\.113\.0\/24 is filed and waits for approval\. /);
    const m = LINK.exec(told.text)!;
    expect(m[1]).toBe(CHANNEL);
    expect(m[2]).toBe(permalinkOf(CHANNEL, card.ts));
    expect(stack.slack.callsOf('chat.getPermalink').some((c) => c.ok)).toBe(true);
    // cancel it so the prefix is free again
    await stack.sender!.clickButton(ALICE, { channel: CHANNEL, messageTs: card.ts, actionId: 'byoip_reject' });
    await stack.slack.waitFor(() => (/cancelled/.test(stack.slack.message(CHANNEL, card.ts)?.text ?? '') ? true : undefined), 5000);
  });

  it('an action with its own channel (actions.advertise.channel) puts its cards there, even when typed in #netops', async () => {
    const p = DEFAULT_SCENARIO.prefixes.withdrawn;
    const card = await requestFrom(stack, ALICE, CHANNEL, 'advertise', p.cidr);
    expect(card.channel).toBe(ADVERTS.id);
    const told = await stack.slack.waitFor(() => stack.slack.ephemerals(ALICE).find((e) => e.channel === CHANNEL && LINK.test(e.text)), 10_000);
    expect(LINK.exec(told.text)![2]).toBe(permalinkOf(ADVERTS.id, card.ts));
    await stack.sender!.clickButton(ALICE, { channel: ADVERTS.id, messageTs: card.ts, actionId: 'byoip_reject' });
    await stack.slack.waitFor(() => (/cancelled/.test(stack.slack.message(ADVERTS.id, card.ts)?.text ?? '') ? true : undefined), 5000);
  });

  it('a break glass typed in #lobby: card, thread and broadcast in #netops, the confirmation in #lobby with the link', async () => {
    const p = DEFAULT_SCENARIO.prefixes.advertised;
    await stack.sender!.command(CAROL, `emergency withdraw ${p.cidr} INC-11 scrubbing path down`, { channel: LOBBY.id });
    const modal = await stack.slack.waitFor(() => stack.slack.openModal(CAROL), 5000);
    await stack.sender!.submitView(CAROL, modal.id);
    const told = await stack.slack.waitFor(() => stack.slack.ephemerals(CAROL).find((e) => e.channel === LOBBY.id && e.text.includes('being sent')), 10_000);
    const card = stack.slack.messages(CHANNEL).find((m) => !m.threadTs && m.text.includes(p.cidr) && JSON.stringify(m.blocks).includes('BREAK GLASS'))!;
    expect(card).toBeDefined();
    expect(LINK.exec(told.text)![2]).toBe(permalinkOf(CHANNEL, card.ts));
    await stack.slack.waitFor(() => stack.slack.thread(CHANNEL, card.ts).find((m) => m.text.startsWith('Done:')), 20_000);
    expect(patchCalls(stack, p.bgpPrefixId)).toHaveLength(1);
    expect(stack.slack.messages(LOBBY.id)).toHaveLength(0);
    const broadcasts = stack.slack.callsOf('chat.postMessage').filter((c) => c.args.reply_broadcast === true || c.args.reply_broadcast === 'true');
    expect(broadcasts.length).toBeGreaterThan(0);
    expect(broadcasts.every((c) => c.args.channel === CHANNEL)).toBe(true);
  });
});
