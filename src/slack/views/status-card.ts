import { actionVerb, describeState, isTerminal, type Operation } from '../../domain/operation.js';
import { ActionId, BlockId } from '../ids.js';
import { context, divider, escapeMrkdwn, fields, header, section, type Block } from './blocks.js';

const STATE_ICON: Record<Operation['state'], string> = {
  requested: ':inbox_tray:',
  awaiting_approval: ':hourglass_flowing_sand:',
  approved: ':white_check_mark:',
  executing: ':gear:',
  propagating: ':satellite_antenna:',
  done: ':large_green_circle:',
  rejected: ':no_entry:',
  expired: ':hourglass:',
  cancelled: ':heavy_multiplication_x:',
  failed: ':x:',
};

const fmtTime = (ms: number) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');

/** The one status card at the top of a request's thread. Pure: operation in, Block Kit out. */
export function statusCard(op: Operation): { text: string; blocks: Block[] } {
  const verb = actionVerb(op.kind);
  const state = `${STATE_ICON[op.state]} ${describeState(op.state)}`;
  const blocks: Block[] = [
    header(`${op.breakGlass ? 'BREAK GLASS: ' : ''}${verb} ${op.prefix}`),
    fields([
      `*State*\n${state}`,
      `*Requested by*\n<@${op.requestedBy}>`,
      op.breakGlass
        ? `*Approvals*\nnone: break glass${op.reviewedBy ? `, reviewed by <@${op.reviewedBy}>` : ', review pending'}`
        : `*Approvals*\n${op.approvals.length} of ${op.approvalsRequired}${op.approvals.length ? ` (${op.approvals.map((a) => `<@${a.userId}>`).join(', ')})` : ''}`,
      `*Cloudflare*\naccount \`${op.accountId.slice(0, 8)}…\` ${op.bgpPrefixId ? `BGP prefix \`${op.bgpPrefixId.slice(0, 8)}…\`` : op.prefixId ? `prefix \`${op.prefixId.slice(0, 8)}…\`` : 'new prefix'}`,
    ]),
    section(`*Reason:* ${escapeMrkdwn(op.reason)}`),
    section(`*Will change:* ${willChange(op)}`),
  ];
  for (const note of op.notes.slice(0, 5)) blocks.push(context(`:clipboard: ${note}`));
  if (op.watch?.lastSummary) blocks.push(context(`:satellite_antenna: Latest: ${op.watch.lastSummary}`));
  if (op.outcome) blocks.push(section(`*Outcome:* ${op.outcome}`));
  if (op.state === 'awaiting_approval') {
    blocks.push({
      type: 'actions',
      block_id: BlockId.CardActions,
      elements: [
        { type: 'button', action_id: ActionId.Approve, text: { type: 'plain_text', text: 'Approve' }, style: 'primary', value: op.id },
        { type: 'button', action_id: ActionId.Reject, text: { type: 'plain_text', text: 'Reject' }, style: 'danger', value: op.id },
      ],
    });
    blocks.push(context(`Expires ${fmtTime(op.expiresAt)} · approvers only; the requester cannot approve · request \`${op.id}\``));
  } else {
    if (op.breakGlass && !op.reviewedBy) {
      blocks.push({
        type: 'actions',
        block_id: BlockId.CardActions,
        elements: [{ type: 'button', action_id: ActionId.Review, text: { type: 'plain_text', text: 'Mark reviewed' }, value: op.id }],
      });
    }
    if (op.breakGlass && op.reviewedBy) blocks.push(context(`:mag: Reviewed by <@${op.reviewedBy}>`));
    blocks.push(divider());
    // No "updated at" while open: an unchanged card then renders the same, and the bot skips the chat.update.
    blocks.push(context(`${isTerminal(op.state) ? `Closed ${fmtTime(op.updatedAt)} · ` : ''}request \`${op.id}\``));
  }
  return { text: `${verb} ${op.prefix}: ${describeState(op.state)}`, blocks };
}

function willChange(op: Operation): string {
  switch (op.kind) {
    case 'advertise':
      return `BGP prefix ${op.prefix} \`on_demand.advertised\` → \`true\` (Cloudflare starts announcing it from AS13335; takes 2-7 min).`;
    case 'withdraw':
      return `BGP prefix ${op.prefix} \`on_demand.advertised\` → \`false\` (Cloudflare stops announcing it; takes about 15 min).`;
    case 'onboard':
      return `Add ${op.prefix}${op.asn ? ` (AS${op.asn})` : ''} to Cloudflare (\`POST .../prefixes\`). It starts pending (\`P\`) with an ownership token to publish; nothing is announced.`;
    case 'validate':
      return `Cloudflare checks IRR, RPKI and ownership of ${op.prefix} (\`POST .../validate\`); when all pass the prefix is approved (\`V\`). Nothing is announced.`;
  }
}
