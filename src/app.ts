import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { App, HTTPReceiver, SocketModeReceiver, type Logger as BoltLogger } from '@slack/bolt';
import type { WebClient } from '@slack/web-api';
import type { Logger } from 'pino';
import { CloudflareClient, type CloudflareCallReport } from './cloudflare/client.js';
import { RequestBudget } from './cloudflare/budget.js';
import type { CloudflareError } from './cloudflare/errors.js';
import type { AppConfig } from './config.js';
import type { Prefix } from './domain/addressing.js';
import { parseCidr } from './domain/cidr.js';
import { addressSpaceProblem } from './domain/special-prefixes.js';
import { BotError, ErrorCode, InvalidInputError, userMessageOf } from './errors.js';
import { opsRoutes, readiness, READY_CHECK_TIMEOUT_MS, RoutingProbe, startOpsServer, type OpsHandlers } from './health.js';
import { Heartbeats } from './jobs/heartbeats.js';
import { JobDispatcher, queueNames } from './jobs/queues.js';
import { startWorkers, type RunningWorkers } from './jobs/workers.js';
import { startDrift, type RunningDrift } from './jobs/drift.js';
import { DriftMonitor } from './monitors/drift.js';
import type { AlertSink } from './monitors/findings.js';
import { scrubSecrets } from './logger.js';
import { BotMetrics, type BudgetLeft } from './metrics.js';
import { CoalescedReader } from './operations/coalesce.js';
import { Deliverer } from './operations/deliverer.js';
import { Executor } from './operations/executor.js';
import type { AddressingApi, RoutingView } from './operations/ports.js';
import type { KindDeps } from './kinds/index.js';
import { createRedis, describeRedis, probeRedis, settledWithin, watchConnection, type RedisNode } from './redis.js';
import { CommandRateLimit } from './operations/rate-limit.js';
import { SeenOnce } from './operations/seen.js';
import { OperationService } from './operations/service.js';
import { RedisObservations } from './operations/observations.js';
import { OperationStore } from './operations/store.js';
import { Watcher } from './operations/watcher.js';
import { StreamWatch } from './operations/stream-watch.js';
import { checkOwnAnnouncement } from './routing/pre-withdraw.js';
import { BgpStateClient } from './routing/bgp-state.js';
import { RoutingMonitor } from './monitors/routing-monitor.js';
import { inside } from './monitors/routing-findings.js';
import { startRoutingMonitor, type RunningRoutingMonitor } from './jobs/routing-monitor.js';
import { createRoutingDeps, runPreflight, type PreflightReport } from './routing/preflight.js';
import { preflightBlocks } from './slack/views/preflight.js';
import type { ListenerContext } from './slack/context.js';
import { registerListeners } from './slack/listeners/index.js';
import { SlackAlertNotifier } from './slack/alert-notifier.js';
import { AlertDeliverer, AlertStore } from './monitors/alert-store.js';
import { readAlertContext } from './monitors/alert-context.js';
import { webhookRoutes } from './monitors/webhooks.js';
import { countingFetch, SlackNotifier, slackLogger } from './slack/notifier.js';
import { refuseFutureTimestamps, REPLAY_WINDOW_MS, replayGuard, signedRequestProps } from './slack/replay.js';
import { SlackGroupDirectory } from './slack/usergroups.js';
import { AckGate, WorkQueue } from './slack/work-queue.js';

/** Work after a slash command's ack waits at most this long for the other acks in flight (acks first). */
const ACKS_FIRST_MAX_WAIT_MS = 250;

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
  /** The bot's metrics (a fresh Registry of its own when not given). */
  metrics?: BotMetrics;
  /** Where monitors (the standing routing monitor, drift) send their findings; the AlertStore (alert cards) when not given. */
  alertSink?: AlertSink;
}

