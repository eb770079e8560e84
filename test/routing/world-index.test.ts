import { describe, expect, it } from 'vitest';
import { cidrContains } from '../../src/domain/cidr.js';
import { addPrefixFleet } from '../../world/simulator/cloudflare/scenarios.js';
import { emptyState } from '../../world/simulator/cloudflare/state.js';
import { SimClock } from '../../world/simulator/clock.js';
import { World } from '../../world/simulator/world.js';

describe('the simulated world at thousands of prefixes', () => {
  it('announcedWithin gives what a scan with cidrContains gives, in announcement order', () => {
    const world = new World({ clock: new SimClock(1), seed: 3 });
    const announced = ['203.0.113.0/24', '203.0.112.0/23', '203.0.113.128/25', '10.1.0.0/16', '10.1.2.0/24', '2001:db8::/32', '2001:db8:1::/48', '198.51.100.0/24', '10.1.2.0/24'];
    announced.forEach((p, i) => world.announce(p, 64500 + (i % 3)));
    const queries = ['203.0.113.0/24', '203.0.112.0/23', '203.0.113.128/25', '10.0.0.0/8', '10.1.2.0/24', '10.1.3.0/24', '2001:db8::/32', '2001:db8::/48', '0.0.0.0/0', '::/0', 'not a prefix'];
    for (const q of queries) {
      const scan = world.announcedPrefixes().filter((p) => {
        try {
          return cidrContains(q, p);
        } catch {
          return false;
        }
      });
      expect(world.announcedWithin(q), q).toEqual(scan);
    }
    // A prefix announced later is found too.
    world.announce('203.0.113.64/26', 64666);
    expect(world.announcedWithin('203.0.113.0/24')).toEqual(['203.0.113.0/24', '203.0.113.128/25', '203.0.113.64/26']);
  });

  it('addPrefixFleet: n advertised /24s with BGP prefixes, bindings, ROAs and routes', () => {
    const world = new World({ clock: new SimClock(1), seed: 3 });
    const state = emptyState();
    const cidrs = addPrefixFleet(state, world, 300);
    expect(cidrs).toHaveLength(300);
    expect(new Set(cidrs).size).toBe(300);
    expect(cidrs[0]).toBe('10.0.0.0/24');
    expect(cidrs[299]).toBe('10.1.43.0/24');
    expect(state.prefixes.size).toBe(300);
    expect([...state.bgpPrefixes.values()].every((b) => b.advertised)).toBe(true);
    expect(state.bindings.size).toBe(300);
    expect(world.roas).toHaveLength(300);
    expect(world.visibleRoutes('10.1.43.0/24').length).toBeGreaterThan(0);
    expect(() => addPrefixFleet(state, world, 70_000)).toThrow(/0 to 65536/);
  });
});
