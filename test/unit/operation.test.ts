import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import {
  TERMINAL_STATES,
  applyApproval,
  applyRejection,
  canTransition,
  isTerminal,
  transition,
  type OperationState,
} from '../../src/domain/operation.js';
import { ALL_STATES, APPROVER, APPROVER_2, OUTSIDER, REQUESTER, T0, expectError, makeOperation } from './helpers.js';

/** The moves the lifecycle allows, written out independently of the implementation. */
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
const TERMINAL: OperationState[] = ['done', 'rejected', 'expired', 'cancelled', 'failed'];

const pairs = ALL_STATES.flatMap((from) => ALL_STATES.map((to) => ({ from, to, legal: LEGAL[from].includes(to) })));
const legalPairs = pairs.filter((p) => p.legal);
const illegalPairs = pairs.filter((p) => !p.legal);

describe('operation state machine', () => {
  it('has exactly five terminal states', () => {
    expect([...TERMINAL_STATES].sort()).toEqual([...TERMINAL].sort());
    for (const s of ALL_STATES) expect(isTerminal(s)).toBe(TERMINAL.includes(s));
  });

  it.each(legalPairs)('allows $from -> $to', ({ from, to }) => {
    expect(canTransition(from, to)).toBe(true);
    const op = makeOperation({ state: from });
    const next = transition(op, to, T0 + 5, { outcome: 'note' });
    expect(next.state).toBe(to);
    expect(next.updatedAt).toBe(T0 + 5);
    expect(next.outcome).toBe('note');
    // The input record is not mutated: the store compares against it.
    expect(op.state).toBe(from);
    expect(op.updatedAt).toBe(T0);
  });

  it.each(illegalPairs.filter((p) => !TERMINAL.includes(p.from)))('refuses $from -> $to as invalid input', ({ from, to }) => {
    expect(canTransition(from, to)).toBe(false);
    expectError(() => transition(makeOperation({ state: from }), to, T0), ErrorCode.InvalidInput, 'cannot become');
  });

  it.each(illegalPairs.filter((p) => TERMINAL.includes(p.from)))('refuses any move out of terminal $from (to $to) and says nothing changed', ({ from, to }) => {
    expect(canTransition(from, to)).toBe(false);
    expectError(() => transition(makeOperation({ state: from }), to, T0), ErrorCode.OperationFinished, 'nothing was changed');
  });

  it('a patch cannot smuggle in a different state', () => {
    const next = transition(makeOperation({ state: 'approved' }), 'executing', T0, { state: 'done' });
    expect(next.state).toBe('executing');
  });

  it('a request cannot skip approval and go straight to execution', () => {
    expect(canTransition('awaiting_approval', 'executing')).toBe(false);
    expect(canTransition('requested', 'approved')).toBe(false);
  });
});

