import type { Logger } from 'pino';
import WebSocket from 'ws';
import { z } from 'zod';
import { parseCidr } from '../domain/cidr.js';
import { parseAsn } from './ripestat.js';

/**
 * RIPE RIS Live (https://ris-live.ripe.net/manual/): one WebSocket for every prefix we watch. Each prefix is
 * subscribed with `moreSpecific: true` (a /25 of our /24 is news); the server answers `ris_subscribe_ok`
 * (`acknowledge`), then one `ris_message` per BGP UPDATE a route collector peer sends. Nothing describes the routes
 * that were there before we subscribed: the caller bootstraps from a poll.
 *
 * Robust by construction: every frame is parsed with zod and one that does not fit is logged and skipped; a feed
 * that sends nothing (no message and no pong) for `deadAfterMs` is closed and reconnected; every reconnect waits an
 * exponential backoff with jitter. `onState` says when the stream is up and when it is down (and why).
 */

export const RIS_LIVE_DEFAULT_URL = 'wss://ris-live.ripe.net/v1/ws/?client=byoip-bot';

/** A path hop: an ASN, or an AS_SET written as a list. */
const hop = z.union([z.number(), z.string(), z.array(z.union([z.number(), z.string()]))]);

export const risMessageData = z.object({
  timestamp: z.number(),
  peer: z.string().min(1),
  peer_asn: z.union([z.string(), z.number()]),
  id: z.string().optional(),
  host: z.string().min(1),
  type: z.string(),
  path: z.array(hop).optional(),
  announcements: z.array(z.object({ next_hop: z.string().optional(), prefixes: z.array(z.string()) })).optional(),
  withdrawals: z.array(z.string()).optional(),
});

export const risServerMessage = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ris_message'), data: risMessageData }),
  z.object({ type: z.literal('ris_error'), data: z.object({ message: z.string() }).passthrough() }),
  z.object({ type: z.literal('ris_subscribe_ok'), data: z.unknown().optional() }),
  z.object({ type: z.literal('pong'), data: z.unknown().optional() }),
  z.object({ type: z.literal('ris_rrc_list'), data: z.unknown().optional() }),
]);

/** One route change seen by one collector peer. */
export interface RisUpdate {
  /** `rrc00` (the `.ripe.net` suffix of newer hosts dropped). */
  collector: string;
  peer: string;
  peerAsn: number | null;
  /** Seconds since the epoch, as RIS Live writes it. */
  timestamp: number;
  /** Canonical CIDRs announced with `path`. */
  announced: string[];
  /** Canonical CIDRs withdrawn. */
  withdrawn: string[];
  /** ASNs, first the peer, last the origin; an AS_SET hop is null. */
  path: (number | null)[];
  /** The last hop, null when it is an AS_SET or missing. */
  origin: number | null;
}

/** What one text frame turned out to be. */
export type ParsedFrame =
  | { kind: 'update'; update: RisUpdate }
  | { kind: 'pong' }
  | { kind: 'subscribed' }
  | { kind: 'error'; message: string }
  | { kind: 'other'; type: string }
  | { kind: 'garbage'; why: string };

function canonical(cidr: string): string | null {
  try {
    return parseCidr(cidr).text;
  } catch {
    return null;
  }
}

