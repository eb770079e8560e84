import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { CloudflareCallReport } from './cloudflare/client.js';
import type { QueueDepth } from './jobs/queues.js';
import type { DriftSection } from './domain/drift.js';
import type { DriftMetrics, DriftSkipReason } from './monitors/drift.js';
import type { RoutingMonitorMetrics } from './monitors/routing-monitor.js';

/**
 * The bot's Prometheus metrics: one Registry per running bot (never prom-client's global one), so several bots in
 * one process (tests, benchmarks) each count their own. Lower layers know nothing of Prometheus: the Cloudflare
 * client, the Slack client, the deliverer, the store and the command listener report through small callbacks, and
 * the Redis-backed gauges (operations, queues, budget) are read at scrape time through `sources`, each bounded.
 */

export interface BudgetLeft {
  readLeft: number;
  mutationLeft: number;
  pausedForMs: number;
}

/** Scrape-time readers, set once the bot is wired. Each may fail (Redis down): that gauge is then left empty. */
export interface MetricSources {
  operations?: () => Promise<{ kind: string; state: string }[]>;
  queues?: () => Promise<QueueDepth[]>;
  budget?: () => Promise<BudgetLeft>;
}

export type SlackCallOutcome = 'ok' | 'rate_limited' | 'error';

const SOURCE_TIMEOUT_MS = 1000;
const SHARED_READ_MS = 250;

function bounded<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<never>((_r, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)))]).finally(() =>
    clearTimeout(timer),
  );
}

export class BotMetrics implements DriftMetrics, RoutingMonitorMetrics {
  readonly registry = new Registry();
  private sources: MetricSources = {};
  private readonly sourceErrors: Counter<'source'>;
  private readonly transitions: Counter<'kind' | 'state'>;
  private readonly cfCalls: Counter<'kind' | 'outcome'>;
  private readonly cfErrors: Counter<'kind' | 'code'>;
  private readonly cfRateLimited: Counter<'kind'>;
  private readonly cfSeconds: Histogram<'kind'>;
  private readonly slackCalls: Counter<'method' | 'outcome'>;
  private readonly slackRateLimited: Counter<'method'>;
  private readonly ackSeconds: Histogram<'command'>;
  private readonly deliveryLag: Histogram<'item'>;
  private readonly driftTicks: Counter<'outcome'>;
  private readonly routingPolls: Counter<'outcome'>;
  private readonly routingPollSeconds: Histogram;
  private readonly routingStateReads: Counter;
  private readonly routingStatePrefixes: Counter;
  private readonly routingInventories: Counter<'outcome'>;
  private readonly routingInventoryReads: Counter;
  private readonly routingFindings: Counter<'change' | 'type'>;
  private readonly routingStreamUp: Gauge;
  private readonly routingStreamChanges: Counter<'state'>;
  private readonly driftTickSeconds: Histogram;
  private readonly driftComparedTotal: Counter;
  private readonly driftSkippedTotal: Counter<'reason'>;
  private readonly driftRaisedTotal: Counter<'what'>;
  private readonly driftResolvedTotal: Counter<'what'>;
  private readonly driftReadFailures: Counter<'code'>;

