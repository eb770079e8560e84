import type { Logger } from 'pino';
import type { OpEvent } from '../domain/events.js';
import { unresolvedBlocks, type Guard } from '../domain/guards.js';
import { approvalIsFresh, lapseApproval, newWatch, transition, type Operation } from '../domain/operation.js';
import { captureAnswers } from '../cloudflare/answers.js';
import { withRequestClass } from '../cloudflare/request-class.js';
import { BotError, ErrorCode, isBotError, userMessageOf } from '../errors.js';
import { kindOf, type KindDeps } from '../kinds/index.js';
import { listKeysOf } from '../kinds/lookup.js';
import type { ApplyResult } from '../kinds/types.js';
import type { Dispatcher } from './ports.js';
import { CARD, eventItem, type AuditEntry, type OperationStore } from './store.js';

export interface ExecutorDeps {
  store: OperationStore;
  kinds: KindDeps;
  dispatcher: Dispatcher;
  logger: Logger;
  firstWatchDelayMs: number;
  /** Break glass: guards older than this are refreshed after the mutation and posted in the thread. */
  breakGlassGuardMaxAgeMs?: number;
  /**
   * How long after it was sent a call whose answer never came may still land at Cloudflare: the Cloudflare client's
   * request timeout (CLOUDFLARE_TIMEOUT_MS); 30 s. A worker taking such a call over waits this out before re-reading.
   */
  inFlightMs?: number;
  /**
   * A change the rate limit (Cloudflare's 429 or the bot's budget) holds longer than this says so once in its thread
   * and its job is delayed until it may go; shorter waits happen inside the attempt. 20 s (RATE_LIMIT_NOTICE_AFTER_MS).
   */
  rateLimitNoticeMs?: number;
  now?: () => number;
}

export interface ExecuteAttempt {
  /** The job generation this attempt belongs to; a stale generation does nothing. */
  gen: number;
  /** The job's last attempt: an error closes the request here, honestly, instead of retrying. */
  lastAttempt: boolean;
}

/** Thrown to the job when the attempt should be retried (the next one re-reads before writing). */
export class RetryLater extends BotError {
  constructor(why: string) {
    super(ErrorCode.CloudflareUnavailable, why, true);
    this.name = 'RetryLater';
  }
}

/**
 * Thrown to the job when the attempt must wait until `until` (epoch ms) and run again, without counting as a failed
 * attempt: a call of a crashed worker that may still be in flight, or the rate limit. The worker delays the job.
 */
export class DelayExecution extends Error {
  constructor(
    readonly until: number,
    readonly why: 'in_flight' | 'rate_limited' | 'staged',
  ) {
    super(`execution delayed until ${new Date(until).toISOString()} (${why})`);
    this.name = 'DelayExecution';
  }
}

/** Thrown to the job when retrying cannot help (a programming error): the request is already closed. */
export class NotRetryable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotRetryable';
  }
}


/**
 * Executes an approved operation of any kind: checks that the approval is still fresh, runs the kind's guards again
 * right before the mutation (a block closes the request with nothing sent), then lets the kind read, skip what is
 * already true, and make its one call. An unclear answer is settled by the next attempt's read, never by a resend.
 */
export class Executor {
  private now: () => number;
  private readonly inFlightMs: number;
  private readonly rateLimitNoticeMs: number;

  constructor(private deps: ExecutorDeps) {
    this.now = deps.now ?? Date.now;
    this.inFlightMs = deps.inFlightMs ?? 30_000;
    this.rateLimitNoticeMs = deps.rateLimitNoticeMs ?? 20_000;
  }

  /**
   * One attempt. Every Cloudflare request it makes counts as `emergency` (break glass) or `change` in the budget, and
   * waits at most `rateLimitNoticeMs` for it; a longer wait delays the job (DelayExecution) instead.
   */
  async execute(opId: string, attempt: ExecuteAttempt = { gen: 0, lastAttempt: false }): Promise<void> {
    const op = await this.deps.store.get(opId);
    if (!op || op.jobs.execute !== attempt.gen) return; // gone, or a stale job of an older generation
    return withRequestClass(op.breakGlass ? 'emergency' : 'change', () => this.attempt(op, attempt), { maxWaitMs: this.rateLimitNoticeMs });
  }

