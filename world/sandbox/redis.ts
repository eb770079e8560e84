import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

export interface SandboxRedis {
  url: string;
  /** Stops the private redis-server this started (a no-op for a Redis that was already there). */
  stop(): Promise<void>;
}

export class RedisUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RedisUnavailableError';
  }
}

/** Answers whether a Redis at host:port replies +PONG to PING within `timeoutMs`. */
export function pingRedis(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.createConnection({ host, port });
    let reply = '';
    const finish = (ok: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    socket.once('connect', () => socket.write('*1\r\n$4\r\nPING\r\n'));
    socket.on('data', (d: Buffer) => {
      reply += d.toString('utf8');
      if (reply.includes('\r\n')) finish(reply.startsWith('+PONG'));
    });
    socket.once('error', () => finish(false));
  });
}

/** Finds an executable on PATH. */
export function findOnPath(name: string, pathEnv = process.env.PATH ?? ''): string | undefined {
  for (const dir of pathEnv.split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 3000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/**
 * A Redis for the sandbox: `opts.url` (REDIS_URL) when given; else one already answering on
 * 127.0.0.1:6379; else a private, non-persistent `redis-server` on a free port, stopped by `stop()`
 * or when this process exits; else an error that says how to get one.
 */
export async function ensureRedis(opts: {
  url?: string;
  log: (line: string) => void;
  /** For tests: where to look for a running Redis and how to find redis-server. */
  probe?: { host: string; port: number } | false;
  redisServer?: string;
  pathEnv?: string;
}): Promise<SandboxRedis> {
  const noop = async (): Promise<void> => {};
  if (opts.url) {
    opts.log(`Redis: using ${redactUrl(opts.url)} (REDIS_URL)`);
    return { url: opts.url, stop: noop };
  }
  const probe = opts.probe === undefined ? { host: '127.0.0.1', port: 6379 } : opts.probe;
  if (probe && (await pingRedis(probe.host, probe.port))) {
    const url = `redis://${probe.host}:${probe.port}`;
    opts.log(`Redis: using the one already running at ${url}`);
    return { url, stop: noop };
  }
  const bin = opts.redisServer ?? findOnPath('redis-server', opts.pathEnv);
  if (!bin) {
    throw new RedisUnavailableError(
      'The sandbox needs Redis, and none is running on 127.0.0.1:6379 and redis-server is not on PATH. ' +
        'Install it (Debian/Ubuntu: `sudo apt-get install redis-server`, macOS: `brew install redis`) or point REDIS_URL at a Redis you have.',
    );
  }
  const port = await freePort();
  const child = spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'yes'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
  const onExit = (): void => {
    child.kill('SIGTERM');
  };
  process.once('exit', onExit);

  const deadline = Date.now() + 5000;
  for (;;) {
    const failed = await Promise.race([spawnError, new Promise<undefined>((r) => setTimeout(() => r(undefined), 50))]);
    if (failed) {
      process.removeListener('exit', onExit);
      throw new RedisUnavailableError(`Could not start ${bin}: ${failed.message}. Install redis-server or set REDIS_URL.`);
    }
    if (child.exitCode !== null) {
      process.removeListener('exit', onExit);
      throw new RedisUnavailableError(`${bin} exited with code ${child.exitCode}: ${stderr.trim().split('\n').pop() ?? ''}. Set REDIS_URL to use another Redis.`);
    }
    if (await pingRedis('127.0.0.1', port)) break;
    if (Date.now() > deadline) {
      process.removeListener('exit', onExit);
      await stopChild(child);
      throw new RedisUnavailableError(`${bin} did not answer PING on port ${port} within 5 s. Set REDIS_URL to use another Redis.`);
    }
  }
  const url = `redis://127.0.0.1:${port}`;
  opts.log(`Redis: started a private redis-server at ${url} (no persistence; stopped on exit)`);
  return {
    url,
    stop: async () => {
      process.removeListener('exit', onExit);
      await stopChild(child);
    },
  };
}

/** Hides a password in a redis URL for logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}
