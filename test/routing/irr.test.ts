import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { IrrClient, parseRpslRoutes, readAnswer, validationTokens } from '../../src/routing/irr.js';
import { ErrorCode } from '../../src/errors.js';
import { World } from '../../world/simulator/world.js';
import { startIrrdSimulator, type IrrdSimulator } from '../../world/simulator/routing/irrd.js';

describe('IRRd whois client against the simulator', () => {
  let world: World;
  let sim: IrrdSimulator;
  let irr: IrrClient;

  beforeAll(async () => {
    world = new World();
    world.addRoa({ prefix: '203.0.113.0/24', maxLength: 24, asn: 13335 });
    world.addRouteObject({ prefix: '203.0.113.0/24', origin: 13335, source: 'RADB', descr: ['Example edge'], remarks: ['cf-validation: tok-123'], mntBy: 'MAINT-EX' });
    // A wrong-origin object is RPKI-invalid, so an RPKI-aware IRRd hides it unless the filter is off.
    world.addRouteObject({ prefix: '203.0.113.0/24', origin: 64500, source: 'RIPE', descr: [], remarks: [] });
    world.addRoa({ prefix: '198.51.100.0/24', maxLength: 24, asn: 13335 });
    world.addRouteObject({ prefix: '203.0.112.0/23', origin: 64500, source: 'RADB', descr: ['Réseau du centre de données, Zürich'], remarks: [] });
    sim = await startIrrdSimulator({ world });
    irr = new IrrClient({ host: sim.host, port: sim.port, timeoutMs: 500 });
  });
  afterAll(() => sim.close());
  beforeEach(() => sim.setFault({ kind: 'none' }));

  it('reads route objects with the RPKI filter off, keeping RPKI pseudo objects apart', async () => {
    const r = await irr.routeObjects('203.0.113.0/24');
    expect(r.routeObjects.map((o) => [o.origin, o.source]).sort()).toEqual([
      [13335, 'RADB'],
      [64500, 'RIPE'],
    ]);
    expect(r.rpkiPseudoObjects).toHaveLength(1);
    expect(r.rpkiPseudoObjects[0]).toMatchObject({ origin: 13335, source: 'RPKI' });
    expect(r.rawOrigins.sort()).toEqual([13335, 64500]);
    expect(validationTokens(r.routeObjects.find((o) => o.source === 'RADB')!)).toEqual(['tok-123']);
    expect(sim.commands).toContain('!fno-rpki-filter');
    expect(sim.commands).toContain('!r203.0.113.0/24,o');
  });

  it('returns covering route objects apart from the exact ones', async () => {
    const r = await irr.routeObjects('203.0.113.0/24');
    expect(r.coveringObjects).toEqual([expect.objectContaining({ prefix: '203.0.112.0/23', origin: 64500, source: 'RADB', descr: ['Réseau du centre de données, Zürich'] })]);
    expect(r.routeObjects.every((o) => o.prefix === '203.0.113.0/24')).toBe(true);
    expect(sim.commands).toContain('!r203.0.113.0/24,L');
  });

  it('a prefix with only a ROA has only the RPKI pseudo object', async () => {
    const r = await irr.routeObjects('198.51.100.0/24');
    expect(r.routeObjects).toEqual([]);
    expect(r.rpkiPseudoObjects).toHaveLength(1);
  });

  it('an unknown prefix has nothing', async () => {
    const r = await irr.routeObjects('192.0.2.0/24');
    expect(r).toMatchObject({ routeObjects: [], rpkiPseudoObjects: [], rawOrigins: [], coveringObjects: [] });
  });

  it.each([
    [{ kind: 'silent' as const }, ErrorCode.RoutingUnavailable, /did not answer within 500 ms/],
    [{ kind: 'slow' as const, delayMs: 2_000 }, ErrorCode.RoutingUnavailable, /did not answer/],
    [{ kind: 'hangup' as const }, ErrorCode.RoutingUnavailable, /closed the connection|could not be reached/],
    [{ kind: 'garbage' as const }, ErrorCode.RoutingBadResponse, /could not read/],
  ])('fault %o becomes a clear retryable error within the timeout', async (fault, code, text) => {
    sim.setFault(fault);
    const t0 = Date.now();
    const err = await irr.routeObjects('203.0.113.0/24').catch((e: unknown) => e);
    expect(Date.now() - t0).toBeLessThan(1_500);
    expect(err).toMatchObject({ code, retryable: true });
    expect((err as { userMessage: string }).userMessage).toMatch(text);
  });

  it('an unreachable server is RoutingUnavailable', async () => {
    const dead = new IrrClient({ host: '127.0.0.1', port: 1, timeoutMs: 500 });
    await expect(dead.routeObjects('203.0.113.0/24')).rejects.toMatchObject({ code: ErrorCode.RoutingUnavailable });
  });
});

describe('IRRd framing and RPSL parsing', () => {
  it('reads A/C, C, D and F answers', () => {
    const buf = Buffer.from('A8\nAS13335\nC\nC\nD\nF Unrecognised command\n');
    const a = readAnswer(buf)!;
    expect(a.answer).toEqual({ kind: 'data', text: 'AS13335' });
    const b = readAnswer(buf.subarray(a.used))!;
    expect(b.answer).toEqual({ kind: 'empty' });
    const c = readAnswer(buf.subarray(a.used + b.used))!;
    expect(c.answer).toEqual({ kind: 'not-found' });
    expect(readAnswer(buf.subarray(a.used + b.used + c.used))!.answer).toEqual({ kind: 'error', message: 'Unrecognised command' });
    expect(readAnswer(Buffer.from('A100\nAS1'))).toBeNull();
  });

  it('reads data whose length IRRd counted in characters (non-ASCII descr)', () => {
    const text = 'descr: Zürich €\n';
    const frame = Buffer.from(`A${Array.from(text).length}\n${text}C\nC\n`);
    const a = readAnswer(frame)!;
    expect(a.answer).toEqual({ kind: 'data', text: 'descr: Zürich €' });
    expect(readAnswer(frame.subarray(a.used))!.answer).toEqual({ kind: 'empty' });
    expect(readAnswer(frame.subarray(0, 12))).toBeNull();
  });

  it('parses continuation lines, comments and descr tokens', () => {
    const objs = parseRpslRoutes(
      'route: 203.0.113.0/24\ndescr: cf-validation: abc\n  continued\norigin: AS13335 # note\nsource: RADB\n\nroute6: 2001:db8::/48\norigin: AS64500\nsource: RPKI  # Trust Anchor: x\n',
    );
    expect(objs).toHaveLength(2);
    expect(objs[0]).toMatchObject({ origin: 13335, source: 'RADB' });
    expect(validationTokens(objs[0]!)).toEqual(['abc']);
    expect(objs[1]).toMatchObject({ prefix: '2001:db8::/48', source: 'RPKI' });
  });
});