  private async attempt(found: Operation, attempt: ExecuteAttempt): Promise<void> {
    const { store } = this.deps;
    const opId = found.id;
    let op = found;
    const started = this.now();
    if (op.state === 'approved') {
      if (!approvalIsFresh(op, this.now())) return this.lapse(op);
      op = (
        await store.update(opId, (o) =>
          o.state === 'approved' ? { op: transition(o, 'executing', this.now()), audit: [{ type: 'executing', opId, actor: 'system' }], notify: [CARD] } : { op: o },
        )
      ).op;
      await this.deps.dispatcher.deliver(opId);
    }
    if (op.state === 'verifying') {
      await this.deps.dispatcher.watch(opId, this.deps.firstWatchDelayMs, op.jobs.watch); // a retry after the last step
      return;
    }
    if (op.state !== 'executing') return;

    // A call recorded without an answer (its worker died mid-call) may still land: wait out its window, then re-read.
    const inFlightUntil = op.cloudflare && op.cloudflare.answeredAt === undefined ? op.cloudflare.at + this.inFlightMs : 0;
    if (inFlightUntil > this.now()) {
      await store.audit({ type: 'waiting_in_flight', opId, actor: 'system', data: { request: op.cloudflare?.request ?? null, sentAt: op.cloudflare?.at ?? null, until: inFlightUntil } });
      this.deps.logger.info({ operationId: opId, until: new Date(inFlightUntil).toISOString() }, 'a call of an earlier attempt may still be in flight; waiting before re-reading');
      throw new DelayExecution(inFlightUntil, 'in_flight');
    }

    try {
      await this.run(op);
    } catch (err) {
      if (err instanceof DelayExecution) throw err; // a gate waits: the job comes back later, no attempt spent
      await this.onError(op, err, attempt, started);
    }
  }

  /**
   * The kind's gates (the staged withdraw's drain), inside `executing`, before the guards and the one call. A wait
   * stores what was seen on the record (a restart resumes it, never skips it) and delays the job; nothing is sent.
   * The approval is checked fresh when the wait begins; the approved change then waits as long as its gates allow.
   * Break glass never waits: the gates are skipped, and the card, the thread and the audit say so.
   */
  private async stage(found: Operation): Promise<Operation | null> {
    const kind = kindOf(found.kind);
    if (!kind.stage || found.cloudflare) return found;
    if (found.breakGlass) {
      if (found.stage) return found;
      const gates = kind.gateIds?.(this.deps.kinds, found) ?? [];
      if (gates.length === 0) return found;
      const res = await this.deps.store.update(found.id, (o) =>
        o.state !== 'executing' || o.stage
          ? { op: o }
          : {
              op: { ...o, stage: { startedAt: this.now(), latest: `Break glass: the gates (${gates.join(', ')}) were skipped; sent at once.`, data: { phase: 'ready', breakGlass: true, skipped: gates } }, updatedAt: this.now() },
              notify: [eventItem({ type: 'progress', step: 'gates_skipped_break_glass', facts: { gates } }), CARD],
              audit: [{ type: 'gates_skipped', opId: o.id, actor: o.requestedBy, data: { gates, breakGlass: true } }],
            },
      );
      await this.deps.dispatcher.deliver(found.id);
      return res.op;
    }
    if (found.stage?.data.phase === 'ready') return found;
    if (!hasWaited(found) && !approvalIsFresh(found, this.now())) {
      await this.lapse(found);
      return null;
    }
    const step = await kind.stage(this.deps.kinds, found, {
      audit: (type, data) => this.deps.store.audit({ type, opId: found.id, actor: 'system', data }),
      call: async (request, call) => {
        await this.deps.store.audit({ type: 'cloudflare_call', opId: found.id, actor: 'system', data: { request, gate: true } });
        const { answers, run } = await captureAnswers(call);
        try {
          const result = await run;
          return result;
        } finally {
          await Promise.all(answers.map((a) => this.deps.store.audit({ type: 'cloudflare_answer', opId: found.id, actor: 'system', data: { request, status: a.status, body: a.body } })));
        }
      },
    });
    if (step.outcome === 'failed') {
      await this.close(found, { type: 'verdict', verdict: 'failed', step: step.step, facts: { ...step.facts, sent: false } });
      return null;
    }
    const now = this.now();
    const startedAt = found.stage?.startedAt ?? now;
    const latest = step.outcome === 'wait' ? step.latest : (step.latest ?? found.stage?.latest ?? null);
    let moved = false;
    let notified = false;
    const res = await this.deps.store.update(found.id, (o) => {
      if (o.state !== 'executing' || o.cloudflare) {
        moved = true;
        return { op: o };
      }
      const waited = hasWaited(o) || step.outcome === 'wait';
      const stage = { startedAt, latest: step.outcome === 'ready' ? readyLatest(latest) : latest, data: { ...(o.stage?.data ?? {}), ...(step.data ?? {}), waited } };
      const changed = stage.latest !== (o.stage?.latest ?? null);
      const notify = [...step.events.map(eventItem), ...(changed || step.events.length ? [CARD] : [])];
      notified = notify.length > 0;
      return { op: { ...o, stage, updatedAt: now }, notify };
    });
    if (notified) await this.deps.dispatcher.deliver(found.id);
    if (moved) return null;
    if (step.outcome === 'wait') {
      this.deps.logger.debug({ operationId: found.id, until: new Date(step.untilMs).toISOString() }, 'a gate holds the change; execute job delayed');
      throw new DelayExecution(Math.max(step.untilMs, now + 1), 'staged');
    }
    return res.op;
  }

