import { createHash, randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { OpEvent } from '../domain/events.js';
import type { Operation } from '../domain/operation.js';
import type { OperationStore, OutboxItem } from './store.js';

/** Posts to Slack. Throws DeliveryError; implemented in slack/notifier.ts. */
export interface Notifier {
  /** Posts the card; `seq` goes into the message metadata so a lost answer can be looked up. Returns its ts. */
  postCard(op: Operation, seq: number): Promise<string>;
  updateCard(op: Operation): Promise<void>;
  /** What the card would show now; an update that would show the same is skipped. */
  cardFingerprint(op: Operation): string;
  /** Renders the event and posts it in the operation's thread (metadata carries `seq`). Returns its ts. */
  post(op: Operation, event: OpEvent, seq: number): Promise<string>;
  /** The ts of a message of this operation with this outbox `seq` already in Slack (its answer was lost), if any. */
  findPosted(op: Operation, seq: number): Promise<string | null>;
}

/** Slack asked for a longer wait than is sensible in-process: the deliver job is delayed until `untilMs`. */
export class DeliveryBackoff extends Error {
  constructor(readonly untilMs: number) {
    super(`Slack asked to wait until ${new Date(untilMs).toISOString()}`);
    this.name = 'DeliveryBackoff';
  }
}

export class DeliveryError extends Error {
  constructor(
    message: string,
    /** Slack asked us to wait (429). */
    readonly retryAfterMs: number | null,
    /** Slack said no for good (invalid_blocks, channel_not_found...): retrying the same call cannot help. */
    readonly permanent: boolean,
  ) {
    super(message);
    this.name = 'DeliveryError';
  }
}

export interface DelivererDeps {
  store: OperationStore;
  notifier: Notifier;
  logger: Logger;
  /** Minimum spacing of chat.postMessage per channel (Slack: about one per second). */
  channelIntervalMs: number;
  /** Longest in-process wait for a 429 before handing the job back to the queue. */
  maxInlineWaitMs?: number;
  /** Told when Slack accepted an item, with how long ago it was recorded (metrics). */
  onDelivered?: (item: OutboxItem['kind'], lagMs: number) => void;
}

const LEASE_MS = 5_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits in slices shorter than the drain lease, renewing it, so no second drainer starts meanwhile. */
async function waitRenewing(ms: number, renew: () => Promise<void>): Promise<void> {
  for (let left = ms; left > 0; left -= 1000) {
    await renew();
    await sleep(Math.min(1000, left));
  }
  await renew();
}

/**
 * Drains an operation's outbox in order. Only one drainer per operation runs at a time (a Redis lock), so
 * thread replies and card updates reach Slack in the order they were recorded, across every replica.
 */
export class Deliverer {
  constructor(private deps: DelivererDeps) {}

  async drain(opId: string): Promise<void> {
    const { store } = this.deps;
    const lockKey = store.key('deliver-lock', opId);
    // Short lease, renewed after every item: a crashed drainer blocks its operation's outbox for seconds, not minutes.
    for (let round = 0; round < 1000; round++) {
      const token = randomBytes(8).toString('hex');
      const got = await store.redis.set(lockKey, token, 'PX', LEASE_MS, 'NX');
      if (got !== 'OK') return; // the holder drains; it re-checks after releasing
      try {
        await this.drainLocked(opId, lockKey);
      } finally {
        await store.redis.eval("if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0", 1, lockKey, token);
      }
      if (!(await store.outboxHead(opId))) return;
    }
  }

  private async drainLocked(opId: string, lockKey: string): Promise<void> {
    const { store, logger } = this.deps;
    for (;;) {
      const head = await store.outboxHead(opId);
      if (!head) return;
      if (head.seq <= (await store.lastDelivered(opId))) {
        await store.ackOutbox(opId, head.seq);
        continue;
      }
      const op = await store.get(opId);
      if (!op) {
        await store.ackOutbox(opId, head.seq);
        continue;
      }
      try {
        await this.deliverOne(op, head.seq, head.item, () => store.redis.pexpire(lockKey, LEASE_MS).then(() => undefined));
        if (head.recordedAt !== undefined) this.deps.onDelivered?.(head.item.kind, Date.now() - head.recordedAt);
      } catch (err) {
        if (err instanceof DeliveryError && err.permanent) {
          logger.error({ operationId: opId, err, item: head.item.kind }, 'Slack refused a message for good; dropping it');
          await store.audit({ type: 'delivery_failed', opId, actor: 'system', data: { item: head.item.kind, error: err.message } });
        } else {
          throw err; // the job retries later; the item stays at the head, so order is kept
        }
      }
      await store.ackOutbox(opId, head.seq);
      await store.redis.pexpire(lockKey, LEASE_MS);
    }
  }

  /**
   * Posts one item. A post that was attempted before without an answer (Slack may have accepted it) is first looked
   * up by its metadata, so a reply appears exactly once.
   */
  private async deliverOne(op: Operation, seq: number, item: OutboxItem, renew: () => Promise<void>): Promise<void> {
    const { notifier, store } = this.deps;
    const attemptKey = store.key('deliver-attempt', op.id);
    const posts = item.kind === 'event' || (item.kind === 'card' && !op.cardTs);
    if (posts && (await store.redis.get(attemptKey)) === String(seq)) {
      const ts = await notifier.findPosted(op, seq).catch(() => null);
      if (ts) {
        if (item.kind === 'card') await store.update(op.id, (o) => ({ op: { ...o, cardTs: o.cardTs ?? ts } }));
        await store.audit({ type: 'delivered', opId: op.id, actor: 'system', data: { seq, item: item.kind, ts, found: true } });
        return;
      }
    }
    const delivered = (ts: string) => store.audit({ type: 'delivered', opId: op.id, actor: 'system', data: { seq, item: item.kind, ts, ...(item.kind === 'event' ? { event: item.event.type } : {}) } });
    await this.withRateLimit(op.channel, renew, async () => {
      switch (item.kind) {
        case 'card':
          if (!op.cardTs) {
            await this.pace(op.channel);
            await store.redis.set(attemptKey, String(seq), 'PX', 7 * 86_400_000);
            const ts = await notifier.postCard(op, seq);
            await store.update(op.id, (o) => ({ op: { ...o, cardTs: ts } }));
            await delivered(ts);
          } else {
            const key = store.cardShownKey(op.id);
            const print = createHash('sha1').update(notifier.cardFingerprint(op)).digest('hex');
            if ((await store.redis.get(key)) === print) return; // Slack already shows exactly this
            await notifier.updateCard(op);
            await store.redis.set(key, print, 'PX', 7 * 86_400_000);
          }
          return;
        case 'event': {
          await this.pace(op.channel);
          await store.redis.set(attemptKey, String(seq), 'PX', 7 * 86_400_000);
          await delivered(await notifier.post(op, item.event, seq));
          return;
        }
      }
    });
  }

  private async withRateLimit(channel: string, renew: () => Promise<void>, fn: () => Promise<void>): Promise<void> {
    const max = this.deps.maxInlineWaitMs ?? 30_000;
    const waitKey = this.deps.store.key('slack-wait', channel);
    for (let i = 0; ; i++) {
      // Slack asked this channel to wait (for another operation's post, say): honour it here too.
      const pending = await this.deps.store.redis.pttl(waitKey);
      if (pending > max) throw new DeliveryBackoff(Date.now() + pending);
      if (pending > 0) await waitRenewing(pending, renew);
      try {
        return await fn();
      } catch (err) {
        if (err instanceof DeliveryError && err.retryAfterMs !== null && err.retryAfterMs > 0) {
          // Any Retry-After is honoured: short ones here, long ones by delaying the deliver job.
          await this.deps.store.redis.set(waitKey, '1', 'PX', err.retryAfterMs);
          if (err.retryAfterMs > max || i >= 5) throw new DeliveryBackoff(Date.now() + err.retryAfterMs);
        }
        if (err instanceof DeliveryError && err.retryAfterMs !== null && err.retryAfterMs <= max && i < 5) {
          this.deps.logger.warn({ retryAfterMs: err.retryAfterMs }, 'Slack rate limit; waiting');
          await waitRenewing(err.retryAfterMs, renew);
          continue;
        }
        throw err;
      }
    }
  }

  /** Spaces chat.postMessage per channel across replicas: one slot per interval. */
  private async pace(channel: string): Promise<void> {
    const interval = this.deps.channelIntervalMs;
    if (interval <= 0) return;
    const key = this.deps.store.key('pace', channel);
    for (;;) {
      if ((await this.deps.store.redis.set(key, '1', 'PX', interval, 'NX')) === 'OK') return;
      const ttl = await this.deps.store.redis.pttl(key);
      await sleep(Math.max(5, ttl));
    }
  }
}
