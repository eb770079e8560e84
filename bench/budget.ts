import { Redis } from 'ioredis';
import { RequestBudget } from '../src/cloudflare/budget.js';
import { CloudflareClient } from '../src/cloudflare/client.js';
import { SimClock } from '../world/simulator/clock.js';
import { DEFAULT_SCENARIO } from '../world/simulator/cloudflare/scenarios.js';
import { startCloudflareSimulator, type CloudflareSimulator } from '../world/simulator/cloudflare/server.js';
import { World } from '../world/simulator/world.js';
import { benchPrefix, deleteKeys, latencies, nowMs, REDIS_URL, silent, timedPool, type Row } from './lib.js';

/** Budgeted reads: at the budget's default 100 requests per second, 2,000 took about 30 s of `npm run bench`'s 170. */
const READS = Number(process.env.BENCH_BUDGET_READS ?? 1000);
const UNBUDGETED_READS = Math.ceil(READS / 2);
const CLIENTS = 2;
const IN_FLIGHT_PER_CLIENT = 10;
/**
 * Cloudflare's 1200 requests / 5 min would not let the reads finish in a benchmark's time, so both the simulator's
 * window and the budget's limit are raised to this; the per-second limits stay as shipped (simulator: Cloudflare's
 * 200 per second per IP; budget: its default).
 */
const WINDOW_LIMIT = 100_000;

/** READS listPrefixes reads through 2 CloudflareClients, each with its own RequestBudget object on one shared Redis budget. */
export async function run(): Promise<Row[]> {
  const prefix = benchPrefix('budget');
  const world = new World({ clock: new SimClock(60), seed: 7 });
  const sim = await startCloudflareSimulator({ world, scenario: 'default', logger: silent, rateLimit: { limit: WINDOW_LIMIT } });
  const conns = Array.from({ length: CLIENTS }, () => new Redis(REDIS_URL, { maxRetriesPerRequest: 3 }));
  try {
    const budgets = conns.map((redis) => new RequestBudget({ redis, keyPrefix: `{${prefix}}:cf-budget:`, limit: WINDOW_LIMIT }));
    const budgeted = budgets.map((budget) => new CloudflareClient({ baseUrl: sim.url, apiToken: DEFAULT_SCENARIO.token, budget, logger: silent }));
    await budgeted[0]!.listPrefixes(DEFAULT_SCENARIO.accountId); // warm-up: SDK, connections, Lua scripts
    const rows = [await measure(sim, budgeted, READS, 'shared budget')];
    const usage = await budgets[0]!.usage(RequestBudget.tokenKey(DEFAULT_SCENARIO.token));
    rows[0]!.note += `; budget counted ${usage.used} requests in its window (interactive cap ${usage.caps.interactive}), paused ${usage.pausedForMs} ms`;

    // The same reads without a budget: what the per-second pacing costs, and what it saves.
    const bare = Array.from({ length: CLIENTS }, () => new CloudflareClient({ baseUrl: sim.url, apiToken: DEFAULT_SCENARIO.token, logger: silent }));
    await new Promise((r) => setTimeout(r, 1100)); // let the simulator's per-second window empty
    rows.push(await measure(sim, bare, UNBUDGETED_READS, 'no budget (for comparison)'));
    return rows;
  } finally {
    await Promise.allSettled(conns.map((c) => c.quit()));
    await sim.close();
    await deleteKeys(prefix);
  }
}

async function measure(sim: CloudflareSimulator, clients: CloudflareClient[], reads: number, label: string): Promise<Row> {
  const callsBefore = sim.state.calls.length;
  let failed = 0;
  const t0 = nowMs();
  const perClient = await Promise.all(
    clients.map((client) =>
      timedPool(Math.ceil(reads / clients.length), IN_FLIGHT_PER_CLIENT, async () => {
        await client.listPrefixes(DEFAULT_SCENARIO.accountId).catch(() => {
          failed++;
        });
      }),
    ),
  );
  const wall = nowMs() - t0;
  const calls = sim.state.calls.slice(callsBefore);
  const tooMany = calls.filter((c) => c.status === 429).length;
  const samples = perClient.flat();
  return {
    bench: 'budget',
    case: `listPrefixes, ${clients.length} clients, ${label}`,
    count: samples.length,
    ...latencies(samples),
    perSec: samples.length / (wall / 1000),
    note: `simulator 429s: ${tooMany}; ${calls.length} HTTP calls for ${samples.length} reads; ${failed} reads failed; ${clients.length} x ${IN_FLIGHT_PER_CLIENT} in flight; window limit raised to ${WINDOW_LIMIT} / 5 min`,
  };
}