/** Parses one frame; never throws. Prefixes that are not CIDRs are dropped from the update (and said in `garbage` when nothing is left). */
export function parseFrame(text: string): ParsedFrame {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { kind: 'garbage', why: `not JSON: ${JSON.stringify(text.slice(0, 60))}` };
  }
  const r = risServerMessage.safeParse(json);
  if (!r.success) {
    const type = (json as { type?: unknown } | null)?.type;
    if (typeof type === 'string' && !['ris_message', 'ris_error', 'ris_subscribe_ok', 'pong', 'ris_rrc_list'].includes(type)) return { kind: 'other', type };
    const issue = r.error.issues[0];
    return { kind: 'garbage', why: issue ? `${issue.path.join('.') || 'message'}: ${issue.message}` : 'unexpected shape' };
  }
  const m = r.data;
  switch (m.type) {
    case 'pong':
      return { kind: 'pong' };
    case 'ris_subscribe_ok':
      return { kind: 'subscribed' };
    case 'ris_error':
      return { kind: 'error', message: m.data.message };
    case 'ris_rrc_list':
      return { kind: 'other', type: m.type };
    case 'ris_message': {
      const d = m.data;
      if (d.type !== 'UPDATE') return { kind: 'other', type: `ris_message/${d.type}` };
      const path = (d.path ?? []).map((h) => (Array.isArray(h) ? null : (parseAsn(h) ?? null)));
      const announced = (d.announcements ?? []).flatMap((a) => a.prefixes.map(canonical)).filter((p): p is string => p !== null);
      const withdrawn = (d.withdrawals ?? []).map(canonical).filter((p): p is string => p !== null);
      if (announced.length === 0 && withdrawn.length === 0) return { kind: 'garbage', why: 'an UPDATE with no readable prefix' };
      return {
        kind: 'update',
        update: {
          collector: d.host.toLowerCase().replace(/\.ripe\.net$/, ''),
          peer: d.peer,
          peerAsn: parseAsn(d.peer_asn) ?? null,
          timestamp: d.timestamp,
          announced,
          withdrawn,
          path,
          origin: path.length ? (path[path.length - 1] ?? null) : null,
        },
      };
    }
  }
}

/** Exponential backoff with jitter: `min(max, base * 2^attempt)`, then a random share of it in [½, 1]. */
export function backoffDelay(attempt: number, opts: { baseMs: number; maxMs: number }, random: () => number = Math.random): number {
  const ceiling = Math.min(opts.maxMs, opts.baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + (ceiling / 2) * random());
}

export type StreamState = { up: true } | { up: false; why: string };

export interface RisLiveOptions {
  url: string;
  logger: Logger;
  onUpdate(update: RisUpdate): void;
  onState?(state: StreamState): void;
  /** A ping every so often (default 5 s); the server's pong keeps a quiet feed alive. */
  pingIntervalMs?: number;
  /** No message and no pong for this long: the feed is dead, reconnect (default 15 s). */
  deadAfterMs?: number;
  backoff?: { baseMs: number; maxMs: number };
  random?: () => number;
}

/** The RIS Live stream for a changing set of prefixes; `start()` once, `setPrefixes()` whenever the set changes. */
export class RisLiveClient {
  private ws: WebSocket | null = null;
  private prefixes = new Set<string>();
  private subscribed = new Set<string>();
  private attempt = 0;
  private stopped = true;
  private up = false;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private pingTimer: NodeJS.Timeout | null = null;
  private deadTimer: NodeJS.Timeout | null = null;
  private garbageLogged = 0;
  /** Why the last connection was lost (the log says each one). */
  lastDownWhy: string | null = null;
  /** Counters for tests, metrics and the bench. */
  readonly stats = { connects: 0, reconnects: 0, updates: 0, garbage: 0, errors: 0, deadFeeds: 0 };

  constructor(private readonly opts: RisLiveOptions) {}

