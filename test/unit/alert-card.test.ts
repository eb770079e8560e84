import { describe, expect, it } from 'vitest';
import type { Alert } from '../../src/monitors/alert-store.js';
import { ActionId } from '../../src/slack/ids.js';
import { alertCard } from '../../src/slack/views/alert-card.js';
import { validateMessageBlocks, formatProblem } from '../../world/simulator/slack/block-limits.js';

const base: Alert = {
  id: 'a1b2c3d4e5f60708',
  key: 'cloudflare:x',
  state: 'open',
  finding: {
    key: 'cloudflare:x',
    source: 'cloudflare',
    type: 'bgp_hijack_notification',
    prefix: '203.0.113.0/24',
    title: 'Route leak of 203.0.113.0/24',
    facts: [{ label: 'Seen from', value: 'AS64666' }],
    observedAt: 1_700_000_000_000,
    actions: ['emergency_withdraw', 'emergency_advertise', 'acknowledge'],
  },
  raisedAt: 1_700_000_000_000,
  updatedAt: 1_700_000_000_000,
  raises: 1,
  notes: [],
  channel: 'C0NETOPS',
  context: {
    blast: { bindings: [{ cidr: '203.0.113.0/24', service: 'Magic Transit', state: 'active' }], delegations: [], addressMaps: [], bgpPrefixes: [], error: null },
    routing: { peersSeeing: 12, origins: [64500, 64666], error: null },
    readAt: 1_700_000_001_000,
  },
};

const ids = (card: ReturnType<typeof alertCard>) => JSON.stringify(card.blocks).match(/byoip_alert_[a-z]+/g) ?? [];

describe('alert card', () => {
  it('says what happened, which prefix, the blast radius, the routing view, the state and the buttons', () => {
    const card = alertCard(base);
    const text = JSON.stringify(card.blocks);
    expect(text).toContain('Route leak of 203.0.113.0/24');
    expect(text).toContain('Magic Transit');
    expect(text).toContain('12 peer(s) see it');
    expect(text).toContain('AS64666');
    expect(text).toContain('*Open*');
    expect(ids(card)).toEqual([ActionId.AlertWithdraw, ActionId.AlertAdvertise, ActionId.AlertAcknowledge]);
    expect(validateMessageBlocks(card.blocks).map(formatProblem)).toEqual([]);
  });

  it('acknowledged shows who and drops Acknowledge; resolved has no buttons', () => {
    const ack = alertCard({ ...base, state: 'acknowledged', acknowledgedBy: 'U0BOB', acknowledgedAt: 1_700_000_002_000 });
    expect(JSON.stringify(ack.blocks)).toContain('Acknowledged* by <@U0BOB>');
    expect(ids(ack)).toEqual([ActionId.AlertWithdraw, ActionId.AlertAdvertise]);
    const done = alertCard({ ...base, state: 'resolved', resolvedAt: 1_700_000_003_000, resolvedWhy: 'Cloudflare: the event ended' });
    expect(ids(done)).toEqual([]);
    expect(done.text).toMatch(/^Resolved: /);
  });

  it('several of our prefixes: all listed, the emergency buttons said to act on all of them; the context names whose it is', () => {
    const card = alertCard({ ...base, finding: { ...base.finding, prefixes: ['203.0.113.0/24', '198.51.100.0/24'] } });
    const text = JSON.stringify(card.blocks);
    expect(text).toContain('Route leak · 2 of our prefixes');
    expect(text).toContain('*Prefixes (2)*\\n`203.0.113.0/24`, `198.51.100.0/24`');
    expect(text).toContain('Blast radius of `203.0.113.0/24`');
    expect(text).toContain('over all 2 prefixes at once');
    expect(ids(card)).toEqual([ActionId.AlertWithdraw, ActionId.AlertAdvertise, ActionId.AlertAcknowledge]);
    expect(card.text).toContain('(203.0.113.0/24, 198.51.100.0/24)');
    expect(validateMessageBlocks(card.blocks).map(formatProblem)).toEqual([]);
    // one prefix (or a list of one) is the card of before
    expect(alertCard({ ...base, finding: { ...base.finding, prefixes: ['203.0.113.0/24'] } })).toEqual(alertCard(base));
  });

  it('not one of ours: said, and no emergency buttons', () => {
    const card = alertCard({ ...base, finding: { ...base.finding, prefix: null }, context: undefined });
    expect(JSON.stringify(card.blocks)).toContain('not one of ours');
    expect(ids(card)).toEqual([ActionId.AlertAcknowledge]);
  });

  it('remote text is escaped and the card stays inside Slack limits however big the finding', () => {
    const evil = '<!channel> <@U0ALICE> `code` <https://evil.example|click>';
    const card = alertCard({
      ...base,
      finding: { ...base.finding, title: evil.repeat(50), facts: Array.from({ length: 80 }, (_, i) => ({ label: `${evil} ${i}`, value: evil.repeat(100) })) },
      notes: Array.from({ length: 20 }, () => evil.repeat(20)),
    });
    const text = JSON.stringify(card.blocks);
    expect(text).not.toContain('<!channel>');
    expect(text).not.toContain('<@U0ALICE>');
    expect(text).not.toContain('<https://evil');
    expect(validateMessageBlocks(card.blocks).map(formatProblem)).toEqual([]);
  });
});
