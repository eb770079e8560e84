/**
 * Properties of the address arithmetic, checked on generated inputs (fast-check). Each property states its run count;
 * a failure prints the shrunk counterexample and the seed to replay it.
 */
import fc from 'fast-check';
import { Address6 } from 'ip-address';
import { describe, expect, it } from 'vitest';
import { aggregate, cidrRange, exclude, formatIp, MAX_LIST_IPS } from '../../src/domain/address-space.js';
import { cidrContains, parseCidr, type IpVersion } from '../../src/domain/cidr.js';
import { BotError, ErrorCode } from '../../src/errors.js';

export const RUNS = { aggregate: 500, refusals: 200, exclude: 300 } as const;

const BITS: Record<IpVersion, bigint> = { 4: 32n, 6: 128n };
const SPAN = 1024;

/**
 * A set of 1 to 256 addresses of one family inside a window of 1024: scattered points, or a few runs (which make the
 * large aligned blocks), at any base, aligned bases and the two ends of the space included.
 */
const addressSet = (version: IpVersion) => {
  const top = (1n << BITS[version]) - BigInt(SPAN);
  const base = fc.oneof(fc.bigInt({ min: 0n, max: top }), fc.bigInt({ min: 0n, max: top >> 10n }).map((n) => n << 10n), fc.constantFrom(0n, top));
  const points = fc.uniqueArray(fc.integer({ min: 0, max: SPAN - 1 }), { minLength: 1, maxLength: MAX_LIST_IPS });
  const runs = fc
    .array(fc.tuple(fc.integer({ min: 0, max: SPAN - 1 }), fc.integer({ min: 1, max: MAX_LIST_IPS })), { minLength: 1, maxLength: 4 })
    .map((rs) => {
      const set = new Set<number>();
      for (const [start, length] of rs) for (let o = start; o < Math.min(SPAN, start + length) && set.size < MAX_LIST_IPS; o++) set.add(o);
      return [...set];
    });
  return fc.tuple(base, fc.oneof(points, runs)).map(([b, offsets]) => ({ version, values: offsets.map((o) => b + BigInt(o)) }));
};
const anySet = fc.oneof(addressSet(4), addressSet(6));

const texts = (s: { version: IpVersion; values: bigint[] }) => s.values.map((v) => formatIp(s.version, v));

/** Every address of the CIDRs, in order (outputs are small: never more addresses than the input). */
function expand(cidrs: string[]): bigint[] {
  return cidrs.flatMap((c) => {
    const r = cidrRange(c);
    const out: bigint[] = [];
    for (let v = r.first; v <= r.last; v++) out.push(v);
    return out;
  });
}

const sorted = (xs: bigint[]) => [...xs].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

/**
 * Reference for the minimum: merge sibling blocks bottom-up (two halves of one aligned block become the block) until
 * nothing merges. What is left are the maximal aligned blocks inside the set, which is the unique fewest-CIDR cover.
 */
function referenceCount(version: IpVersion, values: bigint[]): number {
  const bits = BITS[version];
  let level = new Set(values);
  let count = 0;
  for (let len = bits; len >= 0n; len--) {
    const size = 1n << (bits - len);
    const next = new Set<bigint>();
    for (const n of level) {
      const sibling = n ^ size;
      if (len > 0n && level.has(sibling)) next.add(n & ~(2n * size - 1n));
      else count++;
    }
    level = next;
    if (level.size === 0) break;
  }
  return count;
}

