import { Address4, Address6 } from 'ip-address';
import { parseCidr } from '../../src/domain/cidr.js';
import { SimClock, seededRandom } from './clock.js';

/**
 * The simulated Internet shared by every simulator: who announces what (seen by route-collector peers),
 * ROAs, IRR route objects and reverse-DNS TXT records. The Cloudflare simulator writes announcements when a
 * BGP prefix is advertised or withdrawn; the RIPEstat, RPKI, IRR and DNS simulators read from here.
 */

export const CLOUDFLARE_ASN = 13335;

export interface Roa {
  prefix: string;
  maxLength: number;
  asn: number;
}

export interface RouteObject {
  prefix: string;
  origin: number;
  /** IRR database, e.g. RADB, RIPE, ARIN; `RPKI` marks IRRd's pseudo route objects made from ROAs. */
  source: string;
  remarks: string[];
  descr: string[];
  mntBy?: string;
}

/** One route collector peer (a RIS peer at an RRC). Every peer gives a full IPv4 table; some also a full IPv6 one. */
export interface CollectorPeer {
  rrc: string;
  location: string;
  ip: string;
  asn: number;
  /** Deterministic rank in [0, 1): a peer sees a route once the route's reach passes its rank. */
  rank: number;
  /** The peer's IPv6 session address, when it also feeds IPv6 routes; undefined for an IPv4-only peer. */
  ip6?: string;
  /** Its rank among the IPv6 peers (same meaning as `rank`, for IPv6 routes). */
  rank6?: number;
}

export interface Announcement {
  id: number;
  prefix: string;
  origin: number;
  /** Simulated ms when the first peers see it. */
  start: number;
  /** Simulated ms from first to all reachable peers seeing it. */
  rampMs: number;
  /** Share of peers that will ever see it (filters, partial transit). */
  reach: number;
  /** Simulated ms when peers start losing it; null while announced. */
  end: number | null;
  decayMs: number;
  /** Extra copies of the origin at the end of the AS path (Cloudflare's `asn_prepend_count`). */
  prepend?: number;
}

export interface VisibleRoute {
  peer: CollectorPeer;
  prefix: string;
  origin: number;
  asPath: number[];
  since: number;
}

export interface WorldOptions {
  clock?: SimClock;
  seed?: number;
  /** Collectors and peers per collector; the usual full-table peer count is their product times ~reach. */
  collectors?: { rrc: string; location: string }[];
  peersPerCollector?: number;
  /**
   * How many of each collector's peers also feed IPv6 (default 8 of 12): like RIS, fewer peers carry a full IPv6
   * table than an IPv4 one, so IPv6 has its own usual peer count.
   */
  ipv6PeersPerCollector?: number;
}

const DEFAULT_COLLECTORS = [
  { rrc: 'RRC00', location: 'Amsterdam, NL' },
  { rrc: 'RRC01', location: 'London, GB' },
  { rrc: 'RRC03', location: 'Amsterdam, NL' },
  { rrc: 'RRC06', location: 'Otemachi, JP' },
  { rrc: 'RRC11', location: 'New York, US' },
];

const TRANSIT_ASNS = [174, 1299, 2914, 3257, 3356, 6453, 6762, 6939, 7018, 9002];

export class World {
  readonly clock: SimClock;
  readonly random: () => number;
  readonly peers: CollectorPeer[];
  roas: Roa[] = [];
  routeObjects: RouteObject[] = [];
  /** TXT records by fully qualified name (lower case, no trailing dot). */
  txt = new Map<string, string[]>();
  /** Names for which the DNS simulator answers SERVFAIL. */
  dnsFailures = new Set<string>();
  /** Announcements by exact prefix (each list in the order made): a look-up stays cheap with thousands of prefixes. */
  private byPrefix = new Map<string, Announcement[]>();
  /** The announced prefixes by family, sorted by first address (for `announcedWithin`); null until asked for again. */
  private sorted: Record<4 | 6, { start: bigint; length: number; prefix: string; order: number }[]> | null = null;
  private nextId = 1;
  /** Stuck ("zombie") routes: `prefix|origin` -> peers that keep the origin's route after it is withdrawn. */
  private zombies = new Map<string, Set<CollectorPeer>>();

