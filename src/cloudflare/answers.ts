/**
 * What Cloudflare answered to the mutations made inside `captureAnswers`: HTTP status and the raw body (redacted,
 * capped), for the audit. Carried on AsyncLocalStorage, so no client method gains a parameter.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { scrubSecrets } from '../logger.js';

export interface RawAnswer {
  status: number | null;
  /** The body as Cloudflare sent it (secrets scrubbed, at most 2,000 characters), or what went wrong. */
  body: string;
}

const sink = new AsyncLocalStorage<RawAnswer[]>();

/** Runs `fn`; every mutation answer the client sees meanwhile is collected into `answers`. */
export async function captureAnswers<T>(fn: () => Promise<T>): Promise<{ answers: RawAnswer[]; run: Promise<T> }> {
  const answers: RawAnswer[] = [];
  const run = sink.run(answers, fn);
  return { answers, run };
}

/** Called by the client for a mutation's answer (success or failure). */
export function recordAnswer(status: number | null, body: string): void {
  const list = sink.getStore();
  if (!list) return;
  const text = scrubSecrets(body);
  list.push({ status, body: text.length > 2000 ? `${text.slice(0, 1999)}…` : text });
}
