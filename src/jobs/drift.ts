import { Queue, Worker, type ConnectionOptions } from 'bullmq';
import type { Logger } from 'pino';
import type { DriftMonitor, DriftTickReport } from '../monitors/drift.js';
import { isConnectionError, settledWithin, withTimeout } from '../redis.js';
import type { QueueNames } from './queues.js';

/** The drift check's queue (its own, so a slow tick never holds the maintenance sweep). */
export const DRIFT_QUEUE = 'drift';
const SCHEDULER_ID = 'drift';
/** Ticks kept: the last few, for inspection; the scheduler never piles them up. */
const TICKS_KEPT = { removeOnComplete: { count: 10 }, removeOnFail: { count: 50 } };

export interface RunningDrift {
  queue: Queue;
  close(graceMs?: number): Promise<void>;
}

/**
 * The drift check as a BullMQ job scheduler: every worker replica upserts the same scheduler (one id), so a
 * deployment runs one tick per interval whatever its number of replicas, on whichever worker takes it
 * (concurrency 1). The schedule is re-asserted after every tick and on reconnect (a Redis that lost its data).
 */
export async function startDrift(deps: { connection: ConnectionOptions; names: QueueNames; monitor: DriftMonitor; everyMs: number; logger: Logger; onTick?: (r: DriftTickReport) => void }): Promise<RunningDrift> {
  const { connection, names, logger } = deps;
  const opts = { connection, prefix: names.prefix };
  const queue = new Queue(DRIFT_QUEUE, opts);
  queue.on('error', (err) => logger.debug({ err }, 'drift queue error'));
  const schedule = () => queue.upsertJobScheduler(SCHEDULER_ID, { every: deps.everyMs }, { name: 'drift', opts: { ...TICKS_KEPT } });
  await schedule();
  const worker = new Worker(
    DRIFT_QUEUE,
    async () => {
      const report = await deps.monitor.tick();
      if (!report) return { skipped: 'the previous tick is still running' };
      deps.onTick?.(report);
      return { tick: report.tick, prefixes: report.prefixes, raised: report.raised.length, resolved: report.resolved.length, skipped: report.skipped.length };
    },
    { ...opts, concurrency: 1, lockDuration: Math.max(30_000, deps.everyMs), ...TICKS_KEPT },
  );
  let closing = false;
  const reassert = async (): Promise<void> => {
    if (closing) return;
    try {
      if (!(await withTimeout(queue.getJobScheduler(SCHEDULER_ID), 2000, 'the drift schedule check'))) {
        await schedule();
        logger.warn('the drift check schedule was missing (Redis lost its data?); re-created it');
      }
    } catch (err) {
      logger.debug({ err }, 'could not check the drift schedule');
    }
  };
  worker.on('completed', () => void reassert());
  worker.on('failed', (job, err) => logger.warn({ queue: DRIFT_QUEUE, jobId: job?.id, err }, 'drift tick failed'));
  worker.on('error', (err) => (isConnectionError(err) ? logger.debug({ err }, 'drift worker connection error') : logger.error({ err }, 'drift worker error')));
  await worker.waitUntilReady();
  return {
    queue,
    async close(graceMs = 5000) {
      closing = true;
      if (!(await settledWithin(worker.close(), graceMs))) await settledWithin(worker.disconnect(), 1000);
      if (!(await settledWithin(queue.close(), 1000))) await settledWithin(queue.disconnect(), 1000);
    },
  };
}
