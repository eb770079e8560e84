/**
 * A multi-prefix emergency in Slack: its confirm step (every prefix with its blast radius), its one card (a live
 * line per prefix: sending / sent / propagating or withdrawing / done / failed) and its own thread lines (the alarm,
 * all sent, the verdict true for each prefix). Pure view builders.
 */
import { batchOutcome, batchPrefixState, MAX_BATCH_PREFIXES, type BatchPrefixState, type BatchSkip, type EmergencyBatch } from '../../domain/batch.js';
import type { BlastRadiusFacts, Operation } from '../../domain/operation.js';
import { ActionId, BATCH_VALUE, BlockId, CallbackId, InputActionId } from '../ids.js';
import type { BatchLine } from '../../operations/deliverer.js';
import { verdictText } from '../render/events.js';
import { blastRadiusLines } from '../render/guards.js';
import { clip, context, divider, fields, header, mention, section, userText, type Block } from './blocks.js';

const fmtTime = (ms: number) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
const past = (kind: 'advertise' | 'withdraw') => (kind === 'advertise' ? 'advertised' : 'withdrawn');
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 'es'}`;
const prefixes = (n: number) => (n === 1 ? 'the 1 prefix' : `all ${n} prefixes`);
const list = (cidrs: string[], max = 50) => `${cidrs.slice(0, max).map((c) => `\`${c}\``).join(', ')}${cidrs.length > max ? `, and ${cidrs.length - max} more` : ''}`;

export function skipText(kind: 'advertise' | 'withdraw', s: BatchSkip): string {
  if (s.why === 'already') return `\`${s.cidr}\` is already ${past(kind)}`;
  if (s.why === 'cloudflare_locked') return `\`${s.cidr}\` is locked at Cloudflare (on_demand_locked)`;
  return `\`${s.cidr}\` has an open request${s.holder ? ` (\`${s.holder}\`)` : ''}: use /byoip emergency ${kind} ${s.cidr} on its own to take it over`;
}

export interface BatchModalMetadata {
  kind: 'advertise' | 'withdraw';
  /** The prefixes named (null: `--all`, read again at Send now). */
  cidrs: string[] | null;
  /** What the confirm step showed as skipped (kept on the card). */
  skipped?: BatchSkip[];
  channel: string;
  responseUrl?: string;
  issuedAt?: number;
}

/** The one confirm step: every prefix with its blast radius, what is skipped and why, one Send now. */
export function batchModal(meta: BatchModalMetadata, reason: string, items: { cidr: string; blast?: BlastRadiusFacts }[], skipped: BatchSkip[], opts: { checking: boolean }): Record<string, unknown> {
  const blocks: Block[] = [
    section(
      `🚨 *Break glass: ${meta.kind} ${plural(items.length, 'prefix')} now, without approval.* Every BGP prefix below gets \`on_demand.advertised\` → \`${meta.kind === 'advertise'}\`, all at once.${meta.cidrs === null ? ' (`--all`: every prefix of every account that is not already ' + past(meta.kind) + '.)' : ''}`,
    ),
  ];
  if (opts.checking) blocks.push(context('⏳ Reading what else each prefix touches… you do not have to wait: Send now goes out at once.'));
  for (const it of items.slice(0, MAX_BATCH_PREFIXES)) {
    const touches = it.blast ? blastRadiusLines(it.blast) : [];
    blocks.push(section(`\`${it.cidr}\`${touches.length ? `: ${touches.join(' · ')}` : it.blast ? ': no bindings, delegations or address maps on it' : ''}`));
  }
  if (skipped.length) blocks.push(context(clip(`Skipped: ${skipped.map((s) => skipText(meta.kind, s)).join('; ')}.`, 2000)));
  blocks.push({
    type: 'input',
    block_id: BlockId.Reason,
    label: { type: 'plain_text', text: 'Reason' },
    element: { type: 'plain_text_input', action_id: InputActionId.Reason, multiline: true, min_length: 3, max_length: 500, ...(reason ? { initial_value: clip(reason, 500) } : {}) },
  });
  blocks.push(context('The whole list counts as ONE break-glass use, spent only once it is sent; one card and one thread follow every prefix; reviewed afterwards by an approver.'));
  // private_metadata is capped at 3000 characters: the skipped list goes first, then the response_url.
  let metadata = JSON.stringify(meta);
  if (metadata.length > 3000) metadata = JSON.stringify({ ...meta, skipped: [] });
  if (metadata.length > 3000) metadata = JSON.stringify({ ...meta, skipped: [], responseUrl: undefined });
  return {
    type: 'modal',
    callback_id: CallbackId.BreakGlassBatch,
    private_metadata: metadata,
    title: { type: 'plain_text', text: 'Break glass' },
    submit: { type: 'plain_text', text: 'Send now' },
    close: { type: 'plain_text', text: 'Cancel' },
    blocks: blocks.slice(0, 100),
  };
}

const ICON: Record<BatchPrefixState, string> = {
  sending: '⏳',
  sent: '☁️',
  propagating: '📡',
  withdrawing: '📡',
  advertised: '🟢',
  withdrawn: '🟢',
  contested: '🔴',
  unconfirmed: '🟠',
  failed: '❌',
};

/** One prefix's line on the card. */
export function batchPrefixLine(op: Operation): string {
  const state = batchPrefixState(op);
  const base = `${ICON[state]} \`${op.prefix}\` *${state}*`;
  if (op.final && state !== 'advertised' && state !== 'withdrawn') return `${base}: ${clip(verdictText(op, op.final), 240)}`;
  if (op.watch?.latest) return `${base}: ${clip(op.watch.latest, 200)}`;
  return base;
}

