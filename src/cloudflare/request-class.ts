import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * Why a Cloudflare request is made, from the most to the least urgent. The request budget keeps a share of the
 * token's limit for each class: a lower class never takes what a higher one has reserved, a higher class may use
 * what a lower one leaves unused.
 *
 * - `emergency`: break glass (its intake, confirm step, execution).
 * - `change`: an approved or approvable change: filing, approval, execution, the watch that verifies it.
 * - `interactive`: someone waiting in Slack: status, preflight, the checks before a request form opens.
 * - `background`: monitoring nobody waits for.
 */
export const REQUEST_CLASSES = ['emergency', 'change', 'interactive', 'background'] as const;
export type RequestClass = (typeof REQUEST_CLASSES)[number];

/** What the caller's code path says about its Cloudflare requests. */
export interface RequestContext {
  class: RequestClass;
  /** Longest a request waits for the budget (or a Retry-After) before failing with CloudflareRateLimited. */
  maxWaitMs?: number;
}

/** Requests made outside any `withRequestClass` (a Slack listener, a script): someone is probably waiting. */
export const DEFAULT_REQUEST_CLASS: RequestClass = 'interactive';

const storage = new AsyncLocalStorage<RequestContext>();

/**
 * Runs `fn` with every Cloudflare request it makes (however deep, across awaits) counted as `cls`. No parameter is
 * threaded through the client: the budget reads the class from the async context. An inner call replaces the outer
 * class for its own duration.
 */
export function withRequestClass<T>(cls: RequestClass, fn: () => T, opts: { maxWaitMs?: number } = {}): T {
  return storage.run({ class: cls, ...(opts.maxWaitMs !== undefined ? { maxWaitMs: opts.maxWaitMs } : {}) }, fn);
}

/** The class (and wait bound) of the code running now; `interactive` when none was set. */
export function currentRequestContext(): RequestContext {
  return storage.getStore() ?? { class: DEFAULT_REQUEST_CLASS };
}

/** 0 for `emergency` (the most urgent) to 3 for `background`. */
export function classRank(cls: RequestClass): number {
  return REQUEST_CLASSES.indexOf(cls);
}

/** The more urgent of two classes. */
export function higherClass(a: RequestClass, b: RequestClass): RequestClass {
  return classRank(a) <= classRank(b) ? a : b;
}
