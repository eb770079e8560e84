import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import net from 'node:net';
import { LookingGlassClient } from '../../src/routing/looking-glass.js';
import { RoutingStatusClient } from '../../src/routing/routing-status.js';
import { ErrorCode, BotError, InvalidInputError } from '../../src/errors.js';
import { SimClock } from '../../world/simulator/clock.js';
import { World } from '../../world/simulator/world.js';
import { startRipestatSimulator, type RipestatSimulator } from '../../world/simulator/routing/ripestat.js';

const PREFIX = '203.0.113.0/24';

async function closedPortUrl(): Promise<string> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return `http://127.0.0.1:${port}`;
}

describe('RIPEstat looking-glass against the simulator', () => {
  let world: World;
  let clock: SimClock;
  let sim: RipestatSimulator;
  let lg: LookingGlassClient;

  beforeAll(async () => {
    clock = new SimClock(1, new Date('2026-07-13T10:00:00Z'));
    world = new World({ clock });
    sim = await startRipestatSimulator({ world });
    lg = new LookingGlassClient({ baseUrl: sim.url, timeoutMs: 500, now: () => clock.nowDate() });
  });
  afterAll(() => sim.close());
  beforeEach(() => sim.setFault({ kind: 'none' }));

  it('sees nothing for a prefix nobody announces', async () => {
    const s = await lg.sample('198.51.100.0/24');
    expect(s).toMatchObject({ prefix: '198.51.100.0/24', peersSeeing: 0, collectors: 0, byOrigin: {} });
  });

  it('counts peers, collectors and origins as the announcement ramps up', async () => {
    world.announce(PREFIX, 13335, { rampMs: 60_000, reach: 1 });
    clock.advance(30_000);
    const half = await lg.sample(PREFIX);
    expect(half.peersSeeing).toBeGreaterThan(0);
    expect(half.peersSeeing).toBeLessThan(world.totalPeers);
    clock.advance(60_000);
    const full = await lg.sample(PREFIX);
    expect(full.peersSeeing).toBe(world.totalPeers);
    expect(full.collectors).toBe(5);
    expect(full.byOrigin).toEqual({ 13335: world.totalPeers });
    expect(Math.abs(full.at.getTime() - clock.now())).toBeLessThan(1_000);
  });

  it('serves the real envelope and data shape: string asn_origin, space-separated as_path', async () => {
    const res = await fetch(`${sim.url}/data/looking-glass/data.json?resource=${PREFIX}`);
    const body = (await res.json()) as { status: string; data_call_name: string; data: { rrcs: { rrc: string; peers: Record<string, unknown>[] }[] } };
    expect(body.status).toBe('ok');
    expect(body.data_call_name).toBe('looking-glass');
    const peer = body.data.rrcs[0]!.peers[0]!;
    expect(typeof peer.asn_origin).toBe('string');
    expect(peer.as_path).toMatch(/^\d+( \d+)* 13335$/);
    expect(peer).toHaveProperty('next_hop');
    expect(peer.prefix).toBe(PREFIX);
  });

  it('maps an IP to its covering routed prefix but matches prefixes exactly', async () => {
    const res = await fetch(`${sim.url}/data/looking-glass/data.json?resource=203.0.113.7`);
    const body = (await res.json()) as { data: { rrcs: { peers: { prefix: string }[] }[] } };
    expect(body.data.rrcs[0]!.peers[0]!.prefix).toBe(PREFIX);
    expect((await lg.sample('203.0.112.0/23')).peersSeeing).toBe(0);
  });

  it('counts a second origin separately (a hijack shows up in byOrigin)', async () => {
    world.announce(PREFIX, 64666, { rampMs: 0, reach: 0.3 });
    const s = await lg.sample(PREFIX);
    expect(s.byOrigin[13335]).toBe(world.totalPeers);
    expect(s.byOrigin[64666]).toBeGreaterThan(0);
    world.withdraw(PREFIX, 64666, { decayMs: 0 });
  });

  it('sees a withdraw decay to nothing', async () => {
    world.withdraw(PREFIX, 13335, { decayMs: 60_000 });
    clock.advance(61_000);
    const s = await lg.sample(PREFIX);
    expect(s.peersSeeing).toBe(0);
    expect(s.collectors).toBe(0);
  });

  it('rejects something that is not a prefix with a sentence', async () => {
    await expect(lg.sample('not-a-prefix')).rejects.toBeInstanceOf(InvalidInputError);
    await expect(lg.sample('203.0.113.5/24')).rejects.toThrow(/host bits set/);
  });

  it('turns a slow answer into RoutingUnavailable within the timeout', async () => {
    sim.setFault({ kind: 'slow', delayMs: 3_000 });
    const t0 = Date.now();
    const err = await lg.sample(PREFIX).catch((e: unknown) => e);
    expect(Date.now() - t0).toBeLessThan(1_500);
    expect(err).toBeInstanceOf(BotError);
    expect((err as BotError).code).toBe(ErrorCode.RoutingUnavailable);
    expect((err as BotError).retryable).toBe(true);
    expect((err as BotError).userMessage).toMatch(/did not answer within 500 ms/);
  });

  it('turns garbage and a wrong shape into RoutingBadResponse', async () => {
    sim.setFault({ kind: 'garbage' });
    await expect(lg.sample(PREFIX)).rejects.toMatchObject({ code: ErrorCode.RoutingBadResponse, retryable: true });
    sim.setFault({ kind: 'malformed' });
    const err = (await lg.sample(PREFIX).catch((e: unknown) => e)) as BotError;
    expect(err.code).toBe(ErrorCode.RoutingBadResponse);
    expect(err.userMessage).toMatch(/RIPEstat looking-glass answered something we could not read/);
  });

  it('turns HTTP 500 into RoutingUnavailable', async () => {
    sim.setFault({ kind: 'error', status: 503 });
    await expect(lg.sample(PREFIX)).rejects.toMatchObject({ code: ErrorCode.RoutingUnavailable });
  });

  it('turns an unreachable service into RoutingUnavailable', async () => {
    const dead = new LookingGlassClient({ baseUrl: await closedPortUrl(), timeoutMs: 500 });
    const err = (await dead.sample(PREFIX).catch((e: unknown) => e)) as BotError;
    expect(err.code).toBe(ErrorCode.RoutingUnavailable);
    expect(err.userMessage).toMatch(/could not be reached/);
  });
});

