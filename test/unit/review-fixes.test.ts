import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import { applyRejection } from '../../src/domain/operation.js';
import { statusCard } from '../../src/slack/views/status-card.js';
import { requestModal } from '../../src/slack/views/request-modal.js';
import { humanDuration } from '../../src/domain/time.js';
import { APPROVER, REQUESTER, T0, expectError, makeOperation } from './helpers.js';

describe('review fixes', () => {
  it('a request past its expiry cannot be rejected or cancelled: it is expired', () => {
    const op = makeOperation({ expiresAt: T0 + 1000 });
    expectError(() => applyRejection(op, APPROVER, true, T0 + 1000), ErrorCode.OperationExpired);
    expectError(() => applyRejection(op, REQUESTER, false, T0 + 5000), ErrorCode.OperationExpired);
  });

  it('a reason cannot ping the channel or mention people on the card', () => {
    const card = JSON.stringify(statusCard(makeOperation({ reason: 'urgent <!channel> ask <@U999> & <https://evil|click>' })).blocks);
    expect(card).not.toContain('<!channel>');
    expect(card).not.toContain('<@U999>');
    expect(card).toContain('&lt;!channel&gt;');
  });

  it('a reason typed after the command is cut to the input\'s 500 characters in the modal', () => {
    const view = requestModal({ kind: 'withdraw', cidr: '203.0.113.0/24', channel: 'C1' }, 'x'.repeat(900)) as { blocks: { element?: { initial_value?: string } }[] };
    const initial = view.blocks.map((b) => b.element?.initial_value).find(Boolean)!;
    expect(initial).toHaveLength(500);
  });
});

describe('humanDuration', () => {
  it.each([
    [0, '0 s'],
    [500, '500 ms'],
    [1000, '1 s'],
    [45_000, '45 s'],
    [60_000, '1 min'],
    [90_000, '1 min 30 s'],
    [9 * 60_000 + 59_000, '9 min 59 s'],
    [20 * 60_000, '20 min'],
    [90 * 60_000, '1 h 30 min'],
    [120 * 60_000, '2 h'],
  ])('%i ms reads %s', (ms, text) => expect(humanDuration(ms)).toBe(text));
});
