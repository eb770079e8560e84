import { z } from 'zod';
import { parseCidr } from '../domain/cidr.js';
import { DEFAULT_ROUTING_TIMEOUT_MS, getJson } from './http.js';
import { DEFAULT_SOURCE_APP, parseAsn, ripestatEnvelope, ripestatUrl } from './ripestat.js';

/** What the route collectors see for one prefix at one moment. */
export interface VisibilitySample {
  prefix: string;
  at: Date;
  /** Collector peers that have a route for the prefix (any origin). */
  peersSeeing: number;
  /** Collectors (RRCs) with at least one peer seeing it. */
  collectors: number;
  /** Origin ASN -> peers seeing the prefix with that origin (0 for an origin that is an AS_SET). */
  byOrigin: Record<number, number>;
  /** Collector (e.g. `RRC00`) -> peers seeing the prefix there. */
  byCollector?: Record<string, number>;
}

/** One collector peer's route for a prefix (the zombie hunt names who still has it, and through which path). */
export interface PeerRoute {
  /** The collector, e.g. `RRC00`. */
  collector: string;
  /** The peer's session address at the collector. */
  peer: string;
  /** The peer's own AS (the first hop of the path), when the path can be read. */
  peerAsn: number | null;
  origin: number | null;
  asPath: number[];
}

const lgPeer = z.object({
  asn_origin: z.union([z.string(), z.number()]).optional(),
  as_path: z.union([z.string(), z.array(z.union([z.number(), z.string()]))]).optional(),
  prefix: z.string().optional(),
  peer: z.string().optional(),
});

const lgData = z.object({
  rrcs: z.array(
    z.object({
      rrc: z.string(),
      location: z.string().optional(),
      peers: z.array(lgPeer),
    }),
  ),
});

export const lookingGlassResponse = ripestatEnvelope(lgData);
export type LookingGlassResponse = z.infer<typeof lookingGlassResponse>;

export interface LookingGlassOptions {
  /** `https://stat.ripe.net` in production. */
  baseUrl: string;
  timeoutMs?: number;
  sourceApp?: string;
  /** Clock for `VisibilitySample.at` (the simulated clock in tests and the sandbox). */
  now?: () => Date;
}

/**
 * RIPEstat `looking-glass`: near real-time routes of RIS peers, the source for propagation
 * (routing-status and visibility lag up to 8 hours). The prefix must match a routed prefix exactly.
 */
export class LookingGlassClient {
  private readonly baseUrl: string;
  private readonly timeoutMs: number;
  private readonly sourceApp: string;
  private readonly now: () => Date;

  constructor(opts: LookingGlassOptions) {
    this.baseUrl = opts.baseUrl;
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_ROUTING_TIMEOUT_MS;
    this.sourceApp = opts.sourceApp ?? DEFAULT_SOURCE_APP;
    this.now = opts.now ?? (() => new Date());
  }

  /** Counts peers, collectors and origins seeing exactly `prefix`. Throws InvalidInputError for a bad prefix. */
  async sample(prefix: string): Promise<VisibilitySample> {
    const cidr = parseCidr(prefix);
    const body = await getJson(
      ripestatUrl(this.baseUrl, 'looking-glass', { resource: cidr.text }, this.sourceApp),
      lookingGlassResponse,
      { timeoutMs: this.timeoutMs, label: { service: 'RIPEstat looking-glass', doing: `looking up ${cidr.text}` } },
    );
    return summarise(cidr.text, body, this.now());
  }

  /** Each peer's route for exactly `prefix`: collector, peer, AS path (bounded to the first 500 routes). */
  async routes(prefix: string): Promise<PeerRoute[]> {
    const cidr = parseCidr(prefix);
    const body = await getJson(
      ripestatUrl(this.baseUrl, 'looking-glass', { resource: cidr.text }, this.sourceApp),
      lookingGlassResponse,
      { timeoutMs: this.timeoutMs, label: { service: 'RIPEstat looking-glass', doing: `looking up the routes of ${cidr.text}` } },
    );
    return peerRoutes(body).slice(0, 500);
  }
}

/** The routes of a looking-glass answer, one per collector peer. */
export function peerRoutes(body: LookingGlassResponse): PeerRoute[] {
  const out: PeerRoute[] = [];
  for (const rrc of body.data.rrcs) {
    for (const p of rrc.peers) {
      const hops = p.as_path === undefined ? [] : (typeof p.as_path === 'string' ? p.as_path.trim().split(/\s+/) : p.as_path).map((h) => parseAsn(h)).filter((h): h is number => h !== undefined);
      out.push({ collector: rrc.rrc, peer: p.peer ?? '?', peerAsn: hops[0] ?? null, origin: lastAsn(p.as_path) ?? parseAsn(p.asn_origin) ?? null, asPath: hops.slice(0, 32) });
    }
  }
  return out;
}

/** Turns a looking-glass answer into counts; the origin is the last ASN of the AS path, else `asn_origin`. */
export function summarise(prefix: string, body: LookingGlassResponse, at: Date): VisibilitySample {
  const byOrigin: Record<number, number> = {};
  let peersSeeing = 0;
  let collectors = 0;
  const byCollector: Record<string, number> = {};
  for (const rrc of body.data.rrcs) {
    if (rrc.peers.length > 0) {
      collectors++;
      byCollector[rrc.rrc] = (byCollector[rrc.rrc] ?? 0) + rrc.peers.length;
    }
    for (const peer of rrc.peers) {
      peersSeeing++;
      const origin = lastAsn(peer.as_path) ?? parseAsn(peer.asn_origin);
      // An unreadable origin (an AS_SET) is still a route; 0 is never a legitimate origin.
      const key = origin ?? 0;
      byOrigin[key] = (byOrigin[key] ?? 0) + 1;
    }
  }
  return { prefix, at, peersSeeing, collectors, byOrigin, byCollector };
}

function lastAsn(path: string | (string | number)[] | undefined): number | undefined {
  if (path === undefined) return undefined;
  const hops = typeof path === 'string' ? path.trim().split(/\s+/) : path;
  return parseAsn(hops[hops.length - 1]);
}
