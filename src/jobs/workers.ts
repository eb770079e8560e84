import { DelayedError, Worker, type ConnectionOptions, type Job } from 'bullmq';
import type { Logger } from 'pino';
import type { Deliverer } from '../operations/deliverer.js';
import type { Executor } from '../operations/executor.js';
import type { OperationService } from '../operations/service.js';
import type { OperationStore } from '../operations/store.js';
import type { Watcher } from '../operations/watcher.js';
import type { JobDispatcher, QueueNames } from './queues.js';

export interface WorkerDeps {
  connection: ConnectionOptions;
  names: QueueNames;
  dispatcher: JobDispatcher;
  executor: Executor;
  watcher: Watcher;
  deliverer: Deliverer;
  service: OperationService;
  store: OperationStore;
  logger: Logger;
  sweepIntervalMs: number;
  /** How long a job may run before another worker takes it over after a crash. */
  lockDurationMs?: number;
}

export interface RunningWorkers {
  close(): Promise<void>;
}

interface OpJob {
  opId: string;
}

/** Starts the BullMQ workers: execute, watch (re-armed by delaying itself), deliver, and the maintenance sweep. */
export async function startWorkers(deps: WorkerDeps): Promise<RunningWorkers> {
  const { connection, names, logger } = deps;
  const lockDuration = deps.lockDurationMs ?? 30_000;
  const common = { connection, lockDuration, stalledInterval: Math.max(500, Math.floor(lockDuration / 2)), maxStalledCount: 100 };

  const execute = new Worker<OpJob>(names.execute, async (job) => deps.executor.execute(job.data.opId), { ...common, concurrency: 8 });

  const watch = new Worker<OpJob>(
    names.watch,
    async (job: Job<OpJob>, token?: string) => {
      const res = await deps.watcher.tick(job.data.opId);
      if (res.done) return;
      await job.moveToDelayed(Date.now() + res.nextDelayMs, token);
      throw new DelayedError();
    },
    { ...common, concurrency: 32 },
  );

  const deliver = new Worker<OpJob>(names.deliver, async (job) => deps.deliverer.drain(job.data.opId), { ...common, concurrency: 16 });

  const maintenance = new Worker(
    names.maintenance,
    async () => {
      const expired = await deps.service.expireDue();
      await deps.store.prune();
      const rearmed = await deps.service.recoverStranded();
      // Recovery: an outbox with items but no job (a crash between recording and enqueueing) gets a drain.
      const pending = await deps.store.pendingOutboxes();
      await Promise.all(pending.map((id) => deps.deliverer.drain(id)));
      return { expired, pending: pending.length, rearmed };
    },
    { ...common, concurrency: 1 },
  );
  await deps.dispatcher.queues.maintenance.upsertJobScheduler('sweep', { every: deps.sweepIntervalMs }, { name: 'sweep' });

  execute.on('failed', (job, err) => {
    if (!job || job.attemptsMade < (job.opts.attempts ?? 1)) return;
    deps.executor.giveUp(job.data.opId, err.message).catch((e: unknown) => logger.error({ err: e, operationId: job.data.opId }, 'could not close a request after its last attempt'));
  });

  for (const [name, w] of Object.entries({ execute, watch, deliver, maintenance })) {
    w.on('failed', (job, err) => logger.warn({ queue: name, jobId: job?.id, operationId: (job?.data as OpJob | undefined)?.opId, attempts: job?.attemptsMade, err }, 'job failed'));
    w.on('error', (err) => logger.error({ queue: name, err }, 'worker error'));
  }
  await Promise.all([execute, watch, deliver, maintenance].map((w) => w.waitUntilReady()));

  return {
    async close() {
      await Promise.all([execute, watch, deliver, maintenance].map((w) => w.close()));
    },
  };
}
