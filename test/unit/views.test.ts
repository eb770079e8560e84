import { describe, expect, it } from 'vitest';
import { validateMessageBlocks, validateView } from '../../world/simulator/slack/index.js';
import type { BgpPrefix, Prefix } from '../../src/domain/addressing.js';
import type { Operation } from '../../src/domain/operation.js';
import type { StatusReport } from '../../src/operations/service.js';
import { ActionId, BlockId, CallbackId, InputActionId } from '../../src/slack/ids.js';
import { checklistText, requestModal } from '../../src/slack/views/request-modal.js';
import { statusCard } from '../../src/slack/views/status-card.js';
import { statusReportBlocks } from '../../src/slack/views/status-report.js';
import { ALL_STATES, APPROVER, APPROVER_2, REQUESTER, T0, makeOperation } from './helpers.js';

type Block = Record<string, unknown>;
type Button = { type: string; action_id: string; value: string; text: { text: string }; style?: string };

/** Everything a reader of the message would see, as one string. */
const visibleText = (blocks: Block[]) => JSON.stringify(blocks);
const actionsBlocks = (blocks: Block[]) => blocks.filter((b) => b.type === 'actions');
const buttons = (blocks: Block[]): Button[] => actionsBlocks(blocks).flatMap((b) => b.elements as Button[]);

const LONG_REASON = `INC-9001 ${'traffic engineering during the DDoS on the edge; '.repeat(12)}`.slice(0, 500);

/** An operation in `state` with the fields that state would carry. */
function opIn(state: Operation['state'], extra: Partial<Operation> = {}): Operation {
  const decided = ['approved', 'executing', 'propagating', 'done', 'failed', 'rejected', 'cancelled'].includes(state);
  return makeOperation({
    state,
    updatedAt: T0 + 60_000,
    decidedBy: decided ? (state === 'cancelled' ? REQUESTER : APPROVER) : null,
    approvals: ['approved', 'executing', 'propagating', 'done', 'failed'].includes(state) ? [{ userId: APPROVER, at: T0 + 30_000 }] : [],
    outcome:
      state === 'done'
        ? 'Cloudflare stopped announcing 203.0.113.0/24; RIPE RIS sees only AS64500.'
        : state === 'failed'
          ? 'Cloudflare refused the change: the BGP prefix is locked.'
          : state === 'rejected'
            ? 'Rejected: wrong prefix'
            : state === 'expired'
              ? 'Nobody approved it within 30 minutes.'
              : state === 'cancelled'
                ? 'Cancelled by the requester.'
                : null,
    ...extra,
  });
}

