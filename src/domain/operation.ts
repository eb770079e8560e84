/**
 * Operations and their state machine. Only `transition` decides which move is legal; the Redis store applies it
 * atomically. Pure: no I/O, no Slack text (people are `{placeholders}` the Slack layer renders as mentions).
 */
import { BotError, ErrorCode } from '../errors.js';
import type { VerdictEvent } from './events.js';
import type { Check, Guard, GuardOverride } from './guards.js';

/** What else a routing change touches, as read from Cloudflare (see src/kinds/blast-radius.ts). */
export interface BlastRadiusFacts {
  bindings: { cidr: string; service: string; state: string }[];
  delegations: { cidr: string; account: string }[];
  addressMaps: { id: string; description: string | null; enabled: boolean | null; ips: string[]; zones: string[]; accounts: string[] }[];
  bgpPrefixes: { cidr: string; advertised: boolean | null }[];
  error: string | null;
}

/** The kinds of change the engine knows; each is one module under src/kinds/, registered in src/kinds/index.ts. */
export type OperationKind = 'advertise' | 'withdraw' | 'onboard' | 'validate' | 'bind' | 'unbind' | 'delegate' | 'undelegate' | 'address-map' | 'bgp_create' | 'bgp_delete';

export type OperationState =
  | 'awaiting_approval'
  | 'approved'
  | 'executing'
  | 'verifying'
  | 'done'
  | 'contested'
  | 'unconfirmed'
  | 'failed'
  | 'rejected'
  | 'expired'
  | 'cancelled'
  | 'superseded';

export const TERMINAL_STATES: ReadonlySet<OperationState> = new Set(['done', 'contested', 'unconfirmed', 'failed', 'rejected', 'expired', 'cancelled', 'superseded']);

/** States a break-glass change may supersede (an open request on the same prefix). */
export const SUPERSEDABLE: ReadonlySet<OperationState> = new Set(['awaiting_approval', 'approved', 'executing', 'verifying']);

const LEGAL: Record<OperationState, OperationState[]> = {
  awaiting_approval: ['approved', 'rejected', 'expired', 'cancelled', 'superseded'],
  // An approval that went stale before the change started goes back to waiting for approval.
  approved: ['executing', 'awaiting_approval', 'failed', 'superseded'],
  // ...and so does one whose gate re-check outlasted the approval, as long as no call was sent.
  executing: ['verifying', 'done', 'failed', 'awaiting_approval', 'superseded'],
  verifying: ['done', 'contested', 'unconfirmed', 'failed', 'superseded'],
  done: [],
  contested: [],
  unconfirmed: [],
  failed: [],
  rejected: [],
  expired: [],
  cancelled: [],
  superseded: [],
};

export interface Approval {
  userId: string;
  at: number;
}

export interface CloudflareCallRecord {
  at: number;
  /** What was asked, e.g. `PATCH .../bgp/prefixes/{id} {"on_demand":{"advertised":false}}`. */
  request: string;
  /** `called` = the mutation was sent (by us); `skipped` = Cloudflare already had the wanted state. */
  outcome: 'called' | 'skipped';
  /** What Cloudflare answered or showed, kind-specific (`advertised`, `modifiedAt`, `prefixId`...). */
  result: Record<string, unknown>;
  /**
   * When an answer (even an error status) came back for the call. Absent while the call may still be in flight: a
   * worker that takes over waits out the in-flight window from `at` before it re-reads.
   */
  answeredAt?: number;
}

/** Following a change: generic counters plus the kind's own state in `data`. */
export interface WatchState {
  startedAt: number;
  samples: number;
  /** The latest observation in one plain sentence (the card always shows it). */
  latest: string | null;
  /** Consecutive ticks whose reads failed; the watch closes `unconfirmed` at WATCH_MAX_READ_FAILURES. */
  readFailures: number;
  /** The last read error said in the thread (said once until it recovers). */
  lastError: string | null;
  escalated: boolean;
  /** Kind-specific (phase, last posted peers, flagged origins...). */
  data: Record<string, unknown>;
}

