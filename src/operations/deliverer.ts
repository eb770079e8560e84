import { createHash, randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { isThreadWorthy, type OpEvent } from '../domain/events.js';
import type { Operation } from '../domain/operation.js';
import { batchOutcome, batchThreadWorthy, type EmergencyBatch } from '../domain/batch.js';
import type { OperationStore, OutboxItem } from './store.js';

/** The lines a multi-prefix emergency posts once for all its prefixes (rendered by the Slack layer). */
export type BatchLine = 'break_glass' | 'sent' | 'verdict';

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
  /** A multi-prefix emergency: its one card (metadata: the batch id, seq 0). Returns its ts. */
  postBatchCard(batch: EmergencyBatch, children: Operation[]): Promise<string>;
  updateBatchCard(batch: EmergencyBatch, children: Operation[]): Promise<void>;
  batchCardFingerprint(batch: EmergencyBatch, children: Operation[]): string;
  /** One of the batch's own thread lines (the alarm, all sent, the verdict). Returns its ts. */
  postBatchLine(batch: EmergencyBatch, children: Operation[], line: BatchLine): Promise<string>;
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
    const batchId = (await store.get(opId))?.batch;
    if (batchId) return this.drainBatch(batchId);
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

  /**
   * A multi-prefix emergency: one drainer for the whole batch (its one card and thread), draining every prefix's
   * outbox in turn (each in order); once all are empty, the batch's own lines (all sent, the verdict) are posted,
   * so the verdict is the thread's last line.
   */
  private async drainBatch(batchId: string): Promise<void> {
    const { store } = this.deps;
    const lockKey = store.key('deliver-lock', `batch-${batchId}`);
    const batch = await store.getBatch(batchId);
    if (!batch) return;
    const pending = async () => (await Promise.all(batch.children.map((c) => store.outboxHead(c.opId)))).some(Boolean);
    for (let round = 0; round < 1000; round++) {
      const token = randomBytes(8).toString('hex');
      const got = await store.redis.set(lockKey, token, 'PX', LEASE_MS, 'NX');
      if (got !== 'OK') return;
      try {
        for (let pass = 0; pass < 1000; pass++) {
          let any = false;
          for (const c of batch.children) {
            if (!(await store.outboxHead(c.opId))) continue;
            any = true;
            await this.drainLocked(c.opId, lockKey);
          }
          if (!any) break;
        }
        await this.batchLines(batchId, () => store.redis.pexpire(lockKey, LEASE_MS).then(() => undefined));
      } finally {
        await store.redis.eval("if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0", 1, lockKey, token);
      }
      if (!(await pending())) return;
    }
  }

  private async batchContext(batchId: string): Promise<{ batch: EmergencyBatch; children: Operation[] } | null> {
    const batch = await this.deps.store.getBatch(batchId);
    if (!batch) return null;
    const children = (await Promise.all(batch.children.map((c) => this.deps.store.get(c.opId)))).filter((o): o is Operation => o !== null);
    return { batch, children };
  }

  /** The batch's "all sent" and verdict lines, each once (a marker taken before the post, given back if it fails). */
  private async batchLines(batchId: string, renew: () => Promise<void>): Promise<void> {
    const { store, notifier } = this.deps;
    const ctx = await this.batchContext(batchId);
    if (!ctx?.batch.cardTs) return;
    const out = batchOutcome(ctx.children);
    const lines: BatchLine[] = [...(out.allSent ? (['sent'] as const) : []), ...(out.finished ? (['verdict'] as const) : [])];
    for (const line of lines) {
      const key = store.key('batch-line', batchId, line);
      if ((await store.redis.get(key)) !== null) continue;
      await this.withRateLimit(ctx.batch.channel, renew, async () => {
        await this.pace(ctx.batch.channel);
        await store.redis.set(key, '1', 'PX', 7 * 86_400_000);
        try {
          const ts = await notifier.postBatchLine(ctx.batch, ctx.children, line);
          await store.audit({ type: 'delivered', opId: ctx.children[0]?.id ?? '-', actor: 'system', data: { batch: batchId, item: `batch_${line}`, ts } });
        } catch (err) {
          await store.redis.del(key);
          throw err;
        }
      });
    }
  }

  /** The batch card as it should look now (posted once, then updated; an unchanged card is not sent again). */
  private async refreshBatchCard(ctx: { batch: EmergencyBatch; children: Operation[] }): Promise<EmergencyBatch> {
    const { store, notifier } = this.deps;
    let { batch } = ctx;
    const key = store.cardShownKey(`batch-${batch.id}`);
    const print = createHash('sha1').update(notifier.batchCardFingerprint(batch, ctx.children)).digest('hex');
    if (!batch.cardTs) {
      const attemptKey = store.key('deliver-attempt', `batch-${batch.id}`);
      let ts: string | null = null;
      if ((await store.redis.get(attemptKey)) !== null) ts = await notifier.findPosted({ id: batch.id, channel: batch.channel, cardTs: null } as Operation, 0).catch(() => null);
      if (!ts) {
        await this.pace(batch.channel);
        await store.redis.set(attemptKey, '0', 'PX', 7 * 86_400_000);
        ts = await notifier.postBatchCard(batch, ctx.children);
      }
      batch = (await store.setBatchCardTs(batch.id, ts)) ?? { ...batch, cardTs: ts };
      await store.redis.set(key, print, 'PX', 7 * 86_400_000);
      await store.audit({ type: 'delivered', opId: ctx.children[0]?.id ?? '-', actor: 'system', data: { batch: batch.id, item: 'batch_card', ts } });
      return batch;
    }
    if ((await store.redis.get(key)) === print) return batch;
    await notifier.updateBatchCard(batch, ctx.children);
    await store.redis.set(key, print, 'PX', 7 * 86_400_000);
    return batch;
  }

  /**
   * One item of a prefix of a batch: the card is the batch's; an event earns a thread reply only when it changes the
   * picture (batchThreadWorthy: warnings, contested or failed endings), otherwise it is folded into the card's line.
   */
  private async deliverBatchItem(op: Operation, seq: number, item: OutboxItem, renew: () => Promise<void>): Promise<void> {
    const { notifier, store } = this.deps;
    const ctx = await this.batchContext(op.batch!);
    if (!ctx) return;
    await this.withRateLimit(ctx.batch.channel, renew, async () => {
      const batch = await this.refreshBatchCard(ctx);
      if (item.kind !== 'event') return;
      const event = item.event;
      if (event.type === 'break_glass') {
        const key = store.key('batch-line', batch.id, 'break_glass');
        if ((await store.redis.get(key)) !== null) return;
        await this.pace(batch.channel);
        await store.redis.set(key, '1', 'PX', 7 * 86_400_000);
        try {
          const ts = await notifier.postBatchLine(batch, ctx.children, 'break_glass');
          await store.audit({ type: 'delivered', opId: op.id, actor: 'system', data: { seq, batch: batch.id, item: 'batch_break_glass', ts } });
        } catch (err) {
          await store.redis.del(key);
          throw err;
        }
        return;
      }
      // The review is said once, by the first prefix (Mark reviewed reviews them all).
      if (!batchThreadWorthy(event) && !(event.type === 'reviewed' && op.id === batch.children[0]?.opId)) return;
      const inThread = { ...op, cardTs: batch.cardTs, channel: batch.channel };
      const attemptKey = store.key('deliver-attempt', op.id);
      if ((await store.redis.get(attemptKey)) === String(seq)) {
        const ts = await notifier.findPosted(inThread, seq).catch(() => null);
        if (ts) return;
      }
      await this.pace(batch.channel);
      await store.redis.set(attemptKey, String(seq), 'PX', 7 * 86_400_000);
      const ts = await notifier.post(inThread, event, seq);
      await store.audit({ type: 'delivered', opId: op.id, actor: 'system', data: { seq, item: 'event', ts, event: event.type, batch: batch.id } });
    });
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
        const folded = head.item.kind === 'event' && !op.batch && !isThreadWorthy(head.item.event);
        await this.deliverOne(op, head.seq, head.item, () => store.redis.pexpire(lockKey, LEASE_MS).then(() => undefined));
        // A folded progress event was never sent to Slack: not a delivery for the lag metric.
        if (head.recordedAt !== undefined && !folded) this.deps.onDelivered?.(head.item.kind, Date.now() - head.recordedAt);
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
    if (op.batch) return this.deliverBatchItem(op, seq, item, renew);
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
          // Progress only: no reply. The card item recorded with it (every event is followed by one) shows it.
          if (!isThreadWorthy(item.event)) return;
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
