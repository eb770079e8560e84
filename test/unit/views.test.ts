import { describe, expect, it } from 'vitest';
import { validateMessageBlocks, validateView } from '../../world/simulator/slack/index.js';
import type { BgpPrefix, Prefix } from '../../src/domain/addressing.js';
import type { VerdictEvent } from '../../src/domain/events.js';
import type { Check, Guard } from '../../src/domain/guards.js';
import { describeState, newWatch, type Operation } from '../../src/domain/operation.js';
import type { StatusReport } from '../../src/operations/service.js';
import { ActionId, BlockId, CallbackId, InputActionId } from '../../src/slack/ids.js';
import { checklistText, requestModal } from '../../src/slack/views/request-modal.js';
import { STATE_ICON, statusCard } from '../../src/slack/views/status-card.js';
import { statusReportBlocks } from '../../src/slack/views/status-report.js';
import { ALL_STATES, APPROVER, APPROVER_2, REQUESTER, T0, makeOperation } from './helpers.js';

type Block = Record<string, unknown>;
type Button = { type: string; action_id: string; value: string; text: { text: string }; style?: string };

/** Everything a reader of the message would see, as one string. */
const visibleText = (blocks: Block[]) => JSON.stringify(blocks);
const actionsBlocks = (blocks: Block[]) => blocks.filter((b) => b.type === 'actions');
const buttons = (blocks: Block[]): Button[] => actionsBlocks(blocks).flatMap((b) => b.elements as Button[]);

const LONG_REASON = `INC-9001 ${'traffic engineering during the DDoS on the edge; '.repeat(12)}`.slice(0, 500);

const ONCALL = 'UONC0001';

/** The verdict each terminal state closes with, and the word its Outcome line must start with. */
const FINALS: Record<string, { final: VerdictEvent; word: string }> = {
  done: { final: { type: 'verdict', verdict: 'done', step: 'withdrawn', facts: { peers: 3, usual: 96 } }, word: 'Done:' },
  contested: {
    final: { type: 'verdict', verdict: 'contested', step: 'withdrawn_contested', facts: { peers: 2, usual: 96, ownAsn: 64500, origins: [{ asn: 64666, peers: 40 }] } },
    word: 'Contested:',
  },
  unconfirmed: { final: { type: 'verdict', verdict: 'unconfirmed', step: 'timeout', facts: { timeoutMs: 3_600_000, latest: '40/96 peers still see AS13335' } }, word: 'Not confirmed:' },
  failed: { final: { type: 'verdict', verdict: 'failed', step: 'cloudflare_refused', facts: { why: 'the BGP prefix is locked.' } }, word: 'Failed:' },
  rejected: { final: { type: 'verdict', verdict: 'failed', step: 'rejected', facts: { by: APPROVER } }, word: 'Rejected:' },
  expired: { final: { type: 'verdict', verdict: 'failed', step: 'expired', facts: {} }, word: 'Expired:' },
  cancelled: { final: { type: 'verdict', verdict: 'failed', step: 'cancelled', facts: { by: REQUESTER } }, word: 'Cancelled:' },
  superseded: { final: { type: 'verdict', verdict: 'failed', step: 'superseded', facts: { by: ONCALL, opId: 'opbreakglass01' } }, word: 'Superseded:' },
};

const guard = (id: string, status: Guard['status'], detail: string, overridable = false): Guard => ({ id, status, overridable, facts: { detail }, checkedAt: T0 });
const check = (i: number, detail: string): Check => ({ id: `preflight:c${i}`, result: 'fail', facts: { check: `check-${i}`, detail } });

/** An operation in `state` with the fields that state would carry. */
function opIn(state: Operation['state'], extra: Partial<Operation> = {}): Operation {
  const approvedStates = ['approved', 'executing', 'verifying', 'done', 'contested', 'unconfirmed', 'failed'];
  const decidedBy = approvedStates.includes(state) || state === 'rejected' ? APPROVER : state === 'cancelled' ? REQUESTER : state === 'superseded' ? ONCALL : null;
  return makeOperation({
    state,
    updatedAt: T0 + 60_000,
    decidedBy,
    approvals: approvedStates.includes(state) ? [{ userId: APPROVER, at: T0 + 30_000 }] : [],
    approvedAt: approvedStates.includes(state) ? T0 + 30_000 : null,
    watch: ['verifying', 'done', 'contested', 'unconfirmed'].includes(state) ? { ...newWatch(T0 + 40_000), samples: 3, latest: '212 of 300 RIS peers see AS13335' } : null,
    final: FINALS[state]?.final ?? null,
    supersededBy: state === 'superseded' ? 'opbreakglass01' : null,
    ...extra,
  });
}

