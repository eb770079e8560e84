import { Address4, Address6 } from 'ip-address';
import { InvalidInputError } from '../errors.js';
import { cidrContains, cidrOverlaps, parseCidr, type Cidr, type IpVersion } from './cidr.js';

/**
 * Address arithmetic for bindings, delegations and address maps: IP lists, their aggregation into the fewest CIDRs
 * (Cloudflare strongly recommends aggregated bindings), containment, overlap and what is left of a CIDR once some
 * parts are taken. Pure: addresses are bigints, text is canonical (`correctForm`).
 */

/** Most addresses one request takes (an IP list to bind or to put on an address map). */
export const MAX_LIST_IPS = 256;

const BITS: Record<IpVersion, number> = { 4: 32, 6: 128 };

/** A parsed address: its family, its value and its canonical text. */
export interface Ip {
  version: IpVersion;
  value: bigint;
  text: string;
}

/** An inclusive range of addresses of one family. */
export interface IpRange {
  version: IpVersion;
  first: bigint;
  last: bigint;
}

export { cidrContains as contains, cidrOverlaps as overlaps };

/** Echoes user input in a sentence without letting a long paste take it over. */
function echo(text: string): string {
  const t = text.trim();
  return `\`${t.length > 45 ? `${t.slice(0, 42)}...` : t || '(empty)'}\``;
}

/** Parses one address (no length, no zone id); throws InvalidInputError with a sentence. */
export function parseIp(text: string): Ip {
  const raw = text.trim();
  if (raw.includes('/')) {
    throw new InvalidInputError(`${echo(raw)} is a prefix, not an address: list single addresses such as \`203.0.113.16\`, or name the CIDR itself.`);
  }
  if (!raw.includes('%')) {
    if (Address4.isValid(raw)) {
      const a = new Address4(raw);
      return { version: 4, value: a.bigInt(), text: a.correctForm() };
    }
    if (Address6.isValid(raw)) {
      const a = new Address6(raw);
      return { version: 6, value: a.bigInt(), text: a.correctForm() };
    }
  }
  throw new InvalidInputError(`${echo(raw)} is not an IP address. Write IPv4 as \`203.0.113.16\` and IPv6 as \`2001:db8::10\`.`);
}

/** Canonical text of address `value` of family `version`. */
export function formatIp(version: IpVersion, value: bigint): string {
  return version === 4 ? Address4.fromBigInt(value).correctForm() : Address6.fromBigInt(value).correctForm();
}

/** The addresses of a CIDR as a range. */
export function cidrRange(cidr: string | Cidr): IpRange {
  const c = typeof cidr === 'string' ? parseCidr(cidr) : cidr;
  const bits = BITS[c.version];
  const first = c.version === 4 ? new Address4(c.network).bigInt() : new Address6(c.network).bigInt();
  return { version: c.version, first, last: first + (1n << BigInt(bits - c.length)) - 1n };
}

/** How many addresses a CIDR holds. */
export function addressCount(cidr: string | Cidr): bigint {
  const r = cidrRange(cidr);
  return r.last - r.first + 1n;
}

/** Is address `ip` inside `cidr`? False across families. */
export function ipInCidr(ip: string | Ip, cidr: string | Cidr): boolean {
  const a = typeof ip === 'string' ? parseIp(ip) : ip;
  const r = cidrRange(cidr);
  return a.version === r.version && a.value >= r.first && a.value <= r.last;
}

/**
 * The fewest CIDRs that cover exactly `first..last`, in address order: at each step the largest block aligned at
 * the current address that still fits.
 */
export function rangeToCidrs(range: IpRange): string[] {
  const bits = BigInt(BITS[range.version]);
  const out: string[] = [];
  let cur = range.first;
  while (cur <= range.last) {
    // The lowest set bit of `cur` bounds the aligned block that can start there; address 0 is aligned to everything.
    let size = cur === 0n ? 1n << bits : cur & -cur;
    while (size > range.last - cur + 1n) size >>= 1n;
    const length = Number(bits) - (size.toString(2).length - 1);
    out.push(`${formatIp(range.version, cur)}/${length}`);
    cur += size;
  }
  return out;
}

/** Sorted, merged (overlapping or adjacent joined) ranges of one family. */
function mergeRanges(ranges: IpRange[]): IpRange[] {
  const sorted = [...ranges].sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : 0));
  const out: IpRange[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r.first <= last.last + 1n) {
      if (r.last > last.last) last.last = r.last;
    } else {
      out.push({ ...r });
    }
  }
  return out;
}

export interface AggregateOptions {
  /** Every address must lie inside this prefix (the account's prefix the binding is made on). */
  parent?: string;
  /** At most this many addresses (default MAX_LIST_IPS). */
  maxIps?: number;
}

/**
 * The fewest CIDRs that cover exactly `ips` (no address more, none less), in address order:
 * 203.0.113.16 ... 203.0.113.23 is one `203.0.113.16/29`. Refuses, with a sentence that says what to change, an empty
 * list, more than `maxIps` addresses, anything that is not an address, a mix of IPv4 and IPv6, an address listed
 * twice, and an address outside `parent` when one is given.
 */
