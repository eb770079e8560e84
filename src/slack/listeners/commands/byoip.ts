import type { AllMiddlewareArgs, SlackCommandMiddlewareArgs } from '@slack/bolt';
import type { WebClient } from '@slack/web-api';
import type { Logger } from 'pino';
import { isBotError } from '../../../errors.js';
import type { RateVerdict } from '../../../operations/rate-limit.js';
import { parseCommand, USAGE, type ParsedCommand } from '../../command-parser.js';
import type { ListenerContext, ReceivedAt } from '../../context.js';
import { slackMessageOf } from '../../render/errors.js';
import { MAX_TEXT, Responder, type ResponseMessage } from '../../respond.js';
import { clip } from '../../views/blocks.js';
import { breakGlassModal, type BreakGlassMetadata } from '../../views/confirm-modals.js';
import { requestModal } from '../../views/request-modal.js';
import { auditBlocks } from '../../views/audit.js';
import { statusReportBlocks } from '../../views/status-report.js';

/** The bindable services when Cloudflare's list could not be read in time (the submit checks against the real list). */
const DEFAULT_SERVICES = ['Magic Transit', 'CDN', 'Spectrum'];

export const BUSY_TEXT = 'The bot is busy; try again in a moment.';
/** A command that opens a form must open it within Slack's 3 s trigger_id life; after this long in line it cannot. */
const MODAL_MAX_WAIT_MS = 2000;

/** "Slow down: you sent 21 commands in the last minute; try again in about 12 s." */
export function slowDownText(v: Extract<RateVerdict, { allowed: false }>): string {
  const span = v.windowMs === 60_000 ? 'the last minute' : `the last ${Math.round(v.windowMs / 1000)} s`;
  const wait = Math.max(1, Math.ceil(v.retryAfterMs / 1000));
  return v.scope === 'user'
    ? `Slow down: you sent ${v.count} commands in ${span}; try again in about ${wait} s.`
    : `Slow down: this workspace sent ${v.count} commands in ${span}, the bot's limit; try again in about ${wait} s.`;
}

const ephemeral = (text: string): ResponseMessage => ({ response_type: 'ephemeral', text: clip(text, MAX_TEXT) });

type CommandArgs = SlackCommandMiddlewareArgs & AllMiddlewareArgs;

/**
 * `/byoip <subcommand>`. Before any work, in this order: the rate limit (per user and per workspace), the parse,
 * and a place in the work queue; a refusal at any of them is the ack's own text, at once. Then the ack, and the
 * work in its place in line: who may run it (viewers for status / preflight, requesters for requests, on call
 * for break glass), then help / status / intake + the request modal / break glass / preflight. Answers go to the
 * response_url (retried on 5xx and network errors).
 */
export function byoipCommand(ctx: ListenerContext) {
  return async ({ ack: rawAck, command, client, context }: CommandArgs): Promise<void> => {
    const receivedAt = (context as ReceivedAt).receivedAt ?? performance.now();
    // Every ack (a refusal at the door or the plain one) is timed for the metrics.
    const ack: typeof rawAck = async (...args: Parameters<typeof rawAck>) => {
      await rawAck(...args);
      ctx.onCommandAck?.(command.command, (performance.now() - receivedAt) / 1000);
    };
    const log = ctx.logger.child({ user: command.user_id });
    const issuedAt = Date.now();
    let parsed: ParsedCommand | null = null;
    let parseError: unknown = null;
    try {
      parsed = parseCommand(command.text ?? '');
    } catch (err) {
      parseError = err;
    }
    if (ctx.rateLimit) {
      const verdict = await ctx.rateLimit.take(command.team_id, command.user_id, { skipWorkspace: parsed?.kind === 'emergency' }).catch((err: unknown) => {
        // The limit protects the bot; it is not an authorization. Without Redis the work below fails on its own.
        log.warn({ err }, 'rate limit could not be checked; command let through');
        return { allowed: true } as const;
      });
      if (!verdict.allowed) {
        log.info({ scope: verdict.scope, count: verdict.count }, 'command rate limited');
        await ack(ephemeral(`:hourglass: ${slowDownText(verdict)}`));
        return;
      }
    }
    if (!parsed) {
      if (!isBotError(parseError)) log.error({ err: parseError }, '/byoip could not be parsed');
      await ack(ephemeral(`:warning: ${slackMessageOf(parseError)}`));
      return;
    }
    // Break glass never waits behind other work (its own checks bound it: on call only, a few uses per hour).
    const ticket = parsed.kind === 'emergency' ? null : ctx.work ? ctx.work.enter() : null;
    if (ctx.work && parsed.kind !== 'emergency' && !ticket) {
      log.info(ctx.work.stats, 'busy: command refused at the door');
      await ack(ephemeral(`:hourglass: ${BUSY_TEXT}`));
      return;
    }
    try {
      await ack();
    } catch (err) {
      ticket?.cancel();
      throw err;
    }
    const responder = new Responder(command.response_url, log, { issuedAt });
    const work = (waitedMs: number) => runCommand(ctx, parsed, command, client, responder, log, { waitedMs, issuedAt });
    if (ticket) await ticket.run(work);
    else await work(0);
  };
}

