import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import type { Guard, GuardOverride } from '../../src/domain/guards.js';
import {
  SUPERSEDABLE,
  TERMINAL_STATES,
  applyApproval,
  applyRejection,
  approvalIsFresh,
  canTransition,
  describeState,
  isTerminal,
  lapseApproval,
  supersede,
  transition,
  type Operation,
  type OperationState,
} from '../../src/domain/operation.js';
import { ALL_STATES, APPROVER, APPROVER_2, OUTSIDER, REQUESTER, T0, expectError, makeOperation, slackSentence } from './helpers.js';

/** The moves the lifecycle allows, written out independently of the implementation. */
const LEGAL: Record<OperationState, OperationState[]> = {
  awaiting_approval: ['approved', 'rejected', 'expired', 'cancelled', 'superseded'],
  approved: ['executing', 'awaiting_approval', 'failed', 'superseded'],
  // Back to waiting when the gate re-check at execution outlasted the approval (lapseApproval refuses once a call was sent).
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
const TERMINAL: OperationState[] = ['done', 'contested', 'unconfirmed', 'failed', 'rejected', 'expired', 'cancelled', 'superseded'];
const OPEN: OperationState[] = ['awaiting_approval', 'approved', 'executing', 'verifying'];

const pairs = ALL_STATES.flatMap((from) => ALL_STATES.map((to) => ({ from, to, legal: LEGAL[from].includes(to) })));
const legalPairs = pairs.filter((p) => p.legal);
const illegalPairs = pairs.filter((p) => !p.legal);

/** The person who broke the glass, and their break-glass request. */
const ONCALL = 'UONC0001';
const BREAK_GLASS_OP = 'opbreakglass01';

const approve = (op: Operation, userId: string, at: number, extra: { isApprover?: boolean; override?: GuardOverride | null } = {}) =>
  applyApproval(op, { userId, isApprover: extra.isApprover ?? true, at, override: extra.override });

const guard = (id: string, status: Guard['status'], overridable = false): Guard => ({ id, status, overridable, facts: { detail: `${id} says ${status}` }, checkedAt: T0 });
const overrideOf = (by: string, guards: string[], reason = 'INC-1234: checked the looking glass by hand', at = T0 + 1): GuardOverride => ({ by, at, reason, guards });

describe('operation state machine', () => {
  it('the table lists every state exactly once', () => {
    expect([...ALL_STATES].sort()).toEqual(Object.keys(LEGAL).sort());
    expect(new Set(ALL_STATES).size).toBe(12);
  });

  it('has exactly eight terminal states', () => {
    expect([...TERMINAL_STATES].sort()).toEqual([...TERMINAL].sort());
    for (const s of ALL_STATES) expect(isTerminal(s)).toBe(TERMINAL.includes(s));
  });

  it('a break-glass change may supersede exactly the open states', () => {
    expect([...SUPERSEDABLE].sort()).toEqual([...OPEN].sort());
  });

  it.each(legalPairs)('allows $from -> $to', ({ from, to }) => {
    expect(canTransition(from, to)).toBe(true);
    const op = makeOperation({ state: from });
    const next = transition(op, to, T0 + 5, { decidedBy: 'UPATCH01' });
    expect(next.state).toBe(to);
    expect(next.updatedAt).toBe(T0 + 5);
    expect(next.decidedBy).toBe('UPATCH01');
    // The input record is not mutated: the store compares against it.
    expect(op.state).toBe(from);
    expect(op.updatedAt).toBe(T0);
    expect(op.decidedBy).toBeNull();
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

  it('a request cannot skip approval and go straight to execution, nor skip execution', () => {
    expect(canTransition('awaiting_approval', 'executing')).toBe(false);
    expect(canTransition('awaiting_approval', 'verifying')).toBe(false);
    expect(canTransition('approved', 'done')).toBe(false);
    expect(canTransition('approved', 'verifying')).toBe(false);
  });

  it('only a followed change can end contested or not confirmed', () => {
    for (const from of ALL_STATES.filter((s) => s !== 'verifying')) {
      expect(canTransition(from, 'contested')).toBe(false);
      expect(canTransition(from, 'unconfirmed')).toBe(false);
    }
  });

  it('only an approved or executing request can go back to waiting for approval (a lapsed approval)', () => {
    for (const from of ALL_STATES.filter((s) => s !== 'approved' && s !== 'executing')) expect(canTransition(from, 'awaiting_approval')).toBe(false);
  });
});

describe('applyApproval', () => {
  it('the requester cannot approve their own request (four eyes)', () => {
    const op = makeOperation();
    expectError(() => approve(op, REQUESTER, T0 + 1), ErrorCode.SelfApproval, 'another approver');
  });

  it('someone outside the approver groups is refused and told to ask an approver', () => {
    expectError(() => approve(makeOperation(), OUTSIDER, T0 + 1, { isApprover: false }), ErrorCode.NotAuthorized, 'approver group');
  });

  it('one approval from an approver approves a 1-of-M request and records who decided and when', () => {
    const d = approve(makeOperation(), APPROVER, T0 + 1000);
    expect(d.kind).toBe('approved');
    expect(d.op.state).toBe('approved');
    expect(d.op.decidedBy).toBe(APPROVER);
    expect(d.op.approvals).toEqual([{ userId: APPROVER, at: T0 + 1000 }]);
    expect(d.op.approvedAt).toBe(T0 + 1000);
    expect(d.op.updatedAt).toBe(T0 + 1000);
    expect(d.op.override).toBeNull();
  });

  it('the same approver clicking twice on a 2-of-M request counts once', () => {
    const first = approve(makeOperation({ approvalsRequired: 2 }), APPROVER, T0 + 1);
    expect(first.kind).toBe('recorded');
    const err = expectError(() => approve(first.op, APPROVER, T0 + 2), ErrorCode.OperationFinished, 'already approved', 'another approver');
    expect(err.userMessage).toBeTruthy();
  });

  it('2-of-M: first approval is recorded and the request keeps waiting; a second approver completes it', () => {
    const op = makeOperation({ approvalsRequired: 2 });
    const first = approve(op, APPROVER, T0 + 10);
    expect(first.kind).toBe('recorded');
    expect(first.op.state).toBe('awaiting_approval');
    expect(first.op.approvals.map((a) => a.userId)).toEqual([APPROVER]);
    expect(first.op.decidedBy).toBeNull();
    expect(first.op.approvedAt).toBeNull();
    expect(first.op.updatedAt).toBe(T0 + 10);

    const second = approve(first.op, APPROVER_2, T0 + 20);
    expect(second.kind).toBe('approved');
    expect(second.op.state).toBe('approved');
    expect(second.op.approvals.map((a) => a.userId)).toEqual([APPROVER, APPROVER_2]);
    expect(second.op.decidedBy).toBe(APPROVER_2);
    // The approval validity runs from the click that completed the quorum.
    expect(second.op.approvedAt).toBe(T0 + 20);
  });

  it('2-of-M: the requester cannot provide the second approval', () => {
    const first = approve(makeOperation({ approvalsRequired: 2 }), APPROVER, T0 + 1);
    expectError(() => approve(first.op, REQUESTER, T0 + 2), ErrorCode.SelfApproval);
  });

  it('2-of-M: a non-approver cannot provide the second approval', () => {
    const first = approve(makeOperation({ approvalsRequired: 2 }), APPROVER, T0 + 1);
    expectError(() => approve(first.op, OUTSIDER, T0 + 2, { isApprover: false }), ErrorCode.NotAuthorized);
  });

  it('a click one millisecond before expiry still counts', () => {
    const op = makeOperation();
    expect(approve(op, APPROVER, op.expiresAt - 1).kind).toBe('approved');
  });

  it('a click at exactly expiresAt is refused as expired', () => {
    const op = makeOperation();
    expectError(() => approve(op, APPROVER, op.expiresAt), ErrorCode.OperationExpired, 'expired', 'new one');
  });

  it('a click on a request already marked expired is refused as expired', () => {
    expectError(() => approve(makeOperation({ state: 'expired' }), APPROVER, T0 + 1), ErrorCode.OperationExpired, 'expired');
  });

  it('the requester clicking after expiry is told it expired (not a four-eyes lecture)', () => {
    const op = makeOperation();
    expectError(() => approve(op, REQUESTER, op.expiresAt + 1), ErrorCode.OperationExpired);
  });

  it.each(['approved', 'executing', 'verifying', 'done', 'contested', 'unconfirmed'] as const)('a late click while %s names who approved', (state) => {
    const op = makeOperation({ state, decidedBy: APPROVER, approvals: [{ userId: APPROVER, at: T0 + 1 }] });
    const err = expectError(() => approve(op, APPROVER_2, T0 + 2), ErrorCode.OperationFinished, 'already approved', 'changed nothing');
    // The domain names people by placeholder; the Slack layer renders the mention.
    expect(err.userMessage).toContain('{by}');
    expect(err.userMessage).not.toContain('<@');
    expect(err.people).toEqual({ by: APPROVER });
    const text = slackSentence(err);
    expect(text).toContain(`already approved by <@${APPROVER}>`);
    if (state !== 'approved') expect(text).toContain(`now ${describeState(state)}`);
    // Logs and the audit see the plain id.
    expect(err.message).toContain(APPROVER);
    expect(err.message).not.toContain('{by}');
  });

  it('a late click after a 2-of-M approval names the approver who completed it', () => {
    const first = approve(makeOperation({ approvalsRequired: 2 }), APPROVER, T0 + 1);
    const second = approve(first.op, APPROVER_2, T0 + 2);
    const err = expectError(() => approve(second.op, OUTSIDER, T0 + 3), ErrorCode.OperationFinished);
    expect(slackSentence(err)).toContain(`<@${APPROVER_2}>`);
    expect(slackSentence(err)).not.toContain(`<@${APPROVER}>`);
  });

  it.each(['rejected', 'cancelled'] as const)('a late click on a %s request says so and names who decided', (state) => {
    const op = makeOperation({ state, decidedBy: APPROVER });
    const err = expectError(() => approve(op, APPROVER_2, T0 + 1), ErrorCode.OperationFinished, state);
    expect(slackSentence(err)).toContain(`${state} by <@${APPROVER}>`);
  });

  it('a late click on a failed request is refused as finished', () => {
    expectError(() => approve(makeOperation({ state: 'failed' }), APPROVER, T0 + 1), ErrorCode.OperationFinished, 'failed');
  });

  // Was a bug (fixed): after approve -> execute -> fail, decidedBy still holds the approver and the late-click message reads
  // "This request is already failed by <@approver>", blaming the approver for the failure.
  it('a late click on a request that failed after approval does not say the approver failed it', () => {
    const op = makeOperation({
      state: 'failed',
      decidedBy: APPROVER,
      approvals: [{ userId: APPROVER, at: T0 + 1 }],
      final: { type: 'verdict', verdict: 'failed', step: 'cloudflare_refused', facts: { why: 'the BGP prefix is locked' } },
    });
    const err = expectError(() => approve(op, APPROVER_2, T0 + 2), ErrorCode.OperationFinished);
    expect(slackSentence(err)).not.toMatch(/failed by/);
    expect(slackSentence(err)).not.toContain(`<@${APPROVER}>`);
  });

  it('a late click on a superseded request says a break-glass change superseded it and names who broke the glass', () => {
    const op = supersede(makeOperation(), ONCALL, BREAK_GLASS_OP, T0 + 5);
    const err = expectError(() => approve(op, APPROVER, T0 + 6), ErrorCode.OperationFinished, 'superseded by a break-glass change', 'changed nothing');
    expect(err.people).toEqual({ by: ONCALL });
    expect(slackSentence(err)).toContain(`superseded by a break-glass change by <@${ONCALL}>`);
  });

  it('does not mutate the operation it was given', () => {
    const op = makeOperation({ approvalsRequired: 2 });
    approve(op, APPROVER, T0 + 1);
    expect(op.approvals).toEqual([]);
    expect(op.state).toBe('awaiting_approval');
  });
});

describe('applyApproval with guards that need confirmation', () => {
  const WARN = guard('own-announcement', 'warn');
  const SOFT_BLOCK = guard('preflight:rpki', 'block', true);
  const HARD_BLOCK = guard('locked', 'block', false);
  const PASS = guard('roa', 'pass');

  it.each([
    ['a warn', [PASS, WARN]],
    ['an overridable block', [PASS, SOFT_BLOCK]],
    ['a warn and an overridable block', [WARN, SOFT_BLOCK]],
  ] as const)('with %s, a plain click is refused: the approver must confirm explicitly', (_, guards) => {
    const op = makeOperation({ guards: [...guards] });
    expectError(() => approve(op, APPROVER, T0 + 1), ErrorCode.ConfirmationRequired, 'acknowledge', 'dialog');
    expectError(() => approve(op, APPROVER, T0 + 1, { override: null }), ErrorCode.ConfirmationRequired);
  });

  it('an override that does not cover every guard needing confirmation is refused', () => {
    const op = makeOperation({ guards: [WARN, SOFT_BLOCK] });
    expectError(() => approve(op, APPROVER, T0 + 1, { override: overrideOf(APPROVER, [WARN.id]) }), ErrorCode.ConfirmationRequired);
    expectError(() => approve(op, APPROVER, T0 + 1, { override: overrideOf(APPROVER, [SOFT_BLOCK.id]) }), ErrorCode.ConfirmationRequired);
    // Acknowledging a guard that passes does not stand in for the one that warns.
    expectError(() => approve(makeOperation({ guards: [PASS, WARN] }), APPROVER, T0 + 1, { override: overrideOf(APPROVER, [PASS.id]) }), ErrorCode.ConfirmationRequired);
  });

  it.each(['', 'ok', '  ab  ', '\n\t'])('an override whose reason is under 3 characters (%j) is refused', (reason) => {
    const op = makeOperation({ guards: [WARN] });
    expectError(() => approve(op, APPROVER, T0 + 1, { override: overrideOf(APPROVER, [WARN.id], reason) }), ErrorCode.InvalidInput, 'why', 'audit');
  });

  it('an override covering every warn and overridable block approves, and the override is kept on the record', () => {
    const op = makeOperation({ guards: [PASS, WARN, SOFT_BLOCK] });
    const override = overrideOf(APPROVER, [WARN.id, SOFT_BLOCK.id], 'yes');
    const d = approve(op, APPROVER, T0 + 1, { override });
    expect(d.kind).toBe('approved');
    expect(d.op.state).toBe('approved');
    expect(d.op.override).toEqual(override);
    expect(d.op.approvedAt).toBe(T0 + 1);
  });

  it('2-of-M with a warn: every approver has to confirm it, not just the first', () => {
    const op = makeOperation({ approvalsRequired: 2, guards: [WARN] });
    const first = approve(op, APPROVER, T0 + 1, { override: overrideOf(APPROVER, [WARN.id]) });
    expect(first.kind).toBe('recorded');
    expect(first.op.override?.by).toBe(APPROVER);
    expectError(() => approve(first.op, APPROVER_2, T0 + 2), ErrorCode.ConfirmationRequired);
    const second = approve(first.op, APPROVER_2, T0 + 2, { override: overrideOf(APPROVER_2, [WARN.id], 'agreed, INC-1234', T0 + 2) });
    expect(second.kind).toBe('approved');
    expect(second.op.override).not.toBeNull();
  });

  it('guards that all pass need no confirmation, and a plain click records no override', () => {
    const d = approve(makeOperation({ guards: [PASS, guard('irr', 'pass')] }), APPROVER, T0 + 1);
    expect(d.kind).toBe('approved');
    expect(d.op.override).toBeNull();
  });

  it('a hard block is not something an override can take: it needs no confirmation here (filing and execution stop it)', () => {
    const op = makeOperation({ guards: [HARD_BLOCK] });
    expect(approve(op, APPROVER, T0 + 1).kind).toBe('approved');
  });

  it('the checks on the expiry, the requester and the group come before the confirmation', () => {
    const op = makeOperation({ guards: [WARN] });
    expectError(() => approve(op, REQUESTER, T0 + 1), ErrorCode.SelfApproval);
    expectError(() => approve(op, OUTSIDER, T0 + 1, { isApprover: false }), ErrorCode.NotAuthorized);
    expectError(() => approve(op, APPROVER, op.expiresAt), ErrorCode.OperationExpired);
  });
});

describe('approval validity', () => {
  const VALID = 15 * 60_000;
  const approvedOp = (extra: Partial<Operation> = {}) => approve(makeOperation({ approvalValidForMs: VALID, ...extra }), APPROVER, T0 + 1000).op;

  it('an approval is fresh up to approvalValidForMs after it was complete, and stale one millisecond later', () => {
    const op = approvedOp();
    expect(approvalIsFresh(op, T0 + 1000)).toBe(true);
    expect(approvalIsFresh(op, T0 + 1000 + VALID)).toBe(true);
    expect(approvalIsFresh(op, T0 + 1000 + VALID + 1)).toBe(false);
  });

  it('follows the validity the request was filed with', () => {
    const op = approve(makeOperation({ approvalValidForMs: 60_000 }), APPROVER, T0).op;
    expect(approvalIsFresh(op, T0 + 60_000)).toBe(true);
    expect(approvalIsFresh(op, T0 + 60_001)).toBe(false);
  });

  it('a request that was never approved is not fresh', () => {
    expect(approvalIsFresh(makeOperation({ state: 'approved', approvedAt: null }), T0)).toBe(false);
  });

  it('break glass is always fresh (it needs no approval)', () => {
    const op = makeOperation({ state: 'approved', breakGlass: true, approvedAt: null });
    expect(approvalIsFresh(op, T0)).toBe(true);
    expect(approvalIsFresh(op, T0 + 365 * 86_400_000)).toBe(true);
  });

  it('a lapse clears the approvals and the override and waits for approval again with a fresh expiry', () => {
    const WARN = guard('own-announcement', 'warn');
    const op = approve(makeOperation({ approvalValidForMs: VALID, guards: [WARN] }), APPROVER, T0 + 1000, { override: overrideOf(APPROVER, [WARN.id]) }).op;
    expect(op.override).not.toBeNull();
    const at = T0 + 1000 + VALID + 1;
    const lapsed = lapseApproval(op, at, 30 * 60_000);
    expect(lapsed.state).toBe('awaiting_approval');
    expect(lapsed.approvals).toEqual([]);
    expect(lapsed.approvedAt).toBeNull();
    expect(lapsed.decidedBy).toBeNull();
    expect(lapsed.override).toBeNull();
    expect(lapsed.expiresAt).toBe(at + 30 * 60_000);
    expect(lapsed.updatedAt).toBe(at);
    expect(approvalIsFresh(lapsed, at)).toBe(false);
    // The guards stay; the next approver has to confirm them again.
    expect(lapsed.guards).toEqual([WARN]);
    expectError(() => approve(lapsed, APPROVER, at + 1), ErrorCode.ConfirmationRequired);
    const again = approve(lapsed, APPROVER_2, at + 1, { override: overrideOf(APPROVER_2, [WARN.id], 'still needed', at + 1) });
    expect(again.kind).toBe('approved');
    expect(again.op.approvedAt).toBe(at + 1);
    expect(approvalIsFresh(again.op, at + 1)).toBe(true);
  });

  it('the same approver may approve again after a lapse', () => {
    const lapsed = lapseApproval(approvedOp(), T0 + VALID + 2000, 30 * 60_000);
    expect(approve(lapsed, APPROVER, T0 + VALID + 3000).kind).toBe('approved');
  });

  it('a lapse gives the next execute job a fresh generation (a finished job id is retained by the queue)', () => {
    const op = { ...approvedOp(), jobs: { execute: 2, watch: 1 } };
    expect(lapseApproval(op, T0 + VALID + 2000, 30 * 60_000).jobs).toEqual({ execute: 3, watch: 1 });
  });

  it('an executing request whose gate re-check outlasted the approval can lapse while no call was sent', () => {
    const executing = transition(approvedOp(), 'executing', T0 + 2000);
    const lapsed = lapseApproval(executing, T0 + VALID + 2000, 30 * 60_000);
    expect(lapsed.state).toBe('awaiting_approval');
    expect(lapsed.approvals).toEqual([]);
  });

  it.each(['approved', 'executing'] as const)('a %s request whose Cloudflare call was already sent cannot lapse', (state) => {
    const op = makeOperation({ state, approvedAt: T0, cloudflare: { at: T0 + 1, request: 'PATCH .../bgp/prefixes/x', outcome: 'called', result: {} } });
    expectError(() => lapseApproval(op, T0 + VALID + 2000, 30 * 60_000), ErrorCode.InvalidInput, 'already sent');
  });

  it.each(['awaiting_approval', 'verifying', 'done', 'superseded'] as const)('only an approved or executing request can lapse, not one %s', (state) => {
    const code = isTerminal(state) ? ErrorCode.OperationFinished : ErrorCode.InvalidInput;
    expectError(() => lapseApproval(makeOperation({ state }), T0, 30 * 60_000), code);
  });
});

describe('supersede', () => {
  it.each(OPEN)('a break-glass change supersedes a request that is %s: terminal, naming who and which request', (state) => {
    const op = makeOperation({ state });
    const next = supersede(op, ONCALL, BREAK_GLASS_OP, T0 + 7);
    expect(next.state).toBe('superseded');
    expect(isTerminal(next.state)).toBe(true);
    expect(next.supersededBy).toBe(BREAK_GLASS_OP);
    expect(next.decidedBy).toBe(ONCALL);
    expect(next.updatedAt).toBe(T0 + 7);
    expect(next.final).toEqual({ type: 'verdict', verdict: 'failed', step: 'superseded', facts: { by: ONCALL, opId: BREAK_GLASS_OP } });
    expect(op.state).toBe(state);
  });

  it.each(TERMINAL)('a finished (%s) request cannot be superseded', (state) => {
    expectError(() => supersede(makeOperation({ state }), ONCALL, BREAK_GLASS_OP, T0), ErrorCode.OperationFinished);
  });

  it('the buttons of a superseded request stop working: reject and cancel are refused too', () => {
    const op = supersede(makeOperation(), ONCALL, BREAK_GLASS_OP, T0 + 1);
    const rej = expectError(() => applyRejection(op, APPROVER, true, T0 + 2), ErrorCode.OperationFinished, 'superseded by a break-glass change');
    expect(slackSentence(rej)).toContain(`<@${ONCALL}>`);
    expectError(() => applyRejection(op, REQUESTER, false, T0 + 2), ErrorCode.OperationFinished, 'superseded');
  });
});

describe('applyRejection', () => {
  it('the requester withdrawing their own request cancels it', () => {
    const next = applyRejection(makeOperation(), REQUESTER, false, T0 + 5);
    expect(next.state).toBe('cancelled');
    expect(next.decidedBy).toBe(REQUESTER);
    expect(next.final).toEqual({ type: 'verdict', verdict: 'failed', step: 'cancelled', facts: { by: REQUESTER } });
    expect(next.updatedAt).toBe(T0 + 5);
  });

  it('an approver rejecting it rejects it, with who rejected it in the final verdict', () => {
    const next = applyRejection(makeOperation(), APPROVER, true, T0 + 5);
    expect(next.state).toBe('rejected');
    expect(next.decidedBy).toBe(APPROVER);
    expect(next.final).toEqual({ type: 'verdict', verdict: 'failed', step: 'rejected', facts: { by: APPROVER } });
    expect(next.updatedAt).toBe(T0 + 5);
  });

  it('a 2-of-M request half approved can still be rejected by another approver', () => {
    const first = approve(makeOperation({ approvalsRequired: 2 }), APPROVER, T0 + 1);
    expect(applyRejection(first.op, APPROVER_2, true, T0 + 2).state).toBe('rejected');
  });

  it('someone outside the approver groups cannot reject', () => {
    expectError(() => applyRejection(makeOperation(), OUTSIDER, false, T0 + 1), ErrorCode.NotAuthorized, 'approver group');
  });

  it.each(['approved', 'executing', 'verifying', 'done', 'contested', 'unconfirmed'] as const)('rejecting once %s is refused and names who approved', (state) => {
    const op = makeOperation({ state, decidedBy: APPROVER });
    const err = expectError(() => applyRejection(op, APPROVER_2, true, T0 + 1), ErrorCode.OperationFinished, 'changed nothing');
    expect(slackSentence(err)).toContain(`<@${APPROVER}>`);
  });

  it.each(['rejected', 'expired', 'cancelled', 'failed', 'contested', 'unconfirmed', 'superseded'] as const)('rejecting a %s request is refused as finished', (state) => {
    expectError(() => applyRejection(makeOperation({ state }), APPROVER, true, T0 + 1), ErrorCode.OperationFinished, describeState(state));
  });

  it('the requester cannot cancel once it is approved', () => {
    expectError(() => applyRejection(makeOperation({ state: 'approved', decidedBy: APPROVER }), REQUESTER, false, T0 + 1), ErrorCode.OperationFinished);
  });

  it('does not mutate the operation it was given', () => {
    const op = makeOperation();
    applyRejection(op, APPROVER, true, T0 + 1);
    expect(op.state).toBe('awaiting_approval');
    expect(op.final).toBeNull();
  });
});
