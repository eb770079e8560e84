import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { App, HTTPReceiver, LogLevel } from '@slack/bolt';
import { SlackRequestSender } from '../world/simulator/slack/index.js';
import { SANDBOX_BOT_TOKEN, SANDBOX_SIGNING_SECRET } from '../world/sandbox/stack.js';
import { Worker } from 'node:worker_threads';
import { benchStack, CHANNEL, latencies, nowMs, sleep, type Row } from './lib.js';

const ROUNDS = 20;
const PER_ROUND = 100;
const CONCURRENCY = 100;
const BURST = 2000;
const BURST_RATE = 400; // commands per second

/**
 * Slack's side of the ack comparison, on its own event loop (a worker thread, the machine's other core): it POSTs
 * the signed requests it is given, `concurrency` at a time, and times each from send to the end of the answer.
 * In production Slack is another machine; a client in the bot's own event loop would charge the bot's work after
 * each ack (the answer at the response_url) to the ack of the next command, which no Slack client ever sees.
 */
const CLIENT_WORKER = `
const { parentPort } = require('node:worker_threads');
parentPort.on('message', async ({ url, requests, concurrency }) => {
  const out = new Array(requests.length);
  let next = 0;
  const lane = async () => {
    while (next < requests.length) {
      const i = next++;
      const t0 = performance.now();
      try {
        const res = await fetch(url, { method: 'POST', headers: requests[i].headers, body: requests[i].body });
        await res.text();
        out[i] = res.status === 200 ? performance.now() - t0 : -res.status;
      } catch {
        out[i] = -1;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, requests.length) }, lane));
  parentPort.postMessage(out);
});
`;

class SlackClient {
  private readonly worker = new Worker(CLIENT_WORKER, { eval: true });

  /** Sends the requests from the worker; resolves with each one's ack time (ms); a failed one throws. */
  send(url: string, requests: { body: string; headers: Record<string, string> }[], concurrency: number): Promise<number[]> {
    return new Promise((resolve, reject) => {
      this.worker.once('message', (out: number[]) => (out.some((v) => v < 0) ? reject(new Error(`ack failed: ${out.filter((v) => v < 0).slice(0, 3).join(', ')}`)) : resolve(out)));
      this.worker.once('error', reject);
      this.worker.postMessage({ url, requests, concurrency });
    });
  }

  stop(): Promise<number> {
    return this.worker.terminate();
  }
}

/** `count` signed `/byoip help` commands from `users`, built by the simulator (response URLs and trigger ids it honours). */
function helpCommands(sender: SlackRequestSender, users: string[], count: number) {
  return Array.from({ length: count }, (_, i) => {
    const body = new URLSearchParams(sender.payloads.command(users[i % users.length]!, 'help', { channel: CHANNEL }).fields).toString();
    return { body, headers: sender.signedHeaders(body) };
  });
}

/**
 * The ack floor: the bot's slash-command ack beside a bare Bolt app (same @slack/bolt, HTTP receiver, ack only),
 * 100 concurrent commands, interleaved in rounds so both see the same machine; then a burst of 2,000 commands at
 * 400/s: how many were answered (a real answer at the response_url, or the ack's own "busy" / "slow down"), and p99.
 */
