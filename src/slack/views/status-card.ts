import { needsConfirmation } from '../../domain/guards.js';
import { actionVerb, describeState, isTerminal, type Operation } from '../../domain/operation.js';
import { ActionId, BlockId } from '../ids.js';
import { blastRadiusLines, checkLine, guardLine } from '../render/guards.js';
import { verdictText } from '../render/events.js';
import { KIND_VIEWS } from '../render/kinds.js';
import { context, divider, fields, header, mention, section, userText, type Block } from './blocks.js';

export const STATE_ICON: Record<Operation['state'], string> = {
  awaiting_approval: '⏳',
  approved: '✅',
  executing: '⚙️',
  verifying: '📡',
  done: '🟢',
  contested: '🔴',
  unconfirmed: '🟠',
  failed: '❌',
  rejected: '⛔',
  expired: '⌛',
  cancelled: '✖️',
  superseded: '🔀',
};

const fmtTime = (ms: number) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');

/**
 * Re-validation one button away: a validation that failed (or was not confirmed) offers "Validate again"; an
 * onboard that added the prefix offers its next step, "Validate". The click files a new validate request through
 * the same gates as `/byoip validate` (requesters, the lock, intake, the request form, approval).
 */
function validateAgainLabel(op: Operation): string | null {
  if (op.kind === 'validate' && (op.state === 'failed' || op.state === 'unconfirmed')) return 'Validate again';
  if (op.kind === 'onboard' && op.state === 'done' && op.final?.facts?.approved !== 'V') return 'Validate';
  return null;
}

/** The gates an approver may skip (the staged withdraw's drain), as the plan's `withdraw:drain` line named them. */
export function cardGates(op: Operation): string[] {
  const gates = op.checks.find((c) => c.id === 'withdraw:drain')?.facts.gates;
  return Array.isArray(gates) ? gates.filter((g): g is string => typeof g === 'string') : [];
}

/** The one status card at the top of a request's thread. Pure: operation in, Block Kit out. */
export function statusCard(op: Operation): { text: string; blocks: Block[] } {
  const verb = actionVerb(op.kind);
  const state = `${STATE_ICON[op.state]} ${describeState(op.state)}`;
  const blocks: Block[] = [
    header(`${op.breakGlass ? 'BREAK GLASS: ' : ''}${verb} ${op.prefix}`),
    fields([
      `*State*\n${state}`,
      `*Requested by*\n${mention(op.requestedBy)}`,
      op.breakGlass
        ? `*Approvals*\nnone: break glass${op.reviewedBy ? `, reviewed by ${mention(op.reviewedBy)}` : ', review pending'}`
        : `*Approvals*\n${op.approvals.length} of ${op.approvalsRequired}${op.approvals.length ? ` (${op.approvals.map((a) => mention(a.userId)).join(', ')})` : ''}`,
      `*Cloudflare*\naccount \`${op.accountId.slice(0, 8)}…\` ${op.bgpPrefixId ? `BGP prefix \`${op.bgpPrefixId.slice(0, 8)}…\`` : op.prefixId ? `prefix \`${op.prefixId.slice(0, 8)}…\`` : 'new prefix'}`,
    ]),
    section(`*Reason:* ${userText(op.reason)}`),
    section(`*Will change:* ${KIND_VIEWS[op.kind].willChange(op)}`),
  ];
  if (op.breakGlass) blocks.push(context('🚨 Break glass: executed without approval by the on-call engineer, checks skipped before the call. An approver must review it afterwards.'));
  for (const g of op.guards.slice(0, 5)) blocks.push(context(guardLine(g)));
  for (const c of op.checks.slice(0, 5)) blocks.push(context(`📋 ${checkLine(c)}`));
  if (op.blast) blocks.push(context(`🎯 *Also touches:* ${blastRadiusLines(op.blast).join(' · ')}`));
  if (op.override) blocks.push(context(`📝 Override by ${mention(op.override.by)} (${op.override.guards.join(', ')}): ${userText(op.override.reason, 300)}`));
  if (op.stage?.latest) blocks.push(context(`${op.state === 'executing' && op.stage.data.phase !== 'ready' ? '⏳' : '🚦'} ${op.stage.latest}`));
  if (op.watch?.latest) blocks.push(context(`📡 Latest: ${op.watch.latest}`));
  if (op.final) blocks.push(section(`*Outcome:* ${verdictText(op, op.final)}`));
  if (op.state === 'awaiting_approval') {
    const confirm = needsConfirmation(op.guards).length > 0;
    blocks.push({
      type: 'actions',
      block_id: BlockId.CardActions,
      elements: [
        { type: 'button', action_id: ActionId.Approve, text: { type: 'plain_text', text: confirm ? 'Approve…' : 'Approve' }, style: 'primary', value: op.id },
        { type: 'button', action_id: ActionId.Reject, text: { type: 'plain_text', text: 'Reject' }, style: 'danger', value: op.id },
        ...(cardGates(op).length ? [{ type: 'button', action_id: ActionId.ApproveSkipGates, text: { type: 'plain_text', text: 'Approve, skip gates…' }, value: op.id }] : []),
      ],
    });
    blocks.push(context(`Expires ${fmtTime(op.expiresAt)} · approvers only; the requester cannot approve${confirm ? ' · the warnings above need an explicit acknowledgement' : ''} · request \`${op.id}\``));
  } else {
    if (op.breakGlass && !op.reviewedBy) {
      blocks.push({
        type: 'actions',
        block_id: BlockId.CardActions,
        elements: [{ type: 'button', action_id: ActionId.Review, text: { type: 'plain_text', text: 'Mark reviewed' }, value: op.id }],
      });
    }
    if (op.breakGlass && op.reviewedBy) blocks.push(context(`🔍 Reviewed by ${mention(op.reviewedBy)}`));
    const again = validateAgainLabel(op);
    if (again) {
      blocks.push({
        type: 'actions',
        block_id: BlockId.CardActions,
        elements: [{ type: 'button', action_id: ActionId.ValidateAgain, text: { type: 'plain_text', text: again }, value: op.prefix }],
      });
    }
    blocks.push(divider());
    // No "updated at" while open: an unchanged card then renders the same, and the bot skips the chat.update.
    blocks.push(context(`${isTerminal(op.state) ? `Closed ${fmtTime(op.updatedAt)} · ` : ''}request \`${op.id}\``));
  }
  return { text: `${verb} ${op.prefix}: ${describeState(op.state)}`, blocks };
}
