import { Address6 } from 'ip-address';
import { cidrContains, parseCidr, type Cidr } from '../../../src/domain/cidr.js';
import type { World } from '../world.js';
import type { SimPrefix } from './state.js';

/** Cloudflare's prefix validation against the simulated registries: IRR, RPKI and ownership. */

export interface ValidationOutcome {
  irr: 'valid' | 'missing' | 'mismatch_asn';
  rpki: 'valid' | 'missing' | 'invalid' | 'mismatch_asn';
  ownership: 'valid' | 'missing' | 'invalid';
}

export function validatePrefixInWorld(p: Pick<SimPrefix, 'cidr' | 'asn' | 'ownershipValidationToken'>, world: World): ValidationOutcome {
  const covering = (outer: string) => safeContains(outer, p.cidr);
  const length = parseCidr(p.cidr).length;

  // IRR: route (route6) objects for exactly the prefix; a covering object is another prefix's object. IRRd's pseudo
  // objects made from ROAs (source RPKI) are no registration.
  const routes = world.routeObjects.filter((r) => r.source !== 'RPKI' && sameCidr(r.prefix, p.cidr));
  const irr = routes.some((r) => r.origin === p.asn) ? 'valid' : routes.length ? 'mismatch_asn' : 'missing';

  const roas = world.roas.filter((r) => covering(r.prefix));
  const rpki = roas.some((r) => r.asn === p.asn && r.maxLength >= length)
    ? 'valid'
    : roas.some((r) => r.asn === p.asn)
      ? 'invalid'
      : roas.length
        ? 'mismatch_asn'
        : 'missing';

  // Ownership: `cf-validation: <token>` in a remarks or descr line of that route object, or the token in the
  // cf-validation TXT of every reverse zone; and, per the troubleshooting page, a matching ROA.
  const token = p.ownershipValidationToken;
  const irrTokens = routes.flatMap((r) => [...r.remarks, ...r.descr]).flatMap(validationTokens);
  const inIrr = irrTokens.includes(token);
  const zones = reverseZones(p.cidr);
  const txtOf = (zone: string) => world.txt.get(`cf-validation.${zone}`) ?? [];
  const inDns = zones.length > 0 && zones.every((z) => txtOf(z).some((v) => v.trim() === token));
  const anyAttempt = irrTokens.length > 0 || zones.some((z) => txtOf(z).length > 0);
  const ownership = inIrr || inDns ? (rpki === 'valid' ? 'valid' : 'invalid') : anyAttempt ? 'invalid' : 'missing';
  return { irr, rpki, ownership };
}

/** The values of `cf-validation: <value>` in one IRR line (a longer word is another value, not the token). */
export function validationTokens(line: string): string[] {
  return [...line.matchAll(/cf-validation\s*:\s*(\S+)/gi)].map((m) => m[1]!);
}

function sameCidr(a: string, b: string): boolean {
  try {
    return parseCidr(a).text === parseCidr(b).text;
  } catch {
    return false;
  }
}

function safeContains(outer: string, inner: string): boolean {
  try {
    return cidrContains(outer, inner);
  } catch {
    return false;
  }
}

/** The reverse DNS zones (octet or nibble aligned) that together cover `cidr`. */
export function reverseZones(text: string): string[] {
  const c: Cidr = parseCidr(text);
  if (c.version === 4) {
    const boundary = c.length <= 8 ? 8 : c.length <= 16 ? 16 : 24;
    const octets = c.network.split('.').map(Number);
    const base = ((octets[0]! << 24) | (octets[1]! << 16) | (octets[2]! << 8) | octets[3]!) >>> 0;
    const count = c.length >= boundary ? 1 : 2 ** (boundary - c.length);
    const step = 2 ** (32 - boundary);
    const out: string[] = [];
    for (let i = 0; i < count; i++) {
      const n = (base + i * step) >>> 0;
      const parts = [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255].slice(0, boundary / 8);
      out.push(`${parts.reverse().join('.')}.in-addr.arpa`);
    }
    return out;
  }
  const boundary = Math.min(128, Math.ceil(c.length / 4) * 4);
  const hex = new Address6(c.network).canonicalForm().replace(/:/g, '');
  const nibbles = boundary / 4;
  const count = 2 ** (boundary - c.length);
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const prefix = (BigInt(`0x${hex.slice(0, nibbles) || '0'}`) + BigInt(i)).toString(16).padStart(nibbles, '0');
    out.push(`${prefix.split('').reverse().join('.')}.ip6.arpa`);
  }
  return out;
}

/** Do two CIDRs overlap (one inside the other)? */
export function overlaps(a: string, b: string): boolean {
  return safeContains(a, b) || safeContains(b, a);
}

/** Is `ip` (an address, no length) inside `cidr`? */
export function ipInCidr(ip: string, cidr: string): boolean {
  const suffix = ip.includes(':') ? '/128' : '/32';
  return safeContains(cidr, `${ip}${suffix}`);
}
