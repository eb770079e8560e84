import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { REDIS_URL } from './stack.js';

/** A TCP proxy to the test Redis that can stop passing commands on (Redis stops answering) and resume. */
export async function pausableRedisProxy(target: URL = new URL(REDIS_URL)) {
  let paused = false;
  const held: { upstream: net.Socket; data: Buffer }[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 6379), target.hostname);
    sockets.add(client).add(upstream);
    client.on('data', (data: Buffer) => (paused ? held.push({ upstream, data }) : upstream.write(data)));
    upstream.on('data', (data: Buffer) => client.write(data));
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.on('error', () => undefined);
    upstream.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `redis://127.0.0.1:${(server.address() as AddressInfo).port}`,
    pause: () => void (paused = true),
    resume: () => {
      paused = false;
      for (const h of held.splice(0)) h.upstream.write(h.data);
    },
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}