  private async run(found: Operation): Promise<void> {
    const staged = await this.stage(found);
    if (!staged) return;
    const op = staged;
    const kind = kindOf(op.kind);
    const deps = this.deps.kinds;
    let guards: Guard[] = op.guards;
    if (!op.breakGlass && !op.cloudflare) {
      // The gate: the guards again, right before the mutation. An override covers only the guards it names.
      const plan = await kind.plan(deps, op);
      guards = plan.guards;
      const seen = { guards, guardsAt: this.now(), ...(plan.blast ? { blast: plan.blast } : {}) };
      const blocked = unresolvedBlocks(guards, op.override);
      if (blocked.length > 0) return this.close(op, { type: 'verdict', verdict: 'failed', step: 'blocked', facts: { guards: blocked } }, seen, { guards: blocked }, op.cloudflare);
      // The look-ups took long: still no stale change. A change that waited on its gates started when the wait began.
      if (!hasWaited(op) && !approvalIsFresh(op, this.now())) return this.lapse(op);
      const newWarnings = guards.filter((g) => g.status === 'warn' && !(op.override?.guards ?? []).includes(g.id));
      if (newWarnings.length) await this.note(op, { type: 'guards_warned', guards: newWarnings }, seen);
    }

    // The call record this attempt last saw or wrote: a send refuses when the record moved otherwise (another
    // attempt of the same job, run beside this one after a stall, is sending), so two attempts never both send.
    const mine = { last: op.cloudflare };
    const result: ApplyResult = await kind.apply(deps, op, {
      calledBefore: op.cloudflare !== null,
      audit: (type, data) => this.deps.store.audit({ type, opId: op.id, actor: 'system', data }),
      send: (request, call) => this.sendOnce(op, request, call, mine),
    });
    if (result.outcome === 'refused') {
      // Refused on what it read ("already added", say): closed only if no other run of this job sent meanwhile.
      return this.close(op, { type: 'verdict', verdict: 'failed', step: result.step, facts: { ...result.facts, sent: false } }, {}, {}, mine.last);
    }
    await this.deps.kinds.reader.invalidate(...listKeysOf({ accountId: op.accountId, prefixId: result.patch?.prefixId ?? op.prefixId }));
    await this.deps.store.audit({ type: 'cloudflare_result', opId: op.id, actor: 'system', data: { outcome: result.outcome, ...result.result } });
    this.deps.logger.info({ operationId: op.id, prefix: op.prefix, kind: op.kind, outcome: result.outcome }, 'cloudflare change applied');
    // Break glass: the look-ups it skipped before the call are refreshed now, before the watch can reach a verdict,
    // so the verdict stays the last line of the thread.
    await this.startWatching(op, result, op.breakGlass ? () => this.refreshBreakGlassGuards(op.id) : undefined);
  }

