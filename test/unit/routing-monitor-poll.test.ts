import { afterAll, describe, expect, it } from 'vitest';
import type { BgpPrefix, Prefix } from '../../src/domain/addressing.js';
import type { EnginePolicy } from '../../src/domain/policy.js';
import { BotError, ErrorCode } from '../../src/errors.js';
import { createLogger } from '../../src/logger.js';
import { BotMetrics } from '../../src/metrics.js';
import { INVENTORY_READS, POLL_BATCH, POLL_CONCURRENCY, RoutingMonitor } from '../../src/monitors/routing-monitor.js';
import { CoalescedReader } from '../../src/operations/coalesce.js';
import type { RedisClient } from '../../src/redis.js';
import type { PeerRoute } from '../../src/routing/bgp-state.js';
import { RecordingAlertSink } from '../helpers/recording-sink.js';
import { deleteKeys, newRedis, uniquePrefix } from './redis.js';

const ACCOUNT = '0123456789abcdef0123456789abcdef';
const redis = newRedis();
const prefixes: string[] = [];
afterAll(async () => {
  for (const p of prefixes) await deleteKeys(redis, `${p}*`);
  await redis.quit();
});

const cidrOf = (i: number) => `10.${Math.floor(i / 256)}.${i % 256}.0/24`;
const cloudflareRoute = (peer: number, prefix: string): PeerRoute => ({ collector: 'rrc00', peer: `198.18.0.${peer}`, prefix, path: [174, 13335], origin: 13335 });

/**
 * A fleet of `n` advertised /24s at a fake Cloudflare (counting its reads) and a fake bgp-state (counting requests and
 * how many run at once), and `replicas` monitors sharing one real Redis, as replicas of one deployment do.
 */
function fleet(n: number, replicas = 1, opts: { inventoryMs?: number; routes?: (list: readonly string[]) => Promise<PeerRoute[]>; metrics?: BotMetrics } = {}) {
  const keyPrefix = `{${uniquePrefix()}}:`;
  prefixes.push(keyPrefix);
  const reads = { bgpState: 0, prefixesAsked: 0, inFlight: 0, maxInFlight: 0, cfList: 0, cfBgp: 0, cfFailing: false, rpki: 0, rpkiInFlight: 0, rpkiMaxInFlight: 0 };
  const advertised = new Map<string, boolean>(Array.from({ length: n }, (_, i) => [`p${i}`, true]));
  const listed = () =>
    Array.from({ length: n }, (_, i) => ({ id: `p${i}`, cidr: cidrOf(i), accountId: ACCOUNT, advertised: advertised.get(`p${i}`)!, advertisedModifiedAt: null }) as unknown as Prefix);
  const cloudflare = {
    listPrefixes: async () => {
      reads.cfList++;
      if (reads.cfFailing) throw new Error('Cloudflare answered HTTP 503');
      return listed();
    },
    listBgpPrefixes: async (_a: string, id: string) => {
      reads.cfBgp++;
      const i = Number(id.slice(1));
      return [{ id: `b${id}`, cidr: cidrOf(i), onDemand: { advertised: advertised.get(id)!, advertisedModifiedAt: null } } as unknown as BgpPrefix];
    },
  };
  const routes =
    opts.routes ??
    (async (list: readonly string[]): Promise<PeerRoute[]> => {
      reads.bgpState++;
      reads.prefixesAsked += list.length;
      reads.inFlight++;
      reads.maxInFlight = Math.max(reads.maxInFlight, reads.inFlight);
      await new Promise((r) => setTimeout(r, 2));
      reads.inFlight--;
      return list.flatMap((p) => Array.from({ length: 20 }, (_, i) => cloudflareRoute(i, p)));
    });
  const sink = new RecordingAlertSink();
  const reader = new CoalescedReader(redis as unknown as RedisClient, keyPrefix);
  /** Drops the reads shared between callers (2 s), so the next refresh asks Cloudflare again. */
  const forgetShared = () => reader.invalidate(`prefixes:${ACCOUNT}`, ...Array.from({ length: n }, (_, i) => `bgp-prefixes:p${i}`));
  const monitors = Array.from(
    { length: replicas },
    () =>
      new RoutingMonitor({
        redis: redis as unknown as RedisClient,
        keyPrefix,
        policy: { cloudflare: { accounts: [{ name: 'a', id: ACCOUNT }] }, prefixes: [] } as unknown as EnginePolicy,
        cloudflare,
        reader,
        routes,
        rpki: {
          validity: async (asn: number, prefix: string) => {
            reads.rpki++;
            reads.rpkiInFlight++;
            reads.rpkiMaxInFlight = Math.max(reads.rpkiMaxInFlight, reads.rpkiInFlight);
            await new Promise((r) => setTimeout(r, 1));
            reads.rpkiInFlight--;
            return { prefix, asn, state: 'valid' as const, vrps: [], source: 'fake' };
          },
        },
        usualPeerCount: async () => 20,
        sink,
        logger: createLogger({ level: 'silent' }),
        ...(opts.metrics ? { metrics: opts.metrics } : {}),
        settings: { minPeers: 1, minVisibilityShare: 0.5, settleMs: 0, inventoryMs: opts.inventoryMs ?? 60_000, rpkiTtlMs: 600_000, pollIntervalMs: 60_000 },
      }),
  );
  return { monitors, monitor: monitors[0]!, reads, advertised, sink, forgetShared };
}

