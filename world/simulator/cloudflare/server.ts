import type http from 'node:http';
import type { Logger } from '../../../src/logger.js';
import { Router, startHttpServer, toSimRequest, type SimRequest, type SimResponse } from '../http.js';
import type { World } from '../world.js';
import { applyDirectChange, type DirectChange } from './direct.js';
import { addressingRoutes, ApiFailure, type Ctx } from './routes.js';
import { SANDBOX_ACCOUNT_ID, seedScenario } from './scenarios.js';
import { emptyState, type CloudflareState, type Permission, type SimCall } from './state.js';
import { NOTIFICATION_KINDS, notificationBody, sendNotification, type NotificationSpec, type WebhookDestination } from './notifications.js';

/**
 * The simulated Cloudflare addressing API: `/client/v4/accounts/:account_id/addressing/...` with the v4 envelope,
 * bearer tokens scoped to accounts and permissions, Cloudflare's workflow rules and timings (in the world's
 * simulated time), the 1200 requests / 5 min limit with its lock-out, and a control API under `/__control` to
 * inject faults, move time and seed scenarios.
 */

export interface RateLimitSettings {
  /** Requests per window per token; Cloudflare: 1200. */
  limit: number;
  /** Real ms; Cloudflare: 5 minutes. */
  windowMs: number;
  /** Real ms every call is refused after going over; Cloudflare: 5 minutes. */
  lockoutMs: number;
  /** Requests per second per client IP; Cloudflare: 200. 0 turns the check off. */
  perIpPerSecond: number;
}

export type FaultKind = 'latency' | 'error' | 'timeout' | 'malformed' | 'rate_limit';

export interface FaultSpec {
  /** Regular expression matched against the path after `/client/v4`, e.g. `/bgp/prefixes/`. */
  path: string;
  method?: string;
  kind: FaultKind;
  /** latency / timeout: how long to hold the answer (real ms). */
  ms?: number;
  /** error: the HTTP status (default 500). */
  status?: number;
  /** malformed: `json` (not JSON), `envelope` (no `success`), `field` (a result field of the wrong type). */
  corrupt?: 'json' | 'envelope' | 'field';
  /** rate_limit: the Retry-After in seconds (default 1). */
  retryAfterS?: number;
  /** error / timeout: `before` = the request is not applied (default), `after` = applied, then the answer fails. */
  applied?: 'before' | 'after';
  /** How many matching requests it hits; unlimited when absent. */
  times?: number;
}

export interface Fault extends FaultSpec {
  id: string;
  hits: number;
}

export interface CloudflareSimulatorOptions {
  world: World;
  port?: number;
  /** Scenario to seed at start; `default` when absent. */
  scenario?: string;
  logger?: Logger;
  rateLimit?: Partial<RateLimitSettings>;
  /** Simulated ms between POST validate and the result; 2 minutes. */
  validationDelayMs?: number;
}

export interface CloudflareSimulator {
  /** Base URL including `/client/v4`: what CloudflareClient's `baseUrl` takes. */
  url: string;
  /** Base URL of the control API, `http://127.0.0.1:port/__control`. */
  controlUrl: string;
  state: CloudflareState;
  world: World;
  /** TCP connections accepted so far (a client that reuses connections keeps this small). */
  connections: { count: number };
  /** HTTP requests received so far, the control API's included (`state.calls` keeps only the newest API calls). */
  requests: { count: number; inFlight: number; maxInFlight: number };
  rateLimit: RateLimitSettings;
  faults: Fault[];
  addFault(spec: FaultSpec): Fault;
  clearFaults(): void;
  /** Re-seeds the Cloudflare state (the world keeps what it has) and forgets rate-limit counters. */
  seed(scenario: string): void;
  setRateLimit(settings: Partial<RateLimitSettings>): void;
  /** Counts `count` requests against a token's window, as the dashboard or another tool using it would. */
  consume(token: string, count: number): void;
  addToken(token: string, accounts: string[], permissions: Permission[]): void;
  /** Where notifications go (a webhook destination: URL and secret). */
  setWebhook(dest: WebhookDestination | null): void;
  /** Sends one notification to the destination (unsigned with `signed: false`); the receiver's answer. */
  notify(spec: NotificationSpec, opts?: { signed?: boolean; secret?: string }): Promise<{ status: number; body: string; payload: Record<string, unknown> }>;
  close(): Promise<void>;
}

