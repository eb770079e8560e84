import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SCENARIO } from '../../world/simulator/cloudflare/scenarios.js';
import { ActionId } from '../../src/slack/ids.js';
import { CHANNEL, checklist, fileRequest, reason, testStack } from '../helpers/stack.js';

type TestStack = Awaited<ReturnType<typeof testStack>>;
const ALICE = 'U0ALICE';
const BOB = 'U0BOB';
const p = DEFAULT_SCENARIO.prefixes.advertised;
/** Polls `fn` until it gives a value (tests wait for conditions, never fixed sleeps). */
async function until<T>(fn: () => Promise<T | null | undefined>, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}
const SLOW_DOWN = /^⌛ Slow down: you clicked or submitted (\d+) times in the last minute; nothing was done this time\. Try again in about (\d+) s\.$/;

describe('clicks and form submits: a per-user limit (4 a minute here)', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await testStack({ env: { INTERACTION_RATE_LIMIT_PER_USER: '4' } });
  });
  afterAll(async () => {
    await stack.cleanup();
  });

  it("one user's flood of clicks is slowed with a sentence and audited; another user's approval still goes through; a submit over it keeps the form open", async () => {
    // alice's submit is her first interaction
    const card = await fileRequest(stack, ALICE, 'withdraw', p.cidr, 'drill: interaction limit');
    const target = { channel: CHANNEL, messageTs: card.ts, actionId: ActionId.Approve };
    // three more clicks are let through (each refused on its merits: her own request)
    for (let i = 0; i < 3; i++) await stack.sender!.clickButton(ALICE, target);
    await stack.slack.waitFor(() => (stack.slack.ephemerals(ALICE).filter((e) => e.text.includes('cannot approve')).length === 3 ? true : undefined), 10_000);
    // the fifth interaction in the minute: slowed, nothing done
    const before = (await stack.bot!.store.auditTrail()).filter((r) => r.type === 'approval_refused' || r.type === 'request_refused').length;
    const res = await stack.sender!.clickButton(ALICE, target);
    expect(res.status).toBe(200);
    const slowed = await stack.slack.waitFor(() => stack.slack.ephemerals(ALICE).find((e) => SLOW_DOWN.test(e.text)), 5000);
    expect(Number(SLOW_DOWN.exec(slowed.text)![1])).toBe(5);
    expect(Number(SLOW_DOWN.exec(slowed.text)![2])).toBeLessThanOrEqual(60);
    expect(stack.slack.ephemerals(ALICE).filter((e) => e.text.includes('cannot approve'))).toHaveLength(3);
    const refusals = await until(async () => {
      const all = await stack.bot!.store.auditTrail();
      return all.some((r) => r.data?.why === 'rate limited') ? all : null;
    });
    const limited = refusals.filter((r) => r.type === 'request_refused' && r.actor === ALICE && r.data?.why === 'rate limited');
    expect(limited).toHaveLength(1);
    expect(limited[0]!.data).toMatchObject({ kind: 'interaction', what: `click ${ActionId.Approve}`, count: 5 });
    expect(refusals.filter((r) => r.type === 'approval_refused' || r.type === 'request_refused').length).toBe(before + 1);

    // bob is not starved by alice's flood: his approval is taken
    await stack.sender!.clickButton(BOB, target);
    const op = await until(async () => (await stack.bot!.store.recent(5)).find((x) => x.prefix === p.cidr && x.kind === 'withdraw' && x.state !== 'awaiting_approval'));
    expect(op.approvals.map((a) => a.userId)).toContain(BOB);

    // a form submit over the limit keeps the form open with the sentence in it; nothing filed
    const filed = (await stack.bot!.store.recent(50)).length;
    const other = DEFAULT_SCENARIO.prefixes.withdrawn;
    await stack.sender!.command(ALICE, `advertise ${other.cidr}`, { channel: CHANNEL });
    const modal = await stack.slack.waitFor(() => stack.slack.openModal(ALICE), 5000);
    const submit = await stack.sender!.submitView(ALICE, modal.id, { ...reason('drill: submit over the limit'), ...checklist });
    expect(submit.status).toBe(200);
    const errors = (submit.json as { response_action?: string; errors?: Record<string, string> }).errors ?? {};
    expect((submit.json as { response_action?: string }).response_action).toBe('errors');
    expect(Object.values(errors).join(' ')).toMatch(/^Slow down: you clicked or submitted \d+ times in the last minute; nothing was done this time/);
    expect(stack.slack.openModal(ALICE)?.id).toBe(modal.id);
    expect((await stack.bot!.store.recent(50)).length).toBe(filed);
    expect(stack.slack.ephemerals(ALICE).filter((e) => e.text.includes('is filed'))).toHaveLength(0);
  });
});