describe('statusCard', () => {
  it.each(ALL_STATES)('is valid Block Kit for state %s, with the prefix, the state and the request id', (state) => {
    const op = opIn(state);
    const card = statusCard(op);
    expect(validateMessageBlocks(card.blocks)).toEqual([]);
    expect(card.blocks.length).toBeLessThanOrEqual(50);
    expect(card.text).toContain(op.prefix);
    expect(card.text.length).toBeGreaterThan(0);
    const text = visibleText(card.blocks);
    expect(text).toContain(op.prefix);
    expect(text).toContain(op.id);
    expect(text).toContain(`<@${REQUESTER}>`);
    expect(text).toContain(op.reason);
  });

  it('while awaiting approval shows Approve and Reject buttons carrying the operation id', () => {
    const op = opIn('awaiting_approval');
    const { blocks } = statusCard(op);
    const [actions, ...more] = actionsBlocks(blocks);
    expect(more).toEqual([]);
    expect(actions!.block_id).toBe(BlockId.CardActions);
    const bs = buttons(blocks);
    expect(bs.map((b) => b.action_id).sort()).toEqual([ActionId.Approve, ActionId.Reject].sort());
    for (const b of bs) expect(b.value).toBe(op.id);
    expect(bs.find((b) => b.action_id === ActionId.Approve)!.style).toBe('primary');
    expect(bs.find((b) => b.action_id === ActionId.Reject)!.style).toBe('danger');
    // Approvers see when it expires and that the requester cannot approve.
    expect(visibleText(blocks)).toContain(new Date(op.expiresAt).toISOString().slice(0, 16));
    expect(visibleText(blocks)).toMatch(/requester cannot approve/);
  });

  it.each(ALL_STATES.filter((s) => s !== 'awaiting_approval'))('in state %s shows no buttons', (state) => {
    expect(buttons(statusCard(opIn(state)).blocks)).toEqual([]);
  });

  it.each(['done', 'failed', 'rejected', 'expired', 'cancelled'] as const)('a %s card shows the outcome', (state) => {
    const op = opIn(state);
    expect(visibleText(statusCard(op).blocks)).toContain(op.outcome!);
  });

  it('a card says when the request closed; an open card carries no clock, so an unchanged card renders the same', () => {
    expect(visibleText(statusCard(opIn('done')).blocks)).toMatch(/Closed/);
    const open = opIn('propagating');
    expect(visibleText(statusCard(open).blocks)).not.toMatch(/Closed|Updated/);
    expect(statusCard({ ...open, updatedAt: open.updatedAt + 60_000 })).toEqual(statusCard(open));
  });

  it('shows approvals against the quorum, naming approvers', () => {
    const op = makeOperation({ approvalsRequired: 2, approvals: [{ userId: APPROVER, at: T0 + 1 }] });
    const text = visibleText(statusCard(op).blocks);
    expect(text).toContain('1 of 2');
    expect(text).toContain(`<@${APPROVER}>`);
    expect(text).not.toContain(`<@${APPROVER_2}>`);
  });

  it('says what will change in Cloudflare for advertise and for withdraw', () => {
    expect(visibleText(statusCard(makeOperation({ kind: 'advertise' })).blocks)).toMatch(/`on_demand.advertised` → `true`/);
    expect(visibleText(statusCard(makeOperation({ kind: 'withdraw' })).blocks)).toMatch(/`on_demand.advertised` → `false`/);
    expect(statusCard(makeOperation({ kind: 'advertise' })).text).toMatch(/^Advertise/);
  });

  it('shows the latest propagation summary while watching', () => {
    const op = opIn('propagating', {
      watch: { startedAt: T0, phase: 'routing', lastSummary: '212 of 300 RIS peers see AS13335', verdict: null, escalated: false, samples: 3, flaggedOrigins: [], routingError: null },
    });
    expect(visibleText(statusCard(op).blocks)).toContain('212 of 300 RIS peers see AS13335');
  });

  it('with a 500-character reason, long notes and a long outcome stays inside Slack limits', () => {
    for (const state of ALL_STATES) {
      const op = opIn(state, {
        reason: LONG_REASON,
        notes: Array.from({ length: 12 }, (_, i) => `Note ${i}: ${'the covering ROA for AS64500 is fine but the IRR route object is stale; '.repeat(60)}`),
        outcome: `Cloudflare said: ${'x'.repeat(5000)}`,
        prefix: '2001:db8:1234:5678::/48',
      });
      const card = statusCard(op);
      expect(validateMessageBlocks(card.blocks), state).toEqual([]);
      expect(visibleText(card.blocks)).toContain(LONG_REASON);
      // Buttons survive no matter how long the rest is.
      expect(buttons(card.blocks).length).toBe(state === 'awaiting_approval' ? 2 : 0);
    }
  });

  it('shows the pre-check notes (a handful, not an unbounded list)', () => {
    const notes = Array.from({ length: 40 }, (_, i) => `pre-check ${i} ok`);
    const card = statusCard(makeOperation({ notes }));
    expect(visibleText(card.blocks)).toContain('pre-check 0 ok');
    expect(card.blocks.length).toBeLessThanOrEqual(50);
    expect(validateMessageBlocks(card.blocks)).toEqual([]);
  });

  it('the validator itself catches an over-long section (sanity check of the oracle)', () => {
    expect(validateMessageBlocks([{ type: 'section', text: { type: 'mrkdwn', text: 'x'.repeat(3001) } }])).not.toEqual([]);
  });
});

describe('requestModal', () => {
  it.each(['advertise', 'withdraw'] as const)('%s modal is a valid view with reason, checklist and submit', (kind) => {
    const view = requestModal({ kind, cidr: '203.0.113.0/24', channel: 'C0OPS0001' });
    expect(validateView(view)).toEqual([]);
    expect(view.type).toBe('modal');
    expect(view.callback_id).toBe(CallbackId.RequestChange);
    const title = (view.title as { text: string }).text;
    expect(title.length).toBeLessThanOrEqual(24);
    expect(title).toMatch(kind === 'advertise' ? /Advertise/ : /Withdraw/);
    const blocks = view.blocks as Block[];
    const inputs = blocks.filter((b) => b.type === 'input');
    expect(inputs.map((b) => b.block_id)).toEqual([BlockId.Reason, BlockId.Checklist]);
    expect(inputs.map((b) => (b.element as { action_id: string }).action_id)).toEqual([InputActionId.Reason, InputActionId.Checklist]);
    expect(visibleText(blocks)).toContain('203.0.113.0/24');
    expect(visibleText(blocks)).toContain(checklistText(kind));
  });

  it('carries kind, prefix and channel in private_metadata', () => {
    const meta = { kind: 'withdraw' as const, cidr: '2001:db8:1::/48', channel: 'C0OPS0001' };
    const view = requestModal(meta);
    expect(JSON.parse(view.private_metadata as string)).toEqual(meta);
  });

  it('prefills the reason typed after the command', () => {
    const view = requestModal({ kind: 'withdraw', cidr: '203.0.113.0/24', channel: 'C1' }, 'INC-42');
    const reason = (view.blocks as Block[]).find((b) => b.block_id === BlockId.Reason)!;
    expect((reason.element as { initial_value?: string }).initial_value).toBe('INC-42');
  });

  it('without a reason has no empty initial value', () => {
    const view = requestModal({ kind: 'withdraw', cidr: '203.0.113.0/24', channel: 'C1' });
    const reason = (view.blocks as Block[]).find((b) => b.block_id === BlockId.Reason)!;
    expect(reason.element).not.toHaveProperty('initial_value');
  });

  it('with a 500-character reason and the longest IPv6 prefix is still a valid view', () => {
    const view = requestModal({ kind: 'advertise', cidr: '2001:db8:ffff:ffff:ffff:ffff:ffff:ff00/120', channel: 'C0OPS0001' }, LONG_REASON);
    expect(validateView(view)).toEqual([]);
  });

  it('checklist option text fits Slack\'s 75-character option limit', () => {
    for (const kind of ['advertise', 'withdraw'] as const) expect(checklistText(kind).length).toBeLessThanOrEqual(75);
  });
});

