import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_SCENARIO } from '../../world/simulator/cloudflare/scenarios.js';
import { ActionId } from '../../src/slack/ids.js';
import { CHANNEL, fileRequest, testStack } from '../helpers/stack.js';

type TestStack = Awaited<ReturnType<typeof testStack>>;

/** Approves a filed request and waits until Cloudflare has accepted it. */
async function approveAndAccept(stack: TestStack, kind: 'advertise' | 'withdraw', cidr: string) {
  const card = await fileRequest(stack, 'U0ALICE', kind, cidr, 'escalation drill');
  await stack.sender!.clickButton('U0BOB', { channel: CHANNEL, messageTs: card.ts, actionId: ActionId.Approve });
  await stack.slack.waitFor(() => stack.slack.thread(CHANNEL, card.ts).find((m) => m.text.includes('Cloudflare accepted')), 10_000);
  return card;
}

describe('when the Internet does not follow Cloudflare', () => {
  let stack: TestStack;
  beforeEach(async () => {
    // time x600: the 20 / 30 minute escalations come after 2 / 3 s, the 60 minute give-up after 6 s
    stack = await testStack();
  });
  afterEach(async () => {
    await stack.cleanup();
  });

  it('an advertise that stays at low visibility is escalated after 20 minutes, then closed with a warning', async () => {
    const cidr = DEFAULT_SCENARIO.prefixes.withdrawn.cidr;
    const card = await approveAndAccept(stack, 'advertise', cidr);
    // Most networks drop the route (a filter, a missing ROA somewhere): only ~10% of peers will ever see it.
    for (const a of stack.world.announcementsOf(cidr)) a.reach = 0.1;
    const warning = await stack.slack.waitFor(() => stack.slack.messages(CHANNEL).find((m) => m.threadTs === card.ts && m.text.includes('still not propagated')), 15_000);
    expect(warning.text).toMatch(/still not propagated \d+ (s|min) after Cloudflare accepted the advertise/);
    const closed = await stack.slack.waitFor(() => stack.slack.thread(CHANNEL, card.ts).find((m) => /did not confirm it within \d+ (s|min)/.test(m.text)), 20_000);
    // a timeout is never green: the last line says Not confirmed, what was last seen and what to check
    expect(closed.text).toMatch(/^Not confirmed: Cloudflare accepted the advertise/);
    expect(closed.text).toContain('last seen: Propagating');
    expect(closed.text).toContain('keep your own announcement up');
    expect(stack.slack.thread(CHANNEL, card.ts).at(-1)!.text).toBe(closed.text);
    expect(stack.slack.thread(CHANNEL, card.ts).filter((m) => m.text.includes('still not propagated'))).toHaveLength(1);
  }, 40_000);

  it('a withdraw that stays visible is escalated after 30 minutes', async () => {
    const cidr = DEFAULT_SCENARIO.prefixes.advertised.cidr;
    const card = await approveAndAccept(stack, 'withdraw', cidr);
    // A stuck route: peers keep it although Cloudflare withdrew.
    // Cloudflare has confirmed its own state: the watch is on the route collectors (progress only: no thread reply;
    // the card's Latest line may already show the next sample).
    for (let i = 0; i < 10_000 / 50; i++) {
      const op = (await stack.bot!.store.recent(5)).find((o) => o.prefix === cidr);
      if (op?.watch?.data.phase === 'routing') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect((await stack.bot!.store.recent(5)).find((o) => o.prefix === cidr)?.watch?.data.phase).toBe('routing');
    for (const a of stack.world.announcementsOf(cidr)) if (a.origin === 13335) a.end = null;
    const warning = await stack.slack.waitFor(() => stack.slack.thread(CHANNEL, card.ts).find((m) => m.text.includes('still visible from AS13335')), 15_000);
    expect(warning.text).toMatch(/still visible from AS13335 \d+ (s|min) after the withdraw/);
    expect(warning.text).toContain('open a Cloudflare support case');
  }, 40_000);
});
