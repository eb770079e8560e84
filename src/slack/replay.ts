import type http from 'node:http';
import type { AnyMiddlewareArgs, Middleware } from '@slack/bolt';
import type { Logger } from 'pino';
import type { CommandRateLimit, RateVerdict, SeenMarks } from '../operations/rate-limit.js';
import type { SeenOnce } from '../operations/seen.js';

/** How far ahead of our clock a request's timestamp may be (Bolt only refuses ones more than 5 minutes old). */
export const MAX_FUTURE_SKEW_SEC = 60;
/** How long a request is remembered: Slack's 5-minute signature window plus the skew allowed ahead. */
export const REPLAY_WINDOW_MS = 5 * 60_000 + MAX_FUTURE_SKEW_SEC * 1000;

/** The headers Bolt verified, handed to the middleware as custom properties (HTTP only). */
export interface SignedRequestProps {
  slackSignature?: string;
  slackTimestamp?: string;
}

const header = (req: http.IncomingMessage, name: string): string | undefined => {
  const v = req.headers[name];
  return typeof v === 'string' ? v : undefined;
};

/** HTTPReceiver's `customPropertiesExtractor`: runs after Bolt's signature check passed. */
export function signedRequestProps(req: http.IncomingMessage): SignedRequestProps {
  const slackSignature = header(req, 'x-slack-signature');
  const slackTimestamp = header(req, 'x-slack-request-timestamp');
  return { ...(slackSignature ? { slackSignature } : {}), ...(slackTimestamp ? { slackTimestamp } : {}) };
}

/**
 * Wraps the HTTP receiver's request listener: a POST whose `x-slack-request-timestamp` is more than 60 s ahead
 * of our clock gets 401, like a stale one. Everything else goes on to Bolt, which verifies the signature and
 * refuses stale timestamps itself.
 */
export function refuseFutureTimestamps(listener: http.RequestListener, logger: Logger, now: () => number = Date.now): http.RequestListener {
  return (req, res) => {
    const ts = Number(header(req, 'x-slack-request-timestamp'));
    if (req.method === 'POST' && Number.isFinite(ts) && ts > Math.floor(now() / 1000) + MAX_FUTURE_SKEW_SEC) {
      logger.warn({ timestamp: ts }, 'request timestamp is in the future; refused');
      req.resume();
      res.writeHead(401);
      res.end();
      return;
    }
    return listener(req, res);
  };
}

/** What identifies one delivery in a payload: the trigger_id of a command or interaction, an event's event_id. */
export function payloadMarks(body: Record<string, unknown>): string[] {
  const marks: string[] = [];
  if (typeof body.event_id === 'string') marks.push(`event:${body.event_id}`);
  if (typeof body.trigger_id === 'string' && body.trigger_id) marks.push(`trigger:${body.trigger_id}`);
  const actions = body.actions;
  if (Array.isArray(actions) && typeof body.type === 'string') {
    const user = (body.user as { id?: string } | undefined)?.id ?? '';
    for (const a of actions as { action_ts?: string; action_id?: string }[]) if (a.action_ts) marks.push(`action:${user}:${a.action_id ?? ''}:${a.action_ts}`);
  }
  return marks;
}

/** What a slash command's listener gets from the guard: the replay check, to run with its rate limit (one round trip). */
export interface CommandReplay {
  /** The command's marks as keys, for a script that checks them with the rate limit in the same step. */
  marks: SeenMarks;
  /** The replay check on its own (when no rate limit runs). */
  first(): Promise<boolean>;
}

/** The guard's context property on a slash command's request. */
export interface ReplayContext {
  commandReplay?: CommandReplay;
}

/** "Slow down: you clicked or submitted 61 times in the last minute; try again in about 12 s." */
export function interactionSlowDownText(v: Extract<RateVerdict, { allowed: false }>): string {
  const span = v.windowMs === 60_000 ? 'the last minute' : `the last ${Math.round(v.windowMs / 1000)} s`;
  return `Slow down: you clicked or submitted ${v.count} times in ${span}; nothing was done this time. Try again in about ${Math.max(1, Math.ceil(v.retryAfterMs / 1000))} s.`;
}

export interface ReplayGuardOptions {
  /**
   * Clicks and form submits per user (Redis): the same atomic step as the replay check. Per user only, never per
   * workspace: one user's flood cannot starve anyone else's approval, break glass or alert button.
   */
  interactions?: CommandRateLimit;
  /** Told of every interaction refused by the limit (the audit). */
  onRefused?: (refusal: { userId: string; type: string; what: string; count: number; message: string }) => Promise<void>;
}

