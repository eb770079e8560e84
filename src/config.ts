import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { BotError, ErrorCode } from './errors.js';
import { parseCidr } from './domain/cidr.js';
import type { EnginePolicy } from './domain/policy.js';
import type { DrainSettings } from './kinds/types.js';
import { parseClusterNodes, type RedisNode } from './redis.js';
import type { RoutingSettings } from './routing/preflight.js';
import { routingSettingsFromEnv } from './routing/settings.js';

/** Durations in policy and env: `90s`, `30m`, `2h`, `500ms`, or a number of milliseconds. */
export function parseDuration(text: string | number): number {
  if (typeof text === 'number') return text;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(text);
  if (!m) throw new Error(`"${text}" is not a duration; write e.g. 500ms, 90s, 30m or 2h`);
  const n = Number(m[1]);
  const unit = m[2] ?? 'ms';
  const factor = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[unit]!;
  return Math.round(n * factor);
}

const duration = z.union([z.string(), z.number()]).transform((v, ctx) => {
  try {
    return parseDuration(v);
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as Error).message });
    return z.NEVER;
  }
});

const hex32 = z.string().regex(/^[0-9a-f]{32}$/, 'must be a 32-character lowercase hex Cloudflare id');
const usergroupId = z.string().regex(/^S[A-Z0-9]+$/, 'must be a Slack user group id such as S0123ABCD (not a @handle)');
const channelId = z.string().regex(/^[CG][A-Z0-9]+$/, 'must be a Slack channel id such as C0123ABCD');

const actionPolicy = z.object({
  approvals: z.number().int().min(1, 'at least one approval is required (fail closed)').max(10).default(1),
  // A request that expires at once could never be approved: at least a second.
  expires_after: duration.refine((ms) => ms >= 1000, 'expires_after must be at least 1s (e.g. 30m)').default(30 * 60_000),
  // An approved change that has not started by then is not executed (back to waiting for approval).
  approval_valid_for: duration.refine((ms) => ms >= 1000, 'approval_valid_for must be at least 1s (e.g. 15m)').default(15 * 60_000),
  /** Where this kind's cards go instead of `slack.channel`. */
  channel: channelId.optional(),
});

const ACTION_DEFAULT = { approvals: 1, expires_after: 30 * 60_000, approval_valid_for: 15 * 60_000 };