  constructor(opts: WorldOptions = {}) {
    this.clock = opts.clock ?? new SimClock();
    this.random = seededRandom(opts.seed ?? 1);
    const collectors = opts.collectors ?? DEFAULT_COLLECTORS;
    const per = opts.peersPerCollector ?? 12;
    const peers: CollectorPeer[] = [];
    collectors.forEach((c, ci) => {
      for (let i = 0; i < per; i++) {
        const n = ci * per + i;
        peers.push({
          rrc: c.rrc,
          location: c.location,
          ip: `198.18.${ci}.${10 + i}`,
          asn: TRANSIT_ASNS[n % TRANSIT_ASNS.length]! + (n >= TRANSIT_ASNS.length ? 60000 + n : 0),
          rank: 0,
        });
      }
    });
    // Spread ranks evenly but shuffled, so visibility climbs peer by peer across collectors.
    const ranks = peers.map((_, i) => (i + 0.5) / peers.length);
    for (let i = ranks.length - 1; i > 0; i--) {
      const j = Math.floor(this.random() * (i + 1));
      [ranks[i], ranks[j]] = [ranks[j]!, ranks[i]!];
    }
    peers.forEach((p, i) => (p.rank = ranks[i]!));
    // IPv6 sessions on the first peers of each collector, ranked among themselves. Their own random stream leaves
    // the world's (ids, delays) as it was before IPv6 had peers of its own.
    const per6 = Math.min(per, opts.ipv6PeersPerCollector ?? 8);
    const v6 = peers.filter((_, n) => n % per < per6);
    const random6 = seededRandom((opts.seed ?? 1) + 6);
    const ranks6 = v6.map((_, i) => (i + 0.5) / v6.length);
    for (let i = ranks6.length - 1; i > 0; i--) {
      const j = Math.floor(random6() * (i + 1));
      [ranks6[i], ranks6[j]] = [ranks6[j]!, ranks6[i]!];
    }
    v6.forEach((p, i) => {
      const n = peers.indexOf(p);
      p.ip6 = `2001:db8:ffff:${Math.floor(n / per)}::${10 + (n % per)}`;
      p.rank6 = ranks6[i]!;
    });
    this.peers = peers;
  }

  /** Total full-table IPv4 peers of the collectors (every peer). */
  get totalPeers(): number {
    return this.peers.length;
  }

  /** Total full-table peers of one address family: every peer for IPv4, those with an IPv6 session for IPv6. */
  totalPeersFor(version: 4 | 6): number {
    return version === 4 ? this.peers.length : this.peers.filter((p) => p.rank6 !== undefined).length;
  }

  /**
   * Starts an announcement after `delayMs` simulated ms; peers pick it up over `rampMs`.
   * An origin already announcing the prefix is left as it is.
   */
  announce(prefix: string, origin: number, opts: { delayMs?: number; rampMs?: number; reach?: number } = {}): Announcement {
    const live = this.liveAnnouncement(prefix, origin);
    if (live) return live;
    const a: Announcement = {
      id: this.nextId++,
      prefix,
      origin,
      start: this.clock.now() + (opts.delayMs ?? 0),
      rampMs: opts.rampMs ?? 60_000,
      reach: opts.reach ?? 0.95,
      end: null,
      decayMs: 120_000,
    };
    const same = this.byPrefix.get(prefix);
    if (same) same.push(a);
    else {
      this.byPrefix.set(prefix, [a]);
      this.sorted = null;
    }
    return a;
  }

  /** Withdraws `origin`'s announcement of `prefix` after `delayMs`; peers lose it over `decayMs`. */
  withdraw(prefix: string, origin: number, opts: { delayMs?: number; decayMs?: number } = {}): Announcement | undefined {
    const live = this.liveAnnouncement(prefix, origin);
    if (!live) return undefined;
    const now = this.clock.now();
    live.end = Math.max(live.start, now + (opts.delayMs ?? 0));
    live.decayMs = opts.decayMs ?? 120_000;
    return live;
  }

  /**
   * Plants stuck ("zombie") routes: `peers` collector peers (those that saw the route first) keep `origin`'s route for
   * `prefix` after it is withdrawn, as routers that missed the withdrawal do. 0 clears them. Returns the peers.
   */
  plantZombie(prefix: string, peers: number, origin: number = CLOUDFLARE_ASN): CollectorPeer[] {
    const key = `${prefix}|${origin}`;
    if (peers <= 0) {
      this.zombies.delete(key);
      return [];
    }
    const v6 = prefix.includes(':');
    const chosen = this.peers
      .filter((p) => (v6 ? p.rank6 : p.rank) !== undefined)
      .sort((a, b) => (v6 ? a.rank6! - b.rank6! : a.rank - b.rank))
      .slice(0, peers);
    this.zombies.set(key, new Set(chosen));
    return chosen;
  }

  /** Sets how often `origin` is prepended on its live announcement of `prefix` (Cloudflare's asn_prepend_count). */
  setPrepend(prefix: string, origin: number, count: number): void {
    const live = this.liveAnnouncement(prefix, origin);
    if (live) live.prepend = Math.max(0, Math.floor(count));
  }

  /** Is `origin` announcing `prefix` (or about to), i.e. an announcement with no end yet. */
  isAnnouncing(prefix: string, origin: number): boolean {
    return this.liveAnnouncement(prefix, origin) !== undefined;
  }

  /** Announcements of exactly `prefix` (every origin), for inspection. */
  announcementsOf(prefix: string): Announcement[] {
    return [...(this.byPrefix.get(prefix) ?? [])];
  }

