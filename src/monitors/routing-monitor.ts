/**
 * The standing routing monitor: every managed prefix (the accounts' prefixes and their BGP prefixes, read through
 * the shared coalesced reader under the `background` budget class), all the time, not only during a request.
 *
 * The inventory (which prefixes, and what Cloudflare says of their BGP prefixes) is one per deployment, in Redis: one
 * replica at a time refreshes it (a loading lease) every `inventoryMs`, with one list read per account (whose
 * whole-prefix `advertised` keeps each prefix's own BGP prefix current) and at most `inventoryReads` BGP-prefix reads,
 * oldest first; the others read the snapshot. So its Cloudflare cost does not grow with replicas, nor past
 * `inventoryReads` with prefixes; a finding that depends on the advertisement is confirmed by a fresh read anyway.
 *
 * Source: the RIS Live stream (one WebSocket, each account prefix subscribed with its more-specifics), held by one
 * replica at a time through a Redis lease; the others stand by and take over when the holder's lease runs out. The
 * stream says only what changes, so the holder bootstraps each prefix from a RIPEstat `bgp-state` read (exact prefix
 * and more-specifics) when it connects. While the stream is down, a BullMQ job scheduler (one job per tick for the
 * whole deployment, whichever replica runs it) polls the same read through the coalesced reader. A read asks for
 * POLL_BATCH prefixes at once (bgp-state takes a list of resources), POLL_CONCURRENCY reads at a time. A full read
 * replaces a prefix's table, then the stream messages that arrived since it was fetched are applied again, so a read
 * that started before them never undoes them.
 *
 * Findings (routing-findings.ts) go to an `AlertSink`, deduplicated per key: raised once while they hold, resolved
 * when they clear. Which keys are open is kept in Redis, so a replica taking over resolves what another raised.
 */
import type { Logger } from 'pino';
import { createHash, randomUUID } from 'node:crypto';
import { withRequestClass } from '../cloudflare/request-class.js';
import { networkKey, parseCidr } from '../domain/cidr.js';
import type { EnginePolicy } from '../domain/policy.js';
import type { BgpPrefix, Prefix } from '../domain/addressing.js';
import { ErrorCode, isBotError, userMessageOf } from '../errors.js';
import { mapLimit, Slots } from '../limit.js';
import type { ReadOptions } from '../operations/coalesce.js';
import type { RedisClient } from '../redis.js';
import type { PeerRoute } from '../routing/bgp-state.js';
import type { RpkiValidator } from '../routing/rpki.js';
import type { RisUpdate, StreamState } from '../routing/ris-live.js';
import type { AlertSink, Finding } from './findings.js';
import { detectFindings, inside, type DetectionSettings, type ManagedBgpPrefix, type ManagedPrefix, type RpkiState, type SeenRoute } from './routing-findings.js';

/** What the monitor reports to `/metrics` (BotMetrics implements it; the monitor knows nothing of Prometheus). */
export interface RoutingMonitorMetrics {
  /** A poll ended: `completed`, or skipped (`stream_up`, `running`: the previous one still held the lock), or `failed`. */
  routingPoll(outcome: 'completed' | 'stream_up' | 'running' | 'failed', seconds: number): void;
  /** One bgp-state request was made, asking for `prefixes` prefixes. */
  routingStateRead(prefixes: number): void;
  /** An inventory refresh by this replica ended, having made `reads` Cloudflare reads. */
  routingInventory(outcome: 'completed' | 'failed', reads: number): void;
  routingFinding(change: 'raised' | 'resolved', type: string): void;
  /** The RIS Live stream this replica holds went up or down. */
  routingStream(up: boolean): void;
}

const FINDING_TYPES = ['foreign_origin', 'more_specific', 'rpki_invalid', 'low_visibility', 'seen_while_withdrawn'] as const;
/** The finding type named in an open key (`routing:<prefix>:<type>[:…]`; an IPv6 prefix has colons of its own). */
export function findingTypeOf(key: string): string {
  return FINDING_TYPES.find((t) => key.includes(`:${t}`)) ?? 'other';
}

