import { z } from 'zod';
import { parseCidr } from '../domain/cidr.js';
import { DEFAULT_ROUTING_TIMEOUT_MS, getJson } from './http.js';
import { DEFAULT_SOURCE_APP, parseAsn, ripestatEnvelope, ripestatUrl } from './ripestat.js';

/** One route a collector peer holds: `prefix` (the resource or a more-specific of it) with its AS path. */
export interface PeerRoute {
  /** `rrc00`. */
  collector: string;
  peer: string;
  prefix: string;
  /** ASNs, first the peer's neighbour, last the origin; an AS_SET hop is null. */
  path: (number | null)[];
  origin: number | null;
}

const hop = z.union([z.number(), z.string(), z.array(z.union([z.number(), z.string()]))]);

export const bgpStateResponse = ripestatEnvelope(
  z.object({
    bgp_state: z.array(z.object({ target_prefix: z.string(), source_id: z.string(), path: z.array(hop) })),
  }),
);

/**
 * RIPEstat `bgp-state`: the routes RIS peers hold now (latest RIB dump plus the updates since) for a prefix and
 * every more-specific of it, in one read. The standing monitor's fallback when the RIS Live stream is down: unlike
 * the looking glass (exact prefix only), it also shows a /25 carved out of our /24.
 */
export class BgpStateClient {
  constructor(private readonly opts: { baseUrl: string; timeoutMs?: number; sourceApp?: string }) {}

  async routes(prefix: string): Promise<PeerRoute[]> {
    return this.routesOf([prefix]);
  }

  /**
   * The routes for several prefixes in one read: bgp-state takes a list of comma-separated resources and combines
   * the results. The caller attributes each route to its prefix (`prefix` is the route's own target prefix).
   */
  async routesOf(prefixes: readonly string[]): Promise<PeerRoute[]> {
    if (!prefixes.length) return [];
    const list = prefixes.map((p) => parseCidr(p).text);
    const doing = list.length === 1 ? `looking up ${list[0]}` : `looking up ${list.length} prefixes (${list[0]} …)`;
    const body = await getJson(
      ripestatUrl(this.opts.baseUrl, 'bgp-state', { resource: list.join(',') }, this.opts.sourceApp ?? DEFAULT_SOURCE_APP),
      bgpStateResponse,
      { timeoutMs: this.opts.timeoutMs ?? DEFAULT_ROUTING_TIMEOUT_MS, label: { service: 'RIPEstat bgp-state', doing } },
    );
    const out: PeerRoute[] = [];
    for (const r of body.data.bgp_state) {
      let target: string;
      try {
        target = parseCidr(r.target_prefix).text;
      } catch {
        continue; // a row we cannot read says nothing about our prefix
      }
      const m = /^(\d+)-(.+)$/.exec(r.source_id);
      const path = r.path.map((h) => (Array.isArray(h) ? null : (parseAsn(h) ?? null)));
      out.push({ collector: m ? `rrc${m[1]!.padStart(2, '0')}` : 'rrc??', peer: m ? m[2]! : r.source_id, prefix: target, path, origin: path.length ? (path[path.length - 1] ?? null) : null });
    }
    return out;
  }
}
