import { DelayedError, UnrecoverableError, Worker, type ConnectionOptions, type Job } from 'bullmq';
import type { Logger } from 'pino';
import { DeliveryBackoff, type Deliverer } from '../operations/deliverer.js';
import { DelayExecution, NotRetryable, type Executor } from '../operations/executor.js';
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
  gen?: number;
}

/** Maintenance sweeps kept: the last few, for inspection; the scheduler never piles them up. */
const SWEEPS_KEPT = { removeOnComplete: { count: 10 }, removeOnFail: { count: 50 } };

/** Starts the BullMQ workers: execute, watch (re-armed by delaying itself), deliver, and the maintenance sweep. */
export async function startWorkers(deps: WorkerDeps): Promise<RunningWorkers> {
  const { connection, names, logger } = deps;
  const lockDuration = deps.lockDurationMs ?? 30_000;
  // A job whose worker died is taken over at most twice; a poison job then fails instead of looping.
  const common = { connection, prefix: names.prefix, lockDuration, stalledInterval: Math.max(500, Math.floor(lockDuration / 2)), maxStalledCount: 2 };

  const execute = new Worker<OpJob>(
    names.execute,
    async (job: Job<OpJob>, token?: string) => {
      const attempts = job.opts.attempts ?? 1;
      try {
        // The last attempt closes the operation itself (in the processor, not in a listener a dying process loses).
        await deps.executor.execute(job.data.opId, { gen: job.data.gen ?? 0, lastAttempt: job.attemptsMade + 1 >= attempts });
      } catch (err) {
        if (err instanceof NotRetryable) throw new UnrecoverableError(err.message);
        if (err instanceof DelayExecution) {
          // Wait in Redis, not in this process: the job comes back at `until` without spending an attempt.
          await job.moveToDelayed(err.until, token);
          throw new DelayedError();
        }
        throw err;
      }
    },
    { ...common, concurrency: 8 },
  );

  const watch = new Worker<OpJob>(
    names.watch,
    async (job: Job<OpJob>, token?: string) => {
      const res = await deps.watcher.tick(job.data.opId, job.data.gen ?? 0);
      if (res.done) return;
      await job.moveToDelayed(Date.now() + res.nextDelayMs, token);
      throw new DelayedError();
    },
    { ...common, concurrency: 32 },
  );

  const deliver = new Worker<OpJob>(
    names.deliver,
    async (job: Job<OpJob>, token?: string) => {
      try {
        await deps.deliverer.drain(job.data.opId);
      } catch (err) {
        // Slack asked for a long wait (Retry-After): the job sleeps until then instead of retrying in a second.
        if (err instanceof DeliveryBackoff) {
          await job.moveToDelayed(err.untilMs, token);
          throw new DelayedError();
        }
        throw err;
      }
    },
    { ...common, concurrency: 16 },
  );

  const maintenance = new Worker(
    names.maintenance,
    async () => {
      const expired = await deps.service.expireDue();
      await deps.store.prune();
      const recovered = await deps.service.recoverStranded();
      // Recovery: an outbox with items but no job (a crash between recording and enqueueing) gets a drain.
      const pending = await deps.store.pendingOutboxes();
      // A drain that Slack asked to wait is picked up again by a later sweep or its own delayed job.
      await Promise.allSettled(pending.map((id) => deps.deliverer.drain(id)));
      return { expired, pending: pending.length, ...recovered };
    },
    { ...common, concurrency: 1, removeOnComplete: SWEEPS_KEPT.removeOnComplete, removeOnFail: SWEEPS_KEPT.removeOnFail },
  );
  await scheduleMaintenance(deps.dispatcher, deps.sweepIntervalMs);

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

/** The maintenance sweep's scheduler (idempotent: upserted at start and whenever it may have been lost). */
export async function scheduleMaintenance(dispatcher: JobDispatcher, everyMs: number): Promise<void> {
  await dispatcher.queues.maintenance.upsertJobScheduler('sweep', { every: everyMs }, { name: 'sweep', opts: { ...SWEEPS_KEPT } });
}

