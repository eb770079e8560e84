import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import {
  addressCount,
  aggregate,
  contains,
  exclude,
  ipInCidr,
  MAX_LIST_IPS,
  overlaps,
  parseIp,
  parseIpList,
  rangeToCidrs,
} from '../../src/domain/address-space.js';
import { cidrOverlaps, isAnnounceable, parseCidr } from '../../src/domain/cidr.js';
import { expectError } from './helpers.js';

const v4 = (from: number, to: number, base = '203.0.113') => Array.from({ length: to - from + 1 }, (_, i) => `${base}.${from + i}`);

describe('aggregate: the fewest CIDRs that cover exactly the given addresses', () => {
  it("the docs' example: 203.0.113.16 to 203.0.113.23 is one /29", () => {
    expect(aggregate(v4(16, 23))).toEqual(['203.0.113.16/29']);
    expect(aggregate(v4(16, 23), { parent: '203.0.113.0/24' })).toEqual(['203.0.113.16/29']);
  });

  it('a run that is not aligned splits into aligned blocks, in address order whatever the input order', () => {
    expect(aggregate(v4(17, 24))).toEqual(['203.0.113.17/32', '203.0.113.18/31', '203.0.113.20/30', '203.0.113.24/32']);
    expect(aggregate(['203.0.113.5', '203.0.113.0', '203.0.113.3', '203.0.113.1', '203.0.113.2'])).toEqual(['203.0.113.0/30', '203.0.113.5/32']);
    expect(aggregate(['203.0.113.10'])).toEqual(['203.0.113.10/32']);
  });

  it('a whole /24 of 256 addresses (the cap) is the /24', () => {
    expect(aggregate(v4(0, 255))).toEqual(['203.0.113.0/24']);
  });

  it('IPv6, whatever the spelling of the addresses', () => {
    expect(aggregate(['2001:db8::', '2001:DB8:0:0::1', '2001:0db8::2', '2001:db8::3'])).toEqual(['2001:db8::/126']);
    expect(aggregate(['2001:db8::1', '2001:db8::2'], { parent: '2001:db8::/48' })).toEqual(['2001:db8::1/128', '2001:db8::2/128']);
  });

  it('the edges of the address space', () => {
    expect(aggregate(['0.0.0.0', '0.0.0.1'])).toEqual(['0.0.0.0/31']);
    expect(aggregate(['255.255.255.254', '255.255.255.255'])).toEqual(['255.255.255.254/31']);
    expect(aggregate(['ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'])).toEqual(['ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128']);
  });

  it('an IP list with 300 addresses is refused with the reason and the cap', () => {
    const list = Array.from({ length: 300 }, (_, i) => `198.51.${100 + (i >> 8)}.${i & 255}`);
    expectError(() => aggregate(list), ErrorCode.InvalidInput, 'The list has 300 addresses', `at most ${MAX_LIST_IPS}`, 'Split it');
    expect(aggregate(list, { maxIps: 300 })).toEqual(['198.51.100.0/24', '198.51.101.0/27', '198.51.101.32/29', '198.51.101.40/30']);
  });

  it('a duplicate IP is refused, also when spelled differently', () => {
    expectError(() => aggregate(['203.0.113.1', '203.0.113.2', '203.0.113.1']), ErrorCode.InvalidInput, '`203.0.113.1` is listed more than once', 'list each address once');
    expectError(() => aggregate(['2001:db8::1', '2001:DB8:0::1']), ErrorCode.InvalidInput, '`2001:db8::1` is listed more than once');
  });

  it('a mix of IPv4 and IPv6 is refused', () => {
    expectError(() => aggregate(['203.0.113.1', '2001:db8::1']), ErrorCode.InvalidInput, 'mixes IPv4 (203.0.113.1) and IPv6 (2001:db8::1)', 'one request for each family');
  });

  it('anything that is not an address is refused with what it is', () => {
    expectError(() => aggregate(['203.0.113.1', 'www.example.com']), ErrorCode.InvalidInput, '`www.example.com` is not an IP address');
    expectError(() => aggregate(['203.0.113.256']), ErrorCode.InvalidInput, 'is not an IP address');
    expectError(() => aggregate(['203.0.113.0/29']), ErrorCode.InvalidInput, 'is a prefix, not an address');
    expectError(() => aggregate(['fe80::1%eth0']), ErrorCode.InvalidInput, 'is not an IP address');
    expectError(() => aggregate([]), ErrorCode.InvalidInput, 'No IP addresses were given');
  });

  it('an address outside the parent prefix is refused, an IPv6 address in an IPv4 prefix too', () => {
    expectError(
      () => aggregate(['203.0.113.1', '198.51.100.7', '192.0.2.1'], { parent: '203.0.113.0/24' }),
      ErrorCode.InvalidInput,
      '`198.51.100.7` and `192.0.2.1` are outside 203.0.113.0/24',
      'every address must be inside the prefix',
    );
    expectError(() => aggregate(['2001:db8::1'], { parent: '203.0.113.0/24' }), ErrorCode.InvalidInput, 'is an IPv6 address, but 203.0.113.0/24 is an IPv4 prefix');
  });
});

