/**
 * Address space nobody can bring to Cloudflare: the default routes, and the special-purpose ranges of RFC 6890 as
 * kept in IANA's IPv4 and IPv6 Special-Purpose Address Registries (private, shared, loopback, link-local,
 * documentation, benchmarking, protocol assignments, multicast, reserved). Only ranges that are not globally
 * reachable, or that no organisation can hold (protocol and documentation space), are listed: AS112, AMT and the like
 * are globally routed by their operators but are not anyone's to onboard either, so they fall under their covering
 * protocol-assignment block where IANA has one. IPv6 outside 2000::/3 (IANA's global unicast space) is refused too.
 * Pure: no I/O.
 */
import { Address4, Address6 } from 'ip-address';
import { parseCidr, type Cidr } from './cidr.js';

export type SpecialCategory = 'default-route' | 'private' | 'shared' | 'loopback' | 'link-local' | 'documentation' | 'benchmarking' | 'multicast' | 'reserved';

export interface SpecialRange {
  cidr: string;
  category: SpecialCategory;
  /** What the registry calls it. */
  name: string;
  /** Where it is defined. */
  rfc: string;
}

/** The table, most specific first where ranges nest (IPv6 2001:db8::/32 is outside 2001::/23, so none do today). */
export const SPECIAL_PURPOSE_RANGES: readonly SpecialRange[] = [
  // IPv4: IANA IPv4 Special-Purpose Address Registry (RFC 6890 and its updates).
  { cidr: '0.0.0.0/8', category: 'reserved', name: '"this network"', rfc: 'RFC 791, RFC 1122' },
  { cidr: '10.0.0.0/8', category: 'private', name: 'private-use', rfc: 'RFC 1918' },
  { cidr: '100.64.0.0/10', category: 'shared', name: 'shared address space (carrier-grade NAT)', rfc: 'RFC 6598' },
  { cidr: '127.0.0.0/8', category: 'loopback', name: 'loopback', rfc: 'RFC 1122' },
  { cidr: '169.254.0.0/16', category: 'link-local', name: 'link-local', rfc: 'RFC 3927' },
  { cidr: '172.16.0.0/12', category: 'private', name: 'private-use', rfc: 'RFC 1918' },
  { cidr: '192.0.0.0/24', category: 'reserved', name: 'IETF protocol assignments', rfc: 'RFC 6890' },
  { cidr: '192.0.2.0/24', category: 'documentation', name: 'documentation (TEST-NET-1)', rfc: 'RFC 5737' },
  { cidr: '192.88.99.0/24', category: 'reserved', name: 'deprecated 6to4 relay anycast', rfc: 'RFC 7526' },
  { cidr: '192.168.0.0/16', category: 'private', name: 'private-use', rfc: 'RFC 1918' },
  { cidr: '198.18.0.0/15', category: 'benchmarking', name: 'benchmarking', rfc: 'RFC 2544' },
  { cidr: '198.51.100.0/24', category: 'documentation', name: 'documentation (TEST-NET-2)', rfc: 'RFC 5737' },
  { cidr: '203.0.113.0/24', category: 'documentation', name: 'documentation (TEST-NET-3)', rfc: 'RFC 5737' },
  { cidr: '224.0.0.0/4', category: 'multicast', name: 'multicast', rfc: 'RFC 5771' },
  { cidr: '240.0.0.0/4', category: 'reserved', name: 'reserved for future use (and the limited broadcast address)', rfc: 'RFC 1112, RFC 919' },
  // IPv6: IANA IPv6 Special-Purpose Address Registry.
  { cidr: '::/128', category: 'reserved', name: 'the unspecified address', rfc: 'RFC 4291' },
  { cidr: '::1/128', category: 'loopback', name: 'loopback', rfc: 'RFC 4291' },
  { cidr: '::ffff:0:0/96', category: 'reserved', name: 'IPv4-mapped addresses', rfc: 'RFC 4291' },
  { cidr: '64:ff9b::/96', category: 'reserved', name: 'the IPv4/IPv6 translation well-known prefix', rfc: 'RFC 6052' },
  { cidr: '64:ff9b:1::/48', category: 'reserved', name: 'local-use IPv4/IPv6 translation', rfc: 'RFC 8215' },
  { cidr: '100::/64', category: 'reserved', name: 'discard-only', rfc: 'RFC 6666' },
  { cidr: '2001::/23', category: 'reserved', name: 'IETF protocol assignments (Teredo, benchmarking, ORCHID...)', rfc: 'RFC 2928' },
  { cidr: '2001:db8::/32', category: 'documentation', name: 'documentation', rfc: 'RFC 3849' },
  { cidr: '2002::/16', category: 'reserved', name: '6to4', rfc: 'RFC 3056' },
  { cidr: '3fff::/20', category: 'documentation', name: 'documentation', rfc: 'RFC 9637' },
  { cidr: '5f00::/16', category: 'reserved', name: 'SRv6 SIDs', rfc: 'RFC 9602' },
  { cidr: 'fc00::/7', category: 'private', name: 'unique local (ULA)', rfc: 'RFC 4193' },
  { cidr: 'fe80::/10', category: 'link-local', name: 'link-local unicast', rfc: 'RFC 4291' },
  { cidr: 'ff00::/8', category: 'multicast', name: 'multicast', rfc: 'RFC 4291' },
];

