import { createHash, randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { APP_ID, SlackPayloads, type ButtonTarget, type CommandResult, type SendResult, type ViewValues } from './sender.js';
import type { Json, SimMethodResult, SlackSimulator } from './types.js';

/**
 * Slack's Socket Mode, as @slack/socket-mode (and so Bolt's SocketModeReceiver) sees it:
 *
 * - `apps.connections.open` on the Web API, called with the app-level token (`xapp-...`) as Bearer, answers
 *   `{ ok: true, url: 'ws://127.0.0.1:<port>/link/?ticket=...&app_id=...' }` (`not_authed`, `invalid_auth`,
 *   `not_allowed_token_type` otherwise). A ticket opens one connection and expires after `ticketTtlMs`.
 * - A WebSocket server (RFC 6455, written here on node:http because `ws` is not installed) that greets each
 *   connection with `{ type: 'hello', num_connections, debug_info, connection_info: { app_id } }`, answers
 *   pings with pongs, pings the client now and then, and allows at most 10 connections (the 11th is told
 *   `disconnect` / `too_many_websockets`).
 * - Envelopes `{ envelope_id, type, payload, accepts_response_payload }` (events_api ones also carry
 *   `retry_attempt` / `retry_reason`), spread round-robin over the open connections, each waiting for the
 *   client's `{ envelope_id, payload? }` ack. An envelope that is not acked within `ackTimeoutMs` (Slack: 3 s)
 *   is sent again (`retry_attempt` 1.., `retry_reason: 'timeout'`) as often as `retries` allows for its type:
 *   Slack retries Events API deliveries 3 times, and shows the user an error for an unacknowledged command or
 *   interaction instead of resending it. While no connection is open, envelopes wait (up to `queueTimeoutMs`)
 *   and go out on the next connection.
 * - `requestRefresh()` sends `{ type: 'disconnect', reason: 'refresh_requested' }` (or `warning`): the client
 *   closes that connection and opens a new one, as it does every few hours with Slack. `dropConnections()` cuts
 *   them without a close handshake.
 */

export type EnvelopeType = 'slash_commands' | 'interactive' | 'events_api';

export interface SocketModeSimOptions {
  /** The app-level token apps.connections.open accepts (must start with `xapp-`). */
  appToken: string;
  appId?: string;
  port?: number;
  /** How long Slack waits for an ack before giving up on (or retrying) a delivery. Default 3000. */
  ackTimeoutMs?: number;
  /** Retries of an unacknowledged envelope, by type. Default `{ events_api: 3, slash_commands: 0, interactive: 0 }`. */
  retries?: Partial<Record<EnvelopeType, number>>;
  /** Wait before retry n (index n-1; the last value repeats). Default [0, 60_000, 300_000] (Slack: now, +1 min, +5 min). */
  retryDelaysMs?: number[];
  /** How long an envelope waits for a connection when none is open. Default 30_000. */
  queueTimeoutMs?: number;
  /** Interval of the server's pings; 0 = none. Default 10_000. */
  pingIntervalMs?: number;
  /** Lifetime of a ticket from apps.connections.open. Default 30_000. */
  ticketTtlMs?: number;
  /** Open connections allowed per app (Slack: 10). */
  maxConnections?: number;
}

export interface SocketConnectionInfo {
  id: number;
  openedAt: number;
  closedAt?: number;
  /** The close code the client sent (1005 when it sent none, 1006 when the TCP connection just went away). */
  closeCode?: number;
  /** Set after the server sent `disconnect` on it; no new envelopes go there. */
  disconnectReason?: string;
  open: boolean;
}

/** One delivery of an envelope over a connection. */
export interface SocketDelivery {
  envelopeId: string;
  type: EnvelopeType;
  attempt: number;
  retryReason?: string;
  connectionId: number;
  at: number;
  /** The envelope as it went over the wire. */
  message: Json;
}

export interface SocketAck {
  envelopeId: string;
  /** The envelope's type; undefined for an ack of an envelope the simulator never sent. */
  type?: EnvelopeType;
  /** The ack's payload (what Bolt's `ack(...)` was given; `{}` for a bare ack). */
  payload?: Json;
  connectionId: number;
  at: number;
  /** Milliseconds since the envelope was first sent. */
  latencyMs?: number;
  /** The ack came after Slack had given up on (or retried) the delivery, or was a second ack. */
  late: boolean;
}

export interface EnvelopeOutcome {
  envelopeId: string;
  acked: boolean;
  /** The ack's payload, when acked. */
  payload?: Json;
  /** Deliveries made (1 + retries). */
  attempts: number;
  elapsedMs: number;
  /** Why it was not acked. */
  error?: 'operation_timeout' | 'no_connection' | 'closed';
}

export interface SocketModeSimulator {
  readonly appToken: string;
  readonly appId: string;
  /** The WebSocket server's root, e.g. `ws://127.0.0.1:4011`. */
  readonly url: string;
  readonly port: number;
  readonly connections: SocketConnectionInfo[];
  readonly deliveries: SocketDelivery[];
  readonly acks: SocketAck[];
  /** Open connections right now. */
  openConnections(): number;
  /** Hello messages sent so far (one per accepted connection). */
  readonly hellos: number;
  /** Sends an envelope and resolves once the client acked it or Slack gave up. */
  deliver(type: EnvelopeType, payload: Json, opts?: { acceptsResponsePayload?: boolean }): Promise<EnvelopeOutcome>;
  /** Sends `{ type: 'disconnect', reason }` on every open connection; returns how many got it. */
  requestRefresh(reason?: 'refresh_requested' | 'warning'): number;
  /** Drops every connection without a close handshake (a network failure). */
  dropConnections(): void;
  /** Resolves when `hellos` reaches `count` (that many connections were accepted since start). */
  waitForHellos(count: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const MAX_PAYLOAD = 16 * 1024 * 1024;
const DEFAULT_RETRIES: Record<EnvelopeType, number> = { events_api: 3, slash_commands: 0, interactive: 0 };

function isObj(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// ---------- a minimal RFC 6455 server connection ----------

interface WsHandlers {
  text(data: string): void;
  close(code: number): void;
}

/** The server side of one WebSocket: unmasked frames out, masked frames in, ping/pong, close handshake. */
class WsConnection {
  private buf: Buffer = Buffer.alloc(0);
  private fragments: Buffer[] = [];
  private fragmentOpcode = 0;
  private closeSent = false;
  private closed = false;
  private closeTimer?: NodeJS.Timeout;
  private closeCode = 1006;

  constructor(
    private readonly socket: Duplex,
    private readonly handlers: WsHandlers,
  ) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => socket.destroy());
    // upgraded sockets from node:http are half-open capable: a client that just goes away only sends FIN
    socket.on('end', () => {
      this.closeSent = true;
      socket.end();
    });
    socket.on('close', () => {
      if (this.closed) return;
      this.closed = true;
      clearTimeout(this.closeTimer);
      this.handlers.close(this.closeCode);
    });
  }

  get isOpen(): boolean {
    return !this.closed && !this.closeSent;
  }

  sendText(text: string): void {
    this.frame(0x1, Buffer.from(text, 'utf8'));
  }

  ping(data = Buffer.alloc(0)): void {
    this.frame(0x9, data);
  }

  /** Starts the close handshake; the socket is destroyed if the client does not answer within 1 s. */
  close(code = 1000): void {
    if (this.closeSent || this.closed) return;
    const payload = Buffer.alloc(2);
    payload.writeUInt16BE(code, 0);
    this.frame(0x8, payload);
    this.closeSent = true;
    this.closeTimer = setTimeout(() => this.socket.destroy(), 1000);
  }

  /** Drops the TCP connection without a close handshake; nothing more is sent on it. */
  terminate(): void {
    this.closeSent = true;
    this.socket.destroy();
  }

  private frame(opcode: number, payload: Buffer): void {
    if (this.closed || this.closeSent || this.socket.destroyed) return;
    const len = payload.length;
    let header: Buffer;
    if (len < 126) {
      header = Buffer.from([0x80 | opcode, len]);
    } else if (len < 65536) {
      header = Buffer.alloc(4);
      header[0] = 0x80 | opcode;
      header[1] = 126;
      header.writeUInt16BE(len, 2);
    } else {
      header = Buffer.alloc(10);
      header[0] = 0x80 | opcode;
      header[1] = 127;
      header.writeBigUInt64BE(BigInt(len), 2);
    }
    this.socket.write(Buffer.concat([header, payload]));
  }

  private fail(code: number): void {
    this.closeCode = code;
    this.close(code);
    this.socket.end();
  }

  private onData(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    for (;;) {
      const buf = this.buf;
      if (buf.length < 2) return;
      const b0 = buf[0] ?? 0;
      const b1 = buf[1] ?? 0;
      const fin = (b0 & 0x80) !== 0;
      const opcode = b0 & 0x0f;
      let len = b1 & 0x7f;
      let off = 2;
      if ((b0 & 0x70) !== 0 || (b1 & 0x80) === 0) return this.fail(1002); // no extensions; client frames are masked
      if (len === 126) {
        if (buf.length < 4) return;
        len = buf.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (buf.length < 10) return;
        const big = buf.readBigUInt64BE(2);
        if (big > BigInt(MAX_PAYLOAD)) return this.fail(1009);
        len = Number(big);
        off = 10;
      }
      if (len > MAX_PAYLOAD) return this.fail(1009);
      if (buf.length < off + 4 + len) return;
      const mask = buf.subarray(off, off + 4);
      const data = Buffer.from(buf.subarray(off + 4, off + 4 + len));
      for (let i = 0; i < data.length; i += 1) data[i] = (data[i] ?? 0) ^ (mask[i % 4] ?? 0);
      this.buf = buf.subarray(off + 4 + len);
      this.onFrame(fin, opcode, data);
      if (this.closed) return;
    }
  }

  private onFrame(fin: boolean, opcode: number, data: Buffer): void {
    switch (opcode) {
      case 0x0: {
        if (this.fragmentOpcode === 0) return this.fail(1002);
        this.fragments.push(data);
        if (fin) {
          const whole = Buffer.concat(this.fragments);
          const op = this.fragmentOpcode;
          this.fragments = [];
          this.fragmentOpcode = 0;
          if (op === 0x1) this.handlers.text(whole.toString('utf8'));
        }
        return;
      }
      case 0x1:
      case 0x2:
        if (this.fragmentOpcode !== 0) return this.fail(1002);
        if (!fin) {
          this.fragmentOpcode = opcode;
          this.fragments = [data];
          return;
        }
        if (opcode === 0x1) this.handlers.text(data.toString('utf8')); // binary messages are ignored, as Slack does
        return;
      case 0x8: {
        this.closeCode = data.length >= 2 ? data.readUInt16BE(0) : 1005;
        if (!this.closeSent) {
          // echo the close frame, then end the TCP connection (the server closes first in RFC 6455)
          this.frame(0x8, data.subarray(0, Math.min(2, data.length)));
          this.closeSent = true;
        }
        this.socket.end();
        clearTimeout(this.closeTimer);
        this.closeTimer = setTimeout(() => this.socket.destroy(), 1000);
        return;
      }
      case 0x9:
        this.frame(0xa, data);
        return;
      case 0xa:
        return;
      default:
        this.fail(1002);
    }
  }
}

// ---------- the Socket Mode simulator ----------

interface Conn {
  info: SocketConnectionInfo;
  ws: WsConnection;
}

interface Pending {
  id: string;
  type: EnvelopeType;
  payload: Json;
  accepts: boolean;
  attempt: number;
  retryReason?: string;
  firstSentAt?: number;
  createdAt: number;
  ackTimer?: NodeJS.Timeout;
  retryTimer?: NodeJS.Timeout;
  queueTimer?: NodeJS.Timeout;
  done: boolean;
  resolve(outcome: EnvelopeOutcome): void;
}

class SocketModeSim implements SocketModeSimulator {
  readonly appToken: string;
  readonly appId: string;
  url = '';
  port = 0;
  readonly connections: SocketConnectionInfo[] = [];
  readonly deliveries: SocketDelivery[] = [];
  readonly acks: SocketAck[] = [];
  hellos = 0;

  private server?: http.Server;
  private readonly conns = new Map<number, Conn>();
  private readonly tickets = new Map<string, { expiresAt: number }>();
  private readonly pending = new Map<string, Pending>();
  private readonly finished = new Map<string, Pending>();
  private queue: Pending[] = [];
  private nextConnId = 0;
  private roundRobin = 0;
  private pingTimer?: NodeJS.Timeout;
  private unregister?: () => void;
  private readonly ackTimeoutMs: number;
  private readonly retries: Record<EnvelopeType, number>;
  private readonly retryDelaysMs: number[];
  private readonly queueTimeoutMs: number;
  private readonly pingIntervalMs: number;
  private readonly ticketTtlMs: number;
  private readonly maxConnections: number;
  private closing = false;

  constructor(
    private readonly sim: SlackSimulator,
    opts: SocketModeSimOptions,
  ) {
    if (!opts.appToken.startsWith('xapp-')) throw new Error('a Socket Mode app token starts with xapp-');
    this.appToken = opts.appToken;
    this.appId = opts.appId ?? APP_ID;
    this.ackTimeoutMs = opts.ackTimeoutMs ?? 3000;
    this.retries = { ...DEFAULT_RETRIES, ...(opts.retries ?? {}) };
    this.retryDelaysMs = opts.retryDelaysMs?.length ? opts.retryDelaysMs : [0, 60_000, 300_000];
    this.queueTimeoutMs = opts.queueTimeoutMs ?? 30_000;
    this.pingIntervalMs = opts.pingIntervalMs ?? 10_000;
    this.ticketTtlMs = opts.ticketTtlMs ?? 30_000;
    this.maxConnections = opts.maxConnections ?? 10;
  }

  async start(port: number): Promise<void> {
    const server = http.createServer((_req, res) => {
      res.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket' });
      res.end('upgrade required');
    });
    server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => this.upgrade(req, socket, head));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
    this.url = `ws://127.0.0.1:${this.port}`;
    this.unregister = this.sim.registerMethod('apps.connections.open', ({ token }) => this.connectionsOpen(token));
    if (this.pingIntervalMs > 0) {
      this.pingTimer = setInterval(() => {
        for (const c of this.conns.values()) c.ws.ping(Buffer.from(`ping-${Date.now()}`));
      }, this.pingIntervalMs);
      this.pingTimer.unref();
    }
  }

  // ---------- apps.connections.open ----------

  private connectionsOpen(token: string | undefined): SimMethodResult {
    if (!token) return { body: { ok: false, error: 'not_authed' } };
    if (!token.startsWith('xapp-')) return { body: { ok: false, error: 'not_allowed_token_type' } };
    if (token !== this.appToken) return { body: { ok: false, error: 'invalid_auth' } };
    const now = Date.now();
    for (const [t, v] of this.tickets) if (v.expiresAt < now) this.tickets.delete(t);
    const ticket = randomUUID();
    this.tickets.set(ticket, { expiresAt: now + this.ticketTtlMs });
    return { body: { ok: true, url: `${this.url}/link/?ticket=${ticket}&app_id=${this.appId}` } };
  }

  // ---------- WebSocket connections ----------

  private reject(socket: Duplex, status: number, text: string): void {
    socket.end(`HTTP/1.1 ${status} ${text}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
  }

  private upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://sim.local');
    const key = req.headers['sec-websocket-key'];
    if (url.pathname !== '/link/' && url.pathname !== '/link') return this.reject(socket, 404, 'Not Found');
    if (typeof key !== 'string' || String(req.headers.upgrade).toLowerCase() !== 'websocket') return this.reject(socket, 400, 'Bad Request');
    const ticket = url.searchParams.get('ticket') ?? '';
    const t = this.tickets.get(ticket);
    // a ticket opens one connection, and only while it is fresh
    if (!t || t.expiresAt < Date.now() || this.closing) return this.reject(socket, 401, 'Unauthorized');
    this.tickets.delete(ticket);
    const accept = createHash('sha1').update(key + WS_GUID).digest('base64');
    socket.write(['HTTP/1.1 101 Switching Protocols', 'Upgrade: websocket', 'Connection: Upgrade', `Sec-WebSocket-Accept: ${accept}`, '', ''].join('\r\n'));
    if (head.length) socket.unshift(head);
    const info: SocketConnectionInfo = { id: ++this.nextConnId, openedAt: Date.now(), open: true };
    this.connections.push(info);
    const ws = new WsConnection(socket, {
      text: (data) => this.onMessage(info.id, data),
      close: (code) => this.onClose(info, code),
    });
    const conn: Conn = { info, ws };
    this.conns.set(info.id, conn);

    if (this.conns.size > this.maxConnections) {
      info.disconnectReason = 'too_many_websockets';
      ws.sendText(JSON.stringify({ type: 'disconnect', reason: 'too_many_websockets', debug_info: { host: 'applink-sim' } }));
      ws.close(1000);
      return;
    }
    this.hellos += 1;
    ws.sendText(
      JSON.stringify({
        type: 'hello',
        num_connections: this.usableConnections().length,
        debug_info: { host: `applink-sim-${info.id}`, build_number: 1, approximate_connection_time: 18060 },
        connection_info: { app_id: this.appId },
      }),
    );
    this.flushQueue();
  }

  private onClose(info: SocketConnectionInfo, code: number): void {
    info.open = false;
    info.closedAt = Date.now();
    info.closeCode = code;
    this.conns.delete(info.id);
  }

  /** Connections that may get envelopes: open and not told to disconnect. */
  private usableConnections(): Conn[] {
    return [...this.conns.values()].filter((c) => c.ws.isOpen && !c.info.disconnectReason);
  }

  private onMessage(connectionId: number, data: string): void {
    let msg: unknown;
    try {
      msg = JSON.parse(data);
    } catch {
      return; // Slack ignores what it cannot parse
    }
    if (!isObj(msg) || typeof msg.envelope_id !== 'string') return;
    const id = msg.envelope_id;
    const payload = isObj(msg.payload) ? msg.payload : undefined;
    const now = Date.now();
    const p = this.pending.get(id);
    const known = p ?? this.finished.get(id);
    const ack: SocketAck = { envelopeId: id, connectionId, at: now, late: !p };
    if (known) ack.type = known.type;
    if (payload) ack.payload = payload;
    if (known?.firstSentAt !== undefined) ack.latencyMs = now - known.firstSentAt;
    this.acks.push(ack);
    if (!p) return;
    this.finish(p, { envelopeId: id, acked: true, ...(payload ? { payload } : {}), attempts: p.attempt + 1, elapsedMs: now - p.createdAt });
  }

  // ---------- envelopes ----------

  deliver(type: EnvelopeType, payload: Json, opts: { acceptsResponsePayload?: boolean } = {}): Promise<EnvelopeOutcome> {
    return new Promise<EnvelopeOutcome>((resolve) => {
      const p: Pending = {
        id: randomUUID(),
        type,
        payload,
        accepts: opts.acceptsResponsePayload ?? false,
        attempt: 0,
        createdAt: Date.now(),
        done: false,
        resolve,
      };
      if (this.closing) {
        resolve({ envelopeId: p.id, acked: false, attempts: 0, elapsedMs: 0, error: 'closed' });
        return;
      }
      this.pending.set(p.id, p);
      this.send(p);
    });
  }

  private send(p: Pending): void {
    if (p.done) return;
    const usable = this.usableConnections();
    if (usable.length === 0) {
      if (!this.queue.includes(p)) this.queue.push(p);
      p.queueTimer ??= setTimeout(() => {
        this.queue = this.queue.filter((q) => q !== p);
        this.finish(p, { envelopeId: p.id, acked: false, attempts: p.attempt, elapsedMs: Date.now() - p.createdAt, error: 'no_connection' });
      }, this.queueTimeoutMs);
      return;
    }
    clearTimeout(p.queueTimer);
    p.queueTimer = undefined;
    const conn = usable[this.roundRobin++ % usable.length] as Conn;
    const message: Json = { envelope_id: p.id, payload: p.payload, type: p.type, accepts_response_payload: p.accepts };
    if (p.type === 'events_api') {
      message.retry_attempt = p.attempt;
      message.retry_reason = p.retryReason ?? '';
    } else if (p.attempt > 0) {
      message.retry_attempt = p.attempt;
      message.retry_reason = p.retryReason ?? 'timeout';
    }
    const now = Date.now();
    p.firstSentAt ??= now;
    conn.ws.sendText(JSON.stringify(message));
    const delivery: SocketDelivery = { envelopeId: p.id, type: p.type, attempt: p.attempt, connectionId: conn.info.id, at: now, message };
    if (p.retryReason) delivery.retryReason = p.retryReason;
    this.deliveries.push(delivery);
    p.ackTimer = setTimeout(() => this.onAckTimeout(p), this.ackTimeoutMs);
  }

  private onAckTimeout(p: Pending): void {
    if (p.done) return;
    if (p.attempt >= this.retries[p.type]) {
      this.finish(p, { envelopeId: p.id, acked: false, attempts: p.attempt + 1, elapsedMs: Date.now() - p.createdAt, error: 'operation_timeout' });
      return;
    }
    p.attempt += 1;
    p.retryReason = 'timeout';
    const delay = this.retryDelaysMs[Math.min(p.attempt - 1, this.retryDelaysMs.length - 1)] ?? 0;
    p.retryTimer = setTimeout(() => this.send(p), delay);
  }

  private finish(p: Pending, outcome: EnvelopeOutcome): void {
    if (p.done) return;
    p.done = true;
    clearTimeout(p.ackTimer);
    clearTimeout(p.retryTimer);
    clearTimeout(p.queueTimer);
    this.pending.delete(p.id);
    this.finished.set(p.id, p);
    if (this.finished.size > 5000) {
      const oldest = this.finished.keys().next().value;
      if (oldest !== undefined) this.finished.delete(oldest);
    }
    p.resolve(outcome);
  }

  private flushQueue(): void {
    const waiting = this.queue;
    this.queue = [];
    for (const p of waiting) this.send(p);
  }

  // ---------- control ----------

  openConnections(): number {
    return this.conns.size;
  }

  requestRefresh(reason: 'refresh_requested' | 'warning' = 'refresh_requested'): number {
    let n = 0;
    for (const c of this.conns.values()) {
      if (!c.ws.isOpen || c.info.disconnectReason) continue;
      c.info.disconnectReason = reason;
      c.ws.sendText(JSON.stringify({ type: 'disconnect', reason, debug_info: { host: `applink-sim-${c.info.id}` } }));
      n += 1;
    }
    return n;
  }

  dropConnections(): void {
    for (const c of this.conns.values()) c.ws.terminate();
  }

  waitForHellos(count: number, timeoutMs = 15_000): Promise<void> {
    return this.sim.waitFor(() => this.hellos >= count, timeoutMs).then(() => undefined);
  }

  async close(): Promise<void> {
    this.closing = true;
    clearInterval(this.pingTimer);
    this.unregister?.();
    for (const p of [...this.pending.values()]) {
      this.finish(p, { envelopeId: p.id, acked: false, attempts: p.attempt + (p.firstSentAt ? 1 : 0), elapsedMs: Date.now() - p.createdAt, error: 'closed' });
    }
    this.queue = [];
    for (const c of this.conns.values()) c.ws.terminate();
    const server = this.server;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** Adds Socket Mode to a running Slack simulator: `apps.connections.open` and the WebSocket server it points at. */
export async function startSocketModeSimulator(sim: SlackSimulator, opts: SocketModeSimOptions): Promise<SocketModeSimulator> {
  const s = new SocketModeSim(sim, opts);
  await s.start(opts.port ?? 0);
  return s;
}

// ---------- the sender ----------

export interface SocketSendResult extends SendResult {
  envelopeId: string;
  /** The bot acked the envelope (status 200); otherwise status is 0 and `error` says why. */
  acked: boolean;
  attempts: number;
  error?: EnvelopeOutcome['error'];
}

export interface SocketCommandResult extends CommandResult {
  envelopeId: string;
  acked: boolean;
  attempts: number;
  error?: EnvelopeOutcome['error'];
}

export interface SocketSenderOptions {
  socket: SocketModeSimulator;
  sim: SlackSimulator;
  teamId?: string;
  /** Channel for commands sent without one. Default C0SIMCHAN1. */
  defaultChannel?: string;
}

/**
 * What `SlackRequestSender` does, over Socket Mode: the same payloads go to the bot as envelopes on its
 * WebSocket, and the ack's payload is applied the way Slack applies it (a command's ack text becomes an
 * ephemeral, a view_submission's `response_action` acts on the modal). `status` is 200 when the bot acked.
 */
export class SocketModeSender {
  readonly payloads: SlackPayloads;
  private readonly socket: SocketModeSimulator;
  private readonly sim: SlackSimulator;

  constructor(opts: SocketSenderOptions) {
    this.socket = opts.socket;
    this.sim = opts.sim;
    this.payloads = new SlackPayloads({ sim: opts.sim, ...(opts.teamId !== undefined ? { teamId: opts.teamId } : {}), ...(opts.defaultChannel !== undefined ? { defaultChannel: opts.defaultChannel } : {}) });
  }

  /** Sends one envelope and reports it like an HTTP answer. */
  async send(type: EnvelopeType, payload: Json, acceptsResponsePayload = false): Promise<SocketSendResult> {
    const out = await this.socket.deliver(type, payload, { acceptsResponsePayload });
    const body = out.acked ? JSON.stringify(out.payload ?? {}) : '';
    const result: SocketSendResult = { status: out.acked ? 200 : 0, body, elapsedMs: out.elapsedMs, envelopeId: out.envelopeId, acked: out.acked, attempts: out.attempts };
    if (out.acked) result.json = out.payload ?? {};
    if (out.error) result.error = out.error;
    return result;
  }

  /** An Events API callback around `event` (an `events_api` envelope). */
  async event(event: Json): Promise<SocketSendResult> {
    return this.send('events_api', this.payloads.eventCallback(event));
  }

  /** The user opens the bot's App Home tab. */
  async appHomeOpened(userId: string): Promise<SocketSendResult> {
    return this.event(this.payloads.appHomeOpenedEvent(userId));
  }

  /** An admin edits a user group: the simulator's members change, and an `events_api` envelope tells the app. */
  async changeUsergroup(groupId: string, users: string[]): Promise<SocketSendResult> {
    return this.event(this.payloads.subteamMembersChangedEvent(this.sim.setUsergroupUsers(groupId, users)));
  }

  /** A slash command (a `slash_commands` envelope); the ack's text / blocks are shown to the user like Slack does. */
  async command(userId: string, text: string, opts: { channel?: string; command?: string } = {}): Promise<SocketCommandResult> {
    const { channel, fields, responseUrl, triggerId } = this.payloads.command(userId, text, opts);
    const res = await this.send('slash_commands', { ...fields }, true);
    if (res.acked) this.sim.applyCommandAck({ channel, user: userId }, res.body);
    return { ...res, responseUrl, triggerId };
  }

  /** A click on a button (a `block_actions` payload in an `interactive` envelope); see `SlackRequestSender.clickButton`. */
  async clickButton(userId: string, target: ButtonTarget, opts: { state?: ViewValues } = {}): Promise<SocketSendResult> {
    return this.send('interactive', this.payloads.buttonClick(userId, target, opts));
  }

  /** Submits a modal; the ack's payload (`response_action` errors / update / push / clear, or nothing) acts on it. */
  async submitView(userId: string, viewId: string, values: ViewValues = {}): Promise<SocketSendResult> {
    const res = await this.send('interactive', this.payloads.viewSubmission(userId, viewId, values), true);
    if (res.acked) this.sim.applyViewSubmissionResponse(viewId, res.json ?? {});
    return res;
  }

  /** The user closes the modal; sends `view_closed` when the view asked for `notify_on_close`. */
  async closeView(userId: string, viewId: string): Promise<SocketSendResult | undefined> {
    const payload = this.payloads.closeView(userId, viewId);
    return payload ? this.send('interactive', payload) : undefined;
  }

  /** Clicks the button with this text in a message / ephemeral / view. */
  async clickButtonByText(userId: string, where: { channel: string; messageTs: string } | { viewId: string }, text: string): Promise<SocketSendResult> {
    return this.clickButton(userId, this.payloads.buttonByText(userId, where, text));
  }
}