  /**
   * Records that a call may be in flight (so a retry after a crash knows the change could be ours), then sends it.
   * Refuses if the operation moved on meanwhile (superseded by break glass, say): nothing is sent then.
   */
  private async sendOnce<T>(op: Operation, request: string, call: () => Promise<T>, mine: { last: Operation['cloudflare'] }): Promise<T> {
    const { store } = this.deps;
    let moved = false;
    let beside = false;
    const record = { at: this.now(), request, outcome: 'called' as const, result: {} };
    await store.update(op.id, (o) => {
      if (o.state !== 'executing') {
        moved = true;
        return { op: o };
      }
      if (!sameCall(o.cloudflare, mine.last)) {
        beside = true;
        return { op: o, audit: [sendRefused(o, { request, why: 'another attempt of this request recorded a call meanwhile' })] };
      }
      return {
        op: { ...o, cloudflare: record },
        audit: [{ type: 'cloudflare_call', opId: op.id, actor: 'system', data: { request } }],
      };
    });
    if (moved) throw new BotError(ErrorCode.OperationFinished, 'The request moved on before the call was sent; nothing was sent.');
    if (beside) {
      this.deps.logger.warn({ operationId: op.id, request }, 'another attempt of this request is sending (a stalled job run twice); this one sends nothing');
      throw new BotError(ErrorCode.OperationFinished, 'Another attempt of this request is already sending it; this one sent nothing.');
    }
    mine.last = record;
    // Cloudflare's own answer (HTTP status, raw body, redacted) goes into the audit, success or not.
    const { answers, run } = await captureAnswers(call);
    const auditAnswers = () =>
      Promise.all(answers.map((a) => store.audit({ type: 'cloudflare_answer', opId: op.id, actor: 'system', data: { request, status: a.status, body: a.body } })));
    try {
      const result = await run;
      await auditAnswers();
      return result;
    } catch (err) {
      await auditAnswers();
      // Nothing left the bot (the budget said no, the request was invalid): no call to account for. An HTTP answer,
      // even an error: the call is over. No answer at all (timeout, connection lost): it may still be in flight.
      const status = err && typeof err === 'object' && 'status' in err ? (err as { status: unknown }).status : undefined;
      const sent = !(status === null && !outcomeUnknown(err));
      const answered = sent && !(status === null && outcomeUnknown(err));
      const audit = [{ type: 'cloudflare_error', opId: op.id, actor: 'system', data: { request, code: isBotError(err) ? err.code : 'error', message: userMessageOf(err), outcomeUnknown: outcomeUnknown(err), sent } }];
      await store.update(op.id, (o) => {
        if (o.state !== 'executing' || !o.cloudflare || o.cloudflare.request !== request) return { op: o, audit };
        return { op: { ...o, cloudflare: !sent ? null : answered ? { ...o.cloudflare, answeredAt: this.now() } : o.cloudflare }, audit };
      });
      throw err;
    }
  }

