import { Queue, type ConnectionOptions } from 'bullmq';
import type { Dispatcher, JobState } from '../operations/ports.js';
import { settledWithin } from '../redis.js';

export interface QueueNames {
  /** BullMQ key prefix: `{prefix}:bull`, one hash tag with the store's keys, so it runs on Redis Cluster. */
  prefix: string;
  execute: string;
  watch: string;
  deliver: string;
  maintenance: string;
  /** Alert cards: a queue of their own, ahead of the operations' paced deliveries. */
  alerts: string;
}

export function queueNames(prefix: string): QueueNames {
  return { prefix: `{${prefix}}:bull`, execute: 'execute', watch: 'watch', deliver: 'deliver', maintenance: 'maintenance', alerts: 'alerts' };
}

export interface QueueDepth {
  queue: string;
  counts: Record<string, number>;
  /** Age of the oldest job waiting to run, 0 when none waits. */
  oldestWaitingMs: number;
}

/** Finished jobs kept for inspection: a bounded number, for a bounded time. */
export const RETAIN_COMPLETED = { count: 1000, age: 86_400 };
export const RETAIN_FAILED = { count: 1000, age: 7 * 86_400 };

const jobId = (queue: 'execute' | 'watch', opId: string, gen: number) => `${queue}-${opId}-${gen}`;

/**
 * Enqueues jobs. Execute and watch job ids carry the operation's job generation: a second enqueue of the same
 * generation is a no-op, and recovery re-arms under the next generation. Deliver jobs are deduplicated per operation.
 */
export class JobDispatcher implements Dispatcher {
  readonly queues: { execute: Queue; watch: Queue; deliver: Queue; maintenance: Queue; alerts: Queue };

  constructor(
    connection: ConnectionOptions,
    names: QueueNames,
    private executeAttempts = 12,
    /** Queue errors are the shared connection's (logged once per outage where it is made); without a listener BullMQ prints each one. */
    onError: (err: Error) => void = () => undefined,
  ) {
    const opts = { connection, prefix: names.prefix };
    this.queues = {
      execute: new Queue(names.execute, opts),
      watch: new Queue(names.watch, opts),
      deliver: new Queue(names.deliver, opts),
      maintenance: new Queue(names.maintenance, opts),
      alerts: new Queue(names.alerts, opts),
    };
    for (const q of Object.values(this.queues)) q.on('error', onError);
  }

  async execute(opId: string, gen: number): Promise<void> {
    await this.queues.execute.add(
      'execute',
      { opId, gen },
      { jobId: jobId('execute', opId, gen), attempts: this.executeAttempts, backoff: { type: 'exponential', delay: 1000 }, removeOnComplete: RETAIN_COMPLETED, removeOnFail: RETAIN_FAILED },
    );
  }

  async watch(opId: string, delayMs: number, gen: number): Promise<void> {
    await this.queues.watch.add(
      'watch',
      { opId, gen },
      { jobId: jobId('watch', opId, gen), delay: delayMs, attempts: 3, backoff: { type: 'fixed', delay: 2000 }, removeOnComplete: RETAIN_COMPLETED, removeOnFail: RETAIN_FAILED },
    );
  }

  async deliver(opId: string): Promise<void> {
    // One pending deliver job per operation: the drainer empties the whole outbox in order, so more would only wait.
    await this.queues.deliver.add('deliver', { opId }, { deduplication: { id: opId }, attempts: 50, backoff: { type: 'exponential', delay: 500 }, removeOnComplete: true, removeOnFail: RETAIN_FAILED });
  }

  /** One pending delivery per alert: the drainer posts or updates the card to what the record says at that moment. */
  async deliverAlert(alertId: string): Promise<void> {
    await this.queues.alerts.add('alert', { alertId }, { deduplication: { id: `alert-${alertId}` }, attempts: 50, backoff: { type: 'exponential', delay: 300 }, removeOnComplete: true, removeOnFail: RETAIN_FAILED });
  }

  async jobState(queue: 'execute' | 'watch', opId: string, gen: number): Promise<JobState> {
    const job = await this.queues[queue].getJob(jobId(queue, opId, gen));
    if (!job) return 'missing';
    const state = await job.getState();
    if (state === 'completed') return 'completed';
    if (state === 'failed') return 'failed';
    if (state === 'unknown') return 'missing';
    return 'pending';
  }

  /** Jobs per state and the age of the oldest waiting job, per queue (for `/metrics`). */
  async depths(now = Date.now()): Promise<QueueDepth[]> {
    return Promise.all(
      Object.entries(this.queues).map(async ([queue, q]) => {
        const [counts, oldest] = await Promise.all([q.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'failed'), q.getJobs(['waiting', 'prioritized'], 0, 0, true)]);
        const since = Math.min(...oldest.filter((j) => j).map((j) => j.timestamp));
        return { queue, counts, oldestWaitingMs: Number.isFinite(since) ? Math.max(0, now - since) : 0 };
      }),
    );
  }

  /** Closes the queues; after `timeoutMs` (Redis gone or not answering) drops their connection instead. */
  async close(timeoutMs = 5000): Promise<void> {
    const closing = Promise.all(Object.values(this.queues).map((q) => q.close()));
    if (!(await settledWithin(closing, timeoutMs))) await settledWithin(Promise.allSettled(Object.values(this.queues).map((q) => q.disconnect())), 1000);
  }
}
