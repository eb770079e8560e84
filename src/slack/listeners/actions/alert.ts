import type { AllMiddlewareArgs, BlockAction, ButtonAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import { BotError, ErrorCode, isBotError } from '../../../errors.js';
import type { ListenerContext } from '../../context.js';
import { slackMessageOf } from '../../render/errors.js';

import { alertPrefixes } from '../../views/alert-card.js';
import { breakGlassModal, type BreakGlassMetadata } from '../../views/confirm-modals.js';
import { openBatchConfirm } from '../batch-confirm.js';

type ButtonArgs = SlackActionMiddlewareArgs<BlockAction<ButtonAction>> & AllMiddlewareArgs;

/**
 * Emergency advertise / withdraw on an alert card: the same break-glass path as `/byoip emergency …` (on call only,
 * live membership, the same confirm step; "Send now" goes through breakGlassSubmit). Refusals are ephemeral.
 * An alert about several of our prefixes takes the multi-prefix path of `/byoip emergency <cidr>,<cidr>…` instead:
 * one confirm step listing every prefix (what is already in that state skipped), one card, one use
 * (breakGlassBatchSubmit).
 */
export function alertEmergencyAction(ctx: ListenerContext, kind: 'advertise' | 'withdraw') {
  return async ({ ack, body, action, client }: ButtonArgs): Promise<void> => {
    await ack();
    const user = body.user.id;
    const alertId = action.value ?? '';
    const channel = body.channel?.id ?? body.container?.channel_id ?? null;
    const log = ctx.logger.child({ alertId, user, action: `alert_${kind}` });
    const tell = (text: string) =>
      channel ? client.chat.postEphemeral({ channel, user, text }).then(() => undefined, (e: unknown) => log.warn({ err: e }, 'could not post the answer')) : Promise.resolve();
    try {
      const alert = ctx.alerts ? await ctx.alerts.get(alertId) : null;
      if (!alert) throw new BotError(ErrorCode.InvalidInput, 'That alert no longer exists (it may have been cleaned up); nothing was sent.');
      const cidr = alert.finding.prefix;
      if (!cidr) throw new BotError(ErrorCode.InvalidInput, 'This alert is not about one of our prefixes, so there is nothing to advertise or withdraw; nothing was sent.');
      const cidrs = alertPrefixes(alert.finding);
      if (cidrs.length > 1) {
        await openBatch(ctx, { kind, cidrs, user, channel: channel ?? alert.channel, triggerId: body.trigger_id, alertId: alert.id, reason: `Alert ${alert.id}: ${alert.finding.title}`.slice(0, 500), tell, log }, client);
        return;
      }
      const { target, holder } = await ctx.service.breakGlassIntake(kind, cidr, user);
      if (holder?.breakGlass) {
        throw new BotError(ErrorCode.PrefixLocked, `Another break-glass change on ${cidr} by {holder} is already running (request ${holder.id}); nothing was sent and no use was spent. Follow it in its thread.`, false, { people: { holder: holder.requestedBy } });
      }
      const meta: BreakGlassMetadata = { kind, cidr, channel: channel ?? alert.channel, guards: [], guardsAt: null, supersedes: holder?.id ?? null };
      const reason = `Alert ${alert.id}: ${alert.finding.title}`.slice(0, 500);
      const opened = await client.views.open({ trigger_id: body.trigger_id, view: breakGlassModal(meta, reason, { checking: true, supersedesBy: holder?.requestedBy ?? null }) as never });
      await ctx.service.store.audit({ type: 'alert_emergency_opened', opId: `alert:${alert.id}`, actor: user, data: { alertId: alert.id, kind, prefix: cidr } });
      const viewId = (opened.view as { id?: string } | undefined)?.id;
      const started = Date.now();
      const guards = await ctx.service.breakGlassGuards(kind, cidr, target).catch((err: unknown) => {
        log.warn({ err }, 'break-glass guards could not run');
        return [];
      });
      if (viewId) {
        await client.views
          .update({ view_id: viewId, view: breakGlassModal({ ...meta, guards, guardsAt: started }, reason, { checking: false, supersedesBy: holder?.requestedBy ?? null }) as never })
          .catch((err: unknown) => log.info({ err }, 'break-glass modal not updated (already submitted or closed)'));
      }
    } catch (err) {
      if (!isBotError(err)) log.error({ err }, 'alert emergency click failed');
      else log.info({ code: err.code }, 'alert emergency click refused');
      await tell(`⚠️ ${slackMessageOf(err)}`);
    }
  };
}

/** The multi-prefix confirm step for an alert about several prefixes (the command's, with the alert's reason), audited. */
async function openBatch(
  ctx: ListenerContext,
  a: { kind: 'advertise' | 'withdraw'; cidrs: string[]; user: string; channel: string; triggerId: string; alertId: string; reason: string; tell: (text: string) => Promise<void>; log: ListenerContext['logger'] },
  client: ButtonArgs['client'],
): Promise<void> {
  const listed = await openBatchConfirm(ctx, client, { kind: a.kind, selection: { cidrs: a.cidrs }, user: a.user, triggerId: a.triggerId, reason: a.reason, origin: { channel: a.channel }, tell: a.tell, log: a.log });
  if (listed.length) {
    await ctx.service.store.audit({ type: 'alert_emergency_opened', opId: `alert:${a.alertId}`, actor: a.user, data: { alertId: a.alertId, kind: a.kind, prefix: null, prefixes: listed, skipped: a.cidrs.filter((c) => !listed.includes(c)) } });
  }
}

/** Acknowledge on an alert card: approvers and the on-call group (live membership); audited; the card shows who. */
export function alertAcknowledgeAction(ctx: ListenerContext) {
  return async ({ ack, body, action, client }: ButtonArgs): Promise<void> => {
    await ack();
    const user = body.user.id;
    const alertId = action.value ?? '';
    const channel = body.channel?.id ?? body.container?.channel_id ?? null;
    const log = ctx.logger.child({ alertId, user, action: 'alert_acknowledge' });
    try {
      if (!ctx.alerts) throw new BotError(ErrorCode.InvalidInput, 'Alerts are not handled by this bot process.');
      const allowed = (await ctx.service.isAllowed(user, 'approver')) || (await ctx.service.isAllowed(user, 'break_glass'));
      if (!allowed) {
        await ctx.service.store.audit({ type: 'alert_acknowledge_refused', opId: `alert:${alertId}`, actor: user, data: { alertId } });
        throw new BotError(ErrorCode.NotAuthorized, 'Only approvers and the on-call (break-glass) group can acknowledge an alert; your click changed nothing.');
      }
      await ctx.alerts.acknowledge(alertId, user);
    } catch (err) {
      if (!isBotError(err)) log.error({ err }, 'acknowledge failed');
      if (channel) await client.chat.postEphemeral({ channel, user, text: `⚠️ ${slackMessageOf(err)}` }).catch((e: unknown) => log.warn({ err: e }, 'could not post the refusal'));
    }
  };
}
