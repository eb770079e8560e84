/** Bounded concurrency, for reads of services that serve a few requests at a time per client. */

/** `fn` over `items`, at most `limit` at once, each next item taken when one finishes; results in order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}

/** At most `size` holders at once, shared by callers that start independently; the rest wait in turn. */
export class Slots {
  private busy = 0;
  private readonly waiting: (() => void)[] = [];
  /** The most held at once so far (tests and benches). */
  maxBusy = 0;

  constructor(private readonly size: number) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.busy >= this.size) await new Promise<void>((r) => this.waiting.push(r));
    else this.busy++;
    this.maxBusy = Math.max(this.maxBusy, this.busy);
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.busy--;
    }
  }
}