export interface RunningBot {
  /** Base URL of `/healthz`, `/readyz`, `/metrics` (and `/slack/events` over HTTP). */
  url: string | null;
  store: OperationStore;
  service: OperationService;
  /** Alerts: the AlertSink monitors raise findings into (one card per alert in the alerts channel). */
  alerts: AlertStore;
  dispatcher: JobDispatcher;
  reader: CoalescedReader;
  metrics: BotMetrics;
  /** This process's worker heartbeat id (null for `--role web`). */
  heartbeatId: string | null;
  /** The standing routing monitor (worker role, ROUTING_MONITOR=on), for tests and benchmarks. */
  routingMonitor: { monitor: RoutingMonitor; jobs: RunningRoutingMonitor } | null;
  /** The drift check (null for `--role web`, or with DRIFT_INTERVAL_MS=0). */
  drift: DriftMonitor | null;
  /**
   * Stops listening, lets running jobs finish for at most `graceMs` (SHUTDOWN_GRACE_MS), then drops the Redis
   * connections: it completes within about that bound whatever state Redis is in.
   */
  stop(graceMs?: number): Promise<void>;
}

/** Adapts pino to Bolt's logger interface. */
const boltLogger = (logger: Logger): BoltLogger => slackLogger(logger, 'bolt');

