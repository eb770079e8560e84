/** Small builders shared by the unit tests: operations, policies and error assertions. */
import { expect } from 'vitest';
import { BotError, userMessageOf, type ErrorCode } from '../../src/errors.js';
import { newOperation, type Operation, type OperationState } from '../../src/domain/operation.js';

export const T0 = Date.UTC(2026, 0, 15, 12, 0, 0);
export const REQUESTER = 'UREQ0001';
export const APPROVER = 'UAPP0001';
export const APPROVER_2 = 'UAPP0002';
export const OUTSIDER = 'UOUT0001';

let seq = 0;

/** A withdraw request for 203.0.113.0/24 waiting for one approval, expiring 30 minutes after T0. */
export function makeOperation(overrides: Partial<Operation> = {}): Operation {
  seq += 1;
  return newOperation(
    {
      id: `op${String(seq).padStart(6, '0')}`,
      kind: 'withdraw',
      prefix: '203.0.113.0/24',
      accountId: '0123456789abcdef0123456789abcdef',
      prefixId: 'fedcba9876543210fedcba9876543210',
      bgpPrefixId: 'aaaabbbbccccddddeeeeffff00001111',
      requestedBy: REQUESTER,
      reason: 'INC-1234: move traffic back to our own data centre',
      channel: 'C0OPS0001',
      state: 'awaiting_approval',
      expiresAt: T0 + 30 * 60_000,
      approvalsRequired: 1,
      ...overrides,
    },
    T0,
  );
}

export const ALL_STATES: OperationState[] = [
  'awaiting_approval',
  'approved',
  'executing',
  'verifying',
  'done',
  'contested',
  'unconfirmed',
  'failed',
  'rejected',
  'expired',
  'cancelled',
  'superseded',
];

/** Runs `fn`, expects a BotError, and returns it for further checks. */
export function catchBotError(fn: () => unknown): BotError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(BotError);
    return e as BotError;
  }
  throw new Error('expected a BotError, but nothing was thrown');
}

export async function catchBotErrorAsync(fn: () => Promise<unknown>): Promise<BotError> {
  try {
    await fn();
  } catch (e) {
    expect(e).toBeInstanceOf(BotError);
    return e as BotError;
  }
  throw new Error('expected a BotError, but nothing was thrown');
}

/**
 * A message fit for Slack: starts with a capital (or a quoted value) and its first line ends like a sentence
 * (a colon when a list follows).
 */
export function expectSentence(text: string): void {
  expect(text.length).toBeGreaterThan(15);
  expect(text).toMatch(/^[A-Z`<"]/);
  const firstLine = text.split('\n')[0]!.trimEnd();
  expect(firstLine).toMatch(text.includes('\n') ? /[.?!):]$/ : /[.?!)]$/);
}

export function expectError(fn: () => unknown, code: ErrorCode, ...phrases: (string | RegExp)[]): BotError {
  const err = catchBotError(fn);
  expect(err.code).toBe(code);
  expectSentence(err.userMessage);
  for (const p of phrases) expect(err.userMessage).toMatch(typeof p === 'string' ? new RegExp(escapeRe(p), 'i') : p);
  return err;
}

/** The sentence as Slack shows it: the `{placeholders}` of the people it names rendered as mentions. */
export function slackSentence(err: unknown): string {
  return userMessageOf(err, (id) => `<@${id}>`);
}

export function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * For operator-facing startup errors (environment, policy file): the code, a capitalised lead-in and the key
 * phrases; the tail is a list of field problems, so no sentence-end check.
 */
export function expectStartupError(fn: () => unknown, code: ErrorCode, ...phrases: (string | RegExp)[]): BotError {
  const err = catchBotError(fn);
  expect(err.code).toBe(code);
  expect(err.userMessage).toMatch(/^[A-Z]/);
  for (const p of phrases) expect(err.userMessage).toMatch(typeof p === 'string' ? new RegExp(escapeRe(p), 'i') : p);
  return err;
}
