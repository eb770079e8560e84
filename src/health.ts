import { Resolver } from 'node:dns/promises';
import http from 'node:http';
import net from 'node:net';
import type { BudgetLeft, BotMetrics } from './metrics.js';
import type { Heartbeats } from './jobs/heartbeats.js';
import { withTimeout, type RedisClient } from './redis.js';
import type { RoutingSettings } from './routing/preflight.js';

/**
 * What operators probe: `/healthz` (liveness: the process answers), `/readyz` (can this bot carry out requests:
 * Redis answers, some worker is alive; plus the Cloudflare budget and the routing services, which degrade but do
 * not fail it) and `/metrics` (Prometheus). The same handlers serve the HTTP receiver's custom routes and the
 * small server of Socket Mode and worker processes.
 */

/** Every check of /readyz gives up after this; the whole answer comes within it (probes time out at 2 s or more). */
export const READY_CHECK_TIMEOUT_MS = 1000;

interface Check {
  ok: boolean;
  error?: string;
}

export interface Readiness {
  ready: boolean;
  role: string;
  /** Checks that failed but do not make the bot unready (the Cloudflare budget, routing services). */
  degraded: string[];
  checks: {
    redis: Check & { ms?: number };
    workers: Check & { live: number; workers: { id: string; role: string; host: string; pid: number; ageMs: number }[] };
    budget: Check & Partial<BudgetLeft>;
    routing: Check & { services: Record<string, Check & { ms?: number }> };
  };
}

export interface ReadinessDeps {
  role: string;
  /** A fail-fast client (no offline queue, a command timeout): a probe must not queue behind a dead connection. */
  redis: RedisClient;
  heartbeats: Heartbeats;
  budget: () => Promise<BudgetLeft>;
  routing: RoutingProbe | null;
}

const errorText = (err: unknown) => ((err as Error)?.message ?? String(err)).slice(0, 200);

export async function readiness(deps: ReadinessDeps): Promise<Readiness> {
  const t = READY_CHECK_TIMEOUT_MS;
  const started = Date.now();
  const [redis, workers, budget, routing] = await Promise.all([
    withTimeout(deps.redis.ping(), t, 'Redis')
      .then(() => ({ ok: true, ms: Date.now() - started }))
      .catch((err: unknown) => ({ ok: false, error: errorText(err) })),
    withTimeout(deps.heartbeats.live(), t, 'Redis')
      .then((beats) => {
        const now = Date.now();
        const list = beats.map((b) => ({ id: b.id, role: b.role, host: b.host, pid: b.pid, ageMs: Math.max(0, now - b.at) }));
        return list.length ? { ok: true, live: list.length, workers: list } : { ok: false, live: 0, workers: list, error: 'no worker has written a heartbeat recently (start one: npm run worker)' };
      })
      .catch((err: unknown) => ({ ok: false, live: 0, workers: [], error: errorText(err) })),
    withTimeout(deps.budget(), t, 'Redis')
      .then((b) => ({ ...b, ok: b.pausedForMs === 0 && b.readLeft > 0, ...(b.pausedForMs > 0 ? { error: 'Cloudflare asked the bot to slow down (Retry-After); calls are held' } : {}) }))
      .catch((err: unknown) => ({ ok: false, error: errorText(err) })),
    deps.routing ? withTimeout(deps.routing.check(), t + 200, 'the routing services').catch((err: unknown) => ({ ok: false, services: {}, error: errorText(err) })) : Promise.resolve({ ok: true, services: {} }),
  ]);
  const ready = redis.ok && workers.ok;
  const degraded = [...(budget.ok ? [] : ['budget']), ...(routing.ok ? [] : ['routing'])];
  return { ready, role: deps.role, degraded, checks: { redis, workers, budget, routing } };
}

/**
 * Whether the routing services answer at all (any HTTP status, a TCP accept, a DNS reply): RIPEstat, the RPKI
 * validator, IRR whois, DNS. Cached for `ttlMs`, so probes do not turn into load on public services.
 */
export class RoutingProbe {
  private cached: { at: number; value: Promise<{ ok: boolean; services: Record<string, Check & { ms?: number }> }> } | null = null;

  constructor(
    private readonly settings: RoutingSettings,
    private readonly ttlMs = 15_000,
    private readonly timeoutMs = READY_CHECK_TIMEOUT_MS,
  ) {}