  constructor(opts: { role: string; defaultMetrics?: boolean }) {
    let sourceErrors: Counter<'source'> | null = null;
    const registers = [this.registry];
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
    new Gauge({ name: 'byoip_info', help: 'Always 1; the role of this process as a label', labelNames: ['role'], registers }).set({ role: opts.role }, 1);

    // Gauges fed by one source share its read within a scrape (prom-client collects metrics in parallel).
    const inFlight = new Map<keyof MetricSources, { at: number; value: Promise<unknown> }>();
    const read = <T>(source: keyof MetricSources, fn: (() => Promise<T>) | undefined): Promise<T | null> => {
      if (!fn) return Promise.resolve(null);
      const hit = inFlight.get(source);
      if (hit && Date.now() - hit.at < SHARED_READ_MS) return hit.value as Promise<T | null>;
      const value = bounded(fn(), SOURCE_TIMEOUT_MS).catch(() => {
        sourceErrors?.inc({ source });
        return null;
      });
      inFlight.set(source, { at: Date.now(), value });
      return value;
    };

    const operations = new Gauge({
      name: 'byoip_operations',
      help: 'Open (unfinished) operations by kind and state, as recorded in Redis',
      labelNames: ['kind', 'state'],
      registers,
      collect: async () => {
        const rows = await read('operations', this.sources.operations);
        operations.reset();
        if (!rows) return;
        const counts = new Map<string, { kind: string; state: string; n: number }>();
        for (const r of rows) {
          const key = `${r.kind}/${r.state}`;
          const c = counts.get(key) ?? { kind: r.kind, state: r.state, n: 0 };
          c.n++;
          counts.set(key, c);
        }
        for (const c of counts.values()) operations.set({ kind: c.kind, state: c.state }, c.n);
      },
    });
    this.transitions = new Counter({ name: 'byoip_operation_transitions_total', help: 'Operations entering a state (created included), counted by the process that made the change', labelNames: ['kind', 'state'], registers });

    const queueJobs = new Gauge({
      name: 'byoip_queue_jobs',
      help: 'Jobs per queue and state',
      labelNames: ['queue', 'state'],
      registers,
      collect: async () => {
        const rows = await read('queues', this.sources.queues);
        queueJobs.reset();
        for (const q of rows ?? []) for (const [state, n] of Object.entries(q.counts)) queueJobs.set({ queue: q.queue, state }, n);
      },
    });
    const queueAge = new Gauge({
      name: 'byoip_queue_oldest_waiting_seconds',
      help: 'Age of the oldest job waiting to run, per queue (0 when none waits)',
      labelNames: ['queue'],
      registers,
      collect: async () => {
        const rows = await read('queues', this.sources.queues);
        queueAge.reset();
        for (const q of rows ?? []) queueAge.set({ queue: q.queue }, q.oldestWaitingMs / 1000);
      },
    });

    this.cfCalls = new Counter({ name: 'byoip_cloudflare_calls_total', help: 'Calls sent to the Cloudflare API, by kind (read / mutation) and outcome', labelNames: ['kind', 'outcome'], registers });
    this.cfErrors = new Counter({ name: 'byoip_cloudflare_errors_total', help: 'Failed Cloudflare calls by kind and error code', labelNames: ['kind', 'code'], registers });
    this.cfRateLimited = new Counter({ name: 'byoip_cloudflare_rate_limited_total', help: 'Cloudflare answers with HTTP 429', labelNames: ['kind'], registers });
    this.cfSeconds = new Histogram({ name: 'byoip_cloudflare_call_seconds', help: 'Duration of Cloudflare calls', labelNames: ['kind'], buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers });
    const budgetLeft = new Gauge({
      name: 'byoip_cloudflare_budget_remaining',
      help: "Requests left in the shared budget's window, by kind",
      labelNames: ['kind'],
      registers,
      collect: async () => {
        const b = await read('budget', this.sources.budget);
        budgetLeft.reset();
        if (!b) return;
        budgetLeft.set({ kind: 'read' }, b.readLeft);
        budgetLeft.set({ kind: 'mutation' }, b.mutationLeft);
      },
    });
    const budgetPaused = new Gauge({
      name: 'byoip_cloudflare_budget_paused_seconds',
      help: 'How long every replica still holds its Cloudflare calls (Retry-After), 0 when not paused',
      registers,
      collect: async () => {
        const b = await read('budget', this.sources.budget);
        budgetPaused.reset();
        if (b) budgetPaused.set(b.pausedForMs / 1000);
      },
    });

    this.slackCalls = new Counter({ name: 'byoip_slack_calls_total', help: "Slack Web API calls by the bot's client, by method and outcome", labelNames: ['method', 'outcome'], registers });
    this.slackRateLimited = new Counter({ name: 'byoip_slack_rate_limited_total', help: 'Slack Web API answers with HTTP 429', labelNames: ['method'], registers });
    this.ackSeconds = new Histogram({
      name: 'byoip_slack_command_ack_seconds',
      help: 'From the request reaching the bot to the slash command being acknowledged (Slack gives up after 3 s)',
      labelNames: ['command'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5],
      registers,
    });
    this.deliveryLag = new Histogram({
      name: 'byoip_slack_delivery_lag_seconds',
      help: 'From a card update or thread reply being recorded to Slack accepting it',
      labelNames: ['item'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300],
      registers,
    });
    this.routingPolls = new Counter({ name: 'byoip_routing_polls_total', help: 'Routing monitor poll ticks by outcome (completed; stream_up or running: skipped; failed)', labelNames: ['outcome'], registers });
    this.routingPollSeconds = new Histogram({ name: 'byoip_routing_poll_seconds', help: 'Duration of routing monitor poll ticks that ran', buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120], registers });
    this.routingStateReads = new Counter({ name: 'byoip_routing_state_reads_total', help: 'RIPEstat bgp-state requests made by the routing monitor', registers });
    this.routingStatePrefixes = new Counter({ name: 'byoip_routing_state_read_prefixes_total', help: 'Prefixes those bgp-state requests asked for (20 a request at most)', registers });
    this.routingInventories = new Counter({ name: 'byoip_routing_inventory_refreshes_total', help: "Refreshes of the routing monitor's shared inventory made by this replica, by outcome", labelNames: ['outcome'], registers });
    this.routingInventoryReads = new Counter({ name: 'byoip_routing_inventory_cloudflare_reads_total', help: 'Cloudflare reads those refreshes made', registers });
    this.routingFindings = new Counter({ name: 'byoip_routing_findings_total', help: 'Routing findings raised or resolved, by type', labelNames: ['change', 'type'], registers });
    this.routingStreamUp = new Gauge({ name: 'byoip_routing_stream_up', help: '1 while this replica holds the RIS Live stream and it is up', registers });
    this.routingStreamChanges = new Counter({ name: 'byoip_routing_stream_changes_total', help: 'The RIS Live stream going up or down on this replica', labelNames: ['state'], registers });
    this.driftTicks = new Counter({ name: 'byoip_drift_ticks_total', help: 'Drift check ticks by outcome (completed, overlapped: the previous tick still ran, failed)', labelNames: ['outcome'], registers });
    this.driftTickSeconds = new Histogram({ name: 'byoip_drift_tick_seconds', help: 'Duration of drift check ticks', buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300], registers });
    this.driftComparedTotal = new Counter({ name: 'byoip_drift_prefixes_compared_total', help: "Prefixes whose Cloudflare state a drift tick compared with the bot's baseline", registers });
    this.driftSkippedTotal = new Counter({ name: 'byoip_drift_prefixes_skipped_total', help: 'Prefixes a drift tick did not compare, by reason (read_failed, rate_limited, baseline_changed, error)', labelNames: ['reason'], registers });
    this.driftRaisedTotal = new Counter({ name: 'byoip_drift_raised_total', help: 'Drifts raised (a new or changed difference), by what drifted', labelNames: ['what'], registers });
    this.driftResolvedTotal = new Counter({ name: 'byoip_drift_resolved_total', help: 'Drifts resolved (Cloudflare back as the bot expects), by what had drifted', labelNames: ['what'], registers });
    this.driftReadFailures = new Counter({ name: 'byoip_drift_cloudflare_read_failures_total', help: 'Cloudflare reads of the drift check that failed, by error code', labelNames: ['code'], registers });
    // Registered last: its collect runs after every gauge has started its read, and waits for them.
    sourceErrors = new Counter({
      name: 'byoip_metrics_source_errors_total',
      help: 'Scrapes where a Redis-backed gauge could not be read (it is left empty)',
      labelNames: ['source'],
      registers,
      collect: async () => {
        await Promise.all([...inFlight.values()].map((r) => r.value));
      },
    });
    this.sourceErrors = sourceErrors;
  }

  /** Where the Redis-backed gauges read from (set by the wiring, once the store and queues exist). */
  setSources(sources: MetricSources): void {
    this.sources = { ...this.sources, ...sources };
  }

  cloudflareCall(call: CloudflareCallReport): void {
    this.cfCalls.inc({ kind: call.kind, outcome: call.error ? 'error' : 'ok' });
    this.cfSeconds.observe({ kind: call.kind }, call.ms / 1000);
    if (call.error) this.cfErrors.inc({ kind: call.kind, code: call.error });
    if (call.status === 429) this.cfRateLimited.inc({ kind: call.kind });
  }

  slackCall(method: string, outcome: SlackCallOutcome): void {
    this.slackCalls.inc({ method, outcome });
    if (outcome === 'rate_limited') this.slackRateLimited.inc({ method });
  }

  commandAcked(command: string, seconds: number): void {
    this.ackSeconds.observe({ command }, seconds);
  }

  delivered(item: string, lagMs: number): void {
    this.deliveryLag.observe({ item }, Math.max(0, lagMs) / 1000);
  }

  routingPoll(outcome: 'completed' | 'stream_up' | 'running' | 'failed', seconds: number): void {
    this.routingPolls.inc({ outcome });
    if (outcome === 'completed' || outcome === 'failed') this.routingPollSeconds.observe(seconds);
  }

  routingStateRead(prefixes: number): void {
    this.routingStateReads.inc();
    this.routingStatePrefixes.inc(prefixes);
  }

  routingInventory(outcome: 'completed' | 'failed', reads: number): void {
    this.routingInventories.inc({ outcome });
    this.routingInventoryReads.inc(reads);
  }

  routingFinding(change: 'raised' | 'resolved', type: string): void {
    this.routingFindings.inc({ change, type });
  }

  routingStream(up: boolean): void {
    this.routingStreamUp.set(up ? 1 : 0);
    this.routingStreamChanges.inc({ state: up ? 'up' : 'down' });
  }

  driftTick(outcome: 'completed' | 'overlapped' | 'failed', seconds: number): void {
    this.driftTicks.inc({ outcome });
    this.driftTickSeconds.observe(seconds);
  }

  driftCompared(): void {
    this.driftComparedTotal.inc();
  }

  driftSkipped(reason: DriftSkipReason): void {
    this.driftSkippedTotal.inc({ reason });
  }

  driftRaised(section: DriftSection): void {
    this.driftRaisedTotal.inc({ what: section });
  }

  driftResolved(section: DriftSection): void {
    this.driftResolvedTotal.inc({ what: section });
  }

  driftReadFailed(code: string): void {
    this.driftReadFailures.inc({ code });
  }

  stateChanged(kind: string, state: string): void {
    this.transitions.inc({ kind, state });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The text exposition of every metric (what `GET /metrics` answers). */
  render(): Promise<string> {
    return this.registry.metrics();
  }
}
