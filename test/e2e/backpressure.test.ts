import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SCENARIO } from '../../world/simulator/cloudflare/scenarios.js';
import { SANDBOX_SIGNING_SECRET } from '../../world/sandbox/stack.js';
import { SlackRequestSender } from '../../world/simulator/slack/index.js';
import { CHANNEL, testStack } from '../helpers/stack.js';

type TestStack = Awaited<ReturnType<typeof testStack>>;
const ALICE = 'U0ALICE';
const BOB = 'U0BOB';
const CAROL = 'U0CAROL';
const p = DEFAULT_SCENARIO.prefixes.advertised;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const BUSY = '⌛ The bot is busy; try again in a moment.';
const idOf = (responseUrl: string) => decodeURIComponent(responseUrl.split('/response/')[1]!);

/** Burst size and rate: 2,000 at ~400/s by default; BURST_COMMANDS / BURST_RATE override. */
const BURST = Number(process.env.BURST_COMMANDS ?? 2000);
const RATE = Number(process.env.BURST_RATE ?? 400);

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

/** The bot (`npm start`: listener and workers) in its own process, as in production; resolves once /healthz answers. */
async function startBotProcess(env: Record<string, string>): Promise<{ child: ChildProcess; url: string }> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { env: { ...process.env, ...env, PORT: String(port), LOG_LEVEL: 'warn' }, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  const until = Date.now() + 20_000;
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`the bot exited with ${child.exitCode}: ${err}`);
    const ok = await fetch(`${url}/healthz`).then((r) => r.ok, () => false);
    if (ok) return { child, url };
    await sleep(100);
  }
  child.kill('SIGKILL');
  throw new Error(`the bot did not start: ${err}`);
}

function percentile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? 0;
}

describe('answers reach the user: response_url posts are retried', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await testStack();
  });
  afterAll(async () => {
    await stack.cleanup();
  });

  it('a status answer survives two 503s from the response URL (three posts, one shown)', async () => {
    stack.slack.failNextResponse({ status: 503, count: 2 });
    const before = stack.slack.ephemerals(ALICE).length;
    const res = await stack.sender!.command(ALICE, 'status', { channel: CHANNEL });
    const shown = await stack.slack.waitFor(() => stack.slack.ephemerals(ALICE).at(before), 10_000);
    expect(shown.text).toContain(p.cidr);
    expect(stack.slack.responsePosts(idOf(res.responseUrl)).map((x) => x.status)).toEqual([503, 503, 200]);
  });

  it('a refusal from the response URL (404: used or expired) is not retried', async () => {
    stack.slack.failNextResponse({ status: 404 });
    const res = await stack.sender!.command(ALICE, 'help', { channel: CHANNEL });
    await sleep(1500);
    expect(stack.slack.responsePosts(idOf(res.responseUrl)).map((x) => x.status)).toEqual([404]);
  });
});

