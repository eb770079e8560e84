import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LookingGlassClient } from '../../src/routing/looking-glass.js';
import { RoutingStatusClient } from '../../src/routing/routing-status.js';
import { evaluatePropagation } from '../../src/routing/propagation.js';
import { SimClock } from '../../world/simulator/clock.js';
import { World } from '../../world/simulator/world.js';
import { startRoutingSimulators, type RoutingSimulators } from '../../world/simulator/routing/index.js';

const PREFIX = '203.0.113.0/24';
const MIN = 60_000;

describe('propagation followed through the simulated looking glass', () => {
  let clock: SimClock;
  let world: World;
  let sims: RoutingSimulators;
  let lg: LookingGlassClient;
  let rs: RoutingStatusClient;

  beforeAll(async () => {
    clock = new SimClock(1, new Date('2026-07-13T10:00:00Z'));
    world = new World({ clock });
    sims = await startRoutingSimulators({ world });
    lg = new LookingGlassClient({ baseUrl: sims.ripestatUrl, timeoutMs: 500, now: () => clock.nowDate() });
    rs = new RoutingStatusClient({ baseUrl: sims.ripestatUrl, timeoutMs: 500 });
  });
  afterAll(() => sims.close());

  const evaluate = async (action: 'advertise' | 'withdraw', elapsedMs: number, ownOrigins: number[] = []) =>
    evaluatePropagation({ action, sample: await lg.sample(PREFIX), usualPeerCount: await rs.usualPeerCount(PREFIX), elapsedMs, ownOrigins });

  it('advertise: propagating, then propagated once most peers see AS13335', async () => {
    world.announce('203.0.112.0/23', 64500, { rampMs: 0, reach: 0.9, delayMs: -MIN });
    world.announce(PREFIX, 13335, { delayMs: 3 * MIN, rampMs: 2 * MIN, reach: 0.95 });
    expect((await evaluate('advertise', 0)).verdict).toBe('propagating');
    clock.advance(4 * MIN);
    const mid = await evaluate('advertise', 4 * MIN);
    expect(mid.verdict).toBe('propagating');
    expect(mid.peersWithExpectedOrigin).toBeGreaterThan(0);
    clock.advance(2 * MIN);
    const done = await evaluate('advertise', 6 * MIN);
    expect(done.verdict).toBe('propagated');
    expect(done.usualPeerCount).toBe(world.totalPeers);
    expect(done.escalate).toBe(false);
  });

  it('flags a simulated hijack: another origin announcing the same prefix', async () => {
    world.announce(PREFIX, 64666, { rampMs: 0, reach: 0.2 });
    const r = await evaluate('advertise', 7 * MIN, [64500]);
    expect(r.unexpectedOrigins.map((o) => o.asn)).toEqual([64666]);
    expect(r.escalate).toBe(true);
    expect(r.summary).toMatch(/Unexpected origin: AS64666 on \d+ peers; possible hijack or leak/);
    world.withdraw(PREFIX, 64666, { decayMs: 0 });
  });

  it('withdraw: withdrawing while peers still see it, withdrawn after the decay, escalated if it lingers', async () => {
    world.withdraw(PREFIX, 13335, { delayMs: 10 * MIN, decayMs: 2 * MIN });
    clock.advance(MIN);
    const still = await evaluate('withdraw', MIN, [64500]);
    expect(still.verdict).toBe('withdrawing');
    expect(still.escalate).toBe(false);
    expect((await evaluate('withdraw', 31 * MIN, [64500])).escalate).toBe(true);
    clock.advance(12 * MIN);
    const gone = await evaluate('withdraw', 13 * MIN, [64500]);
    expect(gone.verdict).toBe('withdrawn');
    expect(gone.unexpectedOrigins).toEqual([]);
  });
});
