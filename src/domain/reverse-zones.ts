import { Address4, Address6 } from 'ip-address';
import { parseCidr, type Cidr } from './cidr.js';

/** Most zones we will list for one prefix; a v4 /9 would already need 128 zones. */
export const MAX_REVERSE_ZONES = 256;

/**
 * The reverse DNS zones covering a prefix: delegation happens on octet (in-addr.arpa) or nibble (ip6.arpa)
 * boundaries, so a prefix of length L needs 2^(boundary - L) zones, boundary = L rounded up to 8 (v4) or 4 (v6).
 * `1.1.0.0/23` gives `0.1.1.in-addr.arpa` and `1.1.1.in-addr.arpa`.
 */
export function reverseZones(prefix: string | Cidr): string[] {
  const cidr = typeof prefix === 'string' ? parseCidr(prefix) : prefix;
  const step = cidr.version === 4 ? 8 : 4;
  const boundary = Math.ceil(cidr.length / step) * step;
  const count = 2 ** (boundary - cidr.length);
  if (count > MAX_REVERSE_ZONES) {
    throw new RangeError(`${cidr.text} would need ${count} reverse zones; the most we list is ${MAX_REVERSE_ZONES}`);
  }
  const zones: string[] = [];
  if (cidr.version === 4) {
    const base = Number(new Address4(cidr.network).bigInt());
    const labels = boundary / 8;
    for (let i = 0; i < count; i++) {
      const addr = base + i * 2 ** (32 - boundary);
      const octets = [24, 16, 8, 0].map((s) => Math.floor(addr / 2 ** s) % 256).slice(0, labels);
      zones.push(`${octets.reverse().join('.')}${labels > 0 ? '.' : ''}in-addr.arpa`);
    }
  } else {
    const base = new Address6(cidr.network).bigInt();
    const nibbles = boundary / 4;
    for (let i = 0; i < count; i++) {
      const addr = base + (BigInt(i) << BigInt(128 - boundary));
      const hex = addr.toString(16).padStart(32, '0').slice(0, nibbles);
      zones.push(`${[...hex].reverse().join('.')}${nibbles > 0 ? '.' : ''}ip6.arpa`);
    }
  }
  return zones;
}

/** Where Cloudflare looks for the ownership token in a reverse zone. */
export function validationRecordName(zone: string): string {
  return `cf-validation.${zone}`;
}
