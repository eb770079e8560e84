import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_SCENARIO } from '../../world/simulator/cloudflare/scenarios.js';
import { ActionId } from '../../src/slack/ids.js';
import { CHANNEL, checklist, fileRequest, reason, testStack } from '../helpers/stack.js';

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
  // Progress (Cloudflare reports, looking-glass samples) is on the card only; the thread keeps what changed the picture.
  const order = [/Approved by/, /Cloudflare accepted/, /Done:/];
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

  describe('when Slack asks for a long wait, or accepts a message but the answer is lost', () => {
    beforeEach(async () => {
      stack = await testStack();
    });

    it('honours a Retry-After of 40 s: nothing more is posted to the channel meanwhile, and the deliver job sleeps until then', async () => {
      stack.slack.failNext('chat.postMessage', { status: 429, retryAfterSec: 40 });
      const res = await stack.sender!.command('U0ALICE', `withdraw ${p.cidr}`, { channel: CHANNEL });
      expect(res.status).toBe(200);
      const modal = await stack.slack.waitFor(() => stack.slack.openModal('U0ALICE'), 5000);
      await stack.sender!.submitView('U0ALICE', modal.id, { ...reason('long retry-after'), ...checklist });
      const limited = await stack.slack.waitFor(() => stack.slack.callsOf('chat.postMessage').find((c) => c.status === 429), 5000);
      await new Promise((r) => setTimeout(r, 3000));
      const after = stack.slack.callsOf('chat.postMessage').filter((c) => c.at > limited.at);
      expect(after).toHaveLength(0); // not retried a second later
      const delayed = await stack.bot!.dispatcher.queues.deliver.getJobs(['delayed']);
      const opId = (await stack.bot!.store.recent(1))[0]!.id;
      const job = delayed.find((j) => (j.data as { opId: string }).opId === opId);
      expect(job).toBeDefined();
      // the delayed set's score is when the job runs again (BullMQ keeps ms * 4096 + a counter)
      const score = Number(await stack.bot!.store.redis.zscore(`${stack.bot!.dispatcher.queues.deliver.keys.delayed}`, job!.id!));
      expect(Math.floor(score / 4096) - limited.at).toBeGreaterThan(35_000);
    }, 20_000);

    it('a post Slack accepted but whose answer was lost is found by its metadata and not posted again', async () => {
      stack.slack.failNext('chat.postMessage', { applied: 'after', count: 2 }); // the card, then the first reply
      const card = await withdrawToDone(stack);
      const cards = stack.slack.messages(CHANNEL).filter((m) => !m.threadTs && m.text.includes(p.cidr));
      expect(cards).toHaveLength(1);
      const texts = stack.slack.thread(CHANNEL, card.ts).map((m) => m.text);
      assertStoryOrder(texts);
      expect(new Set(texts).size).toBe(texts.length);
      expect(stack.slack.callsOf('chat.postMessage').filter((c) => !c.ok)).toHaveLength(2);
      const op = (await stack.bot!.store.recent(1))[0]!;
      const delivered = (await stack.bot!.store.auditTrail(op.id)).filter((a) => a.type === 'delivered');
      expect(delivered.filter((a) => a.data?.found === true)).toHaveLength(2);
      expect(delivered.every((a) => typeof a.data?.ts === 'string' || a.data?.item === 'card')).toBe(true);
    }, 60_000);
  });
});