/** The one card of a multi-prefix emergency. */
export function batchCard(batch: EmergencyBatch, children: Operation[]): { text: string; blocks: Block[] } {
  const out = batchOutcome(children);
  const reviewed = children.length > 0 && children.every((c) => c.reviewedBy);
  const reviewer = children.find((c) => c.reviewedBy)?.reviewedBy ?? null;
  const counts = `${out.done.length} of ${children.length} ${past(batch.kind)}${out.failed.length ? `, ${out.failed.length} failed` : ''}${out.contested.length ? `, ${out.contested.length} contested` : ''}${out.unconfirmed.length ? `, ${out.unconfirmed.length} not confirmed` : ''}`;
  const state = out.finished ? (out.verdict === 'done' ? '🟢 done' : out.verdict === 'failed' ? '❌ failed' : out.verdict === 'contested' ? '🔴 contested' : '🟠 not confirmed') : '📡 in progress';
  const blocks: Block[] = [
    header(`BREAK GLASS: ${batch.kind} ${plural(children.length, 'prefix')}`),
    fields([`*State*\n${state} (${counts})`, `*Requested by*\n${mention(batch.requestedBy)}`, `*Approvals*\nnone: break glass${reviewed && reviewer ? `, reviewed by ${mention(reviewer)}` : ', review pending'}`, `*Break-glass uses*\none for the whole list`]),
    section(`*Reason:* ${userText(batch.reason)}`),
    context('🚨 Break glass: executed without approval by the on-call engineer, checks skipped before the calls, all prefixes at once. An approver must review it afterwards.'),
  ];
  const lines = children.map(batchPrefixLine);
  for (let i = 0; i < lines.length; i += 10) blocks.push(section(lines.slice(i, i + 10).join('\n')));
  if (batch.skipped.length) blocks.push(context(clip(`Skipped: ${batch.skipped.map((s) => skipText(batch.kind, s)).join('; ')}.`, 2000)));
  if (out.finished) blocks.push(section(`*Outcome:* ${batchVerdictText(batch, children)}`));
  if (!reviewed) {
    blocks.push({ type: 'actions', block_id: BlockId.CardActions, elements: [{ type: 'button', action_id: ActionId.Review, text: { type: 'plain_text', text: 'Mark reviewed' }, value: `${BATCH_VALUE}${batch.id}` }] });
  } else if (reviewer) blocks.push(context(`🔍 Reviewed by ${mention(reviewer)}`));
  blocks.push(divider());
  const closedAt = out.finished ? Math.max(...children.map((c) => c.updatedAt)) : null;
  blocks.push(context(`${closedAt ? `Closed ${fmtTime(closedAt)} · ` : ''}emergency \`${batch.id}\` · requests ${children.map((c) => `\`${c.id}\``).join(' ')}`.slice(0, 2000)));
  return { text: `Break glass: ${batch.kind} ${plural(children.length, 'prefix')}: ${out.finished ? out.verdict : 'in progress'} (${counts})`, blocks: blocks.slice(0, 50) };
}

/** The batch's last line: the verdict word first, true for each prefix (which are done, which are not and why). */
export function batchVerdictText(batch: EmergencyBatch, children: Operation[]): string {
  const out = batchOutcome(children);
  const n = children.length;
  if (out.verdict === 'done') return `Done: ${prefixes(n)} ${past(batch.kind)}: ${list(out.done)}.`;
  const word = out.verdict === 'failed' ? 'Failed:' : out.verdict === 'contested' ? 'Contested:' : 'Not confirmed:';
  const parts = [`${out.done.length} of ${n} ${past(batch.kind)}${out.done.length ? ` (${list(out.done)})` : ''}`];
  if (out.failed.length) parts.push(`failed: ${list(out.failed)}`);
  if (out.contested.length) parts.push(`contested (another origin still holds peers): ${list(out.contested)}`);
  if (out.unconfirmed.length) parts.push(`not confirmed: ${list(out.unconfirmed)}`);
  return `${word} ${parts.join('; ')}. Each prefix's line on the card says why.`;
}

/** The batch's own thread lines. */
export function batchLineText(batch: EmergencyBatch, children: Operation[], line: BatchLine): { text: string; broadcast: boolean } {
  const n = children.length;
  switch (line) {
    case 'break_glass':
      return {
        text: `🚨 *Break glass* by ${mention(batch.requestedBy)}: ${batch.kind} ${plural(n, 'prefix')} now, without approval: ${list(batch.children.map((c) => c.prefix))}. Reason: ${userText(batch.reason, 500)}.${batch.skipped.length ? ` Skipped: ${batch.skipped.map((s) => skipText(batch.kind, s)).join('; ')}.` : ''} One break-glass use for the whole list. Approvers: review it with the button on the card.`,
        broadcast: true,
      };
    case 'sent': {
      // Accepted by Cloudflare (or already true): the prefix reached the watch. A refused or failed call is not "sent".
      const accepted = (c: Operation) => !['sending', 'failed'].includes(batchPrefixState(c));
      const sent = children.filter(accepted).map((c) => c.prefix);
      const notSent = children.filter((c) => !accepted(c)).map((c) => c.prefix);
      return {
        text: `☁️ Cloudflare has the ${batch.kind} of ${sent.length === n ? prefixes(n) : `${sent.length} of ${n} prefixes`}${notSent.length ? ` (not accepted: ${list(notSent)}, see the card)` : ''}. ${batch.kind === 'advertise' ? 'Cloudflare takes about 2-7 minutes to advertise' : 'Cloudflare takes about 15 minutes to withdraw'}; the card follows each prefix until the Internet agrees.`,
        broadcast: false,
      };
    }
    case 'verdict': {
      const v = batchOutcome(children).verdict;
      return { text: batchVerdictText(batch, children), broadcast: v === 'contested' };
    }
  }
}
