/**
 * The alert card: what happened, which of our prefixes, what else it touches (blast radius), the current routing
 * view, its state, and the buttons (Emergency advertise / withdraw through the break-glass path, Acknowledge).
 * Pure: alert in, Block Kit out. Every text of a finding (often from a remote sender) goes through `userText`.
 */
import type { Alert } from '../../monitors/alert-store.js';
import type { AlertAction } from '../../monitors/findings.js';
import { ActionId, BlockId } from '../ids.js';
import { blastRadiusLines } from '../render/guards.js';
import { clip, context, fields, header, mention, section, userText, type Block } from './blocks.js';

const fmtTime = (ms: number) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');

const STATE_LINE: Record<Alert['state'], string> = {
  open: '🔴 *Open*',
  acknowledged: '🟡 *Acknowledged*',
  resolved: '🟢 *Resolved*',
};

const SOURCE: Record<Alert['finding']['source'], string> = {
  cloudflare: 'Cloudflare notification',
  detector: 'DDoS detector',
  routing: 'routing monitor',
  drift: 'drift check',
};

const TYPE_LABEL: Partial<Record<Alert['finding']['type'], string>> = {
  bgp_hijack_notification: 'Route leak',
  fbm_volumetric_attack: 'Volumetric attack',
  fbm_dosd_attack: 'DoS attack',
  fbm_auto_advertisement: 'Auto-advertisement',
  cloudflare_other: 'Cloudflare notification',
  detector_attack: 'DDoS detector: attack',
  foreign_origin: 'Foreign origin',
  more_specific: 'More-specific announced',
  rpki_invalid: 'RPKI invalid',
  low_visibility: 'Low visibility',
  seen_while_withdrawn: 'Seen while withdrawn',
  drift: 'Drift',
};

const BUTTON: Record<AlertAction, { text: string; id: string; style?: 'danger' | 'primary' }> = {
  emergency_advertise: { text: 'Emergency advertise', id: ActionId.AlertAdvertise, style: 'danger' },
  emergency_withdraw: { text: 'Emergency withdraw', id: ActionId.AlertWithdraw, style: 'danger' },
  acknowledge: { text: 'Acknowledge', id: ActionId.AlertAcknowledge },
  put_back: { text: 'Put back', id: ActionId.AlertPutBack, style: 'primary' },
};

/** The managed prefixes an alert's Emergency buttons act on: all it names (several), else its one prefix, else none. */
export function alertPrefixes(f: Alert['finding']): string[] {
  if (f.prefixes && f.prefixes.length > 1) return f.prefixes;
  return f.prefix ? [f.prefix] : [];
}

/** The card's fallback text (notifications, screen readers): the headline with the state. */
export function alertCardText(alert: Alert): string {
  const f = alert.finding;
  const ours = alertPrefixes(f);
  return clip(`${alert.state === 'resolved' ? 'Resolved: ' : 'Alert: '}${userText(f.title, 300)}${ours.length ? ` (${userText(ours.join(', '), 1000)})` : ''}`, 3000);
}

