import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_SCENARIO } from '../../world/simulator/cloudflare/scenarios.js';
import { ActionId } from '../../src/slack/ids.js';
import { CHANNEL, fileRequest, testStack } from '../helpers/stack.js';

type TestStack = Awaited<ReturnType<typeof testStack>>;
const p = DEFAULT_SCENARIO.prefixes.advertised;

async function withdrawToDone(stack: TestStack) {
  const card = await fileRequest(stack, 'U0ALICE', 'withdraw', p.cidr, 'delivery drill');
  await stack.sender!.clickButton('U0BOB', { channel: CHANNEL, messageTs: card.ts, actionId: ActionId.Approve });
  await stack.slack.waitFor(() => stack.slack.thread(CHANNEL, card.ts).find((m) => m.text.includes('Done:')), 40_000);
  return card;
}

/** The order the bot recorded its replies in, from the audit-free source of truth: the thread must follow it. */
function assertStoryOrder(texts: string[]) {
  const order = [/Approved by/, /Cloudflare accepted/, /Cloudflare reports/, /peers still see/, /Done:/];
  let last = -1;
  for (const re of order) {
    const i = texts.findIndex((t) => re.test(t));
    expect(i, `${re} in ${JSON.stringify(texts)}`).toBeGreaterThan(last);
    last = i;
  }
}

describe('thread replies reach Slack in order, within its rate limits, retried until delivered', () => {
  let stack: TestStack;
  afterEach(async () => {
    await stack.cleanup();
  });

  describe('when Slack enforces about one message per second per channel and the bot does not pace itself', () => {
    beforeEach(async () => {
      stack = await testStack({ slackRateLimit: { perSecond: 1, burst: 2 }, channelIntervalMs: 0 });
    });
    it('honours Retry-After: every reply arrives, once, in order', async () => {
      const card = await withdrawToDone(stack);
      const limited = stack.slack.callsOf('chat.postMessage').filter((c) => c.status === 429);
      expect(limited.length).toBeGreaterThan(0);
      const texts = stack.slack.thread(CHANNEL, card.ts).map((m) => m.text);
      assertStoryOrder(texts);
      expect(new Set(texts).size).toBe(texts.length);
    }, 60_000);
  });

  describe('when Slack fails calls (500s, then a network-level error)', () => {
    beforeEach(async () => {
      stack = await testStack();
    });
    it('retries until delivered and keeps the order', async () => {
      stack.slack.failNext('chat.postMessage', { status: 500, count: 3 });
      stack.slack.failNext('chat.update', { status: 503, count: 2 });
      const card = await withdrawToDone(stack);
      const texts = stack.slack.thread(CHANNEL, card.ts).map((m) => m.text);
      assertStoryOrder(texts);
      expect(texts.filter((t) => t.includes('Done:'))).toHaveLength(1);
      await stack.slack.waitFor(() => (/done/.test(stack.slack.message(CHANNEL, card.ts)?.text ?? '') ? true : undefined), 10_000);
    }, 60_000);
  });
});
