/**
 * src/redis.ts: the node-list parser and log description (no Redis needed), and, when
 * REDIS_CLUSTER_NODES names a real Redis Cluster (CI starts one with .ci/redis-cluster.sh), plain
 * commands, a same-slot Lua script and a BullMQ Queue/Worker round trip through ioredis' Cluster.
 */
import { randomUUID } from 'node:crypto';
import { Queue, Worker } from 'bullmq';
import { Redis, type Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedis, describeRedis, isCluster, parseClusterNodes, type RedisNode } from '../../src/redis.js';

describe('parseClusterNodes', () => {
  it('reads host:port lists, with or without redis://, blanks and a trailing comma', () => {
    expect(parseClusterNodes('127.0.0.1:7101,127.0.0.1:7102,127.0.0.1:7103')).toEqual([
      { host: '127.0.0.1', port: 7101 },
      { host: '127.0.0.1', port: 7102 },
      { host: '127.0.0.1', port: 7103 },
    ]);
    expect(parseClusterNodes('redis://redis-a:6379, redis://redis-b.internal:6380/ ,')).toEqual([
      { host: 'redis-a', port: 6379 },
      { host: 'redis-b.internal', port: 6380 },
    ]);
    expect(parseClusterNodes('[::1]:7101,redis://[fd00::2]:7102')).toEqual([
      { host: '::1', port: 7101 },
      { host: 'fd00::2', port: 7102 },
    ]);
    expect(parseClusterNodes('REDIS://localhost:1')).toEqual([{ host: 'localhost', port: 1 }]);
  });

  it.each([
    ['', /node list is empty/],
    [' , ,', /node list is empty/],
    ['127.0.0.1', /"127.0.0.1" has no port/],
    ['127.0.0.1:', /"127.0.0.1:" has no port/],
    [':7101', /":7101" has no host/],
    ['redis://:7101', /"redis:\/\/:7101" has no host/],
    ['127.0.0.1:abc', /has the port "abc", which is not a number/],
    ['127.0.0.1:-1', /has the port "-1", which is not a number/],
    ['127.0.0.1:0', /has the port 0, outside 1-65535/],
    ['127.0.0.1:65536', /has the port 65536, outside 1-65535/],
    ['127.0.0.1:7101,127.0.0.1:99999', /"127.0.0.1:99999" has the port 99999/],
    ['rediss://127.0.0.1:7101', /uses the scheme rediss:\/\//],
    ['redis://:secret@127.0.0.1:7101', /carries credentials/],
    ['redis://127.0.0.1:7101/2', /has a path or database/],
    ['::1:7101', /bare IPv6 address/],
    ['[::1:7101', /unclosed \[/],
    ['[::1]', /has no port/],
    ['my host:7101', /blanks in its host/],
    ['a:1,a:1', /names a:1 twice/],
  ])('rejects %j with a sentence saying what is wrong', (text, message) => {
    expect(() => parseClusterNodes(text)).toThrow(message);
    // Every message ends with what was expected, so the operator can fix the variable.
    expect(() => parseClusterNodes(text)).toThrow(/host:port/);
  });
});

describe('describeRedis', () => {
  it('names the cluster nodes or the URL, never a password', () => {
    expect(describeRedis({ clusterNodes: parseClusterNodes('10.0.0.1:7101,[::1]:7102') })).toBe('redis cluster 10.0.0.1:7101,[::1]:7102');
    expect(describeRedis({ url: 'redis://:hunter2@redis.internal:6379/3' })).toBe('redis redis://:***@redis.internal:6379/3');
    expect(describeRedis({ url: 'redis://bot:hunter2@redis.internal:6379' })).not.toContain('hunter2');
    expect(describeRedis({ url: 'redis://127.0.0.1:6379' })).toBe('redis redis://127.0.0.1:6379');
    expect(describeRedis({ url: 'not a url :hunter2@' })).toBe('redis (unparsable URL)');
    expect(describeRedis({})).toBe('redis (not configured)');
  });
});

describe('createRedis (no connection: lazyConnect)', () => {
  it('builds a Cluster with the options on redisOptions when clusterNodes are given, else a Redis', () => {
    const cluster = createRedis({ clusterNodes: [{ host: '127.0.0.1', port: 1 }], url: 'redis://127.0.0.1:6379', maxRetriesPerRequest: null, lazyConnect: true, connectionName: 'byoip-test', password: 'pw' });
    expect(isCluster(cluster)).toBe(true);
    const c = cluster as Cluster;
    expect(c.options.redisOptions).toMatchObject({ maxRetriesPerRequest: null, connectionName: 'byoip-test', password: 'pw' });
    expect(c.options).toMatchObject({ enableReadyCheck: true, lazyConnect: true, scaleReads: 'master' });
    expect(c.options.keyPrefix).toBeUndefined(); // BullMQ refuses ioredis keyPrefix
    cluster.disconnect();

    const single = createRedis({ url: 'redis://127.0.0.1:6379', lazyConnect: true });
    expect(isCluster(single)).toBe(false);
    expect((single as Redis).options.maxRetriesPerRequest).toBe(20); // unset keeps ioredis' default
    single.disconnect();
  });

  it('refuses an empty node list and a missing URL', () => {
    expect(() => createRedis({ clusterNodes: [] })).toThrow(/empty clusterNodes list/);
    expect(() => createRedis({})).toThrow(/needs either a Redis URL/);
  });
});

const CLUSTER_NODES = process.env.REDIS_CLUSTER_NODES;

describe.skipIf(!CLUSTER_NODES)('Redis Cluster at REDIS_CLUSTER_NODES (skipped when unset; .ci/redis-cluster.sh starts one)', () => {
  const nodes: RedisNode[] = CLUSTER_NODES ? parseClusterNodes(CLUSTER_NODES) : [];
  const run = `t-${randomUUID().slice(0, 8)}`; // every key of this file contains it
  let cluster: Cluster;

  /** Keys matching `pattern` on every master (SCAN is per node in a cluster). */
  async function keysOnMasters(pattern: string): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    for (const node of cluster.nodes('master')) {
      const found: string[] = [];
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
        cursor = next;
        found.push(...keys);
      } while (cursor !== '0');
      out.set(`${node.options.host}:${node.options.port}`, found);
    }
    return out;
  }

  beforeAll(async () => {
    cluster = createRedis({ clusterNodes: nodes, maxRetriesPerRequest: 3, connectionName: 'byoip-test-cluster' }) as Cluster;
    await cluster.ping(); // queued until the cluster is ready (slots known, cluster_state:ok)
  });

  afterAll(async () => {
    if (!cluster) return;
    for (const keys of (await keysOnMasters(`*${run}*`)).values()) {
      for (const key of keys) await cluster.unlink(key); // one key per command: no CROSSSLOT
    }
    const left = [...(await keysOnMasters(`*${run}*`)).values()].flat();
    await cluster.quit();
    expect(left).toEqual([]);
  });

  it('CLUSTER INFO on one node says ok, with every slot assigned', async () => {
    const node = new Redis({ host: nodes[0]!.host, port: nodes[0]!.port, maxRetriesPerRequest: 2 });
    try {
      const info = await node.cluster('INFO');
      expect(info).toMatch(/^cluster_state:ok\r?$/m);
      expect(info).toMatch(/^cluster_slots_assigned:16384\r?$/m);
    } finally {
      await node.quit();
    }
    expect(cluster.nodes('master').length).toBeGreaterThanOrEqual(nodes.length >= 3 ? 3 : 1);
  });

  it('SET/GET on keys of many hash tags, spread over the masters', async () => {
    const keys = Array.from({ length: 12 }, (_, i) => `{${run}-${i}}:value`);
    for (const [i, key] of keys.entries()) expect(await cluster.set(key, `v${i}`, 'EX', 300)).toBe('OK');
    for (const [i, key] of keys.entries()) expect(await cluster.get(key)).toBe(`v${i}`);

    const where = await keysOnMasters(`{${run}-*}:value`);
    expect([...where.values()].flat().sort()).toEqual([...keys].sort());
    if (cluster.nodes('master').length > 1) {
      // 12 tags on one master of several: (1/3)^11, i.e. this really is sharded.
      expect([...where.values()].filter((k) => k.length > 0).length).toBeGreaterThan(1);
    }
  });

  it('runs a Lua script over two keys of one hash tag, and a cluster refuses two tags of different slots', async () => {
    const a = `{${run}-lua}:a`;
    const b = `{${run}-lua}:b`;
    const script = "redis.call('SET', KEYS[1], ARGV[1]); redis.call('INCRBY', KEYS[2], ARGV[2]); return {redis.call('GET', KEYS[1]), redis.call('GET', KEYS[2])}";
    expect(await cluster.eval(script, 2, a, b, 'x', 5)).toEqual(['x', '5']);
    expect(await cluster.eval(script, 2, a, b, 'y', 2)).toEqual(['y', '7']);

    // Two untagged keys that hash to different slots: the reason BullMQ needs a hash-tag prefix.
    const c = `${run}-lua:c`;
    const d = `${run}-lua:d`;
    expect(await cluster.cluster('KEYSLOT', c)).not.toBe(await cluster.cluster('KEYSLOT', d));
    await expect(cluster.eval(script, 2, c, d, 'x', 1)).rejects.toThrow(/CROSSSLOT/);
  });

  it('BullMQ: a Queue and a Worker with a hash-tag prefix and the Cluster as connection process a job', async () => {
    const prefix = `{${run}-bull}`;
    const queueConnection = createRedis({ clusterNodes: nodes, maxRetriesPerRequest: null, connectionName: 'byoip-test-queue' });
    const workerConnection = createRedis({ clusterNodes: nodes, maxRetriesPerRequest: null, connectionName: 'byoip-test-worker' });
    const queue = new Queue('roundtrip', { connection: queueConnection, prefix });
    const worker = new Worker<{ n: number }, { doubled: number }>('roundtrip', async (job) => ({ doubled: job.data.n * 2 }), { connection: workerConnection, prefix, autorun: false });
    try {
      const completed = new Promise<{ id: string | undefined; value: { doubled: number } }>((resolve, reject) => {
        worker.on('completed', (job, value) => resolve({ id: job.id, value }));
        worker.on('failed', (_job, err) => reject(err));
        worker.on('error', reject);
      });
      void worker.run();
      const job = await queue.add('double', { n: 21 });
      expect(await completed).toEqual({ id: job.id, value: { doubled: 42 } });
      expect((await queue.getJob(job.id!))?.returnvalue).toEqual({ doubled: 42 });
      expect(await queue.getJobCounts('completed', 'failed', 'wait', 'active')).toEqual({ completed: 1, failed: 0, wait: 0, active: 0 });

      // Every key of the queue is in the one slot of its hash tag.
      const keys = [...(await keysOnMasters(`${prefix}:roundtrip:*`)).values()].flat();
      expect(keys.length).toBeGreaterThan(0);
      const slots = new Set(await Promise.all(keys.map((k) => cluster.cluster('KEYSLOT', k))));
      expect([...slots]).toEqual([await cluster.cluster('KEYSLOT', prefix)]);
    } finally {
      await worker.close();
      await queue.obliterate({ force: true });
      await queue.close();
      await Promise.all([queueConnection.quit(), workerConnection.quit()]);
    }
  });

  it('BullMQ: a Worker refuses a Cluster whose redisOptions.maxRetriesPerRequest is not null', async () => {
    const connection = createRedis({ clusterNodes: nodes, maxRetriesPerRequest: 3, lazyConnect: true });
    try {
      expect(() => new Worker('refused', async () => undefined, { connection, prefix: `{${run}-refused}`, autorun: false })).toThrow(/maxRetriesPerRequest must be null/);
    } finally {
      connection.disconnect();
    }
  });

  it('BullMQ: without a hash-tag prefix adding a job fails with CROSSSLOT', async () => {
    const connection = createRedis({ clusterNodes: nodes, maxRetriesPerRequest: null });
    const queue = new Queue(`${run}-nohash`, { connection, prefix: `${run}-nohash` });
    try {
      await expect(queue.add('x', {})).rejects.toThrow(/CROSSSLOT/);
    } finally {
      await queue.close();
      await connection.quit();
    }
  });
});
