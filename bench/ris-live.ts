import { FLEET_SCENARIO } from '../world/simulator/cloudflare/scenarios.js';
import { benchStack, CHANNEL, emergencyConfirmStep, latencies, nowMs, sleep, type Row } from './lib.js';

const RUNS = Number(process.env.BENCH_RIS_LIVE_RUNS ?? 100);
const POLL_RUNS = Math.min(10, RUNS);
/** Break-glass changes for the thread figure, round robin over the fleet's prefixes (each prefix is locked until its change ends). */
const THREAD_RUNS = Number(process.env.BENCH_RIS_LIVE_THREAD_RUNS ?? RUNS);
const POLL_MS = 500;
/** Simulated seconds per real second in the thread runs: a 15-minute withdraw takes 150 ms. */
const THREAD_TIME_SCALE = 6000;

/**
 * The standing routing monitor and the request watch on RIS Live, beside the polling paths they shortcut:
 *
 * 1. A more-specific of our prefix announced (rampMs 0, so every reached peer at once): from the simulator sending
 *    the first `ris_message` to the alert card posted in Slack. Beside it, the same with the stream down: the
 *    monitor's poll (RIPEstat bgp-state on the scheduler's tick, POLL_MS here, 60 s by default) finds it.
 * 2. Break-glass withdraws / advertises (THREAD_RUNS, 100 by default) over the fleet scenario's ten /24s in turn, so
 *    a prefix's change is still being followed while the next prefixes' are sent (one change per prefix at a time):
 *    from the first `ris_message` showing a change to its thread reply "RIS Live: ... withdrew / sees", beside the
 *    first looking-glass sample after that message to show the change on the card (the watch's polling path, every
 *    20 ms here and 30 s by default; samples fold into the card's Latest line, they get no thread reply).
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
    // Start-up reads land first: wait until the ticks skip because the stream is up for the deployment, then one full
    // read of every prefix, awaited, as a long-running bot would have had.
    for (let w = 0; w < 100 && ((await rm.jobs.tick()) as { skipped?: string } | undefined)?.skipped !== 'stream up'; w++) await sleep(50);
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

/** A prefix of the thread runs, and whether Cloudflare advertises it now (the next run does the opposite). */
interface Lane {
  cidr: string;
  advertised: boolean;
}

/** One break-glass change being followed: when the simulator first sent a ris_message showing it (wall ms; 0 = not yet). */
interface Followed {
  cidr: string;
  action: 'withdraw' | 'advertise';
  firstSentWall: number;
}

/** The looking-glass line the watch folds into the card ("Latest: Withdrawing: 12/40 peers ..."): its peer count. */
const LATEST_LINE = /Latest: (?:Withdrawing|Withdrawn|Propagating|Propagated): (\d+)(?:\/\d+)? peers/;

