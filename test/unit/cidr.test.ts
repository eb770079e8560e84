import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import { MAX_ANNOUNCE_LENGTH, canonicalCidr, cidrContains, isAnnounceable, parseCidr } from '../../src/domain/cidr.js';
import { expectError } from './helpers.js';

describe('parseCidr: IPv4', () => {
  it.each([
    ['203.0.113.0/24', '203.0.113.0', 24],
    ['10.0.0.0/8', '10.0.0.0', 8],
    ['0.0.0.0/0', '0.0.0.0', 0],
    ['192.0.2.1/32', '192.0.2.1', 32],
    ['198.51.100.0/22', '198.51.100.0', 22],
  ])('reads %s', (text, network, length) => {
    expect(parseCidr(text)).toEqual({ text: `${network}/${length}`, version: 4, length, network });
  });

  it('ignores surrounding whitespace', () => {
    expect(parseCidr('  203.0.113.0/24\t\n').text).toBe('203.0.113.0/24');
  });

  it('with host bits set, suggests the network the user probably meant', () => {
    expectError(() => parseCidr('203.0.113.7/24'), ErrorCode.InvalidInput, 'host bits', '`203.0.113.0/24`');
    expectError(() => parseCidr('10.1.2.3/8'), ErrorCode.InvalidInput, '`10.0.0.0/8`');
  });

  it('without a length, asks for a CIDR with an example', () => {
    expectError(() => parseCidr('203.0.113.0'), ErrorCode.InvalidInput, 'no prefix length', '203.0.113.0/24');
  });

  it('an empty string is refused and the message says it was empty', () => {
    expectError(() => parseCidr('   '), ErrorCode.InvalidInput, '(empty)');
  });

  it.each(['203.0.113.0/', '203.0.113.0/abc', '203.0.113.0/-1', '203.0.113.0/1234', '203.0.113.0/ 24'])('a non-numeric or missing length in %s is refused', (text) => {
    expectError(() => parseCidr(text), ErrorCode.InvalidInput, 'must be a number');
  });

  it('a length above 32 is refused', () => {
    expectError(() => parseCidr('203.0.113.0/33'), ErrorCode.InvalidInput, 'at most 32');
  });

  it.each(['not-a-prefix/24', '256.0.0.0/8', '1.2.3/24', '1.2.3.4.5/24', 'example.com/24', '203.0.113.0 /24'])('garbage %s is refused as not an IP prefix', (text) => {
    expectError(() => parseCidr(text), ErrorCode.InvalidInput, 'not an IP prefix');
  });

  // Was a bug (fixed): parseCidr splits on '/' and ignores everything after the second part, so `203.0.113.0/24/5`
  // (or `203.0.113.0/24/garbage`) is accepted as 203.0.113.0/24 instead of being refused.
  it('a prefix with a second slash is refused rather than silently truncated', () => {
    expectError(() => parseCidr('203.0.113.0/24/5'), ErrorCode.InvalidInput);
  });
});

describe('parseCidr: IPv6', () => {
  it.each([
    ['2001:db8::/32', '2001:db8::', 32],
    ['2001:db8:1234::/48', '2001:db8:1234::', 48],
    ['::/0', '::', 0],
    ['2001:db8::1/128', '2001:db8::1', 128],
  ])('reads %s', (text, network, length) => {
    expect(parseCidr(text)).toEqual({ text: `${network}/${length}`, version: 6, length, network });
  });

  it('canonicalises upper case and long forms', () => {
    expect(parseCidr('2001:DB8:0:0::/48').text).toBe('2001:db8::/48');
    expect(canonicalCidr('2001:0db8:0000::/32')).toBe('2001:db8::/32');
  });

  it('with host bits set, suggests the network', () => {
    expectError(() => parseCidr('2001:db8::1/48'), ErrorCode.InvalidInput, 'host bits', '`2001:db8::/48`');
  });

  it('a length above 128 is refused', () => {
    expectError(() => parseCidr('2001:db8::/129'), ErrorCode.InvalidInput, 'at most 128');
  });

  it.each(['2001:db8:::/48', '2001:zz8::/48', 'gggg::/16'])('garbage %s is refused', (text) => {
    expectError(() => parseCidr(text), ErrorCode.InvalidInput, 'not an IP prefix');
  });

  it('without a length, asks for a CIDR', () => {
    expectError(() => parseCidr('2001:db8::'), ErrorCode.InvalidInput, 'no prefix length');
  });
});

describe('cidrContains', () => {
  it.each([
    ['203.0.112.0/23', '203.0.113.0/24', true],
    ['203.0.113.0/24', '203.0.113.0/24', true],
    ['203.0.113.0/24', '203.0.113.128/25', true],
    ['203.0.113.0/24', '203.0.112.0/23', false],
    ['203.0.113.0/24', '198.51.100.0/24', false],
    ['0.0.0.0/0', '198.51.100.0/24', true],
    ['2001:db8::/32', '2001:db8:1234::/48', true],
    ['2001:db8:1234::/48', '2001:db8::/32', false],
    ['2001:db8::/32', '2001:db9::/48', false],
    ['203.0.113.0/24', '2001:db8::/48', false],
    ['::/0', '203.0.113.0/24', false],
  ])('%s contains %s: %s', (outer, inner, expected) => {
    expect(cidrContains(outer, inner)).toBe(expected);
  });

  it('refuses invalid input rather than answering false', () => {
    expectError(() => cidrContains('203.0.113.0/24', 'bogus'), ErrorCode.InvalidInput);
  });
});

describe('isAnnounceable', () => {
  it('limits are /24 for IPv4 and /48 for IPv6', () => {
    expect(MAX_ANNOUNCE_LENGTH).toEqual({ 4: 24, 6: 48 });
  });

  it.each([
    ['203.0.112.0/20', true],
    ['203.0.113.0/24', true],
    ['203.0.113.0/25', false],
    ['203.0.113.4/30', false],
    ['2001:db8::/32', true],
    ['2001:db8:1::/48', true],
    ['2001:db8:1::/49', false],
    ['2001:db8:1:1::/64', false],
  ])('%s announceable: %s', (text, expected) => {
    expect(isAnnounceable(parseCidr(text))).toBe(expected);
  });
});