describe('routing monitor poll: batched, bounded reads', () => {
  it(`polls 100 prefixes in ${100 / POLL_BATCH} bgp-state reads of ${POLL_BATCH}, at most ${POLL_CONCURRENCY} at once, each prefix once`, async () => {
    const { monitor, reads } = fleet(100);
    const res = await monitor.pollAll();
    expect(res).toEqual({ prefixes: 100, findings: 0, failed: 0 });
    expect(reads.bgpState).toBe(100 / POLL_BATCH);
    expect(reads.prefixesAsked).toBe(100);
    expect(monitor.stats.pollReads).toBe(100 / POLL_BATCH);
    expect(reads.maxInFlight).toBeLessThanOrEqual(POLL_CONCURRENCY);
    // Every route went to its own prefix's table.
    expect(monitor.routesHeld(cidrOf(7)).map((r) => r.prefix)).toEqual(Array(20).fill(cidrOf(7)));
  });

  it('2,000 prefixes: 100 reads, 8 at a time, so a tick takes about 13 × the read latency, not 250; RPKI 8 at a time too', async () => {
    const { monitor, reads } = fleet(2000);
    await monitor.pollAll();
    expect(reads.bgpState).toBe(2000 / POLL_BATCH);
    expect(reads.maxInFlight).toBeLessThanOrEqual(POLL_CONCURRENCY);
    expect(reads.maxInFlight).toBeGreaterThan(1);
    // One RPKI look-up per prefix and origin, never more than POLL_CONCURRENCY at once (160 evaluations run together).
    expect(reads.rpki).toBe(2000);
    expect(reads.rpkiMaxInFlight).toBeLessThanOrEqual(POLL_CONCURRENCY);
    expect(reads.rpkiMaxInFlight).toBeGreaterThan(1);
  });

  it('a list RIPEstat refuses (a bad answer) is read one prefix at a time; an outage is not multiplied', async () => {
    let mode: 'bad' | 'down' = 'bad';
    const asked: number[] = [];
    const { monitor } = fleet(40, 1, {
      routes: async (list) => {
        asked.push(list.length);
        if (list.length > 1 || mode === 'down') {
          const code = mode === 'bad' ? ErrorCode.RoutingBadResponse : ErrorCode.RoutingUnavailable;
          throw new BotError(code, `RIPEstat bgp-state answered badly while looking up ${list.length} prefixes; try again later.`, true);
        }
        return Array.from({ length: 20 }, (_, i) => cloudflareRoute(i, list[0]!));
      },
    });
    expect(await monitor.pollAll()).toEqual({ prefixes: 40, findings: 0, failed: 0 });
    expect(asked.filter((n) => n === 20)).toHaveLength(2);
    expect(asked.filter((n) => n === 1)).toHaveLength(40);
    expect(monitor.routesHeld(cidrOf(39))).toHaveLength(20);
    asked.length = 0;
    mode = 'down';
    await new Promise((r) => setTimeout(r, 5));
    const down = await monitor.pollAll('RIPEstat bgp-state', { notBefore: Date.now() });
    expect(down.failed).toBe(40);
    expect(asked).toEqual([20, 20]); // two reads that failed, not forty-two
  });

  it('a route of a managed prefix nested in another goes to the most specific one only', async () => {
    const { monitor } = fleet(3, 1, {
      routes: async (list) => (list.includes('10.0.0.0/24') ? [cloudflareRoute(1, '10.0.0.0/24'), cloudflareRoute(2, '10.0.0.128/25')] : []),
    });
    await monitor.pollAll();
    expect(monitor.routesHeld('10.0.0.0/24').map((r) => r.prefix)).toEqual(['10.0.0.0/24', '10.0.0.128/25']);
  });
});

