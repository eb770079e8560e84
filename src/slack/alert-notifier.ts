import { WebAPIPlatformError, WebAPIRateLimitedError, type ChatPostMessageArguments, type KnownBlock, type WebClient } from '@slack/web-api';
import { DeliveryError } from '../operations/deliverer.js';
import type { Alert, AlertNotifier } from '../monitors/alert-store.js';
import { alertCard } from './views/alert-card.js';

const PERMANENT = new Set(['channel_not_found', 'not_in_channel', 'invalid_blocks', 'msg_too_long', 'is_archived', 'invalid_auth', 'account_inactive', 'message_not_found', 'cant_update_message', 'no_text']);

/** Message metadata of an alert card: which alert, so a post whose answer was lost is found instead of posted again. */
export const ALERT_METADATA_TYPE = 'byoip_alert';

/** Posts and updates alert cards in the alerts channel. Never retries by itself: the alerts queue does. */
export class SlackAlertNotifier implements AlertNotifier {
  constructor(private client: WebClient) {}

  async postCard(alert: Alert): Promise<string> {
    const card = alertCard(alert);
    const res = await this.call(() =>
      this.client.chat.postMessage({
        channel: alert.channel,
        text: card.text,
        blocks: card.blocks as unknown as KnownBlock[],
        metadata: { event_type: ALERT_METADATA_TYPE, event_payload: { alert: alert.id } },
      } as ChatPostMessageArguments),
    );
    if (!res.ts) throw new DeliveryError('chat.postMessage returned no ts', null, false);
    return res.ts as string;
  }

  async updateCard(alert: Alert): Promise<void> {
    if (!alert.cardTs) return;
    const card = alertCard(alert);
    await this.call(() => this.client.chat.update({ channel: alert.channel, ts: alert.cardTs!, text: card.text, blocks: card.blocks as unknown as KnownBlock[] }));
  }

  fingerprint(alert: Alert): string {
    return JSON.stringify(alertCard(alert));
  }

  async findPosted(alert: Alert): Promise<string | null> {
    const res = await this.call(() => this.client.conversations.history({ channel: alert.channel, include_all_metadata: true, limit: 200 }));
    const messages = (res.messages ?? []) as { ts?: string; metadata?: { event_type?: string; event_payload?: Record<string, unknown> } }[];
    return messages.find((m) => m.metadata?.event_type === ALERT_METADATA_TYPE && m.metadata.event_payload?.alert === alert.id)?.ts ?? null;
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
