/** The confirm steps: an approver acknowledging warnings, and the on-call engineer's "Send now". Pure view builders. */
import type { Guard } from '../../domain/guards.js';
import { actionVerb, type Operation } from '../../domain/operation.js';
import { guardLine } from '../render/guards.js';
import { KIND_VIEWS } from '../render/kinds.js';
import { BlockId, CallbackId, InputActionId } from '../ids.js';
import { clip, context, section, userText, type Block } from './blocks.js';

export interface ConfirmApproveMetadata {
  opId: string;
  guards: string[];
  channel: string | null;
}

/** Quotes every warning and overridable block of the plan; the approver gives a reason to approve anyway. */
export function confirmApproveModal(op: Operation, channel: string | null, skipGates: string[] = []): Record<string, unknown> {
  const pending = op.guards.filter((g) => g.status === 'warn' || (g.status === 'block' && g.overridable));
  const meta: ConfirmApproveMetadata = { opId: op.id, guards: [...pending.map((g) => g.id), ...skipGates], channel };
  const blocks: Block[] = [
    section(`*${actionVerb(op.kind)} ${op.prefix}*, requested by <@${op.requestedBy}>: ${userText(op.reason, 300)}`),
    ...pending.map((g) => section(guardLine(g))),
    ...skipGates.map((id) => section(`⏩ *Skip gate \`${id}\`*: ${GATE_TEXT[id] ?? 'the change does not wait for it.'}`)),
    context(
      skipGates.length
        ? 'Approving skips the gates above: the change goes out without waiting for them. Your reason is recorded in the audit and shown on the card.'
        : 'Approving takes responsibility for the warnings above. The guards run again right before the change; your reason is recorded in the audit and shown on the card.',
    ),
    {
      type: 'input',
      block_id: BlockId.Reason,
      label: { type: 'plain_text', text: 'Why approve anyway' },
      element: { type: 'plain_text_input', action_id: InputActionId.Reason, multiline: true, min_length: 3, max_length: 500 },
    },
  ];
  return {
    type: 'modal',
    callback_id: CallbackId.ConfirmApprove,
    private_metadata: JSON.stringify(meta),
    title: { type: 'plain_text', text: skipGates.length ? 'Approve, skip gates' : 'Approve with warnings' },
    submit: { type: 'plain_text', text: 'Approve anyway' },
    close: { type: 'plain_text', text: 'Cancel' },
    blocks: blocks.slice(0, 100),
  };
}

/** What skipping each gate means (the staged withdraw's). */
const GATE_TEXT: Record<string, string> = {
  drain: "the withdraw does not wait for your own same-length announcement to be seen and converged (Cloudflare's drain, step 1 and 2): traffic may be dropped if your route is not up.",
  prepend: 'the AS-path prepend steps (1 to 3) before the withdraw are left out: traffic moves only when Cloudflare withdraws.',
};

export interface BreakGlassMetadata {
  kind: 'advertise' | 'withdraw';
  cidr: string;
  /** Where the command was typed (the card goes to the policy's channel). */
  channel: string;
  /** The command's response_url (the confirmation and the card's link go there) and when Slack issued it. */
  responseUrl?: string;
  issuedAt?: number;
  guards: Guard[];
  guardsAt: number | null;
  supersedes: string | null;
}

/** `/byoip emergency`: what will be sent, what it supersedes, the guards' warnings (or "checking"), one button. */
export function breakGlassModal(meta: BreakGlassMetadata, reason: string, opts: { checking: boolean; supersedesBy?: string | null }): Record<string, unknown> {
  const probe = { kind: meta.kind, prefix: meta.cidr, params: {} } as unknown as Operation;
  const blocks: Block[] = [
    section(`🚨 *Break glass: ${meta.kind} ${meta.cidr} now, without approval.* ${KIND_VIEWS[meta.kind].willChange(probe)}`),
  ];
  if (meta.supersedes) blocks.push(section(`🔀 This supersedes the open request \`${meta.supersedes}\`${opts.supersedesBy ? ` by <@${opts.supersedesBy}>` : ''}: its card stops working.`));
  if (opts.checking) blocks.push(context('⏳ Checking the routing view… you do not have to wait: Send now goes out at once, and the checks are posted in the thread after.'));
  const shown = meta.guards.filter((g) => g.status !== 'pass');
  for (const g of shown) blocks.push(section(guardLine(g)));
  if (!opts.checking && meta.guards.length > 0 && shown.length === 0) blocks.push(context('✅ The checks found nothing against it.'));
  blocks.push({
    type: 'input',
    block_id: BlockId.Reason,
    label: { type: 'plain_text', text: 'Reason' },
    element: { type: 'plain_text_input', action_id: InputActionId.Reason, multiline: true, min_length: 3, max_length: 500, ...(reason ? { initial_value: clip(reason, 500) } : {}) },
  });
  blocks.push(context('Counts as one break-glass use only once it is sent; broadcast to the channel and reviewed afterwards by an approver.'));
  // private_metadata is capped at 3000 characters: keep the guards' facts small.
  const slim = { ...meta, guards: meta.guards.map((g) => ({ ...g, facts: Object.fromEntries(Object.entries(g.facts).map(([k, v]) => [k, typeof v === 'string' ? clip(v, 300) : v])) })) };
  let metadata = JSON.stringify(slim);
  if (metadata.length > 3000) metadata = JSON.stringify({ ...meta, guards: [], guardsAt: null });
  return {
    type: 'modal',
    callback_id: CallbackId.BreakGlass,
    private_metadata: metadata,
    title: { type: 'plain_text', text: 'Break glass' },
    submit: { type: 'plain_text', text: 'Send now' },
    close: { type: 'plain_text', text: 'Cancel' },
    blocks,
  };
}
