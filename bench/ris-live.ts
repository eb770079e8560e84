import { DEFAULT_SCENARIO } from '../world/simulator/cloudflare/scenarios.js';
import { benchStack, CHANNEL, latencies, nowMs, sleep, type Row } from './lib.js';

const RUNS = Number(process.env.BENCH_RIS_LIVE_RUNS ?? 100);
const POLL_RUNS = Math.min(10, RUNS);
/** Each break-glass change is followed to its end before the next (the prefix is locked meanwhile): slower runs. */
const THREAD_RUNS = Number(process.env.BENCH_RIS_LIVE_THREAD_RUNS ?? Math.min(RUNS, 20));
const POLL_MS = 500;

/**
 * The standing routing monitor and the request watch on RIS Live, beside the polling paths they shortcut:
 *
 * 1. A more-specific of our prefix announced (rampMs 0, so every reached peer at once): from the simulator sending
 *    the first `ris_message` to the alert card posted in Slack. Beside it, the same with the stream down: the
 *    monitor's poll (RIPEstat bgp-state on the scheduler's tick, POLL_MS here, 60 s by default) finds it.
 * 2. A break-glass withdraw / advertise (THREAD_RUNS, 20 by default: each is followed to its end first, and `npm run bench` has 170 s for everything): from the first `ris_message` showing the change to the thread reply
 *    "RIS Live: ... withdrew / sees", beside the first looking-glass sample reply after that message (the watch's
 *    polling path, every 20 ms here and 30 s by default).
 */
export async function run(): Promise<Row[]> {
  const rows: Row[] = [];
  rows.push(...(await findings()));
  rows.push(...(await threadReplies()));
  return rows;
}

/** Polls an async look-up until it gives something (null after `ms`). */
async function until<T>(fn: () => Promise<T | null>, ms = 5000): Promise<T | null> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const v = await fn();
    if (v) return v;
    await sleep(5);
  }
  return null;
}

const cardsOf = (stack: Awaited<ReturnType<typeof benchStack>>) => stack.slack.messages(CHANNEL).filter((m) => !m.threadTs && JSON.stringify(m.blocks).includes('alert `'));

async function findings(): Promise<Row[]> {
  const stack = await benchStack('ris-live', { routingMonitor: true, env: { ROUTING_MONITOR_POLL_INTERVAL_MS: String(POLL_MS) } });
  const stream: number[] = [];
  const poll: number[] = [];
  let misses = 0;
  try {
    const rm = stack.bot!.routingMonitor!;
    await stack.slack.waitFor(() => rm.jobs.streamUp(), 15_000);
    await stack.slack.waitFor(() => rm.monitor.stats.evaluations >= 2, 10_000);
    // Start-up reads land first. A poll tick that began before the stream was up can finish after the stream's first
    // messages, and its full read replaces what they said (the first run then gets no card): wait until the ticks
    // skip (the stream is up for the deployment), then one full read of every prefix, awaited, as a long-running
    // bot would have had.
    for (let w = 0; w < 100 && !((await rm.jobs.tick()) as { skipped?: string } | undefined)?.skipped; w++) await sleep(50);
    await rm.monitor.pollAll('bench start');
    const sim = stack.routing.sims.risLive;
    const oneRun = async (i: number, usePoll: boolean): Promise<number | null> => {
      const cidr = `203.0.113.${(i % 2) * 128}/25`;
      const origin = 64600 + i;
      const before = cardsOf(stack).length;
      const { raised, resolved } = rm.monitor.stats;
      let firstSent = 0;
      sim.onMessage = (m) => {
        if (!firstSent && JSON.stringify(m.data.announcements).includes(cidr)) firstSent = nowMs();
      };
      const t0 = nowMs();
      stack.world.announce(cidr, origin, { rampMs: 0, reach: 0.3 });
      if (!usePoll) sim.tick();
      const card = await stack.slack.waitFor(() => cardsOf(stack)[before], 10_000).catch(() => null);
      const t1 = nowMs();
      sim.onMessage = null;
      stack.world.withdraw(cidr, origin, { decayMs: 0 });
      sim.tick();
      // the next run starts from a quiet prefix: what this run raised is resolved
      for (let w = 0; w < 500 && rm.monitor.stats.resolved - resolved < rm.monitor.stats.raised - raised; w++) await sleep(5);
      if (!card) return null;
      return usePoll ? t1 - t0 : t1 - (firstSent || t0);
    };
    for (let i = 0; i < RUNS; i++) {
      const ms = await oneRun(i, false);
      if (ms === null) misses++;
      else stream.push(ms);
    }
    // The stream down: the scheduler's poll is the only source.
    sim.refuse(true);
    sim.dropAll();
    await stack.slack.waitFor(() => !rm.jobs.streamUp(), 10_000);
    for (let i = 0; i < POLL_RUNS; i++) {
      const ms = await oneRun(RUNS + i, true);
      if (ms === null) misses++;
      else poll.push(ms);
    }
  } finally {
    await stack.cleanup();
  }
  const note = `a /25 of our /24 announced to 30% of peers at once; ${misses ? `${misses} runs without a card within 10 s; ` : ''}the poll tick is ${POLL_MS} ms here (ROUTING_MONITOR_POLL_INTERVAL_MS, 60 s by default): each run starts just after the tick that cleared the previous finding, so the polling path here is about one tick plus one read`;
  return [
    { bench: 'ris-live', case: 'RIS Live message -> alert card posted', count: stream.length, ...latencies(stream) },
    { bench: 'ris-live', case: `stream down: announce -> card (poll ${POLL_MS} ms)`, count: poll.length, ...latencies(poll), note },
  ];
}

