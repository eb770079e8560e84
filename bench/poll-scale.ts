import { startBot, type RunningBot } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { INVENTORY_READS, POLL_BATCH, POLL_CONCURRENCY } from '../src/monitors/routing-monitor.js';
import { addPrefixFleet } from '../world/simulator/cloudflare/scenarios.js';
import { benchStack, latencies, nowMs, silent, sleep, type BenchStack, type Row } from './lib.js';

const envInt = (name: string, fallback: number, min = 1): number => {
  const v = Number(process.env[name] ?? fallback);
  return Number.isInteger(v) && v >= min ? v : fallback;
};

/** Managed prefixes, on top of the default scenario's two. */
const PREFIXES = envInt('BENCH_POLL_PREFIXES', 2000, 0);
/** Worker replicas: bots on one Redis prefix, so one queue and one job scheduler. */
const REPLICAS = envInt('BENCH_POLL_REPLICAS', 3);
/** Scheduler intervals measured, from the first tick after every replica is up. */
const INTERVALS = envInt('BENCH_POLL_TICKS', 4);
/** The scheduler's tick (ROUTING_MONITOR_POLL_INTERVAL_MS; 60 s in production). */
const INTERVAL_MS = envInt('BENCH_POLL_INTERVAL_MS', 4000, 50);
/** Added to every RIPEstat answer: the simulator answers at once, the real one in a few hundred ms. */
const RIPESTAT_MS = envInt('BENCH_POLL_RIPESTAT_MS', 250, 0);
/** The inventory is read again after this many intervals, as in production (300 s / 60 s). */
const INVENTORY_INTERVALS = 5;
/** How long the ticks that started inside the window may take to finish before the bench reports without them. */
const DRAIN_MS = 30_000;

/** What the simulators have counted so far. */
interface Counters {
  bgpState: number;
  ripestat: number;
  ripestatConnections: number;
  rpki: number;
  rpkiConnections: number;
  cloudflare: number;
  cloudflareConnections: number;
}

interface Tick {
  replica: number;
  /** This replica's first tick (it reads RPKI for every prefix, and the inventory unless it already has it). */
  firstOnReplica: boolean;
  startMs: number;
  endMs: number;
  prefixes: number;
  failed: number;
  /** bgp-state reads this tick made itself (the rest it found in Redis, read by another tick). */
  fetched: number;
  /** Prefixes those reads asked for. */
  fetchedPrefixes: number;
  at: { start: Counters; end: Counters };
}

/**
 * The standing routing monitor's polling fallback at scale. The RIS Live stream is down (its simulator refuses every
 * connection); PREFIXES advertised /24s are managed (seeded into the simulated Cloudflare, and read by the bot through
 * its normal inventory: list prefixes, then list BGP prefixes of each); REPLICAS worker bots share one Redis prefix,
 * so one queue and one job scheduler (ROUTING_MONITOR_POLL_INTERVAL_MS = INTERVAL_MS). Each replica's
 * `RoutingMonitor.pollAll`, which the scheduler's job calls, is timed; what is read is counted at the simulators.
 *
 * Measured over INTERVALS scheduler intervals from the first tick after every replica is up: RIPEstat `bgp-state`
 * requests and prefixes asked per prefix per tick (the issue's figure: at most 1; one tick per interval is the
 * design; a request asks for POLL_BATCH prefixes), each tick's duration at RIPESTAT_MS per answer
 * against the interval, Cloudflare and RPKI reads per tick, and TCP connections against requests at the simulators
 * (keep-alive). The replicas run in this process beside the simulators: they share its CPU, event loop and fetch
 * connection pool (replicas in separate processes would each have their own).
 */
