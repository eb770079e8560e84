import { ErrorCode } from '../errors.js';
import { CloudflareError, type CloudflareMessage } from './errors.js';

/** Reads are retried; mutations are sent once. */
export type RequestKind = 'read' | 'mutation';

/** One API call as the error sentences describe it. */
export interface Operation {
  /** Verb phrase, e.g. `advertise BGP prefix`. */
  name: string;
  kind: RequestKind;
  /** The token permission the call needs, as Cloudflare's dashboard names it. */
  permission: string;
  accountId: string;
  /** What the call is about, e.g. `BGP prefix 7009… of prefix 2af3…`. */
  subject: string;
}

/** Token permissions per kind of call, from Cloudflare's addressing API reference. */
export const PERMISSIONS = {
  read: '`IP Prefixes: Read` (or `Magic Transit Read`, or `IP Prefixes: BGP On Demand Read`)',
  bgpWrite: '`IP Prefixes: BGP On Demand Write` (or `Magic Transit Write`, or `IP Prefixes: Write`)',
  validate: '`IP Prefixes: Write` (or `Magic Transit Write`)',
  bindingWrite: '`IP Prefixes: Write`',
  prefixWrite: '`IP Prefixes: Write` (or `Magic Transit Write`)',
} as const;

/** Cloudflare's documented refusal reasons and what a network engineer should do about each. */
const STATE_HINTS: { marker: string; sentence: (op: Operation) => string }[] = [
  {
    marker: 'prefix_not_valid_and_approved',
    sentence: (op) =>
      `Cloudflare will not ${op.name} yet: the prefix is not validated and approved (it must show approved \`V\`). ` +
      'Publish the ROA, the IRR route object and the ownership token, run validation again, and wait for approval.',
  },
  {
    marker: 'incomplete_bgp_deployment',
    sentence: (op) =>
      `Cloudflare will not ${op.name} yet: the prefix has no default service binding. ` +
      'Create the binding that covers the whole prefix first.',
  },
  {
    marker: 'advertise_state_locked',
    sentence: (op) =>
      `Cloudflare will not ${op.name} yet: the default service binding is still being deployed (this takes 4 to 6 hours). ` +
      'Try again once the binding shows `active`.',
  },
  {
    marker: 'on_demand_locked',
    sentence: (op) =>
      `The advertisement of ${op.subject} is locked by Cloudflare (\`on_demand_locked\`), so the bot cannot ${op.name}. ` +
      'Ask your Cloudflare account team to unlock it.',
  },
];

export interface FailureFacts {
  status: number | null;
  errors: CloudflareMessage[];
  retryAfterMs?: number | undefined;
  timeout?: boolean;
  cause?: unknown;
}

/** Turns a failed call into a CloudflareError with a sentence for Slack. */
export function describeFailure(op: Operation, f: FailureFacts): CloudflareError {
  const mutation = op.kind === 'mutation';
  const codes = f.errors.map((e) => e.code);
  const cfText = f.errors.length ? f.errors.map((e) => `"${e.message}" (code ${e.code})`).join('; ') : '';
  const base = { status: f.status, errors: f.errors, operation: op.name, cause: f.cause };
  const unchanged = 'Nothing was changed.';

  if (f.status === null) {
    const what = f.timeout ? `Cloudflare did not answer in time when the bot tried to ${op.name}` : `The bot could not reach Cloudflare's API to ${op.name}`;
    return new CloudflareError(
      ErrorCode.CloudflareUnavailable,
      `${what} (${op.subject}). ` +
        (mutation
          ? 'The change may or may not have been made; the bot must read the current state before trying again.'
          : `${unchanged} Try again in a few minutes.`),
      { ...base, retryable: true, outcomeUnknown: mutation },
    );
  }

  if (f.status === 429 || codes.includes(971)) {
    const wait = f.retryAfterMs ?? 60_000;
    return new CloudflareError(
      ErrorCode.CloudflareRateLimited,
      `Cloudflare is rate-limiting the bot's API token (code 971) and refused to ${op.name}. ${unchanged} ` +
        `The bot can try again in about ${Math.max(1, Math.ceil(wait / 1000))} s.`,
      { ...base, retryable: true, retryAfterMs: wait },
    );
  }

  if (f.status === 401 || codes.includes(9109) || codes.includes(6003) || codes.includes(6111)) {
    const header = codes.includes(6003) || codes.includes(6111);
    return new CloudflareError(
      ErrorCode.CloudflareAuth,
      header
        ? `Cloudflare could not read the bot's credentials when it tried to ${op.name}; it answered ${cfText}. ${unchanged} Check that CLOUDFLARE_API_TOKEN is set to an API token.`
        : `Cloudflare rejected the bot's API token as invalid or expired when it tried to ${op.name}. ${unchanged} An admin needs to replace CLOUDFLARE_API_TOKEN.`,
      { ...base, retryable: false, permission: op.permission },
    );
  }

  if (f.status === 403 || codes.includes(10000)) {
    return new CloudflareError(
      ErrorCode.CloudflareAuth,
      `The bot's Cloudflare API token is not allowed to ${op.name} on account ${op.accountId}${cfText ? `; Cloudflare answered ${cfText}` : ''}. ${unchanged} ` +
        `Give the token the ${op.permission} permission for that account, or check the account id.`,
      { ...base, retryable: false, permission: op.permission },
    );
  }

  if (f.status === 404 || codes.includes(7003) || codes.includes(7000)) {
    return new CloudflareError(
      ErrorCode.CloudflareNotFound,
      `Cloudflare has no ${op.subject} in account ${op.accountId}; it may have been deleted, or the id is wrong. ${unchanged}`,
      { ...base, retryable: false },
    );
  }

  const text = f.errors.map((e) => e.message).join(' ');
  const hint = STATE_HINTS.find((h) => text.includes(h.marker));
  if (hint) {
    return new CloudflareError(ErrorCode.CloudflareConflict, `${hint.sentence(op)} ${unchanged}`, { ...base, retryable: false });
  }
  if (f.status === 409 || f.status === 423) {
    return new CloudflareError(
      ErrorCode.CloudflareConflict,
      `Cloudflare refused to ${op.name} for ${op.subject} in its current state: ${cfText || `HTTP ${f.status}`}. ${unchanged}`,
      { ...base, retryable: false },
    );
  }

  if (f.status >= 500) {
    return new CloudflareError(
      ErrorCode.CloudflareUnavailable,
      `Cloudflare had an internal error (HTTP ${f.status}) when the bot tried to ${op.name} for ${op.subject}. ` +
        (mutation
          ? 'The change may or may not have been made; the bot must read the current state before trying again.'
          : `${unchanged} Try again in a few minutes.`),
      { ...base, retryable: true, outcomeUnknown: mutation },
    );
  }

  return new CloudflareError(
    ErrorCode.CloudflareValidation,
    `Cloudflare rejected the request to ${op.name} for ${op.subject}: ${cfText || `HTTP ${f.status}`}. ${unchanged} Fix the request and try again.`,
    { ...base, retryable: false },
  );
}

/** A request the client refuses to send because Cloudflare's schema would reject it; nothing reached Cloudflare. */
export function invalidRequest(op: Operation, problem: string): CloudflareError {
  return new CloudflareError(
    ErrorCode.CloudflareValidation,
    `The bot did not ask Cloudflare to ${op.name} for ${op.subject}: ${problem}. Nothing was sent; fix the request and try again.`,
    { status: null, retryable: false, operation: op.name },
  );
}
