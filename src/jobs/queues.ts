import { Queue, type ConnectionOptions } from 'bullmq';
import type { Dispatcher } from '../operations/ports.js';

export interface QueueNames {
  execute: string;
  watch: string;
  deliver: string;
  maintenance: string;
}

export function queueNames(prefix: string): QueueNames {
  return { execute: `${prefix}-execute`, watch: `${prefix}-watch`, deliver: `${prefix}-deliver`, maintenance: `${prefix}-maintenance` };
}

/** Enqueues jobs. Job ids make execute and watch idempotent: a second enqueue of the same operation is a no-op. */
export class JobDispatcher implements Dispatcher {
  readonly queues: { execute: Queue; watch: Queue; deliver: Queue; maintenance: Queue };

  constructor(
    connection: ConnectionOptions,
    names: QueueNames,
    private executeAttempts = 12,
  ) {
    const opts = { connection };
    this.queues = {
      execute: new Queue(names.execute, opts),
      watch: new Queue(names.watch, opts),
      deliver: new Queue(names.deliver, opts),
      maintenance: new Queue(names.maintenance, opts),
    };
  }

  async execute(opId: string): Promise<void> {
    await this.queues.execute.add(
      'execute',
      { opId },
      { jobId: `execute-${opId}`, attempts: this.executeAttempts, backoff: { type: 'exponential', delay: 1000 }, removeOnComplete: { age: 86_400 }, removeOnFail: { age: 7 * 86_400 } },
    );
  }

  async watch(opId: string, delayMs: number): Promise<void> {
    await this.queues.watch.add(
      'watch',
      { opId },
      { jobId: `watch-${opId}`, delay: delayMs, attempts: 1_000, backoff: { type: 'fixed', delay: 2000 }, removeOnComplete: { age: 86_400 }, removeOnFail: { age: 7 * 86_400 } },
    );
  }

  async deliver(opId: string): Promise<void> {
    await this.queues.deliver.add('deliver', { opId }, { attempts: 50, backoff: { type: 'exponential', delay: 500 }, removeOnComplete: true, removeOnFail: { age: 7 * 86_400 } });
  }

  async close(): Promise<void> {
    await Promise.all(Object.values(this.queues).map((q) => q.close()));
  }
}
