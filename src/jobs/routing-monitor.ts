import { Queue, Worker, type ConnectionOptions } from 'bullmq';
import type { Logger } from 'pino';
import { withRequestClass } from '../cloudflare/request-class.js';
import { RedisLease, type RoutingMonitor, type RoutingMonitorMetrics } from '../monitors/routing-monitor.js';
import type { RedisClient } from '../redis.js';
import { settledWithin } from '../redis.js';
import { RisLiveClient, type RisUpdate, type StreamState } from '../routing/ris-live.js';

export interface RoutingMonitorJobOptions {
  monitor: RoutingMonitor;
  redis: RedisClient;
  /** The store's key prefix (`{prefix}:`). */
  keyPrefix: string;
  connection: ConnectionOptions;
  /** BullMQ's prefix (queues.ts `names.prefix`). */
  queuePrefix: string;
  logger: Logger;
  risLive: { url: string; pingIntervalMs: number; deadAfterMs: number; backoff: { baseMs: number; maxMs: number } };
  pollIntervalMs: number;
  /** How long the stream holder's lease lasts without renewal (another replica takes over after it). */
  leaseMs: number;
  /** Also told of every stream update (the request watch). */
  onUpdate?: (u: RisUpdate) => void;
  /** Told when the stream goes up or down. */
  onStreamState?: (s: StreamState) => void;
  metrics?: RoutingMonitorMetrics;
}

export interface RunningRoutingMonitor {
  /** True while this replica holds the stream and it is up. */
  streamUp(): boolean;
  holdsStream(): boolean;
  client(): RisLiveClient | null;
  /** Runs one poll tick now, as the scheduler would (skipped while the stream is up anywhere). */
  tick(): Promise<unknown>;
  close(graceMs?: number): Promise<void>;
}

export const ROUTING_QUEUE = 'routing-monitor';

/**
 * Runs the standing routing monitor in a worker process: contends for the stream lease (one RIS Live connection per
 * deployment), and processes the poll scheduler's ticks (one job per tick for the deployment; a tick does nothing
 * while some replica's stream is up).
 */
