import { BotError, ErrorCode } from '../errors.js';

/** One item of Cloudflare's `errors[]` / `messages[]` arrays. */
export interface CloudflareMessage {
  code: number;
  message: string;
}

export interface CloudflareErrorDetails {
  /** HTTP status, or null when no response arrived (connection error, timeout). */
  status: number | null;
  errors?: CloudflareMessage[];
  retryable?: boolean;
  /** For CloudflareRateLimited: how long to wait before the next call. */
  retryAfterMs?: number;
  /** For CloudflareBadResponse: the field (path) that did not parse. */
  field?: string;
  /** For CloudflareAuth: the token permission(s) the call needs. */
  permission?: string;
  /** The API operation, e.g. `PATCH bgp prefix`, for logs. */
  operation?: string;
  /** True when a mutation may or may not have been applied (timeout, connection lost, 5xx): re-read before retrying. */
  outcomeUnknown?: boolean;
  cause?: unknown;
}

/**
 * Every failure of the addressing API client. `code` says what kind (branch on it), `userMessage` is a sentence
 * for a network engineer in Slack, `errors` carries Cloudflare's own codes and messages.
 */
export class CloudflareError extends BotError {
  readonly status: number | null;
  readonly errors: CloudflareMessage[];
  readonly retryAfterMs: number | undefined;
  readonly field: string | undefined;
  readonly permission: string | undefined;
  readonly operation: string | undefined;
  readonly outcomeUnknown: boolean;

  constructor(code: ErrorCode, userMessage: string, details: CloudflareErrorDetails) {
    super(code, userMessage, details.retryable ?? false, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'CloudflareError';
    this.status = details.status;
    this.errors = details.errors ?? [];
    this.retryAfterMs = details.retryAfterMs;
    this.field = details.field;
    this.permission = details.permission;
    this.operation = details.operation;
    this.outcomeUnknown = details.outcomeUnknown ?? false;
  }

  /** Cloudflare's numeric error codes, e.g. [10000]. */
  get cloudflareCodes(): number[] {
    return this.errors.map((e) => e.code);
  }
}

export function isCloudflareError(err: unknown): err is CloudflareError {
  return err instanceof CloudflareError;
}