/** What the monitor reads Cloudflare and the routing view through. */
export interface RoutingMonitorDeps {
  redis: RedisClient;
  /** The store's key prefix (`{prefix}:`), so the monitor's keys share its hash tag. */
  keyPrefix: string;
  policy: EnginePolicy;
  cloudflare: { listPrefixes(accountId: string): Promise<Prefix[]>; listBgpPrefixes(accountId: string, prefixId: string): Promise<BgpPrefix[]> };
  reader: { read<T>(key: string, ttlMs: number, fetch: () => Promise<T>, revive?: (raw: unknown) => T, opts?: ReadOptions): Promise<T> };
  /** Routes held for some prefixes and their more-specifics, in one read (RIPEstat bgp-state with a resource list). */
  routes(prefixes: readonly string[]): Promise<PeerRoute[]>;
  rpki: RpkiValidator;
  usualPeerCount(prefix: string): Promise<number>;
  sink: AlertSink;
  logger: Logger;
  /**
   * Whether a bot request is changing this prefix right now (its lock is held): findings that compare the routes with
   * Cloudflare's advertisement (low visibility, seen while withdrawn) wait until it is over, since the routes are
   * moving because of it.
   */
  busy?: (cidr: string) => Promise<boolean>;
  /** The clock of Cloudflare's timestamps (the simulated one in the sandbox). */
  now?: () => number;
  metrics?: RoutingMonitorMetrics;
  settings: RoutingMonitorSettings;
}

export interface RoutingMonitorSettings extends DetectionSettings {
  /** How often the managed prefixes are read again from Cloudflare. */
  inventoryMs: number;
  /** How long one RPKI answer is reused. */
  rpkiTtlMs: number;
  /** The poll tick (the scheduler's interval while the stream is down). */
  pollIntervalMs: number;
  /** Reads a poll makes at once (POLL_CONCURRENCY when absent). */
  pollConcurrency?: number;
  /** Prefixes one bgp-state read asks for (POLL_BATCH when absent). */
  pollBatch?: number;
  /** Most BGP-prefix reads one inventory refresh makes, for the whole deployment (INVENTORY_READS when absent). */
  inventoryReads?: number;
}

/** Something that turns a route change into a thread reply of an open request (the request watch). */
export type StreamListener = (update: RisUpdate) => void;

const LIST_SHARE_MS = 2000;
/**
 * Reads one poll makes at a time: RIPEstat serves at most 8 concurrent requests from one IP address (its Data API
 * rules of usage), and a poll of thousands of prefixes all at once would also open a connection for each.
 */
export const POLL_CONCURRENCY = 8;
/**
 * Prefixes one bgp-state read asks for: the call takes a comma-separated list and combines the answers, so a poll of
 * N prefixes costs N / 20 requests (a URL of about 400 characters; an answer of 20 prefixes' routes).
 */
export const POLL_BATCH = 20;
/**
 * BGP-prefix reads per inventory refresh (every `inventoryMs`, default 5 min), for the whole deployment: well inside
 * the background class's share of Cloudflare's 1,200 requests per 5 minutes (144 of the bot's 960), beside the drift
 * check. Each prefix's own BGP prefix is kept current by the list read anyway; the others are read oldest first.
 */
export const INVENTORY_READS = 20;
/** How long a refresh holds the inventory's loading lease at most (a replica that dies mid-load frees it by then). */
const INVENTORY_LEASE_MS = 60_000;
/** How long a replica with no inventory at all waits for another's load before loading itself. */
const INVENTORY_WAIT_MS = 15_000;
/**
 * Stream messages that arrived this long before a full read was fetched are applied again over it too: the read
 * (RIPEstat's RIB plus updates) may lag the stream a little, and the stream is never older than it.
 */
const REPLAY_MARGIN_MS = 5_000;
/** Stream messages kept per prefix for that (beside the time bound: the read's share time plus a minute). */
const STREAM_LOG_MAX = 500;

function canonical(cidr: string): string | null {
  try {
    return parseCidr(cidr).text;
  } catch {
    return null;
  }
}


const routeKey = (r: SeenRoute) => `${r.collector}|${r.peer}|${r.prefix}`;

/** One inventory entry as kept in Redis. `readAt` null: the BGP prefixes were never read, only the list's status. */
interface StoredPrefix {
  cidr: string;
  accountId: string;
  prefixId: string;
  bgp: ManagedBgpPrefix[];
  readAt: number | null;
}

/** A stream message as one prefix's table saw it: a route set (announced) or removed (withdrawn). */
interface LoggedChange {
  at: number;
  key: string;
  route: SeenRoute | null;
}

/** A full read, as shared between replicas: when it was fetched, and what. */
interface StateRead {
  at: number;
  routes: PeerRoute[];
}

