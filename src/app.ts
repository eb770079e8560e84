import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { App, HTTPReceiver, LogLevel, SocketModeReceiver, type Logger as BoltLogger } from '@slack/bolt';
import type { Logger } from 'pino';
import { CloudflareClient } from './cloudflare/client.js';
import { RequestBudget } from './cloudflare/budget.js';
import type { AppConfig } from './config.js';
import type { Prefix } from './domain/addressing.js';
import { parseCidr } from './domain/cidr.js';
import { addressSpaceProblem } from './domain/special-prefixes.js';
import { BotError, ErrorCode, InvalidInputError, userMessageOf } from './errors.js';
import { JobDispatcher, queueNames } from './jobs/queues.js';
import { startWorkers, type RunningWorkers } from './jobs/workers.js';
import { CoalescedReader } from './operations/coalesce.js';
import { Deliverer } from './operations/deliverer.js';
import { Executor } from './operations/executor.js';
import type { AddressingApi, RoutingView } from './operations/ports.js';
import type { KindDeps } from './kinds/index.js';
import { createRedis, type RedisClient } from './redis.js';
import { CommandRateLimit } from './operations/rate-limit.js';
import { SeenOnce } from './operations/seen.js';
import { OperationService } from './operations/service.js';
import { RedisObservations } from './operations/observations.js';
import { OperationStore } from './operations/store.js';
import { Watcher } from './operations/watcher.js';
import { checkOwnAnnouncement } from './routing/pre-withdraw.js';
import { createRoutingDeps, runPreflight, type PreflightReport } from './routing/preflight.js';
import { preflightBlocks } from './slack/views/preflight.js';
import type { ListenerContext } from './slack/context.js';
import { registerListeners } from './slack/listeners/index.js';
import { SlackNotifier } from './slack/notifier.js';
import { refuseFutureTimestamps, REPLAY_WINDOW_MS, replayGuard, signedRequestProps } from './slack/replay.js';
import { SlackGroupDirectory } from './slack/usergroups.js';
import { WorkQueue } from './slack/work-queue.js';

export type Role = 'all' | 'web' | 'worker';

export interface BotOptions {
  config: AppConfig;
  logger: Logger;
  role?: Role;
  /** Minimum spacing of chat.postMessage per channel; Slack allows about one per second. */
  channelIntervalMs?: number;
  /** BullMQ lock duration: how soon another worker takes over a job from a crashed one. */
  jobLockDurationMs?: number;
  /** Clock for routing samples (the simulated clock in the sandbox). */
  routingNow?: () => Date;
  /** Runs `/byoip preflight`; absent when no routing view is configured for it. */
  preflight?: ListenerContext['preflight'];
}

export interface RunningBot {
  /** Base URL of the HTTP receiver (`/slack/events`, `/healthz`), when it listens over HTTP. */
  url: string | null;
  store: OperationStore;
  service: OperationService;
  dispatcher: JobDispatcher;
  reader: CoalescedReader;
  stop(): Promise<void>;
}

/** Adapts pino to Bolt's logger interface. */
function boltLogger(logger: Logger): BoltLogger {
  const child = logger.child({ component: 'bolt' });
  let level = LogLevel.INFO;
  return {
    debug: (...m: unknown[]) => child.debug(m.map(String).join(' ')),
    info: (...m: unknown[]) => child.info(m.map(String).join(' ')),
    warn: (...m: unknown[]) => child.warn(m.map(String).join(' ')),
    error: (...m: unknown[]) => child.error(m.map(String).join(' ')),
    setLevel: (l: LogLevel) => {
      level = l;
    },
    getLevel: () => level,
    setName: () => undefined,
  };
}

