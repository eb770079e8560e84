import type { AllMiddlewareArgs, BlockAction, ButtonAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import { ErrorCode, isBotError } from '../../../errors.js';
import type { ListenerContext } from '../../context.js';
import { slackMessageOf } from '../../render/errors.js';
import { BATCH_VALUE } from '../../ids.js';
import { confirmApproveModal } from '../../views/confirm-modals.js';
import { cardGates } from '../../views/status-card.js';

type ButtonArgs = SlackActionMiddlewareArgs<BlockAction<ButtonAction>> & AllMiddlewareArgs;

/**
 * Approve / Reject / Mark reviewed on a status card. Authorized on the server on every click; refusals are
 * ephemeral. An Approve on a plan with warnings opens the confirm dialog instead of approving.
 */
export function decideAction(ctx: ListenerContext, decision: 'approve' | 'reject' | 'review') {
  return async ({ ack, body, action, client }: ButtonArgs): Promise<void> => {
    await ack();
    const user = body.user.id;
    const opId = action.value ?? '';
    const channel = body.channel?.id ?? body.container?.channel_id ?? null;
    const log = ctx.logger.child({ operationId: opId, user, decision });
    const clickedAt = Number(action.action_ts) * 1000;
    try {
      if (decision === 'approve') await ctx.service.approve(opId, user, Number.isFinite(clickedAt) && clickedAt > 0 ? { clickedAt } : {});
      else if (decision === 'reject') await ctx.service.reject(opId, user);
      else if (opId.startsWith(BATCH_VALUE)) await ctx.service.reviewBatch(opId.slice(BATCH_VALUE.length), user);
      else await ctx.service.review(opId, user);
    } catch (err) {
      if (isBotError(err) && err.code === ErrorCode.ConfirmationRequired) {
        const op = await ctx.service.get(opId);
        if (op) {
          await client.views.open({ trigger_id: body.trigger_id, view: confirmApproveModal(op, channel) as never }).catch((e: unknown) => log.warn({ err: e }, 'could not open the confirm dialog'));
          return;
        }
      }
      if (!isBotError(err)) log.error({ err }, 'decision failed');
      else log.info({ code: err.code }, 'decision refused');
      if (channel) {
        await client.chat.postEphemeral({ channel, user, text: `⚠️ ${slackMessageOf(err)}` }).catch((e: unknown) => log.warn({ err: e }, 'could not post the refusal'));
      }
    }
  };
}

/**
 * "Approve, skip gates…": opens the confirm dialog naming the gates (and any warnings) the approval would skip. Only
 * the dialog approves, through the engine's audited override; the click alone changes nothing.
 */
export function skipGatesAction(ctx: ListenerContext) {
  return async ({ ack, body, action, client }: ButtonArgs): Promise<void> => {
    await ack();
    const user = body.user.id;
    const channel = body.channel?.id ?? body.container?.channel_id ?? null;
    const log = ctx.logger.child({ operationId: action.value, user, decision: 'skip_gates' });
    const op = await ctx.service.get(action.value ?? '').catch(() => null);
    const gates = op ? cardGates(op) : [];
    if (!op || op.state !== 'awaiting_approval' || gates.length === 0) {
      if (channel) await client.chat.postEphemeral({ channel, user, text: '⚠️ This request is no longer waiting for approval, or has no gates to skip; nothing was changed.' }).catch((e: unknown) => log.warn({ err: e }, 'could not post the refusal'));
      return;
    }
    await client.views.open({ trigger_id: body.trigger_id, view: confirmApproveModal(op, channel, gates) as never }).catch((e: unknown) => log.warn({ err: e }, 'could not open the confirm dialog'));
  };
}
