/**
 * Properties of the reverse zones Cloudflare reads the ownership token from (fast-check): every address of a prefix
 * falls in exactly one listed zone, and the zones sit on octet (in-addr.arpa) or nibble (ip6.arpa) boundaries.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cidrRange, formatIp } from '../../src/domain/address-space.js';
import type { IpVersion } from '../../src/domain/cidr.js';
import { reverseZones } from '../../src/domain/reverse-zones.js';
import { reverseZones as simulatorReverseZones } from '../../world/simulator/cloudflare/rules.js';

export const RUNS = { zones: 400, addresses: 400, simulator: 300 } as const;

const BITS: Record<IpVersion, number> = { 4: 32, 6: 128 };

/** A prefix of the family with a length in `[min, max]` and random network bits. */
const prefix = (version: IpVersion, min: number, max: number) =>
  fc.tuple(fc.integer({ min, max }), fc.bigInt({ min: 0n, max: (1n << BigInt(BITS[version])) - 1n })).map(([length, bits]) => {
    const host = BigInt(BITS[version] - length);
    return { version, length, text: `${formatIp(version, (bits >> host) << host)}/${length}` };
  });
const anyPrefix = fc.oneof(prefix(4, 0, 32), prefix(6, 0, 128));

/** Reads a zone name back into the block of addresses it is authoritative for (an independent oracle). */
function zoneBlock(zone: string): { version: IpVersion; first: bigint; length: number } {
  if (zone.endsWith('in-addr.arpa')) {
    const labels = zone === 'in-addr.arpa' ? [] : zone.replace(/\.in-addr\.arpa$/, '').split('.').reverse();
    for (const l of labels) expect(l).toMatch(/^(0|[1-9]\d{0,2})$/);
    const octets = [...labels.map(Number), 0, 0, 0, 0].slice(0, 4);
    for (const o of octets) expect(o).toBeLessThan(256);
    return { version: 4, first: octets.reduce((a, o) => (a << 8n) + BigInt(o), 0n), length: labels.length * 8 };
  }
  expect(zone.endsWith('ip6.arpa')).toBe(true);
  const nibbles = zone === 'ip6.arpa' ? [] : zone.replace(/\.ip6\.arpa$/, '').split('.').reverse();
  for (const n of nibbles) expect(n).toMatch(/^[0-9a-f]$/);
  return { version: 6, first: BigInt(`0x${nibbles.join('').padEnd(32, '0')}`), length: nibbles.length * 4 };
}

describe('reverseZones (fast-check)', () => {
  it(`zones sit on octet or nibble boundaries, inside the prefix, disjoint, and together exactly the prefix (${RUNS.zones} runs)`, () => {
    fc.assert(
      fc.property(anyPrefix, (p) => {
        const step = p.version === 4 ? 8 : 4;
        const boundary = Math.ceil(p.length / step) * step;
        const zones = reverseZones(p.text);
        expect(new Set(zones).size).toBe(zones.length);
        expect(zones).toHaveLength(2 ** (boundary - p.length));
        const range = cidrRange(p.text);
        const blocks = zones.map(zoneBlock).sort((a, b) => (a.first < b.first ? -1 : 1));
        let next = range.first;
        for (const b of blocks) {
          expect(b.version).toBe(p.version);
          // The nearest boundary at or below the prefix length: no zone is larger than needed, none smaller.
          expect(b.length % step).toBe(0);
          expect(b.length).toBe(boundary);
          // Contiguous from the prefix's first address: disjoint, no gap, nothing outside.
          expect(b.first).toBe(next);
          next = b.first + (1n << BigInt(BITS[p.version] - b.length));
        }
        expect(next).toBe(range.last + 1n);
      }),
      { numRuns: RUNS.zones },
    );
  });

  it(`any address of the prefix falls in exactly one listed zone (${RUNS.addresses} runs)`, () => {
    fc.assert(
      fc.property(
        anyPrefix.chain((p) => {
          const r = cidrRange(p.text);
          return fc.tuple(fc.constant(p), fc.bigInt({ min: r.first, max: r.last }));
        }),
        ([p, address]) => {
          const holders = reverseZones(p.text).filter((z) => {
            const b = zoneBlock(z);
            return address >= b.first && address < b.first + (1n << BigInt(BITS[p.version] - b.length));
          });
          expect(holders).toHaveLength(1);
        },
      ),
      { numRuns: RUNS.addresses },
    );
  });

  it(`the simulated Cloudflare reads the same zones as the bot for every onboardable prefix (${RUNS.simulator} runs)`, () => {
    fc.assert(
      fc.property(fc.oneof(prefix(4, 1, 24), prefix(6, 1, 48)), (p) => {
        expect(simulatorReverseZones(p.text)).toEqual(reverseZones(p.text));
      }),
      { numRuns: RUNS.simulator },
    );
  });
});