type Interaction = {
  type?: unknown;
  user?: { id?: string; team_id?: string };
  team?: { id?: string } | null;
  channel?: { id?: string };
  container?: { channel_id?: string };
  actions?: { action_id?: string }[];
  view?: { callback_id?: string; state?: { values?: Record<string, unknown> }; blocks?: { block_id?: string; type?: string }[] };
};

/** The first input block of a submitted view: where a refusal is shown (Slack needs a block id of the view). */
function firstInputBlock(view: Interaction['view']): string | null {
  const input = view?.blocks?.find((b) => b.type === 'input' && b.block_id);
  return input?.block_id ?? Object.keys(view?.state?.values ?? {})[0] ?? null;
}

/**
 * Global middleware: a request seen before (same signature and timestamp over HTTP, or the same trigger_id /
 * action_ts / event_id over either transport) within the replay window is acknowledged and dropped, so a
 * replayed command or click does nothing. Fails closed: when Redis cannot say, the request is dropped and the
 * user told to try again.
 *
 * Slash commands are not checked here: the guard hands the check to the command listener (`commandReplay` on the
 * context), which runs it in one Lua step with the command rate limit, so the ack waits for one Redis round trip,
 * not two. Clicks and form submits are checked here with the per-user interaction limit, in one step: over it, a
 * click gets an ephemeral sentence and a submit keeps its form open with the sentence in it.
 */
export function replayGuard(seen: SeenOnce, logger: Logger, opts: ReplayGuardOptions = {}): Middleware<AnyMiddlewareArgs> {
  return async (args) => {
    const { body, context, next } = args;
    const props = context as SignedRequestProps;
    const marks = payloadMarks(body as Record<string, unknown>);
    if (props.slackSignature && props.slackTimestamp) marks.unshift(`signature:${props.slackSignature}:${props.slackTimestamp}`);
    const ack = 'ack' in args && typeof args.ack === 'function' ? (args.ack as (m?: unknown) => Promise<void>) : null;
    const isCommand = typeof (body as { command?: unknown }).command === 'string';
    if (isCommand) {
      (context as ReplayContext).commandReplay = { marks: { keys: seen.keysOf(marks), ttlMs: seen.ttlMs }, first: () => seen.first(marks) };
      await next();
      return;
    }
    const b = body as Interaction;
    const type = typeof b.type === 'string' ? b.type : '';
    const userId = b.user?.id;
    const limited = opts.interactions && userId && (type === 'block_actions' || type === 'view_submission') ? opts.interactions : null;
    let verdict: RateVerdict | 'seen';
    try {
      if (limited) verdict = await limited.takeFirst(b.user?.team_id ?? b.team?.id ?? '-', userId!, { keys: seen.keysOf(marks), ttlMs: seen.ttlMs }, { skipWorkspace: true });
      else verdict = (await seen.first(marks)) ? { allowed: true } : 'seen';
    } catch (err) {
      logger.warn({ err }, 'replay check failed; request dropped');
      const text = '⚠️ The bot cannot reach its database right now, so nothing was done. Try again in a moment.';
      const block = type === 'view_submission' ? firstInputBlock(b.view) : null;
      await ack?.(block ? { response_action: 'errors', errors: { [block]: text.replace('⚠️ ', '') } } : undefined).catch(() => undefined);
      return;
    }
    if (verdict === 'seen') {
      logger.warn({ type: type || 'command' }, 'request seen before (a replay or a redelivery); ignored');
      await ack?.().catch(() => undefined);
      return;
    }
    if (!verdict.allowed) {
      const text = interactionSlowDownText(verdict);
      const what = type === 'view_submission' ? `submit ${b.view?.callback_id ?? '?'}` : `click ${b.actions?.[0]?.action_id ?? '?'}`;
      logger.info({ user: userId, what, count: verdict.count }, 'interaction rate limited');
      const block = type === 'view_submission' ? firstInputBlock(b.view) : null;
      await ack?.(block ? { response_action: 'errors', errors: { [block]: text } } : undefined).catch(() => undefined);
      const channel = b.channel?.id ?? b.container?.channel_id;
      if (!block && channel && 'client' in args) {
        await args.client.chat.postEphemeral({ channel, user: userId!, text: `⌛ ${text}` }).catch((err: unknown) => logger.warn({ err }, 'could not post the slow-down sentence'));
      }
      await opts.onRefused?.({ userId: userId!, type, what, count: verdict.count, message: text }).catch((err: unknown) => logger.warn({ err }, 'refusal not audited'));
      return;
    }
    await next();
  };
}
