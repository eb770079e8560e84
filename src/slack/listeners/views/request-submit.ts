import type { AllMiddlewareArgs, SlackViewMiddlewareArgs, ViewSubmitAction } from '@slack/bolt';
import { z } from 'zod';
import { isBotError } from '../../../errors.js';
import { slackMessageOf } from '../../render/errors.js';
import type { ListenerContext } from '../../context.js';
import { BlockId, InputActionId } from '../../ids.js';
import { FORM_INPUTS } from '../../views/request-modal.js';
import { tellWhere } from '../../where.js';

const metadata = z.object({
  kind: z.enum(['advertise', 'withdraw', 'onboard', 'validate', 'bind', 'unbind', 'delegate', 'undelegate', 'address-map', 'bgp_create', 'bgp_delete']),
  cidr: z.string(),
  /** Where the command was typed. */
  channel: z.string(),
  asn: z.number().int().positive().optional(),
  responseUrl: z.string().url().max(2000).optional(),
  issuedAt: z.number().optional(),
  /** Address map edits: the action, the map and the value named at the command. */
  form: z.record(z.string(), z.string().max(200)).optional(),
  /** What the command named after the prefix (unbind / delegate / undelegate). */
  args: z.record(z.string(), z.string().max(200)).optional(),
  /** What the command itself gave (bgp create / delete: the account prefix). */
  fixed: z.record(z.string(), z.string().max(200)).optional(),
});

const UNTICKED: Record<z.infer<typeof metadata>['kind'], string> = {
  withdraw: 'Confirm your own data centre announces the prefix first, or the prefix becomes unreachable.',
  advertise: 'Confirm you will remove your own announcement once Cloudflare\'s is seen.',
  onboard: 'Confirm you hold this prefix; Cloudflare will ask for a Letter of Agency.',
  validate: 'Confirm the ROA, route object and ownership token are published; the card shows what the bot found.',
  bind: 'Confirm you expect 4-6 hours of provisioning on these addresses.',
  'address-map': 'Confirm the owners of the zones whose DNS answers change know about it.',
  unbind: 'Confirm nothing needs this service on these addresses once the deletion ends (4-6 hours).',
  delegate: 'Confirm the other account is yours or agreed, and expects these addresses.',
  undelegate: 'Confirm the other account no longer uses these addresses.',
  bgp_create: 'Confirm you know the new BGP prefix starts withdrawn.',
  bgp_delete: 'Confirm nothing needs this BGP prefix any more.',
};

/** The request modal's submit: validate synchronously (errors go back into the modal), then file the request. */
export function requestSubmit(ctx: ListenerContext) {
  return async ({ ack, body, view, client }: SlackViewMiddlewareArgs<ViewSubmitAction> & AllMiddlewareArgs): Promise<void> => {
    const meta = metadata.safeParse(safeJson(view.private_metadata));
    if (!meta.success) {
      await ack({ response_action: 'errors', errors: { [BlockId.Reason]: 'This form is out of date; close it and run the /byoip command again.' } });
      return;
    }
    const reason = (view.state.values[BlockId.Reason]?.[InputActionId.Reason]?.value ?? '').trim();
    const checked = view.state.values[BlockId.Checklist]?.[InputActionId.Checklist]?.selected_options ?? [];
    const errors: Record<string, string> = {};
    if (reason.length < 3) errors[BlockId.Reason] = 'Give a reason (a few words: ticket, incident or why).';
    if (reason.length > 500) errors[BlockId.Reason] = 'Keep the reason under 500 characters; link the ticket instead.';
    if (checked.length === 0) errors[BlockId.Checklist] = UNTICKED[meta.data.kind];
    // Kind-specific inputs (bind: service, CIDR or IPs): checked against the rules now, refusals shown in the form.
    // Only the inputs the form showed (an address map edit shows none; its action travels in the metadata).
    const inputs = (FORM_INPUTS[meta.data.kind] ?? []).filter((i) => !meta.data.form || meta.data.form.action === 'create' || i.blockId in view.state.values);
    const form: Record<string, string> = { ...(meta.data.form ?? {}), ...(meta.data.args ?? {}), ...(meta.data.fixed ?? {}) };
    for (const i of inputs) {
      const v = view.state.values[i.blockId]?.[i.actionId] as { value?: string | null; selected_option?: { value?: string } | null } | undefined;
      form[i.field] = (v?.selected_option?.value ?? v?.value ?? '').trim();
    }
    if (Object.keys(errors).length) {
      await ack({ response_action: 'errors', errors });
      return;
    }
    const user = body.user.id;
    const hasForm = inputs.length > 0 || meta.data.form !== undefined;
    if (hasForm) {
      try {
        await ctx.service.intake(meta.data.kind, meta.data.cidr, user, { form, ...(meta.data.asn ? { asn: meta.data.asn } : {}) });
      } catch (err) {
        await ack({ response_action: 'errors', errors: { [inputs.at(-1)?.blockId ?? BlockId.Reason]: slackMessageOf(err).slice(0, 1000) } });
        return;
      }
    }
    await ack();
    const origin = { channel: meta.data.channel, responseUrl: meta.data.responseUrl, issuedAt: meta.data.issuedAt };
    let op;
    try {
      op = await ctx.service.request({ kind: meta.data.kind, cidr: meta.data.cidr, userId: user, reason, ...(meta.data.asn ? { asn: meta.data.asn } : {}), ...(hasForm || Object.keys(form).length ? { form } : {}) });
    } catch (err) {
      if (!isBotError(err)) ctx.logger.error({ err, user }, 'request failed');
      await client.chat
        .postEphemeral({ channel: meta.data.channel, user, text: `⚠️ ${slackMessageOf(err)}` })
        .catch((e: unknown) => ctx.logger.warn({ err: e }, 'could not post the refusal'));
      return;
    }
    // The card goes to the policy's channel: typed anywhere else, the user is told where it is.
    await tellWhere(ctx, client, op, user, origin, `Your ${op.kind} request for ${op.prefix} is filed and waits for approval`);
  };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
