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

/**
 * Acks first: counts the Slack requests this process has received but not answered yet (HTTP level: a response not
 * yet finished), so work that runs after an ack can wait until the acks in flight are out. Slack gives every
 * request 3 s for its ack and then retries or shows "operation_timeout"; the work after an ack (respond(), a modal,
 * a card) has no such deadline, so under a burst it goes after the acks instead of between them. `idle()` is bounded:
 * under a steady stream the work still starts within `maxWaitMs`.
 */
export class AckGate {
  private pending = 0;
  private lastArrival = 0;
  private waiters: (() => void)[] = [];
  private checking = false;

  /**
   * @param maxWaitMs the longest a piece of work waits for the acks in flight
   * @param quietMs how long no request must have arrived (and none be unanswered) before work goes: a burst reaches
   *   the process over several turns of the event loop, and its late acks must not queue behind the early ones' work
   */
  constructor(
    readonly maxWaitMs: number,
    readonly quietMs = 3,
  ) {}

  get inFlight(): number {
    return this.pending;
  }

  /** Wraps an HTTP request listener: a request counts from arrival until its response finishes or the socket closes. */
  wrap(listener: (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => void): (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => void {
    return (req, res) => {
      this.pending++;
      this.lastArrival = performance.now();
      let done = false;
      const settle = (): void => {
        if (done) return;
        done = true;
        this.pending--;
        if (this.pending === 0) this.check();
      };
      res.once('finish', settle);
      res.once('close', settle);
      try {
        listener(req, res);
      } catch (err) {
        settle();
        throw err;
      }
    };
  }

  /** Resolves once no request waits for its answer and none arrived for `quietMs`, or after `maxWaitMs` at most. */
  idle(): Promise<void> {
    if (this.pending === 0 && performance.now() - this.lastArrival >= this.quietMs) return Promise.resolve();
    return new Promise<void>((resolve) => {
      let settled = false;
      const go = (): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(go, this.maxWaitMs);
      this.waiters.push(go);
      if (this.pending === 0) this.check();
    });
  }

  /** Wakes the waiters once the process has been quiet for `quietMs`; re-arms itself while requests keep coming. */
  private check(): void {
    if (this.checking || this.waiters.length === 0) return;
    this.checking = true;
    const wait = Math.max(0, this.quietMs - (performance.now() - this.lastArrival));
    setTimeout(() => {
      this.checking = false;
      if (this.pending > 0) return; // the last answer to finish checks again
      if (performance.now() - this.lastArrival < this.quietMs) return this.check();
      const ws = this.waiters;
      this.waiters = [];
      for (const w of ws) w();
    }, wait);
  }
}