export async function run(): Promise<Row[]> {
  const stack = await benchStack('poll-scale', {
    role: 'none',
    routingMonitor: true,
    // Cloudflare's own limit (1200 per 5 min) on both sides: the inventory is one per deployment and bounded.
    env: {
      ROUTING_MONITOR_POLL_INTERVAL_MS: String(INTERVAL_MS),
      ROUTING_MONITOR_INVENTORY_MS: String(INVENTORY_INTERVALS * INTERVAL_MS),
      // The lease holder keeps trying the refused stream, slowly (production backs off to 60 s).
      RIS_LIVE_BACKOFF_MS: '1000',
      RIS_LIVE_BACKOFF_MAX_MS: '5000',
    },
  });
  const bots: RunningBot[] = [];
  try {
    addPrefixFleet(stack.cloudflare.state, stack.world, PREFIXES);
    stack.routing.sims.risLive.refuse(true);
    if (RIPESTAT_MS > 0) stack.routing.sims.ripestat.setFault({ kind: 'slow', delayMs: RIPESTAT_MS });
    return await measure(stack, bots);
  } finally {
    await Promise.allSettled(bots.map((b) => b.stop(1000)));
    await stack.cleanup();
  }
}

async function measure(stack: BenchStack, bots: RunningBot[]): Promise<Row[]> {
  const sims = stack.routing.sims;
  const counters = (): Counters => ({
    bgpState: sims.ripestat.calls['bgp-state'] ?? 0,
    ripestat: Object.values(sims.ripestat.calls).reduce((a, b) => a + b, 0),
    ripestatConnections: sims.ripestat.connections.count,
    rpki: sims.routinator.requests,
    rpkiConnections: sims.routinator.connections.count,
    cloudflare: stack.cloudflare.requests.count,
    cloudflareConnections: stack.cloudflare.connections.count,
  });
  const startedAt = nowMs();
  const debug = process.env.BENCH_POLL_DEBUG ? (line: string) => console.error(`  [poll-scale ${((nowMs() - startedAt) / 1000).toFixed(1)} s] ${line}`) : () => undefined;

  const ticks: Tick[] = [];
  /** Start times of the ticks running now, by replica. */
  const open = new Map<number, number>();
  const atStart = counters();
  // The replicas start together, as after a deploy.
  await Promise.all(
    Array.from({ length: REPLICAS }, async (_, r) => {
      const bot = await startBot({ config: loadConfig(stack.env), logger: silent, role: 'worker', routingNow: () => stack.clock.nowDate() });
      bots.push(bot);
      const monitor = bot.routingMonitor?.monitor;
      if (!monitor) throw new Error('the routing monitor did not start');
      debug(`replica ${r} up`);
      let ticked = false;
      // Timed as the scheduler's job calls it (the job looks the method up on the instance each tick).
      const pollAll = monitor.pollAll.bind(monitor);
      monitor.pollAll = async (source) => {
        const start = counters();
        const startMs = nowMs();
        const own = monitor.stats.pollReads;
        const ownPrefixes = monitor.stats.pollPrefixes;
        const firstOnReplica = !ticked;
        ticked = true;
        open.set(r, startMs);
        const res = await pollAll(source).finally(() => open.delete(r));
        const tick: Tick = { replica: r, firstOnReplica, startMs, endMs: nowMs(), prefixes: res.prefixes, failed: res.failed, fetched: monitor.stats.pollReads - own, fetchedPrefixes: monitor.stats.pollPrefixes - ownPrefixes, at: { start, end: counters() } };
        ticks.push(tick);
        debug(
          `tick on replica ${r}${firstOnReplica ? ' (its first)' : ''}: ${(tick.endMs - startMs).toFixed(0)} ms, ${tick.fetched} bgp-state reads for ${res.prefixes} prefixes` +
            ` (${res.failed} failed), ${tick.at.end.cloudflare - start.cloudflare} Cloudflare, ${tick.at.end.rpki - start.rpki} RPKI`,
        );
        return res;
      };
    }),
  );
  const upAt = nowMs();

  // The window: INTERVALS intervals from the first tick started after every replica is up; then the ticks started in
  // it are let finish (a tick slower than the interval shows as fewer ticks than intervals, and as overlaps).
  const firstStart = () => Math.min(...ticks.map((t) => t.startMs).filter((t) => t >= upAt), ...[...open.values()].filter((t) => t >= upAt));
  const startWait = INTERVAL_MS * 3 + DRAIN_MS;
  const windowStart = await until(() => Number.isFinite(firstStart()) && firstStart(), upAt + startWait);
  if (!windowStart) throw new Error(`no poll tick started within ${(startWait / 1000).toFixed(0)} s of the start`);
  const windowEnd = windowStart + INTERVALS * INTERVAL_MS;
  await sleep(Math.max(0, windowEnd - nowMs()));
  const inWindow = () => ticks.filter((t) => t.startMs >= windowStart && t.startMs < windowEnd);
  await until(() => ![...open.values()].some((t) => t < windowEnd), windowEnd + DRAIN_MS);
  const unfinished = [...open.values()].filter((t) => t < windowEnd).length;
  const measured = inWindow().sort((a, b) => a.startMs - b.startMs);
  if (!measured.length) throw new Error('no poll tick finished in the window');
  const from = measured[0]!.at.start;
  const last = measured.reduce((a, b) => (b.endMs > a.endMs ? b : a));
  const to = last.at.end;
  const end = counters();
  // Ticks not in the window that ran while it was counted (a tick started after it, overlapping its last one).
  const outside = ticks.filter((t) => !measured.includes(t) && t.startMs < last.endMs && t.endMs > windowStart).length;

  const prefixes = measured[0]!.prefixes;
  const reads = to.bgpState - from.bgpState;
  const ownPerTick = measured.map((t) => t.fetchedPrefixes / Math.max(1, t.prefixes));
  const asked = measured.reduce((n, t) => n + t.fetchedPrefixes, 0);
  const durations = measured.map((t) => t.endMs - t.startMs);
  const steady = measured.filter((t) => !t.firstOnReplica).map((t) => t.endMs - t.startMs);
  const firsts = measured.filter((t) => t.firstOnReplica).map((t) => t.endMs - t.startMs);
  const byReplica = Array.from({ length: REPLICAS }, (_, r) => measured.filter((t) => t.replica === r).length);
  const overlapping = measured.filter((t) => measured.some((u) => u !== t && u.startMs < t.endMs && t.startMs < u.endMs)).length;
  const failed = measured.reduce((n, t) => n + t.failed, 0);
  const raised = bots.reduce((n, b) => n + (b.routingMonitor?.monitor.stats.raised ?? 0), 0);
  const lat = latencies(durations);
  const f2 = (n: number) => n.toFixed(2);
  const ms = (n: number | undefined) => (n === undefined || Number.isNaN(n) ? '-' : `${n.toFixed(0)} ms`);
  const conns = (c: number, q: number) => `${c} TCP connections for ${q} requests`;

  const overlappedAll = ticks.filter((t) => ticks.some((u) => u !== t && u.startMs < t.endMs && t.startMs < u.endMs)).length;
  const inventoryLoads = bots.reduce((n, b) => n + (b.routingMonitor?.monitor.stats.inventoryLoads ?? 0), 0);
  const inventoryReads = bots.reduce((n, b) => n + (b.routingMonitor?.monitor.stats.inventoryReads ?? 0), 0);
  const runMs = nowMs() - startedAt;
  return [
    {
      bench: 'poll-scale',
      case: `tick, ${prefixes} prefixes x ${REPLICAS} replicas, stream down`,
      count: measured.length,
      ...lat,
      note:
        `bgp-state requests per prefix per tick ${(reads / (prefixes * measured.length)).toFixed(3)} (${POLL_BATCH} prefixes a request), counted at the RIPEstat simulator: ${reads} requests by the ${measured.length} ticks (scheduler jobs) ` +
        `started in ${INTERVALS} intervals of ${INTERVAL_MS} ms, run by replica ${byReplica.join('/')}; prefixes asked per prefix per tick ${f2(asked / (prefixes * measured.length))}, per interval ${f2(asked / (prefixes * INTERVALS))}` +
        `${measured.length > INTERVALS ? ` (${measured.length} jobs in ${INTERVALS} intervals: a late one caught up)` : ''}; a tick's own prefixes asked per prefix max ${f2(Math.max(...ownPerTick))}, ` +
        `min ${f2(Math.min(...ownPerTick))} (less than 1: the rest was read by an overlapping tick, or under 80 % of an interval before)` +
        `${outside ? `; ${outside} ticks from outside the window overlapped it` : ''}${unfinished ? `; ${unfinished} still running ${DRAIN_MS / 1000} s after it, not counted` : ''}. ` +
        `Tick duration (the columns) p50 ${ms(lat.p50)}, max ${ms(lat.max)}: ${lat.max! > INTERVAL_MS ? 'SLOWER than' : 'within'} this bench's ${INTERVAL_MS} ms interval (${((100 * lat.max!) / 60_000).toFixed(0)} % of the production tick of 60 s); ` +
        `a replica's first tick (${firsts.length}) p50 ${ms(latencies(firsts).p50)}, later ones (${steady.length}) p50 ${ms(latencies(steady).p50)}; ${overlapping} of ${measured.length} overlapped another. ` +
        `${((reads / (last.endMs - windowStart)) * 1000).toFixed(1)} bgp-state requests per second${RIPESTAT_MS ? `, each answered after ${RIPESTAT_MS} ms` : ''}. Failed reads ${failed}, findings ${raised} (a quiet world).`,
    },
    {
      bench: 'poll-scale',
      case: 'Cloudflare and RPKI reads',
      count: to.cloudflare - from.cloudflare,
      note:
        `Cloudflare reads per tick ${((to.cloudflare - from.cloudflare) / INTERVALS).toFixed(1)} in the window, ${end.cloudflare - atStart.cloudflare} over the run (${(runMs / 1000).toFixed(0)} s, ${REPLICAS} replicas): ` +
        `${inventoryLoads} inventory refreshes for the deployment (every ${INVENTORY_INTERVALS} intervals, whichever replica's turn), ${inventoryReads} reads between them ` +
        `(1 prefix list + at most ${INVENTORY_READS} BGP-prefix lists each; before, each replica read 1 + 1 per prefix = ${prefixes + 1} for itself). ` +
        `Cloudflare's limit of 1200 per 5 min is on (the background class keeps 144 of the bot's 960); 429 answers ${stack.cloudflare.state.calls.filter((c) => c.status === 429).length}. ` +
        `RPKI reads per tick ${((to.rpki - from.rpki) / INTERVALS).toFixed(0)}; over the run ${end.rpki - atStart.rpki} (each answer kept 10 min and shared between replicas).`,
    },
    {
      bench: 'poll-scale',
      case: `keep-alive over the run (${ticks.length} ticks)`,
      count: end.ripestat - atStart.ripestat + (end.rpki - atStart.rpki) + (end.cloudflare - atStart.cloudflare),
      note:
        `RIPEstat ${conns(end.ripestatConnections - atStart.ripestatConnections, end.ripestat - atStart.ripestat)}, at most ${sims.ripestat.requests.maxInFlight} in flight at once ` +
        `(a tick makes ${POLL_CONCURRENCY} requests at a time; ${overlappedAll} of ${ticks.length} ticks overlapped another); ` +
        `Routinator ${conns(end.rpkiConnections - atStart.rpkiConnections, end.rpki - atStart.rpki)}; ` +
        `Cloudflare ${conns(end.cloudflareConnections - atStart.cloudflareConnections, end.cloudflare - atStart.cloudflare)}. ` +
        `The ${REPLICAS} replicas share this process's fetch pool (and its CPU, with the simulators).`,
    },
  ];
}

/** Polls `fn` until it gives something or the `deadline` (nowMs) passes. */
async function until<T>(fn: () => T | null | undefined | false, deadline: number): Promise<T | null> {
  while (nowMs() < deadline) {
    const v = fn();
    if (v) return v;
    await sleep(20);
  }
  return null;
}
