/**
 * The standing routing monitor: every managed prefix (the accounts' prefixes and their BGP prefixes, read through
 * the shared coalesced reader under the `background` budget class), all the time, not only during a request.
 *
 * Source: the RIS Live stream (one WebSocket, each account prefix subscribed with its more-specifics), held by one
 * replica at a time through a Redis lease; the others stand by and take over when the holder's lease runs out. The
 * stream says only what changes, so the holder bootstraps each prefix from one RIPEstat `bgp-state` read (exact
 * prefix and more-specifics) when it connects. While the stream is down, a BullMQ job scheduler (one job per tick for
 * the whole deployment, whichever replica runs it) polls the same read through the coalesced reader: one read per
 * prefix per tick, POLL_CONCURRENCY prefixes at a time.
 *
 * Findings (routing-findings.ts) go to an `AlertSink`, deduplicated per key: raised once while they hold, resolved
 * when they clear. Which keys are open is kept in Redis, so a replica taking over resolves what another raised.
 */
import type { Logger } from 'pino';
import { randomUUID } from 'node:crypto';
import { withRequestClass } from '../cloudflare/request-class.js';
import { parseCidr } from '../domain/cidr.js';
import type { EnginePolicy } from '../domain/policy.js';
import type { BgpPrefix, Prefix } from '../domain/addressing.js';
import { userMessageOf } from '../errors.js';
import type { RedisClient } from '../redis.js';
import type { PeerRoute } from '../routing/bgp-state.js';
import type { RpkiValidator } from '../routing/rpki.js';
import type { RisUpdate, StreamState } from '../routing/ris-live.js';
import type { AlertSink, Finding } from './findings.js';
import { detectFindings, inside, type DetectionSettings, type ManagedPrefix, type RpkiState, type SeenRoute } from './routing-findings.js';

/** What the monitor reads Cloudflare and the routing view through. */
export interface RoutingMonitorDeps {
  redis: RedisClient;
  /** The store's key prefix (`{prefix}:`), so the monitor's keys share its hash tag. */
  keyPrefix: string;
  policy: EnginePolicy;
  cloudflare: { listPrefixes(accountId: string): Promise<Prefix[]>; listBgpPrefixes(accountId: string, prefixId: string): Promise<BgpPrefix[]> };
  reader: { read<T>(key: string, ttlMs: number, fetch: () => Promise<T>, revive?: (raw: unknown) => T): Promise<T> };
  /** Routes held for a prefix and its more-specifics (RIPEstat bgp-state). */
  routes(prefix: string): Promise<PeerRoute[]>;
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
  settings: RoutingMonitorSettings;
}

export interface RoutingMonitorSettings extends DetectionSettings {
  /** How often the managed prefixes are read again from Cloudflare. */
  inventoryMs: number;
  /** How long one RPKI answer is reused. */
  rpkiTtlMs: number;
  /** The poll tick (the scheduler's interval while the stream is down). */
  pollIntervalMs: number;
  /** Prefixes a poll reads at once (POLL_CONCURRENCY when absent). */
  pollConcurrency?: number;
}

/** Something that turns a route change into a thread reply of an open request (the request watch). */
export type StreamListener = (update: RisUpdate) => void;

const LIST_SHARE_MS = 2000;
/**
 * Prefixes one poll reads at a time: RIPEstat serves at most 8 concurrent requests from one IP address (its Data API
 * rules of usage), and a poll of thousands of prefixes all at once would also open a connection for each.
 */
export const POLL_CONCURRENCY = 8;

function canonical(cidr: string): string | null {
  try {
    return parseCidr(cidr).text;
  } catch {
    return null;
  }
}


const routeKey = (r: SeenRoute) => `${r.collector}|${r.peer}|${r.prefix}`;

export class RoutingMonitor {
  private inventory: ManagedPrefix[] = [];
  private inventoryAt = 0;
  private inventoryLoading: Promise<ManagedPrefix[]> | null = null;
  private readonly freshLoads = new Map<string, Promise<ManagedPrefix | undefined>>();
  /** Routes per account prefix, by `<collector>|<peer>|<prefix>`. */
  private tables = new Map<string, Map<string, SeenRoute>>();
  private rpkiCache = new Map<string, { value: RpkiState; at: number }>();
  /** One evaluation at a time per prefix (a later one starts after, with the newest routes). */
  private chains = new Map<string, Promise<void>>();
  private pending = new Set<string>();
  private readonly now: () => number;
  /** Counters for tests and the bench. */
  readonly stats = { evaluations: 0, raised: 0, resolved: 0, polls: 0, pollReads: 0 };

  constructor(private readonly deps: RoutingMonitorDeps) {
    this.now = deps.now ?? Date.now;
  }

  private openKey(prefix: string): string {
    return `${this.deps.keyPrefix}routing-monitor:open:${prefix}`;
  }

  /** The managed prefixes, read again after `inventoryMs` (background class: monitoring nobody waits for). */
  async managed(force = false): Promise<ManagedPrefix[]> {
    if (!force && this.inventory.length && Date.now() - this.inventoryAt < this.deps.settings.inventoryMs) return this.inventory;
    this.inventoryLoading ??= withRequestClass('background', () => this.loadInventory()).finally(() => (this.inventoryLoading = null));
    return this.inventoryLoading;
  }