const API_PREFIX = '/client/v4';
const CONTROL_PREFIX = '/__control';
const MAX_CALLS = 20_000;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface TokenWindow {
  hits: number[];
  lockedUntil: number;
}

export async function startCloudflareSimulator(opts: CloudflareSimulatorOptions): Promise<CloudflareSimulator> {
  const world = opts.world;
  const state = emptyState();
  const rateLimit: RateLimitSettings = { limit: 1200, windowMs: 300_000, lockoutMs: 300_000, perIpPerSecond: 200, ...opts.rateLimit };
  const perIp = new Map<string, number[]>();
  const windows = new Map<string, TokenWindow>();
  const faults: Fault[] = [];
  let faultSeq = 1;
  seedScenario(opts.scenario ?? 'default', state, world);

  const ctxBase = { state, world, validationDelayMs: opts.validationDelayMs ?? 120_000 };
  const api = addressingRoutes();
  const control = controlRoutes();

  function addFault(spec: FaultSpec): Fault {
    new RegExp(spec.path); // throws on a bad pattern before it is stored
    const f: Fault = { ...spec, id: String(faultSeq++), hits: 0 };
    faults.push(f);
    return f;
  }

  function takeFault(method: string, path: string): Fault | undefined {
    const f = faults.find(
      (x) => (!x.method || x.method.toUpperCase() === method) && new RegExp(x.path).test(path) && (x.times === undefined || x.hits < x.times),
    );
    if (f) f.hits++;
    return f;
  }

  /** Counts the request against the token's window; returns a 429 answer when over the limit. */
  function countRequest(token: string): { refused?: SimResponse; headers: Record<string, string> } {
    const now = Date.now();
    const w = windows.get(token) ?? { hits: [], lockedUntil: 0 };
    windows.set(token, w);
    const policy = `"burst";q=${rateLimit.limit};w=${Math.ceil(rateLimit.windowMs / 1000)}`;
    if (w.lockedUntil > now) return { refused: tooMany(Math.ceil((w.lockedUntil - now) / 1000), policy), headers: {} };
    while (w.hits.length && w.hits[0]! <= now - rateLimit.windowMs) w.hits.shift();
    if (w.hits.length >= rateLimit.limit) {
      w.lockedUntil = now + rateLimit.lockoutMs;
      return { refused: tooMany(Math.ceil(rateLimit.lockoutMs / 1000), policy), headers: {} };
    }
    w.hits.push(now);
    const reset = Math.max(0, Math.ceil((w.hits[0]! + rateLimit.windowMs - now) / 1000));
    return { headers: { ratelimit: `"default";r=${rateLimit.limit - w.hits.length};t=${reset}`, 'ratelimit-policy': policy } };
  }

  async function handleApi(req: http.IncomingMessage, sreq: SimRequest): Promise<{ res: SimResponse; fault?: string }> {
    const path = sreq.path.slice(API_PREFIX.length) || '/';
    const fault = takeFault(sreq.method, path);
    if (fault?.kind === 'latency') await sleep(fault.ms ?? 1000);
    if (fault?.kind === 'rate_limit') {
      return { res: tooMany(fault.retryAfterS ?? 1, `"burst";q=${rateLimit.limit};w=${Math.ceil(rateLimit.windowMs / 1000)}`), fault: fault.kind };
    }
    if (fault && fault.kind === 'error' && fault.applied !== 'after') return { res: serverError(fault.status ?? 500), fault: fault.kind };
    if (fault && fault.kind === 'timeout' && fault.applied !== 'after') {
      await sleep(fault.ms ?? 30_000);
      if (req.destroyed || req.socket.destroyed) return { res: serverError(504), fault: fault.kind };
    }

    const auth = authenticate(sreq);
    if ('refused' in auth) return { res: auth.refused };
    const ip = req.socket.remoteAddress ?? 'unknown';
    if (rateLimit.perIpPerSecond > 0) {
      const now = Date.now();
      const hits = (perIp.get(ip) ?? []).filter((t) => t > now - 1000);
      perIp.set(ip, hits);
      if (hits.length >= rateLimit.perIpPerSecond) {
        return { res: tooMany(1, `"burst";q=${rateLimit.limit};w=${Math.ceil(rateLimit.windowMs / 1000)}`) };
      }
      hits.push(now);
    }
    const counted = countRequest(auth.token);
    if (counted.refused) return { res: counted.refused };

    let res: SimResponse;
    const m = api.match(sreq.method, path);
    if ('handler' in m) {
      const ctx: Ctx = { ...sreq, params: m.params, ...ctxBase, token: state.tokens.get(auth.token)!, now: world.clock.now() };
      try {
        res = await m.handler(ctx);
      } catch (err) {
        res = err instanceof ApiFailure ? err.response() : serverError(500);
        if (!(err instanceof ApiFailure)) opts.logger?.error({ err }, 'cloudflare simulator handler failed');
      }
    } else if (m.methodMismatch) {
      res = new ApiFailure(405, 7001, 'Method not allowed for this route').response();
    } else {
      res = new ApiFailure(404, 7003, 'No route for the URI').response();
    }
    res = { ...res, headers: { ...counted.headers, ...(res.headers ?? {}) } };

    if (fault?.kind === 'error') return { res: serverError(fault.status ?? 500), fault: fault.kind };
    if (fault?.kind === 'timeout') await sleep(fault.ms ?? 30_000);
    if (fault?.kind === 'malformed') return { res: corrupt(res, fault.corrupt ?? 'json'), fault: fault.kind };
    return { res, fault: fault?.kind };
  }

  function authenticate(sreq: SimRequest): { token: string } | { refused: SimResponse } {
    const header = sreq.headers.authorization;
    if (!header) {
      if (sreq.headers['x-auth-key'] || sreq.headers['x-auth-email']) {
        return { refused: new ApiFailure(403, 9103, 'Unknown X-Auth-Key or X-Auth-Email').response() };
      }
      return {
        refused: new ApiFailure(400, 6003, 'Invalid request headers', [{ code: 6111, message: 'Invalid format for Authorization header' }]).response(),
      };
    }
    const m = /^Bearer\s+(\S+)$/.exec(header);
    if (!m) {
      return {
        refused: new ApiFailure(400, 6003, 'Invalid request headers', [{ code: 6111, message: 'Invalid format for Authorization header' }]).response(),
      };
    }
    if (!state.tokens.has(m[1]!)) return { refused: new ApiFailure(401, 9109, 'Invalid access token').response() };
    return { token: m[1]! };
  }

  function controlRoutes(): Router {
    const r = new Router();
    r.on('GET', '/state', () => ({ status: 200, body: snapshot() }));
    r.on('GET', '/calls', () => ({ status: 200, body: state.calls }));
    r.on('DELETE', '/calls', () => {
      state.calls.length = 0;
      return { status: 200, body: { ok: true } };
    });
    r.on('POST', '/faults', (req) => ({ status: 201, body: addFault(parseJson(req) as FaultSpec) }));
    r.on('GET', '/faults', () => ({ status: 200, body: faults }));
    r.on('DELETE', '/faults', () => {
      faults.length = 0;
      return { status: 200, body: { ok: true } };
    });
    r.on('DELETE', '/faults/:id', (req) => {
      const i = faults.findIndex((f) => f.id === req.params.id);
      if (i >= 0) faults.splice(i, 1);
      return { status: i >= 0 ? 200 : 404, body: { ok: i >= 0 } };
    });
    r.on('POST', '/clock', (req) => {
      const b = (parseJson(req) ?? {}) as { advanceMs?: number; scale?: number };
      if (b.advanceMs !== undefined) world.clock.advance(b.advanceMs);
      if (b.scale !== undefined) world.clock.setScale(b.scale);
      return { status: 200, body: { now: world.clock.iso(), scale: world.clock.getScale() } };
    });
    r.on('GET', '/clock', () => ({ status: 200, body: { now: world.clock.iso(), scale: world.clock.getScale() } }));
    r.on('POST', '/scenario', (req) => {
      const b = (parseJson(req) ?? {}) as { name?: string };
      sim.seed(b.name ?? 'default');
      return { status: 200, body: { scenario: b.name ?? 'default' } };
    });
    r.on('POST', '/rate-limit', (req) => {
      const b = (parseJson(req) ?? {}) as Partial<RateLimitSettings> & { reset?: boolean; consume?: { token: string; count: number } };
      sim.setRateLimit(b);
      if (b.reset) {
        windows.clear();
        perIp.clear();
      }
      if (b.consume) sim.consume(b.consume.token, b.consume.count);
      return { status: 200, body: rateLimit };
    });
    // A change made outside the bot (dashboard, account team): state only, no API call recorded.
    r.on('POST', '/direct', (req) => ({ status: 200, body: { ok: true, said: applyDirectChange(state, world, parseJson(req) as DirectChange) } }));
    // Notifications: POST /notifications/destination {url, secret?}; POST /notifications {kind, prefix, event, correlationId, status, signed}.
    r.on('POST', '/notifications/destination', (req) => {
      const b = (parseJson(req) ?? {}) as { url?: string; secret?: string };
      sim.setWebhook(b.url ? { url: b.url, ...(b.secret ? { secret: b.secret } : {}) } : null);
      return { status: 200, body: { url: b.url ?? null, signed: Boolean(b.secret) } };
    });
    r.on('POST', '/notifications', async (req) => {
      const b = (parseJson(req) ?? {}) as NotificationSpec & { signed?: boolean };
      if (!NOTIFICATION_KINDS.includes(b.kind)) return { status: 400, body: { error: `kind must be one of ${NOTIFICATION_KINDS.join(', ')}` } };
      if (!webhook) return { status: 409, body: { error: 'no webhook destination: POST /__control/notifications/destination first' } };
      return { status: 200, body: await sim.notify(b, { signed: b.signed !== false }) };
    });
    r.on('POST', '/tokens', (req) => {
      const b = parseJson(req) as { token: string; accounts?: string[]; permissions?: Permission[] };
      sim.addToken(b.token, b.accounts ?? [SANDBOX_ACCOUNT_ID], b.permissions ?? []);
      return { status: 201, body: { ok: true } };
    });
    return r;
  }

  function snapshot(): unknown {
    return {
      accounts: [...state.accounts.values()],
      prefixes: [...state.prefixes.values()],
      bgpPrefixes: [...state.bgpPrefixes.values()],
      bindings: [...state.bindings.values()],
      delegations: [...state.delegations.values()],
      addressMaps: [...state.addressMaps.values()],
      loaDocuments: [...state.loaDocuments.values()].map(({ content, ...rest }) => ({ ...rest, sizeBytes: content.length })),
      leases: [...state.leases.values()],
      calls: state.calls.length,
      now: world.clock.iso(),
    };
  }

  const server = await startHttpServer(async (req, body) => {
    const sreq = toSimRequest(req, body);
    if (sreq.path.startsWith(CONTROL_PREFIX)) {
      const m = control.match(sreq.method, sreq.path.slice(CONTROL_PREFIX.length) || '/');
      if (!('handler' in m)) return { status: 404, body: { error: 'no such control endpoint' } };
      try {
        return await m.handler({ ...sreq, params: m.params });
      } catch (err) {
        return { status: 400, body: { error: String(err) } };
      }
    }
    if (!sreq.path.startsWith(API_PREFIX)) {
      return new ApiFailure(404, 7003, 'No route for the URI').response();
    }
    const at = Date.now();
    const { res, fault } = await handleApi(req, sreq);
    const call: SimCall = {
      method: sreq.method,
      path: sreq.path,
      query: sreq.query.toString(),
      contentType: String(req.headers['content-type'] ?? ''),
      body: recordedBody(sreq),
      status: res.status,
      response: Buffer.isBuffer(res.body) ? { binary: res.body.length } : res.body,
      at,
    };
    if (fault) call.fault = fault;
    state.calls.push(call);
    // Keep a long-running sandbox from growing without bound.
    if (state.calls.length > MAX_CALLS) state.calls.splice(0, state.calls.length - MAX_CALLS);
    return res;
  }, opts.port ?? 0);

  let webhook: WebhookDestination | null = null;
  const sim: CloudflareSimulator = {
    setWebhook: (dest) => {
      webhook = dest;
    },
    notify: async (spec, o = {}) => {
      if (!webhook) throw new Error('no webhook destination configured');
      const payload = notificationBody({ accountId: SANDBOX_ACCOUNT_ID, ...spec });
      return { ...(await sendNotification(webhook, payload, o)), payload };
    },
    url: `${server.url}${API_PREFIX}`,
    controlUrl: `${server.url}${CONTROL_PREFIX}`,
    state,
    world,
    connections: server.connections,
    requests: server.requests,
    rateLimit,
    faults,
    addFault,
    clearFaults: () => {
      faults.length = 0;
    },
    seed: (scenario: string) => {
      seedScenario(scenario, state, world);
      windows.clear();
      perIp.clear();
    },
    setRateLimit: (s) => {
      if (s.limit !== undefined) rateLimit.limit = s.limit;
      if (s.windowMs !== undefined) rateLimit.windowMs = s.windowMs;
      if (s.lockoutMs !== undefined) rateLimit.lockoutMs = s.lockoutMs;
      if (s.perIpPerSecond !== undefined) rateLimit.perIpPerSecond = s.perIpPerSecond;
    },
    consume: (token, count) => {
      const w = windows.get(token) ?? { hits: [], lockedUntil: 0 };
      windows.set(token, w);
      const now = Date.now();
      for (let i = 0; i < count; i++) w.hits.push(now);
    },
    addToken: (token, accounts, permissions) => {
      state.tokens.set(token, { token, accounts, permissions });
    },
    close: () => server.close(),
  };
  return sim;
}