  get isUp(): boolean {
    return this.up;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    this.clearTimers();
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.removeAllListeners();
      ws.on('error', () => undefined);
      ws.terminate();
    }
    this.setUp(false, 'stopped');
  }

  /** The prefixes to follow (each with its more-specifics); subscribes the new ones, unsubscribes the gone ones. */
  setPrefixes(prefixes: Iterable<string>): void {
    this.prefixes = new Set([...prefixes].map((p) => canonical(p)).filter((p): p is string => p !== null));
    if (this.ws?.readyState !== WebSocket.OPEN) return;
    for (const p of this.prefixes) if (!this.subscribed.has(p)) this.subscribe(p);
    for (const p of [...this.subscribed]) {
      if (this.prefixes.has(p)) continue;
      this.send({ type: 'ris_unsubscribe', data: subscription(p) });
      this.subscribed.delete(p);
    }
  }

  private subscribe(prefix: string): void {
    this.send({ type: 'ris_subscribe', data: { ...subscription(prefix), socketOptions: { acknowledge: true } } });
    this.subscribed.add(prefix);
  }

  private send(msg: unknown): void {
    try {
      this.ws?.send(JSON.stringify(msg));
    } catch (err) {
      this.opts.logger.debug({ err }, 'RIS Live send failed');
    }
  }

  private connect(): void {
    if (this.stopped) return;
    this.stats.connects++;
    const ws = new WebSocket(this.opts.url, { handshakeTimeout: this.opts.deadAfterMs ?? 15_000 });
    this.ws = ws;
    this.subscribed.clear();
    ws.on('open', () => {
      if (this.ws !== ws) return;
      this.opts.logger.info({ url: redact(this.opts.url), prefixes: this.prefixes.size }, 'RIS Live stream connected');
      for (const p of this.prefixes) this.subscribe(p);
      this.armDeadTimer();
      const every = this.opts.pingIntervalMs ?? 5000;
      this.pingTimer = setInterval(() => this.send({ type: 'ping' }), every);
      this.pingTimer.unref();
      // Up once the server answers (a subscribe_ok, a pong or a message): an accepted socket that says nothing is not a feed.
      this.send({ type: 'ping' });
    });
    ws.on('message', (data, isBinary) => {
      if (this.ws !== ws) return;
      if (isBinary) return this.garbage('a binary frame');
      const frame = parseFrame(data.toString());
      if (frame.kind === 'garbage') return this.garbage(frame.why);
      this.armDeadTimer();
      this.attempt = 0;
      if (!this.up) this.setUp(true);
      if (frame.kind === 'update') {
        this.stats.updates++;
        try {
          this.opts.onUpdate(frame.update);
        } catch (err) {
          this.opts.logger.error({ err }, 'RIS Live update handler failed');
        }
      } else if (frame.kind === 'error') {
        this.stats.errors++;
        this.opts.logger.warn({ message: frame.message.slice(0, 300) }, 'RIS Live answered ris_error');
      }
    });
    ws.on('error', (err) => {
      if (this.ws !== ws) return;
      this.opts.logger.warn({ err: { message: err.message } }, 'RIS Live stream error');
    });
    ws.on('close', (code, reason) => {
      if (this.ws !== ws) return;
      this.lost(`closed (code ${code}${reason.length ? `, ${reason.toString().slice(0, 100)}` : ''})`);
    });
    ws.on('unexpected-response', (_req, res) => {
      if (this.ws !== ws) return;
      res.resume();
      this.lost(`refused the connection (HTTP ${res.statusCode ?? '?'})`);
    });
  }

  private garbage(why: string): void {
    this.stats.garbage++;
    // Said, but not once per frame of a flood: the first ten, then every hundredth.
    if (this.garbageLogged < 10 || this.stats.garbage % 100 === 0) {
      this.garbageLogged++;
      this.opts.logger.warn({ why, garbage: this.stats.garbage }, 'RIS Live sent a message we could not read; skipped');
    }
  }

  private armDeadTimer(): void {
    if (this.deadTimer) clearTimeout(this.deadTimer);
    const ms = this.opts.deadAfterMs ?? 15_000;
    this.deadTimer = setTimeout(() => {
      this.stats.deadFeeds++;
      this.lost(`sent nothing (no message, no pong) for ${ms} ms`);
    }, ms);
    this.deadTimer.unref();
  }

  private clearTimers(): void {
    if (this.pingTimer) clearInterval(this.pingTimer);
    if (this.deadTimer) clearTimeout(this.deadTimer);
    this.pingTimer = null;
    this.deadTimer = null;
  }

  /** The connection is gone or useless: drop it, say so, and come back after the backoff. */
  private lost(why: string): void {
    this.clearTimers();
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.removeAllListeners();
      ws.on('error', () => undefined);
      ws.terminate();
    }
    if (this.stopped) return;
    this.lastDownWhy = why;
    this.setUp(false, why);
    const delay = backoffDelay(this.attempt++, this.opts.backoff ?? { baseMs: 1000, maxMs: 60_000 }, this.opts.random);
    this.stats.reconnects++;
    this.opts.logger.warn({ why, retryInMs: delay, attempt: this.attempt }, 'RIS Live stream down; reconnecting');
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.connect();
    }, delay);
    this.reconnectTimer.unref();
  }

  private setUp(up: boolean, why = ''): void {
    if (this.up === up) return;
    this.up = up;
    this.opts.onState?.(up ? { up: true } : { up: false, why });
  }
}

function subscription(prefix: string): Record<string, unknown> {
  return { prefix, moreSpecific: true, lessSpecific: false, type: 'UPDATE' };
}

/** The URL without its query (the client id is harmless, but a proxy token might not be). */
function redact(url: string): string {
  return url.replace(/\?.*$/, '');
}