export const policySchema = z
  .object({
    cloudflare: z.object({
      accounts: z.array(z.object({ name: z.string().min(1), id: hex32 })).min(1, 'name at least one Cloudflare account'),
    }),
    slack: z.object({
      /** Channel where every card goes, wherever the command was typed (unless the action names its own). */
      channel: channelId,
      /** Where alert cards (Cloudflare notifications, the detector, the routing monitor, drift) go; default: `channel`. */
      alerts_channel: channelId.optional(),
    }),
    groups: z
      .object({
        requesters: z.array(usergroupId).min(1, 'name at least one requester user group'),
        approvers: z.array(usergroupId).min(1, 'name at least one approver user group (an empty list would let nobody, or anybody, approve)'),
        break_glass: z.array(usergroupId).default([]),
        /** Who may read (status, preflight); absent = requesters, approvers and break glass together. */
        viewers: z.array(usergroupId).min(1, 'name at least one viewer user group, or leave viewers out (then requesters, approvers and break glass may view)').optional(),
      })
      .transform((g) => ({ ...g, viewers: g.viewers ?? [...new Set([...g.requesters, ...g.approvers, ...g.break_glass])] })),
    actions: z
      .object({
        advertise: actionPolicy.default(ACTION_DEFAULT),
        withdraw: actionPolicy.default(ACTION_DEFAULT),
        onboard: actionPolicy.default(ACTION_DEFAULT),
        validate: actionPolicy.default(ACTION_DEFAULT),
        bind: actionPolicy.default(ACTION_DEFAULT),
        unbind: actionPolicy.default(ACTION_DEFAULT),
        delegate: actionPolicy.default(ACTION_DEFAULT),
        undelegate: actionPolicy.default(ACTION_DEFAULT),
        'address-map': actionPolicy.default(ACTION_DEFAULT),
        bgp_create: actionPolicy.default(ACTION_DEFAULT),
        bgp_delete: actionPolicy.default(ACTION_DEFAULT),
      })
      .default({ advertise: ACTION_DEFAULT, withdraw: ACTION_DEFAULT, onboard: ACTION_DEFAULT, validate: ACTION_DEFAULT, bind: ACTION_DEFAULT, unbind: ACTION_DEFAULT, delegate: ACTION_DEFAULT, undelegate: ACTION_DEFAULT, 'address-map': ACTION_DEFAULT, bgp_create: ACTION_DEFAULT, bgp_delete: ACTION_DEFAULT }),
    /** The incident path: on-call engineers act without approval, a bounded number of times, reviewed afterwards. */
    break_glass: z
      .object({
        max_uses: z.number().int().min(0).max(100).default(2),
        window: duration.default(3_600_000),
      })
      .default({ max_uses: 2, window: 3_600_000 }),
    prefixes: z
      .array(
        z.object({
          cidr: z.string().transform((v, ctx) => {
            try {
              return parseCidr(v).text;
            } catch (e) {
              ctx.addIssue({ code: 'custom', message: (e as Error).message });
              return z.NEVER;
            }
          }),
          /** The team's own origin AS, announcing the prefix from its data centre when Cloudflare does not. */
          own_asn: z.number().int().min(1).max(4_294_967_295).optional(),
          /** Gate 2 of the staged withdraw for this prefix (overrides `withdraw.prepend`). */
          withdraw_prepend: z.boolean().optional(),
          /** The on-prem detector's attack start advertises this prefix at once through break glass (actor "detector"). */
          auto_advertise: z.boolean().optional(),
        }),
      )
      .default([]),
    /** The staged withdraw (Cloudflare's drain guidance). Its timings are env settings (WITHDRAW_*_MS). */
    withdraw: z
      .object({
        own_announcement_min_share: z.number().gt(0, 'own_announcement_min_share must be above 0 (e.g. 0.8)').max(1).default(0.8),
        drain: z.enum(['required', 'when_announced']).default('required'),
        prepend: z.boolean().default(false),
      })
      .default({ own_announcement_min_share: 0.8, drain: 'required', prepend: false }),
  })
  .superRefine((p, ctx) => {
    // Runs even when a field above failed: read defensively.
    const g = p.groups ?? {};
    const wildcard = [...(g.approvers ?? []), ...(g.requesters ?? []), ...(g.break_glass ?? []), ...(g.viewers ?? [])].find((id) => /^(\*|ALL|EVERYONE)$/i.test(id));
    if (wildcard) ctx.addIssue({ code: 'custom', path: ['groups'], message: 'wildcard groups are not allowed' });
  });

export type Policy = z.infer<typeof policySchema>;
export type ActionKind = 'advertise' | 'withdraw' | 'onboard' | 'validate' | 'bind' | 'unbind' | 'delegate' | 'undelegate' | 'address-map' | 'bgp_create' | 'bgp_delete';
// The engine's view of the policy lives in domain/; the validated file must fit it.
const _policyFitsEngine = (p: Policy): EnginePolicy => p;
void _policyFitsEngine;

