import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FLEET_SCENARIO } from '../../world/simulator/cloudflare/scenarios.js';
import { ActionId } from '../../src/slack/ids.js';
import { CHANNEL, fileRequest, patchCalls, testStack } from '../helpers/stack.js';

type TestStack = Awaited<ReturnType<typeof testStack>>;
const CAROL = 'U0CAROL'; // on call
const ALICE = 'U0ALICE';
const BOB = 'U0BOB';
const F = FLEET_SCENARIO.fleet;
const WITHDRAWN = FLEET_SCENARIO.prefixes.withdrawn;
const DEFAULT_ADVERTISED = FLEET_SCENARIO.prefixes.advertised;

async function say(stack: TestStack, user: string, text: string): Promise<string> {
  const before = stack.slack.ephemerals(user).length;
  await stack.sender!.command(user, text, { channel: CHANNEL });
  return (await stack.slack.waitFor(() => stack.slack.ephemerals(user).at(before), 5000)).text;
}

const allPatches = (stack: TestStack) => stack.cloudflare.state.calls.filter((c) => c.method === 'PATCH');
const batchCards = (stack: TestStack) => stack.slack.messages(CHANNEL).filter((m) => !m.threadTs && m.text.startsWith('Break glass:'));

/** `/byoip emergency …` as carol: the one confirm step opens (waits for the blast radius), Send now; returns both. */
async function emergency(stack: TestStack, text: string): Promise<{ modal: string; sent: string }> {
  const before = stack.slack.ephemerals(CAROL).length;
  await stack.sender!.command(CAROL, text, { channel: CHANNEL });
  const modal = await stack.slack.waitFor(() => {
    const m = stack.slack.openModal(CAROL);
    return m && !JSON.stringify(m.view.blocks).includes('Reading what else') ? m : undefined;
  }, 5000);
  const res = await stack.sender!.submitView(CAROL, modal.id);
  const errors = (res.json as { errors?: Record<string, string> } | undefined)?.errors;
  if (errors) return { modal: JSON.stringify(modal.view.blocks), sent: Object.values(errors).join(' ') };
  const sent = (await stack.slack.waitFor(() => stack.slack.ephemerals(CAROL).at(before), 5000)).text;
  return { modal: JSON.stringify(modal.view.blocks), sent };
}

