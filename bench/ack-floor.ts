import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { App, HTTPReceiver, LogLevel } from '@slack/bolt';
import { SlackRequestSender } from '../world/simulator/slack/index.js';
import { SANDBOX_BOT_TOKEN, SANDBOX_SIGNING_SECRET } from '../world/sandbox/stack.js';
import { benchStack, CHANNEL, latencies, nowMs, sleep, timedPool, type Row } from './lib.js';

const ROUNDS = 5;
const PER_ROUND = 100;
const CONCURRENCY = 100;
const BURST = 2000;
const BURST_RATE = 400; // commands per second

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
    for (let r = 0; r < ROUNDS; r++) {
      bareAcks.push(...(await timedPool(PER_ROUND, CONCURRENCY, async (i) => void (await bareSender.command(users[i % users.length]!, 'help', { channel: CHANNEL })))));
      botAcks.push(...(await timedPool(PER_ROUND, CONCURRENCY, async (i) => void (await stack.sender!.command(users[i % users.length]!, 'help', { channel: CHANNEL })))));
      await sleep(100);
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
      { bench: 'ack-floor', case: 'bare Bolt app: ack (100 concurrent)', count: bareAcks.length, ...floor },
      { bench: 'ack-floor', case: 'byoip-bot: ack (100 concurrent, interleaved)', count: botAcks.length, ...bot, note: `p50 ${((bot.p50 ?? 0) / (floor.p50 ?? 1)).toFixed(2)}x, p99 ${((bot.p99 ?? 0) / (floor.p99 ?? 1)).toFixed(2)}x the bare Bolt floor (bot in the web role, in the same process as the bare app and the simulators)` },
      { bench: 'ack-floor', case: `burst ${BURST} at ${BURST_RATE}/s: answered`, count: answerMs.length, ...latencies(answerMs), note: `${((100 * n) / BURST).toFixed(1)}% answered (busy, slow down or a real answer), ${results.filter((r) => !r.ok).length} non-200 acks` },
    ];
  } finally {
    await bare.stop().catch(() => undefined);
    await stack.cleanup();
  }
}