export class RoutingMonitor {
  private inventory: ManagedPrefix[] = [];
  /** The inventory by network key, and the prefix lengths in it (longest first): rootOf in a few look-ups. */
  private byNetwork = new Map<string, ManagedPrefix>();
  private lengths: number[] = [];
  /** When the inventory this replica holds was refreshed (by whichever replica loaded it). */
  private inventoryAt = 0;
  private inventoryLoading: Promise<ManagedPrefix[]> | null = null;
  private readonly freshLoads = new Map<string, Promise<ManagedPrefix | undefined>>();
  /** Routes per account prefix, by `<collector>|<peer>|<prefix>`. */
  private tables = new Map<string, Map<string, SeenRoute>>();
  /** Recent stream messages per account prefix, applied again over a full read fetched after some of them. */
  private streamLog = new Map<string, LoggedChange[]>();
  private rpkiCache = new Map<string, { value: RpkiState; at: number }>();
  /**
   * RPKI look-ups in flight at once from this replica: a poll judges 20 prefixes a read, 8 reads at a time, and each
   * new origin is a look-up (RIPEstat's rpki-validation, the fallback, serves 8 at a time per client).
   */
  readonly rpkiSlots = new Slots(POLL_CONCURRENCY);
  /** One evaluation at a time per prefix (a later one starts after, with the newest routes). */
  private chains = new Map<string, Promise<void>>();
  private pending = new Set<string>();
  private readonly now: () => number;
  /**
   * Counters for tests and the bench: `pollReads` bgp-state requests made by this replica, `pollPrefixes` the
   * prefixes they asked for, `inventoryLoads` inventory refreshes this replica made, `inventoryReads` the
   * Cloudflare reads they made, `replayed` stream messages applied again over a full read.
   */
  readonly stats = { evaluations: 0, raised: 0, resolved: 0, polls: 0, pollReads: 0, pollPrefixes: 0, inventoryLoads: 0, inventoryReads: 0, replayed: 0 };

  constructor(private readonly deps: RoutingMonitorDeps) {
    this.now = deps.now ?? Date.now;
  }

  private openKey(prefix: string): string {
    return `${this.deps.keyPrefix}routing-monitor:open:${prefix}`;
  }

  private get inventoryKeys() {
    const base = `${this.deps.keyPrefix}routing-monitor:inventory`;
    return { entries: base, at: `${base}:at`, loading: `${base}:loading` };
  }

  /**
   * The managed prefixes: the deployment's shared inventory, refreshed after `inventoryMs` by one replica (background
   * class: monitoring nobody waits for). `force` looks at the shared one again even if this replica's copy is recent.
   */
  async managed(force = false): Promise<ManagedPrefix[]> {
    if (!force && this.inventory.length && Date.now() - this.inventoryAt < this.deps.settings.inventoryMs) return this.inventory;
    this.inventoryLoading ??= withRequestClass('background', () => this.syncInventory()).finally(() => (this.inventoryLoading = null));
    return this.inventoryLoading;
  }

  /**
   * One prefix as Cloudflare shows it now: its BGP prefixes read again, fresh (one call, shared by concurrent
   * confirmations of the same prefix), so confirming a finding costs one read however many prefixes are managed. The
   * read also refreshes the shared inventory's entry. Undefined when the prefix cannot be read any more.
   */
  private freshOne(m: ManagedPrefix): Promise<ManagedPrefix | undefined> {
    const k = `${m.accountId}:${m.prefixId}`;
    let loading = this.freshLoads.get(k);
    if (!loading) {
      loading = withRequestClass('background', async () => {
        try {
          const bgp = (await this.deps.cloudflare.listBgpPrefixes(m.accountId, m.prefixId)).map(managedBgp);
          const stored: StoredPrefix = { cidr: m.cidr, accountId: m.accountId, prefixId: m.prefixId, bgp, readAt: Date.now() };
          await this.deps.redis.hset(this.inventoryKeys.entries, k, JSON.stringify(stored)).catch(() => undefined);
          const reread = this.managedOf(stored);
          const i = this.inventory.findIndex((x) => x.accountId === m.accountId && x.prefixId === m.prefixId);
          if (i >= 0) this.setInventory(this.inventory.map((x, j) => (j === i ? reread : x)));
          return reread;
        } catch (err) {
          this.deps.logger.debug({ err, prefix: m.cidr }, 'routing monitor: prefix not readable for a confirmation');
          return undefined;
        }
      }).finally(() => this.freshLoads.delete(k));
      this.freshLoads.set(k, loading);
    }
    return loading;
  }

