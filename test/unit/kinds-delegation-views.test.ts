/** The Slack side of unbind / delegate / undelegate: parsing, the request form, the card, and /byoip delegations, within Slack's limits. */
import { describe, expect, it } from 'vitest';
import { validateMessageBlocks, validateView } from '../../world/simulator/slack/index.js';
import type { Delegation, Prefix } from '../../src/domain/addressing.js';
import { parseCommand } from '../../src/slack/command-parser.js';
import { KIND_VIEWS } from '../../src/slack/render/kinds.js';
import { delegationsBlocks } from '../../src/slack/views/delegations.js';
import { checklistText, requestModal } from '../../src/slack/views/request-modal.js';
import { statusCard } from '../../src/slack/views/status-card.js';
import { makeOperation } from './helpers.js';

const ACCOUNT = '9a7806061c88ada191ed06f989cc3dac';
const KINDS = ['unbind', 'delegate', 'undelegate'] as const;

const prefix: Prefix = {
  id: 'pfx00000000000000000000000000001',
  accountId: '0123456789abcdef0123456789abcdef',
  cidr: '203.0.113.0/24',
  asn: 64500,
  description: 'edge',
  approved: 'V',
  onDemandEnabled: true,
  onDemandLocked: false,
  advertised: null,
  advertisedModifiedAt: null,
  loaDocumentId: null,
  delegateLoaCreation: false,
  irrValidationState: 'valid',
  rpkiValidationState: 'valid',
  ownershipValidationState: 'valid',
  createdAt: null,
  modifiedAt: null,
} as unknown as Prefix;

const delegation = (i: number): Delegation => ({ id: `d${i}`, cidr: `10.${i >> 8}.${i & 255}.0/24`, delegatedAccountId: ACCOUNT, parentPrefixId: prefix.id, createdAt: null, modifiedAt: null });

describe('parseCommand: unbind, delegate, undelegate, delegations', () => {
  it('reads the prefix, the CIDR and the account', () => {
    expect(parseCommand('unbind 203.0.113.0/24 203.0.113.10/32 retire')).toEqual({ kind: 'unbind', cidr: '203.0.113.0/24', target: '203.0.113.10/32', reason: 'retire' });
    expect(parseCommand(`delegate 203.0.113.0/24 203.0.113.64/26 ${ACCOUNT.toUpperCase()}`)).toEqual({ kind: 'delegate', cidr: '203.0.113.0/24', target: '203.0.113.64/26', account: ACCOUNT, reason: '' });
    expect(parseCommand('undelegate 203.0.113.0/24 203.0.113.128/25')).toMatchObject({ kind: 'undelegate', target: '203.0.113.128/25' });
    expect(parseCommand('delegations 203.0.113.0/24')).toEqual({ kind: 'delegations', cidr: '203.0.113.0/24' });
  });

  it('says what to type when something is missing or wrong', () => {
    expect(() => parseCommand('unbind 203.0.113.0/24')).toThrow(/\/byoip unbind <prefix> <cidr>/);
    expect(() => parseCommand('delegate 203.0.113.0/24 203.0.113.64/26')).toThrow(/<account-id>/);
    expect(() => parseCommand('delegate 203.0.113.0/24 203.0.113.64/26 1234')).toThrow(/32 hexadecimal/);
    expect(() => parseCommand('delegations')).toThrow(/\/byoip delegations <prefix>/);
  });
});

describe('request form and card', () => {
  it.each(KINDS)('%s: a valid modal naming the CIDR, checklist within 75 characters, args in private_metadata', (kind) => {
    const args: Record<string, string> = kind === 'delegate' ? { target: '203.0.113.64/26', account: ACCOUNT } : { target: '203.0.113.64/26' };
    const view = requestModal({ kind, cidr: '203.0.113.0/24', channel: 'C1', args });
    expect(validateView(view)).toEqual([]);
    expect((view.title as { text: string }).text.length).toBeLessThanOrEqual(24);
    expect(checklistText(kind).length).toBeLessThanOrEqual(75);
    expect(JSON.stringify(view.blocks)).toContain('203.0.113.64/26');
    expect(JSON.parse(view.private_metadata as string).args).toEqual(args);
  });

  it.each(KINDS)('%s: the card is valid Block Kit and says what will change', (kind) => {
    const op = makeOperation({ kind, prefix: '203.0.113.0/24', params: { cidr: '203.0.113.64/26', service: 'Spectrum', delegatedAccountId: ACCOUNT } });
    const card = statusCard(op);
    expect(validateMessageBlocks(card.blocks)).toEqual([]);
    expect(KIND_VIEWS[kind].willChange(op)).toContain('203.0.113.64/26');
  });
});

describe('delegationsBlocks', () => {
  it.each([0, 1, 500])('%i delegations: valid, at most 50 blocks, a short text', (n) => {
    const view = delegationsBlocks({ account: 'prod', accountId: prefix.accountId, prefix, delegations: Array.from({ length: n }, (_, i) => delegation(i)) });
    expect(validateMessageBlocks(view.blocks)).toEqual([]);
    expect(view.blocks.length).toBeLessThanOrEqual(50);
    expect(view.text.length).toBeLessThanOrEqual(3000);
    if (n === 0) expect(view.text).toContain('no delegations');
    else expect(JSON.stringify(view.blocks)).toContain(ACCOUNT);
    if (n === 500) expect(JSON.stringify(view.blocks)).toContain('300 more');
  });
});
