import type http from 'node:http';
import type { AnyMiddlewareArgs, Middleware } from '@slack/bolt';
import type { Logger } from 'pino';
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

/**
 * Global middleware: a request seen before (same signature and timestamp over HTTP, or the same trigger_id /
 * action_ts / event_id over either transport) within the replay window is acknowledged and dropped, so a
 * replayed command or click does nothing. Fails closed: when Redis cannot say, the request is dropped and the
 * user told to try again.
 */
export function replayGuard(seen: SeenOnce, logger: Logger): Middleware<AnyMiddlewareArgs> {
  return async (args) => {
    const { body, context, next } = args;
    const props = context as SignedRequestProps;
    const marks = payloadMarks(body as Record<string, unknown>);
    if (props.slackSignature && props.slackTimestamp) marks.unshift(`signature:${props.slackSignature}:${props.slackTimestamp}`);
    const ack = 'ack' in args && typeof args.ack === 'function' ? (args.ack as (m?: unknown) => Promise<void>) : null;
    let first: boolean;
    try {
      first = await seen.first(marks);
    } catch (err) {
      logger.warn({ err }, 'replay check failed; request dropped');
      const isCommand = typeof (body as { command?: unknown }).command === 'string';
      await ack?.(isCommand ? { response_type: 'ephemeral', text: ':warning: The bot cannot reach its database right now, so nothing was done. Try again in a moment.' } : undefined).catch(() => undefined);
      return;
    }
    if (!first) {
      logger.warn({ type: (body as { type?: unknown }).type ?? 'command' }, 'request seen before (a replay or a redelivery); ignored');
      await ack?.().catch(() => undefined);
      return;
    }
    await next();
  };
}