/** Wires Redis, Cloudflare, the routing view, Slack and the job queues into one running bot. */
export async function startBot(opts: BotOptions): Promise<RunningBot> {
  const { config, logger } = opts;
  const role = opts.role ?? 'all';
  const redisOpts = { url: config.redis.url, ...(config.redis.clusterNodes ? { clusterNodes: config.redis.clusterNodes } : {}) };
  const redis = createRedis({ ...redisOpts, maxRetriesPerRequest: null });
  redis.on('error', (err) => logger.warn({ err }, 'redis connection error'));
  const store = new OperationStore(redis, config.redis.prefix, Date.now, config.retention);
  const cf = config.cloudflare;
  const budget = new RequestBudget({ redis, keyPrefix: `${store.keyPrefix}cf-budget:`, limit: cf.budget.limit, windowMs: cf.budget.windowMs, perSecond: cf.budget.perSecond });
  const cloudflare: AddressingApi = new CloudflareClient({ baseUrl: cf.baseUrl, apiToken: cf.apiToken, timeoutMs: cf.timeoutMs, budget, logger });
  const addressSpace = { allowDocumentation: config.allowDocumentationPrefixes };
  const routingDeps = createRoutingDeps({ ...config.routing, ...(opts.routingNow ? { now: opts.routingNow } : {}) });
  const lg = routingDeps.lookingGlass;
  const routing: RoutingView = { sample: (p) => lg.sample(p), usualPeerCount: (p) => routingDeps.routingStatus.usualPeerCount(p) };
  const slackClient = SlackNotifier.client(config.slack.botToken, config.slack.apiUrl);
  const groups = new SlackGroupDirectory(slackClient, config.usergroupCacheTtlMs);
  // BullMQ shares one client per process for its queues (workers duplicate it for their blocking reads).
  const queueRedis = createRedis({ ...redisOpts, maxRetriesPerRequest: null });
  queueRedis.on('error', (err) => logger.warn({ err }, 'redis (queues) connection error'));
  const connection = queueRedis as never;
  const names = queueNames(`${config.redis.prefix}`);
  const dispatcher = new JobDispatcher(connection, names, config.executeAttempts);
  const reader = new CoalescedReader(redis, store.keyPrefix);
  const kinds: KindDeps = {
    cloudflare,
    policy: config.policy,
    reader,
    routing,
    observations: new RedisObservations(redis, store.keyPrefix),
    bindingSettleMs: config.advertiseAfterBindingMs,
    bindingWatch: config.bindingWatch,
    now: Date.now,
    addressSpace,
    watch: { pollIntervalMs: config.watch.pollIntervalMs, escalateAfterMs: { advertise: config.watch.escalateAdvertiseAfterMs, withdraw: config.watch.escalateWithdrawAfterMs } },
    preflight: (cidr, asn, ownershipToken) => runPreflight({ cidr, ...(asn ? { asn } : {}), ...(ownershipToken ? { ownershipToken } : {}) }, routingDeps),
    ownAnnouncement: (prefix, asn) => checkOwnAnnouncement(prefix, asn, lg, { routingStatus: routingDeps.routingStatus }),
  };
  const service = new OperationService({ store, kinds, groups, dispatcher, logger });
  const closeRedis = async (): Promise<void> => {
    await Promise.allSettled([redis.quit(), queueRedis.quit()]);
  };
  // `/byoip preflight`: refused for space nobody can hold (private, documentation, multicast...); the ownership token
  // comes from Cloudflare when the prefix is already on an account, and the report says why when there is none.
  const preflight: ListenerContext['preflight'] =
    opts.preflight ??
    (async (cidr, asn) => {
      const space = addressSpaceProblem(parseCidr(cidr), addressSpace);
      if (space) throw new InvalidInputError(`${space} No preflight was run.`);
      let onAccount: Prefix | null = null;
      let tokenSkipped: PreflightReport['tokenSkipped'];
      try {
        onAccount = await service.findPrefix(cidr);
        if (!onAccount) tokenSkipped = { why: 'not_on_cloudflare' };
        else if (!onAccount.ownershipValidationToken) tokenSkipped = { why: 'no_token' };
      } catch (err) {
        tokenSkipped = { why: 'cloudflare_unreadable', detail: userMessageOf(err) };
      }
      const token = onAccount?.ownershipValidationToken;
      const report = await runPreflight({ cidr, ...(asn ? { asn } : {}), ...(token ? { ownershipToken: token } : {}) }, routingDeps);
      return preflightBlocks(tokenSkipped ? { ...report, tokenSkipped } : report);
    });

  // Fail closed: every group the policy names must exist before the bot takes a single click.
  const g = config.policy.groups;
  const problems = await groups.check([...g.requesters, ...g.approvers, ...g.break_glass, ...g.viewers]);
  const fatal = problems.filter((p) => p.includes('cannot be read'));
  if (fatal.length) {
    await Promise.allSettled([dispatcher.close(), closeRedis()]);
    throw new BotError(ErrorCode.PolicyInvalid, `The policy names Slack user groups the bot cannot read, so it will not start: ${fatal.join('; ')}.`);
  }
  problems.filter((p) => !fatal.includes(p)).forEach((p) => logger.warn(p));

  let workers: RunningWorkers | null = null;
  if (role !== 'web') {
    const executor = new Executor({
      store,
      kinds,
      dispatcher,
      logger,
      firstWatchDelayMs: config.watch.pollIntervalMs,
      inFlightMs: cf.timeoutMs,
      rateLimitNoticeMs: cf.rateLimitNoticeMs,
    });
    const watcher = new Watcher({
      store,
      kinds,
      dispatcher,
      logger,
      pollIntervalMs: config.watch.pollIntervalMs,
      timeoutMs: config.watch.timeoutMs,
      maxReadFailures: config.watch.maxReadFailures,
    });
    const deliverer = new Deliverer({ store, notifier: new SlackNotifier(slackClient), logger, channelIntervalMs: opts.channelIntervalMs ?? config.channelIntervalMs });
    workers = await startWorkers({ connection, names, dispatcher, executor, watcher, deliverer, service, store, logger, sweepIntervalMs: config.expirySweepIntervalMs, lockDurationMs: opts.jobLockDurationMs ?? config.jobLockDurationMs });
  }

  let app: App | null = null;
  let url: string | null = null;
  let healthServer: http.Server | null = null;
  if (role !== 'worker') {
    const ctx: ListenerContext = {
      service,
      logger,
      preflight,
      groups,
      rateLimit: new CommandRateLimit(redis, store.keyPrefix, { perUser: config.commands.perUser, perWorkspace: config.commands.perWorkspace, windowMs: config.commands.windowMs }),
      work: new WorkQueue(config.commands.concurrency, config.commands.maxWaiting),
    };
    const clientOptions = { slackApiUrl: config.slack.apiUrl };
    if (config.slack.appToken) {
      // Socket Mode: apps.connections.open goes to the receiver's own WebClient, so it gets the API URL too.
      // The receiver is built here with its own clientOptions object: the one Bolt would build shares the App's,
      // and @slack/socket-mode writes `retryConfig: { retries: 100 }` into it, which then leaks into every
      // listener's client.
      const receiver = new SocketModeReceiver({
        appToken: config.slack.appToken,
        logger: boltLogger(logger),
        installerOptions: { clientOptions: { slackApiUrl: config.slack.apiUrl } },
      });
      app = new App({ token: config.slack.botToken, appToken: config.slack.appToken, socketMode: true, receiver, clientOptions, logger: boltLogger(logger) });
    } else {
      const receiver = new HTTPReceiver({
        signingSecret: config.slack.signingSecret,
        endpoints: '/slack/events',
        logger: boltLogger(logger),
        // The verified signature and timestamp reach the replay guard as context properties.
        customPropertiesExtractor: (req) => ({ ...signedRequestProps(req) }),
        customRoutes: [
          {
            path: '/healthz',
            method: ['GET'],
            handler: (_req, res) => answerHealth(res, redis, role),
          },
        ],
      });
      // Bolt refuses timestamps more than 5 minutes old; ones more than 60 s ahead are refused before it.
      receiver.requestListener = refuseFutureTimestamps(receiver.requestListener, logger);
      app = new App({ token: config.slack.botToken, receiver, clientOptions, logger: boltLogger(logger) });
    }
    // Nothing is taken twice: a replayed or redelivered request is acknowledged and dropped.
    app.use(replayGuard(new SeenOnce(redis, store.keyPrefix, REPLAY_WINDOW_MS), logger));
    registerListeners(app, ctx);
    app.error(async (err) => {
      logger.error({ err }, 'unhandled Slack listener error');
    });
    const started = (await app.start(config.slack.port)) as unknown;
    if (!config.slack.appToken) {
      const server = started as http.Server;
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    } else {
      // No HTTP receiver in Socket Mode: a small server answers the same /healthz on the same port.
      try {
        healthServer = await startHealthServer(config.slack.port, redis, role);
      } catch (err) {
        await app.stop().catch(() => undefined);
        await Promise.allSettled([workers?.close(), dispatcher.close(), closeRedis()]);
        throw err;
      }
      url = `http://127.0.0.1:${(healthServer.address() as AddressInfo).port}`;
    }
  }
  logger.info({ role, url }, 'byoip-bot started');

  return {
    url,
    store,
    service,
    dispatcher,
    reader,
    async stop() {
      await app?.stop().catch(() => undefined);
      if (healthServer) {
        const server = healthServer;
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
      await workers?.close();
      await dispatcher.close();
      await closeRedis();
    },
  };
}

/** `{ ok: true, role }`, or 503 when Redis does not answer a PING within 2 s (a probe must not hang on a queued command). */
function answerHealth(res: http.ServerResponse, redis: RedisClient, role: Role): void {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error('redis ping timed out')), 2000);
  });
  Promise.race([redis.ping(), timeout])
    .then(() => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: true, role }));
    })
    .catch(() => {
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: false, redis: 'unreachable' }));
    })
    .finally(() => clearTimeout(timer));
}

/**
 * `GET /healthz` for Socket Mode, where there is no HTTP receiver: the HTTP path's answer (`{ ok: true, role }`,
 * or 503 when Redis does not answer a PING within 2 s).
 */
async function startHealthServer(port: number, redis: RedisClient, role: Role): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (path !== '/healthz' || req.method !== 'GET') {
      res.writeHead(404);
      res.end();
      return;
    }
    answerHealth(res, redis, role);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, () => resolve());
  });
  return server;
}
