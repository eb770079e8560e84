import { parseCidr } from '../../../src/domain/cidr.js';
import { validateRouteOrigin, type Vrp } from '../../../src/domain/route-origin-validation.js';
import { Router, startHttpServer, toSimRequest, type SimResponse } from '../http.js';
import type { World } from '../world.js';
import { FaultSwitch, type SimFault } from './faults.js';

/** Routinator HTTP API simulator: `/api/v1/validity/<asn>/<prefix>` and `/json` over the World's ROAs. */
export interface RoutinatorSimulator {
  url: string;
  close(): Promise<void>;
  setFault(fault: SimFault): void;
  /** Requests received, for tests. */
  readonly requests: number;
  /** TCP connections accepted so far. */
  connections: { count: number };
}

const DESCRIPTIONS = {
  valid: 'At least one VRP Matches the Route Prefix',
  'not-found': 'No VRP Covers the Route Prefix',
  as: 'At least one VRP Covers the Route Prefix, but no VRP ASN matches the route origin ASN',
  length: 'At least one VRP Covers the Route Prefix, but the Route Prefix length is greater than the maximum length allowed by VRP(s) matching this route origin ASN',
};

export async function startRoutinatorSimulator(opts: { world: World; port?: number }): Promise<RoutinatorSimulator> {
  const { world } = opts;
  const faults = new FaultSwitch();
  const vrp = (v: Vrp) => ({ asn: `AS${v.asn}`, prefix: v.prefix, max_length: String(v.maxLength) });

  const validity = (asnText: string, prefixText: string): SimResponse => {
    const asn = /^AS(\d{1,10})$/i.exec(asnText)?.[1] ?? /^(\d{1,10})$/.exec(asnText)?.[1];
    let prefix: string;
    try {
      prefix = parseCidr(prefixText).text;
    } catch {
      return { status: 400, headers: { 'content-type': 'text/plain' }, body: 'Initial validation failed: invalid prefix' };
    }
    if (!asn) return { status: 400, headers: { 'content-type': 'text/plain' }, body: 'Initial validation failed: invalid ASN' };
    const r = validateRouteOrigin(world.roas, prefix, Number(asn));
    return {
      status: 200,
      body: {
        validated_route: {
          route: { origin_asn: `AS${asn}`, prefix },
          validity: {
            state: r.state,
            ...(r.reason ? { reason: r.reason } : {}),
            description: DESCRIPTIONS[r.reason ?? (r.state === 'invalid' ? 'as' : r.state)],
            VRPs: { matched: r.matched.map(vrp), unmatched_as: r.unmatchedAs.map(vrp), unmatched_length: r.unmatchedLength.map(vrp) },
          },
        },
        generatedTime: new Date(world.clock.now()).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      },
    };
  };

  const router = new Router()
    .on('GET', '/api/v1/validity/:asn/:addr/:len', (req) => validity(req.params.asn!, `${req.params.addr}/${req.params.len}`))
    .on('GET', '/validity', (req) => validity(req.query.get('asn') ?? '', req.query.get('prefix') ?? ''))
    .on('GET', '/json', () => ({
      status: 200,
      body: {
        metadata: { generated: Math.floor(world.clock.now() / 1000), generatedTime: new Date(world.clock.now()).toISOString() },
        roas: world.roas.map((r) => ({ asn: `AS${r.asn}`, prefix: r.prefix, maxLength: r.maxLength, ta: 'sim' })),
      },
    }))
    .on('GET', '/api/v1/status', () => ({ status: 200, body: { version: 'routinator-sim', serial: 1 } }));

  let requests = 0;
  const server = await startHttpServer(async (raw, body) => {
    requests++;
    const req = toSimRequest(raw, body);
    const m = router.match(req.method, req.path);
    if (!('handler' in m)) return { status: 404, headers: { 'content-type': 'text/plain' }, body: 'Not Found' };
    return faults.apply(() => m.handler({ ...req, params: m.params }));
  }, opts.port ?? 0);
  return {
    url: server.url,
    close: () => server.close(),
    setFault: (f) => faults.set(f),
    connections: server.connections,
    get requests() {
      return requests;
    },
  };
}