describe('applyApproval', () => {
  it('the requester cannot approve their own request (four eyes)', () => {
    const op = makeOperation();
    expectError(() => applyApproval(op, REQUESTER, true, T0 + 1), ErrorCode.SelfApproval, 'another approver');
  });

  it('someone outside the approver groups is refused and told to ask an approver', () => {
    expectError(() => applyApproval(makeOperation(), OUTSIDER, false, T0 + 1), ErrorCode.NotAuthorized, 'approver group');
  });

  it('one approval from an approver approves a 1-of-M request and records who decided', () => {
    const d = applyApproval(makeOperation(), APPROVER, true, T0 + 1000);
    expect(d.kind).toBe('approved');
    expect(d.op.state).toBe('approved');
    expect(d.op.decidedBy).toBe(APPROVER);
    expect(d.op.approvals).toEqual([{ userId: APPROVER, at: T0 + 1000 }]);
    expect(d.op.updatedAt).toBe(T0 + 1000);
  });

  it('the same approver clicking twice on a 2-of-M request counts once', () => {
    const first = applyApproval(makeOperation({ approvalsRequired: 2 }), APPROVER, true, T0 + 1);
    expect(first.kind).toBe('recorded');
    const err = expectError(() => applyApproval(first.op, APPROVER, true, T0 + 2), ErrorCode.OperationFinished, 'already approved', 'another approver');
    expect(err.userMessage).toBeTruthy();
  });

  it('2-of-M: first approval is recorded and the request keeps waiting; a second approver completes it', () => {
    const op = makeOperation({ approvalsRequired: 2 });
    const first = applyApproval(op, APPROVER, true, T0 + 10);
    expect(first.kind).toBe('recorded');
    expect(first.op.state).toBe('awaiting_approval');
    expect(first.op.approvals.map((a) => a.userId)).toEqual([APPROVER]);
    expect(first.op.decidedBy).toBeNull();
    expect(first.op.updatedAt).toBe(T0 + 10);

    const second = applyApproval(first.op, APPROVER_2, true, T0 + 20);
    expect(second.kind).toBe('approved');
    expect(second.op.state).toBe('approved');
    expect(second.op.approvals.map((a) => a.userId)).toEqual([APPROVER, APPROVER_2]);
    expect(second.op.decidedBy).toBe(APPROVER_2);
  });

  it('2-of-M: the requester cannot provide the second approval', () => {
    const first = applyApproval(makeOperation({ approvalsRequired: 2 }), APPROVER, true, T0 + 1);
    expectError(() => applyApproval(first.op, REQUESTER, true, T0 + 2), ErrorCode.SelfApproval);
  });

  it('2-of-M: a non-approver cannot provide the second approval', () => {
    const first = applyApproval(makeOperation({ approvalsRequired: 2 }), APPROVER, true, T0 + 1);
    expectError(() => applyApproval(first.op, OUTSIDER, false, T0 + 2), ErrorCode.NotAuthorized);
  });

  it('a click one millisecond before expiry still counts', () => {
    const op = makeOperation();
    expect(applyApproval(op, APPROVER, true, op.expiresAt - 1).kind).toBe('approved');
  });

  it('a click at exactly expiresAt is refused as expired', () => {
    const op = makeOperation();
    expectError(() => applyApproval(op, APPROVER, true, op.expiresAt), ErrorCode.OperationExpired, 'expired', 'new one');
  });

  it('a click on a request already marked expired is refused as expired', () => {
    expectError(() => applyApproval(makeOperation({ state: 'expired' }), APPROVER, true, T0 + 1), ErrorCode.OperationExpired, 'expired');
  });

  it('the requester clicking after expiry is told it expired (not a four-eyes lecture)', () => {
    const op = makeOperation();
    expectError(() => applyApproval(op, REQUESTER, true, op.expiresAt + 1), ErrorCode.OperationExpired);
  });

  it.each(['approved', 'executing', 'propagating', 'done'] as const)('a late click while %s names who approved', (state) => {
    const op = makeOperation({ state, decidedBy: APPROVER, approvals: [{ userId: APPROVER, at: T0 + 1 }] });
    const err = expectError(() => applyApproval(op, APPROVER_2, true, T0 + 2), ErrorCode.OperationFinished, `<@${APPROVER}>`, 'already approved', 'changed nothing');
    if (state !== 'approved') expect(err.userMessage).toMatch(/now /);
  });

  it('a late click after a 2-of-M approval names the approver who completed it', () => {
    const first = applyApproval(makeOperation({ approvalsRequired: 2 }), APPROVER, true, T0 + 1);
    const second = applyApproval(first.op, APPROVER_2, true, T0 + 2);
    expectError(() => applyApproval(second.op, OUTSIDER, true, T0 + 3), ErrorCode.OperationFinished, `<@${APPROVER_2}>`);
  });

  it.each(['rejected', 'cancelled'] as const)('a late click on a %s request says so and names who decided', (state) => {
    const op = makeOperation({ state, decidedBy: APPROVER });
    expectError(() => applyApproval(op, APPROVER_2, true, T0 + 1), ErrorCode.OperationFinished, state, `<@${APPROVER}>`);
  });

  it('a late click on a failed request is refused as finished', () => {
    expectError(() => applyApproval(makeOperation({ state: 'failed' }), APPROVER, true, T0 + 1), ErrorCode.OperationFinished, 'failed');
  });

  // Was a bug (fixed): after approve -> execute -> fail, decidedBy still holds the approver and the late-click message reads
  // "This request is already failed by <@approver>", blaming the approver for the failure.
  it('a late click on a request that failed after approval does not say the approver failed it', () => {
    const op = makeOperation({ state: 'failed', decidedBy: APPROVER, approvals: [{ userId: APPROVER, at: T0 + 1 }], outcome: 'Cloudflare refused the change.' });
    const err = expectError(() => applyApproval(op, APPROVER_2, true, T0 + 2), ErrorCode.OperationFinished);
    expect(err.userMessage).not.toMatch(/failed by/);
  });

  it('a click on a request that is not yet waiting for approval is refused', () => {
    expectError(() => applyApproval(makeOperation({ state: 'requested' }), APPROVER, true, T0 + 1), ErrorCode.OperationFinished);
  });

  it('does not mutate the operation it was given', () => {
    const op = makeOperation({ approvalsRequired: 2 });
    applyApproval(op, APPROVER, true, T0 + 1);
    expect(op.approvals).toEqual([]);
    expect(op.state).toBe('awaiting_approval');
  });
});

