/** A place in the work queue: run the work once its turn comes, or give the place up. */
export interface Ticket {
  /** Waits for a free slot, runs `fn`, frees the slot. Call it (or `cancel`) exactly once. */
  run<T>(fn: (waitedMs: number) => Promise<T>): Promise<T>;
  /** Gives the place up without running anything. */
  cancel(): void;
}

/**
 * Bounds the interactive work of one process (what a command does after its ack: intake reads, status,
 * preflight): at most `concurrency` run at once and at most `maxWaiting` wait, first come first served. `enter()`
 * answers at once, so a command beyond both can be told "busy" in its ack.
 */
export class WorkQueue {
  private running = 0;
  private waiting: (() => void)[] = [];

  constructor(
    readonly concurrency: number,
    readonly maxWaiting: number,
  ) {}

  get stats(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waiting.length };
  }

  /** A place in line, or null when `concurrency` run and `maxWaiting` wait already. */
  enter(): Ticket | null {
    const at = Date.now();
    let turn: Promise<void>;
    if (this.running < this.concurrency) {
      this.running++;
      turn = Promise.resolve();
    } else if (this.waiting.length < this.maxWaiting) {
      // The slot is handed over by release(): `running` stays as it is.
      turn = new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      return null;
    }
    let used = false;
    return {
      run: async <T>(fn: (waitedMs: number) => Promise<T>): Promise<T> => {
        if (used) throw new Error('a work-queue ticket runs once');
        used = true;
        await turn;
        try {
          return await fn(Date.now() - at);
        } finally {
          this.release();
        }
      },
      cancel: () => {
        if (used) return;
        used = true;
        void turn.then(() => this.release());
      },
    };
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.running--;
  }
}