/** Wires Redis, Cloudflare, the routing view, Slack and the job queues into one running bot. */
export async function startBot(opts: BotOptions): Promise<RunningBot> {
  const { config, logger } = opts;
  const role = opts.role ?? 'all';
  const redisOpts = { url: config.redis.url, ...(config.redis.clusterNodes ? { clusterNodes: config.redis.clusterNodes } : {}) };
  // Fail fast, before any long-lived client exists (each would retry, and log, forever).
  await checkRedis(redisOpts, config.startupTimeoutMs);

  const metrics = opts.metrics ?? new BotMetrics({ role });
  const redis = createRedis({ ...redisOpts, maxRetriesPerRequest: null });
  watchConnection(redis, logger, 'store');
  // Probes and metrics read through a client that fails at once when Redis is away, instead of queueing behind it.
  const opsRedis = createRedis({ ...redisOpts, maxRetriesPerRequest: 0, enableOfflineQueue: false, commandTimeout: READY_CHECK_TIMEOUT_MS });
  opsRedis.on('error', () => undefined);
  const store = new OperationStore(redis, config.redis.prefix, Date.now, config.retention);
  store.onStateChange = (kind, state) => metrics.stateChanged(kind, state);
  const cf = config.cloudflare;
  const budget = new RequestBudget({ redis, keyPrefix: `${store.keyPrefix}cf-budget:`, limit: cf.budget.limit, windowMs: cf.budget.windowMs, perSecond: cf.budget.perSecond });
  const onCall = (call: CloudflareCallReport) => metrics.cloudflareCall(call);
  const cloudflareClient = new CloudflareClient({ baseUrl: cf.baseUrl, apiToken: cf.apiToken, timeoutMs: cf.timeoutMs, budget, logger, onCall });
  const addressSpace = { allowDocumentation: config.allowDocumentationPrefixes };
  const cloudflare: AddressingApi = cloudflareClient;
  const routingDeps = createRoutingDeps({ ...config.routing, ...(opts.routingNow ? { now: opts.routingNow } : {}) });
  const lg = routingDeps.lookingGlass;
  const routing: RoutingView = { sample: (p) => lg.sample(p), usualPeerCount: (p) => routingDeps.routingStatus.usualPeerCount(p), routes: (p) => lg.routes(p) };
  const bgpState = new BgpStateClient({ baseUrl: config.routing.ripestatUrl, ...(config.routing.timeoutMs ? { timeoutMs: config.routing.timeoutMs } : {}), ...(config.routing.sourceApp ? { sourceApp: config.routing.sourceApp } : {}) });
  const slackClient = SlackNotifier.client(config.slack.botToken, config.slack.apiUrl, (method, outcome) => metrics.slackCall(method, outcome), logger);
  const groups = new SlackGroupDirectory(slackClient, config.usergroupCacheTtlMs);
  // BullMQ shares one client per process for its queues (workers duplicate it for their blocking reads).
  const queueRedis = createRedis({ ...redisOpts, maxRetriesPerRequest: null });
  watchConnection(queueRedis, logger, 'queues');
  const connection = queueRedis as never;
  const names = queueNames(`${config.redis.prefix}`);
  const dispatcher = new JobDispatcher(connection, names, config.executeAttempts);
  // The same queues over the fail-fast client, for /metrics (a scrape must not hang on a dead connection).
  const queueView = new JobDispatcher(opsRedis as never, names, config.executeAttempts);
  const reader = new CoalescedReader(redis, store.keyPrefix);
  const heartbeats = new Heartbeats(opsRedis, store.keyPrefix);
  const budgetTokenKey = RequestBudget.tokenKey(config.cloudflare.apiToken);
  const budgetView = new RequestBudget({ redis: opsRedis, keyPrefix: `${store.keyPrefix}cf-budget:`, limit: cf.budget.limit, windowMs: cf.budget.windowMs, perSecond: cf.budget.perSecond });
  const budgetLeft = async (): Promise<BudgetLeft> => {
    const u = await budgetView.usage(budgetTokenKey);
    // What a new request of each kind could still take this window (the class caps lean on the unused reserves).
    return { readLeft: Math.max(0, u.caps.interactive - u.used), mutationLeft: Math.max(0, u.caps.change - u.used), pausedForMs: u.pausedForMs };
  };
  metrics.setSources({
    operations: async () => (await store.active()).map((o) => ({ kind: o.kind, state: o.state })),
    queues: () => queueView.depths(),
    budget: budgetLeft,
  });
  const routingProbe = new RoutingProbe(config.routing);
  const ops: OpsHandlers = { role, metrics, readiness: () => readiness({ role, redis: opsRedis, heartbeats, budget: budgetLeft, routing: routingProbe }) };

  const kinds: KindDeps = {
    cloudflare,
    policy: config.policy,
    reader,
    routing,
    observations: new RedisObservations(redis, store.keyPrefix),
    bindingSettleMs: config.advertiseAfterBindingMs,
    bindingWatch: config.bindingWatch,
    drain: config.drain,
    now: Date.now,
    addressSpace,
    watch: { pollIntervalMs: config.watch.pollIntervalMs, escalateAfterMs: { advertise: config.watch.escalateAdvertiseAfterMs, withdraw: config.watch.escalateWithdrawAfterMs } },
    preflight: (cidr, asn, ownershipToken) => runPreflight({ cidr, ...(asn ? { asn } : {}), ...(ownershipToken ? { ownershipToken } : {}) }, routingDeps),
    ownAnnouncement: (prefix, asn) => checkOwnAnnouncement(prefix, asn, lg, { routingStatus: routingDeps.routingStatus }),
  };
  const service = new OperationService({ store, kinds, groups, dispatcher, logger });
  const alerts = new AlertStore({ store, policy: config.policy, logger, dispatch: (id) => dispatcher.deliverAlert(id), retentionMs: config.retention.operationMs });
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

  // Cloudflare notifications and the DDoS detector: on the HTTP receiver's port, or on the ops server's.
  const webhooks = webhookRoutes({ alerts, kinds, service, logger, cloudflareSecret: config.webhooks.cloudflareSecret, detectorSecret: config.webhooks.detectorSecret });

  let workers: RunningWorkers | null = null;
  let routingMonitor: { monitor: RoutingMonitor; jobs: RunningRoutingMonitor } | null = null;
  let drift: RunningDrift | null = null;
  let driftMonitor: DriftMonitor | null = null;
  let app: App | null = null;
  let opsServer: http.Server | null = null;
  let stopping: Promise<void> | null = null;
  /** Everything down within about `graceMs`, whatever state Redis is in: gently first, then by dropping connections. */
  const shutdown = (graceMs: number): Promise<void> =>
    (stopping ??= (async () => {
      // With Redis away no running job can record anything, so there is nothing to wait for.
      const redisAnswers = graceMs > 0 && (await opsRedis.ping().then(() => true, () => false));
      const deadline = Date.now() + (redisAnswers ? graceMs : 0);
      const left = () => Math.max(100, deadline - Date.now());
      if (app) await settledWithin(app.stop(), Math.min(left(), 2000));
      if (routingMonitor) await settledWithin(routingMonitor.jobs.close(Math.min(left(), 2000)), Math.min(left(), 3000));
      if (opsServer) {
        const server = opsServer;
        server.closeAllConnections();
        await settledWithin(new Promise<void>((resolve) => server.close(() => resolve())), 1000);
      }
      await drift?.close(left());
      await workers?.close(left());
      await Promise.all([dispatcher.close(left()), queueView.close(Math.min(left(), 500))]);
      const quit = Promise.allSettled([redis.quit(), queueRedis.quit(), opsRedis.quit()]);
      if (!(await settledWithin(quit, Math.min(left(), 1000)))) [redis, queueRedis, opsRedis].forEach((c) => c.disconnect());
    })());

  try {
    // Start-up checks: each says in one sentence what is wrong and what to set.
    await checkSlackToken(slackClient, config);
    await checkCloudflareToken(config, budget, logger);
    // Fail closed: every group the policy names must exist before the bot takes a single click.
    const g = config.policy.groups;
    const problems = await groups.check([...g.requesters, ...g.approvers, ...g.break_glass, ...g.viewers]);
    const fatal = problems.filter((p) => p.includes('cannot be read'));
    if (fatal.length) throw new BotError(ErrorCode.PolicyInvalid, `The policy names Slack user groups the bot cannot read, so it will not start: ${fatal.join('; ')}.`);
    problems.filter((p) => !fatal.includes(p)).forEach((p) => logger.warn(p));

    if (role !== 'web') {
      const sink = opts.alertSink ?? alerts;
      const shareMs = Math.max(1, Math.min(1000, Math.floor(config.driftIntervalMs / 2)));
      const finishedMarginMs = Math.min(2000, Math.floor(config.driftIntervalMs / 2));
      const monitor = new DriftMonitor({ redis, keyPrefix: store.keyPrefix, kinds, store, sink, shareMs, finishedMarginMs, metrics, logger: logger.child({ monitor: 'drift' }) });
      driftMonitor = config.driftIntervalMs > 0 ? monitor : null;
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
        // What Cloudflare shows once a request has its verdict is what the bot set: the drift check's baseline.
        onFinished: (op) => monitor.recordFinished(op),
      });
      const deliverer = new Deliverer({
        store,
        notifier: new SlackNotifier(slackClient),
        logger,
        channelIntervalMs: opts.channelIntervalMs ?? config.channelIntervalMs,
        onDelivered: (item, lagMs) => metrics.delivered(item, lagMs),
      });
      workers = await startWorkers({
        connection,
        redis: queueRedis,
        names,
        dispatcher,
        executor,
        watcher,
        deliverer,
        service,
        store,
        logger,
        sweepIntervalMs: config.expirySweepIntervalMs,
        lockDurationMs: opts.jobLockDurationMs ?? config.jobLockDurationMs,
        heartbeat: { heartbeats, role, intervalMs: config.heartbeatIntervalMs },
        alerts: { store: alerts, deliverer: new AlertDeliverer({ alerts, store, notifier: new SlackAlertNotifier(slackClient), readContext: (a) => readAlertContext(kinds, a), logger }) },
      });
      const rm = config.routingMonitor;
      if (rm.enabled) {
        const streamWatch = new StreamWatch({ store, dispatcher, redis, keyPrefix: store.keyPrefix, logger });
        const monitor = new RoutingMonitor({
          redis,
          keyPrefix: store.keyPrefix,
          policy: config.policy,
          cloudflare,
          reader,
          routes: (p) => bgpState.routesOf(p),
          rpki: routingDeps.rpki,
          usualPeerCount: (p) => routingDeps.routingStatus.usualPeerCount(p),
          sink: opts.alertSink ?? alerts,
          // A request on the prefix (approved, being sent or followed) is what moves its routes: no state finding then.
          busy: async (cidr) => (await store.active()).some((o) => ['approved', 'executing', 'verifying'].includes(o.state) && (inside(cidr, o.prefix) || inside(o.prefix, cidr))),
          logger: logger.child({ component: 'routing-monitor' }),
          ...(opts.routingNow ? { now: () => opts.routingNow!().getTime() } : {}),
          metrics,
          settings: { minPeers: rm.minPeers, minVisibilityShare: rm.minVisibilityShare, settleMs: rm.settleMs, inventoryMs: rm.inventoryMs, inventoryReads: rm.inventoryReads, rpkiTtlMs: 10 * 60_000, pollIntervalMs: rm.pollIntervalMs },
        });
        const jobs = await startRoutingMonitor({
          monitor,
          redis,
          keyPrefix: store.keyPrefix,
          connection,
          queuePrefix: names.prefix,
          logger: logger.child({ component: 'routing-monitor' }),
          risLive: rm.risLive,
          pollIntervalMs: rm.pollIntervalMs,
          leaseMs: rm.leaseMs,
          // The request watch hears the stream too: the first collector seeing an advertise / withdraw, in its thread.
          onUpdate: (u) => streamWatch.onUpdate(u),
          metrics,
        });
        routingMonitor = { monitor, jobs };
      }
      if (config.driftIntervalMs > 0) drift = await startDrift({ connection, names, monitor, everyMs: config.driftIntervalMs, logger });
    }

    let url: string | null = null;
    if (role !== 'worker') {
      const ackGate = new AckGate(ACKS_FIRST_MAX_WAIT_MS);
      const ctx: ListenerContext = {
        acks: ackGate,
        service,
        logger,
        preflight,
        groups,
        rateLimit: new CommandRateLimit(redis, store.keyPrefix, { perUser: config.commands.perUser, perWorkspace: config.commands.perWorkspace, windowMs: config.commands.windowMs }),
        work: new WorkQueue(config.commands.concurrency, config.commands.maxWaiting),
        onCommandAck: (command, seconds) => metrics.commandAcked(command, seconds),
        alerts,
      };
      // Bolt's own clients (the `client` of every listener) are counted in the metrics like the bot's, through fetch.
      const countSlack = countingFetch(config.slack.apiUrl, (method, outcome) => metrics.slackCall(method, outcome));
      const clientOptions = { slackApiUrl: config.slack.apiUrl, fetch: countSlack };
      // When the request reached the bot, for the ack-latency histogram.
      const customPropertiesExtractor = () => ({ receivedAt: performance.now() });
      if (config.slack.appToken) {
        // Socket Mode: apps.connections.open goes to the receiver's own WebClient, so it gets the API URL too.
        // The receiver is built here with its own clientOptions object: the one Bolt would build shares the App's,
        // and @slack/socket-mode writes `retryConfig: { retries: 100 }` into it, which then leaks into every
        // listener's client.
        const receiver = new SocketModeReceiver({
          appToken: config.slack.appToken,
          logger: boltLogger(logger),
          installerOptions: { clientOptions: { slackApiUrl: config.slack.apiUrl, fetch: countSlack } },
          customPropertiesExtractor,
        });
        app = new App({ token: config.slack.botToken, appToken: config.slack.appToken, socketMode: true, receiver, clientOptions, logger: boltLogger(logger), convoStore: false });
      } else {
        const receiver = new HTTPReceiver({
          signingSecret: config.slack.signingSecret,
          endpoints: '/slack/events',
          logger: boltLogger(logger),
          customRoutes: [...opsRoutes(ops), ...webhooks],
          // When it reached the bot (metrics), and the verified signature and timestamp for the replay guard.
          customPropertiesExtractor: (req) => ({ ...customPropertiesExtractor(), ...signedRequestProps(req) }),
        });
        // Bolt refuses timestamps more than 5 minutes old; ones more than 60 s ahead are refused before it.
        receiver.requestListener = ackGate.wrap(refuseFutureTimestamps(receiver.requestListener, logger));
        app = new App({ token: config.slack.botToken, receiver, clientOptions, logger: boltLogger(logger), convoStore: false });
      }
      // Nothing is taken twice: a replayed or redelivered request is acknowledged and dropped.
      // Clicks and submits are limited per user in the same step (never per workspace: nobody's flood starves another's
      // approval, break glass or alert button); slash commands run the check after their ack (the listener).
      const interactions = new CommandRateLimit(redis, `${store.keyPrefix}ui:`, { perUser: config.commands.interactionsPerUser, perWorkspace: Number.MAX_SAFE_INTEGER, windowMs: config.commands.windowMs });
      app.use(
        replayGuard(new SeenOnce(redis, store.keyPrefix, REPLAY_WINDOW_MS), logger, {
          interactions,
          onRefused: (r) => service.auditRefusal(r.userId, { kind: 'interaction', why: 'rate limited', what: r.what, count: r.count, message: r.message }),
        }),
      );
      registerListeners(app, ctx);
      app.error(async (err) => {
        logger.error({ err }, 'unhandled Slack listener error');
      });
      const started = (await app.start(config.slack.port).catch((err: unknown) => Promise.reject(portProblem(err, config.slack.port)))) as unknown;
      if (!config.slack.appToken) {
        const server = started as http.Server;
        url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      }
    }
    if (!url) {
      // No HTTP receiver (Socket Mode, or a worker process): a small server answers the same probes on the same port.
      const server = await startOpsServer(config.slack.port, ops, webhooks).catch((err: unknown) => Promise.reject(portProblem(err, config.slack.port)));
      opsServer = server;
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    }
    logger.info({ role, url }, 'byoip-bot started');

    return {
      url,
      store,
      service,
      alerts,
      dispatcher,
      reader,
      metrics,
      heartbeatId: workers?.heartbeatId ?? null,
      routingMonitor,
      drift: driftMonitor,
      stop: (graceMs = config.shutdownGraceMs) => shutdown(graceMs),
    };
  } catch (err) {
    await shutdown(0);
    throw err;
  }
}