  /** All prefixes with at least one announcement on record. */
  announcedPrefixes(): string[] {
    return [...this.byPrefix.keys()];
  }

  /**
   * The announced prefixes inside `outer` (itself included), in the order of `announcedPrefixes`: a look-up in a
   * sorted index, so a query stays cheap with thousands of announced prefixes. Empty for text that is no prefix.
   */
  announcedWithin(outer: string): string[] {
    let o;
    try {
      o = parseCidr(outer);
    } catch {
      return [];
    }
    const bits = o.version === 4 ? 32 : 128;
    const lo = firstAddress(o.version, o.network);
    const hi = lo + (1n << BigInt(bits - o.length)) - 1n;
    const list = this.sortedIndex()[o.version];
    let a = 0;
    let b = list.length;
    while (a < b) {
      const m = (a + b) >> 1;
      if (list[m]!.start < lo) a = m + 1;
      else b = m;
    }
    const hits: { prefix: string; order: number }[] = [];
    for (let i = a; i < list.length && list[i]!.start <= hi; i++) if (list[i]!.length >= o.length) hits.push(list[i]!);
    return hits.sort((x, y) => x.order - y.order).map((h) => h.prefix);
  }

  private sortedIndex(): Record<4 | 6, { start: bigint; length: number; prefix: string; order: number }[]> {
    if (!this.sorted) {
      const sorted: Record<4 | 6, { start: bigint; length: number; prefix: string; order: number }[]> = { 4: [], 6: [] };
      let order = 0;
      for (const prefix of this.byPrefix.keys()) {
        order++;
        try {
          const c = parseCidr(prefix);
          sorted[c.version].push({ start: firstAddress(c.version, c.network), length: c.length, prefix, order });
        } catch {
          // an announcement of text that is no prefix lies inside nothing
        }
      }
      for (const list of Object.values(sorted)) list.sort((x, y) => (x.start < y.start ? -1 : x.start > y.start ? 1 : x.length - y.length));
      this.sorted = sorted;
    }
    return this.sorted;
  }

  /** What the collector peers see for exactly `prefix` at simulated time `at` (IPv6 routes only over IPv6 sessions). */
  visibleRoutes(prefix: string, at: number = this.clock.now()): VisibleRoute[] {
    const out: VisibleRoute[] = [];
    const v6 = prefix.includes(':');
    const zombies: VisibleRoute[] = [];
    for (const a of this.byPrefix.get(prefix) ?? []) {
      const share = this.shareAt(a, at);
      const stuck = a.end !== null && at >= a.end ? this.zombies.get(`${prefix}|${a.origin}`) : undefined;
      if (share <= 0 && !stuck) continue;
      for (const peer of this.peers) {
        const rank = v6 ? peer.rank6 : peer.rank;
        if (rank === undefined) continue;
        const transit = TRANSIT_ASNS[(peer.asn + a.origin) % TRANSIT_ASNS.length]!;
        const tail = Array.from({ length: 1 + (a.prepend ?? 0) }, () => a.origin);
        const asPath = peer.asn === transit ? [peer.asn, ...tail] : [peer.asn, transit, ...tail];
        const route = { peer, prefix, origin: a.origin, asPath, since: a.start + rank * a.rampMs };
        if (rank < share) out.push(route);
        // A zombie peer keeps the route it had when the withdrawal began (unless it has a live one of that origin).
        else if (stuck?.has(peer) && rank < this.upShareAt(a, a.end!)) zombies.push(route);
      }
    }
    for (const z of zombies) if (!out.some((r) => r.peer === z.peer && r.origin === z.origin)) out.push(z);
    return out;
  }

  /** The share of peers that had picked the announcement up by `at`, ignoring its withdrawal. */
  private upShareAt(a: Announcement, at: number): number {
    if (at < a.start) return 0;
    return a.rampMs <= 0 ? a.reach : Math.min(1, (at - a.start) / a.rampMs) * a.reach;
  }

  private shareAt(a: Announcement, at: number): number {
    if (at < a.start) return 0;
    const up = this.upShareAt(a, at);
    if (a.end === null || at < a.end) return up;
    const down = a.decayMs <= 0 ? 0 : 1 - Math.min(1, (at - a.end) / a.decayMs);
    return Math.min(up, a.reach * down);
  }

  private liveAnnouncement(prefix: string, origin: number): Announcement | undefined {
    return this.byPrefix.get(prefix)?.find((a) => a.origin === origin && a.end === null);
  }

  // -- registry data helpers --

  addRoa(roa: Roa): void {
    this.roas.push(roa);
  }

  addRouteObject(obj: RouteObject): void {
    this.routeObjects.push(obj);
  }

  setTxt(name: string, values: string[]): void {
    this.txt.set(name.toLowerCase().replace(/\.$/, ''), values);
  }
}

function firstAddress(version: 4 | 6, network: string): bigint {
  return version === 4 ? new Address4(network).bigInt() : new Address6(network).bigInt();
}
