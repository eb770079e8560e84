import type { AllMiddlewareArgs, BlockAction, ButtonAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import { isBotError } from '../../../errors.js';
import type { ListenerContext } from '../../context.js';
import { slackMessageOf } from '../../render/errors.js';
import { requestModal } from '../../views/request-modal.js';

type ButtonArgs = SlackActionMiddlewareArgs<BlockAction<ButtonAction>> & AllMiddlewareArgs;

/**
 * "Validate again" / "Validate" on a card: the same as `/byoip validate <prefix>` typed by whoever clicked. The same
 * gates (the interaction limit before this listener; then requesters only, the prefix lock, the kind's intake: on
 * the account, not already approved), refusals as an ephemeral sentence (audited by the intake); then the request
 * form, and the request is filed, carded and approved like any other.
 */
export function validateAgainAction(ctx: ListenerContext) {
  return async ({ ack, body, action, client }: ButtonArgs): Promise<void> => {
    await ack();
    const user = body.user.id;
    const cidr = (action.value ?? '').slice(0, 60);
    const channel = body.channel?.id ?? body.container?.channel_id ?? null;
    const log = ctx.logger.child({ user, prefix: cidr, action: 'validate again' });
    try {
      const target = await ctx.service.intake('validate', cidr, user);
      await client.views.open({
        trigger_id: body.trigger_id,
        view: requestModal({ kind: 'validate', cidr, channel: channel ?? '', ...(body.response_url ? { responseUrl: body.response_url } : {}), issuedAt: Date.now() }, '', { checkedLater: target === null }) as never,
      });
    } catch (err) {
      if (!isBotError(err)) log.error({ err }, 'validate again failed');
      else log.info({ code: err.code }, 'validate again refused');
      if (channel) await client.chat.postEphemeral({ channel, user, text: `⚠️ ${slackMessageOf(err)}` }).catch((e: unknown) => log.warn({ err: e }, 'could not post the refusal'));
    }
  };
}