  check(): Promise<{ ok: boolean; services: Record<string, Check & { ms?: number }> }> {
    if (this.cached && Date.now() - this.cached.at < this.ttlMs) return this.cached.value;
    const value = this.probeAll();
    this.cached = { at: Date.now(), value };
    return value;
  }

  private async probeAll(): Promise<{ ok: boolean; services: Record<string, Check & { ms?: number }> }> {
    const s = this.settings;
    const probes: [string, () => Promise<void>][] = [
      ['ripestat', () => this.http(s.ripestatUrl)],
      ...(s.routinatorUrl ? [['rpki', () => this.http(s.routinatorUrl!)] as [string, () => Promise<void>]] : []),
      ['irr', () => this.tcp(s.irrHost, s.irrPort)],
      ...(s.dnsServer ? [['dns', () => this.dns(s.dnsServer!)] as [string, () => Promise<void>]] : []),
    ];
    const results = await Promise.all(
      probes.map(async ([name, probe]) => {
        const started = Date.now();
        try {
          await withTimeout(probe(), this.timeoutMs, name);
          return [name, { ok: true, ms: Date.now() - started }] as const;
        } catch (err) {
          return [name, { ok: false, error: errorText(err) }] as const;
        }
      }),
    );
    const services = Object.fromEntries(results);
    return { ok: results.every(([, r]) => r.ok), services };
  }

  private async http(url: string): Promise<void> {
    const res = await fetch(url, { method: 'GET', signal: AbortSignal.timeout(this.timeoutMs) });
    await res.body?.cancel();
  }

  private tcp(host: string, port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port });
      socket.setTimeout(this.timeoutMs, () => socket.destroy(new Error(`no answer from ${host}:${port}`)));
      socket.once('connect', () => {
        socket.destroy();
        resolve();
      });
      socket.once('error', reject);
    });
  }

  private async dns(servers: string): Promise<void> {
    const resolver = new Resolver({ timeout: this.timeoutMs, tries: 1 });
    resolver.setServers(servers.split(',').map((x) => x.trim()).filter(Boolean));
    try {
      await resolver.resolveTxt('byoip-bot-readiness.example.com');
    } catch (err) {
      // Any answer (even "no such name") means the server is there; only silence or a refusal is unreachable.
      const code = (err as { code?: string }).code;
      if (code === 'ETIMEOUT' || code === 'ECONNREFUSED' || code === 'ECANCELLED') throw err;
    } finally {
      resolver.cancel();
    }
  }
}

export interface OpsHandlers {
  role: string;
  readiness: () => Promise<Readiness>;
  metrics: BotMetrics;
}

function json(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

/** `/healthz`: the process is up and its event loop turns; nothing outside it is asked (that is /readyz). */
export function answerHealth(res: http.ServerResponse, role: string): void {
  json(res, 200, { ok: true, role });
}

export function answerReady(res: http.ServerResponse, h: OpsHandlers): void {
  h.readiness().then(
    (r) => json(res, r.ready ? 200 : 503, r),
    (err: unknown) => json(res, 503, { ready: false, role: h.role, error: errorText(err) }),
  );
}

export function answerMetrics(res: http.ServerResponse, h: OpsHandlers): void {
  h.metrics.render().then(
    (text) => {
      res.writeHead(200, { 'content-type': h.metrics.contentType });
      res.end(text);
    },
    (err: unknown) => json(res, 500, { error: errorText(err) }),
  );
}

/** The three routes, for Bolt's HTTPReceiver `customRoutes`. */
export function opsRoutes(h: OpsHandlers): { path: string; method: string[]; handler: (req: http.IncomingMessage, res: http.ServerResponse) => void }[] {
  return [
    { path: '/healthz', method: ['GET'], handler: (_req, res) => answerHealth(res, h.role) },
    { path: '/readyz', method: ['GET'], handler: (_req, res) => answerReady(res, h) },
    { path: '/metrics', method: ['GET'], handler: (_req, res) => answerMetrics(res, h) },
  ];
}

/** The same routes on a server of their own: Socket Mode (no HTTP receiver) and worker processes; `extra`: the webhooks. */
export async function startOpsServer(port: number, h: OpsHandlers, extra: ReturnType<typeof opsRoutes> = []): Promise<http.Server> {
  const routes = new Map([...opsRoutes(h), ...extra].map((r) => [r.path, r]));
  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const route = routes.get(path);
    if (!route || !route.method.includes(req.method ?? '')) {
      res.writeHead(404);
      res.end();
      return;
    }
    route.handler(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, () => resolve());
  });
  return server;
}
