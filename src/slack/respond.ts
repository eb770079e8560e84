import type { Logger } from 'pino';
import { clip } from './views/blocks.js';

/** Slack's rules for a response_url: 5 uses within 30 minutes. */
export const RESPONSE_URL_MAX_USES = 5;
export const RESPONSE_URL_TTL_MS = 30 * 60_000;
/** Ephemeral text longer than this is clipped with "…" (Slack truncates long text; 3000 keeps it whole). */
export const MAX_TEXT = 3000;

export interface ResponseMessage {
  response_type?: 'ephemeral' | 'in_channel';
  text: string;
  blocks?: unknown[];
  replace_original?: boolean;
}

export interface ResponderOptions {
  /** Attempts per message (the first included). Default 4. */
  attempts?: number;
  /** Wait before the first retry; doubled each time. Default 250 ms. */
  baseDelayMs?: number;
  /** Per attempt. Default 5 s. */
  timeoutMs?: number;
  /** When the response URL was handed to the bot (default: now). */
  issuedAt?: number;
  fetch?: typeof fetch;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Posts to a command's response_url, within Slack's rules: at most 5 posts (every attempt counts, as Slack may
 * have counted one whose answer was lost) and none after 30 minutes. A 5xx, a 429 or a network error is retried
 * with backoff; any other 4xx (used, expired, invalid) is final. Text is clipped to 3000 characters.
 */
export class Responder {
  private uses = 0;
  private readonly issuedAt: number;
  private readonly attempts: number;
  private readonly baseDelayMs: number;
  private readonly timeoutMs: number;
  private readonly fetchFn: typeof fetch;

  constructor(
    readonly url: string,
    private readonly logger: Logger,
    opts: ResponderOptions = {},
  ) {
    this.issuedAt = opts.issuedAt ?? Date.now();
    this.attempts = opts.attempts ?? 4;
    this.baseDelayMs = opts.baseDelayMs ?? 250;
    this.timeoutMs = opts.timeoutMs ?? 5000;
    this.fetchFn = opts.fetch ?? fetch;
  }

  /** How many posts this responder has made (attempts included). */
  get used(): number {
    return this.uses;
  }

  /** Posts the message; true once Slack took it, false when it gave up (logged). Never throws. */
  async send(message: ResponseMessage): Promise<boolean> {
    const body = JSON.stringify({ response_type: 'ephemeral', ...message, text: clip(message.text, MAX_TEXT) });
    let delay = this.baseDelayMs;
    for (let attempt = 1; attempt <= this.attempts; attempt++) {
      if (this.uses >= RESPONSE_URL_MAX_USES || Date.now() - this.issuedAt > RESPONSE_URL_TTL_MS) {
        this.logger.warn({ uses: this.uses }, 'response_url spent or expired; answer dropped');
        return false;
      }
      this.uses++;
      let retryAfterMs: number | null = null;
      try {
        const res = await this.fetchFn(this.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(this.timeoutMs) });
        await res.text().catch(() => '');
        if (res.ok) return true;
        if (res.status !== 429 && res.status < 500) {
          this.logger.warn({ status: res.status }, 'response_url refused the answer');
          return false;
        }
        const ra = Number(res.headers.get('retry-after'));
        if (res.status === 429 && Number.isFinite(ra) && ra > 0) retryAfterMs = Math.min(ra * 1000, 10_000);
        this.logger.info({ status: res.status, attempt }, 'response_url answered an error; retrying');
      } catch (err) {
        this.logger.info({ err: (err as Error).message, attempt }, 'response_url unreachable; retrying');
      }
      if (attempt < this.attempts) {
        await sleep(retryAfterMs ?? delay);
        delay *= 2;
      }
    }
    this.logger.warn({ attempts: this.attempts }, 'could not answer through the response_url');
    return false;
  }
}
