/**
 * An alert card about SEVERAL of our prefixes (a Cloudflare auto-advertisement with per-prefix statuses, a leak or an
 * attack listing more than one): its Emergency buttons act on all of them through the multi-prefix confirm step of
 * `/byoip emergency <cidr>,<cidr>…` (one dialog, one card, parallel PATCHes, one use); a single-prefix alert keeps the
 * single break glass; a prefix that is not ours is shown, never acted on.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ActionId, CallbackId } from '../../src/slack/ids.js';
import { FLEET_SCENARIO } from '../../world/simulator/cloudflare/scenarios.js';
import { CHANNEL, patchCalls, testStack } from '../helpers/stack.js';

type TestStack = Awaited<ReturnType<typeof testStack>>;
const CAROL = 'U0CAROL'; // on call
const ALICE = 'U0ALICE'; // requester, not on call
const F = FLEET_SCENARIO.fleet;
const WITHDRAWN = FLEET_SCENARIO.prefixes.withdrawn;
const NOT_OURS = '192.0.2.0/24';

const alertCards = (stack: TestStack) => stack.slack.messages(CHANNEL).filter((m) => !m.threadTs && JSON.stringify(m.blocks).includes('alert `'));
const cardWith = (stack: TestStack, text: string) => alertCards(stack).find((m) => JSON.stringify(m.blocks).includes(text));
const batchCards = (stack: TestStack) => stack.slack.messages(CHANNEL).filter((m) => !m.threadTs && m.text.startsWith('Break glass:'));
const allPatches = (stack: TestStack) => stack.cloudflare.state.calls.filter((c) => c.method === 'PATCH');

/** Clicks an alert card's button as `user` and answers the ephemeral it got. */
async function clickForAnswer(stack: TestStack, user: string, ts: string, actionId: string): Promise<string> {
  const before = stack.slack.ephemerals(user).length;
  await stack.sender!.clickButton(user, { channel: CHANNEL, messageTs: ts, actionId });
  return (await stack.slack.waitFor(() => stack.slack.ephemerals(user).at(before), 5000)).text;
}

/** The confirm step carol's click opened, once its look-ups are filled in. */
async function confirmStep(stack: TestStack) {
  return stack.slack.waitFor(() => {
    const m = stack.slack.openModal(CAROL);
    return m && !JSON.stringify(m.view.blocks).includes('Reading what else') && !JSON.stringify(m.view.blocks).includes('Checking the routing view') ? m : undefined;
  }, 5000);
}

