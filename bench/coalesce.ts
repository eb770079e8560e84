import { Redis } from 'ioredis';
import { RequestBudget } from '../src/cloudflare/budget.js';
import { CloudflareClient } from '../src/cloudflare/client.js';
import type { BgpPrefix } from '../src/domain/addressing.js';
import { CoalescedReader } from '../src/operations/coalesce.js';
import { SimClock } from '../world/simulator/clock.js';
import { DEFAULT_SCENARIO } from '../world/simulator/cloudflare/scenarios.js';
import { startCloudflareSimulator } from '../world/simulator/cloudflare/server.js';
import { World } from '../world/simulator/world.js';
import { benchPrefix, deleteKeys, latencies, nowMs, REDIS_URL, silent, sleep, type Row } from './lib.js';

const WATCHERS = 500;
const REPLICAS = 2;
const TICKS = 5;
const TICK_MS = 500;

/**
 * 500 watchers of one prefix, split over 2 "replicas" (each its own Redis connection and CoalescedReader), all
 * reading the prefix's BGP state from the Cloudflare simulator at once, for 5 ticks. The watcher's TTL rule is used
 * (80 % of the poll interval), so the ideal is one fetch per tick.
 */
export async function run(): Promise<Row[]> {
  const prefix = benchPrefix('coalesce');
  const world = new World({ clock: new SimClock(600), seed: 7 });
  const sim = await startCloudflareSimulator({ world, scenario: 'default', logger: silent });
  const conns = Array.from({ length: REPLICAS }, () => new Redis(REDIS_URL, { maxRetriesPerRequest: 3 }));
  try {
    const budget = new RequestBudget({ redis: conns[0]!, keyPrefix: `{${prefix}}:cf-budget:` });
    const client = new CloudflareClient({ baseUrl: sim.url, apiToken: DEFAULT_SCENARIO.token, budget });
    const readers = conns.map((c) => new CoalescedReader(c, `{${prefix}}:`));
    const p = DEFAULT_SCENARIO.prefixes.advertised;
    const fetch = () => client.getBgpPrefix(DEFAULT_SCENARIO.accountId, p.id, p.bgpPrefixId);
    const ttl = Math.max(1, Math.floor(TICK_MS * 0.8));
    await fetch(); // warm the SDK and the connection, so tick 1 is not a cold start
    const cfBefore = sim.state.calls.length;

    const commandsBefore = await commandsProcessed(conns[0]!);
    const tickMs: number[] = [];
    const reads: number[] = [];
    let served = 0;
    let wrong = 0;
    const t0 = nowMs();
    for (let tick = 0; tick < TICKS; tick++) {
      const tickStart = nowMs();
      await Promise.all(
        Array.from({ length: WATCHERS }, async (_, w) => {
          const r0 = nowMs();
          const bgp = await readers[w % REPLICAS]!.read<BgpPrefix>(`cf-bgp:${p.bgpPrefixId}`, ttl, fetch);
          reads.push(nowMs() - r0);
          served++;
          if (bgp.id !== p.bgpPrefixId) wrong++;
        }),
      );
      tickMs.push(nowMs() - tickStart);
      const left = TICK_MS - (nowMs() - tickStart);
      if (tick < TICKS - 1 && left > 0) await sleep(left);
    }
    const wall = nowMs() - t0;
    const commands = (await commandsProcessed(conns[0]!)) - commandsBefore;
    const fetches = readers.reduce((n, r) => n + r.fetches, 0);
    const cfCalls = sim.state.calls.length - cfBefore;
    return [
      {
        bench: 'coalesce',
        case: `${WATCHERS} watchers x ${TICKS} ticks, one prefix`,
        count: served,
        ...latencies(reads),
        perSec: served / (wall / 1000),
        note:
          `fetches made ${fetches} (at most one per tick: ${TICKS}) for ${served} reads served (${(served / Math.max(1, fetches)).toFixed(0)} reads per fetch); ` +
          `Cloudflare simulator saw ${cfCalls} calls; ${REPLICAS} readers on separate connections; tick ${TICK_MS} ms, TTL ${ttl} ms; ${wrong} wrong answers; ` +
          `slowest tick took ${Math.max(...tickMs).toFixed(0)} ms; Redis processed ~${commands} commands (${(commands / served).toFixed(1)} per read, server-wide) as waiters poll every 20 ms`,
      },
    ];
  } finally {
    await Promise.allSettled(conns.map((c) => c.quit()));
    await sim.close();
    await deleteKeys(prefix);
  }
}

/** Commands the Redis server has processed so far (server-wide: other clients add noise). */
async function commandsProcessed(redis: Redis): Promise<number> {
  const m = /^total_commands_processed:(\d+)/m.exec(await redis.info('stats'));
  return m ? Number(m[1]) : NaN;
}
