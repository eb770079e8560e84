import { z } from 'zod';
import { parseCidr } from '../domain/cidr.js';
import { DEFAULT_ROUTING_TIMEOUT_MS, badResponse, getJson } from './http.js';
import { DEFAULT_SOURCE_APP, asnField, ripestatEnvelope, ripestatUrl } from './ripestat.js';

const familyVisibility = z.object({ ris_peers_seeing: z.number().int().nonnegative(), total_ris_peers: z.number().int().nonnegative() });
const prefixOrigin = z.object({ prefix: z.string(), origin: asnField });

const routingStatusData = z.object({
  resource: z.string().optional(),
  query_time: z.string().optional(),
  visibility: z.object({ v4: familyVisibility.optional(), v6: familyVisibility.optional() }),
  origins: z.array(z.object({ origin: asnField, route_objects: z.array(z.string()).optional() })).default([]),
  less_specifics: z.array(prefixOrigin).default([]),
  more_specifics: z.array(prefixOrigin).default([]),
});

export const routingStatusResponse = ripestatEnvelope(routingStatusData);

/** RIPEstat routing-status for a prefix. RIB-dump aligned: up to 8 hours old, so never proof of a recent change. */
export interface RoutingStatus {
  prefix: string;
  /** Full-table RIS peers of the prefix's address family. */
  totalPeers: number;
  peersSeeing: number;
  origins: number[];
  lessSpecifics: { prefix: string; origin: number }[];
  moreSpecifics: { prefix: string; origin: number }[];
}

export class RoutingStatusClient {
  private readonly baseUrl: string;
  private readonly timeoutMs: number;
  private readonly sourceApp: string;
  private readonly cacheMs: number;
  private readonly totals = new Map<4 | 6, { count: number; until: number }>();

  /** `peerCountCacheMs` (default 1 h): how long a family's total peer count is reused; 0 turns the cache off. */
  constructor(opts: { baseUrl: string; timeoutMs?: number; sourceApp?: string; peerCountCacheMs?: number }) {
    this.baseUrl = opts.baseUrl;
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_ROUTING_TIMEOUT_MS;
    this.sourceApp = opts.sourceApp ?? DEFAULT_SOURCE_APP;
    this.cacheMs = opts.peerCountCacheMs ?? 3600_000;
  }

  async status(prefix: string): Promise<RoutingStatus> {
    const cidr = parseCidr(prefix);
    const label = { service: 'RIPEstat routing-status', doing: `looking up ${cidr.text}` };
    const body = await getJson(ripestatUrl(this.baseUrl, 'routing-status', { resource: cidr.text }, this.sourceApp), routingStatusResponse, {
      timeoutMs: this.timeoutMs,
      label,
    });
    const fam = cidr.version === 4 ? body.data.visibility.v4 : body.data.visibility.v6;
    if (!fam) throw badResponse(label, `no IPv${cidr.version} visibility`);
    return {
      prefix: cidr.text,
      totalPeers: fam.total_ris_peers,
      peersSeeing: fam.ris_peers_seeing,
      origins: [...new Set(body.data.origins.map((o) => o.origin))],
      lessSpecifics: body.data.less_specifics,
      moreSpecifics: body.data.more_specifics,
    };
  }

  /**
   * The peer count a fully propagated prefix reaches: RIPEstat's full-table RIS peers of the prefix's family
   * (`visibility.v4|v6.total_ris_peers`). Chosen over the prefix's own `ris_peers_seeing` because that is 0 for a
   * prefix never announced before and up to 8 hours stale; the total peer count barely moves in 8 hours.
   */
  async usualPeerCount(prefix: string): Promise<number> {
    const version = parseCidr(prefix).version;
    const cached = this.totals.get(version);
    if (cached && cached.until > Date.now()) return cached.count;
    const count = (await this.status(prefix)).totalPeers;
    if (this.cacheMs > 0) this.totals.set(version, { count, until: Date.now() + this.cacheMs });
    return count;
  }
}
