/**
 * The bot's texts use Unicode emoji, never Slack `:shortcode:`s: a shortcode shows raw in a plain_text field without
 * `emoji: true`, in notifications and in the sandbox's terminal chat. Checked twice: every string of src/slack, and the
 * blocks of the cards and dialogs the views build.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Alert } from '../../src/monitors/alert-store.js';
import type { FindingType } from '../../src/monitors/findings.js';
import { alertCard } from '../../src/slack/views/alert-card.js';
import { batchCard, batchModal } from '../../src/slack/views/batch-card.js';
import { breakGlassModal } from '../../src/slack/views/confirm-modals.js';
import { requestModal } from '../../src/slack/views/request-modal.js';
import { statusCard } from '../../src/slack/views/status-card.js';
import { ALL_STATES, makeOperation, T0 } from './helpers.js';

/** `:name:` as Slack writes an emoji; not an IPv6 group (`:db8:`), a time (`12:30:`) or a key part (`alert:x:y`). */
const SHORTCODE = /:([a-z0-9_+]+):/g;
const isShortcode = (name: string) => /[a-z]/.test(name) && !/^[0-9a-f]{1,4}$/.test(name);

function shortcodesIn(text: string): string[] {
  return [...text.matchAll(SHORTCODE)].map((m) => m[1]!).filter(isShortcode).map((n) => `:${n}:`);
}

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

describe('no Slack :shortcode: in what the bot writes', () => {
  it('the oracle: finds shortcodes, not IPv6 groups, times or Redis key parts', () => {
    expect(shortcodesIn('`:warning: x` and :vertical_traffic_light: and :x: failed')).toEqual([':warning:', ':vertical_traffic_light:', ':x:']);
    expect(shortcodesIn('2001:db8::/32 2001:db8:ff9b:1::/64 at 12:30:05 alert:ab12:open byoip:cf-budget:window')).toEqual([]);
  });

  it('no string in src/slack contains one', () => {
    const found: string[] = [];
    for (const file of files(join(import.meta.dirname, '../../src/slack'))) {
      readFileSync(file, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          for (const code of shortcodesIn(line)) found.push(`${file.replace(/.*src\/slack\//, 'src/slack/')}:${i + 1} ${code}`);
        });
    }
    expect(found).toEqual([]);
  });

  it('no card or dialog the views build contains one', () => {
    const built: unknown[] = [];
    for (const state of ALL_STATES) built.push(statusCard(makeOperation({ state, breakGlass: state === 'done', updatedAt: T0 + 1 })));
    const types: FindingType[] = ['bgp_hijack_notification', 'fbm_auto_advertisement', 'detector_attack', 'drift', 'low_visibility', 'cloudflare_other'];
    for (const type of types) {
      for (const state of ['open', 'acknowledged', 'resolved'] as const) {
        const alert: Alert = {
          id: 'a1',
          key: 'k',
          state,
          finding: { key: 'k', source: 'cloudflare', type, prefix: '203.0.113.0/24', title: 't', facts: [{ label: 'l', value: 'v' }], observedAt: T0, actions: ['emergency_withdraw', 'emergency_advertise', 'acknowledge'] },
          raisedAt: T0,
          updatedAt: T0,
          raises: 2,
          notes: ['a note'],
          channel: 'C1',
          ...(state === 'acknowledged' ? { acknowledgedBy: 'U1', acknowledgedAt: T0 } : {}),
          ...(state === 'resolved' ? { resolvedAt: T0, resolvedWhy: 'gone' } : {}),
        };
        built.push(alertCard(alert), alertCard({ ...alert, context: { blast: { bindings: [], delegations: [], addressMaps: [], bgpPrefixes: [], error: 'x' }, routing: { peersSeeing: 1, origins: [13335], error: null }, readAt: T0 } }));
      }
    }
    const items = [{ cidr: '198.18.0.0/24' }, { cidr: '198.18.1.0/24' }];
    built.push(batchModal({ kind: 'withdraw', cidrs: items.map((i) => i.cidr), channel: 'C1' }, 'r', items, [{ cidr: '198.18.2.0/24', why: 'already' }], { checking: true }));
    const child = makeOperation({ prefix: '198.18.0.0/24', breakGlass: true, batch: 'b1', state: 'approved' });
    built.push(batchCard({ id: 'b1', kind: 'withdraw', requestedBy: 'U1', reason: 'r', channel: 'C1', cardTs: null, createdAt: T0, all: false, children: [{ opId: child.id, prefix: child.prefix }], skipped: [] }, [child]));
    for (const kind of ['advertise', 'withdraw'] as const) {
      built.push(breakGlassModal({ kind, cidr: '203.0.113.0/24', channel: 'C1', guards: [], guardsAt: null, supersedes: 'op1' }, 'r', { checking: true, supersedesBy: 'U2' }));
      built.push(requestModal({ kind, cidr: '203.0.113.0/24', channel: 'C1' }, 'r'));
    }
    expect(shortcodesIn(JSON.stringify(built))).toEqual([]);
  });
});
