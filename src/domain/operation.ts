/**
 * Operations and their state machine. Only `transition` decides which move is legal; the Redis store
 * applies it atomically. Pure: no I/O.
 */
import { BotError, ErrorCode } from '../errors.js';

/** BGP advertise / withdraw of a BGP prefix; adding a prefix to Cloudflare (onboard); Cloudflare's IRR + RPKI + ownership validation. */
export type OperationKind = 'advertise' | 'withdraw' | 'onboard' | 'validate';

export type OperationState =
  | 'requested'
  | 'awaiting_approval'
  | 'approved'
  | 'executing'
  | 'propagating'
  | 'done'
  | 'rejected'
  | 'expired'
  | 'cancelled'
  | 'failed';

export const TERMINAL_STATES: ReadonlySet<OperationState> = new Set(['done', 'rejected', 'expired', 'cancelled', 'failed']);

const LEGAL: Record<OperationState, OperationState[]> = {
  requested: ['awaiting_approval', 'cancelled', 'failed'],
  awaiting_approval: ['approved', 'rejected', 'expired', 'cancelled'],
  approved: ['executing', 'failed'],
  executing: ['propagating', 'done', 'failed'],
  propagating: ['done', 'failed'],
  done: [],
  rejected: [],
  expired: [],
  cancelled: [],
  failed: [],
};

export interface Approval {
  userId: string;
  at: number;
}

export interface CloudflareCallRecord {
  at: number;
  /** What was asked: `PATCH .../bgp/prefixes/{id}` with on_demand.advertised. */
  request: string;
  /** `called` = the mutation was sent; `skipped` = Cloudflare already had the wanted state. */
  outcome: 'called' | 'skipped';
  advertised: boolean | null;
  modifiedAt: string | null;
}

export interface WatchProgress {
  startedAt: number;
  phase: 'cloudflare' | 'routing';
  lastSummary: string | null;
  /** Peers seeing the prefix from the expected origin in the last sample posted to the thread. */
  lastPostedPeers?: number | null;
  verdict: string | null;
  escalated: boolean;
  samples: number;
  /** Unexpected origin ASNs already reported loudly (each is posted once). */
  flaggedOrigins: number[];
  /** The routing view could not be read on the last tick (reported once until it recovers). */
  routingError: string | null;
}

export interface Operation {
  id: string;
  kind: OperationKind;
  prefix: string;
  accountId: string;
  prefixId: string;
  /** The BGP prefix an advertise / withdraw changes; null for a validate. */
  bgpPrefixId: string | null;
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
  outcome: string | null;
  cloudflare: CloudflareCallRecord | null;
  watch: WatchProgress | null;
  /** Notes shown on the card: pre-checks, warnings. */
  notes: string[];
  /** Onboard: the ASN the prefix is added with. */
  asn?: number;
  /** Break glass: filed by an on-call engineer and executed without approval; reviewed afterwards by an approver. */
  breakGlass?: boolean;
  reviewedBy?: string | null;
}

/** What a new operation must be given; everything else starts empty. */
export type NewOperation = Pick<
  Operation,
  'id' | 'kind' | 'prefix' | 'accountId' | 'prefixId' | 'bgpPrefixId' | 'requestedBy' | 'reason' | 'channel' | 'state' | 'expiresAt' | 'approvalsRequired' | 'notes'
> &
  Partial<Operation>;