export interface Operation {
  id: string;
  kind: OperationKind;
  prefix: string;
  accountId: string;
  prefixId: string;
  /** The BGP prefix an advertise / withdraw changes; null for other kinds. */
  bgpPrefixId: string | null;
  /** Kind-specific parameters (onboard: `asn`). */
  params: Record<string, unknown>;
  requestedBy: string;
  reason: string;
  channel: string;
  cardTs: string | null;
  state: OperationState;
  createdAt: number;
  updatedAt: number;
  expiresAt: number;
  approvalsRequired: number;
  approvals: Approval[];
  decidedBy: string | null;
  /** When the approvals were complete; the change must start within `approvalValidForMs` of it. */
  approvedAt: number | null;
  approvalValidForMs: number;
  /** The guards of the plan as last evaluated (at filing, then at execution). */
  guards: Guard[];
  /** When the guards were last evaluated. */
  guardsAt: number | null;
  /** Informational pre-flight lines shown on the card (not gates). */
  checks: Check[];
  /** What else the change touches (bindings, delegations, address maps, other BGP prefixes), as last read. */
  blast: BlastRadiusFacts | null;
  /** The approver's explicit acknowledgement / override of warn and overridable block guards. */
  override: GuardOverride | null;
  cloudflare: CloudflareCallRecord | null;
  watch: WatchState | null;
  /** How it ended (the last thread line), once terminal. */
  final: VerdictEvent | null;
  /** Generations of the execute and watch jobs: recovery re-arms under a fresh job id. */
  jobs: { execute: number; watch: number };
  /** Break glass: filed by an on-call engineer and executed without approval; reviewed afterwards by an approver. */
  breakGlass: boolean;
  reviewedBy: string | null;
  /** The break-glass operation that replaced this one. */
  supersededBy: string | null;
  /** When the thread was told that the rate limit holds the change (said once per operation). */
  rateLimitNoticedAt?: number | null;
  /**
   * Gates a kind waits on inside `executing`, before its mutation (the staged withdraw's drain): when the wait began,
   * the latest observation for the card, and the kind's own state. Kept in the record, so a restart resumes the wait
   * where it was and never skips a gate. Null (or absent on older records) when nothing waited.
   */
  stage?: StageState | null;
  /**
   * A multi-prefix emergency (`/byoip emergency withdraw a,b,c`): the id of the batch this change is one prefix of.
   * Its card and thread are the batch's (src/domain/batch.ts); absent or null for a change of its own.
   */
  batch?: string | null;
}

/** A wait inside `executing` (see `Operation.stage`). */
export interface StageState {
  startedAt: number;
  /** What the wait is waiting for, in one plain sentence (the card shows it). */
  latest: string | null;
  data: Record<string, unknown>;
}

/** What a new operation must be given; everything else starts empty. */
export type NewOperation = Pick<
  Operation,
  'id' | 'kind' | 'prefix' | 'accountId' | 'prefixId' | 'bgpPrefixId' | 'requestedBy' | 'reason' | 'channel' | 'state' | 'expiresAt' | 'approvalsRequired'
> &
  Partial<Operation>;

/** A fresh operation record: no card yet, no approvals, no Cloudflare call, no watch. */
export function newOperation(fields: NewOperation, at: number): Operation {
  return {
    params: {},
    cardTs: null,
    createdAt: at,
    updatedAt: at,
    approvals: [],
    decidedBy: null,
    approvedAt: null,
    approvalValidForMs: 15 * 60_000,
    guards: [],
    guardsAt: null,
    checks: [],
    blast: null,
    override: null,
    cloudflare: null,
    watch: null,
    final: null,
    jobs: { execute: 0, watch: 0 },
    breakGlass: false,
    reviewedBy: null,
    supersededBy: null,
    rateLimitNoticedAt: null,
    stage: null,
    ...fields,
  };
}

export function newWatch(at: number, data: Record<string, unknown> = {}): WatchState {
  return { startedAt: at, samples: 0, latest: null, readFailures: 0, lastError: null, escalated: false, data };
}

export function isTerminal(state: OperationState): boolean {
  return TERMINAL_STATES.has(state);
}

export function canTransition(from: OperationState, to: OperationState): boolean {
  return LEGAL[from].includes(to);
}

/** Returns the operation in its new state, or throws a BotError that says why the move is not allowed. */
export function transition(op: Operation, to: OperationState, at: number, patch: Partial<Operation> = {}): Operation {
  if (!canTransition(op.state, to)) {
    if (isTerminal(op.state)) {
      throw new BotError(ErrorCode.OperationFinished, `This request is already ${describeState(op.state)}; nothing was changed.`);
    }
    throw new BotError(ErrorCode.InvalidInput, `This request is ${describeState(op.state)} and cannot become ${describeState(to)}.`);
  }
  return { ...op, ...patch, state: to, updatedAt: at };
}

