import type { AllMiddlewareArgs, SlackCommandMiddlewareArgs } from '@slack/bolt';
import type { WebClient } from '@slack/web-api';
import type { Logger } from 'pino';
import { isBotError } from '../../../errors.js';
import type { RateVerdict } from '../../../operations/rate-limit.js';
import { parseCommand, USAGE, type ParsedCommand } from '../../command-parser.js';
import type { ListenerContext, ReceivedAt } from '../../context.js';
import { slackMessageOf } from '../../render/errors.js';
import { MAX_TEXT, Responder, type ResponseMessage } from '../../respond.js';
import { clip, userText } from '../../views/blocks.js';
import type { MapShape } from '../../../kinds/address-map.js';
import { breakGlassModal, type BreakGlassMetadata } from '../../views/confirm-modals.js';
import { requestModal } from '../../views/request-modal.js';
import { auditBlocks } from '../../views/audit.js';
import { delegationsBlocks } from '../../views/delegations.js';
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
      case 'delegations': {
        await ctx.service.authorizeRead(command.user_id, 'delegations', parsed.cidr);
        const view = delegationsBlocks(await ctx.service.delegationsReport(parsed.cidr));
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
      case 'address-map-show': {
        await ctx.service.authorizeRead(command.user_id, 'address-map show', 'cidr' in parsed.target ? parsed.target.cidr : undefined);
        const report = await ctx.service.addressMaps(parsed.target);
        await respond({ response_type: 'ephemeral', text: addressMapReportText(parsed.target, report) });
        return;
      }
      case 'address-map': {
        if (waitedMs > MODAL_MAX_WAIT_MS) {
          await respond({ response_type: 'ephemeral', text: `:hourglass: ${BUSY_TEXT}` });
          return;
        }
        // An edit names a map: find the prefix it is filed under, then the same intake as every kind (refusals here).
        const form: Record<string, string> = parsed.action === 'create' ? { action: 'create' } : { action: parsed.action, mapId: parsed.mapId, value: parsed.value };
        const cidr = parsed.action === 'create' ? parsed.cidr : (await ctx.service.locateAddressMap(parsed.mapId, parsed.value)).cidr;
        const target = await ctx.service.intake('address-map', cidr, command.user_id, parsed.action === 'create' ? {} : { form });
        if (target && parsed.action !== 'create' && typeof target.params.value === 'string') form.value = target.params.value;
        await client.views.open({
          trigger_id: command.trigger_id,
          view: requestModal({ kind: 'address-map', cidr, ...origin, form }, parsed.reason, { checkedLater: target === null }) as never,
        });
        return;
      }
      case 'advertise':
      case 'withdraw':
      case 'validate':
      case 'bind':
      case 'unbind':
      case 'delegate':
      case 'undelegate':
      case 'bgp_create':
      case 'bgp_delete':
      case 'onboard': {
        if (waitedMs > MODAL_MAX_WAIT_MS) {
          // Slack's trigger_id has expired by now: the form could not open.
          await respond({ response_type: 'ephemeral', text: `:hourglass: ${BUSY_TEXT}` });
          return;
        }
        // Intake before any form opens: not on the account, already in the wanted state, locked, too small...
        // Unbind / delegate / undelegate / bgp: what the command named after the prefix is the form (checked at once, and at filing).
        const args: Record<string, string> | undefined =
          parsed.kind === 'unbind' || parsed.kind === 'undelegate' ? { target: parsed.target } : parsed.kind === 'delegate' ? { target: parsed.target, account: parsed.account } : undefined;
        const fixed = parsed.kind === 'bgp_create' || parsed.kind === 'bgp_delete' ? { prefix: parsed.prefix } : undefined;
        const named = args ?? fixed;
        const target = await ctx.service.intake(parsed.kind, parsed.cidr, command.user_id, parsed.kind === 'onboard' ? { asn: parsed.asn } : named ? { form: named } : {});
        // null: Cloudflare could not be asked in time; the same checks run when the form is submitted.
        const services = target && Array.isArray(target.params.services) ? (target.params.services as string[]) : DEFAULT_SERVICES;
        await client.views.open({
          trigger_id: command.trigger_id,
          view: requestModal({ kind: parsed.kind, cidr: parsed.cidr, ...origin, ...(parsed.kind === 'onboard' ? { asn: parsed.asn } : {}), ...(args ? { args } : {}), ...(fixed ? { fixed } : {}) }, parsed.reason, { services, checkedLater: target === null }) as never,
        });
        return;
      }
    }
  } catch (err) {
    if (!isBotError(err)) log.error({ err }, '/byoip failed');
    await respond({ response_type: 'ephemeral', text: `:warning: ${slackMessageOf(err)}` });
  }
}

/** The answer to `/byoip address-map show`: each map's state, IPs and members (a zone membership outranks the account's). */
function addressMapReportText(target: { mapId: string } | { cidr: string }, report: { maps: MapShape[] }): string {
  if (!report.maps.length) {
    return 'mapId' in target
      ? `There is no address map ${target.mapId} on the accounts this bot manages.`
      : `No address map uses addresses of ${target.cidr}. Create one with /byoip address-map create ${target.cidr}.`;
  }
  const lines = report.maps.map((m) => {
    const flags = [m.enabled ? 'enabled' : 'disabled', ...(m.canModifyIps ? [] : ['IPs managed by Cloudflare (immutable)']), ...(m.canDelete ? [] : ['cannot be deleted'])];
    const members = [...m.zones.map((z) => `zone \`${z}\``), ...(m.accounts.length ? ['the whole account'] : [])];
    const precedence = m.zones.length && m.accounts.length ? ' (the zones answer from their zone membership; the account membership covers the other zones)' : '';
    return (
      `*\`${m.id}\`* ${m.description ? userText(m.description, 100) : '(no description)'}: ${flags.join(', ')}. ` +
      `IPs: ${m.ips.slice(0, 20).join(', ') || 'none'}${m.ips.length > 20 ? `, and ${m.ips.length - 20} more` : ''}. ` +
      `Members: ${members.slice(0, 10).join(', ') || 'none'}${precedence}.${m.defaultSni ? ` Default SNI: ${userText(m.defaultSni, 100)}.` : ''}`
    );
  });
  return lines.join('\n');
}