async function threadReplies(): Promise<Row[]> {
  const stack = await benchStack('ris-live-watch', { routingMonitor: true, timeScale: 6000, pollIntervalMs: 20, breakGlassMaxUses: THREAD_RUNS, env: { COMMAND_RATE_LIMIT_PER_USER: '1000' } });
  const stream: number[] = [];
  const lookingGlass: number[] = [];
  let misses = 0;
  try {
    const rm = stack.bot!.routingMonitor!;
    await stack.slack.waitFor(() => rm.jobs.streamUp(), 15_000);
    const sim = stack.routing.sims.risLive;
    const p = DEFAULT_SCENARIO.prefixes.advertised;
    for (let i = 0; i < THREAD_RUNS; i++) {
      const action = i % 2 === 0 ? 'withdraw' : 'advertise';
      let firstSentWall = 0;
      sim.onMessage = (m) => {
        if (firstSentWall) return;
        const hit = action === 'withdraw' ? JSON.stringify(m.data.withdrawals).includes(p.cidr) : JSON.stringify(m.data.announcements).includes(p.cidr) && (m.data.path as number[]).at(-1) === 13335;
        if (hit) firstSentWall = Date.now();
      };
      const eph = stack.slack.ephemerals('U0CAROL').length;
      await stack.sender!.command('U0CAROL', `emergency ${action} ${p.cidr} bench run ${i}`, { channel: CHANNEL });
      const modal = await stack.slack.waitFor(() => stack.slack.openModal('U0CAROL'), 5000).catch(() => {
        throw new Error(`run ${i}: no confirm step for the emergency ${action}; the bot said: ${stack.slack.ephemerals('U0CAROL').slice(eph).map((e) => e.text).join(' / ') || 'nothing'}`);
      });
      await stack.sender!.submitView('U0CAROL', modal.id);
      const opId = await until(() => stack.bot!.store.lockHolder(p.cidr));
      const threadTs = opId ? await until(async () => (await stack.bot!.store.get(opId))?.cardTs ?? null) : null;
      const reply = threadTs
        ? await stack.slack.waitFor(() => stack.slack.thread(CHANNEL, threadTs).find((m) => m.text.startsWith(':satellite: RIS Live:')), 10_000).catch(() => null)
        : null;
      if (reply && threadTs && firstSentWall) {
        stream.push(reply.postedAt - firstSentWall);
        const sample = await stack.slack
          .waitFor(() => stack.slack.thread(CHANNEL, threadTs).find((m) => m.text.startsWith(':satellite_antenna:') && m.postedAt >= firstSentWall), 10_000)
          .catch(() => null);
        if (sample) lookingGlass.push(sample.postedAt - firstSentWall);
      } else misses++;
      sim.onMessage = null;
      for (let w = 0; w < 1000 && (await stack.bot!.store.lockHolder(p.cidr)); w++) await sleep(10);
    }
  } finally {
    await stack.cleanup();
  }
  const note = `break-glass withdraw / advertise at time x6000${misses ? `; ${misses} runs without a RIS Live reply` : ''}; the looking-glass figure is the first sample reply posted after the first RIS Live message (watch tick 20 ms here, WATCH_POLL_INTERVAL_MS 30 s by default); times are the Slack simulator's post times (ms)`;
  return [
    { bench: 'ris-live', case: 'RIS Live message -> thread reply', count: stream.length, ...latencies(stream) },
    { bench: 'ris-live', case: 'same change -> first looking-glass reply', count: lookingGlass.length, ...latencies(lookingGlass), note },
  ];
}