describe('routing monitor inventory: one per deployment', () => {
  it(`three replicas read Cloudflare once between them: 1 list + at most ${INVENTORY_READS} BGP-prefix reads for 2,000 prefixes`, async () => {
    const { monitors, reads } = fleet(2000, 3);
    const got = await Promise.all(monitors.map((m) => m.managed()));
    for (const g of got) expect(g).toHaveLength(2000);
    expect(reads.cfList).toBe(1);
    expect(reads.cfBgp).toBe(INVENTORY_READS);
    // Every prefix's own BGP prefix is known from the list's whole-prefix status, read or not.
    expect(got[1]!.every((m) => m.bgp.length === 1 && m.bgp[0]!.advertised === true)).toBe(true);
    // Again, with the inventory still fresh: no Cloudflare read at all.
    await Promise.all(monitors.map((m) => m.managed(true)));
    expect(reads.cfList + reads.cfBgp).toBe(1 + INVENTORY_READS);
  });

  it('each refresh reads the oldest next, and the list keeps every whole prefix current in between', async () => {
    const { monitors, reads, advertised, forgetShared } = fleet(60, 2, { inventoryMs: 60 });
    const later = async () => {
      await new Promise((r) => setTimeout(r, 80));
      await forgetShared();
    };
    await monitors[0]!.managed();
    expect(reads.cfBgp).toBe(INVENTORY_READS);
    advertised.set('p59', false); // a withdraw outside the bot, on a prefix whose BGP prefixes were never read
    await later();
    const second = await monitors[1]!.managed();
    expect(reads.cfList).toBe(2);
    expect(reads.cfBgp).toBe(2 * INVENTORY_READS);
    expect(second.find((m) => m.cidr === cidrOf(59))!.bgp[0]!.advertised).toBe(false);
    await later();
    await monitors[0]!.managed();
    await later();
    await monitors[1]!.managed();
    // Four refreshes of 20 reads cover the 60 prefixes (oldest first) and start over.
    expect(reads.cfBgp).toBe(4 * INVENTORY_READS);
    expect(reads.cfList).toBe(4);
  });
});

describe('routing monitor inventory: Cloudflare down', () => {
  it('a refresh that fails leaves the last inventory serving (no throw, no empty inventory), tried again later', async () => {
    const { monitors, reads, forgetShared } = fleet(30, 2, { inventoryMs: 60 });
    expect(await monitors[0]!.managed()).toHaveLength(30);
    reads.cfFailing = true;
    await new Promise((r) => setTimeout(r, 80));
    await forgetShared();
    expect(await monitors[1]!.managed()).toHaveLength(30);
    expect(reads.cfList).toBe(2);
    // Not again at once: this replica waits before trying Cloudflare again.
    expect(await monitors[1]!.managed()).toHaveLength(30);
    expect(reads.cfList).toBe(2);
  });
});