describe('many prefixes at once: one confirm step, one card, parallel PATCHes, one break-glass use', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await testStack({ scenario: 'fleet', breakGlassMaxUses: 3 });
  });
  afterAll(async () => {
    await stack.cleanup();
  });

  it('alice (not on call) is refused, a bad CIDR or an unknown prefix in the list is named, and nothing is sent', async () => {
    const list = F.slice(0, 3).map((f) => f.cidr).join(',');
    expect(await say(stack, ALICE, `emergency withdraw ${list} DDoS`)).toMatch(/Only the on-call \(break-glass\) group/);
    expect(await say(stack, CAROL, `emergency withdraw ${F[0]!.cidr},198.18.1.0/33,${F[2]!.cidr} DDoS`)).toMatch(/Item 2 of the list: `198\.18\.1\.0\/33` is not a valid prefix/);
    expect(await say(stack, CAROL, `emergency withdraw ${F[0]!.cidr},,${F[2]!.cidr} DDoS`)).toMatch(/Item 2 of the list .* is empty/);
    expect(await say(stack, CAROL, `emergency withdraw ${F[0]!.cidr},192.0.2.0/24 DDoS`)).toMatch(/192\.0\.2\.0\/24 is not a BGP prefix .*192\.0\.2\.0\/24 was one of the prefixes listed.*Nothing was sent/);
    expect(await say(stack, CAROL, `emergency withdraw ${list}`)).toMatch(/Say why in the same line/);
    expect(stack.slack.openModal(ALICE)).toBeUndefined();
    expect(stack.slack.openModal(CAROL)).toBeUndefined();
    expect(allPatches(stack)).toHaveLength(0);
    expect(await stack.bot!.store.breakGlassUses(3_600_000)).toBe(0);
    const refused = (await stack.bot!.store.auditTrail()).filter((a) => a.type === 'break_glass_refused');
    expect(refused.map((a) => a.actor)).toEqual(expect.arrayContaining([ALICE, CAROL]));
  });

  it('3 prefixes (and one already withdrawn, skipped): one confirm step with each blast radius, one card, three PATCHes, Done for each', async () => {
    const three = F.slice(0, 3);
    const { modal, sent } = await emergency(stack, `emergency withdraw ${three.map((f) => f.cidr).join(',')},${WITHDRAWN.cidr} DC1 failover, INC-77`);
    for (const f of three) expect(modal).toContain(`\`${f.cidr}\`: Service bindings: ${f.cidr} Magic Transit (active)`);
    expect(modal).toMatch(/Skipped: `198\.51\.100\.0\/24` is already withdrawn/);
    expect(modal).toContain('ONE break-glass use');
    expect(sent).toMatch(/withdraw of 3 prefixes is being sent to Cloudflare now/);

    await stack.slack.waitFor(() => (three.every((f) => patchCalls(stack, f.bgpPrefixId).length === 1) ? true : undefined), 5000);
    expect(allPatches(stack)).toHaveLength(3); // the skipped one got nothing
    expect(await stack.bot!.store.breakGlassUses(3_600_000)).toBe(1);

    const card = await stack.slack.waitFor(() => batchCards(stack).at(-1), 5000);
    expect(batchCards(stack)).toHaveLength(1);
    const done = await stack.slack.waitFor(() => stack.slack.thread(CHANNEL, card.ts).find((m) => m.text.startsWith('Done:')), 30_000);
    expect(done.text).toMatch(/^Done: all 3 prefixes withdrawn/);
    for (const f of three) expect(done.text).toContain(f.cidr);
    const final = JSON.stringify(stack.slack.message(CHANNEL, card.ts)!.blocks);
    for (const f of three) expect(final).toMatch(new RegExp(`\`${f.cidr.replace(/\./g, '\\.')}\` \\*withdrawn\\*`));
    expect(final).toContain('BREAK GLASS: withdraw 3 prefixes');
    // The thread carries what changed the picture: the alarm, all sent, the verdict (last); progress is on the card.
    const thread = stack.slack.thread(CHANNEL, card.ts).map((m) => m.text);
    expect(thread[0]).toMatch(/Break glass\* by <@U0CAROL>: withdraw 3 prefixes now/);
    expect(thread.some((t) => t.includes('Cloudflare has the withdraw of all 3 prefixes'))).toBe(true);
    expect(thread.at(-1)).toMatch(/^Done:/);
    expect(thread.filter((t) => t.includes('📡'))).toHaveLength(0);
    // Warnings stay in the thread (here: no own AS on record for these prefixes, one line each, said by the checks
    // refreshed after the calls); everything else is the batch's three lines.
    expect(thread.filter((t) => !(t.includes(': 🔍 Checks refreshed') && t.includes('⚠️'))), thread.join('\n')).toHaveLength(3);
    // No card of its own for any prefix of the batch.
    expect(stack.slack.messages(CHANNEL).filter((m) => !m.threadTs && m.ts !== card.ts && three.some((f) => JSON.stringify(m.blocks).includes(f.cidr)))).toHaveLength(0);

    // Review: never carol, bob for all three at once.
    await stack.sender!.clickButton(CAROL, { channel: CHANNEL, messageTs: card.ts, actionId: ActionId.Review });
    expect((await stack.slack.waitFor(() => stack.slack.ephemerals(CAROL).find((e) => e.text.includes('someone else has to review')), 5000)).text).toContain('four eyes');
    await stack.sender!.clickButton(BOB, { channel: CHANNEL, messageTs: card.ts, actionId: ActionId.Review });
    await stack.slack.waitFor(() => (JSON.stringify(stack.slack.message(CHANNEL, card.ts)?.blocks).includes('Reviewed by <@U0BOB>') ? true : undefined), 5000);
    const ops = (await stack.bot!.store.recent(10)).filter((o) => o.batch);
    expect(ops).toHaveLength(3);
    expect(ops.every((o) => o.reviewedBy === BOB && o.breakGlass && o.state === 'done')).toBe(true);
    const audit = await stack.bot!.store.auditTrail();
    expect(audit.filter((a) => a.type === 'break_glass' && a.data?.batch)).toHaveLength(3);
  });

  it('some done, one failed: the card and the verdict say which', async () => {
    const [ok1, bad, ok2] = F.slice(3, 6) as [(typeof F)[number], (typeof F)[number], (typeof F)[number]];
    stack.cloudflare.addFault({ path: `/bgp/prefixes/${bad.bgpPrefixId}$`, method: 'PATCH', kind: 'error', status: 400 });
    const cards = batchCards(stack).length;
    const { sent } = await emergency(stack, `emergency withdraw ${ok1.cidr},${bad.cidr},${ok2.cidr} scrubbing centre down`);
    expect(sent).toMatch(/withdraw of 3 prefixes/);
    const card = await stack.slack.waitFor(() => batchCards(stack).at(cards), 5000);
    const verdict = await stack.slack.waitFor(() => stack.slack.thread(CHANNEL, card.ts).find((m) => /^(Done: all|Failed: \d+ of)/.test(m.text)), 60_000);
    // The failed prefix's own ending is in the thread, named by its prefix; the batch's verdict comes last.
    const thread = stack.slack.thread(CHANNEL, card.ts).map((m) => m.text);
    expect(thread.some((t) => t.startsWith(`\`${bad.cidr}\`: Failed: Cloudflare refused`))).toBe(true);
    expect(thread.at(-1)).toBe(verdict.text);
    expect(thread.find((t) => t.startsWith('☁️'))).toMatch(new RegExp(`of 2 of 3 prefixes \\(not accepted: \`${bad.cidr.replace(/\./g, '\\.')}\``));
    expect(verdict.text).toMatch(/^Failed: 2 of 3 withdrawn/);
    expect(verdict.text).toContain(`failed: \`${bad.cidr}\``);
    const blocks = JSON.stringify(stack.slack.message(CHANNEL, card.ts)!.blocks);
    expect(blocks).toContain(`\`${bad.cidr}\` *failed*`);
    expect(blocks).toContain(`\`${ok1.cidr}\` *withdrawn*`);
    expect(await stack.bot!.store.breakGlassUses(3_600_000)).toBe(2);
    stack.cloudflare.faults.splice(0);
  }, 90_000);

  it('a prefix held by a normal request is listed as skipped (with the request), the others go', async () => {
    const [held, free] = [F[8]!, F[9]!];
    await fileRequest(stack, ALICE, 'withdraw', held.cidr, 'planned maintenance');
    const pending = (await stack.bot!.store.lockHolder(held.cidr))!;
    const cards = batchCards(stack).length;
    const { modal, sent } = await emergency(stack, `emergency withdraw ${held.cidr},${free.cidr} DC2 down`);
    expect(modal).toContain(`Skipped: \`${held.cidr}\` has an open request (\`${pending}\`): use /byoip emergency withdraw ${held.cidr} on its own to take it over`);
    expect(sent).toMatch(/withdraw of 1 prefix is being sent/);
    await stack.slack.waitFor(() => (patchCalls(stack, free.bgpPrefixId).length === 1 ? true : undefined), 5000);
    expect(patchCalls(stack, held.bgpPrefixId)).toHaveLength(0);
    expect((await stack.bot!.store.get(pending))!.state).toBe('awaiting_approval'); // untouched
    const card = await stack.slack.waitFor(() => batchCards(stack).at(cards), 5000);
    await stack.slack.waitFor(() => stack.slack.thread(CHANNEL, card.ts).find((m) => m.text.startsWith('Done: the 1 prefix withdrawn')), 30_000);
    expect(JSON.stringify(stack.slack.message(CHANNEL, card.ts)!.blocks)).toContain(`Skipped: \`${held.cidr}\` has an open request`);
  });

  it('the cap: an emergency past the uses of the window is refused with when the next use frees up, nothing sent', async () => {
    const before = allPatches(stack).length;
    const { sent } = await emergency(stack, `emergency withdraw ${F[6]!.cidr},${F[7]!.cidr} more trouble`);
    expect(sent).toMatch(/Break glass has been used 3 time\(s\) in the last 60 minutes.*counts as one use/);
    expect(sent).toContain('Nothing was sent');
    expect(allPatches(stack)).toHaveLength(before);
    expect(await stack.bot!.store.breakGlassUses(3_600_000)).toBe(3);
  });
});