/** A fresh operation record: no card yet, no approvals, no Cloudflare call, no watch. */
export function newOperation(fields: NewOperation, at: number): Operation {
  return {
    cardTs: null,
    createdAt: at,
    updatedAt: at,
    approvals: [],
    decidedBy: null,
    outcome: null,
    cloudflare: null,
    watch: null,
    ...fields,
  };
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

export type ApprovalDecision =
  | { kind: 'recorded'; op: Operation } // counted, more approvals needed
  | { kind: 'approved'; op: Operation }; // quorum reached: state is now approved

/**
 * Applies one approver's click. `isApprover` is the live group check done by the caller.
 * Refuses: the requester, non-approvers, an expired or finished request, a second click by the same person.
 */
export function applyApproval(op: Operation, userId: string, isApprover: boolean, at: number): ApprovalDecision {
  if (isTerminal(op.state) || op.state !== 'awaiting_approval') {
    if (op.state === 'expired' || (op.state === 'awaiting_approval' && at >= op.expiresAt)) {
      throw new BotError(ErrorCode.OperationExpired, 'This request has expired; nothing was changed. Ask the requester to file a new one if it is still needed.');
    }
    throw new BotError(ErrorCode.OperationFinished, `${alreadyDecided(op)}; your click changed nothing.`);
  }
  if (at >= op.expiresAt) {
    throw new BotError(ErrorCode.OperationExpired, 'This request has expired; nothing was changed. Ask the requester to file a new one if it is still needed.');
  }
  if (userId === op.requestedBy) {
    throw new BotError(ErrorCode.SelfApproval, 'You asked for this change, so you cannot approve it: another approver has to (four eyes).');
  }
  if (!isApprover) {
    throw new BotError(ErrorCode.NotAuthorized, `You are not in an approver group for ${op.kind} requests, so your approval was not counted. Ask someone in the approver group.`);
  }
  if (op.approvals.some((a) => a.userId === userId)) {
    throw new BotError(ErrorCode.OperationFinished, 'You have already approved this request; it still needs another approver.');
  }
  const approvals = [...op.approvals, { userId, at }];
  if (approvals.length >= op.approvalsRequired) {
    return { kind: 'approved', op: transition(op, 'approved', at, { approvals, decidedBy: userId }) };
  }
  return { kind: 'recorded', op: { ...op, approvals, updatedAt: at } };
}

/** "This request was already approved by @bob and is now propagating", for late clicks. */
function alreadyDecided(op: Operation): string {
  const approvedStates: OperationState[] = ['approved', 'executing', 'propagating', 'done'];
  if (op.decidedBy && approvedStates.includes(op.state)) {
    return `This request was already approved by <@${op.decidedBy}>${op.state === 'approved' ? '' : ` and is now ${describeState(op.state)}`}`;
  }
  if (op.state === 'failed') return `This request already failed${op.outcome ? ` (${op.outcome})` : ''}`;
  const by = op.decidedBy && ['rejected', 'cancelled'].includes(op.state) ? ` by <@${op.decidedBy}>` : '';
  return `This request is already ${describeState(op.state)}${by}`;
}

export function applyRejection(op: Operation, userId: string, isApprover: boolean, at: number, reason = ''): Operation {
  if (op.state !== 'awaiting_approval') {
    throw new BotError(ErrorCode.OperationFinished, `${alreadyDecided(op)}; your click changed nothing.`);
  }
  if (at >= op.expiresAt) {
    throw new BotError(ErrorCode.OperationExpired, 'This request has already expired; nothing was changed.');
  }
  // The requester may withdraw their own request (cancel); anyone else must be an approver to reject.
  if (userId === op.requestedBy) return transition(op, 'cancelled', at, { decidedBy: userId, outcome: 'Cancelled by the requester.' });
  if (!isApprover) {
    throw new BotError(ErrorCode.NotAuthorized, `You are not in an approver group for ${op.kind} requests, so you cannot reject it.`);
  }
  return transition(op, 'rejected', at, { decidedBy: userId, outcome: reason ? `Rejected: ${reason}` : 'Rejected.' });
}

/** An approver's after-the-fact review of a break-glass change (never the person who broke the glass). */
export function applyReview(op: Operation, userId: string, isApprover: boolean, at: number): Operation {
  if (!op.breakGlass) throw new BotError(ErrorCode.InvalidInput, 'Only break-glass changes need a review; this one was approved before it ran.');
  if (op.reviewedBy) throw new BotError(ErrorCode.OperationFinished, `This break-glass change was already reviewed by <@${op.reviewedBy}>.`);
  if (userId === op.requestedBy) throw new BotError(ErrorCode.SelfApproval, 'You broke the glass, so someone else has to review it (four eyes, after the fact).');
  if (!isApprover) throw new BotError(ErrorCode.NotAuthorized, 'Only members of an approver group can review a break-glass change.');
  return { ...op, reviewedBy: userId, updatedAt: at };
}

export function describeState(state: OperationState): string {
  return {
    requested: 'requested',
    awaiting_approval: 'waiting for approval',
    approved: 'approved',
    executing: 'being executed',
    propagating: 'propagating',
    done: 'done',
    rejected: 'rejected',
    expired: 'expired',
    cancelled: 'cancelled',
    failed: 'failed',
  }[state];
}

export function actionVerb(kind: OperationKind): string {
  return { advertise: 'Advertise', withdraw: 'Withdraw', onboard: 'Onboard', validate: 'Validate' }[kind];
}