const envSchema = z.object({
  SLACK_BOT_TOKEN: z.string({ error: 'SLACK_BOT_TOKEN is required (xoxb-...)' }).min(1, 'SLACK_BOT_TOKEN is required (xoxb-...)'),
  SLACK_SIGNING_SECRET: z.string({ error: 'SLACK_SIGNING_SECRET is required' }).min(1, 'SLACK_SIGNING_SECRET is required'),
  SLACK_APP_TOKEN: z.string().optional(),
  SLACK_API_URL: z.string().url().optional(),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  CLOUDFLARE_API_TOKEN: z.string({ error: 'CLOUDFLARE_API_TOKEN is required' }).min(1, 'CLOUDFLARE_API_TOKEN is required'),
  CLOUDFLARE_API_BASE_URL: z.string().url().default('https://api.cloudflare.com/client/v4'),
  CLOUDFLARE_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(30_000),
  CLOUDFLARE_BUDGET_LIMIT: z.coerce.number().int().min(10).default(1200),
  CLOUDFLARE_BUDGET_WINDOW_MS: z.coerce.number().int().min(100).default(300_000),
  CLOUDFLARE_BUDGET_PER_SECOND: z.coerce.number().int().min(0).default(100),
  RATE_LIMIT_NOTICE_AFTER_MS: z.coerce.number().int().min(100).default(20_000),
  ALLOW_DOCUMENTATION_PREFIXES: z
    .enum(['true', 'false', '1', '0', ''])
    .default('false')
    .transform((v) => v === 'true' || v === '1'),
  REDIS_URL: z.string().default('redis://127.0.0.1:6379'),
  REDIS_CLUSTER_NODES: z.string().optional(),
  BYOIP_REDIS_PREFIX: z.string().regex(/^[A-Za-z0-9_:.-]+$/).default('byoip'),
  BYOIP_CONFIG: z.string({ error: 'BYOIP_CONFIG must name the policy YAML file' }).min(1, 'BYOIP_CONFIG must name the policy YAML file'),
  WATCH_POLL_INTERVAL_MS: z.coerce.number().int().min(10).default(30_000),
  WATCH_TIMEOUT_MS: z.coerce.number().int().min(100).default(60 * 60_000),
  WATCH_MAX_READ_FAILURES: z.coerce.number().int().min(1).max(10_000).default(20),
  ADVERTISE_AFTER_BINDING_MS: z.coerce.number().int().min(0).default(5 * 3_600_000),
  BINDING_POLL_INTERVAL_MS: z.coerce.number().int().min(10).default(5 * 60_000),
  BINDING_WATCH_TIMEOUT_MS: z.coerce.number().int().min(100).default(8 * 3_600_000),
  ESCALATE_ADVERTISE_AFTER_MS: z.coerce.number().int().min(10).default(20 * 60_000),
  ESCALATE_WITHDRAW_AFTER_MS: z.coerce.number().int().min(10).default(30 * 60_000),
  /** Staged withdraw: how long our own same-length announcement must be seen before the withdraw (Cloudflare: 5-10 min). */
  WITHDRAW_CONVERGENCE_MS: z.coerce.number().int().min(0).default(10 * 60_000),
  /** How long an approved withdraw may wait for its gates before it closes as failed, nothing sent. */
  WITHDRAW_GATE_MAX_WAIT_MS: z.coerce.number().int().min(10).default(60 * 60_000),
  /** Gate 2: the pause after each AS-path prepend step. */
  WITHDRAW_PREPEND_PAUSE_MS: z.coerce.number().int().min(0).default(2 * 60_000),
  /** The zombie hunt: peers still seeing the route via AS13335 this long after the withdraw are stuck routes. */
  WITHDRAW_ZOMBIE_AFTER_MS: z.coerce.number().int().min(0).default(15 * 60_000),
  /** ...and at least this long after the route collectors showed it gone from most peers (the last ones dropping it). */
  WITHDRAW_ZOMBIE_SETTLE_MS: z.coerce.number().int().min(0).default(5 * 60_000),
  USERGROUP_CACHE_TTL_MS: z.coerce.number().int().min(0).default(30_000),
  EXPIRY_SWEEP_INTERVAL_MS: z.coerce.number().int().min(5).default(15_000),
  SLACK_CHANNEL_INTERVAL_MS: z.coerce.number().int().min(0).default(1000),
  JOB_LOCK_DURATION_MS: z.coerce.number().int().min(500).default(30_000),
  EXECUTE_ATTEMPTS: z.coerce.number().int().min(1).max(50).default(12),
  /** How often the drift check compares Cloudflare with what the bot last set (one tick per deployment); 0 = off. */
  DRIFT_INTERVAL_MS: z.coerce.number().int().min(0).max(86_400_000).default(300_000),
  OPERATION_RETENTION_DAYS: z.coerce.number().min(1).default(90),
  AUDIT_RETENTION_DAYS: z.coerce.number().min(1).default(400),
  COMMAND_RATE_LIMIT_PER_USER: z.coerce.number().int().min(1).default(20),
  COMMAND_RATE_LIMIT_PER_WORKSPACE: z.coerce.number().int().min(1).default(300),
  COMMAND_RATE_WINDOW_MS: z.coerce.number().int().min(1000).default(60_000),
  /** Clicks and form submits per user and window (per user only: approvals and break glass are never starved by others). */
  INTERACTION_RATE_LIMIT_PER_USER: z.coerce.number().int().min(1).default(60),
  INTERACTIVE_CONCURRENCY: z.coerce.number().int().min(1).max(1000).default(16),
  INTERACTIVE_QUEUE_MAX: z.coerce.number().int().min(0).max(100_000).default(200),
  LOG_LEVEL: z.string().default('info'),
  SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).max(600_000).default(5_000),
  HEARTBEAT_INTERVAL_MS: z.coerce.number().int().min(100).max(600_000).default(5_000),
  STARTUP_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(5_000),
  /** The standing routing monitor (worker role): RIS Live, with RIPEstat polling while the stream is down. */
  ROUTING_MONITOR: z.enum(['on', 'off']).default('on'),
  RIS_LIVE_URL: z.string().regex(/^wss?:\/\/\S+$/, 'must be a ws:// or wss:// URL').default('wss://ris-live.ripe.net/v1/ws/?client=byoip-bot'),
  RIS_LIVE_PING_INTERVAL_MS: z.coerce.number().int().min(50).default(5_000),
  RIS_LIVE_DEAD_AFTER_MS: z.coerce.number().int().min(100).default(15_000),
  RIS_LIVE_BACKOFF_MS: z.coerce.number().int().min(10).default(1_000),
  RIS_LIVE_BACKOFF_MAX_MS: z.coerce.number().int().min(10).default(60_000),
  ROUTING_MONITOR_POLL_INTERVAL_MS: z.coerce.number().int().min(50).default(60_000),
  ROUTING_MONITOR_INVENTORY_MS: z.coerce.number().int().min(50).default(300_000),
  /** Most Cloudflare BGP-prefix reads one inventory refresh makes, for the whole deployment. */
  ROUTING_MONITOR_INVENTORY_READS: z.coerce.number().int().min(0).max(1000).default(20),
  ROUTING_MONITOR_LEASE_MS: z.coerce.number().int().min(300).default(15_000),
  ROUTING_MONITOR_MIN_PEERS: z.coerce.number().int().min(1).default(1),
  ROUTING_MONITOR_MIN_VISIBILITY: z.coerce.number().min(0).max(1).default(0.5),
  /** On Cloudflare's clock: after an advertise or withdraw, how long before visibility / still-seen findings apply. */
  ROUTING_MONITOR_SETTLE_MS: z.coerce.number().int().min(0).default(30 * 60_000),
  /** `POST /webhooks/cloudflare`: the secret Cloudflare sends in `cf-webhook-auth` (unset: the endpoint is off). */
  CLOUDFLARE_WEBHOOK_SECRET: z.string().optional(),
  /** `POST /webhooks/detector`: the bearer token of the on-prem DDoS detector (unset: the endpoint is off). */
  DETECTOR_WEBHOOK_SECRET: z.string().optional(),
});