describe('aggregate (fast-check)', () => {
  it(`covers exactly the input: expanding the CIDRs gives the same addresses (${RUNS.aggregate} runs)`, () => {
    fc.assert(
      fc.property(anySet, (s) => {
        const out = aggregate(texts(s));
        expect(expand(out)).toEqual(sorted(s.values));
        for (const c of out) expect(parseCidr(c).version).toBe(s.version);
      }),
      { numRuns: RUNS.aggregate },
    );
  });

  it(`is minimal: in order, no overlap, no two mergeable, and as few as the sibling-merge reference (${RUNS.aggregate} runs)`, () => {
    fc.assert(
      fc.property(anySet, (s) => {
        const out = aggregate(texts(s));
        const ranges = out.map((c) => cidrRange(c));
        for (let i = 1; i < ranges.length; i++) expect(ranges[i]!.first).toBeGreaterThan(ranges[i - 1]!.last);
        const set = new Set(out);
        for (const c of out) {
          const { length } = parseCidr(c);
          if (length === 0) continue;
          // The block's sibling (the other half of its parent) is never also in the output.
          const sibling = `${formatIp(s.version, cidrRange(c).first ^ (1n << (BITS[s.version] - BigInt(length))))}/${length}`;
          expect(set.has(sibling)).toBe(false);
        }
        expect(out.length).toBe(referenceCount(s.version, s.values));
      }),
      { numRuns: RUNS.aggregate },
    );
  });

  it(`is stable under input order and spelling (${RUNS.aggregate} runs)`, () => {
    fc.assert(
      fc.property(
        anySet.chain((s) => fc.tuple(fc.constant(s), fc.shuffledSubarray(texts(s), { minLength: s.values.length, maxLength: s.values.length }))),
        ([s, shuffled]) => {
          const spelled = shuffled.map((t) => (s.version === 6 ? new Address6(t).canonicalForm().toUpperCase() : t));
          expect(aggregate(spelled)).toEqual(aggregate(texts(s)));
        },
      ),
      { numRuns: RUNS.aggregate },
    );
  });

  it(`inside a parent prefix: accepted when every address is inside, refused when one is not (${RUNS.refusals} runs)`, () => {
    fc.assert(
      fc.property(addressSet(4), fc.integer({ min: 16, max: 32 }), (s, length) => {
        const parent = `${formatIp(4, s.values[0]! & ~((1n << BigInt(32 - length)) - 1n))}/${length}`;
        const inside = s.values.every((v) => cidrContains(parent, `${formatIp(4, v)}/32`));
        if (inside) {
          for (const c of aggregate(texts(s), { parent })) expect(cidrContains(parent, c)).toBe(true);
        } else {
          expectRefused(() => aggregate(texts(s), { parent }), 'outside');
        }
      }),
      { numRuns: RUNS.refusals },
    );
  });

  it(`refuses any list with a duplicate, a mix of families, or more than the cap (${RUNS.refusals} runs each)`, () => {
    fc.assert(
      fc.property(anySet, fc.nat(), (s, pick) => {
        const list = texts(s).slice(0, MAX_LIST_IPS - 1);
        expectRefused(() => aggregate([...list, list[pick % list.length]!]), 'more than once');
      }),
      { numRuns: RUNS.refusals },
    );
    fc.assert(
      fc.property(addressSet(4), addressSet(6), (a, b) => {
        expectRefused(() => aggregate([...texts(a).slice(0, MAX_LIST_IPS / 2), ...texts(b).slice(0, MAX_LIST_IPS / 2)]), 'mixes IPv4');
      }),
      { numRuns: RUNS.refusals },
    );
    fc.assert(
      fc.property(fc.integer({ min: MAX_LIST_IPS + 1, max: 1000 }), (n) => {
        const list = Array.from({ length: n }, (_, i) => formatIp(4, 0x0a000000n + BigInt(i)));
        expectRefused(() => aggregate(list), `The list has ${n} addresses`);
      }),
      { numRuns: RUNS.refusals },
    );
  });
});

describe('exclude (fast-check)', () => {
  it(`leaves exactly the addresses not taken, as few CIDRs as aggregate gives for them (${RUNS.exclude} runs)`, () => {
    const hole = fc.tuple(fc.integer({ min: -64, max: 320 }), fc.integer({ min: 22, max: 32 }));
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffff }), fc.array(hole, { maxLength: 6 }), (net, holes) => {
        const base = BigInt(net) << 8n;
        const cidr = `${formatIp(4, base)}/24`;
        const taken = holes.map(([offset, length]) => {
          const at = (base + BigInt(offset) + (1n << 32n)) % (1n << 32n);
          return `${formatIp(4, at & ~((1n << BigInt(32 - length)) - 1n))}/${length}`;
        });
        const out = exclude(cidr, taken);
        const takenSet = new Set(expandClamped(taken, base));
        const left: bigint[] = [];
        for (let v = base; v < base + 256n; v++) if (!takenSet.has(v)) left.push(v);
        expect(expand(out)).toEqual(left);
        expect(out).toEqual(left.length ? aggregate(left.map((v) => formatIp(4, v))) : []);
      }),
      { numRuns: RUNS.exclude },
    );
  });
});

/** Addresses of `cidrs` that fall in the /24 at `base` (holes may be larger than the /24 or outside it). */
function expandClamped(cidrs: string[], base: bigint): bigint[] {
  return cidrs.flatMap((c) => {
    const r = cidrRange(c);
    const out: bigint[] = [];
    for (let v = r.first > base ? r.first : base; v <= r.last && v < base + 256n; v++) out.push(v);
    return out;
  });
}

function expectRefused(fn: () => unknown, phrase: string): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(BotError);
  expect((err as BotError).code).toBe(ErrorCode.InvalidInput);
  expect((err as BotError).userMessage).toContain(phrase);
}
