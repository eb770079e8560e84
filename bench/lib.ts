import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { createLogger } from '../src/logger.js';
import { deleteStackKeys, FAST_STACK, SANDBOX_CHANNEL, startStack, type Stack, type StackOptions } from '../world/sandbox/stack.js';
import type { SimMessage } from '../world/simulator/slack/types.js';

/** Benchmarks talk to the local Redis only. */
export const REDIS_URL = 'redis://127.0.0.1:6379';
export const CHANNEL = SANDBOX_CHANNEL.id;
/** Silent unless BENCH_LOG_LEVEL says otherwise (e.g. `BENCH_LOG_LEVEL=warn npm run bench` to see what the bot complains about). */
export const silent = createLogger({ level: process.env.BENCH_LOG_LEVEL ?? 'silent' });

export interface MemorySnapshot {
  rssMb: number;
  heapMb: number;
}

/** One line of the printed table. Latencies in ms; figures a benchmark does not measure stay undefined. */
export interface Row {
  bench: string;
  case: string;
  count: number;
  p50?: number;
  p95?: number;
  p99?: number;
  max?: number;
  /** Throughput: `count` per second of the measured wall time. */
  perSec?: number;
  /** Process memory around the measured part; the runner fills in the whole benchmark's when absent. */
  memBefore?: MemorySnapshot;
  memAfter?: MemorySnapshot;
  /** Figures that fit no column (call counts, Redis memory, ns/op), printed under the table. */
  note?: string;
}

export function memory(): MemorySnapshot {
  const m = process.memoryUsage();
  return { rssMb: m.rss / 2 ** 20, heapMb: m.heapUsed / 2 ** 20 };
}

/** Nearest-rank percentile of already sorted samples. */
function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

/** Latency columns of a row from raw samples (ms). */
export function latencies(samples: number[]): Pick<Row, 'p50' | 'p95' | 'p99' | 'max'> {
  const s = [...samples].sort((a, b) => a - b);
  return { p50: percentile(s, 50), p95: percentile(s, 95), p99: percentile(s, 99), max: s.at(-1) ?? NaN };
}

/** High-resolution wall clock in ms. */
export const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Runs `task(i)` for i in [0, count) with at most `concurrency` in flight; resolves with each task's duration (ms). */
export async function timedPool(count: number, concurrency: number, task: (i: number) => Promise<void>): Promise<number[]> {
  const durations = new Array<number>(count);
  let next = 0;
  const lane = async () => {
    while (next < count) {
      const i = next++;
      const t0 = nowMs();
      await task(i);
      durations[i] = nowMs() - t0;
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
  return durations;
}

/** A unique key prefix for one benchmark run, e.g. `bench-coalesce-1a2b3c4d`. */
export function benchPrefix(name: string): string {
  return `bench-${name}-${randomUUID().slice(0, 8)}`;
}

/** Deletes every key of a benchmark prefix: operation records (`{prefix}:*`) and BullMQ queues (`bull:prefix-*`). */
export function deleteKeys(prefix: string): Promise<number> {
  return deleteStackKeys(REDIS_URL, prefix);
}

export type BenchStack = Stack & { prefix: string; cleanup(): Promise<void> };

/** A full simulated world plus the bot, on its own key prefix; `cleanup` stops it and deletes its keys. */
export async function benchStack(name: string, overrides: Partial<StackOptions> = {}): Promise<BenchStack> {
  const prefix = benchPrefix(name);
  const stack = await startStack({
    redisUrl: REDIS_URL,
    redisPrefix: prefix,
    ...FAST_STACK,
    logger: silent,
    ...overrides,
  });
  return Object.assign(stack, {
    prefix,
    async cleanup() {
      try {
        await stack.stop();
      } finally {
        await deleteKeys(prefix);
      }
    },
  });
}

/** The status card of a request: the newest top-level message in the channel that names the prefix. */
export function cardFor(stack: Stack, cidr: string): SimMessage | undefined {
  return stack.slack
    .messages(CHANNEL)
    .filter((m) => !m.threadTs && JSON.stringify(m.blocks).includes(cidr))
    .at(-1);
}

/** The modal values a withdraw / advertise request needs (reason and the confirmation checklist). */
export function requestValues(why: string) {
  return {
    reason: { reason_input: { type: 'plain_text_input', value: why } },
    checklist: { checklist_input: { type: 'checkboxes', selected_options: [{ value: 'confirmed', text: { type: 'mrkdwn', text: 'ok' } }] } },
  };
}

/** `/byoip <kind> <cidr>`, the modal, its submission; resolves with the status card once posted. */
export async function fileRequest(stack: Stack, user: string, kind: 'withdraw' | 'advertise', cidr: string, why: string): Promise<SimMessage> {
  const sender = stack.sender;
  if (!sender) throw new Error('the stack runs no HTTP receiver');
  const before = cardFor(stack, cidr)?.ts;
  const res = await sender.command(user, `${kind} ${cidr}`, { channel: CHANNEL });
  if (res.status !== 200) throw new Error(`/byoip ${kind} answered HTTP ${res.status}`);
  const modal = await stack.slack.waitFor(() => stack.slack.openModal(user), 5000);
  const submit = await sender.submitView(user, modal.id, requestValues(why));
  if (submit.status !== 200) throw new Error(`the request modal answered HTTP ${submit.status}`);
  return stack.slack.waitFor(() => {
    const card = cardFor(stack, cidr);
    return card && card.ts !== before ? card : undefined;
  }, 5000);
}

/** Used memory of the whole Redis server (shared with everyone else using it, so deltas are approximate). */
export async function redisUsedMemory(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  const m = /^used_memory:(\d+)/m.exec(info);
  return m ? Number(m[1]) : NaN;
}

/**
 * `/byoip emergency …` typed by `user`, then the confirm step it opens (not a form an earlier run left open: pass the
 * last one's id); a command the bot refused stops the bench with the bot's own words.
 */
export async function emergencyConfirmStep(stack: Stack, user: string, text: string, run: string, lastModalId: string | null = null): Promise<{ id: string }> {
  const eph = stack.slack.ephemerals(user).length;
  await stack.sender!.command(user, text, { channel: CHANNEL });
  return stack.slack
    .waitFor(() => {
      const m = stack.slack.openModal(user);
      return m && m.id !== lastModalId ? m : undefined;
    }, 5000)
    .catch(() => {
      const said = stack.slack.ephemerals(user).slice(eph).map((e) => e.text).join(' / ');
      throw new Error(`${run}: no confirm step for "${text}"; the bot said: ${said || 'nothing'}`);
    });
}
