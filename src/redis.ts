/**
 * One place that builds the bot's Redis connections: a single Redis from a URL, or an ioredis
 * `Cluster` from a node list such as `REDIS_CLUSTER_NODES=10.0.0.1:6379,10.0.0.2:6379`.
 *
 * Redis Cluster and BullMQ (https://docs.bullmq.io/patterns/redis-cluster): BullMQ's Lua scripts
 * touch several keys of one queue at once, and a cluster refuses that (CROSSSLOT) unless all of
 * them hash to one slot. Give every Queue, Worker and QueueEvents a hash-tag prefix, e.g.
 * `prefix: '{byoip}'` (keys become `{byoip}:<queue>:...`), and pass the `Cluster` itself as
 * `connection`. A Worker also needs `maxRetriesPerRequest: null` (BullMQ throws otherwise); the
 * Cluster carries it in `redisOptions`, which is where createRedis puts it. Never set ioredis'
 * `keyPrefix`: BullMQ rejects it.
 */
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';

export type RedisClient = Redis | Cluster;

export interface RedisNode {
  host: string;
  port: number;
}

export interface CreateRedisOptions {
  /** A single Redis, e.g. `redis://:secret@127.0.0.1:6379/0`. Ignored when `clusterNodes` is given. */
  url?: string;
  /** Seed nodes of a Redis Cluster (see parseClusterNodes); ioredis discovers the rest. */
  clusterNodes?: RedisNode[];
  /** `null` for BullMQ workers and other blocking users; unset keeps ioredis' default (20). */
  maxRetriesPerRequest?: number | null;
  lazyConnect?: boolean;
  /** false: a command sent while disconnected fails at once instead of waiting for the reconnect (probes, metrics). */
  enableOfflineQueue?: boolean;
  /** A command that gets no answer within this many ms fails (a Redis that stopped answering). */
  commandTimeout?: number;
  /** Shown by `CLIENT LIST` on the server(s). */
  connectionName?: string;
  /** Cluster credentials (AUTH on every node); a single Redis takes them from its URL. */
  username?: string;
  password?: string;
}

const EXAMPLE = 'e.g. 127.0.0.1:7101,127.0.0.1:7102,127.0.0.1:7103';

/**
 * Parses `host:port,host:port,...` (each entry may also be written `redis://host:port`, and an
 * IPv6 host in brackets, `[::1]:7101`). Blanks around entries and a trailing comma are tolerated;
 * anything else that is not a host and a port 1-65535 is an Error naming the entry.
 */
export function parseClusterNodes(text: string): RedisNode[] {
  const entries = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (entries.length === 0) {
    throw new Error(`The Redis Cluster node list is empty: give host:port pairs separated by commas, ${EXAMPLE}.`);
  }
  const nodes: RedisNode[] = [];
  const seen = new Set<string>();
  for (const entry of entries) {
    const node = parseNode(entry);
    const key = `${node.host}:${node.port}`;
    if (seen.has(key)) throw new Error(`The Redis Cluster node list names ${key} twice; list each host:port once.`);
    seen.add(key);
    nodes.push(node);
  }
  return nodes;
}

function parseNode(entry: string): RedisNode {
  const bad = (why: string) => new Error(`Redis Cluster node "${entry}" ${why}; expected host:port, ${EXAMPLE}.`);
  let rest = entry;
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(rest);
  if (scheme) {
    if (scheme[1]!.toLowerCase() !== 'redis') throw bad(`uses the scheme ${scheme[1]}:// (only redis:// or none is supported)`);
    rest = rest.slice(scheme[0].length).replace(/\/+$/, '');
  }
  if (rest.includes('@')) throw bad('carries credentials (pass username/password to createRedis instead, so they stay out of logs)');
  if (rest.includes('/')) throw bad('has a path or database (a cluster has only database 0)');

  let host: string;
  let portText: string;
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close < 0) throw bad('has an unclosed [ around its IPv6 host');
    host = rest.slice(1, close);
    if (rest[close + 1] !== ':') throw bad('has no port');
    portText = rest.slice(close + 2);
  } else {
    const colon = rest.lastIndexOf(':');
    if (colon < 0) throw bad('has no port');
    host = rest.slice(0, colon);
    portText = rest.slice(colon + 1);
    if (host.includes(':')) throw bad('looks like a bare IPv6 address (write it in brackets, [::1]:7101)');
  }
  if (host === '') throw bad('has no host');
  if (/\s/.test(host)) throw bad('has blanks in its host');
  if (!/^\d{1,5}$/.test(portText)) throw bad(portText === '' ? 'has no port' : `has the port "${portText}", which is not a number`);
  const port = Number(portText);
  if (port < 1 || port > 65535) throw bad(`has the port ${port}, outside 1-65535`);
  return { host, port };
}