export function aggregate(ips: readonly string[], opts: AggregateOptions = {}): string[] {
  const max = opts.maxIps ?? MAX_LIST_IPS;
  if (ips.length === 0) throw new InvalidInputError('No IP addresses were given: list the addresses to bind, e.g. `203.0.113.16 203.0.113.17`.');
  if (ips.length > max) {
    throw new InvalidInputError(
      `The list has ${ips.length} addresses; one request takes at most ${max}. Split it into several requests, or name a CIDR that covers them.`,
    );
  }
  const parsed = ips.map((t) => parseIp(t));
  const v4 = parsed.find((a) => a.version === 4);
  const v6 = parsed.find((a) => a.version === 6);
  if (v4 && v6) {
    throw new InvalidInputError(
      `The list mixes IPv4 (${v4.text}) and IPv6 (${v6.text}) addresses; a CIDR holds one family. Make one request for each family.`,
    );
  }
  const seen = new Set<bigint>();
  const twice: string[] = [];
  for (const a of parsed) {
    if (seen.has(a.value) && !twice.includes(a.text)) twice.push(a.text);
    seen.add(a.value);
  }
  if (twice.length > 0) {
    throw new InvalidInputError(`${listOf(twice.map(code))} ${twice.length === 1 ? 'is' : 'are'} listed more than once; list each address once.`);
  }
  const version = parsed[0]!.version;
  if (opts.parent !== undefined) {
    const parent = parseCidr(opts.parent);
    if (parent.version !== version) {
      throw new InvalidInputError(`${code(parsed[0]!.text)} is an IPv${version} address, but ${parent.text} is an IPv${parent.version} prefix: list addresses of ${parent.text}.`);
    }
    const outside = parsed.filter((a) => !ipInCidr(a, parent)).map((a) => a.text);
    if (outside.length > 0) {
      throw new InvalidInputError(
        `${listOf(outside.map(code))} ${outside.length === 1 ? 'is' : 'are'} outside ${parent.text}; every address must be inside the prefix. Remove ${outside.length === 1 ? 'it' : 'them'}, or use the prefix that holds ${outside.length === 1 ? 'it' : 'them'}.`,
      );
    }
  }
  const ranges = mergeRanges(parsed.map((a) => ({ version, first: a.value, last: a.value })));
  return ranges.flatMap(rangeToCidrs);
}

/**
 * What is left of `cidr` once `taken` (CIDRs, any family; those of another family are ignored) are removed, as the
 * fewest CIDRs in address order: `exclude('203.0.113.0/29', ['203.0.113.2/32'])` is
 * `203.0.113.0/31, 203.0.113.3/32, 203.0.113.4/30`.
 */
export function exclude(cidr: string, taken: readonly string[]): string[] {
  const whole = cidrRange(cidr);
  const holes = mergeRanges(
    taken
      .map((t) => cidrRange(t))
      .filter((r) => r.version === whole.version && r.last >= whole.first && r.first <= whole.last)
      .map((r) => ({ version: r.version, first: r.first < whole.first ? whole.first : r.first, last: r.last > whole.last ? whole.last : r.last })),
  );
  const out: string[] = [];
  let cur = whole.first;
  for (const h of holes) {
    if (h.first > cur) out.push(...rangeToCidrs({ version: whole.version, first: cur, last: h.first - 1n }));
    cur = h.last + 1n;
  }
  if (cur <= whole.last) out.push(...rangeToCidrs({ version: whole.version, first: cur, last: whole.last }));
  return out;
}

/**
 * Reads an IP list as typed in Slack: addresses and `first-last` ranges separated by spaces, commas or new lines.
 * The size cap is applied before any range is expanded, so `10.0.0.0-10.255.255.255` is refused, not listed.
 * Returns canonical addresses in the order given (aggregate() then checks duplicates and families).
 */
export function parseIpList(text: string, opts: { maxIps?: number } = {}): string[] {
  const max = opts.maxIps ?? MAX_LIST_IPS;
  const tokens = text.split(/[\s,;]+/).filter((t) => t.length > 0);
  const out: string[] = [];
  for (const token of tokens) {
    const dash = token.indexOf('-');
    if (dash < 0) {
      out.push(parseIp(token).text);
    } else {
      const first = parseIp(token.slice(0, dash));
      const last = parseIp(token.slice(dash + 1));
      if (first.version !== last.version) {
        throw new InvalidInputError(`The range ${echo(token)} starts with IPv${first.version} and ends with IPv${last.version}; a range stays in one family.`);
      }
      if (last.value < first.value) throw new InvalidInputError(`The range ${first.text}-${last.text} ends before it starts; write the lower address first.`);
      const size = last.value - first.value + 1n;
      if (BigInt(out.length) + size > BigInt(max)) {
        throw new InvalidInputError(
          `The list has ${(BigInt(out.length) + size).toString()} addresses or more; one request takes at most ${max}. Split it, or name a CIDR that covers them.`,
        );
      }
      for (let v = first.value; v <= last.value; v++) out.push(formatIp(first.version, v));
    }
    if (out.length > max) {
      throw new InvalidInputError(`The list has more than ${max} addresses; one request takes at most ${max}. Split it, or name a CIDR that covers them.`);
    }
  }
  return out;
}

function code(text: string): string {
  return `\`${text}\``;
}

/** `a`, `a and b`, `a, b and 3 more`. */
function listOf(items: string[], shown = 3): string {
  if (items.length === 1) return items[0]!;
  if (items.length <= shown) return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]!}`;
  return `${items.slice(0, shown).join(', ')} and ${items.length - shown} more`;
}