export interface AppConfig {
  slack: { botToken: string; signingSecret: string; appToken?: string; apiUrl?: string; port: number };
  cloudflare: {
    apiToken: string;
    baseUrl: string;
    /** Per request, and the in-flight window of a call whose answer never came (CLOUDFLARE_TIMEOUT_MS). */
    timeoutMs: number;
    /** The token's limit the shared request budget divides between classes (Cloudflare: 1200 per 5 min). */
    budget: { limit: number; windowMs: number; perSecond: number };
    /** A change held longer than this by the rate limit or the budget says so once in its thread; its job is delayed. */
    rateLimitNoticeMs: number;
  };
  /** Accept the documentation prefixes (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32): the sandbox. */
  allowDocumentationPrefixes: boolean;
  /** A single Redis (`url`), or a Redis Cluster when `clusterNodes` is set (REDIS_CLUSTER_NODES). */
  redis: { url: string; prefix: string; clusterNodes?: RedisNode[] };
  /** RIPEstat, RPKI validator, IRR whois and DNS (see src/routing/settings.ts). */
  routing: RoutingSettings;
  watch: { pollIntervalMs: number; timeoutMs: number; maxReadFailures: number; escalateAdvertiseAfterMs: number; escalateWithdrawAfterMs: number };
  /** The docs' wait between the default binding becoming active and the first advertise (5 h). */
  advertiseAfterBindingMs: number;
  /** The staged withdraw's timings (WITHDRAW_*_MS). */
  drain: DrainSettings;
  /** Following a service binding: between reads, and how long before `Not confirmed:` (Cloudflare: 4-6 h). */
  bindingWatch: { pollIntervalMs: number; timeoutMs: number };
  usergroupCacheTtlMs: number;
  expirySweepIntervalMs: number;
  /** Spacing of chat.postMessage per channel (Slack: about one per second). */
  channelIntervalMs: number;
  /** How soon another worker takes over a job from a crashed one. */
  jobLockDurationMs: number;
  /** Attempts of the execute job (exponential backoff from 1 s) before the request is closed as failed. */
  executeAttempts: number;
  /** How long finished operations and audit lines are kept in Redis. */
  retention: { operationMs: number; auditMs: number };
  /** Slash commands: the rate limit (per user and per workspace, in Redis) and the in-process work queue. */
  commands: { perUser: number; perWorkspace: number; windowMs: number; concurrency: number; maxWaiting: number; interactionsPerUser: number };
  logLevel: string;
  /** The drift check's interval (DRIFT_INTERVAL_MS); 0 = off. */
  driftIntervalMs: number;
  /** How long stop() lets running jobs finish before it drops the Redis connections. */
  shutdownGraceMs: number;
  /** How often a worker process writes its heartbeat (kept for three intervals). */
  heartbeatIntervalMs: number;
  /** How long each start-up check (Redis, Slack, Cloudflare) may take before start-up fails. */
  startupTimeoutMs: number;
  /** The standing routing monitor (src/monitors/routing-monitor.ts). */
  routingMonitor: {
    enabled: boolean;
    risLive: { url: string; pingIntervalMs: number; deadAfterMs: number; backoff: { baseMs: number; maxMs: number } };
    pollIntervalMs: number;
    inventoryMs: number;
    inventoryReads: number;
    leaseMs: number;
    minPeers: number;
    minVisibilityShare: number;
    settleMs: number;
  };
  /** Incoming alert webhooks: each is off while its secret is unset. */
  webhooks: { cloudflareSecret?: string; detectorSecret?: string };
  policy: Policy;
}

