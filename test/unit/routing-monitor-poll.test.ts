import { describe, expect, it } from 'vitest';
import type { BgpPrefix, Prefix } from '../../src/domain/addressing.js';
import type { EnginePolicy } from '../../src/domain/policy.js';
import { createLogger } from '../../src/logger.js';
import { POLL_CONCURRENCY, RoutingMonitor } from '../../src/monitors/routing-monitor.js';
import type { RedisClient } from '../../src/redis.js';
import type { PeerRoute } from '../../src/routing/bgp-state.js';
import { RecordingAlertSink } from '../helpers/recording-sink.js';

const ACCOUNT = '0123456789abcdef0123456789abcdef';

/** A monitor over `n` advertised /24s whose reads (bgp-state, RPKI) are fakes that count how many run at once. */
function monitorOf(n: number) {
  const reads = { bgpState: 0, inFlight: 0, maxInFlight: 0 };
  const hashes = new Map<string, Record<string, string>>();
  const redis = {
    hgetall: async (k: string) => ({ ...(hashes.get(k) ?? {}) }),
    hset: async (k: string, f: string, v: string) => void hashes.set(k, { ...(hashes.get(k) ?? {}), [f]: v }),
    hdel: async (k: string, f: string) => {
      const h = hashes.get(k);
      if (h) delete h[f];
    },
  } as unknown as RedisClient;
  const cidr = (i: number) => `10.0.${i}.0/24`;
  const prefixes = Array.from({ length: n }, (_, i) => ({ id: `p${i}`, cidr: cidr(i), accountId: ACCOUNT }) as unknown as Prefix);
  const monitor = new RoutingMonitor({
    redis,
    keyPrefix: '{t}:',
    policy: { cloudflare: { accounts: [{ name: 'a', id: ACCOUNT }] }, prefixes: [] } as unknown as EnginePolicy,
    cloudflare: {
      listPrefixes: async () => prefixes,
      listBgpPrefixes: async (_a: string, id: string) => [{ id: `b${id}`, cidr: cidr(Number(id.slice(1))), onDemand: { advertised: true, advertisedModifiedAt: null } } as unknown as BgpPrefix],
    },
    // No Redis in between: every read is a fetch.
    reader: { read: (_key, _ttl, fetch) => fetch() },
    routes: async (p: string): Promise<PeerRoute[]> => {
      reads.bgpState++;
      reads.inFlight++;
      reads.maxInFlight = Math.max(reads.maxInFlight, reads.inFlight);
      await new Promise((r) => setTimeout(r, 2));
      reads.inFlight--;
      return Array.from({ length: 20 }, (_, i) => ({ collector: 'rrc00', peer: `198.18.0.${i}`, prefix: p, path: [174, 13335], origin: 13335 }));
    },
    rpki: { validity: async (asn: number, prefix: string) => ({ prefix, asn, state: 'valid', vrps: [], source: 'fake' }) },
    usualPeerCount: async () => 20,
    sink: new RecordingAlertSink(),
    logger: createLogger({ level: 'silent' }),
    settings: { minPeers: 1, minVisibilityShare: 0.5, settleMs: 0, inventoryMs: 60_000, rpkiTtlMs: 600_000, pollIntervalMs: 60_000 },
  });
  return { monitor, reads };
}

describe('routing monitor poll: bounded reads', () => {
  it(`reads every prefix once per poll, ${POLL_CONCURRENCY} at a time (not all at once)`, async () => {
    const { monitor, reads } = monitorOf(100);
    const res = await monitor.pollAll();
    expect(res).toEqual({ prefixes: 100, findings: 0, failed: 0 });
    expect(reads.bgpState).toBe(100);
    expect(monitor.stats.pollReads).toBe(100);
    expect(reads.maxInFlight).toBe(POLL_CONCURRENCY);
  });

  it('fewer prefixes than lanes: each read once', async () => {
    const { monitor, reads } = monitorOf(3);
    await monitor.pollAll();
    expect(reads.bgpState).toBe(3);
    expect(reads.maxInFlight).toBeLessThanOrEqual(3);
  });
});
