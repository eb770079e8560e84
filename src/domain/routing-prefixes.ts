import { Address4, Address6 } from 'ip-address';
import { InvalidInputError } from '../errors.js';
import { MAX_ANNOUNCE_LENGTH, type Cidr } from './cidr.js';

/**
 * The sub-prefixes of `cidr` with length `length`, in address order, at most `limit` of them
 * (`total` says how many exist). `length` equal to the prefix's own gives the prefix itself.
 */
export function subPrefixes(cidr: Cidr, length: number, limit = 16): { prefixes: string[]; total: number } {
  const bits = cidr.version === 4 ? 32 : 128;
  if (length < cidr.length || length > bits) throw new RangeError(`length ${length} outside ${cidr.text}`);
  const totalBig = 1n << BigInt(length - cidr.length);
  const total = totalBig > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(totalBig);
  const count = Math.min(total, limit);
  const step = 1n << BigInt(bits - length);
  const base = cidr.version === 4 ? new Address4(cidr.network).bigInt() : new Address6(cidr.network).bigInt();
  const prefixes: string[] = [];
  for (let i = 0n; i < BigInt(count); i++) {
    const addr = base + i * step;
    const text = cidr.version === 4 ? Address4.fromBigInt(addr).correctForm() : Address6.fromBigInt(addr).correctForm();
    prefixes.push(`${text}/${length}`);
  }
  return { prefixes, total };
}

/** Reads an AS number typed by a user (`13335` or `AS13335`); throws InvalidInputError with a sentence. */
export function parseAsnInput(text: string | number): number {
  const raw = String(text).trim();
  const m = /^(?:AS)?(\d{1,10})$/i.exec(raw);
  const n = m ? Number(m[1]) : NaN;
  if (!m || n > 4294967295) {
    throw new InvalidInputError('`{input}` is not an AS number. Write it as `13335` or `AS13335` (1 to 4294967294).', { input: raw || '(empty)' });
  }
  checkAsn(n);
  return n;
}

/** Rejects AS numbers that can never originate a route (0, AS_TRANS, the last of each range). */
export function checkAsn(asn: number): number {
  if (!Number.isInteger(asn) || asn < 1 || asn > 4294967294 || asn === 23456 || asn === 65535) {
    throw new InvalidInputError(`AS${asn} cannot originate a route: use a public or private AS number between 1 and 4294967294 (not 23456 or 65535).`);
  }
  return asn;
}

/** Validates the lengths that will be announced from `cidr`: between its own length and /24 (v4) or /48 (v6). */
export function checkAnnounceLengths(cidr: Cidr, lengths: readonly number[] | undefined): number[] {
  const max = MAX_ANNOUNCE_LENGTH[cidr.version];
  const list = lengths && lengths.length > 0 ? lengths : [cidr.length];
  for (const l of list) {
    if (!Number.isInteger(l) || l < cidr.length || l > Math.max(max, cidr.length)) {
      throw new InvalidInputError(
        `/${l} cannot be announced from ${cidr.text}: announced lengths must lie between /${cidr.length} and /${max}.`,
      );
    }
  }
  return [...new Set(list)].sort((a, b) => a - b);
}


/** The prefix of length `length` (no longer than the prefix's own) that contains `cidr`. */
export function coveringPrefix(cidr: Cidr, length: number): string {
  if (length > cidr.length) throw new RangeError(`/${length} cannot cover ${cidr.text}`);
  const network =
    cidr.version === 4
      ? new Address4(`${cidr.network}/${length}`).startAddress().correctForm()
      : new Address6(`${cidr.network}/${length}`).startAddress().correctForm();
  return `${network}/${length}`;
}
