import type { AllMiddlewareArgs, SlackCommandMiddlewareArgs } from '@slack/bolt';
import { isBotError } from '../../../errors.js';
import { parseCommand, USAGE } from '../../command-parser.js';
import type { ListenerContext, ReceivedAt } from '../../context.js';
import { slackMessageOf } from '../../render/errors.js';
import { breakGlassModal, type BreakGlassMetadata } from '../../views/confirm-modals.js';
import { requestModal } from '../../views/request-modal.js';
import { statusReportBlocks } from '../../views/status-report.js';

/** `/byoip <subcommand>`: ack at once, parse, then help / status / intake + the request modal / break glass / preflight. */
export function byoipCommand(ctx: ListenerContext) {
  return async ({ ack, command, respond, client, context }: SlackCommandMiddlewareArgs & AllMiddlewareArgs): Promise<void> => {
    const receivedAt = (context as ReceivedAt).receivedAt ?? performance.now();
    await ack();
    ctx.onCommandAck?.(command.command, (performance.now() - receivedAt) / 1000);
    const log = ctx.logger.child({ user: command.user_id });
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
          if (parsed.reason.trim().length < 3) {
            await respond({ response_type: 'ephemeral', text: `:warning: Say why in the same line: \`/byoip emergency ${parsed.action} ${parsed.cidr} <reason>\` (the incident, in a few words).` });
            return;
          }
          // The confirm step opens at once; the guards' look-ups run while it is open and are filled in when ready.
          const { target, holder } = await ctx.service.breakGlassIntake(parsed.action, parsed.cidr, command.user_id);
          const meta: BreakGlassMetadata = { kind: parsed.action, cidr: parsed.cidr, channel: cardChannel, guards: [], guardsAt: null, supersedes: holder?.id ?? null };
          const opened = await client.views.open({ trigger_id: command.trigger_id, view: breakGlassModal(meta, parsed.reason, { checking: true, supersedesBy: holder?.requestedBy ?? null }) as never });
          const viewId = (opened.view as { id?: string } | undefined)?.id;
          const started = Date.now();
          const guards = await ctx.service.breakGlassGuards(parsed.action, parsed.cidr, target).catch((err: unknown) => {
            log.warn({ err }, 'break-glass guards could not run');
            return [];
          });
          if (viewId) {
            const filled = { ...meta, guards, guardsAt: started };
            await client.views
              .update({ view_id: viewId, view: breakGlassModal(filled, parsed.reason, { checking: false, supersedesBy: holder?.requestedBy ?? null }) as never })
              .catch((err: unknown) => log.info({ err }, 'break-glass modal not updated (already submitted or closed)'));
          }
          return;
        }
        case 'advertise':
        case 'withdraw':
        case 'validate':
        case 'onboard': {
          // Intake before any form opens: not on the account, already in the wanted state, locked, too small...
          await ctx.service.intake(parsed.kind, parsed.cidr, command.user_id, parsed.kind === 'onboard' ? { asn: parsed.asn } : {});
          await client.views.open({
            trigger_id: command.trigger_id,
            view: requestModal({ kind: parsed.kind, cidr: parsed.cidr, channel: cardChannel, ...(parsed.kind === 'onboard' ? { asn: parsed.asn } : {}) }, parsed.reason) as never,
          });
          return;
        }
      }
    } catch (err) {
      if (!isBotError(err)) log.error({ err }, '/byoip failed');
      await respond({ response_type: 'ephemeral', text: `:warning: ${slackMessageOf(err)}` }).catch((e: unknown) => log.warn({ err: e }, 'could not answer the command'));
    }
  };
}