describe('RIPEstat routing-status against the simulator', () => {
  let world: World;
  let sim: RipestatSimulator;

  beforeAll(async () => {
    world = new World({ clock: new SimClock(1, new Date('2026-07-13T10:00:00Z')) });
    sim = await startRipestatSimulator({ world });
  });
  afterAll(() => sim.close());

  it('gives the usual peer count as the family total of RIS peers (fewer peers carry IPv6)', async () => {
    const rs = new RoutingStatusClient({ baseUrl: sim.url, timeoutMs: 500 });
    expect(await rs.usualPeerCount('203.0.113.0/24')).toBe(world.totalPeersFor(4));
    expect(await rs.usualPeerCount('2001:db8::/48')).toBe(world.totalPeersFor(6));
    expect(world.totalPeersFor(6)).toBeLessThan(world.totalPeersFor(4));
  });

  it('lags to the last RIB dump: a route announced after 08:00 UTC is not there yet', async () => {
    world.announce('198.51.100.0/24', 64500, { rampMs: 0, reach: 1 });
    world.announce('198.51.100.0/23', 64500, { rampMs: 0, reach: 1, delayMs: -3 * 3600_000 });
    const rs = new RoutingStatusClient({ baseUrl: sim.url, timeoutMs: 500 });
    const s = await rs.status('198.51.100.0/24');
    expect(s.peersSeeing).toBe(0);
    expect(s.origins).toEqual([]);
    expect(s.lessSpecifics).toEqual([{ prefix: '198.51.100.0/23', origin: 64500 }]);
  });

  it('turns slow, garbage and a missing family into clear retryable errors', async () => {
    const rs = new RoutingStatusClient({ baseUrl: sim.url, timeoutMs: 300, peerCountCacheMs: 0 });
    sim.setFault({ kind: 'slow', delayMs: 2_000 });
    await expect(rs.usualPeerCount('203.0.113.0/24')).rejects.toMatchObject({ code: ErrorCode.RoutingUnavailable, retryable: true });
    sim.setFault({ kind: 'garbage' });
    await expect(rs.usualPeerCount('203.0.113.0/24')).rejects.toMatchObject({ code: ErrorCode.RoutingBadResponse });
    sim.setFault({ kind: 'malformed' });
    await expect(rs.status('203.0.113.0/24')).rejects.toMatchObject({ code: ErrorCode.RoutingBadResponse });
    sim.setFault({ kind: 'none' });
    const dead = new RoutingStatusClient({ baseUrl: await closedPortUrl(), timeoutMs: 300 });
    await expect(dead.usualPeerCount('203.0.113.0/24')).rejects.toMatchObject({ code: ErrorCode.RoutingUnavailable });
  });

  it('parses origins given as strings, integers or AS-prefixed strings', async () => {
    const { routingStatusResponse } = await import('../../src/routing/routing-status.js');
    const parsed = routingStatusResponse.parse({
      status: 'ok',
      data: {
        visibility: { v4: { ris_peers_seeing: 1, total_ris_peers: 2 } },
        origins: [{ origin: '13335' }, { origin: 64500 }, { origin: 'AS64501' }],
        less_specifics: [],
        more_specifics: [],
      },
    });
    expect(parsed.data.origins.map((o) => o.origin)).toEqual([13335, 64500, 64501]);
  });
});

describe('RIPEstat error answers', () => {
  let sim: RipestatSimulator;
  beforeAll(async () => {
    sim = await startRipestatSimulator({ world: new World() });
  });
  afterAll(() => sim.close());

  it('quotes RIPEstat\'s own message for a 400', async () => {
    const res = await fetch(`${sim.url}/data/looking-glass/data.json?resource=banana`);
    expect(res.status).toBe(400);
    const { getJson } = await import('../../src/routing/http.js');
    const { lookingGlassResponse } = await import('../../src/routing/looking-glass.js');
    const err = (await getJson(`${sim.url}/data/looking-glass/data.json?resource=banana`, lookingGlassResponse, {
      timeoutMs: 500,
      label: { service: 'RIPEstat looking-glass', doing: 'looking up banana' },
    }).catch((e: unknown) => e)) as BotError;
    expect(err.code).toBe(ErrorCode.RoutingBadResponse);
    expect(err.userMessage).toMatch(/HTTP 400: Invalid resource 'banana'/);
  });

  it('a bad base URL is a configuration sentence', async () => {
    const lg = new LookingGlassClient({ baseUrl: 'not a url' });
    await expect(lg.sample('203.0.113.0/24')).rejects.toMatchObject({ code: ErrorCode.ConfigInvalid });
  });
});
