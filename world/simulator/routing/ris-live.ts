import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { cidrContains, parseCidr } from '../../../src/domain/cidr.js';
import type { CollectorPeer, World } from '../world.js';

/**
 * RIPE RIS Live (https://ris-live.ripe.net/manual/) over the shared World: a WebSocket at `/v1/ws/?client=...`.
 *
 * Client messages: `ris_subscribe` (`data`: `prefix` (one CIDR or a list), `moreSpecific` (default true),
 * `lessSpecific` (default false), `host` (`rrc00`), `peer`, `type` (`UPDATE`...), `path` (an ASN that must be on the
 * path), `socketOptions: { acknowledge, includeRaw }`), `ris_unsubscribe` (the same `data`), `ping`,
 * `request_rrc_list`. Server messages: `ris_message`, `ris_error` (`{ message }`), `ris_subscribe_ok` (when
 * `acknowledge` was asked for), `ris_rrc_list`, `pong`.
 *
 * Every change the world shows to a collector peer (an announcement reaching it as the route ramps up over simulated
 * time, the route lost as a withdrawal decays, a new origin, a more-specific) becomes one `ris_message` of type
 * `UPDATE` from that peer, as it happens: the world is diffed every `tickMs` real milliseconds. Like the real
 * service, nothing is sent for routes that were already there when the client subscribed.
 *
 * Faults for tests: `sendGarbage()` (frames that are not JSON, or JSON of the wrong shape), `stall(true)` (no
 * messages and no pongs, connections stay open), `closeAll()` (a close handshake), `dropAll()` (no handshake),
 * `refuse(true)` (new connections are answered HTTP 503).
 */
export interface RisLiveSimulator {
  /** `ws://127.0.0.1:<port>/v1/ws/?client=byoip-bot` */
  url: string;
  port: number;
  /** Connections accepted so far, and open now. */
  stats: { accepted: number; open: number; refused: number; subscriptions: number; messagesSent: number };
  sendGarbage(kind?: 'text' | 'shape'): void;
  stall(on: boolean): void;
  closeAll(code?: number): void;
  dropAll(): void;
  refuse(on: boolean): void;
  /** Runs one diff of the world now (tests that advance the clock by hand). */
  tick(): void;
  /** Told of each ris_message as it is sent to the first subscriber (benchmarks time the path from here). */
  onMessage: ((message: { type: 'ris_message'; data: Record<string, unknown> }) => void) | null;
  close(): Promise<void>;
}

interface Subscription {
  prefixes: string[] | null;
  moreSpecific: boolean;
  lessSpecific: boolean;
  host: string | null;
  peer: string | null;
  type: string | null;
  path: number | null;
  raw: Record<string, unknown>;
}

interface Client {
  ws: WebSocket;
  subs: Subscription[];
  acknowledge: boolean;
}

export interface RouteState {
  origin: number;
  path: number[];
}

/** One change seen by one peer. */
interface PeerChange {
  peer: CollectorPeer;
  prefix: string;
  /** Null for a withdrawal. */
  route: RouteState | null;
  at: number;
}

export interface RisLiveSimulatorOptions {
  world: World;
  port?: number;
  /** Real ms between two diffs of the world (default 50). */
  tickMs?: number;
}

const HOST = '127.0.0.1';

