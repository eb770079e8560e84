import type { AllMiddlewareArgs, BlockAction, ButtonAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import { BotError, ErrorCode, isBotError } from '../../../errors.js';
import type { ListenerContext } from '../../context.js';
import { slackMessageOf } from '../../render/errors.js';
import { requestModal } from '../../views/request-modal.js';

type ButtonArgs = SlackActionMiddlewareArgs<BlockAction<ButtonAction>> & AllMiddlewareArgs;

/** The bindable services when Cloudflare's list could not be read in time (the submit checks against the real list). */
const DEFAULT_SERVICES = ['Magic Transit', 'CDN', 'Spectrum'];

/**
 * "Put back" on a drift card: the usual request form of the change that puts Cloudflare back as the bot last set it
 * (advertise, withdraw, bind, unbind, delegate, undelegate), with the same intake as the command (requesters only,
 * the prefix's lock, the kind's checks) and the reason filled in. Submitting files a normal request that an
 * approver approves as usual; nothing is sent before that. Refusals are ephemeral.
 */
export function alertPutBackAction(ctx: ListenerContext) {
  return async ({ ack, body, action, client }: ButtonArgs): Promise<void> => {
    await ack();
    const user = body.user.id;
    const alertId = action.value ?? '';
    const channel = body.channel?.id ?? body.container?.channel_id ?? null;
    const log = ctx.logger.child({ alertId, user, action: 'alert_put_back' });
    try {
      const alert = ctx.alerts ? await ctx.alerts.get(alertId) : null;
      if (!alert) throw new BotError(ErrorCode.InvalidInput, 'That alert no longer exists (it may have been cleaned up); nothing was filed.');
      const back = alert.finding.putBack;
      if (!back) throw new BotError(ErrorCode.InvalidInput, 'This alert has no request that puts it back; nothing was filed.');
      if (alert.state === 'resolved') throw new BotError(ErrorCode.InvalidInput, 'This drift has cleared already (Cloudflare shows what the bot last set); nothing was filed.');
      const args = back.args && Object.keys(back.args).length ? back.args : undefined;
      const target = await ctx.service.intake(back.kind, back.cidr, user, args ? { form: args } : {});
      const reason = `Put back drift (alert ${alert.id}): ${alert.finding.title}`.slice(0, 500);
      const services = target && Array.isArray(target.params.services) ? (target.params.services as string[]) : DEFAULT_SERVICES;
      await client.views.open({
        trigger_id: body.trigger_id,
        view: requestModal({ kind: back.kind, cidr: back.cidr, channel: channel ?? alert.channel, ...(args ? { args } : {}) }, reason, { services, checkedLater: target === null }) as never,
      });
      await ctx.service.store.audit({ type: 'alert_put_back_opened', opId: `alert:${alert.id}`, actor: user, data: { alertId: alert.id, kind: back.kind, prefix: back.cidr, ...(args ?? {}) } });
    } catch (err) {
      if (!isBotError(err)) log.error({ err }, 'put back click failed');
      else log.info({ code: err.code }, 'put back click refused');
      if (channel) await client.chat.postEphemeral({ channel, user, text: `⚠️ ${slackMessageOf(err)}` }).catch((e: unknown) => log.warn({ err: e }, 'could not post the refusal'));
    }
  };
}