function formatIssues(where: string, error: z.ZodError): string {
  return error.issues.map((i) => `${where}${i.path.length ? ` ${i.path.join('.')}` : ''}: ${i.message}`).join('; ');
}

/** Validates a policy document; throws BotError(PolicyInvalid) saying every problem. */
export function parsePolicy(doc: unknown, source = 'policy'): Policy {
  const r = policySchema.safeParse(doc);
  if (!r.success) throw new BotError(ErrorCode.PolicyInvalid, `The policy file is not valid, so the bot will not start: ${formatIssues(source, r.error)}`);
  return r.data;
}

export function loadPolicyFile(path: string): Policy {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new BotError(ErrorCode.PolicyInvalid, `Cannot read the policy file ${path}: ${(e as Error).message}. Set BYOIP_CONFIG to its path.`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new BotError(ErrorCode.PolicyInvalid, `The policy file ${path} is not valid YAML: ${(e as Error).message}`);
  }
  return parsePolicy(doc, path);
}

/** Reads and validates the environment and the policy file it names. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, policyOverride?: Policy): AppConfig {
  const r = envSchema.safeParse(env);
  if (!r.success) throw new BotError(ErrorCode.ConfigInvalid, `The environment is not valid: ${formatIssues('env', r.error)}`);
  const e = r.data;
  let clusterNodes: RedisNode[] | undefined;
  if (e.REDIS_CLUSTER_NODES && e.REDIS_CLUSTER_NODES.trim()) {
    try {
      clusterNodes = parseClusterNodes(e.REDIS_CLUSTER_NODES);
    } catch (err) {
      throw new BotError(ErrorCode.ConfigInvalid, `The environment is not valid: env REDIS_CLUSTER_NODES: ${(err as Error).message}`);
    }
  }
  return {
    slack: { botToken: e.SLACK_BOT_TOKEN, signingSecret: e.SLACK_SIGNING_SECRET, appToken: e.SLACK_APP_TOKEN, apiUrl: e.SLACK_API_URL, port: e.PORT },
    cloudflare: {
      apiToken: e.CLOUDFLARE_API_TOKEN,
      baseUrl: e.CLOUDFLARE_API_BASE_URL,
      timeoutMs: e.CLOUDFLARE_TIMEOUT_MS,
      budget: { limit: e.CLOUDFLARE_BUDGET_LIMIT, windowMs: e.CLOUDFLARE_BUDGET_WINDOW_MS, perSecond: e.CLOUDFLARE_BUDGET_PER_SECOND },
      rateLimitNoticeMs: e.RATE_LIMIT_NOTICE_AFTER_MS,
    },
    allowDocumentationPrefixes: e.ALLOW_DOCUMENTATION_PREFIXES,
    redis: { url: e.REDIS_URL, prefix: e.BYOIP_REDIS_PREFIX, ...(clusterNodes ? { clusterNodes } : {}) },
    routing: routingSettingsFromEnv(env),
    watch: {
      pollIntervalMs: e.WATCH_POLL_INTERVAL_MS,
      timeoutMs: e.WATCH_TIMEOUT_MS,
      maxReadFailures: e.WATCH_MAX_READ_FAILURES,
      escalateAdvertiseAfterMs: e.ESCALATE_ADVERTISE_AFTER_MS,
      escalateWithdrawAfterMs: e.ESCALATE_WITHDRAW_AFTER_MS,
    },
    advertiseAfterBindingMs: e.ADVERTISE_AFTER_BINDING_MS,
    drain: {
      convergenceMs: e.WITHDRAW_CONVERGENCE_MS,
      maxWaitMs: e.WITHDRAW_GATE_MAX_WAIT_MS,
      prependPauseMs: e.WITHDRAW_PREPEND_PAUSE_MS,
      zombieAfterMs: e.WITHDRAW_ZOMBIE_AFTER_MS,
      zombieSettleMs: e.WITHDRAW_ZOMBIE_SETTLE_MS,
    },
    bindingWatch: { pollIntervalMs: e.BINDING_POLL_INTERVAL_MS, timeoutMs: e.BINDING_WATCH_TIMEOUT_MS },
    usergroupCacheTtlMs: e.USERGROUP_CACHE_TTL_MS,
    expirySweepIntervalMs: e.EXPIRY_SWEEP_INTERVAL_MS,
    channelIntervalMs: e.SLACK_CHANNEL_INTERVAL_MS,
    jobLockDurationMs: e.JOB_LOCK_DURATION_MS,
    executeAttempts: e.EXECUTE_ATTEMPTS,
    driftIntervalMs: e.DRIFT_INTERVAL_MS,
    retention: { operationMs: e.OPERATION_RETENTION_DAYS * 86_400_000, auditMs: e.AUDIT_RETENTION_DAYS * 86_400_000 },
    commands: {
      perUser: e.COMMAND_RATE_LIMIT_PER_USER,
      perWorkspace: e.COMMAND_RATE_LIMIT_PER_WORKSPACE,
      windowMs: e.COMMAND_RATE_WINDOW_MS,
      concurrency: e.INTERACTIVE_CONCURRENCY,
      maxWaiting: e.INTERACTIVE_QUEUE_MAX,
      interactionsPerUser: e.INTERACTION_RATE_LIMIT_PER_USER,
    },
    logLevel: e.LOG_LEVEL,
    shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
    heartbeatIntervalMs: e.HEARTBEAT_INTERVAL_MS,
    startupTimeoutMs: e.STARTUP_TIMEOUT_MS,
    routingMonitor: {
      enabled: e.ROUTING_MONITOR === 'on',
      risLive: { url: e.RIS_LIVE_URL, pingIntervalMs: e.RIS_LIVE_PING_INTERVAL_MS, deadAfterMs: e.RIS_LIVE_DEAD_AFTER_MS, backoff: { baseMs: e.RIS_LIVE_BACKOFF_MS, maxMs: e.RIS_LIVE_BACKOFF_MAX_MS } },
      pollIntervalMs: e.ROUTING_MONITOR_POLL_INTERVAL_MS,
      inventoryMs: e.ROUTING_MONITOR_INVENTORY_MS,
      inventoryReads: e.ROUTING_MONITOR_INVENTORY_READS,
      leaseMs: e.ROUTING_MONITOR_LEASE_MS,
      minPeers: e.ROUTING_MONITOR_MIN_PEERS,
      minVisibilityShare: e.ROUTING_MONITOR_MIN_VISIBILITY,
      settleMs: e.ROUTING_MONITOR_SETTLE_MS,
    },
    webhooks: {
      ...(e.CLOUDFLARE_WEBHOOK_SECRET ? { cloudflareSecret: e.CLOUDFLARE_WEBHOOK_SECRET } : {}),
      ...(e.DETECTOR_WEBHOOK_SECRET ? { detectorSecret: e.DETECTOR_WEBHOOK_SECRET } : {}),
    },
    policy: policyOverride ?? loadPolicyFile(e.BYOIP_CONFIG),
  };
}
