import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { checkOwnAnnouncement } from '../../src/routing/pre-withdraw.js';
import { LookingGlassClient } from '../../src/routing/looking-glass.js';
import { RoutingStatusClient } from '../../src/routing/routing-status.js';
import { SimClock } from '../../world/simulator/clock.js';
import { World } from '../../world/simulator/world.js';
import { startRipestatSimulator, type RipestatSimulator } from '../../world/simulator/routing/ripestat.js';

describe('checkOwnAnnouncement against the RIPEstat simulator', () => {
  let world: World;
  let sim: RipestatSimulator;
  let lg: LookingGlassClient;

  beforeAll(async () => {
    world = new World({ clock: new SimClock(1, new Date('2026-07-13T10:00:00Z')) });
    // The team (AS64500) announces a covering /23; Cloudflare announces the /24.
    world.announce('203.0.112.0/23', 64500, { rampMs: 0, reach: 0.9, delayMs: -86400_000 });
    world.announce('203.0.113.0/24', 13335, { rampMs: 0, reach: 0.95 });
    // The team announces 198.51.100.0/24 itself as well as through Cloudflare.
    world.announce('198.51.100.0/24', 64500, { rampMs: 0, reach: 0.9 });
    world.announce('198.51.100.0/24', 13335, { rampMs: 0, reach: 0.95 });
    // Only Cloudflare announces 192.0.2.0/24; a low-visibility covering /22 from the team.
    world.announce('192.0.2.0/24', 13335, { rampMs: 0, reach: 0.95 });
    world.announce('192.0.0.0/22', 64500, { rampMs: 0, reach: 0.05 });
    sim = await startRipestatSimulator({ world });
    lg = new LookingGlassClient({ baseUrl: sim.url, timeoutMs: 400 });
  });
  afterAll(() => sim.close());
  beforeEach(() => sim.setFault({ kind: 'none' }));

  it('announced: the team originates the prefix itself', async () => {
    const r = await checkOwnAnnouncement('198.51.100.0/24', 64500, lg);
    expect(r).toMatchObject({ status: 'announced', seenPrefix: '198.51.100.0/24' });
    expect(r.detail).toMatch(/AS64500 is seen announcing 198.51.100.0\/24 itself/);
  });

  it('covering: the team originates 203.0.112.0/23 around the /24', async () => {
    const r = await checkOwnAnnouncement('203.0.113.0/24', 64500, lg);
    expect(r).toMatchObject({ status: 'covering', seenPrefix: '203.0.112.0/23' });
    expect(r.peers).toBeGreaterThanOrEqual(10);
  });

  it('covering found through routing-status less_specifics beyond the checked lengths', async () => {
    const rs = new RoutingStatusClient({ baseUrl: sim.url, timeoutMs: 400 });
    const r = await checkOwnAnnouncement('203.0.113.0/24', 64500, lg, { routingStatus: rs, coveringLevels: 0 });
    expect(r).toMatchObject({ status: 'covering', seenPrefix: '203.0.112.0/23' });
    const without = await checkOwnAnnouncement('203.0.113.0/24', 64500, lg, { coveringLevels: 0 });
    expect(without.status).toBe('not_seen');
  });

  it('not_seen: only Cloudflare announces it, and a weak covering route does not count', async () => {
    const r = await checkOwnAnnouncement('192.0.2.0/24', 64500, lg);
    expect(r.status).toBe('not_seen');
    expect(r.detail).toMatch(/unreachable unless you announce them first/);
    expect(r.detail).toMatch(/peers for 192.0.0.0\/22, below 10/);
  });

  it('unknown when the looking glass does not answer, within the timeout', async () => {
    sim.setFault({ kind: 'slow', delayMs: 3_000 });
    const t0 = Date.now();
    const r = await checkOwnAnnouncement('192.0.2.0/24', 64500, lg);
    expect(Date.now() - t0).toBeLessThan(1_500);
    expect(r.status).toBe('unknown');
    expect(r.detail).toMatch(/did not answer within 400 ms/);
  });

  it('rejects a bad prefix or ASN with a sentence', async () => {
    await expect(checkOwnAnnouncement('nope', 64500, lg)).rejects.toThrow(/is not an IP prefix|no prefix length/);
    await expect(checkOwnAnnouncement('192.0.2.0/24', -1, lg)).rejects.toThrow(/cannot originate a route/);
  });
});