describe('applyRejection', () => {
  it('the requester withdrawing their own request cancels it', () => {
    const next = applyRejection(makeOperation(), REQUESTER, false, T0 + 5);
    expect(next.state).toBe('cancelled');
    expect(next.decidedBy).toBe(REQUESTER);
    expect(next.outcome).toMatch(/cancelled by the requester/i);
    expect(next.updatedAt).toBe(T0 + 5);
  });

  it('an approver rejecting it rejects it, with the reason in the outcome', () => {
    const next = applyRejection(makeOperation(), APPROVER, true, T0 + 5, 'wrong prefix');
    expect(next.state).toBe('rejected');
    expect(next.decidedBy).toBe(APPROVER);
    expect(next.outcome).toContain('wrong prefix');
  });

  it('an approver rejecting without a reason still leaves an outcome', () => {
    const next = applyRejection(makeOperation(), APPROVER, true, T0 + 5);
    expect(next.state).toBe('rejected');
    expect(next.outcome).toMatch(/rejected/i);
  });

  it('a 2-of-M request half approved can still be rejected by another approver', () => {
    const first = applyApproval(makeOperation({ approvalsRequired: 2 }), APPROVER, true, T0 + 1);
    expect(applyRejection(first.op, APPROVER_2, true, T0 + 2).state).toBe('rejected');
  });

  it('someone outside the approver groups cannot reject', () => {
    expectError(() => applyRejection(makeOperation(), OUTSIDER, false, T0 + 1), ErrorCode.NotAuthorized, 'approver group');
  });

  it.each(['approved', 'executing', 'propagating', 'done'] as const)('rejecting once %s is refused and names who approved', (state) => {
    const op = makeOperation({ state, decidedBy: APPROVER });
    expectError(() => applyRejection(op, APPROVER_2, true, T0 + 1), ErrorCode.OperationFinished, `<@${APPROVER}>`, 'changed nothing');
  });

  it.each(['rejected', 'expired', 'cancelled', 'failed'] as const)('rejecting a %s request is refused as finished', (state) => {
    expectError(() => applyRejection(makeOperation({ state }), APPROVER, true, T0 + 1), ErrorCode.OperationFinished, state);
  });

  it('the requester cannot cancel once it is approved', () => {
    expectError(() => applyRejection(makeOperation({ state: 'approved', decidedBy: APPROVER }), REQUESTER, false, T0 + 1), ErrorCode.OperationFinished);
  });
});
