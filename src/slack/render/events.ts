/**
 * Turns the engine's typed events into thread replies. The last line of every finished request starts with its
 * verdict word: `Done:`, `Contested:`, `Not confirmed:`, `Failed:`, `Rejected:`, `Expired:`, `Cancelled:` or
 * `Superseded:`.
 */
import { isBroadcast, type OpEvent, type VerdictEvent } from '../../domain/events.js';
import type { Operation } from '../../domain/operation.js';
import { humanDuration } from '../../domain/time.js';
import { mention, userText } from '../views/blocks.js';
import { cardGates } from '../views/status-card.js';
import { guardText } from './guards.js';
import { KIND_VIEWS } from './kinds.js';

export interface RenderedReply {
  text: string;
  broadcast: boolean;
}

const fmtTime = (ms: number) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
const s = (v: unknown) => (v === null || v === undefined ? '' : String(v));

/** Gates an approver may skip (the staged withdraw's), as opposed to warnings acknowledged. */
const GATE_IDS = new Set(['drain', 'prepend']);

export const VERDICT_WORD: Record<VerdictEvent['verdict'], string> = { done: 'Done:', contested: 'Contested:', unconfirmed: 'Not confirmed:', failed: 'Failed:' };

export function renderEvent(op: Operation, event: OpEvent): RenderedReply {
  return { text: eventText(op, event), broadcast: isBroadcast(event) };
}

export function eventText(op: Operation, event: OpEvent): string {
  const view = KIND_VIEWS[op.kind];
  switch (event.type) {
    case 'approval': {
      if (!event.quorum) return `☑️ ${mention(event.by)} approved (${event.count} of ${event.required}).`;
      const gates = event.override?.guards.filter((g) => GATE_IDS.has(g)) ?? [];
      const warnings = event.override?.guards.filter((g) => !GATE_IDS.has(g)) ?? [];
      const said = [...(warnings.length ? [`acknowledged the warnings (${warnings.join(', ')})`] : []), ...(gates.length ? [`skipped the gates (${gates.join(', ')}): the change does not wait for them`] : [])];
      const override = event.override ? ` ${mention(event.by)} ${said.join(' and ')} and took responsibility: ${userText(event.override.reason, 300)}.` : '';
      const waits = cardGates(op).some((g) => !gates.includes(g));
      return `✅ Approved by ${mention(event.by)}. ${waits ? `The ${view.noun} goes to Cloudflare once its gates pass (the card shows what it waits for).` : `Sending the ${view.noun} to Cloudflare.`}${override}`;
    }
    case 'rejected':
    case 'cancelled':
    case 'expired':
      return verdictText(op, { type: 'verdict', verdict: 'failed', step: event.type, facts: 'by' in event ? { by: event.by } : {} });
    case 'superseded':
      return verdictText(op, { type: 'verdict', verdict: 'failed', step: 'superseded', facts: { by: event.by, opId: event.opId } });
    case 'reviewed':
      return `🔍 Break-glass change reviewed by ${mention(event.by)}.`;
    case 'break_glass':
      return `🚨 *Break glass* by ${mention(event.by)}: ${op.kind} ${op.prefix} now, without approval. Reason: ${userText(event.reason, 500)}.${event.supersedes ? ` It supersedes the open request \`${event.supersedes}\`.` : ''} Approvers: review it with the button on the card.`;
    case 'approval_lapsed':
      return `⌛ The approval of ${fmtTime(event.approvedAt)} is older than the approval validity (${humanDuration(event.validForMs)}) and the change had not started, so nothing was sent. The request is waiting for approval again: approve it on the card if it still holds.`;
    case 'guards_blocked':
      return verdictText(op, { type: 'verdict', verdict: 'failed', step: 'blocked', facts: { guards: event.guards } });
    case 'guards_warned':
      return `⚠️ Checked again right before the change: ${event.guards.map(guardText).join(' ')} Going ahead: nothing blocks it.`;
    case 'guards_refreshed':
      return `🔍 Checks refreshed after the break-glass change: ${event.guards.map((g) => `${g.status === 'pass' ? '✅' : '⚠️'} ${guardText(g)}`).join(' ') || 'nothing to check.'}`;
    case 'progress':
      return view.progress(op, event.step, event.facts) ?? `ℹ️ ${event.step}`;
    case 'unexpected_origin':
      return `🚨 *Unexpected origin for ${op.prefix}:* ${event.origins.map((o) => `${o.asn === 0 ? 'an AS_SET origin' : `AS${o.asn}`} (${o.peers} peers)`).join(', ')}. That is neither Cloudflare (AS13335) nor your own AS: a possible hijack or route leak. Check now and contact that network if it is not yours.`;
    case 'escalated':
      return view.escalated?.(op, event.elapsedMs, event.summary) ?? `⚠️ ${op.prefix} has not settled after ${humanDuration(event.elapsedMs)}.`;
    case 'read_error':
      return `❔ Could not read the state of ${op.prefix}: ${userText(event.why, 500)} Still trying every ${humanDuration(event.retryEveryMs)}.`;
    case 'rate_limited':
      return `⌛ Cloudflare's API rate limit is holding this change back (Cloudflare asked the bot to wait, or the bot's share of the token's limit is used up). It stays queued and will be tried again at ${fmtTime(event.sendAt)}; nothing more to do.`;
    case 'verdict':
      return verdictText(op, event);
  }
}

