import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RequestBudget } from '../../src/cloudflare/budget.js';
import { CloudflareClient } from '../../src/cloudflare/client.js';
import { withRequestClass } from '../../src/cloudflare/request-class.js';
import { ErrorCode, isBotError } from '../../src/errors.js';
import { ActionId } from '../../src/slack/ids.js';
import { DEFAULT_SCENARIO, SANDBOX_ACCOUNT_ID as ACC, SANDBOX_CLOUDFLARE_TOKEN } from '../../world/simulator/cloudflare/scenarios.js';
import { CHANNEL, cardFor, fileRequest, patchCalls, REDIS_URL, testStack } from '../helpers/stack.js';

type TestStack = Awaited<ReturnType<typeof testStack>>;

// Cloudflare's 1200 requests / 5 min scaled down so the test fits in seconds: 600 per 20 s, in the simulator (its
// control API) and in the bot's budget (CLOUDFLARE_BUDGET_LIMIT / CLOUDFLARE_BUDGET_WINDOW_MS). The window is longer
// than any wait a request may take, so a class that has used its share stays out for the rest of the test.
const LIMIT = 600;
const WINDOW_MS = 20_000;
const W = DEFAULT_SCENARIO.prefixes.withdrawn;
const A = DEFAULT_SCENARIO.prefixes.advertised;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe('a flood of look-ups cannot starve an approved change or an emergency', () => {
  let stack: TestStack;
  let budget: RequestBudget;
  beforeAll(async () => {
    stack = await testStack({ cloudflareBudget: { limit: LIMIT, windowMs: WINDOW_MS } });
    const res = await fetch(`${stack.cloudflare.controlUrl}/rate-limit`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ limit: LIMIT, windowMs: WINDOW_MS, lockoutMs: 60_000, reset: true }),
    });
    expect(res.status).toBe(200);
    // The bot's own budget keys (`{prefix}:cf-budget:`): this is another replica of the bot, answering look-ups.
    budget = new RequestBudget({ redis: REDIS_URL, keyPrefix: `{${stack.prefix}}:cf-budget:`, limit: LIMIT, windowMs: WINDOW_MS });
  });
  afterAll(async () => {
    await budget.close();
    await stack.cleanup();
  });

  it('interactive reads use up their share; the withdraw (filed, approved) and the emergency still reach Cloudflare', async () => {
    const tokenKey = RequestBudget.tokenKey(SANDBOX_CLOUDFLARE_TOKEN);
    const replica = new CloudflareClient({ baseUrl: stack.cloudflare.url, apiToken: SANDBOX_CLOUDFLARE_TOKEN, budget, readRetries: 0 });
    const flood = { granted: 0, refused: 0, stop: false };
    const loop = async () => {
      while (!flood.stop) {
        try {
          await withRequestClass('interactive', () => replica.listBgpPrefixes(ACC, A.id), { maxWaitMs: 200 });
          flood.granted++;
        } catch (err) {
          if (!(isBotError(err) && err.code === ErrorCode.CloudflareRateLimited)) throw err;
          flood.refused++;
          await sleep(20);
        }
      }
    };
    const loops = Array.from({ length: 20 }, loop);
    try {
      // The interactive share (with background's, unused) is 480 - 48 (emergency) - 144 (change) = 288 per window.
      const interactiveCap = budget.capFor('interactive');
      expect(interactiveCap).toBe(288);
      await until('the interactive share to run out', async () => (await budget.usage(tokenKey)).byClass.interactive >= interactiveCap, 15_000);
      const floodStarted = Date.now();
      const refusedBefore = flood.refused;

      // Users keep asking in Slack meanwhile: their look-ups wait behind the flood (and hold the shared-read locks).
      const asking = ['U0ALICE', 'U0CAROL'].flatMap((u) => Array.from({ length: 5 }, (_, i) => stack.sender!.command(u, i % 2 ? `status ${A.cidr}` : `preflight ${A.cidr}`, { channel: CHANNEL })));

      // An ordinary withdraw: the form opens although its look-ups cannot be made now; filing and approval are a change.
      const card = await fileRequest(stack, 'U0ALICE', 'withdraw', A.cidr, 'maintenance, CHG-8');
      await stack.sender!.clickButton('U0BOB', { channel: CHANNEL, messageTs: card.ts, actionId: ActionId.Approve });
      await stack.slack.waitFor(() => (patchCalls(stack, A.bgpPrefixId).length ? true : undefined), 10_000);
      const withdrawMs = Date.now() - floodStarted;

      // The on-call engineer's emergency advertise of the other prefix.
      const before = stack.slack.ephemerals('U0CAROL').length;
      await stack.sender!.command('U0CAROL', `emergency advertise ${W.cidr} scrubbing centre lost, INC-8`, { channel: CHANNEL });
      const modal = await stack.slack.waitFor(() => stack.slack.openModal('U0CAROL'), 5000);
      await stack.sender!.submitView('U0CAROL', modal.id);
      await stack.slack.waitFor(() => stack.slack.ephemerals('U0CAROL').slice(before).find((e) => e.text.includes('being sent to Cloudflare now')), 5000);
      await stack.slack.waitFor(() => (patchCalls(stack, W.bgpPrefixId).length ? true : undefined), 10_000);
      const emergencyMs = Date.now() - floodStarted;

      // The form opened without its look-ups (they were refused at once, not waited for); filing made them as a change.
      const audit = await stack.bot!.store.auditTrail();
      expect(audit.filter((a) => a.type === 'intake_deferred').map((a) => a.actor)).toContain('U0ALICE');
      expect(audit.filter((a) => a.type === 'requested')).toHaveLength(1);

      // The interactive share stayed used up the whole time: the flood was still being refused.
      const usage = await budget.usage(tokenKey);
      expect(usage.byClass.interactive).toBe(interactiveCap);
      expect(usage.byClass.background).toBe(0);
      expect(flood.refused).toBeGreaterThan(refusedBefore);
      expect(usage.byClass.change).toBeGreaterThan(0);
      expect(usage.byClass.change).toBeLessThanOrEqual(budget.capFor('change'));
      expect(usage.byClass.emergency).toBeGreaterThan(0);

      // Both followed to the end, once each; Cloudflare never answered 429.
      await stack.slack.waitFor(() => stack.slack.thread(CHANNEL, card.ts).find((m) => m.text.startsWith('Done:')), 20_000);
      const emergencyCard = (await stack.slack.waitFor(() => cardFor(stack, W.cidr), 5000))!;
      await stack.slack.waitFor(() => stack.slack.thread(CHANNEL, emergencyCard.ts).find((m) => m.text.startsWith('Done:')), 20_000);
      expect(patchCalls(stack, A.bgpPrefixId)).toHaveLength(1);
      expect(patchCalls(stack, W.bgpPrefixId)).toHaveLength(1);
      expect(stack.cloudflare.state.calls.filter((c) => c.status === 429)).toHaveLength(0);

      await Promise.all(asking);
      const final = await budget.usage(tokenKey);
      console.log(
        `budget classes: flood of ${flood.granted} interactive reads granted (cap ${interactiveCap} per ${WINDOW_MS / 1000} s), ${flood.refused} refused; ` +
          `withdraw PATCH ${withdrawMs} ms and emergency PATCH ${emergencyMs} ms after the share ran out; ` +
          `window now: ${JSON.stringify(final.byClass)}; ${stack.cloudflare.state.calls.length} calls at the simulator, 0 x 429`,
      );
    } finally {
      flood.stop = true;
      await Promise.allSettled(loops);
    }
  }, 90_000);
});
