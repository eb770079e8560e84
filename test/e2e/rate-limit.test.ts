import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SCENARIO } from '../../world/simulator/cloudflare/scenarios.js';
import { CHANNEL, commandAnswer, testStack, upstreamReads } from '../helpers/stack.js';

type TestStack = Awaited<ReturnType<typeof testStack>>;
const ALICE = 'U0ALICE';
const BOB = 'U0BOB';
const CAROL = 'U0CAROL';
const p = DEFAULT_SCENARIO.prefixes.advertised;
const SLOW_DOWN = /^⌛ Slow down: you sent (\d+) commands in the last minute; try again in about (\d+) s\.$/;

/** Reads one preflight makes (Cloudflare for the ownership token, RPKI, IRR, DNS), measured with a quiet bot. */
async function readsOfOnePreflight(stack: TestStack, user: string) {
  const before = upstreamReads(stack);
  const b = stack.slack.ephemerals(user).length;
  await stack.sender!.command(user, `preflight ${p.cidr} 13335`, { channel: CHANNEL });
  await stack.slack.waitFor(() => stack.slack.ephemerals(user).slice(b).find((e) => e.text.startsWith(`Preflight ${p.cidr}`)), 10_000);
  const after = upstreamReads(stack);
  return { cloudflare: after.cloudflare - before.cloudflare, routing: after.routing - before.routing };
}

describe('command rate limit: 20 per user and 300 per workspace a minute (the defaults)', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await testStack();
  });
  afterAll(async () => {
    await stack.cleanup();
  });

  it('a flood of 60 preflights by one requester is slowed at the door; the work done stays bounded; another user still gets answers', async () => {
    const one = await readsOfOnePreflight(stack, CAROL);
    expect(one.routing).toBeGreaterThan(0);
    const before = upstreamReads(stack);
    const b = stack.slack.ephemerals(ALICE).length;

    const results = await Promise.all(Array.from({ length: 60 }, () => stack.sender!.command(ALICE, `preflight ${p.cidr} 13335`, { channel: CHANNEL })));
    expect(results.every((r) => r.status === 200)).toBe(true);
    // every ack is at once and empty (nothing before it waits for Redis); the refusals come at the response_url
    expect(results.every((r) => r.body === '')).toBe(true);
    const slowDowns = () => stack.slack.ephemerals(ALICE).slice(b).filter((e) => SLOW_DOWN.test(e.text));
    await stack.slack.waitFor(() => (slowDowns().length >= 40 ? true : undefined), 20_000);
    const slowed = slowDowns();
    expect(slowed).toHaveLength(40);
    const counts = slowed.map((e) => Number(SLOW_DOWN.exec(e.text)![1]));
    expect(Math.min(...counts)).toBe(21);
    expect(Math.max(...counts)).toBe(60);
    for (const e of slowed) expect(Number(SLOW_DOWN.exec(e.text)![2])).toBeLessThanOrEqual(60);
    // each refusal is in the audit, with who and why
    const refused = async () => (await stack.bot!.store.auditTrail()).filter((r) => r.type === 'request_refused' && r.actor === ALICE && r.data?.why === 'rate limited');
    for (let i = 0; i < 100 && (await refused()).length < 40; i++) await new Promise((r) => setTimeout(r, 50));
    expect(await refused()).toHaveLength(40);
    expect((await refused()).every((r) => r.data?.kind === 'preflight' && r.data?.scope === 'user')).toBe(true);

    // the 20 let through each get their report
    await stack.slack.waitFor(() => (stack.slack.ephemerals(ALICE).slice(b).filter((e) => e.text.startsWith(`Preflight ${p.cidr}`)).length === 20 ? true : undefined), 20_000);
    const mine = stack.slack.ephemerals(ALICE).slice(b);
    expect(mine.filter((e) => SLOW_DOWN.test(e.text))).toHaveLength(40);
    const after = upstreamReads(stack);
    expect(after.routing - before.routing).toBeLessThanOrEqual(20 * one.routing);
    expect(after.cloudflare - before.cloudflare).toBeLessThanOrEqual(20 * Math.max(1, one.cloudflare));

    // alice is still slowed; bob, a viewer, is not
    expect(await commandAnswer(stack, ALICE, 'status')).toMatch(SLOW_DOWN);
    expect(await commandAnswer(stack, BOB, 'status')).toContain(p.cidr);
  });
});

describe('workspace limit (5 a minute here)', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await testStack({ env: { COMMAND_RATE_LIMIT_PER_WORKSPACE: '5' } });
  });
  afterAll(async () => {
    await stack.cleanup();
  });

  it('counts every user, says so, and never locks out break glass', async () => {
    for (const user of [ALICE, BOB, ALICE, BOB, ALICE]) expect(await commandAnswer(stack, user, 'help')).toContain('/byoip status');
    expect(await commandAnswer(stack, BOB, 'help')).toMatch(/^⌛ Slow down: this workspace sent 5 commands in the last minute, the bot's limit; try again in about \d+ s\.$/);
    // the on-call engineer's break glass still opens its confirm step
    await stack.sender!.command(CAROL, `emergency withdraw ${p.cidr} INC-7 scrubbing path down`, { channel: CHANNEL });
    const modal = await stack.slack.waitFor(() => stack.slack.openModal(CAROL), 5000);
    expect(modal.callbackId).toBe('byoip_break_glass');
  });
});
