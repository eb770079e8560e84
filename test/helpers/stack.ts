import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { createLogger } from '../../src/logger.js';
import { startStack, SANDBOX_CHANNEL, type Stack, type StackOptions } from '../../src/sandbox/stack.js';
import type { SimMessage } from '../../src/simulator/slack/types.js';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
export const CHANNEL = SANDBOX_CHANNEL.id;

/** A full stack for one test file: fast simulated time, its own Redis key prefix and queues. */
export async function testStack(overrides: Partial<StackOptions> = {}): Promise<Stack & { prefix: string; cleanup(): Promise<void> }> {
  const prefix = `t${randomUUID().slice(0, 8)}`;
  const stack = await startStack({
    redisUrl: REDIS_URL,
    redisPrefix: prefix,
    timeScale: 600,
    pollIntervalMs: 100,
    channelIntervalMs: 0,
    slackRateLimit: false,
    logger: createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    jobLockDurationMs: 2000,
    ...overrides,
  });
  return Object.assign(stack, {
    prefix,
    async cleanup() {
      await stack.stop();
      await deleteKeys(prefix);
    },
  });
}

/** Removes every key of a test's prefix (operation records and BullMQ queues). */
export async function deleteKeys(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL);
  for (const pattern of [`{${prefix}}:*`, `bull:${prefix}-*`]) {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== '0');
  }
  await redis.quit();
}

export const checklist = { checklist: { checklist_input: { type: 'checkboxes', selected_options: [{ value: 'confirmed', text: { type: 'mrkdwn', text: 'ok' } }] } } };

export function reason(text: string) {
  return { reason: { reason_input: { type: 'plain_text_input', value: text } } };
}

/** The status card: the newest top-level bot message in the channel whose header names the prefix. */
export function cardFor(stack: Stack, prefix: string): SimMessage | undefined {
  return stack.slack
    .messages(CHANNEL)
    .filter((m) => !m.threadTs && JSON.stringify(m.blocks).includes(prefix))
    .at(-1);
}

export const texts = (msgs: { text: string }[]) => msgs.map((m) => m.text);
