import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Redis } from 'ioredis';
import { createRedis, parseClusterNodes } from '../../src/redis.js';
import { stringify as toYaml } from 'yaml';
import type { Logger } from 'pino';
import { startBot, type Role, type RunningBot } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { SimClock } from '../simulator/clock.js';
import { startCloudflareSimulator, type CloudflareSimulator } from '../simulator/cloudflare/server.js';
import { CUSTOMER_ASN, DEFAULT_SCENARIO, SANDBOX_ACCOUNT_ID, SANDBOX_CLOUDFLARE_TOKEN } from '../simulator/cloudflare/scenarios.js';
import { startRoutingSimulators, type RoutingSimulators } from '../simulator/routing/index.js';
import { SlackRequestSender, SocketModeSender, startSlackSimulator, startSocketModeSimulator, type SocketModeSimOptions, type SocketModeSimulator } from '../simulator/slack/index.js';
import type { SlackSimulator } from '../simulator/slack/types.js';
import { World } from '../simulator/world.js';

/** The sandbox's people: alice requests, bob approves, carol is on call, mallory is in no group. */
export const SANDBOX_USERS = [
  { id: 'U0ALICE', name: 'alice', realName: 'Alice Netops', role: 'requester' },
  { id: 'U0BOB', name: 'bob', realName: 'Bob Approver', role: 'approver' },
  { id: 'U0CAROL', name: 'carol', realName: 'Carol Oncall', role: 'on call (break glass, approver)' },
  { id: 'U0MALLORY', name: 'mallory', realName: 'Mallory', role: 'in no group' },
] as const;

export const SANDBOX_GROUPS = {
  requesters: { id: 'S0REQUESTERS', handle: 'netops', users: ['U0ALICE', 'U0CAROL'] },
  approvers: { id: 'S0APPROVERS', handle: 'netops-leads', users: ['U0BOB', 'U0CAROL'] },
  breakGlass: { id: 'S0ONCALL', handle: 'netops-oncall', users: ['U0CAROL'] },
};

export const SANDBOX_CHANNEL = { id: 'C0NETOPS', name: 'netops' };
export const SANDBOX_SIGNING_SECRET = 'sandbox-signing-secret';
export const SANDBOX_BOT_TOKEN = 'xoxb-sandbox-bot-token';
/** The app-level token for Socket Mode (`socketMode: true`). */
/** The secret the simulated Cloudflare sends in `cf-webhook-auth`, and the DDoS detector's bearer token. */
export const SANDBOX_CF_WEBHOOK_SECRET = 'sandbox-cf-webhook-secret';
export const SANDBOX_DETECTOR_TOKEN = 'sandbox-detector-token';
export const SANDBOX_APP_TOKEN = 'xapp-1-A0SIMAPP01-sandbox-app-token';