  private async onError(op: Operation, err: unknown, attempt: ExecuteAttempt, started: number): Promise<void> {
    if (isBotError(err) && err.code === ErrorCode.OperationFinished) return; // moved on: nothing to do
    const fresh = (await this.deps.store.get(op.id)) ?? op;
    const mayHaveReached = fresh.cloudflare !== null;
    if (isBotError(err) && err.code === ErrorCode.CloudflareRateLimited) return this.holdForRateLimit(fresh, err, started);
    if (!isBotError(err)) {
      this.deps.logger.error({ operationId: op.id, err }, 'execute failed with an internal error');
      await this.close(fresh, { type: 'verdict', verdict: 'failed', step: 'internal_error', facts: { mayHaveReached } });
      throw new NotRetryable((err as Error)?.message ?? String(err));
    }
    // An unclear answer to a mutation is settled by the next attempt's read, never by a blind resend.
    const retry = err.retryable || outcomeUnknown(err);
    if (retry && !attempt.lastAttempt) throw new RetryLater(err.userMessage);
    await this.close(fresh, {
      type: 'verdict',
      verdict: 'failed',
      step: retry ? 'gave_up' : 'cloudflare_refused',
      facts: { why: err.userMessage, mayHaveReached, outcomeUnknown: outcomeUnknown(err) },
    });
  }

  /**
   * The rate limit holds the change: Cloudflare answered 429 (Retry-After), or the budget has no slot for it within
   * `rateLimitNoticeMs`. The job is delayed until then (an attempt is not spent); a wait over `rateLimitNoticeMs`
   * is said once per operation in the thread. The next attempt reads again before it writes; an ordinary change whose
   * approval goes stale meanwhile goes back to waiting for approval.
   */
  private async holdForRateLimit(op: Operation, err: BotError, started: number): Promise<never> {
    const now = this.now();
    const retryAfter = (err as BotError & { retryAfterMs?: number }).retryAfterMs;
    const sendAt = now + Math.max(250, retryAfter ?? 60_000) + Math.floor(Math.random() * 250);
    this.deps.logger.info({ operationId: op.id, sendAt: new Date(sendAt).toISOString() }, 'rate limit holds the change; execute job delayed');
    if (sendAt - started > this.rateLimitNoticeMs && !op.rateLimitNoticedAt) {
      await this.deps.store.update(op.id, (o) =>
        o.state !== 'executing' || o.rateLimitNoticedAt
          ? { op: o }
          : {
              op: { ...o, rateLimitNoticedAt: now, updatedAt: now },
              notify: [eventItem({ type: 'rate_limited', sendAt })],
              audit: [{ type: 'rate_limited', opId: o.id, actor: 'system', data: { sendAt, why: err.userMessage } }],
            },
      );
      await this.deps.dispatcher.deliver(op.id);
    }
    throw new DelayExecution(sendAt, 'rate_limited');
  }

  /** Cloudflare has the change: executing -> verifying, say so in the thread, and start the watch. */
  private async startWatching(op: Operation, result: Extract<ApplyResult, { outcome: 'called' | 'skipped' }>, beforeWatch?: () => Promise<void>): Promise<void> {
    const now = this.now();
    const res = await this.deps.store.update(op.id, (o) =>
      o.state !== 'executing'
        ? { op: o }
        : {
            op: transition(o, 'verifying', now, {
              ...(result.patch ?? {}),
              cloudflare: { at: now, request: result.request, outcome: result.outcome, result: result.result },
              watch: newWatch(now),
            }),
            notify: [eventItem({ type: 'progress', step: result.outcome === 'skipped' ? 'already_true' : 'accepted', facts: result.facts }), CARD],
            audit: [{ type: 'verifying', opId: op.id, actor: 'system' }],
          },
    );
    await this.deps.dispatcher.deliver(op.id);
    if (beforeWatch) await beforeWatch();
    if (res.op.state === 'verifying') await this.deps.dispatcher.watch(op.id, this.deps.firstWatchDelayMs, res.op.jobs.watch);
  }

  /** Break glass skipped the look-ups before the call; refresh those older than allowed now and post them. */
  private async refreshBreakGlassGuards(opId: string): Promise<void> {
    const op = await this.deps.store.get(opId);
    if (!op) return;
    const maxAge = this.deps.breakGlassGuardMaxAgeMs ?? 60_000;
    const stale = op.guardsAt === null || this.now() - op.guardsAt > maxAge;
    if (!stale) return;
    try {
      const { guards, blast } = await kindOf(op.kind).plan(this.deps.kinds, op);
      await this.note(op, { type: 'guards_refreshed', guards }, { guards, guardsAt: this.now(), ...(blast ? { blast } : {}) }, true);
    } catch (err) {
      this.deps.logger.warn({ operationId: opId, err }, 'could not refresh the break-glass guards');
    }
  }