describe('routing monitor: a full read never undoes the stream messages that came after it was fetched', () => {
  it('a hijack announced and a route withdrawn on the stream while a poll read was in flight stay in the table', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let started!: () => void;
    const inFlight = new Promise<void>((r) => (started = r));
    const { monitor, sink } = fleet(1, 1, {
      routes: async (list) => {
        started();
        await gate;
        return list.flatMap((p) => Array.from({ length: 20 }, (_, i) => cloudflareRoute(i, p)));
      },
    });
    const cidr = cidrOf(0);
    await monitor.managed();
    const poll = monitor.pollAll();
    await inFlight; // the read has been fetched-started; RIPEstat's answer is what it held then
    monitor.applyUpdate({ collector: 'rrc01', peer: '192.0.2.9', announced: [cidr], withdrawn: [], path: [3356, 64666], origin: 64666, peerAsn: 3356, timestamp: Date.now() / 1000 });
    monitor.applyUpdate({ collector: 'rrc00', peer: '198.18.0.3', announced: [], withdrawn: [cidr], path: [], origin: null, peerAsn: 3356, timestamp: Date.now() / 1000 });
    release();
    await poll;
    await monitor.idle();
    const held = monitor.routesHeld(cidr);
    expect(held.some((r) => r.peer === '192.0.2.9' && r.origin === 64666)).toBe(true);
    expect(held.some((r) => r.peer === '198.18.0.3')).toBe(false);
    expect(held).toHaveLength(20);
    expect(monitor.stats.replayed).toBe(2);
    // The hijack is raised, and stays open after the read (not resolved by the older view).
    expect(sink.of('foreign_origin')).toHaveLength(1);
    expect(sink.resolved.filter((r) => r.key.includes('foreign_origin'))).toEqual([]);
    expect(sink.openKeys().some((k) => k.includes('foreign_origin'))).toBe(true);
  });

  it('after the stream went down, what it said last is not applied over the next read', async () => {
    const { monitor } = fleet(1);
    const cidr = cidrOf(0);
    await monitor.managed();
    monitor.applyUpdate({ collector: 'rrc01', peer: '192.0.2.9', announced: [cidr], withdrawn: [], path: [3356, 64666], origin: 64666, peerAsn: 3356, timestamp: Date.now() / 1000 });
    await monitor.idle();
    monitor.clearStreamLog();
    await monitor.pollAll();
    expect(monitor.routesHeld(cidr).some((r) => r.peer === '192.0.2.9')).toBe(false);
  });
});

describe('routing monitor metrics', () => {
  it('counts bgp-state requests and the prefixes they asked for, inventory refreshes and their reads, findings raised and resolved by type', async () => {
    const metrics = new BotMetrics({ role: 'worker', defaultMetrics: false });
    const value = async (name: string, labels: Record<string, string> = {}) => {
      const hits = (await metrics.registry.getSingleMetric(name)!.get()).values.filter((v) => Object.entries(labels).every(([k, x]) => String(v.labels[k]) === x));
      return hits.reduce((sum, v) => sum + v.value, 0);
    };
    let hijack = true;
    const { monitor } = fleet(40, 1, {
      metrics,
      routes: async (list) => [
        ...list.flatMap((p) => Array.from({ length: 20 }, (_, i) => cloudflareRoute(i, p))),
        ...(hijack && list.includes(cidrOf(3)) ? [{ collector: 'rrc01', peer: '192.0.2.9', prefix: cidrOf(3), path: [3356, 64666], origin: 64666 }] : []),
      ],
    });
    await monitor.pollAll();
    expect(await value('byoip_routing_state_reads_total')).toBe(2);
    expect(await value('byoip_routing_state_read_prefixes_total')).toBe(40);
    expect(await value('byoip_routing_inventory_refreshes_total', { outcome: 'completed' })).toBe(1);
    expect(await value('byoip_routing_inventory_cloudflare_reads_total')).toBe(1 + INVENTORY_READS);
    expect(await value('byoip_routing_findings_total', { change: 'raised', type: 'foreign_origin' })).toBe(1);
    hijack = false;
    await new Promise((r) => setTimeout(r, 5));
    await monitor.pollAll('RIPEstat bgp-state', { notBefore: Date.now() });
    expect(await value('byoip_routing_findings_total', { change: 'resolved', type: 'foreign_origin' })).toBe(1);
    expect(await value('byoip_routing_state_reads_total')).toBe(4);
    metrics.routingStream(true);
    expect(await value('byoip_routing_stream_up')).toBe(1);
    metrics.routingStream(false);
    expect(await value('byoip_routing_stream_up')).toBe(0);
    expect(await value('byoip_routing_stream_changes_total', { state: 'down' })).toBe(1);
  });
});