/** A standalone `Redis` from `url`, or a `Cluster` when `clusterNodes` is given (it wins over `url`). */
export function createRedis(opts: CreateRedisOptions): RedisClient {
  // Only the options that were given: an explicit `undefined` would override ioredis' defaults.
  const common: Pick<RedisOptions, 'maxRetriesPerRequest' | 'connectionName' | 'commandTimeout'> = {};
  if (opts.maxRetriesPerRequest !== undefined) common.maxRetriesPerRequest = opts.maxRetriesPerRequest;
  if (opts.connectionName !== undefined) common.connectionName = opts.connectionName;
  if (opts.commandTimeout !== undefined) common.commandTimeout = opts.commandTimeout;

  if (opts.clusterNodes !== undefined) {
    if (opts.clusterNodes.length === 0) throw new Error(`createRedis got an empty clusterNodes list: give at least one seed node, ${EXAMPLE}.`);
    const redisOptions: NonNullable<ClusterOptions['redisOptions']> = { ...common };
    if (opts.username !== undefined) redisOptions.username = opts.username;
    if (opts.password !== undefined) redisOptions.password = opts.password;
    const options: ClusterOptions = {
      redisOptions,
      // 'ready' only once CLUSTER INFO says cluster_state:ok, so nothing runs against a half-formed cluster.
      enableReadyCheck: true,
      // BullMQ queues commands issued before the connection is up, and re-issues them after a failover.
      enableOfflineQueue: opts.enableOfflineQueue ?? true,
      // Writes and BullMQ's scripts go to masters; reading from replicas could see stale job state.
      scaleReads: 'master',
      lazyConnect: opts.lazyConnect ?? false,
    };
    return new Cluster(opts.clusterNodes.map((n) => ({ host: n.host, port: n.port })), options);
  }

  if (opts.url === undefined || opts.url === '') {
    throw new Error('createRedis needs either a Redis URL (url) or Redis Cluster nodes (clusterNodes).');
  }
  return new Redis(opts.url, { ...common, lazyConnect: opts.lazyConnect ?? false, ...(opts.enableOfflineQueue !== undefined ? { enableOfflineQueue: opts.enableOfflineQueue } : {}) });
}

/**
 * Connects once, without retrying, and PINGs: resolves when Redis (or every slot of the Cluster) answers within
 * `timeoutMs`, else rejects with the reason (e.g. `connect ECONNREFUSED 127.0.0.1:6379`, `WRONGPASS ...`).
 */
export async function probeRedis(opts: Pick<CreateRedisOptions, 'url' | 'clusterNodes' | 'username' | 'password'>, timeoutMs: number): Promise<void> {
  let lastError: Error | null = null;
  const client: RedisClient =
    opts.clusterNodes !== undefined
      ? new Cluster(
          opts.clusterNodes.map((n) => ({ host: n.host, port: n.port })),
          {
            lazyConnect: true,
            enableOfflineQueue: false,
            clusterRetryStrategy: () => null,
            redisOptions: { connectTimeout: timeoutMs, maxRetriesPerRequest: 0, ...(opts.username ? { username: opts.username } : {}), ...(opts.password ? { password: opts.password } : {}) },
          },
        )
      : new Redis(opts.url ?? '', { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: timeoutMs });
  client.on('error', (err: Error) => (lastError = err));
  try {
    await withTimeout(
      client.connect().then(() => client.ping()),
      timeoutMs,
      'Redis',
    );
  } catch (err) {
    const why = lastError ?? (err as Error);
    throw new Error(why.message || String(why), { cause: why });
  } finally {
    client.disconnect();
  }
}

/**
 * Logs a connection's trouble once per outage (warn) and its return (info), instead of one stack trace per reconnect
 * attempt.
 */
export function watchConnection(client: RedisClient, log: { warn(obj: object, msg: string): void; info(obj: object, msg: string): void; debug(obj: object, msg: string): void }, name: string): void {
  let down = false;
  client.on('error', (err: Error) => {
    if (down) return log.debug({ connection: name, err: err.message }, 'redis still unreachable');
    down = true;
    log.warn({ connection: name, err: err.message }, 'redis connection lost; reconnecting');
  });
  client.on('ready', () => {
    if (!down) return;
    down = false;
    log.info({ connection: name }, 'redis connection back');
  });
}

const CONNECTION_ERRORS = /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|ENOTFOUND|EHOSTUNREACH|Connection is closed|Stream isn't writeable|connect ETIMEDOUT|socket closed/i;

/** True for errors that only say the connection to Redis is down (they repeat on every reconnect attempt). */
export function isConnectionError(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  return CONNECTION_ERRORS.test(`${String(e?.code ?? '')} ${String(e?.message ?? err)}`);
}

/** `p`, or a rejection naming `what` when it does not settle within `ms`. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** Whether `p` settled (either way) within `ms`; never rejects. */
export async function settledWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([p.then(() => true, () => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A short description for logs, without credentials: `redis cluster a:1,b:2` or `redis redis://host:6379/0`. */
export function describeRedis(opts: Pick<CreateRedisOptions, 'url' | 'clusterNodes'>): string {
  if (opts.clusterNodes !== undefined) {
    return `redis cluster ${opts.clusterNodes.map((n) => (n.host.includes(':') ? `[${n.host}]:${n.port}` : `${n.host}:${n.port}`)).join(',')}`;
  }
  if (opts.url === undefined || opts.url === '') return 'redis (not configured)';
  try {
    const u = new URL(opts.url);
    if (u.password !== '') u.password = '***';
    return `redis ${u.toString()}`;
  } catch {
    return 'redis (unparsable URL)';
  }
}

/** True for an ioredis `Cluster` (e.g. to fan a SCAN out over `client.nodes('master')`). */
export function isCluster(client: RedisClient): client is Cluster {
  return client.isCluster;
}
