import { describe, expect, it } from 'vitest';
import { ipInCidr, overlaps, reverseZones, validatePrefixInWorld } from '../../world/simulator/cloudflare/rules.js';
import { World } from '../../world/simulator/world.js';

describe('simulator rules', () => {
  it('reverse zones on octet and nibble boundaries', () => {
    expect(reverseZones('203.0.113.0/24')).toEqual(['113.0.203.in-addr.arpa']);
    expect(reverseZones('198.18.0.0/23')).toEqual(['0.18.198.in-addr.arpa', '1.18.198.in-addr.arpa']);
    expect(reverseZones('10.0.0.0/16')).toEqual(['0.10.in-addr.arpa']);
    expect(reverseZones('10.4.0.0/15')).toEqual(['4.10.in-addr.arpa', '5.10.in-addr.arpa']);
    expect(reverseZones('2001:db8::/32')).toEqual(['8.b.d.0.1.0.0.2.ip6.arpa']);
    expect(reverseZones('2001:db8:10::/46')).toEqual([
      '0.1.0.0.8.b.d.0.1.0.0.2.ip6.arpa',
      '1.1.0.0.8.b.d.0.1.0.0.2.ip6.arpa',
      '2.1.0.0.8.b.d.0.1.0.0.2.ip6.arpa',
      '3.1.0.0.8.b.d.0.1.0.0.2.ip6.arpa',
    ]);
  });

  it('validation reads the world: IRR, RPKI and ownership, IPv6 included', () => {
    const world = new World();
    const p = { cidr: '2001:db8:10::/48', asn: 13335, ownershipValidationToken: 'tok' };
    expect(validatePrefixInWorld(p, world)).toEqual({ irr: 'missing', rpki: 'missing', ownership: 'missing' });
    world.addRoa({ prefix: '2001:db8::/32', maxLength: 48, asn: 13335 });
    world.addRouteObject({ prefix: '2001:db8:10::/48', origin: 13335, source: 'RIPE', remarks: [], descr: [] });
    world.setTxt('cf-validation.0.1.0.0.8.b.d.0.1.0.0.2.ip6.arpa', ['tok']);
    expect(validatePrefixInWorld(p, world)).toEqual({ irr: 'valid', rpki: 'valid', ownership: 'valid' });
    // IRRd's pseudo route objects made from ROAs do not count as IRR registration.
    const w2 = new World();
    w2.addRouteObject({ prefix: '2001:db8:10::/48', origin: 13335, source: 'RPKI', remarks: ['cf-validation: tok'], descr: [] });
    expect(validatePrefixInWorld(p, w2).irr).toBe('missing');
  });

  it('overlap and containment helpers', () => {
    expect(overlaps('203.0.113.0/24', '203.0.113.8/29')).toBe(true);
    expect(overlaps('203.0.113.0/25', '203.0.113.128/25')).toBe(false);
    expect(ipInCidr('203.0.113.7', '203.0.113.0/24')).toBe(true);
    expect(ipInCidr('2001:db8::1', '2001:db8::/32')).toBe(true);
    expect(ipInCidr('192.0.2.1', '2001:db8::/32')).toBe(false);
  });
});
