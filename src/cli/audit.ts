/**
 * `npm run audit -- [--since 7d] [--until ISO] [--op ID] [--prefix CIDR]`: the audit stream as JSON lines on stdout,
 * oldest first, for a SIEM. Reads the same environment as the bot (REDIS_URL or REDIS_CLUSTER_NODES,
 * BYOIP_REDIS_PREFIX); needs no Slack or Cloudflare settings. Secrets never reach the audit, and the lines pass the
 * logger's scrubber on the way out all the same.
 */
import { parseArgs } from 'node:util';
import { parseDuration } from '../config.js';
import { parseCidr } from '../domain/cidr.js';
import { scrubSecrets } from '../logger.js';
import { createRedis, parseClusterNodes } from '../redis.js';

const USAGE = 'usage: npm run audit -- [--since 7d|ISO-time] [--until ISO-time] [--op REQUEST_ID] [--prefix CIDR]';

function timeArg(text: string | undefined, name: string): number | undefined {
  if (!text) return undefined;
  if (/^\d+(\.\d+)?\s*(ms|s|m|h|d)$/.test(text)) return Date.now() - parseDuration(text);
  const t = Date.parse(text);
  if (Number.isNaN(t)) throw new Error(`--${name} "${text}" is neither a duration (7d, 12h) nor a date (2026-12-01T00:00:00Z). ${USAGE}`);
  return t;
}

async function main(): Promise<number> {
  let values: { since?: string; until?: string; op?: string; prefix?: string };
  try {
    ({ values } = parseArgs({ options: { since: { type: 'string' }, until: { type: 'string' }, op: { type: 'string' }, prefix: { type: 'string' } }, strict: true }));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}. ${USAGE}\n`);
    return 2;
  }
  let since: number | undefined;
  let until: number | undefined;
  let prefix: string | undefined;
  try {
    since = timeArg(values.since, 'since');
    until = timeArg(values.until, 'until');
    prefix = values.prefix ? parseCidr(values.prefix).text : undefined;
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    return 2;
  }
  const env = process.env;
  const clusterNodes = env.REDIS_CLUSTER_NODES?.trim() ? parseClusterNodes(env.REDIS_CLUSTER_NODES) : undefined;
  const redis = createRedis({ url: env.REDIS_URL ?? 'redis://127.0.0.1:6379', ...(clusterNodes ? { clusterNodes } : {}), maxRetriesPerRequest: 2 });
  redis.on('error', () => undefined);
  const key = `{${env.BYOIP_REDIS_PREFIX ?? 'byoip'}}:audit`;
  let n = 0;
  try {
    let start = since !== undefined ? String(since) : '-';
    const end = until !== undefined ? String(until) : '+';
    // Paged: a long stream never sits in memory whole.
    for (;;) {
      const rows = await redis.xrange(key, start, end, 'COUNT', 1000);
      for (const [id, fields] of rows) {
        const f: Record<string, string> = {};
        for (let i = 0; i < fields.length; i += 2) f[fields[i]!] = fields[i + 1]!;
        const data = f.data ? (JSON.parse(f.data) as Record<string, unknown>) : {};
        if (values.op && f.op !== values.op) continue;
        if (prefix && data.prefix !== prefix && !(await opHasPrefix(redis, env.BYOIP_REDIS_PREFIX ?? 'byoip', f.op ?? '', prefix))) continue;
        process.stdout.write(`${scrubSecrets(JSON.stringify({ id, at: new Date(Number(f.at)).toISOString(), type: f.type, op: f.op, actor: f.actor, data }))}\n`);
        n++;
      }
      if (rows.length < 1000) break;
      start = `(${rows.at(-1)![0]}`;
    }
  } catch (err) {
    process.stderr.write(`Could not read the audit stream from Redis: ${(err as Error).message}\n`);
    return 1;
  } finally {
    redis.disconnect();
  }
  process.stderr.write(`${n} audit line(s)\n`);
  return 0;
}

const prefixOfOp = new Map<string, string | null>();
async function opHasPrefix(redis: ReturnType<typeof createRedis>, keyPrefix: string, opId: string, prefix: string): Promise<boolean> {
  if (!opId || opId === '-') return false;
  if (!prefixOfOp.has(opId)) {
    const json = await redis.hget(`{${keyPrefix}}:op:${opId}`, 'json');
    prefixOfOp.set(opId, json ? ((JSON.parse(json) as { prefix?: string }).prefix ?? null) : null);
  }
  return prefixOfOp.get(opId) === prefix;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`audit export failed: ${(err as Error).message}\n`);
    process.exit(1);
  },
);