  private managedOf(e: StoredPrefix): ManagedPrefix {
    const policy = this.deps.policy;
    return { cidr: e.cidr, accountId: e.accountId, prefixId: e.prefixId, bgp: e.bgp, ownAsn: (c) => ownAsnCovering(policy, c) };
  }

  private async readShared(): Promise<{ at: number; entries: Map<string, StoredPrefix> }> {
    const { redis } = this.deps;
    const keys = this.inventoryKeys;
    const [at, raw] = await Promise.all([redis.get(keys.at), redis.hgetall(keys.entries)]);
    const entries = new Map<string, StoredPrefix>();
    for (const [k, v] of Object.entries(raw)) {
      try {
        entries.set(k, JSON.parse(v) as StoredPrefix);
      } catch {
        // an entry we cannot read is read again from Cloudflare by the next refresh
      }
    }
    return { at: Number(at) || 0, entries };
  }

  private adopt(at: number, entries: Map<string, StoredPrefix>): ManagedPrefix[] {
    const accounts = this.deps.policy.cloudflare.accounts.map((a) => a.id);
    const out = [...entries.values()]
      .filter((e) => accounts.includes(e.accountId))
      .sort((a, b) => accounts.indexOf(a.accountId) - accounts.indexOf(b.accountId) || (a.cidr < b.cidr ? -1 : a.cidr > b.cidr ? 1 : 0))
      .map((e) => this.managedOf(e));
    this.setInventory(out);
    this.inventoryAt = at;
    return out;
  }

  private setInventory(list: ManagedPrefix[]): void {
    this.inventory = list;
    this.byNetwork = new Map();
    const lengths = new Set<number>();
    for (const m of list) {
      const len = parseCidr(m.cidr).length;
      const key = networkKey(m.cidr, len);
      if (key === null) continue;
      this.byNetwork.set(key, m);
      lengths.add(len);
    }
    this.lengths = [...lengths].sort((a, b) => b - a);
  }