/** The text of the card's Outcome section, if any. */
const outcomeOf = (blocks: Block[]): string | undefined =>
  blocks.map((b) => (b.type === 'section' ? (b.text as { text?: string } | undefined)?.text : undefined)).find((t) => t?.startsWith('*Outcome:*'));

describe('statusCard', () => {
  it('covers every state', () => {
    expect(ALL_STATES).toHaveLength(12);
    expect(Object.keys(STATE_ICON).sort()).toEqual([...ALL_STATES].sort());
  });

  it.each(ALL_STATES)('is valid Block Kit for state %s, with the prefix, the state and the request id', (state) => {
    const op = opIn(state);
    const card = statusCard(op);
    expect(validateMessageBlocks(card.blocks)).toEqual([]);
    expect(card.blocks.length).toBeLessThanOrEqual(50);
    expect(card.text).toContain(op.prefix);
    expect(card.text).toContain(describeState(state));
    const text = visibleText(card.blocks);
    expect(text).toContain(op.prefix);
    expect(text).toContain(op.id);
    expect(text).toContain(`<@${REQUESTER}>`);
    expect(text).toContain(op.reason);
    expect(text).toContain(`${STATE_ICON[state]} ${describeState(state)}`);
    expect(text).not.toContain('undefined');
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
    expect(bs.find((b) => b.action_id === ActionId.Approve)!.text.text).toBe('Approve');
    expect(bs.find((b) => b.action_id === ActionId.Reject)!.style).toBe('danger');
    // Approvers see when it expires and that the requester cannot approve.
    expect(visibleText(blocks)).toContain(new Date(op.expiresAt).toISOString().slice(0, 16));
    expect(visibleText(blocks)).toMatch(/requester cannot approve/);
    expect(visibleText(blocks)).not.toMatch(/acknowledgement/);
  });

  it.each(ALL_STATES.filter((s) => s !== 'awaiting_approval'))('in state %s shows no buttons', (state) => {
    expect(buttons(statusCard(opIn(state)).blocks)).toEqual([]);
  });

  it.each(Object.keys(FINALS))('a %s card shows the final verdict as the Outcome, starting with its verdict word', (state) => {
    const { word } = FINALS[state]!;
    const outcome = outcomeOf(statusCard(opIn(state as Operation['state'])).blocks);
    expect(outcome).toBeDefined();
    expect(outcome!.startsWith(`*Outcome:* ${word} `)).toBe(true);
  });

  it('the Outcome names the people it is about as mentions', () => {
    expect(outcomeOf(statusCard(opIn('rejected')).blocks)).toContain(`<@${APPROVER}>`);
    expect(outcomeOf(statusCard(opIn('cancelled')).blocks)).toContain(`<@${REQUESTER}>`);
    expect(outcomeOf(statusCard(opIn('superseded')).blocks)).toContain(`<@${ONCALL}>`);
    expect(outcomeOf(statusCard(opIn('superseded')).blocks)).toContain('opbreakglass01');
  });

  it.each(['awaiting_approval', 'approved', 'executing', 'verifying'] as const)('an open (%s) card shows no Outcome', (state) => {
    expect(outcomeOf(statusCard(opIn(state)).blocks)).toBeUndefined();
  });

  it('a card says when the request closed; an open card carries no clock, so an unchanged card renders the same', () => {
    expect(visibleText(statusCard(opIn('done')).blocks)).toMatch(/Closed/);
    const open = opIn('verifying');
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

  it('shows the latest observation while verifying', () => {
    const op = opIn('verifying', { watch: { ...newWatch(T0), samples: 3, latest: '212 of 300 RIS peers see AS13335' } });
    expect(visibleText(statusCard(op).blocks)).toContain('212 of 300 RIS peers see AS13335');
    expect(visibleText(statusCard(opIn('verifying', { watch: newWatch(T0) })).blocks)).not.toMatch(/Latest:/);
  });

  it('shows the guards with their status: a block with ⛔, a warn with ⚠️, a pass with ✅', () => {
    const op = makeOperation({
      guards: [guard('rpki', 'pass', 'ROA valid'), guard('irr', 'warn', 'route object stale'), guard('locked', 'block', 'the prefix is locked at Cloudflare', true)],
    });
    const text = visibleText(statusCard(op).blocks);
    expect(text).toContain('✅ rpki: pass (ROA valid)');
    expect(text).toContain('⚠️ irr: warn (route object stale)');
    expect(text).toContain('⛔ locked: block (the prefix is locked at Cloudflare)');
  });

  it('renders the own-announcement guard in words: a not_seen block tells what to do first', () => {
    const g: Guard = { id: 'own-announcement', status: 'block', overridable: true, facts: { status: 'not_seen', prefix: '203.0.113.0/24', ownAsn: 64500 }, checkedAt: T0 };
    const text = visibleText(statusCard(makeOperation({ guards: [g] })).blocks);
    expect(text).toContain('⛔');
    expect(text).toMatch(/AS64500 \(yours\) is not seen announcing 203\.0\.113\.0\/24/);
    expect(text).toMatch(/override/);
  });

  it.each([
    ['a warn', [guard('irr', 'warn', 'stale')]],
    ['an overridable block', [guard('own-announcement', 'block', 'not seen', true)]],
  ] as const)('with %s the Approve button reads "Approve…" and the card says an acknowledgement is needed', (_, guards) => {
    const { blocks } = statusCard(makeOperation({ guards: [guard('rpki', 'pass', 'ok'), ...guards] }));
    expect(validateMessageBlocks(blocks)).toEqual([]);
    const approve = buttons(blocks).find((b) => b.action_id === ActionId.Approve)!;
    expect(approve.text.text).toBe('Approve…');
    expect(approve.value).toMatch(/^op/);
    expect(visibleText(blocks)).toMatch(/need an explicit acknowledgement/);
  });

  it('with guards that all pass the Approve button reads plain "Approve"', () => {
    const { blocks } = statusCard(makeOperation({ guards: [guard('rpki', 'pass', 'ok'), guard('irr', 'pass', 'ok')] }));
    expect(buttons(blocks).find((b) => b.action_id === ActionId.Approve)!.text.text).toBe('Approve');
  });

  it('shows the override: who took it, on which guards, and why', () => {
    const op = opIn('approved', {
      guards: [guard('irr', 'warn', 'stale')],
      override: { by: APPROVER, at: T0 + 30_000, reason: 'INC-77: checked by hand', guards: ['irr'] },
    });
    const text = visibleText(statusCard(op).blocks);
    expect(text).toContain(`Override by <@${APPROVER}> (irr): INC-77: checked by hand`);
  });

  it('shows at most 5 guards and 5 checks (a handful, not an unbounded list)', () => {
    const guards = Array.from({ length: 40 }, (_, i) => guard(`guard-${i}`, i % 2 ? 'warn' : 'pass', `guard detail ${i}`));
    const checks = Array.from({ length: 40 }, (_, i) => check(i, `check detail ${i}`));
    const card = statusCard(makeOperation({ guards, checks }));
    const text = visibleText(card.blocks);
    for (let i = 0; i < 5; i++) {
      expect(text).toContain(`guard detail ${i})`);
      expect(text).toContain(`check detail ${i}`);
    }
    expect(text).not.toContain('guard detail 5)');
    expect(text).not.toContain('check detail 5');
    expect(card.blocks.length).toBeLessThanOrEqual(50);
    expect(validateMessageBlocks(card.blocks)).toEqual([]);
  });

  it('shows the pre-flight checks with their result', () => {
    const checks: Check[] = [
      { id: 'preflight', result: 'fail', facts: { failing: 1 } },
      { id: 'preflight:rpki', result: 'fail', facts: { check: 'RPKI', detail: 'No ROA covers 203.0.113.0/24.', fix: 'Create a ROA.' } },
    ];
    const text = visibleText(statusCard(makeOperation({ kind: 'validate', bgpPrefixId: null, checks })).blocks);
    expect(text).toMatch(/Pre-flight: 1 check\(s\) would fail/);
    expect(text).toContain('RPKI: No ROA covers 203.0.113.0/24. Fix: Create a ROA.');
  });

  it('a break-glass card says so, offers Mark reviewed until an approver reviewed it, then names the reviewer', () => {
    const op = opIn('verifying', { breakGlass: true, requestedBy: ONCALL, approvals: [], approvalsRequired: 0 });
    const pending = statusCard(op);
    expect(validateMessageBlocks(pending.blocks)).toEqual([]);
    expect(visibleText(pending.blocks)).toMatch(/BREAK GLASS/);
    expect(visibleText(pending.blocks)).toMatch(/review pending/);
    expect(buttons(pending.blocks).map((b) => [b.action_id, b.value])).toEqual([[ActionId.Review, op.id]]);
    const reviewed = statusCard({ ...op, reviewedBy: APPROVER });
    expect(buttons(reviewed.blocks)).toEqual([]);
    expect(visibleText(reviewed.blocks)).toContain(`Reviewed by <@${APPROVER}>`);
  });

  it('a reason full of mentions, links and backticks renders inert', () => {
    const reason = 'urgent <!channel> <!here> ask <@U123> & see <http://evil|click> or `code` ``` and <#C999>';
    const card = statusCard(opIn('awaiting_approval', { reason }));
    expect(validateMessageBlocks(card.blocks)).toEqual([]);
    const text = visibleText(card.blocks);
    expect(text).not.toContain('<!channel>');
    expect(text).not.toContain('<!here>');
    expect(text).not.toContain('<@U123>');
    expect(text).not.toContain('<http');
    expect(text).not.toContain('<#C999>');
    expect(text).toContain('&lt;!channel&gt;');
    expect(text).toContain('&lt;@U123&gt;');
    const reasonLine = card.blocks.map((b) => (b.text as { text?: string } | undefined)?.text).find((t) => t?.startsWith('*Reason:*'))!;
    expect(reasonLine).not.toContain('`');
    // The people the card itself names are still live mentions.
    expect(text).toContain(`<@${REQUESTER}>`);
  });

  it('an override reason and a guard detail full of mentions render inert too', () => {
    const evil = 'ping <!channel> and <@U123> via <http://evil|click> `x`';
    const op = opIn('approved', { guards: [guard('irr', 'warn', evil)], override: { by: APPROVER, at: T0, reason: evil, guards: ['irr'] } });
    const text = visibleText(statusCard(op).blocks);
    expect(text).not.toContain('<!channel>');
    expect(text).not.toContain('<@U123>');
    expect(text).not.toContain('<http');
    expect(text).toContain(`<@${APPROVER}>`);
  });

  it('with a 500-character reason, many long guards and checks, a long override and a long outcome stays inside Slack limits', () => {
    for (const state of ALL_STATES) {
      const long = 'the covering ROA for AS64500 is fine but the IRR route object is stale; '.repeat(60);
      const op = opIn(state, {
        reason: LONG_REASON,
        guards: Array.from({ length: 12 }, (_, i) => guard(`guard-${i}`, (['pass', 'warn', 'block'] as const)[i % 3]!, `${i}: ${long}`, true)),
        checks: Array.from({ length: 12 }, (_, i) => check(i, `${i}: ${long}`)),
        override: { by: APPROVER, at: T0, reason: long, guards: Array.from({ length: 12 }, (_, i) => `guard-${i}`) },
        watch: { ...newWatch(T0), latest: long },
        final: FINALS[state] ? { type: 'verdict', verdict: 'failed', step: 'cloudflare_refused', facts: { why: `Cloudflare said: ${'x'.repeat(5000)}` } } : null,
        prefix: '2001:db8:1234:5678::/48',
      });
      const card = statusCard(op);
      expect(validateMessageBlocks(card.blocks), state).toEqual([]);
      expect(card.blocks.length, state).toBeLessThanOrEqual(50);
      expect(visibleText(card.blocks)).toContain(LONG_REASON);
      // Buttons survive no matter how long the rest is.
      expect(buttons(card.blocks).length).toBe(state === 'awaiting_approval' ? 2 : 0);
    }
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
      open: Array.from({ length: 20 }, (_, i) => makeOperation({ prefix: prefix(i).cidr, state: i % 2 ? 'awaiting_approval' : 'verifying' })),
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

describe('the biggest real prefix (20 bindings, 10 delegations, 5 address maps) fits Slack', () => {
  const blast = {
    bindings: Array.from({ length: 20 }, (_, i) => ({ cidr: `203.0.113.${i * 8}/29`, service: i === 0 ? 'Magic Transit' : i % 2 ? 'CDN' : 'Spectrum', state: i % 3 ? 'active' : 'provisioning' })),
    delegations: Array.from({ length: 10 }, (_, i) => ({ cidr: `203.0.113.${160 + i * 8}/29`, account: `${String(i).repeat(32).slice(0, 32)}` })),
    addressMaps: Array.from({ length: 5 }, (_, i) => ({ id: `${i}`.repeat(32), description: `map ${i} ${'<!channel> '.repeat(20)}`, enabled: i % 2 === 0, ips: ['203.0.113.1', '203.0.113.2'], zones: ['z1', 'z2', 'z3'], accounts: ['a1'] })),
    bgpPrefixes: Array.from({ length: 10 }, (_, i) => ({ cidr: `203.0.113.${i * 16}/28`, advertised: i % 2 === 0 })),
    error: null,
  };
  it('on the status card', () => {
    const card = statusCard(makeOperation({ blast }));
    expect(validateMessageBlocks(card.blocks)).toEqual([]);
    const text = visibleText(card.blocks);
    expect(text).toContain('203.0.113.0/29 Magic Transit');
    expect(text).toContain('Delegated:');
    expect(text).toContain('Address maps:');
    expect(text).not.toContain('<!channel>');
  });
  it('in /byoip status for that prefix', () => {
    const p = { ...prefix(1), cidr: '203.0.113.0/24', loaDocumentId: 'd'.repeat(32) };
    const r = statusReportBlocks({ prefixes: [{ account: 'production', prefix: p, bgp: [bgp('203.0.113.0/24', true)], blast }], open: [], reviews: [makeOperation({ breakGlass: true, state: 'done' })] });
    expect(validateMessageBlocks(r.blocks)).toEqual([]);
    const text = visibleText(r.blocks);
    expect(text).toContain('LOA on file');
    expect(text).toContain('prepend');
    expect(text).toContain('waiting for review');
  });
});