/** A port someone else holds, said as what to do. */
function portProblem(err: unknown, port: number): unknown {
  if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') return err;
  return new BotError(ErrorCode.ConfigInvalid, `Port ${port} is already in use (another bot or worker on this host?), so set PORT to a free one for each process.`, false, { cause: err });
}

/** Redis must answer a PING before anything else starts. */
async function checkRedis(redisOpts: { url: string; clusterNodes?: RedisNode[] }, timeoutMs: number): Promise<void> {
  try {
    await probeRedis(redisOpts, timeoutMs);
  } catch (err) {
    const which = redisOpts.clusterNodes ? 'REDIS_CLUSTER_NODES' : 'REDIS_URL';
    throw new BotError(
      ErrorCode.RedisUnavailable,
      `${describeRedis(redisOpts).replace(/^redis /, 'Redis at ')} does not answer (${scrubSecrets((err as Error).message)}), so start it or point ${which} at one that runs.`,
      false,
      { cause: err },
    );
  }
}

/** Slack must accept the bot token (`auth.test`). */
async function checkSlackToken(client: WebClient, config: AppConfig): Promise<void> {
  try {
    await client.auth.test();
  } catch (err) {
    const code = (err as { data?: { error?: string } }).data?.error;
    if (code) {
      throw new BotError(ErrorCode.SlackAuth, `Slack refused SLACK_BOT_TOKEN (auth.test said ${code}), so copy the app's Bot User OAuth Token (xoxb-...) from its OAuth & Permissions page.`, false, { cause: err });
    }
    throw new BotError(ErrorCode.SlackAuth, `Slack's Web API at ${config.slack.apiUrl ?? 'https://slack.com/api/'} cannot be reached (${scrubSecrets((err as Error).message)}), so check the network or SLACK_API_URL.`, false, { cause: err });
  }
}