describe('parseIpList: addresses and ranges as typed in Slack', () => {
  it('reads addresses and first-last ranges separated by spaces, commas and new lines', () => {
    expect(parseIpList('203.0.113.16-203.0.113.23')).toEqual(v4(16, 23));
    expect(aggregate(parseIpList('203.0.113.16-203.0.113.19, 203.0.113.20\n203.0.113.21 203.0.113.22;203.0.113.23'))).toEqual(['203.0.113.16/29']);
    expect(parseIpList('2001:DB8::1')).toEqual(['2001:db8::1']);
  });

  it('refuses a huge range before expanding it, a backwards range and a range across families', () => {
    expectError(() => parseIpList('10.0.0.0-10.255.255.255'), ErrorCode.InvalidInput, '16777216 addresses', 'at most 256');
    expectError(() => parseIpList('2001:db8::-2001:db8::ffff:ffff'), ErrorCode.InvalidInput, 'at most 256');
    expectError(() => parseIpList('203.0.113.9-203.0.113.1'), ErrorCode.InvalidInput, 'ends before it starts');
    expectError(() => parseIpList('203.0.113.1-2001:db8::1'), ErrorCode.InvalidInput, 'stays in one family');
    expectError(() => parseIpList(v4(0, 255).join(' ') + ' 203.0.112.1'), ErrorCode.InvalidInput, 'more than 256');
  });
});

describe('containment, overlap and what is left', () => {
  it('contains and overlaps reuse cidr.ts and never match across families', () => {
    expect(contains('203.0.113.0/24', '203.0.113.16/29')).toBe(true);
    expect(contains('203.0.113.16/29', '203.0.113.0/24')).toBe(false);
    expect(overlaps).toBe(cidrOverlaps);
    expect(overlaps('203.0.113.16/29', '203.0.113.0/24')).toBe(true);
    expect(overlaps('203.0.113.0/25', '203.0.113.128/25')).toBe(false);
    expect(overlaps('2001:db8::/32', '0.0.0.0/0')).toBe(false);
  });

  it('ipInCidr and addressCount', () => {
    expect(ipInCidr('203.0.113.23', '203.0.113.16/29')).toBe(true);
    expect(ipInCidr('203.0.113.24', '203.0.113.16/29')).toBe(false);
    expect(ipInCidr('2001:db8::1', '203.0.113.0/24')).toBe(false);
    expect(addressCount('203.0.113.0/24')).toBe(256n);
    expect(addressCount('2001:db8::/64')).toBe(1n << 64n);
    expect(parseIp(' 2001:DB8::A ')).toEqual({ version: 6, value: 0x20010db800000000000000000000000an, text: '2001:db8::a' });
  });

  it('exclude: the rest of a CIDR once parts are taken', () => {
    expect(exclude('203.0.113.0/29', ['203.0.113.2/32'])).toEqual(['203.0.113.0/31', '203.0.113.3/32', '203.0.113.4/30']);
    expect(exclude('203.0.113.0/24', ['203.0.113.128/25', '198.51.100.0/24', '2001:db8::/32'])).toEqual(['203.0.113.0/25']);
    expect(exclude('203.0.113.16/29', ['203.0.113.0/24'])).toEqual([]);
    expect(exclude('2001:db8::/126', ['2001:db8::1/128'])).toEqual(['2001:db8::/128', '2001:db8::2/127']);
  });

  it('rangeToCidrs covers a whole family', () => {
    expect(rangeToCidrs({ version: 4, first: 0n, last: (1n << 32n) - 1n })).toEqual(['0.0.0.0/0']);
    expect(rangeToCidrs({ version: 6, first: 0n, last: (1n << 128n) - 1n })).toEqual(['::/0']);
  });
});

describe('onboarding size (cidr.ts isAnnounceable)', () => {
  it.each([
    ['192.0.2.0/24', true],
    ['192.0.2.0/25', false],
    ['198.18.0.0/15', true],
    ['2001:db8::/48', true],
    ['2001:db8::/56', false],
    ['2001:db8::/32', true],
  ])('%s announceable: %s', (cidr, ok) => {
    expect(isAnnounceable(parseCidr(cidr))).toBe(ok);
  });
});
