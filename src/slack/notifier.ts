import { LogLevel, WebClient, WebAPIPlatformError, WebAPIRateLimitedError, type ChatPostMessageArguments, type KnownBlock, type Logger as SlackLogger, type WebAPICallResult, type WebClientOptions, type FetchFunction } from '@slack/web-api';
import type { Logger as PinoLogger } from 'pino';
import type { OpEvent } from '../domain/events.js';
import type { Operation } from '../domain/operation.js';
import type { EmergencyBatch } from '../domain/batch.js';
import { DeliveryError, type BatchLine, type Notifier } from '../operations/deliverer.js';
import { batchCard, batchLineText } from './views/batch-card.js';
import { renderEvent } from './render/events.js';
import { statusCard } from './views/status-card.js';

const PERMANENT = new Set(['channel_not_found', 'not_in_channel', 'invalid_blocks', 'msg_too_long', 'is_archived', 'invalid_auth', 'account_inactive', 'message_not_found', 'cant_update_message', 'user_not_in_channel', 'no_text']);

const METADATA_TYPE = 'byoip_outbox';

/** Message metadata: which operation and outbox item a message is, so a post whose answer was lost can be found. */
function outboxMetadata(op: Operation, seq: number) {
  return { event_type: METADATA_TYPE, event_payload: { op: op.id, seq } };
}

/** Slack's logger interface (Bolt and the Web API client) on pino: their lines go to the bot's log, not the console. */
export function slackLogger(log: PinoLogger, component: string): SlackLogger {
  const child = log.child({ component });
  let level = LogLevel.INFO;
  return {
    debug: (...m: unknown[]) => child.debug(m.map(String).join(' ')),
    info: (...m: unknown[]) => child.info(m.map(String).join(' ')),
    warn: (...m: unknown[]) => child.warn(m.map(String).join(' ')),
    error: (...m: unknown[]) => child.error(m.map(String).join(' ')),
    setLevel: (l: LogLevel) => void (level = l),
    getLevel: () => level,
    setName: () => undefined,
  };
}

/** A WebClient that reports every call: each method (chat.postMessage, usergroups.users.list...) goes through apiCall. */
class CountingWebClient extends WebClient {
  constructor(
    token: string,
    options: WebClientOptions,
    private readonly onCall: (method: string, outcome: 'ok' | 'rate_limited' | 'error') => void,
  ) {
    super(token, options);
  }

  override async apiCall(method: string, options?: Record<string, unknown>): Promise<WebAPICallResult> {
    try {
      const res = await super.apiCall(method, options);
      this.onCall(method, 'ok');
      return res;
    } catch (err) {
      this.onCall(method, err instanceof WebAPIRateLimitedError ? 'rate_limited' : 'error');
      throw err;
    }
  }
}

/**
 * A `fetch` for a WebClient that reports every Web API call it carries (Bolt builds its own clients, the `client`
 * every listener gets: views.open, chat.postEphemeral, views.publish...; it takes `clientOptions.fetch`, not a
 * client). Only calls under `slackApiUrl` are reported, by method: HTTP 429 is `rate_limited`, an answer without
 * `ok: true` or no answer at all is `error`.
 */
export function countingFetch(slackApiUrl: string | undefined, onCall: (method: string, outcome: 'ok' | 'rate_limited' | 'error') => void, base: FetchFunction = fetch as unknown as FetchFunction): FetchFunction {
  const api = new URL(slackApiUrl ?? 'https://slack.com/api/');
  const apiPath = api.pathname.endsWith('/') ? api.pathname : `${api.pathname}/`;
  const methodOf = (url: string | URL): string | null => {
    const u = typeof url === 'string' ? new URL(url, api) : url;
    if (u.origin !== api.origin || !u.pathname.startsWith(apiPath)) return null;
    return u.pathname.slice(apiPath.length) || null;
  };
  return async (url, init) => {
    const method = methodOf(url);
    if (!method) return base(url, init);
    let res: Awaited<ReturnType<FetchFunction>>;
    try {
      res = await base(url, init);
    } catch (err) {
      onCall(method, 'error');
      throw err;
    }
    if (res.status === 429) onCall(method, 'rate_limited');
    else {
      const ok = await (res as unknown as Response)
        .clone()
        .json()
        .then((b: unknown) => (b as { ok?: unknown } | null)?.ok === true, () => false);
      onCall(method, ok ? 'ok' : 'error');
    }
    return res;
  };
}

/** Posts cards and thread replies. Never retries by itself: the deliver queue decides (in order, paced). */
export class SlackNotifier implements Notifier {
  constructor(private client: WebClient) {}