  /** This replica's copy brought up to the shared inventory; refreshed from Cloudflare first when that is stale. */
  private async syncInventory(): Promise<ManagedPrefix[]> {
    const { redis, settings } = this.deps;
    const keys = this.inventoryKeys;
    const deadline = Date.now() + INVENTORY_WAIT_MS;
    for (;;) {
      const shared = await this.readShared();
      if (Date.now() - shared.at < settings.inventoryMs) return this.adopt(shared.at, shared.entries);
      const lease = new RedisLease(redis, keys.loading, INVENTORY_LEASE_MS);
      if (await lease.acquire()) {
        const reads = this.stats.inventoryReads;
        try {
          const out = await this.loadInventory(shared.entries);
          this.deps.metrics?.routingInventory('completed', this.stats.inventoryReads - reads);
          return out;
        } catch (err) {
          this.deps.metrics?.routingInventory('failed', this.stats.inventoryReads - reads);
          if (!shared.entries.size) throw err;
          // Cloudflare did not answer: the last inventory serves, and this replica tries again in 30 s.
          this.deps.logger.warn({ err }, 'routing monitor: the inventory could not be refreshed; the last one serves meanwhile');
          this.adopt(shared.at, shared.entries);
          this.inventoryAt = Date.now() - settings.inventoryMs + Math.min(30_000, settings.inventoryMs);
          return this.inventory;
        } finally {
          await lease.release().catch(() => undefined);
        }
      }
      // Another replica is refreshing it: its last one serves meanwhile (it was current one refresh ago).
      if (shared.entries.size) return this.adopt(shared.at, shared.entries);
      if (Date.now() > deadline) return this.loadInventory(shared.entries); // the loader seems stuck: read for ourselves
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /**
   * One refresh of the shared inventory: the account's prefix list (one read each), whose whole-prefix `advertised`
   * brings each prefix's own BGP prefix up to date, then at most `inventoryReads` BGP-prefix reads, never-read
   * prefixes first, then the oldest read.
   */
  private async loadInventory(previous: Map<string, StoredPrefix>): Promise<ManagedPrefix[]> {
    const { policy, reader, cloudflare, redis, settings } = this.deps;
    const keys = this.inventoryKeys;
    this.stats.inventoryLoads++;
    const next = new Map<string, StoredPrefix>();
    for (const account of policy.cloudflare.accounts) {
      this.stats.inventoryReads++;
      const prefixes = await reader.read(`prefixes:${account.id}`, LIST_SHARE_MS, () => cloudflare.listPrefixes(account.id));
      for (const p of prefixes) {
        const cidr = canonical(p.cidr);
        if (!cidr) continue;
        const k = `${account.id}:${p.id}`;
        const old = previous.get(k);
        const entry: StoredPrefix = old ? { ...old, cidr, bgp: [...old.bgp] } : { cidr, accountId: account.id, prefixId: p.id, bgp: [], readAt: null };
        // Cloudflare's whole-prefix status (on-demand prefixes only) is the BGP prefix of the same CIDR: current for free.
        if (p.advertised !== null) {
          const modifiedAt = p.advertisedModifiedAt ? Date.parse(p.advertisedModifiedAt) : null;
          const i = entry.bgp.findIndex((b) => b.cidr === cidr);
          if (i >= 0) {
            if (entry.bgp[i]!.advertised !== p.advertised) entry.bgp[i] = { cidr, advertised: p.advertised, modifiedAt };
          } else if (entry.readAt === null) {
            entry.bgp = [{ cidr, advertised: p.advertised, modifiedAt }];
          }
        }
        next.set(k, entry);
      }
    }
    const toRead = [...next.values()].sort((a, b) => (a.readAt ?? -1) - (b.readAt ?? -1)).slice(0, settings.inventoryReads ?? INVENTORY_READS);
    for (const e of toRead) {
      this.stats.inventoryReads++;
      try {
        const bgp = await reader.read(`bgp-prefixes:${e.prefixId}`, LIST_SHARE_MS, () => cloudflare.listBgpPrefixes(e.accountId, e.prefixId));
        e.bgp = bgp.map(managedBgp);
        e.readAt = Date.now();
      } catch (err) {
        // A prefix not yet approved has no BGP prefixes to list; it is still watched for hijacks.
        this.deps.logger.debug({ err, prefix: e.cidr }, 'routing monitor: BGP prefixes not readable');
        e.readAt = Date.now();
      }
    }
    const at = Date.now();
    const gone = [...previous.keys()].filter((k) => !next.has(k));
    const write = redis.multi();
    if (gone.length) write.hdel(keys.entries, ...gone);
    if (next.size) write.hset(keys.entries, Object.fromEntries([...next].map(([k, v]) => [k, JSON.stringify(v)])));
    // Kept a few refreshes long: a deployment that stops refreshing (all replicas down) starts again from the list.
    const keepMs = Math.max(60_000, settings.inventoryMs * 4);
    write.set(keys.at, String(at), 'PX', keepMs);
    write.pexpire(keys.entries, keepMs);
    await write.exec();
    return this.adopt(at, next);
  }

  /** The account prefix a route belongs to (the most specific one covering it). */
  private rootOf(prefix: string): ManagedPrefix | undefined {
    for (const len of this.lengths) {
      const key = networkKey(prefix, len);
      const m = key === null ? undefined : this.byNetwork.get(key);
      if (m) return m;
    }
    return undefined;
  }

  /** Replaces what is known of one prefix with a full read (a prefix new to the stream), then evaluates it. */
  async refresh(m: ManagedPrefix, source: string, opts: ReadOptions = {}): Promise<Finding[]> {
    const { findings } = await this.refreshBatch([m], source, opts);
    return findings.get(m.cidr) ?? [];
  }

  /**
   * One bgp-state read for several prefixes (shared with the other replicas for most of a poll tick), each route
   * given to the most specific managed prefix covering it; each prefix's table replaced, the stream messages that
   * arrived since the read was fetched applied again over it, and the prefix evaluated.
   */
  private async refreshBatch(batch: ManagedPrefix[], source: string, opts: ReadOptions = {}): Promise<{ findings: Map<string, Finding[]>; failed: number }> {
    const ttl = Math.max(1, Math.floor(this.deps.settings.pollIntervalMs * 0.8));
    const list = batch.map((m) => m.cidr);
    const key = list.length === 1 ? `bgp-state:${list[0]}` : `bgp-state:${list.length}:${createHash('sha1').update(list.join(',')).digest('hex')}`;
    const read = await this.deps.reader.read<StateRead>(
      key,
      ttl,
      async () => {
        this.stats.pollReads++;
        this.stats.pollPrefixes += list.length;
        this.deps.metrics?.routingStateRead(list.length);
        const at = Date.now();
        return { at, routes: await this.deps.routes(list) };
      },
      // A replica of the version before shared the bare routes, with no time: as old as the share lasts.
      (raw) => (Array.isArray(raw) ? { at: Date.now() - ttl, routes: raw as PeerRoute[] } : (raw as StateRead)),
      opts,
    );
    const tables = new Map(list.map((c) => [c, new Map<string, SeenRoute>()]));
    for (const r of read.routes) {
      const root = this.rootOf(r.prefix);
      // A route of a managed prefix outside this batch is that prefix's own read's business.
      if (root) tables.get(root.cidr)?.set(routeKey(r), r);
    }
    const findings = new Map<string, Finding[]>();
    let failed = 0;
    await Promise.all(
      batch.map((m) =>
        // In line with the stream's evaluations of this prefix, never beside one (one raise per key).
        this.serial(m.cidr, async () => {
          const table = tables.get(m.cidr)!;
          for (const c of this.streamLog.get(m.cidr) ?? []) {
            if (c.at < read.at - REPLAY_MARGIN_MS) continue;
            this.stats.replayed++;
            if (c.route) table.set(c.key, c.route);
            else table.delete(c.key);
          }
          this.tables.set(m.cidr, table);
          findings.set(m.cidr, await this.evaluate(m, source));
        }).catch((err: unknown) => {
          failed++;
          this.deps.logger.warn({ err, prefix: m.cidr }, 'routing monitor: evaluation after a full read failed');
        }),
      ),
    );
    return { findings, failed };
  }

  /** The routes this replica holds for an account prefix now (tests and the bench). */
  routesHeld(cidr: string): SeenRoute[] {
    return [...(this.tables.get(cidr)?.values() ?? [])];
  }

  /** Forgets the kept stream messages (the stream went down: what it said last may be out of date by the next read). */
  clearStreamLog(): void {
    this.streamLog.clear();
  }

  private logChange(root: string, key: string, route: SeenRoute | null): void {
    const now = Date.now();
    const keepMs = this.deps.settings.pollIntervalMs + 60_000;
    let log = this.streamLog.get(root);
    if (!log) this.streamLog.set(root, (log = []));
    log.push({ at: now, key, route });
    let drop = 0;
    while (drop < log.length && (log[drop]!.at < now - keepMs || log.length - drop > STREAM_LOG_MAX)) drop++;
    if (drop) log.splice(0, drop);
  }

  /** A RIS Live update: applied to the table of the prefix it concerns, which is evaluated again. */
  applyUpdate(u: RisUpdate): void {
    const touched = new Map<string, ManagedPrefix>();
    for (const prefix of u.withdrawn) {
      const m = this.rootOf(prefix);
      if (!m) continue;
      const key = `${u.collector}|${u.peer}|${prefix}`;
      this.tables.get(m.cidr)?.delete(key);
      this.logChange(m.cidr, key, null);
      touched.set(m.cidr, m);
    }
    for (const prefix of u.announced) {
      const m = this.rootOf(prefix);
      if (!m) continue;
      let table = this.tables.get(m.cidr);
      if (!table) this.tables.set(m.cidr, (table = new Map()));
      const r: SeenRoute = { collector: u.collector, peer: u.peer, prefix, path: u.path, origin: u.origin };
      table.set(routeKey(r), r);
      this.logChange(m.cidr, routeKey(r), r);
      touched.set(m.cidr, m);
    }
    for (const m of touched.values()) void this.schedule(m, 'RIS Live');
  }

  private serial<T>(cidr: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.chains.get(cidr) ?? Promise.resolve();
    const run = prev.then(fn);
    this.chains.set(
      cidr,
      run.then(
        () => undefined,
        () => undefined,
      ),
    );
    return run;
  }

  /** Evaluates `m` after any evaluation of it already running; several requests while one waits make one. */
  schedule(m: ManagedPrefix, source: string): Promise<void> {
    if (this.pending.has(m.cidr)) return this.chains.get(m.cidr) ?? Promise.resolve();
    this.pending.add(m.cidr);
    return this.serial(m.cidr, async () => {
      this.pending.delete(m.cidr);
      try {
        await this.evaluate(m, source);
      } catch (err) {
        this.deps.logger.warn({ err, prefix: m.cidr }, 'routing monitor: evaluation failed');
      }
    });
  }

  /** Settles all scheduled evaluations (tests and the bench). */
  async idle(): Promise<void> {
    await Promise.all([...this.chains.values()]);
  }

  /** RPKI validity, kept `rpkiTtlMs` from when it was read and shared with the other replicas through Redis meanwhile. */
  private async rpkiOf(prefix: string, origin: number): Promise<RpkiState> {
    const key = `${prefix}|${origin}`;
    const ttl = this.deps.settings.rpkiTtlMs;
    const hit = this.rpkiCache.get(key);
    if (hit && Date.now() - hit.at < ttl) return hit.value;
    let value: RpkiState;
    let at: number;
    try {
      const shared = await this.deps.reader.read(`routing-monitor:rpki:${key}`, Math.max(1, Math.floor(ttl / 2)), async () => {
        const v = await this.rpkiSlots.run(() => this.deps.rpki.validity(origin, prefix));
        const state: RpkiState = v.state === 'invalid' ? { state: 'invalid', ...(v.reason ? { reason: v.reason } : {}) } : { state: v.state };
        return { at: Date.now(), state };
      });
      value = shared.state;
      at = shared.at;
    } catch (err) {
      value = { state: 'unknown', why: userMessageOf(err).slice(0, 200) };
      this.rpkiCache.set(key, { value, at: Date.now() - this.deps.settings.rpkiTtlMs + 30_000 }); // try again in 30 s
      return value;
    }
    this.rpkiCache.set(key, { value, at });
    return value;
  }

  private async evaluate(m: ManagedPrefix, source: string): Promise<Finding[]> {
    this.stats.evaluations++;
    const routes = [...(this.tables.get(m.cidr)?.values() ?? [])];
    const rpki = new Map<string, RpkiState>();
    const pairs = new Set(routes.filter((r) => r.origin !== null).map((r) => `${r.prefix}|${r.origin}`));
    await Promise.all(
      [...pairs].map(async (k) => {
        const [prefix, origin] = k.split('|') as [string, string];
        rpki.set(k, await this.rpkiOf(prefix, Number(origin)));
      }),
    );
    let usualPeers = 0;
    try {
      usualPeers = await this.deps.reader.read(`usual-peers:${m.cidr.includes(':') ? 6 : 4}`, 3600_000, () => this.deps.usualPeerCount(m.cidr));
    } catch (err) {
      this.deps.logger.debug({ err }, 'routing monitor: usual peer count unknown');
    }
    const detect = (managed: ManagedPrefix) =>
      detectFindings({
        managed,
        routes,
        rpki,
        // Unknown usual count: no visibility finding (a threshold of 0 peers), never a false alarm.
        usualPeers,
        now: this.now(),
        settings: usualPeers > 0 ? this.deps.settings : { ...this.deps.settings, minVisibilityShare: 0 },
        source,
      });
    let findings = detect(m);
    findings = await this.confirmStateFindings(m, findings, detect);
    await this.reconcile(m.cidr, findings);
    return findings;
  }

  /**
   * A finding that compares the routes with Cloudflare's advertisement is only as true as the advertisement it read:
   * before a new one is raised, a request changing the prefix holds it back (the routes move because of it), and
   * Cloudflare is read again, fresh (a withdraw the bot just made would otherwise look like low visibility, an
   * advertise made outside the bot like a stuck route). However recent the inventory is: a change may have come since.
   */
  private async confirmStateFindings(m: ManagedPrefix, findings: Finding[], detect: (m: ManagedPrefix) => Finding[]): Promise<Finding[]> {
    const isState = (f: Finding) => f.type === 'low_visibility' || f.type === 'seen_while_withdrawn';
    const open = await this.deps.redis.hgetall(this.openKey(m.cidr));
    const fresh = findings.filter((f) => isState(f) && open[f.key] === undefined);
    if (!fresh.length) return findings;
    const busy = await this.deps.busy?.(m.cidr).catch(() => true);
    if (busy) return findings.filter((f) => !fresh.includes(f));
    const reread = await this.freshOne(m);
    if (!reread) return findings.filter((f) => !isState(f) || open[f.key] !== undefined);
    return detect(reread);
  }

  /** Raises the findings not open yet, resolves the open ones that are gone. */
  private async reconcile(prefix: string, findings: Finding[]): Promise<void> {
    const { redis, sink, logger } = this.deps;
    const key = this.openKey(prefix);
    const open = await redis.hgetall(key);
    const now = this.now();
    for (const f of findings) {
      if (open[f.key] !== undefined) continue;
      const { alertId, created } = await sink.raise(f);
      await redis.hset(key, f.key, JSON.stringify({ alertId, at: now }));
      this.stats.raised++;
      this.deps.metrics?.routingFinding('raised', f.type);
      logger.warn({ key: f.key, type: f.type, prefix: f.prefix, alertId, created }, `routing finding: ${f.title}`);
    }
    const live = new Set(findings.map((f) => f.key));
    for (const k of Object.keys(open)) {
      if (live.has(k)) continue;
      await sink.resolve(k, clearedWhy(k), now);
      await redis.hdel(key, k);
      this.stats.resolved++;
      this.deps.metrics?.routingFinding('resolved', findingTypeOf(k));
      logger.info({ key: k, prefix }, 'routing finding cleared');
    }
  }

  /**
   * One poll of every managed prefix (the scheduler's job while the stream is down), POLL_BATCH prefixes a read.
   * `opts.notBefore`: no shared read fetched before it (the stream's bootstrap: nothing older than the stream).
   */
  async pollAll(source = 'RIPEstat bgp-state', opts: ReadOptions = {}): Promise<{ prefixes: number; findings: number; failed: number }> {
    this.stats.polls++;
    const managed = await this.managed();
    const size = Math.max(1, this.deps.settings.pollBatch ?? POLL_BATCH);
    const batches: ManagedPrefix[][] = [];
    for (let i = 0; i < managed.length; i += size) batches.push(managed.slice(i, i + size));
    let findings = 0;
    let failed = 0;
    const one = async (batch: ManagedPrefix[]): Promise<void> => {
      const res = await this.refreshBatch(batch, source, opts);
      for (const f of res.findings.values()) findings += f.length;
      failed += res.failed;
    };
    await mapLimit(batches, this.deps.settings.pollConcurrency ?? POLL_CONCURRENCY, async (batch) => {
      try {
        await one(batch);
      } catch (err) {
        // RIPEstat refused the list itself (a bad answer, not an outage): each prefix on its own, so one it will not
        // take does not leave the other nineteen unwatched. An outage is not multiplied by twenty.
        if (batch.length > 1 && isBotError(err) && err.code === ErrorCode.RoutingBadResponse) {
          this.deps.logger.warn({ err, prefixes: batch.length, first: batch[0]!.cidr }, 'routing monitor: a batched read was refused; reading its prefixes one by one');
          for (const m of batch) {
            try {
              await one([m]);
            } catch (e) {
              failed++;
              this.deps.logger.warn({ err: e, prefix: m.cidr }, 'routing monitor: poll read failed');
            }
          }
          return;
        }
        failed += batch.length;
        this.deps.logger.warn({ err, prefixes: batch.length, first: batch[0]!.cidr }, 'routing monitor: poll read failed');
      }
    });
    return { prefixes: managed.length, findings, failed };
  }
}

/**
 * Why an open finding cleared, as its card says: a hijack or a stuck route is gone, but a low visibility clears by
 * being seen again (or by Cloudflare no longer advertising it), not by being "no longer seen".
 */
function clearedWhy(key: string): string {
  if (key.endsWith(':low_visibility')) return 'enough collector peers see it again from an origin of ours, or Cloudflare no longer advertises it';
  if (key.endsWith(':seen_while_withdrawn')) return 'no collector peer sees it from AS13335 any more, or Cloudflare advertises it again';
  return 'no longer seen by the route collectors';
}

function managedBgp(b: BgpPrefix): ManagedPrefix['bgp'][number] {
  // Canonical, as the account prefix is: the list's whole-prefix status is matched to it by CIDR text.
  return { cidr: canonical(b.cidr) ?? b.cidr, advertised: b.onDemand.advertised, modifiedAt: b.onDemand.advertisedModifiedAt ? Date.parse(b.onDemand.advertisedModifiedAt) : null };
}

/** The own AS of the most specific policy prefix covering `cidr`. */
export function ownAsnCovering(policy: EnginePolicy, cidr: string): number | undefined {
  return policy.prefixes
    .filter((p) => p.own_asn !== undefined && inside(p.cidr, cidr))
    .sort((a, b) => parseCidr(b.cidr).length - parseCidr(a.cidr).length)[0]?.own_asn;
}

/** A Redis lease: one holder at a time, renewed while alive, taken over once it lapses. */
export class RedisLease {
  readonly holder = randomUUID();
  constructor(
    private redis: RedisClient,
    private key: string,
    private ttlMs: number,
  ) {}

  /** True when this instance holds the lease now (taken or renewed). */
  async acquire(): Promise<boolean> {
    const got = await this.redis.set(this.key, this.holder, 'PX', this.ttlMs, 'NX');
    if (got === 'OK') return true;
    const renewed = (await this.redis.eval(
      "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end",
      1,
      this.key,
      this.holder,
      String(this.ttlMs),
    )) as number;
    return renewed === 1;
  }

  async release(): Promise<void> {
    await this.redis.eval("if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end", 1, this.key, this.holder);
  }
}

export type { StreamState };
