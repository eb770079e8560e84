import { Address4, Address6 } from 'ip-address';
import { cidrContains, parseCidr } from '../../../src/domain/cidr.js';
import { validateRouteOrigin } from '../../../src/domain/route-origin-validation.js';
import { Router, startHttpServer, toSimRequest, type SimRequest, type SimResponse } from '../http.js';
import type { VisibleRoute, World } from '../world.js';
import { FaultSwitch, type SimFault } from './faults.js';
import { snapshot } from './ris-live.js';

/**
 * RIPEstat Data API simulator over the shared World: `looking-glass` (live), `routing-status`
 * (aligned to the 00/08/16 UTC RIB dumps like the real one, so up to 8 hours behind) and `rpki-validation`.
 */
export interface RipestatSimulatorOptions {
  world: World;
  port?: number;
  /** `rib-dump` (default, like RIPEstat) or `live` for routing-status. */
  routingStatusTime?: 'rib-dump' | 'live';
  /** Top-level rpki-validation status for invalid routes: `detailed` (`invalid_length`) or `plain` (`invalid`). */
  rpkiInvalidSpelling?: 'detailed' | 'plain';
}

export interface RipestatSimulator {
  url: string;
  close(): Promise<void>;
  /** Makes every endpoint misbehave until set back to `{ kind: 'none' }`. */
  setFault(fault: SimFault): void;
  /** Requests served, by endpoint name, for tests. */
  calls: Record<string, number>;
  /** TCP connections accepted so far. */
  connections: { count: number };
  /**
   * Told of each data call (its name, e.g. `bgp-state`, and its `resource`) before it is answered: a test can change
   * the world between two reads.
   */
  onRequest: ((name: string, resource: string) => void) | null;
  /** HTTP requests so far, in flight now, and the most in flight at once. */
  requests: { count: number; inFlight: number; maxInFlight: number };
}

const RIB_DUMP_MS = 8 * 3600_000;
const MIN_PEERS_SEEING = 10;

export async function startRipestatSimulator(opts: RipestatSimulatorOptions): Promise<RipestatSimulator> {
  const { world } = opts;
  const faults = new FaultSwitch();
  const calls: Record<string, number> = {};
  const router = new Router()
    .on('GET', '/data/looking-glass/data.json', (req) => lookingGlass(world, req))
    .on('GET', '/data/routing-status/data.json', (req) =>
      routingStatus(world, req, opts.routingStatusTime === 'live' ? world.clock.now() : ribDumpTime(world.clock.now())),
    )
    .on('GET', '/data/bgp-state/data.json', (req) => bgpState(world, req))
    .on('GET', '/data/rpki-validation/data.json', (req) => rpkiValidation(world, req, opts.rpkiInvalidSpelling ?? 'detailed'));

  const server = await startHttpServer(async (raw, body) => {
    const req = toSimRequest(raw, body);
    const m = router.match(req.method, req.path);
    if (!('handler' in m)) {
      return { status: m.methodMismatch ? 405 : 404, body: envelopeError('unknown', `No data call at ${req.path}`, 404) };
    }
    const name = req.path.split('/')[2] ?? '?';
    calls[name] = (calls[name] ?? 0) + 1;
    sim.onRequest?.(name, req.query.get('resource') ?? '');
    return faults.apply(() => m.handler({ ...req, params: m.params }));
  }, opts.port ?? 0);
  const sim: RipestatSimulator = { url: server.url, close: () => server.close(), setFault: (f) => faults.set(f), calls, connections: server.connections, requests: server.requests, onRequest: null };
  return sim;
}

/** The most recent RIS RIB dump (00:00, 08:00, 16:00 UTC) at or before `at`. */
export function ribDumpTime(at: number): number {
  return Math.floor(at / RIB_DUMP_MS) * RIB_DUMP_MS;
}

function ripeTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000');
}

function ripeSecond(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, '');
}

function envelope(name: string, data: unknown, messages: string[][] = []): Record<string, unknown> {
  return {
    messages,
    see_also: [],
    version: name === 'looking-glass' ? '2.1' : name === 'rpki-validation' ? '0.3' : '3.1',
    data_call_name: name,
    data_call_status: 'supported',
    cached: false,
    query_id: `sim-${Math.floor(Math.random() * 1e9)}`,
    process_time: 3,
    server_id: 'sim-1',
    build_version: 'sim',
    pipeline: '0',
    status: 'ok',
    status_code: 200,
    time: ripeTime(Date.now()),
    data,
  };
}