/** Whether an approved change may still start at `at` (approvals go stale after `approvalValidForMs`). */
export function approvalIsFresh(op: Operation, at: number): boolean {
  if (op.breakGlass) return true;
  return op.approvedAt !== null && at - op.approvedAt <= op.approvalValidForMs;
}

/** An approval that went stale before the change started: back to waiting for approval, with a fresh expiry. */
export function lapseApproval(op: Operation, at: number, expiresAfterMs: number): Operation {
  if (op.cloudflare !== null) throw new BotError(ErrorCode.InvalidInput, 'A call was already sent for this request, so its approval cannot lapse.');
  // The next approval enqueues its execute job under a fresh id (the finished one's id is retained by BullMQ).
  return transition(op, 'awaiting_approval', at, { approvals: [], approvedAt: null, decidedBy: null, override: null, stage: null, expiresAt: at + expiresAfterMs, jobs: { ...op.jobs, execute: op.jobs.execute + 1 } });
}

export type ApprovalDecision =
  | { kind: 'recorded'; op: Operation } // counted, more approvals needed
  | { kind: 'approved'; op: Operation }; // quorum reached: state is now approved

export interface ApprovalInput {
  userId: string;
  /** The live group check done by the caller. */
  isApprover: boolean;
  at: number;
  /** Acknowledgement of the warn guards / override of overridable blocks, from the confirm dialog. */
  override?: GuardOverride | null;
}

/**
 * Applies one approver's click. Refuses: the requester, non-approvers, an expired or finished request, a second
 * click by the same person, and (when the plan has warnings or an overridable block) a click without the explicit
 * override from the confirm dialog.
 */
export function applyApproval(op: Operation, input: ApprovalInput): ApprovalDecision {
  const { userId, isApprover, at } = input;
  if (op.state !== 'awaiting_approval') {
    if (op.state === 'expired') throw expiredError();
    throw finishedError(op, 'your click changed nothing.');
  }
  if (at >= op.expiresAt) throw expiredError();
  if (userId === op.requestedBy) {
    throw new BotError(ErrorCode.SelfApproval, 'You asked for this change, so you cannot approve it: another approver has to (four eyes).');
  }
  if (!isApprover) {
    throw new BotError(ErrorCode.NotAuthorized, `You are not in an approver group for ${op.kind} requests, so your approval was not counted. Ask someone in the approver group.`);
  }
  if (op.approvals.some((a) => a.userId === userId)) {
    throw new BotError(ErrorCode.OperationFinished, 'You have already approved this request; it still needs another approver.');
  }
  const pending = op.guards.filter((g) => g.status === 'warn' || (g.status === 'block' && g.overridable)).map((g) => g.id);
  const override = input.override ?? null;
  if (pending.length > 0) {
    const covered = new Set(override?.guards ?? []);
    const missing = pending.filter((id) => !covered.has(id));
    if (missing.length > 0) {
      throw new BotError(ErrorCode.ConfirmationRequired, 'This request has warnings an approver must acknowledge explicitly; confirm them in the dialog (with a reason) to approve.');
    }
    if (!override || override.reason.trim().length < 3) {
      throw new BotError(ErrorCode.InvalidInput, 'Say why you approve despite the warnings (a few words); the override is recorded in the audit.');
    }
  } else if (override && override.guards.length > 0 && override.reason.trim().length < 3) {
    // Skipping a gate (the staged withdraw's drain) with nothing to acknowledge is still an override: it needs a reason.
    throw new BotError(ErrorCode.InvalidInput, 'Say why you skip the gates (a few words); the override is recorded in the audit.');
  }
  const approvals = [...op.approvals, { userId, at }];
  const mergedOverride = pending.length > 0 || (override && override.guards.length > 0) ? override : op.override;
  if (approvals.length >= op.approvalsRequired) {
    return { kind: 'approved', op: transition(op, 'approved', at, { approvals, decidedBy: userId, approvedAt: at, override: mergedOverride }) };
  }
  return { kind: 'recorded', op: { ...op, approvals, override: mergedOverride, updatedAt: at } };
}

