import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SCENARIO } from '../../world/simulator/cloudflare/scenarios.js';
import { ActionId } from '../../src/slack/ids.js';
import { CHANNEL, cardFor, fileRequest, patchCalls, staleClick, testStack } from '../helpers/stack.js';

type TestStack = Awaited<ReturnType<typeof testStack>>;
const CAROL = 'U0CAROL'; // on call
const ALICE = 'U0ALICE';
const BOB = 'U0BOB';

async function say(stack: TestStack, user: string, text: string): Promise<string> {
  const before = stack.slack.ephemerals(user).length;
  await stack.sender!.command(user, text, { channel: CHANNEL });
  return (await stack.slack.waitFor(() => stack.slack.ephemerals(user).at(before), 5000)).text;
}

/** `/byoip emergency …` as `user`: the confirm step opens, the user presses Send now; returns the confirm text. */
async function breakGlass(stack: TestStack, user: string, text: string): Promise<{ modalText: string; sent: string }> {
  const before = stack.slack.ephemerals(user).length;
  await stack.sender!.command(user, text, { channel: CHANNEL });
  const modal = await stack.slack.waitFor(() => stack.slack.openModal(user), 5000);
  const res = await stack.sender!.submitView(user, modal.id);
  if (res.status !== 200) throw new Error(`Send now answered HTTP ${res.status}`);
  const errors = (res.json as { errors?: Record<string, string> } | undefined)?.errors;
  if (errors) return { modalText: JSON.stringify(modal.view.blocks), sent: Object.values(errors).join(' ') };
  const sent = (await stack.slack.waitFor(() => stack.slack.ephemerals(user).at(before), 5000)).text;
  return { modalText: JSON.stringify(modal.view.blocks), sent };
}

