import { Address4, Address6 } from 'ip-address';
import { InvalidInputError } from '../errors.js';

export type IpVersion = 4 | 6;

/** A parsed, canonical network prefix. */
export interface Cidr {
  /** Canonical text, e.g. `203.0.113.0/24` or `2001:db8::/32`. */
  text: string;
  version: IpVersion;
  length: number;
  network: string;
}

/** Longest prefix Cloudflare will advertise for BYOIP: /24 for IPv4, /48 for IPv6. */
export const MAX_ANNOUNCE_LENGTH: Record<IpVersion, number> = { 4: 24, 6: 48 };

/** What differs between IPv4 and IPv6 when parsing a prefix. */
const FAMILIES: { version: IpVersion; maxLength: number; isValid(addr: string): boolean; network(addr: string, length: number): string; canonical(addr: string): string }[] = [
  {
    version: 4,
    maxLength: 32,
    isValid: (addr) => Address4.isValid(addr) && addr.split('.').length === 4,
    network: (addr, length) => new Address4(`${addr}/${length}`).startAddress().correctForm(),
    canonical: (addr) => new Address4(addr).correctForm(),
  },
  {
    version: 6,
    maxLength: 128,
    isValid: (addr) => Address6.isValid(addr),
    network: (addr, length) => new Address6(`${addr}/${length}`).startAddress().correctForm(),
    canonical: (addr) => new Address6(addr).correctForm(),
  },
];

/**
 * Prefixes parsed so far, by the text given, with their first address: the routing monitor parses the same few
 * thousand prefixes (and the routes it sees for them) on every tick. Emptied when full; failures are not kept.
 */
const parsed = new Map<string, { cidr: Cidr; start: bigint }>();
const PARSED_MAX = 20_000;

function parsedCidr(text: string): { cidr: Cidr; start: bigint } {
  let hit = parsed.get(text);
  if (!hit) {
    const cidr = parseUncached(text);
    hit = { cidr, start: cidr.version === 4 ? new Address4(cidr.network).bigInt() : new Address6(cidr.network).bigInt() };
    if (parsed.size >= PARSED_MAX) parsed.clear();
    parsed.set(text, hit);
  }
  return hit;
}

/**
 * Parses `text` as a network prefix. Throws InvalidInputError with a sentence that says what is wrong:
 * not a prefix, no length, or host bits set (with the network the user probably meant).
 */
export function parseCidr(text: string): Cidr {
  return { ...parsedCidr(text).cidr };
}

function parseUncached(text: string): Cidr {
  const raw = text.trim();
  if (!raw.includes('/')) {
    throw new InvalidInputError('`{input}` has no prefix length. Write it as a CIDR, e.g. `203.0.113.0/24`.', { input: raw || '(empty)' });
  }
  const parts = raw.split('/');
  if (parts.length > 2) throw new InvalidInputError('`{input}` is not a valid prefix: it has more than one `/`. Write it as a CIDR, e.g. `203.0.113.0/24`.', { input: raw });
  const [addr = '', lenText = ''] = parts;
  if (!/^\d{1,3}$/.test(lenText)) {
    throw new InvalidInputError('`{input}` is not a valid prefix: the length after `/` must be a number.', { input: raw });
  }
  const length = Number(lenText);
  const family = FAMILIES.find((f) => f.isValid(addr));
  if (family) {
    if (length > family.maxLength) throw new InvalidInputError(`\`{input}\` is not a valid prefix: an IPv${family.version} length is at most ${family.maxLength}.`, { input: raw });
    const network = family.network(addr, length);
    if (network !== family.canonical(addr)) {
      throw new InvalidInputError(`\`{input}\` has host bits set. Did you mean \`${network}/${length}\`?`, { input: raw });
    }
    return { text: `${network}/${length}`, version: family.version, length, network };
  }
  throw new InvalidInputError('`{input}` is not an IP prefix. Write it as a CIDR, e.g. `203.0.113.0/24` or `2001:db8::/48`.', { input: raw });
}

/** Canonical form of a CIDR that is already known to be valid (e.g. from Cloudflare). */
export function canonicalCidr(text: string): string {
  return parseCidr(text).text;
}

/** True when `inner` lies within `outer` (or equals it). */
export function cidrContains(outer: string, inner: string): boolean {
  const o = parsedCidr(outer);
  const i = parsedCidr(inner);
  if (o.cidr.version !== i.cidr.version || i.cidr.length < o.cidr.length) return false;
  // The same first `o.length` bits: inner's network lies in outer.
  const hostBits = BigInt((o.cidr.version === 4 ? 32 : 128) - o.cidr.length);
  return i.start >> hostBits === o.start >> hostBits;
}

/**
 * A key naming the network of `text`'s first `length` bits (`4:22:<bits>`), equal for every prefix inside that
 * network: a longest-prefix match is a few map look-ups, one per length in use. Null when `text` is shorter than
 * `length` or not a prefix.
 */
export function networkKey(text: string, length: number): string | null {
  let p: { cidr: Cidr; start: bigint };
  try {
    p = parsedCidr(text);
  } catch {
    return null;
  }
  if (p.cidr.length < length) return null;
  const bits = p.cidr.version === 4 ? 32 : 128;
  if (length > bits) return null;
  return `${p.cidr.version}:${length}:${(p.start >> BigInt(bits - length)).toString(36)}`;
}

/** True when `a` and `b` share at least one address (one contains the other); never across IP families. */
export function cidrOverlaps(a: string, b: string): boolean {
  return cidrContains(a, b) || cidrContains(b, a);
}

/** Can a prefix of this size be announced on the Internet (/24 or shorter for IPv4, /48 or shorter for IPv6)? */
export function isAnnounceable(cidr: Cidr): boolean {
  return cidr.length <= MAX_ANNOUNCE_LENGTH[cidr.version];
}