function tooMany(retryAfterS: number, policy: string): SimResponse {
  const r = new ApiFailure(429, 971, 'Please wait and consider throttling your request speed').response();
  return { ...r, headers: { 'retry-after': String(retryAfterS), ratelimit: `"default";r=0;t=${retryAfterS}`, 'ratelimit-policy': policy } };
}

function serverError(status: number): SimResponse {
  return new ApiFailure(status, 10001, status === 504 ? 'Gateway timeout' : 'Internal server error').response();
}

/** Breaks an answer the way a misbehaving proxy or API would. */
function corrupt(res: SimResponse, how: 'json' | 'envelope' | 'field'): SimResponse {
  if (how === 'json') {
    return { status: 200, headers: { 'content-type': 'application/json' }, body: '<html><body>upstream returned garbage</body></html>' };
  }
  const body = (res.body ?? {}) as { result?: unknown };
  if (how === 'envelope') return { status: 200, body: { result: body.result ?? null } };
  const clone = structuredClone(body) as { result?: unknown };
  const target = Array.isArray(clone.result) ? (clone.result[0] as Record<string, unknown> | undefined) : (clone.result as Record<string, unknown> | null | undefined);
  if (target && typeof target === 'object') {
    const key = 'cidr' in target ? 'cidr' : 'id';
    target[key] = 12345;
  } else {
    clone.result = 'unexpected';
  }
  return { ...res, status: res.status, body: clone };
}

function parseJson(req: SimRequest): unknown {
  if (req.rawBody.length === 0) return undefined;
  return JSON.parse(req.rawBody.toString('utf8'));
}

function recordedBody(req: SimRequest): unknown {
  if (req.rawBody.length === 0) return undefined;
  const type = String(req.headers['content-type'] ?? '');
  if (type.startsWith('multipart/')) return { multipart: true, bytes: req.rawBody.length };
  const text = req.rawBody.toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
