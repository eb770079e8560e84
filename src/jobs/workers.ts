import { DelayedError, UnrecoverableError, Worker, type ConnectionOptions, type Job } from 'bullmq';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { DeliveryBackoff, type Deliverer } from '../operations/deliverer.js';
import { DelayExecution, NotRetryable, type Executor } from '../operations/executor.js';
import type { OperationService } from '../operations/service.js';
import type { OperationStore } from '../operations/store.js';
import type { Watcher } from '../operations/watcher.js';
import type { AlertDeliverer, AlertStore } from '../monitors/alert-store.js';
import { Heartbeats } from './heartbeats.js';
import type { JobDispatcher, QueueNames } from './queues.js';
import { type RedisClient, isConnectionError, settledWithin, withTimeout } from '../redis.js';

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
  /** The queues' client: its `ready` event (a reconnect) re-asserts the sweep's schedule. */
  redis?: RedisClient;
  /** This process's heartbeat in Redis (seen by `/readyz` on every replica); also re-asserts the sweep's schedule. */
  heartbeat?: { heartbeats: Heartbeats; role: string; intervalMs: number };
  /** Alert cards (src/monitors/alert-store.ts): their own queue, and the sweep re-delivers what is pending. */
  alerts?: { store: AlertStore; deliverer: AlertDeliverer };
}

export interface RunningWorkers {
  /** This process's heartbeat id, when it writes one. */
  heartbeatId: string | null;
  /**
   * Lets running jobs finish for at most `graceMs`, then drops the connections (jobs still running are taken over
   * by another worker once their lock expires, as after a crash). Resolves within about `graceMs`.
   */
  close(graceMs?: number): Promise<void>;
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
    // 16: a multi-prefix emergency (up to 50 prefixes) sends its PATCHes in parallel; a job mostly waits on Cloudflare.
    { ...common, concurrency: 16 },
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
      if (deps.alerts) {
        const alerts = deps.alerts;
        await alerts.store.prune();
        await Promise.allSettled((await alerts.store.pending()).map((id) => deps.dispatcher.deliverAlert(id)));
      }
      return { expired, pending: pending.length, ...recovered };
    },
    { ...common, concurrency: 1, removeOnComplete: SWEEPS_KEPT.removeOnComplete, removeOnFail: SWEEPS_KEPT.removeOnFail },
  );
  const alertsWorker = deps.alerts
    ? new Worker<{ alertId: string }>(
        names.alerts,
        async (job: Job<{ alertId: string }>, token?: string) => {
          try {
            await deps.alerts!.deliverer.drain(job.data.alertId);
          } catch (err) {
            if (err instanceof DeliveryBackoff) {
              await job.moveToDelayed(err.untilMs, token);
              throw new DelayedError();
            }
            throw err;
          }
        },
        { ...common, concurrency: 16 },
      )
    : null;
  let closing = false;
  let reasserting = false;
  // A Redis that comes back empty (restarted without persistence, flushed) has lost the sweep's schedule, and with it
  // every expiry and recovery: it is re-asserted on every reconnect, after every sweep, and on every heartbeat.
  const reassert = async (why: string): Promise<void> => {
    if (reasserting || closing) return;
    reasserting = true;
    try {
      if (await withTimeout(ensureMaintenance(deps.dispatcher, deps.sweepIntervalMs), 2000, 'the maintenance schedule check')) {
        logger.warn({ why }, 'the maintenance sweep schedule was missing (Redis lost its data?); re-created it');
      }
    } catch (err) {
      logger.debug({ err, why }, 'could not check the maintenance schedule');
    } finally {
      reasserting = false;
    }
  };
  await scheduleMaintenance(deps.dispatcher, deps.sweepIntervalMs);
  maintenance.on('completed', () => void reassert('sweep'));
  const onReady = (): void => void reassert('reconnect');
  deps.redis?.on('ready', onReady);

  const all = [execute, watch, deliver, maintenance, ...(alertsWorker ? [alertsWorker] : [])];
  for (const [name, w] of Object.entries({ execute, watch, deliver, maintenance, ...(alertsWorker ? { alerts: alertsWorker } : {}) })) {
    w.on('failed', (job, err) => logger.warn({ queue: name, jobId: job?.id, operationId: (job?.data as OpJob | undefined)?.opId, attempts: job?.attemptsMade, err }, 'job failed'));
    // While Redis is away every reconnect attempt fails; the connection's own log says so once (app.ts).
    w.on('error', (err) => (isConnectionError(err) ? logger.debug({ queue: name, err }, 'worker connection error') : logger.error({ queue: name, err }, 'worker error')));
  }
  await Promise.all(all.map((w) => w.waitUntilReady()));

  const hb = deps.heartbeat;
  const heartbeatId = hb ? Heartbeats.newId(hb.role) : null;
  let beatTimer: NodeJS.Timeout | undefined;
  if (hb && heartbeatId) {
    const startedAt = Date.now();
    let beating = false;
    const beat = async (): Promise<void> => {
      if (beating || closing) return;
      beating = true;
      try {
        const heartbeat = { id: heartbeatId, role: hb.role, host: hostname(), pid: process.pid, startedAt, at: Date.now() };
        await withTimeout(hb.heartbeats.beat(heartbeat, hb.intervalMs * 3), hb.intervalMs, 'the heartbeat');
      } catch (err) {
        logger.debug({ err }, 'heartbeat not written');
      } finally {
        beating = false;
      }
      await reassert('heartbeat');
    };
    await beat();
    beatTimer = setInterval(() => void beat(), hb.intervalMs);
    beatTimer.unref();
  }

  return {
    heartbeatId,
    async close(graceMs = 5000) {
      closing = true;
      clearInterval(beatTimer);
      deps.redis?.off('ready', onReady);
      const deadline = Date.now() + graceMs;
      const graceful = Promise.all(all.map((w) => w.close()));
      if (!(await settledWithin(graceful, graceMs))) {
        logger.warn({ graceMs }, 'jobs still running at shutdown; dropping the Redis connections (another worker takes them over)');
        // close() has begun and cannot be forced any more; dropping the connections ends it.
        await settledWithin(Promise.allSettled(all.map((w) => w.disconnect())), 1000);
      }
      if (hb && heartbeatId) await settledWithin(hb.heartbeats.remove(heartbeatId), Math.max(200, deadline - Date.now()));
    },
  };
}

/** The maintenance sweep's scheduler (idempotent: upserted at start and whenever it may have been lost). */
export async function scheduleMaintenance(dispatcher: JobDispatcher, everyMs: number): Promise<void> {
  await dispatcher.queues.maintenance.upsertJobScheduler('sweep', { every: everyMs }, { name: 'sweep', opts: { ...SWEEPS_KEPT } });
}

/** Re-creates the sweep's scheduler when it is gone; true when it had to. Leaves an existing one (and its next run) alone. */
export async function ensureMaintenance(dispatcher: JobDispatcher, everyMs: number): Promise<boolean> {
  if (await dispatcher.queues.maintenance.getJobScheduler('sweep')) return false;
  await scheduleMaintenance(dispatcher, everyMs);
  return true;
}

