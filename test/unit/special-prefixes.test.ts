import { describe, expect, it } from 'vitest';
import { parseCidr } from '../../src/domain/cidr.js';
import { addressSpaceProblem, SPECIAL_PURPOSE_RANGES, specialPurposeOf } from '../../src/domain/special-prefixes.js';

const category = (cidr: string) => specialPurposeOf(cidr)[0]?.range.category ?? null;

describe('special-purpose address space (RFC 6890, IANA registries)', () => {
  it('every entry of the table is a canonical prefix', () => {
    for (const r of SPECIAL_PURPOSE_RANGES) expect(parseCidr(r.cidr).text).toBe(r.cidr);
  });

  it.each([
    ['0.0.0.0/0', 'default-route'],
    ['::/0', 'default-route'],
    ['10.0.0.0/8', 'private'],
    ['10.20.30.0/24', 'private'],
    ['172.16.0.0/12', 'private'],
    ['172.31.255.0/24', 'private'],
    ['192.168.1.0/24', 'private'],
    ['fd00:1234::/48', 'private'],
    ['fc00::/7', 'private'],
    ['100.64.0.0/24', 'shared'],
    ['127.0.0.0/8', 'loopback'],
    ['::1/128', 'loopback'],
    ['169.254.0.0/16', 'link-local'],
    ['fe80::/10', 'link-local'],
    ['192.0.2.0/24', 'documentation'],
    ['198.51.100.0/24', 'documentation'],
    ['203.0.113.0/24', 'documentation'],
    ['2001:db8::/32', 'documentation'],
    ['2001:db8:1::/48', 'documentation'],
    ['3fff::/20', 'documentation'],
    ['198.18.0.0/15', 'benchmarking'],
    ['224.0.0.0/4', 'multicast'],
    ['239.1.2.0/24', 'multicast'],
    ['ff02::/16', 'multicast'],
    ['240.0.0.0/4', 'reserved'],
    ['255.255.255.255/32', 'reserved'],
    ['0.0.0.0/8', 'reserved'],
    ['192.0.0.0/24', 'reserved'],
    ['192.88.99.0/24', 'reserved'],
    ['2001::/32', 'reserved'],
    ['2002::/16', 'reserved'],
    ['64:ff9b::/96', 'reserved'],
    ['::ffff:0:0/96', 'reserved'],
    // IPv6 outside IANA's global unicast space.
    ['4000::/16', 'reserved'],
    ['fec0::/10', 'reserved'],
  ])('%s is %s', (cidr, expected) => {
    expect(category(cidr)).toBe(expected);
    expect(addressSpaceProblem(cidr)).toMatch(/^\S+ /);
  });

  it.each(['1.1.1.0/24', '8.8.8.0/24', '104.16.0.0/13', '192.0.3.0/24', '198.51.101.0/24', '172.32.0.0/16', '100.128.0.0/16', '2606:4700::/32', '2a00:1450::/32', '2001:200::/23'])(
    '%s is ordinary unicast space',
    (cidr) => {
      expect(specialPurposeOf(cidr)).toEqual([]);
      expect(addressSpaceProblem(cidr)).toBeNull();
    },
  );

  it('a prefix that includes special space is refused too, naming what it includes', () => {
    expect(addressSpaceProblem('192.0.0.0/16')).toMatch(/^192\.0\.0\.0\/16 includes 192\.0\.0\.0\/24, IETF protocol assignments \(RFC 6890\)/);
    expect(addressSpaceProblem('128.0.0.0/1')).toMatch(/includes 169\.254\.0\.0\/16, link-local/);
  });

  it('says why, and what to do', () => {
    expect(addressSpaceProblem('0.0.0.0/0')).toBe(
      '0.0.0.0/0 is the IPv4 default route: it is every address there is, not a prefix anyone can hold. Name the prefix your organisation holds from its RIR, e.g. a /24 or a /48.',
    );
    expect(addressSpaceProblem('::/0')).toMatch(/^::\/0 is the IPv6 default route/);
    expect(addressSpaceProblem('10.1.2.0/24')).toBe(
      '10.1.2.0/24 is inside 10.0.0.0/8, private-use (RFC 1918): private space is for internal networks only; it is never routed on the Internet. Cloudflare can only announce address space your organisation holds from an RIR.',
    );
    expect(addressSpaceProblem('192.0.2.0/24')).toMatch(/^192\.0\.2\.0\/24 is documentation \(TEST-NET-1\) \(RFC 5737\): documentation space is for examples only/);
    expect(addressSpaceProblem('fd12:3456::/48')).toMatch(/unique local \(ULA\) \(RFC 4193\)/);
    expect(addressSpaceProblem('224.1.0.0/16')).toMatch(/multicast addresses are group destinations/);
  });

  it('documentation space is accepted only when the rules allow it (the sandbox); nothing else is', () => {
    const sandbox = { allowDocumentation: true };
    for (const cidr of ['192.0.2.0/24', '198.51.100.0/24', '203.0.113.0/24', '2001:db8::/32', '2001:db8::/48', '192.0.2.0/23', '198.51.100.0/23']) {
      expect(addressSpaceProblem(cidr, sandbox)).toBeNull();
    }
    for (const cidr of ['0.0.0.0/0', '::/0', '10.0.0.0/24', 'fc00::/48', '224.0.0.0/24', '127.0.0.0/24', '192.0.0.0/16']) {
      expect(addressSpaceProblem(cidr, sandbox)).not.toBeNull();
    }
  });
});