export function alertCard(alert: Alert): { text: string; blocks: Block[] } {
  const f = alert.finding;
  const ours = alertPrefixes(f);
  const several = ours.length > 1;
  // The header is ours (plain text); the finding's own sentence, remote text, goes below it escaped.
  const blocks: Block[] = [header(`${alert.state === 'resolved' ? 'RESOLVED: ' : '🚨 '}${TYPE_LABEL[f.type] ?? 'Alert'}${several ? ` · ${ours.length} of our prefixes` : f.prefix ? ` · ${f.prefix}` : ''}`), section(`*${userText(f.title, 500)}*`)];
  blocks.push(
    fields([
      several
        ? `*Prefixes (${ours.length})*\n${clip(ours.map((p) => `\`${userText(p, 50)}\``).join(', '), 1500)}`
        : `*Prefix*\n${f.prefix ? `\`${userText(f.prefix, 50)}\`` : f.facts.some((x) => x.label === 'Cloudflare unreadable') ? 'unknown: Cloudflare could not be read to tell whether it is ours' : 'not one of ours (no managed prefix covers it)'}`,
      `*From*\n${SOURCE[f.source]} · \`${userText(f.type, 60)}\``,
      `*Seen*\n${fmtTime(f.observedAt)}${alert.raises > 1 ? ` · ${alert.raises} reports` : ''}`,
      `*State*\n${stateLine(alert)}`,
    ]),
  );
  const facts = f.facts.slice(0, 12).map((x) => `*${userText(x.label, 60)}:* ${userText(x.value, 300)}`);
  if (f.facts.length > 12) facts.push(`…and ${f.facts.length - 12} more (in the audit)`);
  if (facts.length) blocks.push(section(facts.join('\n')));
  const c = alert.context;
  if (f.prefix && c) {
    // Several prefixes: what is read for the card is the first one's; the confirm step lists every prefix's blast radius.
    const of = several ? ` of \`${userText(f.prefix, 50)}\`` : '';
    if (c.blast) blocks.push(context(`🎯 *Blast radius${of}:* ${blastRadiusLines(c.blast).join(' · ')}${several ? ` · (the Emergency confirm step shows the blast radius of each of the ${ours.length} prefixes)` : ''}`));
    if (c.routing) {
      if (c.routing.error) blocks.push(context(`❔ The routing view could not be read (${userText(c.routing.error, 200)}).`));
      else {
        const origins = c.routing.origins.length ? c.routing.origins.slice(0, 10).map((o) => `AS${o}`).join(', ') : 'none';
        blocks.push(context(`📡 *Routing now${of}:* ${c.routing.peersSeeing} peer(s) see it · origins ${origins} · read ${fmtTime(c.readAt)}`));
      }
    }
  } else if (f.prefix) {
    blocks.push(context('⏳ Reading the blast radius and the routing view…'));
  }
  for (const n of alert.notes.slice(-5)) blocks.push(context(`📝 ${userText(n, 500)}`));
  const buttons = alert.state === 'resolved' ? [] : f.actions.filter((a) => (a === 'acknowledge' ? alert.state === 'open' : a === 'put_back' ? f.putBack !== undefined : f.prefix !== null));
  if (buttons.length) {
    blocks.push({
      type: 'actions',
      block_id: BlockId.AlertActions,
      elements: buttons.map((a) => ({ type: 'button', action_id: BUTTON[a].id, text: { type: 'plain_text', text: BUTTON[a].text }, value: alert.id, ...(BUTTON[a].style ? { style: BUTTON[a].style } : {}) })),
    });
    const putBack = buttons.includes('put_back') && f.putBack ? `Put back: the usual ${f.putBack.kind} request form, approved as usual · ` : '';
    const emergency = buttons.some((b) => b.startsWith('emergency_'))
      ? several
        ? `Emergency buttons: on call only, over all ${ours.length} prefixes at once, with the same confirm step as /byoip emergency <cidr>,<cidr>… · `
        : 'Emergency buttons: on call only, with the same confirm step as /byoip emergency · '
      : '';
    blocks.push(context(`${putBack}${emergency}Acknowledge: approvers and on call · alert \`${alert.id}\``));
  } else {
    blocks.push(context(`alert \`${alert.id}\``));
  }
  return { text: alertCardText(alert), blocks: blocks.slice(0, 50) };
}

function stateLine(alert: Alert): string {
  if (alert.state === 'resolved') return `${STATE_LINE.resolved} ${fmtTime(alert.resolvedAt ?? alert.updatedAt)}${alert.resolvedWhy ? `: ${userText(alert.resolvedWhy, 200)}` : ''}`;
  if (alert.state === 'acknowledged') return `${STATE_LINE.acknowledged} by ${mention(alert.acknowledgedBy ?? '')} ${fmtTime(alert.acknowledgedAt ?? alert.updatedAt)}`;
  return STATE_LINE.open;
}
