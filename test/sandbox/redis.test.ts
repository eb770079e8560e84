import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { ensureRedis, findOnPath, pingRedis, redactUrl } from '../../world/sandbox/redis.js';

const hasRedisServer = findOnPath('redis-server') !== undefined;

describe('ensureRedis', () => {
  it('uses REDIS_URL when given', async () => {
    const lines: string[] = [];
    const r = await ensureRedis({ url: 'redis://:secret@10.0.0.1:6380', log: (l) => lines.push(l) });
    expect(r.url).toBe('redis://:secret@10.0.0.1:6380');
    expect(lines.join('\n')).not.toContain('secret');
    await r.stop();
  });

  it('uses a Redis that already answers PING', async () => {
    const fake = net.createServer((s) => s.on('data', () => s.write('+PONG\r\n')));
    await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
    const port = (fake.address() as net.AddressInfo).port;
    try {
      const r = await ensureRedis({ log: () => {}, probe: { host: '127.0.0.1', port } });
      expect(r.url).toBe(`redis://127.0.0.1:${port}`);
    } finally {
      fake.close();
    }
  });

  it('says how to install Redis when there is none', async () => {
    await expect(ensureRedis({ log: () => {}, probe: false, pathEnv: '/nonexistent' })).rejects.toThrow(/apt-get install redis-server.*REDIS_URL/);
  });

  it.skipIf(!hasRedisServer)('starts a private redis-server on a free port and stops it', async () => {
    const r = await ensureRedis({ log: () => {}, probe: false });
    const port = Number(new URL(r.url).port);
    expect(await pingRedis('127.0.0.1', port)).toBe(true);
    await r.stop();
    expect(await pingRedis('127.0.0.1', port)).toBe(false);
  });

  it('redacts passwords', () => {
    expect(redactUrl('redis://user:pw@h:1')).toBe('redis://user:***@h:1');
  });
});