  /** An approval that went stale before the change started: back to waiting for approval, said in the thread. */
  private async lapse(op: Operation): Promise<void> {
    const expiresAfter = this.deps.kinds.policy.actions[op.kind].expires_after;
    await this.deps.store.update(op.id, (o) =>
      !(o.state === 'approved' || (o.state === 'executing' && o.cloudflare === null)) || approvalIsFresh(o, this.now())
        ? { op: o }
        : {
            op: lapseApproval(o, this.now(), expiresAfter),
            notify: [eventItem({ type: 'approval_lapsed', approvedAt: o.approvedAt ?? 0, validForMs: o.approvalValidForMs }), CARD],
            audit: [{ type: 'approval_lapsed', opId: o.id, actor: 'system', data: { approvedAt: o.approvedAt, validForMs: o.approvalValidForMs } }],
          },
    );
    await this.deps.dispatcher.deliver(op.id);
  }

  /** A thread line (and card refresh) without a state change; optionally records the guards. */
  private async note(op: Operation, event: OpEvent, patch: Partial<Operation> = {}, anyState = false): Promise<void> {
    await this.deps.store.update(op.id, (o) => (o.state !== 'executing' && !anyState ? { op: o } : { op: { ...o, ...patch, updatedAt: this.now() }, notify: [eventItem(event), CARD] }));
    await this.deps.dispatcher.deliver(op.id);
  }

  /**
   * Closes the request as failed with the verdict as its last thread line; the prefix is unlocked. `seenCall`: the
   * call record the verdict was taken on. If another run of the same job (a stalled job run twice) has recorded a call
   * since, the verdict was taken on a picture that run is changing: nothing is closed (audited send_refused); that
   * run follows its change to its own verdict.
   */
  private async close(op: Operation, verdict: Extract<OpEvent, { type: 'verdict' }>, patch: Partial<Operation> = {}, auditData: Record<string, unknown> = {}, seenCall?: Operation['cloudflare']): Promise<void> {
    await this.deps.store.update(op.id, (o) => {
      if (o.state !== 'executing' && o.state !== 'approved') return { op: o };
      if (seenCall !== undefined && !sameCall(o.cloudflare, seenCall)) {
        return { op: o, audit: [sendRefused(o, { why: 'another attempt of this request sent it meanwhile', refused: verdict.step })] };
      }
      return {
        op: transition(o, 'failed', this.now(), { ...patch, final: verdict }),
        notify: [eventItem(verdict), CARD],
        audit: [{ type: 'failed', opId: op.id, actor: 'system', data: { step: verdict.step, ...verdict.facts, ...auditData } }],
      };
    });
    await this.deps.dispatcher.deliver(op.id);
  }
}

/** The change has waited on its gates (it started then: its approval is no longer re-checked for freshness). */
function hasWaited(op: Operation): boolean {
  return op.stage?.data.waited === true;
}

/** The card's gate line once the gates passed: what the last wait said, in the past. */
function readyLatest(latest: string | null): string | null {
  if (!latest) return null;
  return latest.startsWith('Waiting to') ? 'Gates passed; the change was sent.' : latest;
}

function outcomeUnknown(err: unknown): boolean {
  return Boolean(err && typeof err === 'object' && 'outcomeUnknown' in err && (err as { outcomeUnknown: unknown }).outcomeUnknown === true);
}

/** The audit line of a run that stood back because another run of the same job recorded a call (`theirs`). */
function sendRefused(o: Operation, data: Record<string, unknown>): AuditEntry {
  return { type: 'send_refused', opId: o.id, actor: 'system', data: { ...data, theirs: o.cloudflare?.request ?? null } };
}

/** The same call record (or both none): what an attempt wrote is still what the operation holds. */
function sameCall(a: Operation['cloudflare'], b: Operation['cloudflare']): boolean {
  if (a === null || b === null) return a === b;
  return a.at === b.at && a.request === b.request;
}
