import { SANDBOX_CF_WEBHOOK_SECRET } from '../world/sandbox/stack.js';
import { notificationBody } from '../world/simulator/cloudflare/notifications.js';
import { DEFAULT_SCENARIO } from '../world/simulator/cloudflare/scenarios.js';
import { benchStack, latencies, nowMs, sleep, type Row } from './lib.js';

const RUNS = 120;

/**
 * Incident time: a Cloudflare route-leak notification POSTed to `/webhooks/cloudflare` -> its alert card posted
 * (the chat.postMessage as the Slack simulator receives it). Each run is a new alert (its own correlation id), one
 * after the other; the webhook's own answer time is measured too. The card is posted after its blast radius and
 * routing view are read (shared reads, so later runs reuse them).
 */
export async function run(): Promise<Row[]> {
  const stack = await benchStack('alerts');
  const answer: number[] = [];
  const toCard: number[] = [];
  let misses = 0;
  // When the simulator received each alert card, by the alert id the card names.
  const postedAt = new Map<string, number>();
  const off = stack.slack.subscribe((e) => {
    if (e.type !== 'message' || e.message.threadTs) return;
    const id = JSON.stringify(e.message.blocks).match(/alert `([0-9a-f]{16})`/)?.[1];
    if (id && !postedAt.has(id)) postedAt.set(id, nowMs());
  });
  try {
    const url = `${stack.bot!.url}/webhooks/cloudflare`;
    for (let i = 0; i < RUNS; i++) {
      const body = notificationBody({ kind: 'route-leak', prefix: DEFAULT_SCENARIO.prefixes.advertised.cidr, correlationId: `bench-${i}-${Date.now()}` });
      const t0 = nowMs();
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'cf-webhook-auth': SANDBOX_CF_WEBHOOK_SECRET }, body: JSON.stringify(body) });
      const got = (await res.json()) as { alert?: string };
      answer.push(nowMs() - t0);
      const id = got.alert ?? '';
      for (let w = 0; w < 500 && !postedAt.has(id); w++) await sleep(5);
      const at = postedAt.get(id);
      if (at === undefined) misses++;
      else toCard.push(at - t0);
    }
  } finally {
    off();
    await stack.cleanup();
  }
  const note = `${toCard.length} runs${misses ? `, ${misses} without a card within 2.5 s` : ''}`;
  return [
    { bench: 'alerts', case: 'webhook POST -> 200', count: answer.length, ...latencies(answer) },
    { bench: 'alerts', case: 'webhook POST -> alert card posted (Slack sim)', count: toCard.length, ...latencies(toCard), note },
  ];
}
