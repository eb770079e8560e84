import type { AllMiddlewareArgs, SlackViewMiddlewareArgs, ViewSubmitAction } from '@slack/bolt';
import { z } from 'zod';
import { isBotError } from '../../../errors.js';
import type { ListenerContext } from '../../context.js';
import { BlockId, InputActionId } from '../../ids.js';
import { slackMessageOf } from '../../render/errors.js';
import { tellWhere } from '../../where.js';
import { MAX_BATCH_PREFIXES } from '../../../domain/batch.js';

const approveMeta = z.object({ opId: z.string().min(1).max(64), guards: z.array(z.string().max(100)).max(20), channel: z.string().nullable() });

const guardSchema = z.object({ id: z.string().max(100), status: z.enum(['pass', 'warn', 'block']), overridable: z.boolean(), facts: z.record(z.string(), z.unknown()), checkedAt: z.number() });
const breakGlassMeta = z.object({
  kind: z.enum(['advertise', 'withdraw']),
  cidr: z.string().max(60),
  /** Where the command was typed. */
  channel: z.string().max(30),
  responseUrl: z.string().url().max(2000).optional(),
  issuedAt: z.number().optional(),
  guards: z.array(guardSchema).max(20),
  guardsAt: z.number().nullable(),
  supersedes: z.string().nullable(),
});

const batchMeta = z.object({
  kind: z.enum(['advertise', 'withdraw']),
  cidrs: z.array(z.string().max(60)).min(1).max(MAX_BATCH_PREFIXES).nullable(),
  skipped: z.array(z.object({ cidr: z.string().max(60), why: z.enum(['already', 'locked', 'cloudflare_locked']), holder: z.string().max(64).nullable().optional() })).max(MAX_BATCH_PREFIXES).optional(),
  channel: z.string().max(30),
  responseUrl: z.string().url().max(2000).optional(),
  issuedAt: z.number().optional(),
});

const reasonOf = (view: ViewSubmitAction['view']) => (view.state.values[BlockId.Reason]?.[InputActionId.Reason]?.value ?? '').trim();

/** The approver's confirm dialog: the approval with the acknowledged guards and the reason; refusals go back into the dialog. */
export function confirmApproveSubmit(ctx: ListenerContext) {
  return async ({ ack, body, view }: SlackViewMiddlewareArgs<ViewSubmitAction> & AllMiddlewareArgs): Promise<void> => {
    const meta = approveMeta.safeParse(safeJson(view.private_metadata));
    if (!meta.success) {
      await ack({ response_action: 'errors', errors: { [BlockId.Reason]: 'This dialog is out of date; close it and click Approve on the card again.' } });
      return;
    }
    const reason = reasonOf(view);
    if (reason.length < 3) {
      await ack({ response_action: 'errors', errors: { [BlockId.Reason]: 'Say why you approve despite the warnings (a few words); it is recorded in the audit.' } });
      return;
    }
    try {
      await ctx.service.approve(meta.data.opId, body.user.id, { override: { reason, guards: meta.data.guards } });
      await ack();
    } catch (err) {
      if (!isBotError(err)) ctx.logger.error({ err }, 'confirmed approval failed');
      await ack({ response_action: 'errors', errors: { [BlockId.Reason]: slackMessageOf(err).slice(0, 300) } });
    }
  };
}

/** "Send now": the break-glass change, at once. Refusals go back into the dialog; nothing is sent then. */
export function breakGlassSubmit(ctx: ListenerContext) {
  return async ({ ack, body, view, client }: SlackViewMiddlewareArgs<ViewSubmitAction> & AllMiddlewareArgs): Promise<void> => {
    const meta = breakGlassMeta.safeParse(safeJson(view.private_metadata));
    if (!meta.success) {
      await ack({ response_action: 'errors', errors: { [BlockId.Reason]: 'This dialog is out of date; close it and run /byoip emergency again.' } });
      return;
    }
    const reason = reasonOf(view);
    if (reason.length < 3) {
      await ack({ response_action: 'errors', errors: { [BlockId.Reason]: 'Say why (the incident, in a few words).' } });
      return;
    }
    try {
      const op = await ctx.service.breakGlass({ kind: meta.data.kind, cidr: meta.data.cidr, userId: body.user.id, reason, guards: meta.data.guards, guardsAt: meta.data.guardsAt });
      await ack();
      const origin = { channel: meta.data.channel, responseUrl: meta.data.responseUrl, issuedAt: meta.data.issuedAt };
      await tellWhere(ctx, client, op, body.user.id, origin, `🚨 Break glass: ${op.kind} of ${op.prefix} is being sent to Cloudflare now (request \`${op.id}\`). Follow it in the card's thread`, { always: true });
    } catch (err) {
      if (!isBotError(err)) ctx.logger.error({ err }, 'break glass failed');
      await ack({ response_action: 'errors', errors: { [BlockId.Reason]: slackMessageOf(err).slice(0, 300) } });
    }
  };
}

/** "Send now" of a multi-prefix emergency: every prefix at once, one use. Refusals go back into the dialog. */
export function breakGlassBatchSubmit(ctx: ListenerContext) {
  return async ({ ack, body, view, client }: SlackViewMiddlewareArgs<ViewSubmitAction> & AllMiddlewareArgs): Promise<void> => {
    const meta = batchMeta.safeParse(safeJson(view.private_metadata));
    if (!meta.success) {
      await ack({ response_action: 'errors', errors: { [BlockId.Reason]: 'This dialog is out of date; close it and run /byoip emergency again.' } });
      return;
    }
    const reason = reasonOf(view);
    if (reason.length < 3) {
      await ack({ response_action: 'errors', errors: { [BlockId.Reason]: 'Say why (the incident, in a few words).' } });
      return;
    }
    try {
      const selection = meta.data.cidrs ? { cidrs: meta.data.cidrs } : ({ all: true } as const);
      const { batch, ops } = await ctx.service.breakGlassBatch({ kind: meta.data.kind, selection, userId: body.user.id, reason, ...(meta.data.skipped ? { skipped: meta.data.skipped } : {}) });
      await ack();
      const origin = { channel: meta.data.channel, responseUrl: meta.data.responseUrl, issuedAt: meta.data.issuedAt };
      // The link goes to the batch's card: the first prefix's record carries its channel; the card ts is the batch's.
      const first = { ...ops[0]!, cardTs: null };
      await tellWhere(ctx, client, first, body.user.id, origin, `🚨 Break glass: ${batch.kind} of ${ops.length === 1 ? '1 prefix' : `${ops.length} prefixes`} is being sent to Cloudflare now (emergency \`${batch.id}\`). Follow them on the one card and its thread`, {
        always: true,
        cardTs: () => ctx.service.store.getBatch(batch.id).then((b) => b?.cardTs ?? null),
      });
    } catch (err) {
      if (!isBotError(err)) ctx.logger.error({ err }, 'break glass (batch) failed');
      await ack({ response_action: 'errors', errors: { [BlockId.Reason]: slackMessageOf(err).slice(0, 300) } });
    }
  };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
