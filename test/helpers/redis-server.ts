import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findOnPath, pingRedis } from '../../world/sandbox/redis.js';

export const hasRedisServer = findOnPath('redis-server') !== undefined;

export interface PrivateRedis {
  url: string;
  port: number;
  dir: string;
  /** Kills the server (SIGKILL by default: a crash, nothing flushed on the way out). */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port and directory (an AOF server reloads its file). */
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * A redis-server of the test's own on a free port: `aof` starts it the way production should run
 * (`--appendonly yes --appendfsync everysec`), otherwise it keeps nothing on disk.
 */
export async function startPrivateRedis(opts: { aof?: boolean } = {}): Promise<PrivateRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'byoip-redis-'));
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--protected-mode', 'yes', '--maxmemory-policy', 'noeviction'];
  args.push(...(opts.aof ? ['--appendonly', 'yes', '--appendfsync', 'everysec'] : ['--appendonly', 'no']));
  let child: ChildProcess | null = null;

  const start = async (): Promise<void> => {
    const c = spawn('redis-server', args, { stdio: 'ignore' });
    child = c;
    const deadline = Date.now() + 5000;
    while (!(await pingRedis('127.0.0.1', port, 200))) {
      if (c.exitCode !== null) throw new Error(`redis-server on port ${port} exited with ${c.exitCode}`);
      if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not answer PING within 5 s`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const kill = async (signal: NodeJS.Signals = 'SIGKILL'): Promise<void> => {
    const c = child;
    child = null;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      c.once('exit', () => resolve());
      c.kill(signal);
    });
  };
  await start();
  return { url: `redis://127.0.0.1:${port}`, port, dir, kill, start, stop: () => kill('SIGKILL') };
}
