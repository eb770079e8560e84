/**
 * Regression tests for the change engine's honesty and gates (issue 7): every verdict says what was observed, and a
 * guard that protects traffic holds at execution. Each story runs through signed HTTP against the simulators.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { CUSTOMER_ASN, DEFAULT_SCENARIO, SANDBOX_CLOUDFLARE_TOKEN } from '../../world/simulator/cloudflare/scenarios.js';
import { ActionId, BlockId, InputActionId } from '../../src/slack/ids.js';
import { CHANNEL, fileRequest, patchCalls, redisModes, staleClick, testStack } from '../helpers/stack.js';

type TestStack = Awaited<ReturnType<typeof testStack>>;
const ALICE = 'U0ALICE';
const BOB = 'U0BOB';
const ADV = DEFAULT_SCENARIO.prefixes.advertised; // 203.0.113.0/24, AS64500 announces the covering /23
const WDN = DEFAULT_SCENARIO.prefixes.withdrawn; // 198.51.100.0/24

let stack: TestStack | null = null;
const on = (redisClusterNodes: string | undefined) => (redisClusterNodes ? { redisClusterNodes } : {});
afterEach(async () => {
  await stack?.cleanup();
  stack = null;
});

const thread = (s: TestStack, ts: string) => s.slack.thread(CHANNEL, ts).map((m) => m.text);
const lastLine = async (s: TestStack, ts: string, re: RegExp, ms = 20_000) =>
  s.slack.waitFor(() => s.slack.thread(CHANNEL, ts).find((m) => re.test(m.text)), ms).catch((err: unknown) => {
    throw new Error(`${(err as Error).message}; waiting for ${re} the thread was:\n${thread(s, ts).join('\n')}`);
  });
const cardText = (s: TestStack, ts: string) => JSON.stringify(s.slack.message(CHANNEL, ts)?.blocks ?? []);
const approve = (s: TestStack, ts: string, user = BOB) => s.sender!.clickButton(user, { channel: CHANNEL, messageTs: ts, actionId: ActionId.Approve });
const confirmReason = (text: string) => ({ [BlockId.Reason]: { [InputActionId.Reason]: { type: 'plain_text_input', value: text } } });

describe.each(redisModes())('honest outcomes ($name)', ({ redisClusterNodes }) => {
  it('an advertise that no peer ever sees ends "Not confirmed:" with an amber card, never green', async () => {
    stack = await testStack(on(redisClusterNodes));
    const card = await fileRequest(stack, ALICE, 'advertise', WDN.cidr, 'unseen advertise');
    await approve(stack, card.ts);
    await lastLine(stack, card.ts, /Cloudflare accepted the advertise/);
    stack.world.withdraw(WDN.cidr, 13335); // Cloudflare says advertised, but no collector ever sees AS13335
    const last = await lastLine(stack, card.ts, /^Not confirmed:/, 30_000);
    expect(thread(stack, card.ts).at(-1)).toBe(last.text);
    expect(last.text).toMatch(/did not confirm it within \d+ s/);
    expect(last.text).toContain('keep your own announcement up');
    const final = await stack.slack.waitFor(() => (/not confirmed/.test(stack!.slack.message(CHANNEL, card.ts)?.text ?? '') ? stack!.slack.message(CHANNEL, card.ts) : undefined), 5000);
    expect(JSON.stringify(final.blocks)).toContain('🟠');
    expect(JSON.stringify(final.blocks)).not.toContain('🟢');
    expect(await stack.bot!.store.lockHolder(WDN.cidr)).toBeNull();
  });

  it('an advertise while another origin holds peers ends "Contested:" and never advises removing the own announcement', async () => {
    stack = await testStack(on(redisClusterNodes));
    stack.world.announce(WDN.cidr, 64666);
    const card = await fileRequest(stack, ALICE, 'advertise', WDN.cidr, 'hijacked advertise');
    await approve(stack, card.ts);
    const last = await lastLine(stack, card.ts, /^Contested:/, 30_000);
    expect(last.text).toContain('AS64666');
    expect(last.text).toContain('Do not remove your own announcement yet');
    expect(thread(stack, card.ts).join('\n')).not.toMatch(/Remove the announcement from your own data centre now/);
    expect(thread(stack, card.ts).at(-1)).toMatch(/^Contested:/);
    await stack.slack.waitFor(() => (/contested/.test(stack!.slack.message(CHANNEL, card.ts)?.text ?? '') ? true : undefined), 5000);
    expect(cardText(stack, card.ts)).toContain('🔴');
  });

  it('a watch whose Cloudflare reads keep failing (revoked token) closes "Not confirmed:" and unlocks the prefix', async () => {
    stack = await testStack({ ...on(redisClusterNodes), pollIntervalMs: 1000, watchMaxReadFailures: 3 });
    const card = await fileRequest(stack, ALICE, 'advertise', WDN.cidr, 'revoked token');
    await approve(stack, card.ts);
    await lastLine(stack, card.ts, /Cloudflare accepted the advertise/);
    stack.cloudflare.addToken(SANDBOX_CLOUDFLARE_TOKEN, [], []); // revoked: every read is refused from now on
    const last = await lastLine(stack, card.ts, /^Not confirmed:/, 30_000);
    expect(last.text).toMatch(/could not read the state of 198\.51\.100\.0\/24 3 times in a row/);
    expect(await stack.bot!.store.lockHolder(WDN.cidr)).toBeNull();
    const op = (await stack.bot!.store.recent(1))[0]!;
    expect(op.state).toBe('unconfirmed');
    expect(await stack.bot!.store.active()).toHaveLength(0);
  });
});

describe.each(redisModes())('gates that hold at execution ($name)', ({ redisClusterNodes }) => {
  it('a withdraw whose own announcement vanished after filing is blocked at execution, with nothing sent', async () => {
    stack = await testStack(on(redisClusterNodes));
    const card = await fileRequest(stack, ALICE, 'withdraw', ADV.cidr, 'gate at execution');
    expect(cardText(stack, card.ts)).toContain(`AS${CUSTOMER_ASN} (yours) is seen announcing`);
    stack.world.withdraw('203.0.112.0/23', CUSTOMER_ASN, { decayMs: 0 }); // our data centre stops announcing the covering /23
    await approve(stack, card.ts);
    const last = await lastLine(stack, card.ts, /^Failed:/);
    expect(last.text).toMatch(/blocked when checked again right before the change/);
    expect(last.text).toContain('Nothing was sent to Cloudflare');
    expect(patchCalls(stack, ADV.bgpPrefixId)).toHaveLength(0);
    expect(stack.cloudflare.state.bgpPrefixes.get(ADV.bgpPrefixId)!.advertised).toBe(true);
    expect(await stack.bot!.store.lockHolder(ADV.cidr)).toBeNull();
  });

  it('a block at filing needs the approver\'s explicit, audited override in a confirm dialog; a second submit changes nothing', async () => {
    stack = await testStack(on(redisClusterNodes));
    stack.world.withdraw('203.0.112.0/23', CUSTOMER_ASN, { decayMs: 0 }); // not announced from our side at all
    const card = await fileRequest(stack, ALICE, 'withdraw', ADV.cidr, 'override drill');
    expect(cardText(stack, card.ts)).toContain('is not seen announcing');
    expect(cardText(stack, card.ts)).toContain('Approve…');

    // Approve opens the confirm dialog quoting the warning; nothing is approved by the click alone
    await approve(stack, card.ts);
    const dialog = await stack.slack.waitFor(() => stack!.slack.openModal(BOB), 5000);
    expect(JSON.stringify(dialog.view.blocks)).toContain('is not seen announcing');
    expect((await stack.bot!.store.recent(1))[0]!.state).toBe('awaiting_approval');

    // an override without a reason is refused inside the dialog
    const empty = await stack.sender!.submitView(BOB, dialog.id, confirmReason(' '));
    expect(JSON.stringify(empty.json)).toMatch(/Say why you approve despite the warnings/);
    expect(patchCalls(stack, ADV.bgpPrefixId)).toHaveLength(0);

    const ok = await stack.sender!.submitView(BOB, dialog.id, confirmReason('DC announces via a /22 the collectors miss, CHG-9'));
    expect((ok.json as { response_action?: string } | undefined)?.response_action).toBeUndefined();
    await lastLine(stack, card.ts, /^Done:/, 30_000);
    expect(patchCalls(stack, ADV.bgpPrefixId)).toHaveLength(1);
    expect(thread(stack, card.ts).join('\n')).toMatch(/acknowledged the warnings \(own-announcement\) and took responsibility: DC announces via a \/22/);

    const op = (await stack.bot!.store.recent(1))[0]!;
    const audit = await stack.bot!.store.auditTrail(op.id);
    const override = audit.find((a) => a.type === 'guard_override');
    expect(override?.actor).toBe(BOB);
    expect(override?.data).toMatchObject({ guards: ['own-announcement'], reason: 'DC announces via a /22 the collectors miss, CHG-9' });

    // the same dialog submitted again (a double click): a clear sentence, nothing changed
    const again = await stack.sender!.submitView(BOB, dialog.id, confirmReason('again')).catch(() => null);
    if (again) expect(JSON.stringify(again.json ?? {})).toMatch(/already approved|no longer|not open|already/i);
    expect(patchCalls(stack, ADV.bgpPrefixId)).toHaveLength(1);
  });

  it('an approval older than approval_valid_for never reaches Cloudflare: back to waiting for approval, said in the thread', async () => {
    stack = await testStack({ ...on(redisClusterNodes), approvalValidFor: '1s' });
    const card = await fileRequest(stack, ALICE, 'withdraw', ADV.cidr, 'stale approval');
    stack.routing.sims.ripestat.setFault({ kind: 'slow', delayMs: 1500 }); // the gate's look-ups take longer than the approval lasts
    await approve(stack, card.ts);
    const lapsed = await lastLine(stack, card.ts, /older than the approval validity/, 20_000);
    expect(lapsed.text).toContain('nothing was sent');
    stack.routing.sims.ripestat.setFault({ kind: 'none' });
    await stack.slack.waitFor(() => (/waiting for approval/.test(stack!.slack.message(CHANNEL, card.ts)?.text ?? '') ? true : undefined), 5000);
    expect(patchCalls(stack, ADV.bgpPrefixId)).toHaveLength(0);
    const op = (await stack.bot!.store.recent(1))[0]!;
    expect(op.state).toBe('awaiting_approval');
    expect(op.approvals).toHaveLength(0);
    expect((await stack.bot!.store.auditTrail(op.id)).map((a) => a.type)).toContain('approval_lapsed');
    // an Approve click replayed from before the validity window is refused, nothing changed, audited
    const b = stack.slack.ephemerals(BOB).length;
    await staleClick(stack, BOB, card.ts, ActionId.Approve, op.id, Date.now() - 5000);
    expect((await stack.slack.waitFor(() => stack!.slack.ephemerals(BOB).at(b), 5000)).text).toMatch(/older than the approval validity, so it was not counted/);
    expect((await stack.bot!.store.get(op.id))!.state).toBe('awaiting_approval');
    expect((await stack.bot!.store.auditTrail(op.id)).filter((a) => a.type === 'approval_refused')).toHaveLength(1);
    // approving again (quickly now) carries it out, once
    await approve(stack, card.ts);
    await lastLine(stack, card.ts, /^Done:/, 30_000);
    expect(patchCalls(stack, ADV.bgpPrefixId)).toHaveLength(1);
  });
});