/** The last line of a finished request: the verdict word first, then what was observed and what to do. */
export function verdictText(op: Operation, v: VerdictEvent): string {
  const f = v.facts;
  const view = KIND_VIEWS[op.kind];
  switch (v.step) {
    case 'rejected':
      return `Rejected: by ${mention(s(f.by))}. Nothing was sent to Cloudflare.`;
    case 'cancelled':
      return `Cancelled: by the requester, ${mention(s(f.by))}. Nothing was sent to Cloudflare.`;
    case 'expired':
      return 'Expired: nobody approved it in time. Nothing was sent to Cloudflare; file a new one if it is still needed.';
    case 'superseded':
      return `Superseded: a break-glass change by ${mention(s(f.by))} (request \`${s(f.opId)}\`) took over this prefix. This request's buttons no longer work and nothing more of it will be sent.`;
    case 'timeout':
      return `${VERDICT_WORD[v.verdict]} ${view.timeout(op, f)}`;
    case 'read_failures':
      return `${VERDICT_WORD[v.verdict]} the bot could not read the state of ${op.prefix} ${s(f.failures)} times in a row (${userText(s(f.why), 300)}). Cloudflare accepted the change, but whether it took effect is not known: check by hand. The request is closed and the prefix unlocked.`;
    case 'blocked':
      return `Failed: blocked when checked again right before the change: ${((f.guards as Parameters<typeof guardText>[0][]) ?? []).map(guardText).join(' ')} Nothing was sent to Cloudflare; the request is closed and the prefix unlocked.`;
    case 'internal_error':
      return `Failed: an internal error stopped the change.${f.mayHaveReached ? ' A call may have reached Cloudflare: check /byoip status before filing again.' : ' Nothing was sent to Cloudflare.'} The request is closed and the prefix unlocked; the bot owners have the details in the logs.`;
    case 'gave_up':
      return `Failed: gave up after repeated errors talking to Cloudflare (${userText(s(f.why), 300)}).${f.mayHaveReached ? ' A call may have reached Cloudflare: check `/byoip status` before filing again.' : ' Nothing was sent to Cloudflare.'} The prefix is unlocked.`;
    case 'cloudflare_refused':
      return `Failed: Cloudflare refused: ${userText(s(f.why), 500)}${f.outcomeUnknown ? ' The change may or may not have been made: check `/byoip status`.' : ' Nothing was changed.'} The request is closed and the prefix unlocked.`;
    default: {
      const body = view.ending(op, v.step, f) ?? v.step;
      return `${VERDICT_WORD[v.verdict]} ${body}`;
    }
  }
}