function envelopeError(name: string, text: string, code = 400): Record<string, unknown> {
  return { ...envelope(name, {}, [['error', text]]), status: 'error', status_code: code };
}

function badParam(name: string, text: string): SimResponse {
  return { status: 400, body: envelopeError(name, text) };
}

function tryCidr(text: string): string | undefined {
  try {
    return parseCidr(text).text;
  } catch {
    return undefined;
  }
}

/** An IP address (no length) as a host prefix, or undefined. */
function hostPrefix(text: string): string | undefined {
  if (Address4.isValid(text) && !text.includes('/')) return `${new Address4(text).correctForm()}/32`;
  if (Address6.isValid(text) && !text.includes('/')) return `${new Address6(text).correctForm()}/128`;
  return undefined;
}

function lookingGlass(world: World, req: SimRequest): SimResponse {
  const resource = (req.query.get('resource') ?? '').trim();
  const now = world.clock.now();
  let prefix = tryCidr(resource);
  if (!prefix) {
    const host = hostPrefix(resource);
    if (!host) return badParam('looking-glass', `Invalid resource '${resource}': expected a prefix or an IP address`);
    // An IP maps to the most specific routed prefix covering it.
    prefix = world
      .announcedPrefixes()
      .filter((p) => safeContains(p, host) && world.visibleRoutes(p, now).length > 0)
      .sort((a, b) => parseCidr(b).length - parseCidr(a).length)[0];
  }
  const routes = prefix ? world.visibleRoutes(prefix, now) : [];
  const byRrc = new Map<string, { rrc: string; location: string; peers: unknown[] }>();
  for (const r of routes) {
    let rrc = byRrc.get(r.peer.rrc);
    if (!rrc) byRrc.set(r.peer.rrc, (rrc = { rrc: r.peer.rrc, location: r.peer.location, peers: [] }));
    rrc.peers.push(lgPeer(r, now));
  }
  const rrcs = [...byRrc.values()].sort((a, b) => a.rrc.localeCompare(b.rrc));
  return { status: 200, body: envelope('looking-glass', { rrcs, query_time: ripeSecond(now), latest_time: ripeSecond(now), parameters: { resource, look_back_limit: 86400, cache: null } }) };
}

function lgPeer(r: VisibleRoute, now: number): Record<string, unknown> {
  // An IPv6 route reaches the collector over the peer's IPv6 session.
  const session = r.prefix.includes(':') ? (r.peer.ip6 ?? r.peer.ip) : r.peer.ip;
  return {
    asn_origin: String(r.origin),
    as_path: r.asPath.join(' '),
    community: `${r.peer.asn}:100`,
    largeCommunity: '',
    extendedCommunity: '',
    last_updated: ripeTime(r.since),
    latest_time: ripeTime(now),
    prefix: r.prefix,
    peer: session,
    origin: 'IGP',
    next_hop: session,
    community_info: {},
  };
}

function safeContains(outer: string, inner: string): boolean {
  try {
    return cidrContains(outer, inner);
  } catch {
    return false;
  }
}

/**
 * `bgp-state`: the routes RIS peers hold now for the resource and every more-specific of it (the latest RIB dump
 * plus the updates since, so current), one per peer and prefix: `source_id` is `<RRC number>-<peer IP>`, `path`
 * ends with the origin.
 */
function bgpState(world: World, req: SimRequest): SimResponse {
  const resource = (req.query.get('resource') ?? '').trim();
  // A list of comma-separated resources is combined into one answer (RIPEstat's bgp-state documentation).
  const items = resource.split(',').map((r) => r.trim()).filter((r) => r !== '');
  const prefixes: string[] = [];
  for (const item of items.length ? items : ['']) {
    const prefix = tryCidr(item);
    if (!prefix) return badParam('bgp-state', `Invalid resource '${item}': expected a prefix`);
    prefixes.push(prefix);
  }
  const now = world.clock.now();
  const peers = new Map(world.peers.map((p) => [p.ip, p]));
  const state: { target_prefix: string; source_id: string; path: number[]; community: string[] }[] = [];
  const seen = new Set<string>();
  for (const prefix of prefixes) {
    for (const [key, route] of snapshot(world, now, world.announcedWithin(prefix))) {
      if (seen.has(key)) continue; // a route inside two of the listed resources is one route
      seen.add(key);
      const [ip, target] = key.split('|') as [string, string];
      const peer = peers.get(ip)!;
      const session = target.includes(':') ? (peer.ip6 ?? peer.ip) : peer.ip;
      state.push({ target_prefix: target, source_id: `${peer.rrc.replace(/^RRC/i, '')}-${session}`, path: route.path, community: [`${peer.asn}:100`] });
    }
  }
  return { status: 200, body: envelope('bgp-state', { resource: prefixes.join(','), query_starttime: ripeSecond(now), query_endtime: ripeSecond(now), bgp_state: state, nr_routes: state.length }) };
}