/** IANA's IPv6 global unicast space; everything else is reserved or special. */
export const IPV6_GLOBAL_UNICAST = '2000::/3';

export interface SpecialFinding {
  range: SpecialRange;
  /** `within`: the prefix lies in the range; `covers`: the prefix is bigger and includes it. */
  relation: 'within' | 'covers';
}

export interface AddressSpaceRules {
  /** Accept the documentation ranges (the sandbox and the tests use them): ALLOW_DOCUMENTATION_PREFIXES. */
  allowDocumentation?: boolean;
}

function inSubnet(inner: Cidr, outer: Cidr): boolean {
  if (inner.version !== outer.version || inner.length < outer.length) return false;
  return inner.version === 4 ? new Address4(inner.network).isInSubnet(new Address4(outer.text)) : new Address6(inner.network).isInSubnet(new Address6(outer.text));
}

const PARSED = SPECIAL_PURPOSE_RANGES.map((r) => ({ range: r, cidr: parseCidr(r.cidr) }));
const GLOBAL6 = parseCidr(IPV6_GLOBAL_UNICAST);

/**
 * Every special-purpose range the prefix lies in or includes (most specific relation first: `within` before `covers`),
 * including a `/0` as the default route and IPv6 outside 2000::/3. Empty for ordinary unicast space.
 */
export function specialPurposeOf(cidr: Cidr | string): SpecialFinding[] {
  const c = typeof cidr === 'string' ? parseCidr(cidr) : cidr;
  if (c.length === 0) {
    return [{ range: { cidr: c.text, category: 'default-route', name: `the IPv${c.version} default route`, rfc: 'RFC 1812, RFC 4291' }, relation: 'within' }];
  }
  const within: SpecialFinding[] = [];
  const covers: SpecialFinding[] = [];
  for (const { range, cidr: r } of PARSED) {
    if (inSubnet(c, r)) within.push({ range, relation: 'within' });
    else if (inSubnet(r, c)) covers.push({ range, relation: 'covers' });
  }
  if (c.version === 6 && within.length === 0 && !inSubnet(c, GLOBAL6)) {
    within.push({ range: { cidr: c.text, category: 'reserved', name: 'not in the global unicast space 2000::/3', rfc: 'RFC 4291' }, relation: 'within' });
  }
  return [...within, ...covers];
}

const WHY: Record<SpecialCategory, string> = {
  'default-route': 'it is every address there is, not a prefix anyone can hold',
  private: 'private space is for internal networks only; it is never routed on the Internet',
  shared: 'shared space is for carrier-grade NAT inside one provider; it is never routed on the Internet',
  loopback: 'loopback addresses never leave a host',
  'link-local': 'link-local addresses never leave a link',
  documentation: 'documentation space is for examples only; it is never routed on the Internet',
  benchmarking: 'benchmarking space is for test labs only; it is never routed on the Internet',
  multicast: 'multicast addresses are group destinations, not unicast prefixes Cloudflare can announce',
  reserved: 'it is reserved by the IETF / IANA and no organisation can hold it',
};

/**
 * Why the prefix cannot be brought to Cloudflare because of the space it is in, as a sentence, or null when it is
 * ordinary unicast space (documentation space too, when the rules allow it).
 */
export function addressSpaceProblem(cidr: Cidr | string, rules: AddressSpaceRules = {}): string | null {
  const c = typeof cidr === 'string' ? parseCidr(cidr) : cidr;
  const finding = specialPurposeOf(c).find((f) => !(rules.allowDocumentation && f.range.category === 'documentation'));
  if (!finding) return null;
  const { range, relation } = finding;
  if (range.category === 'default-route') {
    return `${c.text} is ${range.name}: ${WHY['default-route']}. Name the prefix your organisation holds from its RIR, e.g. a /24 or a /48.`;
  }
  const where = relation === 'within' ? (range.cidr === c.text ? `${c.text} is` : `${c.text} is inside ${range.cidr},`) : `${c.text} includes ${range.cidr},`;
  return `${where} ${range.name} (${range.rfc}): ${WHY[range.category]}. Cloudflare can only announce address space your organisation holds from an RIR.`;
}