/**
 * One Cloudflare read (the prefixes of the first account): a refused token or an account it cannot see stops the
 * start; Cloudflare being slow or down only warns (the bot retries every read, and the thread says so).
 */
async function checkCloudflareToken(config: AppConfig, budget: RequestBudget, logger: Logger): Promise<void> {
  const account = config.policy.cloudflare.accounts[0]!;
  const probe = new CloudflareClient({ baseUrl: config.cloudflare.baseUrl, apiToken: config.cloudflare.apiToken, budget, readRetries: 0, timeoutMs: config.startupTimeoutMs });
  try {
    await probe.listPrefixes(account.id);
  } catch (err) {
    const e = err as CloudflareError;
    if (e.code === ErrorCode.CloudflareAuth || e.code === ErrorCode.CloudflareNotFound) {
      const said = e.cloudflareCodes?.length ? `, code ${e.cloudflareCodes.join(', ')}` : '';
      throw new BotError(
        ErrorCode.CloudflareAuth,
        `Cloudflare refused CLOUDFLARE_API_TOKEN when the bot listed the prefixes of account ${account.name} (${account.id}; HTTP ${e.status ?? '-'}${said}), so give it a token that can read that account's IP prefixes.`,
        false,
        { cause: err },
      );
    }
    logger.warn({ err, account: account.id }, 'Cloudflare could not be read at start-up; starting anyway (reads are retried)');
  }
}
