import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SCENARIO } from '../../world/simulator/cloudflare/scenarios.js';
import { ActionId } from '../../src/slack/ids.js';
import { CHANNEL, cardFor, testStack } from '../helpers/stack.js';

type TestStack = Awaited<ReturnType<typeof testStack>>;
const CAROL = 'U0CAROL'; // on call
const ALICE = 'U0ALICE';

async function say(stack: TestStack, user: string, text: string): Promise<string> {
  const before = stack.slack.ephemerals(user).length;
  await stack.sender!.command(user, text, { channel: CHANNEL });
  return (await stack.slack.waitFor(() => stack.slack.ephemerals(user).at(before), 5000)).text;
}

describe('break glass: the on-call engineer acts in seconds, within limits, reviewed afterwards', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await testStack({ breakGlassMaxUses: 1 });
  });
  afterAll(async () => {
    await stack.cleanup();
  });

  it('someone not on call is refused and nothing is sent', async () => {
    expect(await say(stack, ALICE, `emergency withdraw ${DEFAULT_SCENARIO.prefixes.advertised.cidr} DDoS`)).toMatch(/Only the on-call \(break-glass\) group/);
    expect(await say(stack, CAROL, `emergency withdraw ${DEFAULT_SCENARIO.prefixes.advertised.cidr}`)).toMatch(/Say why in the same line/);
    expect(stack.cloudflare.state.calls.filter((c) => c.method === 'PATCH')).toHaveLength(0);
  });

  it('carol withdraws at once without approval; the card asks for a review; an approver reviews it', async () => {
    const p = DEFAULT_SCENARIO.prefixes.advertised;
    const started = Date.now();
    expect(await say(stack, CAROL, `emergency withdraw ${p.cidr} scrubbing path melting, INC-9`)).toContain('being sent to Cloudflare now');
    await stack.slack.waitFor(() => (stack.cloudflare.state.calls.some((c) => c.method === 'PATCH') ? true : undefined), 5000);
    const toCloudflareMs = Date.now() - started;
    expect(toCloudflareMs).toBeLessThan(5000); // seconds, not an approval round
    const card = (await stack.slack.waitFor(() => cardFor(stack, p.cidr), 5000))!;
    expect(JSON.stringify(card.blocks)).toContain('BREAK GLASS');
    const alarm = await stack.slack.waitFor(() => stack.slack.thread(CHANNEL, card.ts).find((m) => m.text.includes('Break glass')), 5000);
    expect(alarm.text).toContain('scrubbing path melting');
    await stack.slack.waitFor(() => stack.slack.thread(CHANNEL, card.ts).find((m) => m.text.includes('Done:')), 20_000);

    // carol cannot review her own change; bob can
    await stack.sender!.clickButton(CAROL, { channel: CHANNEL, messageTs: card.ts, actionId: ActionId.Review });
    expect((await stack.slack.waitFor(() => stack.slack.ephemerals(CAROL).find((e) => e.text.includes('someone else has to review')), 5000)).text).toContain('four eyes');
    await stack.sender!.clickButton('U0BOB', { channel: CHANNEL, messageTs: card.ts, actionId: ActionId.Review });
    await stack.slack.waitFor(() => stack.slack.thread(CHANNEL, card.ts).find((m) => m.text.includes('reviewed by <@U0BOB>')), 5000);
    await stack.slack.waitFor(() => (JSON.stringify(stack.slack.message(CHANNEL, card.ts)?.blocks).includes('Reviewed by') ? true : undefined), 5000);

    const op = (await stack.bot!.store.recent(1))[0]!;
    const audit = (await stack.bot!.store.auditTrail(op.id)).map((a) => `${a.type}:${a.actor}`);
    expect(audit).toEqual(expect.arrayContaining(['break_glass:U0CAROL', 'cloudflare_call:system', 'done:system', 'review_refused:U0CAROL', 'reviewed:U0BOB']));
  });

  it('the limit holds: a second use within the window is refused with when the next one frees up', async () => {
    const t = await say(stack, CAROL, `emergency advertise ${DEFAULT_SCENARIO.prefixes.withdrawn.cidr} back to Cloudflare`);
    expect(t).toMatch(/Break glass has been used 1 time\(s\) in the last 60 minutes/);
    expect(t).toContain('/byoip advertise 198.51.100.0/24');
    expect(stack.cloudflare.state.calls.filter((c) => c.method === 'PATCH')).toHaveLength(1);
  });
});
