import type { AllMiddlewareArgs, SlackCommandMiddlewareArgs } from '@slack/bolt';
import { userMessageOf, isBotError } from '../../../errors.js';
import { parseCommand, USAGE } from '../../command-parser.js';
import type { ListenerContext } from '../../context.js';
import { requestModal } from '../../views/request-modal.js';
import { statusReportBlocks } from '../../views/status-report.js';

/** `/byoip <subcommand>`: ack at once, parse, then help / status / open the request modal / preflight. */
export function byoipCommand(ctx: ListenerContext) {
  return async ({ ack, command, respond, client }: SlackCommandMiddlewareArgs & AllMiddlewareArgs): Promise<void> => {
    await ack();
    const log = ctx.logger.child({ user: command.user_id, command: command.text });
    // Cards live in a channel the team watches: a command typed in a DM or group DM posts to the policy's channel.
    const privateChat = command.channel_id.startsWith('D') || command.channel_name === 'directmessage' || command.channel_name?.startsWith('mpdm-');
    const cardChannel = privateChat ? ctx.service.policy.slack.channel : command.channel_id;
    try {
      const parsed = parseCommand(command.text);
      switch (parsed.kind) {
        case 'help':
          await respond({ response_type: 'ephemeral', text: `*byoip-bot* runs Cloudflare BYOIP changes with approval:\n${USAGE}` });
          return;
        case 'status': {
          const report = await ctx.service.statusReport(parsed.cidr);
          const view = statusReportBlocks(report);
          await respond({ response_type: 'ephemeral', text: view.text, blocks: view.blocks as never });
          // A prefix still waiting for validation: show what would fail before anyone asks Cloudflare to validate.
          const pending = parsed.cidr ? report.prefixes.filter((r) => r.prefix.approved !== 'V').slice(0, 3) : [];
          if (pending.length && ctx.preflight) {
            for (const row of pending) {
              const pre = await ctx.preflight(row.prefix.cidr, row.prefix.asn ?? undefined);
              await respond({ response_type: 'ephemeral', text: pre.text, blocks: pre.blocks as never });
            }
          }
          return;
        }
        case 'preflight': {
          if (!ctx.preflight) {
            await respond({ response_type: 'ephemeral', text: 'Pre-flight checks are not configured on this bot (no routing view settings).' });
            return;
          }
          await respond({ response_type: 'ephemeral', text: `Running pre-flight checks for ${parsed.cidr}…` });
          const report = await ctx.preflight(parsed.cidr, parsed.asn);
          await respond({ response_type: 'ephemeral', text: report.text, blocks: report.blocks as never });
          return;
        }
        case 'emergency': {
          const op = await ctx.service.breakGlass({ kind: parsed.action, cidr: parsed.cidr, userId: command.user_id, channel: cardChannel, reason: parsed.reason });
          await respond({ response_type: 'ephemeral', text: `:rotating_light: Break glass: ${parsed.action} of ${parsed.cidr} is being sent to Cloudflare now (request \`${op.id}\`). Follow it in the card's thread.` });
          return;
        }
        case 'advertise':
        case 'withdraw':
        case 'validate':
        case 'onboard': {
          const policy = ctx.service.policy;
          const groups = [...policy.groups.requesters, ...policy.groups.approvers, ...policy.groups.break_glass];
          if (!(await ctx.groups.isMember(command.user_id, groups))) {
            await respond({ response_type: 'ephemeral', text: 'You are not in a group allowed to request BGP changes, so nothing was filed. Ask to be added to the requester group, or ask a teammate who is.' });
            return;
          }
          await client.views.open({
            trigger_id: command.trigger_id,
            view: requestModal({ kind: parsed.kind, cidr: parsed.cidr, channel: cardChannel, ...(parsed.kind === 'onboard' ? { asn: parsed.asn } : {}) }, parsed.reason) as never,
          });
          return;
        }
      }
    } catch (err) {
      if (!isBotError(err)) log.error({ err }, '/byoip failed');
      await respond({ response_type: 'ephemeral', text: `:warning: ${userMessageOf(err)}` }).catch((e: unknown) => log.warn({ err: e }, 'could not answer the command'));
    }
  };
}
