import { DEFAULT_SCENARIO } from '../world/simulator/cloudflare/scenarios.js';
import { ActionId } from '../src/slack/ids.js';
import type { StackOptions } from '../world/sandbox/stack.js';
import { benchStack, CHANNEL, fileRequest, nowMs, type Row } from './lib.js';

const TIME_SCALE = 600;

interface Variant {
  name: string;
  opts: Partial<StackOptions>;
}

// Unpaced shows the bot's own work; paced adds Slack's one message per second per channel, as in production.
const VARIANTS: Variant[] = [
  { name: 'unpaced Slack', opts: { channelIntervalMs: 0, slackRateLimit: false } },
  { name: 'Slack-paced 1 msg/s', opts: { channelIntervalMs: 1000 } },
];

/** One withdraw from `/byoip withdraw` to `Done:` in the thread, at time scale 600 (10 simulated minutes a second). */
export async function run(): Promise<Row[]> {
  const rows: Row[] = [];
  for (const v of VARIANTS) rows.push(await once(v));
  return rows;
}

async function once(v: Variant): Promise<Row> {
  const stack = await benchStack('withdraw', { timeScale: TIME_SCALE, pollIntervalMs: 100, ...v.opts });
  try {
    const p = DEFAULT_SCENARIO.prefixes.advertised;
    const slackBefore = stack.slack.calls.length;
    const cfBefore = stack.cloudflare.state.calls.length;
    const simBefore = stack.clock.now();

    const t0 = nowMs();
    const card = await fileRequest(stack, 'U0ALICE', 'withdraw', p.cidr, 'benchmark: end-to-end withdraw');
    const carded = nowMs();
    const click = await stack.sender!.clickButton('U0BOB', { channel: CHANNEL, messageTs: card.ts, actionId: ActionId.Approve });
    const clicked = nowMs();
    const done = await stack.slack
      .waitFor(() => stack.slack.thread(CHANNEL, card.ts).find((m) => m.text.includes('Done:')), 60_000)
      .then(() => true)
      .catch(() => false);
    const end = nowMs();
    const simMinutes = (stack.clock.now() - simBefore) / 60_000;

    const slackCalls = stack.slack.calls.slice(slackBefore);
    const cfCalls = stack.cloudflare.state.calls.slice(cfBefore);
    const total = end - t0;
    return {
      bench: 'withdraw',
      case: `request -> Done: (${v.name})`,
      count: 1,
      p50: total,
      p95: total,
      p99: total,
      max: total,
      note:
        `${done ? 'Done:' : 'NO Done: within 60 s;'} request -> card ${(carded - t0).toFixed(0)} ms, Approve click HTTP ${click.status} in ${(clicked - carded).toFixed(0)} ms, ` +
        `click -> Done: ${((end - clicked) / 1000).toFixed(2)} s; ${simMinutes.toFixed(1)} simulated minutes; ` +
        `${slackCalls.length} Slack API calls (${tally(slackCalls.map((c) => c.method))}); ` +
        `${cfCalls.length} Cloudflare calls (${tally(cfCalls.map((c) => `${c.method} ${c.path.replace(/^.*\/addressing\//, '').replace(/[0-9a-f]{32}/g, ':id')}`))})`,
    };
  } finally {
    await stack.cleanup();
  }
}

function tally(items: string[]): string {
  const counts = new Map<string, number>();
  for (const i of items) counts.set(i, (counts.get(i) ?? 0) + 1);
  return [...counts]
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${n} ${k}`)
    .join(', ');
}