describe('alert cards about several of our prefixes: Emergency over all of them, through the multi-prefix confirm step', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await testStack({ scenario: 'fleet', breakGlassMaxUses: 5 });
  });
  afterAll(async () => {
    await stack.cleanup();
  });

  it('a two-prefix auto-advertisement: alice refused; carol gets ONE confirm step listing both; Send now makes one card and two PATCHes', async () => {
    const [a, b] = [F[0]!, F[1]!];
    const r = await stack.cloudflare.notify({ kind: 'auto-advertisement', prefix: a.cidr, prefixes: [a.cidr, b.cidr], status: 'Advertised' });
    expect(r.status).toBe(200);
    const card = await stack.slack.waitFor(() => cardWith(stack, `auto-advertised ${a.cidr} and ${b.cidr}`), 5000);
    const blocks = JSON.stringify(card.blocks);
    expect(blocks).toContain('2 of our prefixes');
    expect(blocks).toContain(`\`${a.cidr}\`, \`${b.cidr}\``);
    expect(blocks).toContain('over all 2 prefixes at once');
    expect(blocks).toContain(ActionId.AlertWithdraw);

    expect(await clickForAnswer(stack, ALICE, card.ts, ActionId.AlertWithdraw)).toMatch(/Only the on-call \(break-glass\) group can act without approval/);
    expect(stack.slack.openModal(ALICE)).toBeUndefined();

    await stack.sender!.clickButton(CAROL, { channel: CHANNEL, messageTs: card.ts, actionId: ActionId.AlertWithdraw });
    const modal = await confirmStep(stack);
    expect(modal.view.callback_id).toBe(CallbackId.BreakGlassBatch);
    const shown = JSON.stringify(modal.view.blocks);
    expect(shown).toContain('Break glass: withdraw 2 prefixes now');
    for (const f of [a, b]) expect(shown).toContain(`\`${f.cidr}\`: Service bindings: ${f.cidr} Magic Transit (active)`);
    expect(allPatches(stack)).toHaveLength(0);

    const before = stack.slack.ephemerals(CAROL).length;
    const res = await stack.sender!.submitView(CAROL, modal.id);
    expect((res.json as { errors?: unknown } | undefined)?.errors).toBeUndefined();
    expect((await stack.slack.waitFor(() => stack.slack.ephemerals(CAROL).at(before), 5000)).text).toMatch(/withdraw of 2 prefixes is being sent to Cloudflare now/);
    await stack.slack.waitFor(() => ([a, b].every((f) => patchCalls(stack, f.bgpPrefixId).length === 1) ? true : undefined), 5000);
    expect(allPatches(stack)).toHaveLength(2);
    expect(await stack.bot!.store.breakGlassUses(3_600_000)).toBe(1);
    const batch = await stack.slack.waitFor(() => batchCards(stack).at(0), 5000);
    expect(batchCards(stack)).toHaveLength(1);
    const done = await stack.slack.waitFor(() => stack.slack.thread(CHANNEL, batch.ts).find((m) => /^(Done|Failed)/.test(m.text)), 30_000);
    expect(done.text).toMatch(/^Done: all 2 prefixes withdrawn/);

    // Clicked again, the prefixes have moved on: one sentence, nothing sent, no use spent.
    const again = await clickForAnswer(stack, CAROL, card.ts, ActionId.AlertWithdraw);
    expect(again).toMatch(/Nothing to send: .*already withdrawn.*Nothing was sent and no break-glass use was spent/);
    expect(allPatches(stack)).toHaveLength(2);
    expect(await stack.bot!.store.breakGlassUses(3_600_000)).toBe(1);
    const opened = (await stack.bot!.store.auditTrail()).filter((x) => x.type === 'alert_emergency_opened');
    expect(opened.at(-1)?.data?.prefixes).toEqual([a.cidr, b.cidr]);
  }, 60_000);

  it('a single-prefix alert is unchanged: the single break-glass confirm step, one PATCH, its own status card', async () => {
    const one = F[2]!;
    await stack.cloudflare.notify({ kind: 'auto-advertisement', prefix: one.cidr, status: 'Advertised' });
    const card = await stack.slack.waitFor(() => cardWith(stack, `auto-advertised ${one.cidr}`), 5000);
    expect(JSON.stringify(card.blocks)).toContain(`Auto-advertisement · ${one.cidr}`);
    expect(JSON.stringify(card.blocks)).not.toContain('of our prefixes');
    expect(await clickForAnswer(stack, ALICE, card.ts, ActionId.AlertWithdraw)).toMatch(/Only the on-call \(break-glass\) group can act without approval\. File a normal request with \/byoip withdraw 198\.18\.2\.0\/24/);
    await stack.sender!.clickButton(CAROL, { channel: CHANNEL, messageTs: card.ts, actionId: ActionId.AlertWithdraw });
    const modal = await confirmStep(stack);
    expect(modal.view.callback_id).toBe(CallbackId.BreakGlass);
    expect(JSON.stringify(modal.view.blocks)).toContain(`Break glass: withdraw ${one.cidr}`);
    const patches = allPatches(stack).length;
    const cards = batchCards(stack).length;
    const res = await stack.sender!.submitView(CAROL, modal.id);
    expect((res.json as { errors?: unknown } | undefined)?.errors).toBeUndefined();
    await stack.slack.waitFor(() => (patchCalls(stack, one.bgpPrefixId).length ? true : undefined), 10_000);
    await new Promise((r) => setTimeout(r, 300));
    expect(allPatches(stack)).toHaveLength(patches + 1);
    expect(batchCards(stack)).toHaveLength(cards); // a status card of its own, not a batch card
  }, 60_000);

  it('a leak naming ours, one already withdrawn and one not ours: the confirm step lists ours, skips the withdrawn one, never names the other', async () => {
    const ours = F[4]!;
    await stack.cloudflare.notify({ kind: 'route-leak', prefix: ours.cidr, prefixes: [ours.cidr, WITHDRAWN.cidr, NOT_OURS] });
    const card = await stack.slack.waitFor(() => cardWith(stack, `route leak of ${ours.cidr} and ${WITHDRAWN.cidr}`), 5000);
    expect(JSON.stringify(card.blocks)).toContain(`${NOT_OURS} (not ours: never acted on)`);
    await stack.sender!.clickButton(CAROL, { channel: CHANNEL, messageTs: card.ts, actionId: ActionId.AlertWithdraw });
    const modal = await confirmStep(stack);
    expect(modal.view.callback_id).toBe(CallbackId.BreakGlassBatch);
    const shown = JSON.stringify(modal.view.blocks);
    expect(shown).toContain('Break glass: withdraw 1 prefix now');
    expect(shown).toMatch(/Skipped: `198\.51\.100\.0\/24` is already withdrawn/);
    expect(shown).not.toContain(NOT_OURS);
    const patches = allPatches(stack).length;
    const res = await stack.sender!.submitView(CAROL, modal.id);
    expect((res.json as { errors?: unknown } | undefined)?.errors).toBeUndefined();
    await stack.slack.waitFor(() => (patchCalls(stack, ours.bgpPrefixId).length ? true : undefined), 10_000);
    await new Promise((r) => setTimeout(r, 300));
    expect(allPatches(stack)).toHaveLength(patches + 1);
    expect(allPatches(stack).filter((c) => c.path.includes(WITHDRAWN.bgpPrefixId))).toHaveLength(0);
  }, 60_000);
});