describe('break glass: the on-call engineer acts in seconds, within limits, reviewed afterwards', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await testStack({ breakGlassMaxUses: 2 });
  });
  afterAll(async () => {
    await stack.cleanup();
  });

  it('someone not on call is refused, a missing reason is asked for, and nothing is sent', async () => {
    expect(await say(stack, ALICE, `emergency withdraw ${DEFAULT_SCENARIO.prefixes.advertised.cidr} DDoS`)).toMatch(/Only the on-call \(break-glass\) group/);
    expect(await say(stack, CAROL, `emergency withdraw ${DEFAULT_SCENARIO.prefixes.advertised.cidr}`)).toMatch(/Say why in the same line/);
    expect(stack.slack.openModal(ALICE)).toBeUndefined();
    expect(stack.cloudflare.state.calls.filter((c) => c.method === 'PATCH')).toHaveLength(0);
    const refused = (await stack.bot!.store.auditTrail()).filter((a) => a.type === 'break_glass_refused');
    expect(refused.map((a) => a.actor)).toContain(ALICE);
  });

  it('a prefix already in the wanted state is answered at the command: nothing sent, no use spent', async () => {
    const t = await say(stack, CAROL, `emergency advertise ${DEFAULT_SCENARIO.prefixes.advertised.cidr} already up`);
    expect(t).toMatch(/already advertised at Cloudflare; nothing to do/);
    expect(stack.slack.openModal(CAROL)).toBeUndefined();
    expect(await stack.bot!.store.breakGlassUses(3_600_000)).toBe(0);
  });

  it('supersedes a pending request, sends at once from the confirm step, and an approver reviews it', async () => {
    const p = DEFAULT_SCENARIO.prefixes.advertised;
    // alice's ordinary withdraw is waiting for approval: it must not block the on-call engineer
    const pending = await fileRequest(stack, ALICE, 'withdraw', p.cidr, 'planned maintenance');
    const started = Date.now();
    const { modalText, sent } = await breakGlass(stack, CAROL, `emergency withdraw ${p.cidr} scrubbing path melting, INC-9`);
    expect(modalText).toContain('supersedes the open request');
    expect(sent).toContain('being sent to Cloudflare now');
    await stack.slack.waitFor(() => (patchCalls(stack, p.bgpPrefixId).length ? true : undefined), 5000);
    expect(Date.now() - started).toBeLessThan(5000); // seconds, not an approval round

    // the superseded card says so and its buttons no longer work
    await stack.slack.waitFor(() => (/superseded/.test(stack.slack.message(CHANNEL, pending.ts)?.text ?? '') ? true : undefined), 5000);
    expect(JSON.stringify(stack.slack.message(CHANNEL, pending.ts)!.blocks)).not.toContain(ActionId.Approve);
    expect(stack.slack.thread(CHANNEL, pending.ts).at(-1)!.text).toMatch(/^Superseded: a break-glass change by <@U0CAROL>/);
    // a click on an old copy of the superseded card: a sentence, nothing changed, audited
    const b = stack.slack.ephemerals(BOB).length;
    const pendingOp = (await stack.bot!.store.recent(5)).find((o) => o.state === 'superseded')!;
    await staleClick(stack, BOB, pending.ts, ActionId.Approve, pendingOp.id);
    const late = await stack.slack.waitFor(() => stack.slack.ephemerals(BOB).at(b), 5000);
    expect(late.text).toMatch(/superseded by a break-glass change by <@U0CAROL>; your click changed nothing/);
    expect((await stack.bot!.store.auditTrail(pendingOp.id)).some((a) => a.type === 'approval_refused' && a.actor === BOB)).toBe(true);

    const card = (await stack.slack.waitFor(() => cardFor(stack, p.cidr), 5000))!;
    expect(card.ts).not.toBe(pending.ts);
    expect(JSON.stringify(card.blocks)).toContain('BREAK GLASS');
    const alarm = await stack.slack.waitFor(() => stack.slack.thread(CHANNEL, card.ts).find((m) => m.text.includes('Break glass')), 5000);
    expect(alarm.text).toContain('scrubbing path melting');
    await stack.slack.waitFor(() => stack.slack.thread(CHANNEL, card.ts).find((m) => m.text.startsWith('Done:')), 20_000);
    expect(patchCalls(stack, p.bgpPrefixId)).toHaveLength(1);

    // carol cannot review her own change; bob can
    await stack.sender!.clickButton(CAROL, { channel: CHANNEL, messageTs: card.ts, actionId: ActionId.Review });
    expect((await stack.slack.waitFor(() => stack.slack.ephemerals(CAROL).find((e) => e.text.includes('someone else has to review')), 5000)).text).toContain('four eyes');
    await stack.sender!.clickButton(BOB, { channel: CHANNEL, messageTs: card.ts, actionId: ActionId.Review });
    await stack.slack.waitFor(() => stack.slack.thread(CHANNEL, card.ts).find((m) => m.text.includes('reviewed by <@U0BOB>')), 5000);
    await stack.slack.waitFor(() => (JSON.stringify(stack.slack.message(CHANNEL, card.ts)?.blocks).includes('Reviewed by') ? true : undefined), 5000);

    const op = (await stack.bot!.store.recent(1))[0]!;
    const audit = (await stack.bot!.store.auditTrail(op.id)).map((a) => `${a.type}:${a.actor}`);
    expect(audit).toEqual(expect.arrayContaining(['break_glass:U0CAROL', 'cloudflare_call:system', 'done:system', 'review_refused:U0CAROL', 'reviewed:U0BOB']));
    const superseded = (await stack.bot!.store.auditTrail()).filter((a) => a.type === 'superseded');
    expect(superseded).toHaveLength(1);
    expect(await stack.bot!.store.breakGlassUses(3_600_000)).toBe(1);
  });

  it('five concurrent emergencies on one prefix make one change and spend one use', async () => {
    const p = DEFAULT_SCENARIO.prefixes.withdrawn;
    // Five "Send now" at the same instant (two on-call engineers double-clicking, say): the service's atomic step.
    const input = { kind: 'advertise' as const, cidr: p.cidr, userId: CAROL, reason: 'failover drill' };
    const results = await Promise.allSettled(Array.from({ length: 5 }, () => stack.bot!.service.breakGlass(input)));
    const made = results.filter((r) => r.status === 'fulfilled');
    expect(made).toHaveLength(1);
    // The losers are refused with nothing spent: "another break glass is running", or, once the winner's PATCH has
    // landed, "already advertised".
    for (const r of results) if (r.status === 'rejected') expect(String((r.reason as Error).message)).toMatch(/Another break-glass change on 198\.51\.100\.0\/24.*no use was spent|198\.51\.100\.0\/24 is already advertised at Cloudflare; nothing to do, and nothing was sent/);
    await stack.slack.waitFor(() => (patchCalls(stack, p.bgpPrefixId).length ? true : undefined), 5000);
    const card = (await stack.slack.waitFor(() => cardFor(stack, p.cidr), 5000))!;
    await stack.slack.waitFor(() => stack.slack.thread(CHANNEL, card.ts).find((m) => m.text.startsWith('Done:')), 20_000);
    expect(patchCalls(stack, p.bgpPrefixId)).toHaveLength(1);
    expect(await stack.bot!.store.breakGlassUses(3_600_000)).toBe(2);
  });

  it('the limit holds: a use past the window is refused with when the next one frees up, nothing sent', async () => {
    const p = DEFAULT_SCENARIO.prefixes.withdrawn;
    const before = patchCalls(stack, p.bgpPrefixId).length;
    const t = await breakGlass(stack, CAROL, `emergency withdraw ${p.cidr} back to our DC`);
    expect(t.sent).toMatch(/Break glass has been used 2 time\(s\) in the last 60 minutes/);
    expect(t.sent).toContain('Nothing was sent');
    expect(patchCalls(stack, p.bgpPrefixId)).toHaveLength(before);
  });
});