export interface StackOptions {
  redisUrl: string;
  /** Key prefix and queue names for this stack (tests use a unique one each). */
  redisPrefix?: string;
  /** Simulated seconds per real second. */
  timeScale?: number;
  /** Real milliseconds between watch ticks. */
  pollIntervalMs?: number;
  /** Spacing of chat.postMessage per channel in the bot. */
  channelIntervalMs?: number;
  /** Which parts of the bot run in this process; `none` when workers run in child processes. */
  role?: Role | 'none';
  logger: Logger;
  scenario?: string;
  approvalsPerAction?: number;
  expiresAfter?: string;
  jobLockDurationMs?: number;
  /** How long an approval stays valid before the change must have started (policy approval_valid_for). */
  approvalValidFor?: string;
  /** WATCH_MAX_READ_FAILURES: failed reads in a row before a watch closes as not confirmed. */
  watchMaxReadFailures?: number;
  /** Run the bot on a Redis Cluster (REDIS_CLUSTER_NODES, `host:port,...`) instead of `redisUrl`. */
  redisClusterNodes?: string;
  /** EXPIRY_SWEEP_INTERVAL_MS: how often the maintenance sweep runs (default: the poll interval, at least 100 ms). */
  sweepIntervalMs?: number;
  /** HEARTBEAT_INTERVAL_MS: how often worker processes write their heartbeat (and re-check the sweep's schedule). */
  heartbeatIntervalMs?: number;
  /** SHUTDOWN_GRACE_MS: how long stop() lets running jobs finish. */
  shutdownGraceMs?: number;
  /** Break-glass uses allowed per window (default 2 per hour). */
  breakGlassMaxUses?: number;
  /** Attempts of the execute job before giving up (default 12). */
  executeAttempts?: number;
  /** More Slack users than the four sandbox people (tests with many approvers). */
  extraUsers?: { id: string; name: string }[];
  /** More channels than #netops (commands typed elsewhere). */
  extraChannels?: { id: string; name: string }[];
  /** Policy `actions.<kind>.channel`: where that kind's cards go instead of #netops. */
  actionChannels?: Partial<Record<'advertise' | 'withdraw' | 'onboard' | 'validate' | 'bind' | 'unbind' | 'delegate' | 'undelegate' | 'address-map' | 'bgp_create' | 'bgp_delete', string>>;
  /** Policy `cloudflare.accounts` after the sandbox account (onboarding to the right account). */
  extraAccounts?: { name: string; id: string }[];
  /** USERGROUP_CACHE_TTL_MS (default 1000 here). */
  usergroupCacheTtlMs?: number;
  /** Any other bot setting, by its environment variable (COMMAND_RATE_LIMIT_PER_USER, INTERACTIVE_CONCURRENCY...). */
  env?: Record<string, string>;
  /** Slack simulator's chat.postMessage limit (false = off). */
  slackRateLimit?: { perSecond: number; burst: number } | false;
  /**
   * Socket Mode instead of signed HTTP: the Slack simulator also speaks Socket Mode, the env gets
   * SLACK_APP_TOKEN, and `socketSender` (not `sender`) talks to the bot. An object tunes the simulator.
   */
  socketMode?: boolean | Omit<SocketModeSimOptions, 'appToken'>;
  /** The bot's Cloudflare request budget (CLOUDFLARE_BUDGET_LIMIT / _WINDOW_MS / _PER_SECOND); Cloudflare's by default. */
  cloudflareBudget?: { limit?: number; windowMs?: number; perSecond?: number };
  /** CLOUDFLARE_TIMEOUT_MS: per request, and the in-flight window a worker taking over a call waits out. */
  cloudflareTimeoutMs?: number;
  /** RATE_LIMIT_NOTICE_AFTER_MS: a change held longer than this by the rate limit says so once and its job is delayed. */
  rateLimitNoticeMs?: number;
  /**
   * ALLOW_DOCUMENTATION_PREFIXES; true by default, since the simulated world uses documentation space. False shows
   * what a production bot does with those prefixes.
   */
  allowDocumentationPrefixes?: boolean;
  /** Fixed ports (`npm run simulator`); each absent one is a free port. `bot` is the PORT the environment names. */
  ports?: Partial<SimulatorPorts>;
  /** Where the policy file goes (default: a new temporary directory). */
  policyPath?: string;
  /** Policy `prefixes[].auto_advertise: true` for these CIDRs (the detector's attack start advertises them at once). */
  autoAdvertise?: string[];
  /** Policy `slack.alerts_channel` (add it to `extraChannels` too). */
  alertsChannel?: string;
}

/** The ports of the simulated world, and the one the bot is told to listen on. */
export interface SimulatorPorts {
  cloudflare: number;
  slack: number;
  ripestat: number;
  rpki: number;
  irr: number;
  dns: number;
  bot: number;
}

export interface Stack {
  world: World;
  clock: SimClock;
  cloudflare: CloudflareSimulator;
  routing: RoutingSimulators;
  slack: SlackSimulator;
  sender: SlackRequestSender | null;
  /** Socket Mode only: the simulator's WebSocket side and a sender that talks to the bot through it. */
  socket: SocketModeSimulator | null;
  socketSender: SocketModeSender | null;
  bot: RunningBot | null;
  /** Environment that points a bot process at these simulators (what production sets to real URLs). */
  env: Record<string, string>;
  policyPath: string;
  stop(): Promise<void>;
}