describe('Slack pacing never delays a PATCH', () => {
  let stack: TestStack;
  beforeAll(async () => {
    // One post per 2 s per channel (the bot's pacing), and Slack itself allows one post per 5 s after a burst of 1.
    stack = await testStack({ scenario: 'fleet', breakGlassMaxUses: 5, channelIntervalMs: 2000 });
    stack.slack.setPostMessageRateLimit({ perSecond: 0.2, burst: 1 });
  });
  afterAll(async () => {
    await stack.cleanup();
  });

  it('a single break glass and `--all` (10 prefixes) reach Cloudflare in seconds while the channel has a backlog of tens of seconds', async () => {
    const fleet = F;
    const started = Date.now();
    const single = DEFAULT_ADVERTISED;
    await stack.bot!.service.breakGlass({ kind: 'withdraw', cidr: single.cidr, userId: CAROL, reason: 'this one first' });
    // --all: every prefix of every account still advertised; the one just sent is locked (or already withdrawn)
    const { modal, sent } = await emergency(stack, `emergency withdraw --all DC1 on fire`);
    for (const f of fleet) expect(modal).toContain(`\`${f.cidr}\``);
    expect(modal).not.toContain(`\`${WITHDRAWN.cidr}\`:`);
    expect(sent).toMatch(/withdraw of 10 prefixes/);
    await stack.slack.waitFor(() => (fleet.every((f) => patchCalls(stack, f.bgpPrefixId).length === 1) && patchCalls(stack, single.bgpPrefixId).length === 1 ? true : undefined), 8000);
    const patchedWithin = Date.now() - started;
    // The Slack side is far behind: at one post per 2 s, at most a few of the thread lines are out yet.
    const posted = stack.slack.messages(CHANNEL).length + stack.slack.messages(CHANNEL).reduce((n, m) => n + stack.slack.thread(CHANNEL, m.ts).length, 0);
    expect(posted, `${posted} messages posted within ${patchedWithin} ms`).toBeLessThanOrEqual(Math.ceil(patchedWithin / 2000) + 2);
    expect(patchedWithin).toBeLessThan(8000);
  }, 30_000);
});