export async function startRisLiveSimulator(opts: RisLiveSimulatorOptions): Promise<RisLiveSimulator> {
  const { world } = opts;
  const clients = new Set<Client>();
  const stats = { accepted: 0, open: 0, refused: 0, subscriptions: 0, messagesSent: 0 };
  let stalled = false;
  let refusing = false;
  /**
   * What every peer saw at the last diff: `<peer ip>|<prefix>` -> route. Null while no client is connected (no diff
   * is worth its cost then, with thousands of prefixes); the first client to connect takes a new one.
   */
  let seen: Map<string, RouteState> | null = null;

  const server = http.createServer((_req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain' });
    res.end('RIS Live speaks WebSocket at /v1/ws/\n');
  });
  server.keepAliveTimeout = 65_000;
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://sim.local');
    if (!/^\/v1\/ws\/?$/.test(url.pathname)) {
      socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\n\r\n');
      return;
    }
    if (refusing) {
      stats.refused++;
      socket.end('HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => accept(ws));
  });

  const send = (c: Client, msg: unknown): void => {
    if (stalled || c.ws.readyState !== c.ws.OPEN) return;
    stats.messagesSent++;
    c.ws.send(typeof msg === 'string' ? msg : JSON.stringify(msg));
  };
  const error = (c: Client, message: string): void => send(c, { type: 'ris_error', data: { message } });

  function accept(ws: WebSocket): void {
    const c: Client = { ws, subs: [], acknowledge: false };
    seen ??= snapshot(world);
    clients.add(c);
    stats.accepted++;
    stats.open++;
    ws.on('close', () => {
      if (clients.delete(c)) stats.open--;
    });
    ws.on('error', () => undefined);
    ws.on('message', (data, isBinary) => {
      if (stalled) return;
      if (isBinary) return error(c, 'Binary messages are not supported');
      let msg: unknown;
      try {
        msg = JSON.parse(data.toString());
      } catch {
        return error(c, 'Unable to parse message as JSON');
      }
      if (!msg || typeof msg !== 'object' || typeof (msg as { type?: unknown }).type !== 'string') return error(c, "Message must be a JSON object with a 'type'");
      const { type, data: payload } = msg as { type: string; data?: unknown };
      switch (type) {
        case 'ping':
          return send(c, { type: 'pong', data: null });
        case 'request_rrc_list':
          return send(c, { type: 'ris_rrc_list', data: [...new Set(world.peers.map((p) => p.rrc.toLowerCase()))] });
        case 'ris_subscribe': {
          const parsed = parseSubscription(payload);
          if ('error' in parsed) return error(c, parsed.error);
          c.subs.push(parsed.sub);
          stats.subscriptions++;
          const so = (payload as { socketOptions?: { acknowledge?: unknown } }).socketOptions;
          if (so && typeof so === 'object' && so.acknowledge === true) c.acknowledge = true;
          if (c.acknowledge) send(c, { type: 'ris_subscribe_ok', data: { subscription: parsed.sub.raw, socketOptions: { acknowledge: true, includeRaw: false } } });
          return;
        }
        case 'ris_unsubscribe': {
          const parsed = parseSubscription(payload);
          if ('error' in parsed) return error(c, parsed.error);
          const key = JSON.stringify(parsed.sub.raw);
          c.subs = c.subs.filter((s) => JSON.stringify(s.raw) !== key);
          return;
        }
        default:
          return error(c, `Unknown message type '${type}'`);
      }
    });
  }

  const tick = (): void => {
    if (clients.size === 0) {
      // Nobody to tell: what changes now reaches no one, as on the real service.
      seen = null;
      return;
    }
    const now = world.clock.now();
    const next = snapshot(world, now);
    seen ??= next;
    const changes: PeerChange[] = [];
    for (const [key, route] of next) {
      const before = seen.get(key);
      if (!before || before.origin !== route.origin || before.path.join(' ') !== route.path.join(' ')) changes.push(change(world, key, route, now));
    }
    for (const key of seen.keys()) if (!next.has(key)) changes.push(change(world, key, null, now));
    seen = next;
    if (stalled || changes.length === 0) return;
    for (const ch of changes) {
      const msg = risMessage(ch);
      let told = false;
      for (const c of clients) {
        if (!c.subs.some((s) => matches(s, ch))) continue;
        if (!told) sim.onMessage?.(msg);
        told = true;
        send(c, msg);
      }
    }
  };
  const timer = setInterval(tick, opts.tickMs ?? 50);
  timer.unref();

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, HOST, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const sim: RisLiveSimulator = {
    onMessage: null,
    url: `ws://${HOST}:${port}/v1/ws/?client=byoip-bot`,
    port,
    stats,
    sendGarbage(kind = 'text') {
      for (const c of clients) {
        if (c.ws.readyState !== c.ws.OPEN) continue;
        c.ws.send(kind === 'text' ? '<html>502 Bad Gateway</html>' : JSON.stringify({ type: 'ris_message', data: { peer: 42, announcements: 'nope' } }));
      }
    },
    stall(on) {
      stalled = on;
    },
    closeAll(code = 1011) {
      for (const c of clients) c.ws.close(code, 'simulated close');
    },
    dropAll() {
      for (const c of clients) c.ws.terminate();
    },
    refuse(on) {
      refusing = on;
    },
    tick,
    close: async () => {
      clearInterval(timer);
      for (const c of clients) c.ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return sim;
}

/**
 * Every route every peer sees now, by `<peer ip>|<prefix>`: one best path per peer and prefix, as a RIB holds it
 * (RIS Live and RIPEstat bgp-state both show these), of every announced prefix or only of `prefixes`.
 */
export function snapshot(world: World, at = world.clock.now(), prefixes = world.announcedPrefixes()): Map<string, RouteState> {
  const out = new Map<string, RouteState>();
  for (const prefix of prefixes) {
    for (const r of world.visibleRoutes(prefix, at)) {
      const key = `${r.peer.ip}|${prefix}`;
      // Two origins of one prefix at one peer: its best path is the shorter one; between equals, a fixed coin per peer
      // and origin (so an exact-prefix hijack wins at some of the peers it reaches, as it does in real life).
      const had = out.get(key);
      if (!had || preference(r.peer.ip, r.origin, r.asPath.length) < preference(r.peer.ip, had.origin, had.path.length)) out.set(key, { origin: r.origin, path: r.asPath });
    }
  }
  return out;
}

function preference(peerIp: string, origin: number, pathLength: number): number {
  let h = origin;
  for (const ch of peerIp) h = (Math.imul(h, 31) + ch.charCodeAt(0)) >>> 0;
  return pathLength + (h % 1000) / 1000;
}

function change(world: World, key: string, route: RouteState | null, at: number): PeerChange {
  const [ip, prefix] = key.split('|') as [string, string];
  const peer = world.peers.find((p) => p.ip === ip)!;
  return { peer, prefix, route, at };
}

function risMessage(ch: PeerChange): { type: 'ris_message'; data: Record<string, unknown> } {
  const v6 = ch.prefix.includes(':');
  const session = v6 ? (ch.peer.ip6 ?? ch.peer.ip) : ch.peer.ip;
  const ts = Math.round(ch.at) / 1000;
  const data: Record<string, unknown> = {
    timestamp: ts,
    peer: session,
    peer_asn: String(ch.peer.asn),
    id: `${ts.toFixed(2)}-${session}-${Math.floor(Math.random() * 1e6).toString(16)}`,
    host: ch.peer.rrc.toLowerCase(),
    type: 'UPDATE',
  };
  if (ch.route) {
    data.path = ch.route.path;
    data.community = [[ch.peer.asn, 100]];
    data.origin = 'IGP';
    data.announcements = [{ next_hop: session, prefixes: [ch.prefix] }];
    data.withdrawals = [];
  } else {
    data.path = [];
    data.community = [];
    data.announcements = [];
    data.withdrawals = [ch.prefix];
  }
  return { type: 'ris_message', data };
}

function parseSubscription(payload: unknown): { sub: Subscription } | { error: string } {
  if (payload === undefined || payload === null) payload = {};
  if (typeof payload !== 'object' || Array.isArray(payload)) return { error: "ris_subscribe 'data' must be an object" };
  const d = payload as Record<string, unknown>;
  let prefixes: string[] | null = null;
  if (d.prefix !== undefined && d.prefix !== null) {
    const list = Array.isArray(d.prefix) ? d.prefix : [d.prefix];
    prefixes = [];
    for (const p of list) {
      if (typeof p !== 'string') return { error: `Invalid prefix: ${JSON.stringify(p)}` };
      try {
        prefixes.push(parseCidr(p).text);
      } catch {
        return { error: `Invalid prefix: ${p}` };
      }
    }
  }
  for (const flag of ['moreSpecific', 'lessSpecific'] as const) {
    if (d[flag] !== undefined && typeof d[flag] !== 'boolean') return { error: `'${flag}' must be a boolean` };
  }
  const type = d.type === undefined || d.type === null ? null : String(d.type);
  if (type !== null && !['UPDATE', 'OPEN', 'NOTIFICATION', 'KEEPALIVE', 'RIS_PEER_STATE'].includes(type)) return { error: `Invalid type: ${type}` };
  let path: number | null = null;
  if (d.path !== undefined && d.path !== null) {
    path = Number(String(d.path).replace(/^AS/i, ''));
    if (!Number.isInteger(path)) return { error: `Unsupported path filter: ${JSON.stringify(d.path)} (this simulator accepts one ASN)` };
  }
  const raw: Record<string, unknown> = {};
  for (const k of ['host', 'type', 'require', 'peer', 'path', 'prefix', 'moreSpecific', 'lessSpecific']) if (d[k] !== undefined) raw[k] = d[k];
  return {
    sub: {
      prefixes,
      moreSpecific: d.moreSpecific !== false,
      lessSpecific: d.lessSpecific === true,
      host: typeof d.host === 'string' ? d.host.toLowerCase().replace(/\.ripe\.net$/, '') : null,
      peer: typeof d.peer === 'string' ? d.peer : null,
      type,
      path,
      raw,
    },
  };
}

function safeContains(outer: string, inner: string): boolean {
  try {
    return cidrContains(outer, inner);
  } catch {
    return false;
  }
}

function matches(s: Subscription, ch: PeerChange): boolean {
  if (s.type !== null && s.type !== 'UPDATE') return false;
  if (s.host !== null && s.host !== ch.peer.rrc.toLowerCase()) return false;
  if (s.peer !== null && s.peer !== ch.peer.ip && s.peer !== ch.peer.ip6) return false;
  if (s.path !== null && !(ch.route?.path ?? []).includes(s.path)) return false;
  if (s.prefixes === null) return true;
  return s.prefixes.some((p) => p === ch.prefix || (s.moreSpecific && safeContains(p, ch.prefix)) || (s.lessSpecific && safeContains(ch.prefix, p)));
}
