import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FallbackRpkiValidator, RipestatRpkiClient, RoutinatorClient, ripestatRpkiResponse } from '../../src/routing/rpki.js';
import { ErrorCode, BotError } from '../../src/errors.js';
import { World } from '../../world/simulator/world.js';
import { startRoutinatorSimulator, type RoutinatorSimulator } from '../../world/simulator/routing/routinator.js';
import { startRipestatSimulator, type RipestatSimulator } from '../../world/simulator/routing/ripestat.js';
import { validateRouteOrigin } from '../../src/domain/route-origin-validation.js';

describe('route origin validation (pure)', () => {
  const vrps = [{ prefix: '198.51.100.0/23', maxLength: 23, asn: 13335 }];
  it('the maxLength trap: a /23 ROA with maxLength 23 makes the /24 invalid (length)', () => {
    expect(validateRouteOrigin(vrps, '198.51.100.0/24', 13335)).toMatchObject({ state: 'invalid', reason: 'length' });
    expect(validateRouteOrigin(vrps, '198.51.100.0/23', 13335).state).toBe('valid');
  });
  it('reason is as whenever another AS covers it', () => {
    expect(validateRouteOrigin([...vrps, { prefix: '198.51.100.0/24', maxLength: 24, asn: 64500 }], '198.51.100.0/24', 13335)).toMatchObject({
      state: 'invalid',
      reason: 'as',
    });
  });
  it('not-found without a covering VRP', () => {
    expect(validateRouteOrigin(vrps, '203.0.113.0/24', 13335).state).toBe('not-found');
  });
});

describe.each(['routinator', 'ripestat-detailed', 'ripestat-plain'] as const)('RPKI client against the %s simulator', (kind) => {
  let world: World;
  let sim: RoutinatorSimulator | RipestatSimulator;
  let client: RoutinatorClient | RipestatRpkiClient;

  beforeAll(async () => {
    world = new World();
    world.addRoa({ prefix: '198.51.100.0/23', maxLength: 23, asn: 13335 });
    world.addRoa({ prefix: '203.0.113.0/24', maxLength: 24, asn: 13335 });
    world.addRoa({ prefix: '203.0.113.0/24', maxLength: 24, asn: 64500 });
    world.addRoa({ prefix: '2001:db8::/32', maxLength: 48, asn: 13335 });
    if (kind === 'routinator') {
      sim = await startRoutinatorSimulator({ world });
      client = new RoutinatorClient({ baseUrl: sim.url, timeoutMs: 500 });
    } else {
      sim = await startRipestatSimulator({ world, rpkiInvalidSpelling: kind === 'ripestat-plain' ? 'plain' : 'detailed' });
      client = new RipestatRpkiClient({ baseUrl: sim.url, timeoutMs: 500 });
    }
  });
  afterAll(() => sim.close());
  beforeEach(() => sim.setFault({ kind: 'none' }));

  it('valid, with a second ROA for another AS alongside', async () => {
    const v = await client.validity(13335, '203.0.113.0/24');
    expect(v.state).toBe('valid');
    expect(v.vrps.map((x) => x.relation).sort()).toEqual(['as', 'matched']);
  });

  it('invalid for length (the maxLength trap), with the short VRP named', async () => {
    const v = await client.validity(13335, '198.51.100.0/24');
    expect(v).toMatchObject({ state: 'invalid', reason: 'length' });
    expect(v.vrps).toEqual([{ prefix: '198.51.100.0/23', maxLength: 23, asn: 13335, relation: 'length' }]);
  });

  it('invalid for origin', async () => {
    expect(await client.validity(64666, '203.0.113.0/24')).toMatchObject({ state: 'invalid', reason: 'as' });
  });

  it('not-found without a ROA, and IPv6 works', async () => {
    expect((await client.validity(13335, '192.0.2.0/24')).state).toBe('not-found');
    expect((await client.validity(13335, '2001:db8:1::/48')).state).toBe('valid');
  });

  it('slow, garbage and broken answers become retryable routing errors within the timeout', async () => {
    sim.setFault({ kind: 'slow', delayMs: 2_000 });
    const t0 = Date.now();
    await expect(client.validity(13335, '203.0.113.0/24')).rejects.toMatchObject({ code: ErrorCode.RoutingUnavailable, retryable: true });
    expect(Date.now() - t0).toBeLessThan(1_500);
    sim.setFault({ kind: 'garbage' });
    await expect(client.validity(13335, '203.0.113.0/24')).rejects.toMatchObject({ code: ErrorCode.RoutingBadResponse });
    sim.setFault({ kind: 'malformed' });
    await expect(client.validity(13335, '203.0.113.0/24')).rejects.toMatchObject({ code: ErrorCode.RoutingBadResponse });
    sim.setFault({ kind: 'error' });
    await expect(client.validity(13335, '203.0.113.0/24')).rejects.toMatchObject({ code: ErrorCode.RoutingUnavailable });
  });
});

describe('RIPEstat rpki-validation parsing', () => {
  it('treats any status starting with invalid as invalid', () => {
    for (const status of ['invalid', 'invalid_asn', 'invalid_length']) {
      const r = ripestatRpkiResponse.parse({ status: 'ok', data: { status, validating_roas: [] } });
      expect(r.data.status.startsWith('invalid')).toBe(true);
    }
  });
});

describe('FallbackRpkiValidator', () => {
  it('uses the second validator when the first is unreachable', async () => {
    const world = new World();
    world.addRoa({ prefix: '203.0.113.0/24', maxLength: 24, asn: 13335 });
    const ripe = await startRipestatSimulator({ world });
    try {
      const v = new FallbackRpkiValidator([
        new RoutinatorClient({ baseUrl: 'http://127.0.0.1:1', timeoutMs: 300 }),
        new RipestatRpkiClient({ baseUrl: ripe.url, timeoutMs: 500 }),
      ]);
      expect(await v.validity(13335, '203.0.113.0/24')).toMatchObject({ state: 'valid', source: 'RIPEstat' });
      ripe.setFault({ kind: 'error' });
      const err = (await v.validity(13335, '203.0.113.0/24').catch((e: unknown) => e)) as BotError;
      expect(err.code).toBe(ErrorCode.RoutingUnavailable);
    } finally {
      await ripe.close();
    }
  });
});
