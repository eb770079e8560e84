/**
 * The staged withdraw (issue 10 item 5): Cloudflare's drain as gates before the one withdraw PATCH, and the zombie
 * hunt after it, end to end through signed Slack requests against the simulators (time x600: 10 simulated minutes of
 * convergence are one real second).
 */
import type { ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { CUSTOMER_ASN, DEFAULT_SCENARIO } from '../../world/simulator/cloudflare/scenarios.js';
import { worldCommand } from '../../world/sandbox/world-command.js';
import { ActionId, BlockId, InputActionId } from '../../src/slack/ids.js';
import { CHANNEL, fileRequest, patchCalls, startWorkerProcess, testStack } from '../helpers/stack.js';

type TestStack = Awaited<ReturnType<typeof testStack>>;
const ALICE = 'U0ALICE';
const BOB = 'U0BOB';
const CAROL = 'U0CAROL';
const P = DEFAULT_SCENARIO.prefixes.advertised; // 203.0.113.0/24; AS64500 announces only the covering /23

let stack: TestStack | null = null;
const children: ChildProcess[] = [];
afterEach(async () => {
  children.splice(0).forEach((c) => c.kill('SIGKILL'));
  await stack?.cleanup();
  stack = null;
});

const thread = (s: TestStack, ts: string) => s.slack.thread(CHANNEL, ts).map((m) => m.text);
const line = async (s: TestStack, ts: string, re: RegExp, ms = 20_000) =>
  s.slack.waitFor(() => s.slack.thread(CHANNEL, ts).find((m) => re.test(m.text)), ms).catch((err: unknown) => {
    throw new Error(`${(err as Error).message}; waiting for ${re} the thread was:\n${thread(s, ts).join('\n')}`);
  });
const cardText = (s: TestStack, ts: string) => JSON.stringify(s.slack.message(CHANNEL, ts)?.blocks ?? []);
const approve = (s: TestStack, ts: string) => s.sender!.clickButton(BOB, { channel: CHANNEL, messageTs: ts, actionId: ActionId.Approve });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const auditOf = async (s: TestStack) => {
  const op = (await s.bot!.store.recent(1))[0]!;
  return { op, audit: await s.bot!.store.auditTrail(op.id) };
};
/** Our data centre announces the same-length /24 (Cloudflare's drain, step 1). */
const announceOwn = (s: TestStack, rampMs = 0) => s.world.announce(P.cidr, CUSTOMER_ASN, { delayMs: 0, rampMs, reach: 0.95 });

describe('the staged withdraw', () => {
  it('waits while our own same-length announcement is missing (nothing sent), then goes once it has been seen for the convergence time', async () => {
    stack = await testStack({ withdrawPolicy: { drain: 'required' } });
    const card = await fileRequest(stack, ALICE, 'withdraw', P.cidr, 'planned drain CHG-77');
    expect(cardText(stack, card.ts)).toContain("Staged withdraw (Cloudflare's drain)");
    expect(cardText(stack, card.ts)).toContain('Approve, skip gates');
    await approve(stack, card.ts);
    const waiting = await line(stack, card.ts, /Waiting \(Cloudflare's drain\): no route collector sees AS64500 announcing 203\.0\.113\.0\/24 itself/);
    expect(waiting.text).toContain('Nothing is sent meanwhile');
    await stack.slack.waitFor(() => (/Waiting to withdraw/.test(cardText(stack!, card.ts)) ? true : undefined), 5000);
    expect(cardText(stack, card.ts)).toMatch(/seen on 0% of usual peers \(0\/\d+\); needs 80%/);
    // Several convergence times pass (1 s real each): still nothing sent, still executing, and the thread said it once.
    await sleep(2500);
    expect(patchCalls(stack, P.bgpPrefixId)).toHaveLength(0);
    let { op, audit } = await auditOf(stack);
    expect(op.state).toBe('executing');
    expect(thread(stack, card.ts).filter((t) => /Waiting \(Cloudflare's drain\)/.test(t))).toHaveLength(1);
    expect(audit.filter((a) => a.type === 'gate_waiting')).toHaveLength(1);

    // Our data centre announces the /24, climbing over 30 simulated s; the wait counts from the moment 80% see it.
    announceOwn(stack, 30_000);
    const met = await line(stack, card.ts, /Gate 1 met: AS64500 announcing 203\.0\.113\.0\/24 is seen on \d+% of the usual peers/);
    const metAt = Date.now();
    await stack.slack.waitFor(() => (/for \d+ (ms|s) of 1 s/.test(cardText(stack!, card.ts)) ? true : undefined), 5000).catch(() => undefined);
    await line(stack, card.ts, /Gate 1 passed/);
    await line(stack, card.ts, /Cloudflare accepted the withdraw/);
    const patch = patchCalls(stack, P.bgpPrefixId);
    expect(patch).toHaveLength(1);
    expect(patch[0]!.body).toEqual({ on_demand: { advertised: false } });
    expect(patch[0]!.at - metAt).toBeGreaterThanOrEqual(800); // the convergence time (1 s real), less the thread's lag
    expect(met.text).toContain('Waiting 1 s for convergence');
    const done = await line(stack, card.ts, /^Done:/);
    expect(done.text).toContain('no stuck (zombie) route');
    expect(thread(stack, card.ts).at(-1)).toBe(done.text);
    ({ op, audit } = await auditOf(stack));
    const types = audit.map((a) => a.type);
    expect(types.indexOf('gate_passed')).toBeGreaterThan(types.indexOf('gate_waiting'));
    expect(types.indexOf('cloudflare_call')).toBeGreaterThan(types.indexOf('gate_passed'));
    expect(audit.find((a) => a.type === 'gate_passed')!.data).toMatchObject({ gate: 'drain', ownAsn: CUSTOMER_ASN });
    expect(Number(audit.find((a) => a.type === 'gate_passed')!.data!.forMs)).toBeGreaterThanOrEqual(1000);
    expect(op.state).toBe('done');
  }, 60_000);

  it('gives up honestly when the gate never passes within the maximum wait: Failed, nothing sent, prefix unlocked', async () => {
    stack = await testStack({ withdrawPolicy: { drain: 'required' }, drainMinutes: { maxWait: 20 } });
    const card = await fileRequest(stack, ALICE, 'withdraw', P.cidr, 'never announced');
    await approve(stack, card.ts);
    const last = await line(stack, card.ts, /^Failed:/);
    expect(last.text).toMatch(/waited \d+ (ms|s) for its gates .* Nothing was sent to Cloudflare/);
    expect(patchCalls(stack, P.bgpPrefixId)).toHaveLength(0);
    expect(await stack.bot!.store.lockHolder(P.cidr)).toBeNull();
    expect((await auditOf(stack)).audit.find((a) => a.type === 'failed')?.data).toMatchObject({ step: 'drain_timeout', sent: false });
  }, 60_000);

  it('raises the AS-path prepend 1, 2, 3 with a pause each before the withdraw, and sets it back in the withdraw PATCH', async () => {
    stack = await testStack({ withdrawPolicy: { prepend: true } });
    announceOwn(stack);
    const card = await fileRequest(stack, ALICE, 'withdraw', P.cidr, 'drain with prepends');
    expect(cardText(stack, card.ts)).toContain("raises AS13335's AS-path prepend 1 → 3");
    await approve(stack, card.ts);
    await line(stack, card.ts, /^Done:/, 30_000);
    const patches = patchCalls(stack, P.bgpPrefixId);
    expect(patches.map((c) => c.body)).toEqual([{ asn_prepend_count: 1 }, { asn_prepend_count: 2 }, { asn_prepend_count: 3 }, { on_demand: { advertised: false }, asn_prepend_count: 0 }]);
    // each step paused (2 simulated minutes = 200 ms real) before the next one
    for (let i = 1; i < patches.length; i++) expect(patches[i]!.at - patches[i - 1]!.at).toBeGreaterThanOrEqual(180);
    const t = thread(stack, card.ts);
    const steps = [1, 2, 3].map((n) => t.findIndex((x) => x.includes(`AS13335 prepended ${n} of 3 times`)));
    expect(steps.every((i) => i >= 0)).toBe(true);
    expect(steps).toEqual([...steps].sort((a, b) => a - b));
    expect(t.findIndex((x) => x.includes('Cloudflare accepted the withdraw'))).toBeGreaterThan(steps[2]!);
    expect(stack.cloudflare.state.bgpPrefixes.get(P.bgpPrefixId)!.asnPrependCount).toBe(0);
  }, 60_000);

  it('reports a planted zombie: which collectors, which peers, which AS path, what to ask, and ends Contested', async () => {
    stack = await testStack();
    const said = worldCommand(stack.world).run(`zombie ${P.cidr} 3`);
    expect(said).toMatch(/^3 peer\(s\) \(RRC\d\d 198\.18\.\d+\.\d+/);
    const card = await fileRequest(stack, ALICE, 'withdraw', P.cidr, 'zombie drill');
    await approve(stack, card.ts);
    await line(stack, card.ts, /Not drained: AS64500 does not announce 203\.0\.113\.0\/24 at the same length/);
    // The hunt itself is progress (the card's Latest line); the thread gets what it found.
    const zombies = await line(stack, card.ts, /Stuck routes/, 30_000);
    expect(zombies.text).toMatch(/3 peer\(s\) still route 203\.0\.113\.0\/24 via AS13335/);
    expect((zombies.text.match(/• RRC\d\d peer 198\.18\.\d+\.\d+ \(AS\d+\): path `[\d ]+13335`/g) ?? []).length).toBe(3);
    expect(zombies.text).toMatch(/Ask AS\d+/);
    const last = await line(stack, card.ts, /^Contested:/);
    expect(last.text).toContain('stuck ("zombie") routes');
    expect(thread(stack, card.ts).at(-1)).toBe(last.text);
    expect(thread(stack, card.ts).join('\n')).not.toContain('Done:');
    expect((await auditOf(stack)).op.state).toBe('contested');
    // the world still shows the stuck routes
    expect(worldCommand(stack.world).run(`show ${P.cidr}`)).toMatch(/AS13335: 3 peers/);
  }, 60_000);

  it('an approver skips the gate only through the audited override dialog; the withdraw then goes at once', async () => {
    stack = await testStack({ withdrawPolicy: { drain: 'required' } });
    const card = await fileRequest(stack, ALICE, 'withdraw', P.cidr, 'skip drill');
    await stack.sender!.clickButton(BOB, { channel: CHANNEL, messageTs: card.ts, actionId: ActionId.ApproveSkipGates });
    const dialog = await stack.slack.waitFor(() => stack!.slack.openModal(BOB), 5000);
    expect(JSON.stringify(dialog.view.blocks)).toContain('Skip gate `drain`');
    expect((await auditOf(stack)).op.state).toBe('awaiting_approval'); // the click alone approves nothing
    const reason = (text: string) => ({ [BlockId.Reason]: { [InputActionId.Reason]: { type: 'plain_text_input', value: text } } });
    const empty = await stack.sender!.submitView(BOB, dialog.id, reason(' '));
    expect(JSON.stringify(empty.json)).toMatch(/Say why/);
    await stack.sender!.submitView(BOB, dialog.id, reason('DC announces via a /22 the collectors miss, CHG-9'));
    await line(stack, card.ts, /skipped the gates \(drain\)/);
    await line(stack, card.ts, /Gate `drain` skipped by an approver's audited override/);
    await line(stack, card.ts, /^Done:/, 30_000);
    expect(patchCalls(stack, P.bgpPrefixId)).toHaveLength(1);
    const { audit } = await auditOf(stack);
    expect(audit.find((a) => a.type === 'guard_override')).toMatchObject({ actor: BOB, data: { guards: ['drain'], reason: 'DC announces via a /22 the collectors miss, CHG-9' } });
    expect(audit.find((a) => a.type === 'gate_skipped')?.data).toMatchObject({ gate: 'drain', by: BOB });
    expect(audit.some((a) => a.type === 'gate_waiting')).toBe(false);
  }, 60_000);

  it('break glass skips the gates at once and says so on the card, in the thread and in the audit', async () => {
    stack = await testStack({ withdrawPolicy: { drain: 'required', prepend: true } });
    await stack.sender!.command(CAROL, `emergency withdraw ${P.cidr} scrubbing path melting, INC-9`, { channel: CHANNEL });
    const modal = await stack.slack.waitFor(() => stack!.slack.openModal(CAROL), 5000);
    await stack.sender!.submitView(CAROL, modal.id);
    const card = await stack.slack.waitFor(() => stack!.slack.messages(CHANNEL).find((m) => !m.threadTs && m.text.startsWith(`Withdraw ${P.cidr}`)), 10_000);
    await line(stack, card.ts, /Break glass: the staged withdraw's gates \(drain, prepend\) are skipped/);
    await line(stack, card.ts, /Cloudflare accepted the withdraw/);
    expect(patchCalls(stack, P.bgpPrefixId).map((c) => c.body)).toEqual([{ on_demand: { advertised: false } }]);
    await stack.slack.waitFor(() => (/the gates \(drain, prepend\) were skipped/.test(cardText(stack!, card.ts)) ? true : undefined), 5000);
    const { audit } = await auditOf(stack);
    expect(audit.find((a) => a.type === 'gates_skipped')).toMatchObject({ actor: CAROL, data: { gates: ['drain', 'prepend'], breakGlass: true } });
  }, 60_000);

  it('a worker killed mid-wait is replaced: the new one resumes the wait, never skips the gate, and sends once', async () => {
    // The gates may wait 10 simulated hours here (60 s real): starting worker processes takes seconds on a loaded machine.
    stack = await testStack({ role: 'web', withdrawPolicy: { drain: 'required' }, drainMinutes: { maxWait: 600 } });
    children.push(await startWorkerProcess(stack.env));
    const card = await fileRequest(stack, ALICE, 'withdraw', P.cidr, 'restart mid-wait');
    await approve(stack, card.ts);
    await line(stack, card.ts, /Waiting \(Cloudflare's drain\)/);
    children[0]!.kill('SIGKILL');
    await new Promise((r) => children[0]!.once('exit', r));
    expect((await auditOf(stack)).op.state).toBe('executing');
    children.push(await startWorkerProcess(stack.env));
    await sleep(2000); // the new worker takes the delayed job over and keeps waiting
    expect(patchCalls(stack, P.bgpPrefixId)).toHaveLength(0);
    announceOwn(stack);
    await line(stack, card.ts, /Gate 1 passed/, 30_000);
    await line(stack, card.ts, /^Done:/, 30_000);
    expect(patchCalls(stack, P.bgpPrefixId)).toHaveLength(1);
    const t = thread(stack, card.ts);
    expect(t.filter((x) => /Waiting \(Cloudflare's drain\)/.test(x))).toHaveLength(1);
    expect(t.filter((x) => x.includes('Cloudflare accepted the withdraw'))).toHaveLength(1);
  }, 90_000);
});
