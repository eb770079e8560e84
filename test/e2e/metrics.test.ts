import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BotMetrics } from '../../src/metrics.js';
import { ActionId } from '../../src/slack/ids.js';
import { DEFAULT_SCENARIO } from '../../world/simulator/cloudflare/scenarios.js';
import { CHANNEL, expectWithdrawDone, fileRequest, testStack } from '../helpers/stack.js';

type TestStack = Awaited<ReturnType<typeof testStack>>;

/** Every sample of `name` in a Prometheus text exposition, with its labels. */
function samples(text: string, name: string): { labels: Record<string, string>; value: number }[] {
  const out: { labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ labels, value: Number(m[3]) });
  }
  return out;
}

/** The value of the one sample of `name` whose labels include `labels`, 0 when there is none. */
function value(text: string, name: string, labels: Record<string, string> = {}): number {
  const hits = samples(text, name).filter((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return hits.reduce((sum, s) => sum + s.value, 0);
}

async function scrape(stack: TestStack): Promise<string> {
  const res = await fetch(`${stack.bot!.url}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/plain');
  return res.text();
}

const P = DEFAULT_SCENARIO.prefixes.advertised;

describe('GET /metrics: one registry per bot', () => {
  let a: TestStack;
  let b: TestStack;
  beforeAll(async () => {
    // Two bots in one process: each counts its own (prom-client's global registry would refuse the second).
    [a, b] = await Promise.all([testStack(), testStack({ slackRateLimit: { perSecond: 1, burst: 1 }, channelIntervalMs: 0 })]);
  });
  afterAll(async () => {
    await Promise.all([a.cleanup(), b.cleanup()]);
  });

  it('counts a withdraw story: operations by kind and state, queues, Cloudflare calls and budget, Slack calls, ack latency, delivery lag', async () => {
    await a.sender!.command('U0ALICE', 'status', { channel: CHANNEL });
    const card = await fileRequest(a, 'U0ALICE', 'withdraw', P.cidr, 'metrics drill');
    let text = await scrape(a);
    expect(value(text, 'byoip_operations', { kind: 'withdraw', state: 'awaiting_approval' })).toBe(1);
    expect(value(text, 'byoip_slack_command_ack_seconds_count', { command: '/byoip' })).toBe(2);
    expect(value(text, 'byoip_slack_command_ack_seconds_bucket', { command: '/byoip', le: '3' })).toBe(2); // within Slack's 3 s
    for (const queue of ['execute', 'watch', 'deliver', 'maintenance']) {
      expect(samples(text, 'byoip_queue_jobs').some((s) => s.labels.queue === queue && s.labels.state === 'waiting')).toBe(true);
      expect(samples(text, 'byoip_queue_oldest_waiting_seconds').some((s) => s.labels.queue === queue)).toBe(true);
    }
    expect(value(text, 'byoip_cloudflare_budget_remaining', { kind: 'read' })).toBeGreaterThan(0);
    expect(value(text, 'byoip_cloudflare_budget_paused_seconds')).toBe(0);

    // One read fails with 429 (Retry-After 1 s) and is retried: counted as a call, an error and a 429.
    a.cloudflare.addFault({ path: '/bgp/prefixes', method: 'GET', kind: 'rate_limit', retryAfterS: 1, times: 1 });
    await a.sender!.clickButton('U0BOB', { channel: CHANNEL, messageTs: card.ts, actionId: ActionId.Approve });
    await expectWithdrawDone(a, card.ts, P);
    await a.slack.waitFor(() => a.slack.message(CHANNEL, card.ts)?.text.includes('done') || undefined, 5000);

    text = await scrape(a);
    expect(value(text, 'byoip_operations', { kind: 'withdraw' })).toBe(0); // nothing open any more
    for (const state of ['awaiting_approval', 'approved', 'executing', 'verifying', 'done']) {
      expect(value(text, 'byoip_operation_transitions_total', { kind: 'withdraw', state }), state).toBe(1);
    }
    expect(value(text, 'byoip_cloudflare_calls_total', { kind: 'mutation', outcome: 'ok' })).toBe(1);
    expect(value(text, 'byoip_cloudflare_calls_total', { kind: 'read', outcome: 'ok' })).toBeGreaterThan(1);
    expect(value(text, 'byoip_cloudflare_rate_limited_total', { kind: 'read' })).toBe(1);
    expect(value(text, 'byoip_cloudflare_errors_total', { kind: 'read', code: 'cloudflare_rate_limited' })).toBe(1);
    expect(value(text, 'byoip_cloudflare_call_seconds_count')).toBe(value(text, 'byoip_cloudflare_calls_total'));
    // the card, the approval, the call sent, the verdict (progress is on the card only)
    expect(value(text, 'byoip_slack_calls_total', { method: 'chat.postMessage', outcome: 'ok' })).toBeGreaterThanOrEqual(4);
    expect(value(text, 'byoip_slack_calls_total', { method: 'chat.update', outcome: 'ok' })).toBeGreaterThanOrEqual(1);
    // the bot's start-up token check and Bolt's own (its client is counted too)
    expect(value(text, 'byoip_slack_calls_total', { method: 'auth.test', outcome: 'ok' })).toBe(a.slack.callsOf('auth.test').length);
    // the approval, the call sent, the verdict (folded progress is never sent, so it is no delivery)
    expect(value(text, 'byoip_slack_delivery_lag_seconds_count', { item: 'event' })).toBeGreaterThanOrEqual(3);
    expect(value(text, 'byoip_slack_delivery_lag_seconds_count', { item: 'card' })).toBeGreaterThanOrEqual(1);
    expect(samples(text, 'process_cpu_user_seconds_total')).toHaveLength(1); // prom-client's process metrics, per registry
  }, 60_000);

  it("counts Slack's 429s, and the other bot's counters stay its own", async () => {
    const card = await fileRequest(b, 'U0ALICE', 'withdraw', P.cidr, 'rate-limit drill');
    await b.sender!.clickButton('U0BOB', { channel: CHANNEL, messageTs: card.ts, actionId: ActionId.Approve });
    await b.slack.waitFor(() => b.slack.thread(CHANNEL, card.ts).find((m) => m.text.includes('Done:')), 40_000);
    const limited = b.slack.callsOf('chat.postMessage').filter((c) => c.status === 429).length;
    expect(limited).toBeGreaterThan(0);
    const text = await scrape(b);
    expect(value(text, 'byoip_slack_rate_limited_total', { method: 'chat.postMessage' })).toBe(limited);
    expect(value(text, 'byoip_slack_calls_total', { method: 'chat.postMessage', outcome: 'rate_limited' })).toBe(limited);
    expect(value(text, 'byoip_cloudflare_rate_limited_total')).toBe(0); // the 429 was bot a's
    expect(value(text, 'byoip_slack_command_ack_seconds_count')).toBe(1);
    expect(value(await scrape(a), 'byoip_slack_rate_limited_total')).toBe(0);
  }, 60_000);

  it('answers while Redis-backed gauges cannot be read, leaving them empty and counting the miss', async () => {
    const m = new BotMetrics({ role: 'web', defaultMetrics: false });
    m.setSources({ queues: () => new Promise(() => undefined), budget: () => Promise.reject(new Error('redis down')) });
    const started = Date.now();
    const text = await m.render();
    expect(Date.now() - started).toBeLessThan(2000);
    expect(samples(text, 'byoip_queue_jobs')).toHaveLength(0);
    expect(value(text, 'byoip_metrics_source_errors_total', { source: 'queues' })).toBe(1);
    expect(value(text, 'byoip_metrics_source_errors_total', { source: 'budget' })).toBe(1);
  });
});

describe("Bolt's own Slack client is counted", () => {
  it("counts the calls made through Bolt's own client (the listeners'): views.open, chat.postEphemeral, a failure and a 429", async () => {
    const a = await testStack();
    try {
    const W = DEFAULT_SCENARIO.prefixes.withdrawn;
    const before = await scrape(a);
    const opened = value(before, 'byoip_slack_calls_total', { method: 'views.open', outcome: 'ok' });
    // a request form opens through the listener's client
    await a.sender!.command('U0ALICE', `advertise ${W.cidr}`, { channel: CHANNEL });
    const modal = await a.slack.waitFor(() => a.slack.openModal('U0ALICE'), 5000).catch((err: unknown) => {
      throw new Error(`${String(err)}; alice was told: ${a.slack.ephemerals('U0ALICE').map((e) => e.text).join(' | ')}`);
    });
    await a.sender!.closeView('U0ALICE', modal.id);
    // a refusal on a click is an ephemeral through the listener's client: answered invalid once, rate limited once, then ok
    const card = await fileRequest(a, 'U0ALICE', 'withdraw', P.cidr, 'metrics drill: bolt client');
    a.slack.failNext('chat.postEphemeral', { error: 'channel_not_found' });
    await a.sender!.clickButton('U0ALICE', { channel: CHANNEL, messageTs: card.ts, actionId: ActionId.Approve });
    a.slack.failNext('chat.postEphemeral', { status: 429, retryAfterSec: 0 });
    await a.sender!.clickButton('U0ALICE', { channel: CHANNEL, messageTs: card.ts, actionId: ActionId.Approve });
    await a.sender!.clickButton('U0ALICE', { channel: CHANNEL, messageTs: card.ts, actionId: ActionId.Approve });
    await a.slack.waitFor(() => a.slack.ephemerals('U0ALICE').find((e) => e.text.includes('cannot approve')), 10_000);
    const sim = (method: string, ok: (c: { ok: boolean; status: number }) => boolean) => a.slack.callsOf(method).filter(ok).length;
    let text = '';
    for (let i = 0; i < 100; i++) {
      text = await scrape(a);
      if (value(text, 'byoip_slack_calls_total', { method: 'chat.postEphemeral' }) >= 3) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(value(text, 'byoip_slack_calls_total', { method: 'views.open', outcome: 'ok' })).toBe(opened + 2);
    expect(value(text, 'byoip_slack_calls_total', { method: 'views.open', outcome: 'ok' })).toBe(sim('views.open', (c) => c.ok));
    expect(value(text, 'byoip_slack_calls_total', { method: 'chat.postEphemeral', outcome: 'error' })).toBe(1);
    expect(value(text, 'byoip_slack_calls_total', { method: 'chat.postEphemeral', outcome: 'rate_limited' })).toBe(1);
    expect(value(text, 'byoip_slack_rate_limited_total', { method: 'chat.postEphemeral' })).toBe(1);
    expect(value(text, 'byoip_slack_calls_total', { method: 'chat.postEphemeral', outcome: 'ok' })).toBe(sim('chat.postEphemeral', (c) => c.ok));
    } finally {
      await a.cleanup();
    }
  }, 60_000);

});

describe('Socket Mode serves /metrics and /readyz on its health server', () => {
  it('answers both next to /healthz', async () => {
    const stack = await testStack({ socketMode: true });
    try {
      const text = await scrape(stack);
      expect(value(text, 'byoip_info', { role: 'all' })).toBe(1);
      expect((await fetch(`${stack.bot!.url}/readyz`)).status).toBe(200);
    } finally {
      await stack.cleanup();
    }
  });
});
