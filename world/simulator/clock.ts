/**
 * Simulated time shared by every simulator. Simulated time runs `scale` times faster than real time
 * (scale = simulated seconds per real second) and can be advanced by hand.
 */
export class SimClock {
  private realBase = Date.now();
  private simBase: number;

  constructor(
    private scale = 1,
    start: Date = new Date(),
  ) {
    this.simBase = start.getTime();
  }

  /** Simulated epoch milliseconds. */
  now(): number {
    return this.simBase + (Date.now() - this.realBase) * this.scale;
  }

  nowDate(): Date {
    return new Date(this.now());
  }

  /** RFC 3339 UTC with fractional seconds, as Cloudflare writes timestamps. */
  iso(at: number = this.now()): string {
    return new Date(at).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
  }

  getScale(): number {
    return this.scale;
  }

  setScale(scale: number): void {
    if (!(scale > 0)) throw new Error('time scale must be a positive number');
    this.rebase();
    this.scale = scale;
  }

  advance(ms: number): void {
    if (!(ms >= 0)) throw new Error('can only advance time forwards');
    this.rebase();
    this.simBase += ms;
  }

  /** Real milliseconds until simulated time reaches `simAt` (0 if already past). */
  realMsUntil(simAt: number): number {
    return Math.max(0, (simAt - this.now()) / this.scale);
  }

  private rebase(): void {
    const now = this.now();
    this.realBase = Date.now();
    this.simBase = now;
  }
}

/** Small deterministic PRNG (mulberry32) so seeded scenarios replay the same way. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