function prefix(i: number, approved = true): Prefix {
  return {
    id: `pfx${String(i).padStart(29, '0')}`,
    accountId: '0123456789abcdef0123456789abcdef',
    cidr: `10.${Math.floor(i / 256)}.${i % 256}.0/24`,
    asn: 64500,
    description: `prefix ${i}`,
    approved: approved ? 'V' : 'P',
    loaDocumentId: null,
    delegateLoaCreation: false,
    irrValidationState: approved ? 'validated' : 'pending',
    rpkiValidationState: approved ? 'validated' : 'pending',
    ownershipValidationState: approved ? 'validated' : 'pending',
    ownershipValidationToken: null,
    onDemandEnabled: true,
    onDemandLocked: false,
    advertised: i % 2 === 0,
    advertisedModifiedAt: null,
    createdAt: null,
    modifiedAt: null,
  } as Prefix;
}

function bgp(cidr: string, advertised: boolean, locked = false): BgpPrefix {
  return {
    id: `bgp-${cidr}`,
    cidr,
    asn: 13335,
    asnPrependCount: 0,
    autoAdvertiseWithdraw: false,
    bgpSignalEnabled: false,
    onDemand: { advertised, advertisedModifiedAt: null, enabled: true, locked },
    createdAt: null,
    modifiedAt: null,
  };
}

describe('statusReportBlocks', () => {
  it('with no prefixes says so and says there are no open requests', () => {
    const r = statusReportBlocks({ prefixes: [], open: [] });
    expect(validateMessageBlocks(r.blocks)).toEqual([]);
    expect(visibleText(r.blocks)).toMatch(/No prefixes match/);
    expect(visibleText(r.blocks)).toMatch(/No open requests/);
    expect(r.text.length).toBeGreaterThan(0);
  });

  it('shows each prefix with its BGP state, validation and lock', () => {
    const report: StatusReport = {
      prefixes: [
        { account: 'production', prefix: prefix(1), bgp: [bgp('10.0.1.0/24', true, true)] },
        { account: 'production', prefix: prefix(2, false), bgp: [] },
      ],
      open: [],
    };
    const r = statusReportBlocks(report);
    expect(validateMessageBlocks(r.blocks)).toEqual([]);
    const text = visibleText(r.blocks);
    expect(text).toContain('10.0.1.0/24');
    expect(text).toMatch(/advertised/);
    expect(text).toMatch(/locked/);
    expect(text).toMatch(/pending validation/);
    expect(text).toMatch(/no BGP prefix yet/);
    expect(r.text).toContain('10.0.1.0/24: advertised');
  });

  it('100 prefixes and 20 open requests stay within 50 blocks and say how to narrow the list', () => {
    const report: StatusReport = {
      prefixes: Array.from({ length: 100 }, (_, i) => ({ account: 'production', prefix: prefix(i), bgp: [bgp(prefix(i).cidr, i % 2 === 0)] })),
      open: Array.from({ length: 20 }, (_, i) => makeOperation({ prefix: prefix(i).cidr, state: i % 2 ? 'awaiting_approval' : 'propagating' })),
    };
    const r = statusReportBlocks(report);
    expect(r.blocks.length).toBeLessThanOrEqual(50);
    expect(validateMessageBlocks(r.blocks)).toEqual([]);
    const text = visibleText(r.blocks);
    expect(text).toMatch(/70 more/);
    expect(text).toContain('/byoip status <cidr>');
    expect(text).toMatch(/Open requests/);
    expect(text).toContain(report.open[0]!.id);
  });

  it('a prefix with many BGP prefixes and long validation states still fits a section', () => {
    const many = Array.from({ length: 256 }, (_, i) => bgp(`10.9.${i}.0/24`, i % 3 === 0, i % 5 === 0));
    const p = { ...prefix(9, false), irrValidationState: 'x'.repeat(500) };
    const r = statusReportBlocks({ prefixes: [{ account: 'a'.repeat(200), prefix: p, bgp: many }], open: [] });
    expect(validateMessageBlocks(r.blocks)).toEqual([]);
  });
});