export async function startRoutingMonitor(opts: RoutingMonitorJobOptions): Promise<RunningRoutingMonitor> {
  const { monitor, redis, logger } = opts;
  const leaseKey = `${opts.keyPrefix}routing-monitor:lease`;
  const upKey = `${opts.keyPrefix}routing-monitor:stream-up`;
  const lease = new RedisLease(redis, leaseKey, opts.leaseMs);
  const renewEvery = Math.max(100, Math.floor(opts.leaseMs / 3));
  let client: RisLiveClient | null = null;
  let holding = false;
  let closing = false;
  let lastSubscribed = '';

  let lastInventory: unknown = null;
  const subscribeAll = async (): Promise<void> => {
    const managed = await monitor.managed();
    const list = managed.map((m) => m.cidr).sort();
    if (list.join(',') !== lastSubscribed) {
      const had = new Set(lastSubscribed.split(','));
      lastSubscribed = list.join(',');
      client?.setPrefixes(list);
      // A prefix new to the stream starts from one full read, as the others did when the stream came up.
      if (client?.isUp) for (const m of managed) if (!had.has(m.cidr)) void withRequestClass('background', () => monitor.refresh(m, 'RIPEstat bgp-state (new prefix)', { notBefore: Date.now() })).catch(() => undefined);
    }
    if (managed !== lastInventory && client?.isUp) {
      lastInventory = managed;
      // Cloudflare's side may have changed (advertised, withdrawn, settled): judge every prefix again, no read needed.
      for (const m of managed) void monitor.schedule(m, 'RIS Live');
    }
  };

  const onState = (s: StreamState): void => {
    opts.onStreamState?.(s);
    opts.metrics?.routingStream(s.up);
    if (s.up) {
      logger.info('RIS Live stream up: the routing monitor follows it (polling paused)');
      void redis.set(upKey, lease.holder, 'PX', opts.leaseMs).catch(() => undefined);
      // The stream only says what changes from now on: start from a full read of each prefix, made after it came up
      // (a poll's shared read from before would miss what changed in between; the stream will not say it again).
      const upAt = Date.now();
      void withRequestClass('background', () => monitor.pollAll('RIPEstat bgp-state (stream start)', { notBefore: upAt })).catch((err: unknown) => logger.warn({ err }, 'routing monitor: bootstrap failed'));
    } else {
      logger.warn({ why: s.why }, 'RIS Live stream down: the routing monitor falls back to polling RIPEstat');
      monitor.clearStreamLog();
      void redis.del(upKey).catch(() => undefined);
    }
  };

  const startStream = async (): Promise<void> => {
    await monitor.managed(true);
    client = new RisLiveClient({
      url: opts.risLive.url,
      logger: logger.child({ component: 'ris-live' }),
      pingIntervalMs: opts.risLive.pingIntervalMs,
      deadAfterMs: opts.risLive.deadAfterMs,
      backoff: opts.risLive.backoff,
      onUpdate: (u) => {
        monitor.applyUpdate(u);
        opts.onUpdate?.(u);
      },
      onState,
    });
    lastSubscribed = '';
    await subscribeAll();
    client.start();
  };

  const stopStream = (): void => {
    if (client?.isUp) opts.metrics?.routingStream(false);
    client?.stop();
    client = null;
    void redis.del(upKey).catch(() => undefined);
  };

  let renewing = false;
  const renew = async (): Promise<void> => {
    if (renewing || closing) return;
    renewing = true;
    try {
      const mine = await lease.acquire();
      if (mine && !holding) {
        holding = true;
        logger.info('routing monitor: this replica holds the RIS Live stream');
        await startStream();
      } else if (!mine && holding) {
        holding = false;
        logger.warn('routing monitor: lost the stream lease; another replica holds the stream');
        stopStream();
      }
      if (holding && client) {
        if (client.isUp) await redis.set(upKey, lease.holder, 'PX', opts.leaseMs);
        await subscribeAll();
      }
    } catch (err) {
      logger.debug({ err }, 'routing monitor: lease check failed');
    } finally {
      renewing = false;
    }
  };
  await renew();
  const timer = setInterval(() => void renew(), renewEvery);
  timer.unref();

  const queue = new Queue(ROUTING_QUEUE, { connection: opts.connection, prefix: opts.queuePrefix });
  queue.on('error', () => undefined);
  await queue.upsertJobScheduler('routing-poll', { every: opts.pollIntervalMs }, { name: 'poll', opts: { removeOnComplete: { count: 10 }, removeOnFail: { count: 50 } } });
  const pollLock = new RedisLease(redis, `${opts.keyPrefix}routing-monitor:polling`, Math.max(30_000, opts.pollIntervalMs * 2));
  const tick = async (): Promise<unknown> => {
    const started = performance.now();
    const seconds = () => (performance.now() - started) / 1000;
    if (await redis.exists(upKey)) {
      opts.metrics?.routingPoll('stream_up', seconds());
      return { skipped: 'stream up' };
    }
    // One poll at a time for the deployment: a tick that outlasts the interval is not joined by the next on another
    // replica (RIPEstat serves 8 requests at a time per client; two polls would make 16).
    if (!(await pollLock.acquire())) {
      opts.metrics?.routingPoll('running', seconds());
      return { skipped: 'the previous poll is still running' };
    }
    try {
      const res = await withRequestClass('background', () => monitor.pollAll());
      opts.metrics?.routingPoll('completed', seconds());
      return res;
    } catch (err) {
      opts.metrics?.routingPoll('failed', seconds());
      throw err;
    } finally {
      await pollLock.release().catch(() => undefined);
    }
  };
  const worker = new Worker(ROUTING_QUEUE, tick, { connection: opts.connection, prefix: opts.queuePrefix, concurrency: 1, lockDuration: Math.max(30_000, opts.pollIntervalMs * 2) });
  worker.on('error', (err) => logger.debug({ err }, 'routing monitor worker error'));
  worker.on('failed', (job, err) => logger.warn({ jobId: job?.id, err }, 'routing monitor poll failed'));
  await worker.waitUntilReady();

  return {
    streamUp: () => client?.isUp ?? false,
    holdsStream: () => holding,
    client: () => client,
    tick,
    async close(graceMs = 2000) {
      closing = true;
      clearInterval(timer);
      stopStream();
      if (holding) await settledWithin(lease.release(), 500);
      holding = false;
      if (!(await settledWithin(worker.close(), graceMs))) await settledWithin(worker.disconnect(), 500);
      await settledWithin(queue.close(), 1000);
    },
  };
}
