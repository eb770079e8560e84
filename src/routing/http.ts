import type { z } from 'zod';
import { BotError, ErrorCode } from '../errors.js';

export const DEFAULT_ROUTING_TIMEOUT_MS = 5_000;

/** Which routing service is speaking, for sentences like "RIPEstat did not answer within 5 s". */
export interface ServiceLabel {
  service: string;
  /** What we were doing, e.g. `looking up 203.0.113.0/24`. */
  doing: string;
}

export function unavailable(label: ServiceLabel, why: string, cause?: unknown): BotError {
  return new BotError(
    ErrorCode.RoutingUnavailable,
    `${label.service} ${why} while ${label.doing}; the routing view is unknown for now. Try again in a minute.`,
    true,
    { cause },
  );
}

export function badResponse(label: ServiceLabel, why: string, cause?: unknown): BotError {
  return new BotError(
    ErrorCode.RoutingBadResponse,
    `${label.service} answered something we could not read (${why}) while ${label.doing}; the routing view is unknown for now. Try again later.`,
    true,
    { cause },
  );
}

function seconds(ms: number): string {
  return ms >= 1000 ? `${Math.round(ms / 100) / 10} s` : `${ms} ms`;
}

/**
 * GETs `url` and validates the JSON body with `schema`. The timeout covers connecting and reading the body.
 * Every failure becomes a retryable BotError: RoutingUnavailable (no answer, timeout, 5xx, 429) or
 * RoutingBadResponse (other status, not JSON, wrong shape).
 */
export async function getJson<S extends z.ZodType>(
  url: string,
  schema: S,
  opts: { timeoutMs: number; label: ServiceLabel; headers?: Record<string, string> },
): Promise<z.infer<S>> {
  const { label, timeoutMs } = opts;
  let status: number;
  let text: string;
  try {
    const res = await fetch(url, {
      headers: { accept: 'application/json', ...(opts.headers ?? {}) },
      signal: AbortSignal.timeout(timeoutMs),
    });
    status = res.status;
    text = await res.text();
  } catch (err) {
    const name = err instanceof Error ? err.name : '';
    if (name === 'TimeoutError' || name === 'AbortError') {
      throw unavailable(label, `did not answer within ${seconds(timeoutMs)}`, err);
    }
    throw unavailable(label, 'could not be reached', err);
  }
  if (status === 429 || status >= 500) throw unavailable(label, `answered HTTP ${status}`);
  if (status < 200 || status >= 300) throw badResponse(label, `HTTP ${status}${briefText(text)}`);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    throw badResponse(label, 'not JSON', err);
  }
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue ? `${issue.path.join('.') || 'body'}: ${issue.message}` : 'unexpected shape';
    throw badResponse(label, where, parsed.error);
  }
  return parsed.data;
}

/** A short reason from an error body: RIPEstat's `messages` ([level, text] pairs), an `error` field, or the text. */
function briefText(text: string): string {
  let reason = text;
  try {
    const body = JSON.parse(text) as { messages?: unknown; error?: unknown };
    const first = Array.isArray(body.messages) ? body.messages.find((m) => Array.isArray(m) && typeof m[1] === 'string') : undefined;
    if (Array.isArray(first)) reason = String(first[1]);
    else if (typeof body.error === 'string') reason = body.error;
  } catch {
    // not JSON: keep the raw text
  }
  const t = reason.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 160);
  return t ? `: ${t}` : '';
}