  /**
   * One prefix as Cloudflare shows it now: its BGP prefixes read again, fresh (one call, shared by concurrent
   * confirmations of the same prefix), so confirming a finding costs one read however many prefixes are managed.
   * Undefined when the prefix cannot be read any more (gone from the account).
   */
  private freshOne(m: ManagedPrefix): Promise<ManagedPrefix | undefined> {
    const k = `${m.accountId}:${m.prefixId}`;
    let loading = this.freshLoads.get(k);
    if (!loading) {
      loading = withRequestClass('background', async () => {
        try {
          const bgp = await this.deps.cloudflare.listBgpPrefixes(m.accountId, m.prefixId);
          return { ...m, bgp: bgp.map(managedBgp) };
        } catch (err) {
          this.deps.logger.debug({ err, prefix: m.cidr }, 'routing monitor: prefix not readable for a confirmation');
          return undefined;
        }
      }).finally(() => this.freshLoads.delete(k));
      this.freshLoads.set(k, loading);
    }
    return loading;
  }

  private async loadInventory(): Promise<ManagedPrefix[]> {
    const { policy, reader, cloudflare } = this.deps;
    const out: ManagedPrefix[] = [];
    for (const account of policy.cloudflare.accounts) {
      const prefixes = await reader.read(`prefixes:${account.id}`, LIST_SHARE_MS, () => cloudflare.listPrefixes(account.id));
      for (const p of prefixes) {
        const cidr = canonical(p.cidr);
        if (!cidr) continue;
        let bgp: BgpPrefix[] = [];
        try {
          bgp = await reader.read(`bgp-prefixes:${p.id}`, LIST_SHARE_MS, () => cloudflare.listBgpPrefixes(account.id, p.id));
        } catch (err) {
          // A prefix not yet approved has no BGP prefixes to list; it is still watched for hijacks.
          this.deps.logger.debug({ err, prefix: cidr }, 'routing monitor: BGP prefixes not readable');
        }
        out.push({
          cidr,
          accountId: account.id,
          prefixId: p.id,
          bgp: bgp.map(managedBgp),
          ownAsn: (c) => ownAsnCovering(policy, c),
        });
      }
    }
    this.inventory = out;
    this.inventoryAt = Date.now();
    return out;
  }

  /** The account prefix a route belongs to (the most specific one covering it). */
  private rootOf(prefix: string): ManagedPrefix | undefined {
    return this.inventory.filter((m) => inside(m.cidr, prefix)).sort((a, b) => parseCidr(b.cidr).length - parseCidr(a.cidr).length)[0];
  }

  /** Replaces what is known of one prefix with a full read (bootstrap, and every poll), then evaluates it. */
  async refresh(m: ManagedPrefix, source: string): Promise<Finding[]> {
    const ttl = Math.max(1, Math.floor(this.deps.settings.pollIntervalMs * 0.8));
    const routes = await this.deps.reader.read(`bgp-state:${m.cidr}`, ttl, () => {
      this.stats.pollReads++;
      return this.deps.routes(m.cidr);
    });
    // In line with the stream's evaluations of this prefix, never beside one (one raise per key).
    return this.serial(m.cidr, () => {
      const table = new Map<string, SeenRoute>();
      for (const r of routes) if (inside(m.cidr, r.prefix)) table.set(routeKey(r), r);
      this.tables.set(m.cidr, table);
      return this.evaluate(m, source);
    });
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

  /** A RIS Live update: applied to the table of the prefix it concerns, which is evaluated again. */
  applyUpdate(u: RisUpdate): void {
    const touched = new Set<string>();
    for (const prefix of u.withdrawn) {
      const m = this.rootOf(prefix);
      if (!m) continue;
      this.tables.get(m.cidr)?.delete(`${u.collector}|${u.peer}|${prefix}`);
      touched.add(m.cidr);
    }
    for (const prefix of u.announced) {
      const m = this.rootOf(prefix);
      if (!m) continue;
      let table = this.tables.get(m.cidr);
      if (!table) this.tables.set(m.cidr, (table = new Map()));
      const r: SeenRoute = { collector: u.collector, peer: u.peer, prefix, path: u.path, origin: u.origin };
      table.set(routeKey(r), r);
      touched.add(m.cidr);
    }
    for (const cidr of touched) {
      const m = this.inventory.find((x) => x.cidr === cidr);
      if (m) this.schedule(m, 'RIS Live');
    }
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
        const v = await this.deps.rpki.validity(origin, prefix);
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
      logger.warn({ key: f.key, type: f.type, prefix: f.prefix, alertId, created }, `routing finding: ${f.title}`);
    }
    const live = new Set(findings.map((f) => f.key));
    for (const k of Object.keys(open)) {
      if (live.has(k)) continue;
      await sink.resolve(k, clearedWhy(k), now);
      await redis.hdel(key, k);
      this.stats.resolved++;
      logger.info({ key: k, prefix }, 'routing finding cleared');
    }
  }

  /** One poll of every managed prefix (the scheduler's job while the stream is down). */
  async pollAll(source = 'RIPEstat bgp-state'): Promise<{ prefixes: number; findings: number; failed: number }> {
    this.stats.polls++;
    const managed = await this.managed();
    let findings = 0;
    let failed = 0;
    let next = 0;
    // A few lanes, each taking the next prefix when its last one is done (bounded, unlike one read per prefix at once).
    const lane = async (): Promise<void> => {
      while (next < managed.length) {
        const m = managed[next++]!;
        try {
          findings += (await this.refresh(m, source)).length;
        } catch (err) {
          failed++;
          this.deps.logger.warn({ err, prefix: m.cidr }, 'routing monitor: poll failed');
        }
      }
    };
    const lanes = Math.max(1, Math.min(managed.length, this.deps.settings.pollConcurrency ?? POLL_CONCURRENCY));
    await Promise.all(Array.from({ length: lanes }, lane));
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
  return { cidr: b.cidr, advertised: b.onDemand.advertised, modifiedAt: b.onDemand.advertisedModifiedAt ? Date.parse(b.onDemand.advertisedModifiedAt) : null };
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
