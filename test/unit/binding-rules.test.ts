import { describe, expect, it } from 'vitest';
import { aggregate } from '../../src/domain/address-space.js';
import {
  checkAddressMapIps,
  checkBinding,
  checkDelegation,
  checkPrefixToOnboard,
  serviceKind,
  type Violation,
} from '../../src/domain/binding-rules.js';
import { expectSentence } from './helpers.js';

const OWN = '258def64c72dae45f3e4c8516e2111f2';
const OTHER = '9a7806061c88ada191ed06f989cc3dac';
const PREFIX = { cidr: '203.0.113.0/24', approved: 'V' };
const b = (cidr: string, serviceName: string) => ({ cidr, serviceName });
const MT = [b('203.0.113.0/24', 'Magic Transit')];
const CDN = [b('203.0.113.0/24', 'CDN')];
const SPECTRUM = [b('203.0.113.0/24', 'Spectrum')];
/** The `services` scenario: a CDN prefix with one Spectrum /32. */
const SERVICES = [b('203.0.113.0/24', 'CDN'), b('203.0.113.10/32', 'Spectrum')];

const codes = (vs: Violation[]) => vs.map((v) => v.code);

/** Every violation reads as one plain sentence with a fix: capitalised, ends with a full stop, no Slack markup. */
function expectPlainSentences(vs: Violation[]): void {
  for (const v of vs) {
    expectSentence(v.message);
    expect(v.message).not.toMatch(/[`*<>]/);
  }
}

describe('serviceKind: services are known by name', () => {
  it.each([
    ['Magic Transit', 'magic_transit'],
    ['CDN', 'cdn'],
    ['Spectrum', 'spectrum'],
    ['CDN Egress', 'cdn_egress'],
    ['Dedicated CDN Egress IPs', 'cdn_egress'],
    ['Aegis', 'cdn_egress'],
    ['Gateway', 'other'],
  ])('%s is %s', (name, kind) => {
    expect(serviceKind(name)).toBe(kind);
  });
});

describe('checkBinding: what the docs allow', () => {
  it('the first (default) binding spans the whole prefix, with any service, Magic Transit included', () => {
    for (const service of ['Magic Transit', 'CDN', 'Spectrum']) expect(checkBinding(PREFIX, [], b('203.0.113.0/24', service))).toEqual([]);
    expect(checkBinding({ cidr: '2001:db8::/44', approved: 'V' }, [], b('2001:db8::/44', 'Magic Transit'))).toEqual([]);
  });

  it("the docs' example: 203.0.113.16/29 upgraded to CDN on a Magic Transit prefix (the aggregated binding)", () => {
    const [cidr] = aggregate(Array.from({ length: 8 }, (_, i) => `203.0.113.${16 + i}`), { parent: PREFIX.cidr });
    expect(checkBinding(PREFIX, MT, b(cidr!, 'CDN'))).toEqual([]);
    expect(checkBinding(PREFIX, SPECTRUM, b(cidr!, 'CDN'))).toEqual([]);
  });

  it('the scope page: .1 to CDN and .2 to Spectrum in a Magic Transit prefix; CDN prefix to Spectrum; Spectrum prefix to CDN', () => {
    expect(checkBinding(PREFIX, MT, b('203.0.113.1/32', 'CDN'))).toEqual([]);
    expect(checkBinding(PREFIX, [...MT, b('203.0.113.1/32', 'CDN')], b('203.0.113.2/32', 'Spectrum'))).toEqual([]);
    expect(checkBinding(PREFIX, CDN, b('203.0.113.1/32', 'Spectrum'))).toEqual([]);
    expect(checkBinding(PREFIX, SPECTRUM, b('203.0.113.1/32', 'CDN'))).toEqual([]);
    expect(checkBinding(PREFIX, SERVICES, b('203.0.113.100/32', 'Spectrum'))).toEqual([]);
  });

  it('an unapproved prefix is not given an approval state to check when the caller leaves it out', () => {
    expect(checkBinding({ cidr: '203.0.113.0/24' }, [], b('203.0.113.0/24', 'CDN'))).toEqual([]);
  });
});

describe('checkBinding: every bad binding of the issue', () => {
  it('outside the prefix, or IPv6 in an IPv4 prefix', () => {
    const out = checkBinding(PREFIX, MT, b('203.0.114.0/29', 'CDN'));
    expect(codes(out)).toEqual(['outside_prefix']);
    expect(out[0]!.message).toContain('must lie inside 203.0.113.0/24');
    expect(codes(checkBinding(PREFIX, MT, b('203.0.112.0/23', 'CDN')))).toEqual(['outside_prefix']);
    expect(codes(checkBinding(PREFIX, MT, b('2001:db8::/64', 'CDN')))).toEqual(['family_mismatch']);
    expectPlainSentences(out);
  });

  it('a CIDR that is not one, or has host bits set, says what it should be', () => {
    const out = checkBinding(PREFIX, MT, b('203.0.113.17/29', 'CDN'));
    expect(codes(out)).toEqual(['invalid_cidr']);
    expect(out[0]!.message).toContain('Did you mean 203.0.113.16/29?');
    expect(codes(checkBinding(PREFIX, MT, b('not-a-cidr', 'CDN')))).toEqual(['invalid_cidr']);
    expectPlainSentences(out);
  });

  it('the first binding must be the default one', () => {
    const out = checkBinding(PREFIX, [], b('203.0.113.16/29', 'CDN'));
    expect(codes(out)).toEqual(['default_binding_first']);
    expect(out[0]!.message).toContain('bind 203.0.113.0/24 first');
    expectPlainSentences(out);
  });

  it('Magic Transit on a sub-CIDR is refused, first or not', () => {
    const out = checkBinding(PREFIX, CDN, b('203.0.113.16/29', 'Magic Transit'));
    expect(codes(out)).toEqual(['magic_transit_not_default']);
    expect(out[0]!.message).toMatch(/only be the default binding.*bind 203\.0\.113\.16\/29 to CDN or Spectrum instead/);
    expect(codes(checkBinding(PREFIX, [], b('203.0.113.0/25', 'Magic Transit')))).toEqual(['default_binding_first', 'magic_transit_not_default']);
    expectPlainSentences(out);
  });

  it('an IP bound to both CDN and Spectrum is refused, with the part that could be bound', () => {
    const same = checkBinding(PREFIX, SERVICES, b('203.0.113.10/32', 'CDN'));
    expect(codes(same)).toEqual(['cidr_already_bound']);
    expect(same[0]!.message).toMatch(/already bound to Spectrum.*unbind Spectrum from 203\.0\.113\.10\/32 first/);
    const over = checkBinding(PREFIX, SERVICES, b('203.0.113.8/29', 'CDN'));
    expect(codes(over)).toEqual(['cdn_and_spectrum']);
    expect(over[0]!.message).toContain('an address is CDN or Spectrum, not both');
    expect(over[0]!.message).toContain('Bind only the rest (203.0.113.8/31, 203.0.113.11/32, 203.0.113.12/30)');
    const wider = checkBinding(PREFIX, [...MT, b('203.0.113.16/29', 'CDN')], b('203.0.113.0/27', 'Spectrum'));
    expect(codes(wider)).toEqual(['cdn_and_spectrum']);
    expect(wider[0]!.message).toContain('203.0.113.0/28, 203.0.113.24/29');
    expectPlainSentences([...same, ...over, ...wider]);
  });

  it('no two bindings on one CIDR; the same binding again is nothing to do', () => {
    expect(codes(checkBinding(PREFIX, MT, b('203.0.113.0/24', 'CDN')))).toEqual(['cidr_already_bound']);
    const again = checkBinding(PREFIX, SERVICES, b('203.0.113.10/32', 'Spectrum'));
    expect(codes(again)).toEqual(['already_bound']);
    expect(again[0]!.message).toContain('nothing to do');
    expectPlainSentences(again);
  });

  it('a CDN egress binding on a CDN ingress prefix, and the other way round', () => {
    const egress = checkBinding(PREFIX, CDN, b('203.0.113.0/25', 'CDN Egress'));
    expect(codes(egress)).toEqual(['cdn_ingress_and_egress']);
    expect(egress[0]!.message).toMatch(/already serves CDN ingress.*CDN ingress or CDN egress, not both/);
    const ingress = checkBinding(PREFIX, [...MT, b('203.0.113.128/25', 'CDN Egress')], b('203.0.113.16/29', 'CDN'));
    expect(codes(ingress)).toEqual(['cdn_ingress_and_egress']);
    expect(checkBinding(PREFIX, MT, b('203.0.113.128/25', 'CDN Egress'))).toEqual([]);
    expectPlainSentences([...egress, ...ingress]);
  });

  it('a prefix not yet validated and approved takes no binding', () => {
    const out = checkBinding({ cidr: '203.0.113.0/24', approved: 'P' }, [], b('203.0.113.0/24', 'CDN'));
    expect(codes(out)).toEqual(['prefix_not_approved']);
    expectPlainSentences(out);
  });
});

describe('checkDelegation', () => {
  const existing = [{ cidr: '203.0.113.128/25', delegatedAccountId: OTHER }];

  it('part of the prefix, or all of it, to another account', () => {
    expect(checkDelegation(PREFIX, existing, { cidr: '203.0.113.64/26', delegatedAccountId: OTHER }, OWN)).toEqual([]);
    expect(checkDelegation(PREFIX, [], { cidr: '203.0.113.0/24', delegatedAccountId: OTHER }, OWN)).toEqual([]);
    // The docs' example: a single address delegated for Spectrum.
    expect(checkDelegation({ cidr: '1.2.3.0/24' }, [], { cidr: '1.2.3.0/32', delegatedAccountId: OTHER }, OWN)).toEqual([]);
  });

  it('outside the prefix, and IPv6 in an IPv4 prefix', () => {
    const out = checkDelegation(PREFIX, existing, { cidr: '198.51.100.0/26', delegatedAccountId: OTHER }, OWN);
    expect(codes(out)).toEqual(['outside_prefix']);
    expect(out[0]!.message).toContain('a delegation must lie inside 203.0.113.0/24');
    expect(codes(checkDelegation(PREFIX, [], { cidr: '2001:db8::/48', delegatedAccountId: OTHER }, OWN))).toEqual(['family_mismatch']);
    expectPlainSentences(out);
  });

  it('to the same account', () => {
    const out = checkDelegation(PREFIX, existing, { cidr: '203.0.113.0/28', delegatedAccountId: OWN.toUpperCase() }, OWN);
    expect(codes(out)).toEqual(['delegation_to_owner']);
    expect(out[0]!.message).toContain('cannot be delegated to its owner');
    expectPlainSentences(out);
  });

  it('not an account id', () => {
    const out = checkDelegation(PREFIX, [], { cidr: '203.0.113.0/28', delegatedAccountId: 'acme' }, OWN);
    expect(codes(out)).toEqual(['invalid_account_id']);
    expectPlainSentences(out);
  });

  it('overlapping another delegation, with the part that is still free; the same delegation again is nothing to do', () => {
    const inside = checkDelegation(PREFIX, existing, { cidr: '203.0.113.192/26', delegatedAccountId: OTHER }, OWN);
    expect(codes(inside)).toEqual(['delegation_overlap']);
    const whole = checkDelegation(PREFIX, existing, { cidr: '203.0.113.0/24', delegatedAccountId: OTHER }, OWN);
    expect(codes(whole)).toEqual(['delegation_overlap']);
    expect(whole[0]!.message).toContain('delegate only the rest (203.0.113.0/25)');
    const again = checkDelegation(PREFIX, existing, { cidr: '203.0.113.128/25', delegatedAccountId: OTHER }, OWN);
    expect(codes(again)).toEqual(['already_delegated']);
    expectPlainSentences([...inside, ...whole, ...again]);
  });
});

describe('checkAddressMapIps', () => {
  const prefixes = [{ cidr: '203.0.113.0/24' }, '198.51.100.0/24'];

  it("the docs' example: 203.0.113.1 and 203.0.113.2", () => {
    expect(checkAddressMapIps(prefixes, ['203.0.113.1', '203.0.113.2'])).toEqual([]);
    expect(checkAddressMapIps(['203.0.113.0/24', '2001:db8::/48'], ['2001:db8::1', '203.0.113.9'])).toEqual([]);
  });

  it('an address-map IP outside every prefix', () => {
    const out = checkAddressMapIps(prefixes, ['203.0.113.1', '192.0.2.1']);
    expect(out).toEqual([expect.objectContaining({ code: 'ip_outside_prefixes', subject: '192.0.2.1' })]);
    expect(out[0]!.message).toContain("not inside any prefix of the account (203.0.113.0/24, 198.51.100.0/24)");
    expectPlainSentences(out);
  });

  it('an IPv6 address when the account has only IPv4 prefixes', () => {
    const out = checkAddressMapIps(prefixes, ['2001:db8::1']);
    expect(codes(out)).toEqual(['family_mismatch']);
    expect(out[0]!.message).toMatch(/is IPv6, but the account's prefixes .* are IPv4/);
    expectPlainSentences(out);
  });

  it('a duplicate IP, an invalid one, a prefix instead of an address', () => {
    const out = checkAddressMapIps([...prefixes, '2001:db8::/48'], ['203.0.113.1', '2001:db8::1', '203.0.113.1', '2001:DB8:0::1', 'www', '203.0.113.0/30']);
    expect(out.map((v) => [v.code, v.subject])).toEqual([
      ['duplicate_ip', '203.0.113.1'],
      ['duplicate_ip', '2001:db8::1'],
      ['invalid_ip', 'www'],
      ['invalid_ip', '203.0.113.0/30'],
    ]);
    expect(out[3]!.message).toContain('is a prefix, not an address');
    expectPlainSentences(out);
  });

  it('an IP list with 300 addresses, and an empty one', () => {
    const list = Array.from({ length: 300 }, (_, i) => `203.0.113.${i % 256}`);
    const out = checkAddressMapIps(prefixes, list);
    expect(codes(out)).toEqual(['too_many_ips']);
    expect(out[0]!.message).toContain('The list has 300 addresses; one request takes at most 256');
    expect(codes(checkAddressMapIps(prefixes, []))).toEqual(['no_ips']);
    expectPlainSentences(out);
  });
});

describe('checkPrefixToOnboard', () => {
  it('a /24 and an IPv6 /48 or /32 are fine', () => {
    expect(checkPrefixToOnboard('192.0.2.0/24')).toEqual([]);
    expect(checkPrefixToOnboard('2001:db8::/48')).toEqual([]);
    expect(checkPrefixToOnboard('2001:db8::/32', [{ cidr: '203.0.113.0/24' }])).toEqual([]);
  });

  it('a /25 or an IPv6 /56 is too small, with the covering prefix to onboard instead', () => {
    const v4 = checkPrefixToOnboard('192.0.2.128/25');
    expect(codes(v4)).toEqual(['prefix_too_small']);
    expect(v4[0]!.message).toContain('Onboard 192.0.2.0/24');
    const v6 = checkPrefixToOnboard('2001:db8:0:100::/56');
    expect(codes(v6)).toEqual(['prefix_too_small']);
    expect(v6[0]!.message).toContain('Onboard 2001:db8::/48');
    expectPlainSentences([...v4, ...v6]);
  });

  it('overlapping a prefix already on the account, and not a CIDR', () => {
    const out = checkPrefixToOnboard('203.0.113.0/24', [{ cidr: '203.0.112.0/23' }]);
    expect(codes(out)).toEqual(['prefix_overlaps_prefix']);
    expect(codes(checkPrefixToOnboard('203.0.113.0'))).toEqual(['invalid_cidr']);
    expectPlainSentences(out);
  });
});