describe(`backpressure: a burst of ${BURST} commands at ~${RATE}/s`, () => {
  let stack: TestStack;
  let bot: { child: ChildProcess; url: string };
  let sender: SlackRequestSender;
  beforeAll(async () => {
    // The simulators here, the bot in its own process (this one sends the burst and plays Slack and Cloudflare).
    stack = await testStack({ role: 'none' });
    bot = await startBotProcess({
      ...stack.env,
      // The rate limit is not what is tested here; a small queue is, so that some commands find it full.
      COMMAND_RATE_LIMIT_PER_USER: '1000000',
      COMMAND_RATE_LIMIT_PER_WORKSPACE: '1000000',
      INTERACTIVE_CONCURRENCY: process.env.BURST_CONCURRENCY ?? '4',
      INTERACTIVE_QUEUE_MAX: process.env.BURST_QUEUE ?? '40',
    });
    sender = new SlackRequestSender({ eventsUrl: `${bot.url}/slack/events`, signingSecret: SANDBOX_SIGNING_SECRET, sim: stack.slack, defaultChannel: CHANNEL });
    // Cloudflare answers slowly: the queue fills up while the coalesced list read is in flight.
    // (Through the control API, which is not under /client/v4: a fault posted to the API URL was a 404, so the burst
    // used to meet a fast Cloudflare and fill the queue only when the machine was slow.)
    const fault = await fetch(`${stack.cloudflare.controlUrl}/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ kind: 'latency', ms: Number(process.env.BURST_CF_LATENCY ?? 150), path: 'addressing/prefixes' }) });
    expect(fault.status).toBe(201);
  }, 30_000);
  afterAll(async () => {
    bot?.child.kill('SIGTERM');
    if (bot && bot.child.exitCode === null) await new Promise((r) => bot.child.once('exit', r));
    await stack.cleanup();
  });

  it('every command is answered, busy or real, and the bot still works afterwards', { timeout: 60_000 }, async () => {
    const users = [ALICE, BOB, CAROL];
    const sent: { at: number; responseUrl: string; ack: string; ackMs: number; status: number }[] = [];
    const inflight: Promise<void>[] = [];
    const started = Date.now();
    const perTick = Math.max(1, Math.round(RATE / 100)); // every 10 ms
    for (let i = 0; i < BURST; i += perTick) {
      const due = started + (i / RATE) * 1000;
      const wait = due - Date.now();
      if (wait > 0) await sleep(wait);
      for (let j = i; j < Math.min(BURST, i + perTick); j++) {
        const at = Date.now();
        inflight.push(
          sender.command(users[j % users.length]!, 'status', { channel: CHANNEL }).then(
            (r) => void sent.push({ at, responseUrl: r.responseUrl, ack: r.body, ackMs: r.elapsedMs, status: r.status }),
            () => void sent.push({ at, responseUrl: '', ack: '', ackMs: Date.now() - at, status: 0 }),
          ),
        );
      }
    }
    await Promise.all(inflight);
    const sendSeconds = (Date.now() - started) / 1000;
    expect(sent.every((s) => s.status === 200)).toBe(true);

    const busy = sent.filter((s) => s.ack.includes('The bot is busy'));
    const queued = sent.filter((s) => !s.ack);
    // every command let in gets its status report through its response URL
    const answeredAt = (s: (typeof sent)[number]) => stack.slack.responsePosts(idOf(s.responseUrl)).find((x) => x.status === 200)?.at;
    await stack.slack.waitFor(() => queued.every((s) => answeredAt(s) !== undefined) || undefined, 20_000).catch(() => undefined);
    const real = queued.filter((s) => answeredAt(s) !== undefined);
    const answerMs = real.map((s) => answeredAt(s)! - s.at);
    const figures = {
      commands: BURST,
      sendRate: Math.round(BURST / sendSeconds),
      answered: `${(((busy.length + real.length) / BURST) * 100).toFixed(1)}%`,
      busy: busy.length,
      real: real.length,
      ackP50: percentile(sent.map((s) => s.ackMs), 0.5),
      ackP99: percentile(sent.map((s) => s.ackMs), 0.99),
      answerP99: percentile(answerMs, 0.99),
    };
    console.log(`backpressure burst: ${JSON.stringify(figures)}`);
    expect(busy.every((s) => (JSON.parse(s.ack) as { text: string }).text === BUSY)).toBe(true);
    expect(busy.length + real.length).toBe(BURST);
    expect(busy.length).toBeGreaterThan(0);
    expect(real.length).toBeGreaterThan(0);

    // and once the burst is over the bot answers normally
    expect((await fetch(`${stack.cloudflare.controlUrl}/faults`, { method: 'DELETE' })).ok).toBe(true);
    const b = stack.slack.ephemerals(BOB).length;
    await sender.command(BOB, 'status', { channel: CHANNEL });
    expect((await stack.slack.waitFor(() => stack.slack.ephemerals(BOB).at(b), 5000)).text).toContain(p.cidr);
  });
});
