import type { AllMiddlewareArgs, BlockAction, ButtonAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import { isBotError, userMessageOf } from '../../../errors.js';
import type { ListenerContext } from '../../context.js';

type ButtonArgs = SlackActionMiddlewareArgs<BlockAction<ButtonAction>> & AllMiddlewareArgs;

/** Approve / Reject on a status card. Authorized on the server on every click; refusals are ephemeral. */
export function decideAction(ctx: ListenerContext, decision: 'approve' | 'reject' | 'review') {
  return async ({ ack, body, action, client }: ButtonArgs): Promise<void> => {
    await ack();
    const user = body.user.id;
    const opId = action.value ?? '';
    const channel = body.channel?.id ?? body.container?.channel_id;
    const log = ctx.logger.child({ operationId: opId, user, decision });
    try {
      if (decision === 'approve') await ctx.service.approve(opId, user);
      else if (decision === 'reject') await ctx.service.reject(opId, user);
      else await ctx.service.review(opId, user);
    } catch (err) {
      if (!isBotError(err)) log.error({ err }, 'decision failed');
      else log.info({ code: err.code }, 'decision refused');
      if (channel) {
        await client.chat.postEphemeral({ channel, user, text: `:warning: ${userMessageOf(err)}` }).catch((e: unknown) => log.warn({ err: e }, 'could not post the refusal'));
      }
    }
  };
}