/** Starts the simulated world, the Cloudflare, routing and Slack simulators, and (optionally) the bot. */
export async function startStack(opts: StackOptions): Promise<Stack> {
  const scale = opts.timeScale ?? 60;
  const clock = new SimClock(scale);
  const world = new World({ clock, seed: 7 });
  const ports = opts.ports ?? {};
  const cloudflare = await startCloudflareSimulator({ world, scenario: opts.scenario ?? 'default', logger: opts.logger.child({ sim: 'cloudflare' }), ...(ports.cloudflare ? { port: ports.cloudflare } : {}) });
  const routing = await startRoutingSimulators({ world, ports });
  const slack = await startSlackSimulator({
    ...(ports.slack ? { port: ports.slack } : {}),
    botToken: SANDBOX_BOT_TOKEN,
    users: [...SANDBOX_USERS.map((u) => ({ id: u.id, name: u.name, realName: u.realName })), ...(opts.extraUsers ?? [])],
    usergroups: Object.values(SANDBOX_GROUPS).map((g) => ({ ...g, users: [...g.users] })),
    channels: [SANDBOX_CHANNEL, ...(opts.extraChannels ?? [])],
    ...(opts.slackRateLimit !== undefined ? { postMessageRateLimit: opts.slackRateLimit } : {}),
  });

  const socket = opts.socketMode
    ? await startSocketModeSimulator(slack, { ...(typeof opts.socketMode === 'object' ? opts.socketMode : {}), appToken: SANDBOX_APP_TOKEN })
    : null;

  const approvals = opts.approvalsPerAction ?? 1;
  const expires = opts.expiresAfter ?? '30m';
  const policy = {
    cloudflare: { accounts: [{ name: 'sandbox', id: SANDBOX_ACCOUNT_ID }, ...(opts.extraAccounts ?? [])] },
    slack: { channel: SANDBOX_CHANNEL.id, ...(opts.alertsChannel ? { alerts_channel: opts.alertsChannel } : {}) },
    groups: { requesters: [SANDBOX_GROUPS.requesters.id], approvers: [SANDBOX_GROUPS.approvers.id], break_glass: [SANDBOX_GROUPS.breakGlass.id] },
    actions: Object.fromEntries(
      (['advertise', 'withdraw', 'onboard', 'validate', 'bind', 'unbind', 'delegate', 'undelegate', 'address-map', 'bgp_create', 'bgp_delete'] as const).map((k) => [
        k,
        { approvals, expires_after: expires, ...(opts.approvalValidFor ? { approval_valid_for: opts.approvalValidFor } : {}), ...(opts.actionChannels?.[k] ? { channel: opts.actionChannels[k] } : {}) },
      ]),
    ),
    break_glass: { max_uses: opts.breakGlassMaxUses ?? 2, window: '1h' },
    prefixes: [
      { cidr: DEFAULT_SCENARIO.prefixes.advertised.cidr, own_asn: CUSTOMER_ASN, ...(opts.autoAdvertise?.includes(DEFAULT_SCENARIO.prefixes.advertised.cidr) ? { auto_advertise: true } : {}) },
      { cidr: DEFAULT_SCENARIO.prefixes.withdrawn.cidr, own_asn: CUSTOMER_ASN, ...(opts.autoAdvertise?.includes(DEFAULT_SCENARIO.prefixes.withdrawn.cidr) ? { auto_advertise: true } : {}) },
    ],
  };
  const policyPath = opts.policyPath ?? join(mkdtempSync(join(tmpdir(), 'byoip-sandbox-')), 'policy.yml');
  mkdirSync(dirname(policyPath), { recursive: true });
  writeFileSync(policyPath, toYaml(policy));

  const poll = opts.pollIntervalMs ?? 1000;
  const simMinute = 60_000 / scale; // real ms per simulated minute
  const env: Record<string, string> = {
    SLACK_BOT_TOKEN: SANDBOX_BOT_TOKEN,
    SLACK_SIGNING_SECRET: SANDBOX_SIGNING_SECRET,
    SLACK_API_URL: slack.apiUrl,
    PORT: String(ports.bot ?? 0),
    CLOUDFLARE_API_TOKEN: SANDBOX_CLOUDFLARE_TOKEN,
    CLOUDFLARE_API_BASE_URL: cloudflare.url,
    REDIS_URL: opts.redisUrl,
    BYOIP_REDIS_PREFIX: opts.redisPrefix ?? 'byoip-sandbox',
    BYOIP_CONFIG: policyPath,
    ...routing.env, // RIPESTAT_URL, RPKI_VALIDATOR_URL, IRR_WHOIS_HOST/PORT, DNS_SERVER
    ROUTING_TIMEOUT_MS: '2000',
    WATCH_POLL_INTERVAL_MS: String(poll),
    WATCH_TIMEOUT_MS: String(Math.round(60 * simMinute)),
    ADVERTISE_AFTER_BINDING_MS: String(Math.round(5 * 60 * simMinute)),
    BINDING_POLL_INTERVAL_MS: String(Math.max(poll, Math.round(5 * simMinute))),
    BINDING_WATCH_TIMEOUT_MS: String(Math.round(8 * 60 * simMinute)),
    WATCH_MAX_READ_FAILURES: String(opts.watchMaxReadFailures ?? 20),
    // Always said, even empty: a child process started with this env must not inherit a cluster from its parent's.
    REDIS_CLUSTER_NODES: opts.redisClusterNodes ?? '',
    ESCALATE_ADVERTISE_AFTER_MS: String(Math.round(20 * simMinute)),
    ESCALATE_WITHDRAW_AFTER_MS: String(Math.round(30 * simMinute)),
    USERGROUP_CACHE_TTL_MS: String(opts.usergroupCacheTtlMs ?? 1000),
    EXPIRY_SWEEP_INTERVAL_MS: String(opts.sweepIntervalMs ?? Math.max(100, poll)),
    SLACK_CHANNEL_INTERVAL_MS: String(opts.channelIntervalMs ?? 1000),
    JOB_LOCK_DURATION_MS: String(opts.jobLockDurationMs ?? 30_000),
    EXECUTE_ATTEMPTS: String(opts.executeAttempts ?? 12),
    ...(opts.heartbeatIntervalMs ? { HEARTBEAT_INTERVAL_MS: String(opts.heartbeatIntervalMs) } : {}),
    ...(opts.shutdownGraceMs !== undefined ? { SHUTDOWN_GRACE_MS: String(opts.shutdownGraceMs) } : {}),
    LOG_LEVEL: opts.logger.level,
    // The simulated world uses the documentation prefixes (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32).
    ALLOW_DOCUMENTATION_PREFIXES: String(opts.allowDocumentationPrefixes ?? true),
    ...(opts.cloudflareTimeoutMs !== undefined ? { CLOUDFLARE_TIMEOUT_MS: String(opts.cloudflareTimeoutMs) } : {}),
    ...(opts.cloudflareBudget?.limit !== undefined ? { CLOUDFLARE_BUDGET_LIMIT: String(opts.cloudflareBudget.limit) } : {}),
    ...(opts.cloudflareBudget?.windowMs !== undefined ? { CLOUDFLARE_BUDGET_WINDOW_MS: String(opts.cloudflareBudget.windowMs) } : {}),
    ...(opts.cloudflareBudget?.perSecond !== undefined ? { CLOUDFLARE_BUDGET_PER_SECOND: String(opts.cloudflareBudget.perSecond) } : {}),
    ...(opts.rateLimitNoticeMs !== undefined ? { RATE_LIMIT_NOTICE_AFTER_MS: String(opts.rateLimitNoticeMs) } : {}),
    ...(socket ? { SLACK_APP_TOKEN: SANDBOX_APP_TOKEN } : {}),
    // The alert webhooks (the Cloudflare simulator's notifications and `world notify` sign with these).
    CLOUDFLARE_WEBHOOK_SECRET: SANDBOX_CF_WEBHOOK_SECRET,
    DETECTOR_WEBHOOK_SECRET: SANDBOX_DETECTOR_TOKEN,
    ...(opts.env ?? {}),
  };

  let bot: RunningBot | null = null;
  let sender: SlackRequestSender | null = null;
  let socketSender: SocketModeSender | null = null;
  const role = opts.role ?? 'all';
  if (role !== 'none') {
    const config = loadConfig(env);
    bot = await startBot({
      config,
      logger: opts.logger,
      role,
      routingNow: () => clock.nowDate(),
    });
    // The simulated Cloudflare's notification destination: this bot's webhook, with its secret.
    if (bot.url) cloudflare.setWebhook({ url: `${bot.url}/webhooks/cloudflare`, secret: env.CLOUDFLARE_WEBHOOK_SECRET ?? SANDBOX_CF_WEBHOOK_SECRET });
    if (socket) socketSender = new SocketModeSender({ socket, sim: slack, defaultChannel: SANDBOX_CHANNEL.id });
    else if (bot.url) sender = new SlackRequestSender({ eventsUrl: `${bot.url}/slack/events`, signingSecret: SANDBOX_SIGNING_SECRET, sim: slack, defaultChannel: SANDBOX_CHANNEL.id });
  }

  return {
    world,
    clock,
    cloudflare,
    routing,
    slack,
    sender,
    socket,
    socketSender,
    bot,
    env,
    policyPath,
    async stop() {
      await bot?.stop();
      await Promise.allSettled([cloudflare.close(), routing.close(), slack.close(), ...(socket ? [socket.close()] : [])]);
    },
  };
}