async function runCommand(
  ctx: ListenerContext,
  parsed: ParsedCommand,
  command: CommandArgs['command'],
  client: WebClient,
  responder: Responder,
  log: Logger,
  { waitedMs, issuedAt }: { waitedMs: number; issuedAt: number },
): Promise<void> {
  const respond = (m: ResponseMessage) => responder.send(m);
  const origin = { channel: command.channel_id, responseUrl: command.response_url, issuedAt };
  try {
    switch (parsed.kind) {
      case 'help':
        await respond({ response_type: 'ephemeral', text: `*byoip-bot* runs Cloudflare BYOIP changes with approval:\n${USAGE}` });
        return;
      case 'status': {
        await ctx.service.authorizeRead(command.user_id, 'status', parsed.cidr);
        const report = await ctx.service.statusReport(parsed.cidr);
        const view = statusReportBlocks(report);
        await respond({ response_type: 'ephemeral', text: view.text, blocks: view.blocks });
        // A prefix still waiting for validation: show what would fail before anyone asks Cloudflare to validate.
        const pending = parsed.cidr ? report.prefixes.filter((r) => r.prefix.approved !== 'V').slice(0, 3) : [];
        if (pending.length && ctx.preflight) {
          for (const row of pending) {
            const pre = await ctx.preflight(row.prefix.cidr, row.prefix.asn ?? undefined);
            await respond({ response_type: 'ephemeral', text: pre.text, blocks: pre.blocks });
          }
        }
        return;
      }
      case 'audit': {
        await ctx.service.authorizeRead(command.user_id, 'audit', 'prefix' in parsed.target ? parsed.target.prefix : undefined);
        const page = await ctx.service.auditPage(parsed.target, parsed.page);
        const view = auditBlocks(parsed.target, parsed.page, page);
        await respond({ response_type: 'ephemeral', text: view.text, blocks: view.blocks });
        return;
      }
      case 'preflight': {
        await ctx.service.authorizeRead(command.user_id, 'preflight', parsed.cidr);
        if (!ctx.preflight) {
          await respond({ response_type: 'ephemeral', text: 'Pre-flight checks are not configured on this bot (no routing view settings).' });
          return;
        }
        await respond({ response_type: 'ephemeral', text: `Running pre-flight checks for ${parsed.cidr}…` });
        const report = await ctx.preflight(parsed.cidr, parsed.asn);
        await respond({ response_type: 'ephemeral', text: report.text, blocks: report.blocks });
        return;
      }
      case 'emergency': {
        if (parsed.reason.trim().length < 3) {
          await respond({ response_type: 'ephemeral', text: `:warning: Say why in the same line: \`/byoip emergency ${parsed.action} ${parsed.cidr} <reason>\` (the incident, in a few words).` });
          return;
        }
        // The confirm step opens at once; the guards' look-ups run while it is open and are filled in when ready.
        const { target, holder } = await ctx.service.breakGlassIntake(parsed.action, parsed.cidr, command.user_id);
        const meta: BreakGlassMetadata = { kind: parsed.action, cidr: parsed.cidr, ...origin, guards: [], guardsAt: null, supersedes: holder?.id ?? null };
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
      case 'bind':
      case 'bgp_create':
      case 'bgp_delete':
      case 'onboard': {
        if (waitedMs > MODAL_MAX_WAIT_MS) {
          // Slack's trigger_id has expired by now: the form could not open.
          await respond({ response_type: 'ephemeral', text: `:hourglass: ${BUSY_TEXT}` });
          return;
        }
        // Intake before any form opens: not on the account, already in the wanted state, locked, too small...
        const fixed = parsed.kind === 'bgp_create' || parsed.kind === 'bgp_delete' ? { prefix: parsed.prefix } : undefined;
        const target = await ctx.service.intake(parsed.kind, parsed.cidr, command.user_id, parsed.kind === 'onboard' ? { asn: parsed.asn } : fixed ? { form: fixed } : {});
        // null: Cloudflare could not be asked in time; the same checks run when the form is submitted.
        const services = target && Array.isArray(target.params.services) ? (target.params.services as string[]) : DEFAULT_SERVICES;
        await client.views.open({
          trigger_id: command.trigger_id,
          view: requestModal({ kind: parsed.kind, cidr: parsed.cidr, ...origin, ...(parsed.kind === 'onboard' ? { asn: parsed.asn } : {}), ...(fixed ? { fixed } : {}) }, parsed.reason, { services, checkedLater: target === null }) as never,
        });
        return;
      }
    }
  } catch (err) {
    if (!isBotError(err)) log.error({ err }, '/byoip failed');
    await respond({ response_type: 'ephemeral', text: `:warning: ${slackMessageOf(err)}` });
  }
}