async function threadReplies(): Promise<Row[]> {
  const stack = await benchStack('ris-live-watch', {
    scenario: 'fleet',
    routingMonitor: true,
    timeScale: THREAD_TIME_SCALE,
    pollIntervalMs: 20,
    breakGlassMaxUses: THREAD_RUNS,
    // The simulated Cloudflare counts its 1,200 requests per 5 minutes in simulated time (50 ms at x6000); the bot's
    // budget counts real time unless told: the same window here, or 100 emergencies in a minute run it dry.
    cloudflareBudget: { windowMs: Math.max(100, Math.round(300_000 / THREAD_TIME_SCALE)) },
    // one on-call user sends every command and submit, far more than a person does in a minute
    env: { COMMAND_RATE_LIMIT_PER_USER: String(THREAD_RUNS * 2), INTERACTION_RATE_LIMIT_PER_USER: String(THREAD_RUNS * 2) },
  });
  const stream: number[] = [];
  const lookingGlass: number[] = [];
  let misses = 0;
  let lgMisses = 0;
  const started = Date.now();
  let ticker: NodeJS.Timeout | undefined;
  try {
    const rm = stack.bot!.routingMonitor!;
    await stack.slack.waitFor(() => rm.jobs.streamUp(), 15_000);
    await stack.slack.waitFor(() => rm.monitor.stats.evaluations >= 1, 10_000);
    const sim = stack.routing.sims.risLive;
    // The RIS Live simulator diffs the world every 50 ms of real time: 5 simulated minutes at x6000, longer than a
    // whole advertise (2-7 min delay, 1 min ramp), so the looking glass could finish the watch before the stream said
    // anything. Ticked every 5 ms here (30 simulated seconds), nearer the real stream's few seconds.
    ticker = setInterval(() => sim.tick(), 5);
    // The fleet's ten /24s. Not the default scenario's 203.0.113.0/24: its withdraw runs the drain check, whose looking-glass
    // read is shared for 1 s of real time (100 simulated minutes here), so the watch reads the pre-withdraw sample
    // until it times out.
    const lanes: Lane[] = FLEET_SCENARIO.fleet.map((f) => ({ cidr: f.cidr, advertised: true }));
    // Every change in flight, by prefix: the first ris_message showing it stamps it (one stamp per change).
    const inFlight = new Map<string, Followed>();
    sim.onMessage = (m) => {
      const d = m.data as { withdrawals?: string[]; announcements?: { prefixes?: string[] }[]; path?: number[] };
      for (const cidr of d.withdrawals ?? []) {
        const f = inFlight.get(cidr);
        if (f && f.action === 'withdraw' && !f.firstSentWall) f.firstSentWall = Date.now();
      }
      if (d.path?.at(-1) !== 13335) return;
      for (const cidr of (d.announcements ?? []).flatMap((a) => a.prefixes ?? [])) {
        const f = inFlight.get(cidr);
        if (f && f.action === 'advertise' && !f.firstSentWall) f.firstSentWall = Date.now();
      }
    };
    /** Follows one change to its RIS Live thread reply and its first looking-glass card line showing it. */
    const follow = async (f: Followed, opId: string, peersBefore: number): Promise<void> => {
      const cardTs = await until(async () => (await stack.bot!.store.get(opId))?.cardTs ?? null);
      const reply = cardTs
        ? await stack.slack.waitFor(() => stack.slack.thread(CHANNEL, cardTs).find((m) => m.text.startsWith('🛰️ RIS Live:')), 10_000).catch(() => null)
        : null;
      if (!cardTs || !reply || !f.firstSentWall) {
        misses++;
        return;
      }
      stream.push(reply.postedAt - f.firstSentWall);
      // The polling path: looking-glass samples fold into the card's Latest line (no thread reply). The first card
      // version whose looking-glass count moved the change's way, from the same first ris_message (negative when the
      // looking glass showed it first).
      const moved = (peers: number) => (f.action === 'withdraw' ? peers < peersBefore : peers > peersBefore);
      const edit = await stack.slack
        .waitFor(() => {
          const card = stack.slack.message(CHANNEL, cardTs);
          return card?.edits.find((e) => {
            const hit = LATEST_LINE.exec(JSON.stringify(e.blocks));
            return hit && moved(Number(hit[1]));
          });
        }, 10_000)
        .catch(() => null);
      if (edit) lookingGlass.push(edit.at - f.firstSentWall);
      else lgMisses++;
    };
    const followers: Promise<void>[] = [];
    let lastModal: string | null = null;
    for (let i = 0; i < THREAD_RUNS; i++) {
      // Round robin over the fleet: a prefix's previous change has the other prefixes' turns to end.
      const lane = lanes[i % lanes.length]!;
      const action = lane.advertised ? 'withdraw' : 'advertise';
      for (let w = 0; w < 2000 && (await stack.bot!.store.lockHolder(lane.cidr)); w++) await sleep(10);
      if (await stack.bot!.store.lockHolder(lane.cidr)) throw new Error(`run ${i}: ${lane.cidr} still locked 20 s after its last change`);
      // what the looking glass would count now: collector peers that see the prefix from AS13335
      const peersBefore = stack.world.visibleRoutes(lane.cidr).filter((r) => r.origin === 13335).length;
      const f: Followed = { cidr: lane.cidr, action, firstSentWall: 0 };
      inFlight.set(lane.cidr, f);
      const modal = await emergencyConfirmStep(stack, 'U0CAROL', `emergency ${action} ${lane.cidr} bench run ${i}`, `run ${i}`, lastModal);
      lastModal = modal.id;
      const sent = await stack.sender!.submitView('U0CAROL', modal.id);
      if (sent.status !== 200 || (sent.json as { response_action?: string } | undefined)?.response_action === 'errors') {
        throw new Error(`run ${i}: Send now refused (HTTP ${sent.status}): ${sent.body}`);
      }
      lane.advertised = action === 'advertise';
      const opId = await until(() => stack.bot!.store.lockHolder(lane.cidr));
      if (!opId) {
        misses++;
        continue;
      }
      followers.push(follow(f, opId, peersBefore));
    }
    await Promise.all(followers);
    sim.onMessage = null;
  } finally {
    clearInterval(ticker);
    await stack.cleanup();
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(0);
  const note =
    `${THREAD_RUNS} break-glass withdraws / advertises at time x${THREAD_TIME_SCALE}, round robin over the fleet scenario's ${FLEET_SCENARIO.fleet.length} /24s (up to ${FLEET_SCENARIO.fleet.length} changes followed at once), ${seconds} s` +
    `${misses ? `; ${misses} runs without a RIS Live reply` : ''}${lgMisses ? `; ${lgMisses} without a looking-glass card line` : ''}` +
    '; the looking-glass figure is the first card version whose looking-glass peer count moved the change\'s way, from the same first RIS Live message (samples fold into the card\'s Latest line; watch tick 20 ms here, WATCH_POLL_INTERVAL_MS 30 s by default); times are the Slack simulator\'s post / edit times (ms)';
  return [
    { bench: 'ris-live', case: 'RIS Live message -> thread reply', count: stream.length, ...latencies(stream) },
    { bench: 'ris-live', case: 'same change -> first looking-glass card line', count: lookingGlass.length, ...latencies(lookingGlass), note },
  ];
}