/** Fast settings for tests and benchmarks: simulated time x600, 100 ms ticks, no Slack pacing or rate limit. */
export const FAST_STACK: Pick<StackOptions, 'timeScale' | 'pollIntervalMs' | 'channelIntervalMs' | 'slackRateLimit' | 'jobLockDurationMs'> = {
  timeScale: 600,
  pollIntervalMs: 100,
  channelIntervalMs: 0,
  slackRateLimit: false,
  jobLockDurationMs: 2000,
};

/**
 * Deletes every key of one stack's prefix: operation records and BullMQ queues, all under the one hash tag
 * `{prefix}:`. On a Redis Cluster (`clusterNodes`, `host:port,...`) every master is scanned.
 */
export async function deleteStackKeys(redisUrl: string, prefix: string, clusterNodes?: string): Promise<number> {
  const nodes = clusterNodes ? parseClusterNodes(clusterNodes) : null;
  const cluster = nodes ? createRedis({ clusterNodes: nodes, maxRetriesPerRequest: 3 }) : null;
  const targets: Redis[] = cluster && 'nodes' in cluster ? [] : [new Redis(redisUrl, { maxRetriesPerRequest: 3 })];
  if (cluster && 'nodes' in cluster) {
    await new Promise<void>((resolve, reject) => {
      if (cluster.status === 'ready') return resolve();
      cluster.once('ready', () => resolve());
      cluster.once('error', reject);
    });
    targets.push(...cluster.nodes('master'));
  }
  let deleted = 0;
  try {
    for (const redis of targets) {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `{${prefix}}:*`, 'COUNT', 1000);
        cursor = next;
        // One hash tag: every key of the prefix lives in one slot, so one DEL per batch is legal on a Cluster too.
        if (keys.length) deleted += await redis.del(...keys);
      } while (cursor !== '0');
    }
  } finally {
    if (cluster) await cluster.quit();
    else await Promise.all(targets.map((r) => r.quit()));
  }
  return deleted;
}