  /** The bot's Web API client (cards, replies, user groups, auth.test); `onCall` hears of every call and how it went. */
  static client(token: string, slackApiUrl?: string, onCall?: (method: string, outcome: 'ok' | 'rate_limited' | 'error') => void, log?: PinoLogger): WebClient {
    const options: WebClientOptions = { slackApiUrl, rejectRateLimitedCalls: true, retryConfig: { retries: 0 }, timeout: 10_000, ...(log ? { logger: slackLogger(log, 'slack-web-api') } : {}) };
    return onCall ? new CountingWebClient(token, options, onCall) : new WebClient(token, options);
  }

  async postCard(op: Operation, seq: number): Promise<string> {
    const card = statusCard(op);
    const res = await this.call(() =>
      this.client.chat.postMessage({ channel: op.channel, text: card.text, blocks: card.blocks as unknown as KnownBlock[], metadata: outboxMetadata(op, seq) } as ChatPostMessageArguments),
    );
    if (!res.ts) throw new DeliveryError('chat.postMessage returned no ts', null, false);
    return res.ts as string;
  }

  cardFingerprint(op: Operation): string {
    return JSON.stringify(statusCard(op));
  }

  async updateCard(op: Operation): Promise<void> {
    if (!op.cardTs) return;
    const card = statusCard(op);
    await this.call(() => this.client.chat.update({ channel: op.channel, ts: op.cardTs!, text: card.text, blocks: card.blocks as unknown as KnownBlock[] }));
  }

  async post(op: Operation, event: OpEvent, seq: number): Promise<string> {
    const rendered = renderEvent(op, event);
    // A prefix of a multi-prefix emergency speaks in the batch's thread: each of its lines names the prefix first.
    const text = op.batch ? `\`${op.prefix}\`: ${rendered.text}` : rendered.text;
    const broadcast = rendered.broadcast;
    const threadTs = op.cardTs ?? undefined;
    const res = await this.call(() =>
      this.client.chat.postMessage({
        channel: op.channel,
        text,
        metadata: outboxMetadata(op, seq),
        ...(threadTs ? { thread_ts: threadTs, reply_broadcast: broadcast } : {}),
      } as ChatPostMessageArguments),
    );
    return String(res.ts ?? '');
  }

  async postBatchCard(batch: EmergencyBatch, children: Operation[]): Promise<string> {
    const card = batchCard(batch, children);
    const res = await this.call(() =>
      this.client.chat.postMessage({ channel: batch.channel, text: card.text, blocks: card.blocks as unknown as KnownBlock[], metadata: { event_type: METADATA_TYPE, event_payload: { op: batch.id, seq: 0 } } } as ChatPostMessageArguments),
    );
    if (!res.ts) throw new DeliveryError('chat.postMessage returned no ts', null, false);
    return res.ts as string;
  }

  batchCardFingerprint(batch: EmergencyBatch, children: Operation[]): string {
    return JSON.stringify(batchCard(batch, children));
  }

  async updateBatchCard(batch: EmergencyBatch, children: Operation[]): Promise<void> {
    if (!batch.cardTs) return;
    const card = batchCard(batch, children);
    await this.call(() => this.client.chat.update({ channel: batch.channel, ts: batch.cardTs!, text: card.text, blocks: card.blocks as unknown as KnownBlock[] }));
  }

  async postBatchLine(batch: EmergencyBatch, children: Operation[], line: BatchLine): Promise<string> {
    const { text, broadcast } = batchLineText(batch, children, line);
    const res = await this.call(() =>
      this.client.chat.postMessage({ channel: batch.channel, text, ...(batch.cardTs ? { thread_ts: batch.cardTs, reply_broadcast: broadcast } : {}) } as ChatPostMessageArguments),
    );
    return String(res.ts ?? '');
  }

  /** Looks for a message of this operation carrying outbox `seq` in its metadata (the thread, or the channel for the card). */
  async findPosted(op: Operation, seq: number): Promise<string | null> {
    const res = op.cardTs
      ? await this.call(() => this.client.conversations.replies({ channel: op.channel, ts: op.cardTs!, include_all_metadata: true, limit: 200 }))
      : await this.call(() => this.client.conversations.history({ channel: op.channel, include_all_metadata: true, limit: 100 }));
    const messages = (res.messages ?? []) as { ts?: string; metadata?: { event_type?: string; event_payload?: Record<string, unknown> } }[];
    const hit = messages.find((m) => m.metadata?.event_type === METADATA_TYPE && m.metadata.event_payload?.op === op.id && Number(m.metadata.event_payload?.seq) === seq);
    return hit?.ts ?? null;
  }

  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof WebAPIRateLimitedError) throw new DeliveryError('Slack rate limited the call', err.retryAfter * 1000, false);
      if (err instanceof WebAPIPlatformError) {
        const code = String((err.data as { error?: string } | undefined)?.error ?? err.message);
        throw new DeliveryError(`Slack answered ${code}`, null, PERMANENT.has(code));
      }
      throw new DeliveryError(`Slack unreachable: ${(err as Error).message}`, null, false);
    }
  }
}
