import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** What every simulator HTTP handler receives. */
export interface SimRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  rawBody: Buffer;
  params: Record<string, string>;
}

export interface SimResponse {
  status: number;
  headers?: Record<string, string>;
  body?: unknown; // objects are sent as JSON; Buffers and strings as they are
}

export type SimHandler = (req: SimRequest) => Promise<SimResponse> | SimResponse;

interface Route {
  method: string;
  pattern: RegExp;
  keys: string[];
  handler: SimHandler;
}

/** A tiny method + path router: `/accounts/:account_id/addressing/prefixes/:prefix_id`. */
export class Router {
  private routes: Route[] = [];

  on(method: string, path: string, handler: SimHandler): this {
    const keys: string[] = [];
    const pattern = new RegExp(
      '^' +
        path.replace(/[.*+?^${}()|[\]\\]/g, (c) => (c === ':' ? c : `\\${c}`)).replace(/:([A-Za-z_]+)/g, (_m, key: string) => {
          keys.push(key);
          return '([^/]+)';
        }) +
        '/?$',
    );
    this.routes.push({ method: method.toUpperCase(), pattern, keys, handler });
    return this;
  }

  /** Finds the route; `methodMismatch` is true when the path exists under another method. */
  match(method: string, path: string): { handler: SimHandler; params: Record<string, string> } | { methodMismatch: boolean } {
    let methodMismatch = false;
    for (const route of this.routes) {
      const m = route.pattern.exec(path);
      if (!m) continue;
      if (route.method !== method.toUpperCase()) {
        methodMismatch = true;
        continue;
      }
      const params: Record<string, string> = {};
      route.keys.forEach((k, i) => (params[k] = decodeURIComponent(m[i + 1] ?? '')));
      return { handler: route.handler, params };
    }
    return { methodMismatch };
  }
}

export interface RunningServer {
  url: string;
  port: number;
  server: http.Server;
  /** TCP connections accepted so far (clients that reuse connections keep this small). */
  connections: { count: number };
  /**
   * HTTP requests received so far (beside `connections`: how many requests each connection carried), how many are
   * being answered now, and the most at once.
   */
  requests: { count: number; inFlight: number; maxInFlight: number };
  close(): Promise<void>;
}

/** Starts an HTTP server on 127.0.0.1 (port 0 = any free port) serving `handle`. */
export async function startHttpServer(
  handle: (req: http.IncomingMessage, body: Buffer) => Promise<SimResponse>,
  port = 0,
  host = '127.0.0.1',
): Promise<RunningServer> {
  const connections = { count: 0 };
  const requests = { count: 0, inFlight: 0, maxInFlight: 0 };
  const server = http.createServer((req, res) => {
    requests.count += 1;
    requests.inFlight += 1;
    requests.maxInFlight = Math.max(requests.maxInFlight, requests.inFlight);
    res.once('close', () => (requests.inFlight -= 1));
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      handle(req, Buffer.concat(chunks))
        .then((r) => writeResponse(res, r))
        .catch((err: unknown) => writeResponse(res, { status: 500, body: { error: String(err) } }));
    });
  });
  // A realistic keep-alive (Node's clients keep 2 s of margin below the server's hint, so 1 s meant a new TCP
  // connection for every request): idle connections live 65 s, like a typical load balancer's.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.on('connection', () => (connections.count += 1));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const actual = (server.address() as AddressInfo).port;
  return {
    url: `http://${host}:${actual}`,
    port: actual,
    server,
    connections,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Builds a SimRequest from node's request for routers. */
export function toSimRequest(req: http.IncomingMessage, rawBody: Buffer): SimRequest {
  const url = new URL(req.url ?? '/', 'http://sim.local');
  return { method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, headers: req.headers, rawBody, params: {} };
}

function writeResponse(res: http.ServerResponse, r: SimResponse): void {
  if (res.headersSent) return;
  const headers: Record<string, string> = { ...(r.headers ?? {}) };
  let payload: Buffer | string | undefined;
  if (r.body === undefined || r.body === null) payload = undefined;
  else if (Buffer.isBuffer(r.body) || typeof r.body === 'string') payload = r.body;
  else {
    payload = JSON.stringify(r.body);
    headers['content-type'] ??= 'application/json';
  }
  res.writeHead(r.status, headers);
  res.end(payload);
}

/** Parses a JSON body; returns undefined for an empty body and throws SyntaxError for a malformed one. */
export function jsonBody(req: SimRequest): unknown {
  if (req.rawBody.length === 0) return undefined;
  return JSON.parse(req.rawBody.toString('utf8'));
}