export async function run(): Promise<Row[]> {
  const stack = await benchStack('ack-floor', { role: 'web' }); // the web role: workers would run in their own processes
  const receiver = new HTTPReceiver({ signingSecret: SANDBOX_SIGNING_SECRET, endpoints: '/slack/events', logLevel: LogLevel.ERROR });
  // Authorized locally: no auth.test round trip (there is no network), exactly what the bot's own App skips too once warm.
  const bare = new App({ receiver, logLevel: LogLevel.ERROR, authorize: async () => ({ botToken: SANDBOX_BOT_TOKEN, botId: 'B0SIMBOT', botUserId: 'U0SIMBOT' }), clientOptions: { slackApiUrl: stack.slack.apiUrl } });
  bare.command('/byoip', async ({ ack }) => ack());
  const server = (await bare.start(0)) as Server;
  const bareUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/slack/events`;
  const bareSender = new SlackRequestSender({ eventsUrl: bareUrl, signingSecret: SANDBOX_SIGNING_SECRET, sim: stack.slack, defaultChannel: CHANNEL });
  const users = Array.from({ length: 50 }, (_, i) => `U0BENCH${String(i).padStart(2, '0')}`); // spread over the per-user limit
  try {
    await stack.sender!.command('U0ALICE', 'help', { channel: CHANNEL });
    await bareSender.command('U0ALICE', 'help', { channel: CHANNEL });
    const botAcks: number[] = [];
    const bareAcks: number[] = [];
    const slack = new SlackClient();
    try {
      // A warm-up round each (connections, JIT), not counted.
      await slack.send(bareUrl, helpCommands(bareSender, users, PER_ROUND), CONCURRENCY);
      await slack.send(stack.sender!.eventsUrl, helpCommands(stack.sender!, users, PER_ROUND), CONCURRENCY);
      await sleep(500);
      for (let r = 0; r < ROUNDS; r++) {
        bareAcks.push(...(await slack.send(bareUrl, helpCommands(bareSender, users, PER_ROUND), CONCURRENCY)));
        await sleep(200);
        botAcks.push(...(await slack.send(stack.sender!.eventsUrl, helpCommands(stack.sender!, users, PER_ROUND), CONCURRENCY)));
        // The bot's answers at the response_url finish before the next round.
        await sleep(500);
      }
    } finally {
      await slack.stop();
    }
    const bot = latencies(botAcks);
    const floor = latencies(bareAcks);

    // The burst: paced sends, every one checked for an answer.
    const results: { ok: boolean; answered: boolean; ms: number; id: string; at: number }[] = [];
    const started = nowMs();
    const pending: Promise<void>[] = [];
    for (let i = 0; i < BURST; i++) {
      const due = started + (i * 1000) / BURST_RATE;
      const wait = due - nowMs();
      if (wait > 0) await sleep(wait);
      const at = Date.now();
      const t0 = nowMs();
      pending.push(
        stack.sender!.command(users[i % users.length]!, 'status', { channel: CHANNEL }).then(
          (res) => {
            const ackText = typeof res.body === 'string' ? res.body : JSON.stringify(res.body ?? '');
            results.push({ ok: res.status === 200, answered: /busy|Slow down/.test(ackText), ms: nowMs() - t0, id: decodeURIComponent(res.responseUrl.split('/').at(-1) ?? ''), at });
          },
          () => void results.push({ ok: false, answered: false, ms: nowMs() - t0, id: '', at }),
        ),
      );
    }
    await Promise.all(pending);
    // The first post at each response_url, indexed once per look (a scan per command would make the wait itself
    // quadratic and steal the CPU the bot needs: most refusals are answered at the response_url, not in the ack).
    const firstPosts = () => {
      const byId = new Map<string, { at: number }>();
      for (const post of stack.slack.responsePosts()) if (!byId.has(post.id)) byId.set(post.id, post);
      return byId;
    };
    const answered = (posts = firstPosts()) => results.filter((r) => r.answered || (r.id && posts.has(r.id))).length;
    await stack.slack.waitFor(() => answered() === BURST || undefined, 60_000).catch(() => undefined);
    const posts = firstPosts();
    const answerMs = results.flatMap((r) => {
      if (r.answered) return [r.ms];
      const post = r.id ? posts.get(r.id) : undefined;
      return post ? [post.at - r.at] : [];
    });
    const n = answered();
    return [
      { bench: 'ack-floor', case: 'bare Bolt app: ack (100 concurrent)', note: `${ROUNDS} rounds of ${PER_ROUND}, interleaved with the bot's; Slack's side on its own event loop`, count: bareAcks.length, ...floor },
      { bench: 'ack-floor', case: 'byoip-bot: ack (100 concurrent, interleaved)', count: botAcks.length, ...bot, note: `p50 ${((bot.p50 ?? 0) / (floor.p50 ?? 1)).toFixed(2)}x, p99 ${((bot.p99 ?? 0) / (floor.p99 ?? 1)).toFixed(2)}x the bare Bolt floor (bot in the web role, in one process with the bare app and the simulators; Slack's requests from a worker thread)` },
      { bench: 'ack-floor', case: `burst ${BURST} at ${BURST_RATE}/s: answered`, count: answerMs.length, ...latencies(answerMs), note: `${((100 * n) / BURST).toFixed(1)}% answered (busy, slow down or a real answer), ${results.filter((r) => !r.ok).length} non-200 acks` },
    ];
  } finally {
    await bare.stop().catch(() => undefined);
    await stack.cleanup();
  }
}