function routingStatus(world: World, req: SimRequest, at: number): SimResponse {
  const resource = (req.query.get('resource') ?? '').trim();
  const prefix = tryCidr(resource);
  if (!prefix) return badParam('routing-status', `Invalid resource '${resource}': expected a prefix`);
  const version = parseCidr(prefix).version;
  const minPeers = Number(req.query.get('min_peers_seeing') ?? MIN_PEERS_SEEING);
  const routes = world.visibleRoutes(prefix, at);
  const peersSeeing = new Set(routes.map((r) => r.peer.ip)).size;
  const origins = [...new Set(routes.map((r) => r.origin))];

  const related = (pick: (p: string) => boolean) =>
    world
      .announcedPrefixes()
      .filter((p) => p !== prefix && pick(p))
      .flatMap((p) => {
        const seen = world.visibleRoutes(p, at);
        const counts = new Map<number, number>();
        for (const r of seen) counts.set(r.origin, (counts.get(r.origin) ?? 0) + 1);
        return [...counts].filter(([, n]) => n >= minPeers).map(([origin]) => ({ prefix: p, origin: String(origin) }));
      });

  const history = world.announcementsOf(prefix).filter((a) => a.start <= at);
  const data: Record<string, unknown> = {
    visibility: {
      v4: { ris_peers_seeing: version === 4 ? peersSeeing : 0, total_ris_peers: world.totalPeersFor(4) },
      v6: { ris_peers_seeing: version === 6 ? peersSeeing : 0, total_ris_peers: world.totalPeersFor(6) },
    },
    origins: origins.map((origin) => ({
      origin,
      route_objects: [...new Set(world.routeObjects.filter((o) => o.prefix === prefix && o.origin === origin && o.source !== 'RPKI').map((o) => o.source))],
    })),
    less_specifics: related((p) => safeContains(p, prefix)),
    more_specifics: related((p) => safeContains(prefix, p)),
    resource: prefix,
    query_time: ripeSecond(at),
  };
  if (history.length > 0) {
    const first = history.reduce((a, b) => (a.start <= b.start ? a : b));
    data.first_seen = { prefix, origin: String(first.origin), time: ripeSecond(first.start) };
    const lastEnd = routes.length > 0 ? at : Math.max(...history.map((a) => (a.end === null ? a.start : Math.min(at, a.end + a.decayMs))));
    const lastOrigin = routes[0]?.origin ?? history[history.length - 1]!.origin;
    data.last_seen = { prefix, origin: String(lastOrigin), time: ripeSecond(lastEnd) };
  }
  return { status: 200, body: envelope('routing-status', data) };
}

function rpkiValidation(world: World, req: SimRequest, spelling: 'detailed' | 'plain'): SimResponse {
  const resource = (req.query.get('resource') ?? '').trim();
  const prefixParam = (req.query.get('prefix') ?? '').trim();
  const asn = /^(?:AS)?(\d{1,10})$/i.exec(resource)?.[1];
  if (!asn) return badParam('rpki-validation', `Invalid resource '${resource}': expected an AS number`);
  const prefix = tryCidr(prefixParam);
  if (!prefix) return badParam('rpki-validation', `Invalid prefix '${prefixParam}'`);
  const result = validateRouteOrigin(world.roas, prefix, Number(asn));
  const perRoa = [
    ...result.matched.map((v) => ({ v, validity: 'valid' })),
    ...result.unmatchedAs.map((v) => ({ v, validity: 'invalid_asn' })),
    ...result.unmatchedLength.map((v) => ({ v, validity: 'invalid_length' })),
  ];
  const status =
    result.state === 'valid'
      ? 'valid'
      : result.state === 'not-found'
        ? 'unknown'
        : spelling === 'plain'
          ? 'invalid'
          : result.reason === 'as'
            ? 'invalid_asn'
            : 'invalid_length';
  return {
    status: 200,
    body: envelope('rpki-validation', {
      resource: asn,
      prefix,
      status,
      validator: 'routinator',
      validating_roas: perRoa.map(({ v, validity }) => ({ origin: String(v.asn), prefix: v.prefix, validity, max_length: v.maxLength })),
    }),
  };
}