function expiredError(): BotError {
  return new BotError(ErrorCode.OperationExpired, 'This request has expired; nothing was changed. Ask the requester to file a new one if it is still needed.');
}

/** "This request was already approved by {by} and is now being verified", for late clicks. */
function finishedError(op: Operation, tail: string): BotError {
  const approvedStates: OperationState[] = ['approved', 'executing', 'verifying', 'done', 'contested', 'unconfirmed'];
  if (op.state === 'superseded') {
    return new BotError(ErrorCode.OperationFinished, `This request was superseded by a break-glass change by {by}; ${tail}`, false, { people: { by: op.decidedBy ?? 'unknown' } });
  }
  if (op.decidedBy && approvedStates.includes(op.state)) {
    const now = op.state === 'approved' ? '' : ` and is now ${describeState(op.state)}`;
    return new BotError(ErrorCode.OperationFinished, `This request was already approved by {by}${now}; ${tail}`, false, { people: { by: op.decidedBy } });
  }
  if (op.decidedBy && (op.state === 'rejected' || op.state === 'cancelled')) {
    return new BotError(ErrorCode.OperationFinished, `This request is already ${describeState(op.state)} by {by}; ${tail}`, false, { people: { by: op.decidedBy } });
  }
  return new BotError(ErrorCode.OperationFinished, `This request is already ${describeState(op.state)}; ${tail}`);
}

export function applyRejection(op: Operation, userId: string, isApprover: boolean, at: number): Operation {
  if (op.state !== 'awaiting_approval') throw finishedError(op, 'your click changed nothing.');
  if (at >= op.expiresAt) {
    throw new BotError(ErrorCode.OperationExpired, 'This request has already expired; nothing was changed.');
  }
  // The requester may withdraw their own request (cancel); anyone else must be an approver to reject.
  if (userId === op.requestedBy) return transition(op, 'cancelled', at, { decidedBy: userId, final: { type: 'verdict', verdict: 'failed', step: 'cancelled', facts: { by: userId } } });
  if (!isApprover) {
    throw new BotError(ErrorCode.NotAuthorized, `You are not in an approver group for ${op.kind} requests, so you cannot reject it.`);
  }
  return transition(op, 'rejected', at, { decidedBy: userId, final: { type: 'verdict', verdict: 'failed', step: 'rejected', facts: { by: userId } } });
}

/** An approver's after-the-fact review of a break-glass change (never the person who broke the glass). */
export function applyReview(op: Operation, userId: string, isApprover: boolean, at: number): Operation {
  if (!op.breakGlass) throw new BotError(ErrorCode.InvalidInput, 'Only break-glass changes need a review; this one was approved before it ran.');
  if (op.reviewedBy) throw new BotError(ErrorCode.OperationFinished, 'This break-glass change was already reviewed by {by}.', false, { people: { by: op.reviewedBy } });
  if (userId === op.requestedBy) throw new BotError(ErrorCode.SelfApproval, 'You broke the glass, so someone else has to review it (four eyes, after the fact).');
  if (!isApprover) throw new BotError(ErrorCode.NotAuthorized, 'Only members of an approver group can review a break-glass change.');
  return { ...op, reviewedBy: userId, updatedAt: at };
}

/** A break-glass change replaces an open request on the same prefix: terminal, its buttons stop working. */
export function supersede(op: Operation, by: string, byOpId: string, at: number): Operation {
  return transition(op, 'superseded', at, { decidedBy: by, supersededBy: byOpId, final: { type: 'verdict', verdict: 'failed', step: 'superseded', facts: { by, opId: byOpId } } });
}

export function describeState(state: OperationState): string {
  return {
    awaiting_approval: 'waiting for approval',
    approved: 'approved',
    executing: 'being executed',
    verifying: 'being verified',
    done: 'done',
    contested: 'contested',
    unconfirmed: 'not confirmed',
    failed: 'failed',
    rejected: 'rejected',
    expired: 'expired',
    cancelled: 'cancelled',
    superseded: 'superseded',
  }[state];
}

export function actionVerb(kind: OperationKind): string {
  return { advertise: 'Advertise', withdraw: 'Withdraw', onboard: 'Onboard', validate: 'Validate', bind: 'Bind', unbind: 'Unbind', delegate: 'Delegate', undelegate: 'Undelegate', 'address-map': 'Address map', bgp_create: 'Create BGP prefix', bgp_delete: 'Delete BGP prefix' }[kind];
}
