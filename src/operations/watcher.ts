import type { Logger } from 'pino';
import type { VerdictEvent } from '../domain/events.js';
import { withRequestClass } from '../cloudflare/request-class.js';
import { transition, type Operation, type OperationState } from '../domain/operation.js';
import { userMessageOf } from '../errors.js';
import { kindOf, type KindDeps } from '../kinds/index.js';
import { listKeysOf } from '../kinds/lookup.js';
import type { VerifyStep } from '../kinds/types.js';
import type { Dispatcher } from './ports.js';
import { CARD, eventItem, type OperationStore, type OutboxItem } from './store.js';

export interface WatcherDeps {
  store: OperationStore;
  kinds: KindDeps;
  dispatcher: Dispatcher;
  logger: Logger;
  pollIntervalMs: number;
  timeoutMs: number;
  /** Consecutive ticks whose reads fail before the watch closes as not confirmed (a revoked token, say). */
  maxReadFailures: number;
  now?: () => number;
  /** Told once a verdict is recorded (the drift check takes what Cloudflare shows then as what the bot set). */
  onFinished?: (op: Operation) => Promise<void>;
}

export type TickResult = { done: true } | { done: false; nextDelayMs: number };

const STATE_OF: Record<VerdictEvent['verdict'], OperationState> = { done: 'done', contested: 'contested', unconfirmed: 'unconfirmed', failed: 'failed' };


/**
 * Follows a change of any kind until a verdict: one tick per call, the kind's `verify` says what it saw. The watch
 * always ends: a verdict from the kind, `unconfirmed` at the timeout (with what was last seen), or `unconfirmed` after
 * too many failed reads in a row. Reads are coalesced by the kinds, so every watcher of a prefix shares one per tick.
 */
export class Watcher {
  private now: () => number;

  constructor(private deps: WatcherDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** One tick; its Cloudflare reads count as `change` in the request budget (they verify an approved change). */
  tick(opId: string, gen?: number): Promise<TickResult> {
    return withRequestClass('change', () => this.tickOnce(opId, gen));
  }

  private async tickOnce(opId: string, gen?: number): Promise<TickResult> {
    const op = await this.deps.store.get(opId);
    if (!op || op.state !== 'verifying' || !op.watch) return { done: true };
    if (gen !== undefined && op.jobs.watch !== gen) return { done: true }; // a stale job of an older generation
    const w = op.watch;
    const elapsed = this.now() - w.startedAt;
    const timeoutMs = kindOf(op.kind).watchTimeoutMs?.(this.deps.kinds) ?? this.deps.timeoutMs;
    if (elapsed > timeoutMs) {
      await this.finish(op, { type: 'verdict', verdict: 'unconfirmed', step: 'timeout', facts: { latest: w.latest, timeoutMs, elapsedMs: elapsed } });
      return { done: true };
    }

    let step: VerifyStep;
    try {
      step = await kindOf(op.kind).verify(this.deps.kinds, op);
    } catch (err) {
      const why = userMessageOf(err);
      const failures = w.readFailures + 1;
      this.deps.logger.warn({ operationId: opId, failures, err }, 'watch read failed');
      if (failures >= this.deps.maxReadFailures) {
        await this.finish(op, { type: 'verdict', verdict: 'unconfirmed', step: 'read_failures', facts: { why, failures, latest: w.latest } });
        return { done: true };
      }
      const notify = w.lastError !== why ? [eventItem({ type: 'read_error', why, retryEveryMs: this.deps.pollIntervalMs, failures })] : [];
      await this.patch(op, { readFailures: failures, lastError: why }, notify);
      return { done: false, nextDelayMs: this.deps.pollIntervalMs };
    }

    const watchPatch = {
      readFailures: 0,
      lastError: null,
      samples: w.samples + (step.sampled ? 1 : 0),
      ...(step.latest !== undefined ? { latest: step.latest } : {}),
      ...(step.escalated ? { escalated: true } : {}),
      data: { ...w.data, ...(step.data ?? {}) },
    };
    const events = step.events.map(eventItem);
    if (step.verdict) {
      await this.finish({ ...op, watch: { ...w, ...watchPatch } }, { type: 'verdict', ...step.verdict }, events);
      return { done: true };
    }
    const cardChanged = step.latest !== undefined && step.latest !== w.latest;
    await this.patch(op, watchPatch, events, cardChanged);
    // Each sample, compact, in the audit: what the bot saw and when.
    if (step.sampled && step.latest !== undefined) await this.deps.store.audit({ type: 'sample', opId, actor: 'system', data: { n: watchPatch.samples, latest: step.latest.slice(0, 300) } });
    if (step.nextDelayMs === 0) return this.tickOnce(opId, gen);
    return { done: false, nextDelayMs: step.nextDelayMs ?? this.deps.pollIntervalMs };
  }

  private async patch(op: Operation, patch: Partial<NonNullable<Operation['watch']>>, notify: OutboxItem[], cardChanged = false): Promise<void> {
    const items: OutboxItem[] = notify.length || cardChanged ? [...notify, CARD] : [];
    await this.deps.store.update(op.id, (o) => (o.state !== 'verifying' || !o.watch ? { op: o } : { op: { ...o, watch: { ...o.watch, ...patch }, updatedAt: this.now() }, notify: items }));
    if (items.length) await this.deps.dispatcher.deliver(op.id);
  }

  private async finish(op: Operation, verdict: VerdictEvent, before: OutboxItem[] = []): Promise<void> {
    const res = await this.deps.store.update(op.id, (o) =>
      o.state !== 'verifying'
        ? { op: o }
        : {
            op: transition(o, STATE_OF[verdict.verdict], this.now(), { watch: op.watch, final: verdict }),
            notify: [...before, eventItem(verdict), CARD],
            audit: [{ type: verdict.verdict, opId: op.id, actor: 'system', data: { step: verdict.step, ...verdict.facts } }],
          },
    );
    await this.deps.kinds.reader.invalidate(...listKeysOf(op));
    await this.deps.dispatcher.deliver(op.id);
    if (res.op.state === STATE_OF[verdict.verdict] && this.deps.onFinished) {
      await this.deps.onFinished(res.op).catch((err: unknown) => this.deps.logger.warn({ operationId: op.id, err }, 'the finished-request hook failed'));
    }
  }
}
