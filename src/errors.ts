/**
 * Typed errors. Callers branch on `code`, never on message text. Every error carries `userMessage`:
 * a sentence fit for Slack saying what was wrong and what to do next.
 */
export enum ErrorCode {
  // input and policy
  InvalidInput = 'byoip_invalid_input',
  NotAuthorized = 'byoip_not_authorized',
  SelfApproval = 'byoip_self_approval',
  PrefixLocked = 'byoip_prefix_locked',
  OperationNotFound = 'byoip_operation_not_found',
  OperationFinished = 'byoip_operation_finished',
  OperationExpired = 'byoip_operation_expired',
  /** The plan has warnings: the approver must confirm them explicitly (the confirm dialog). */
  ConfirmationRequired = 'byoip_confirmation_required',
  /** A guard blocks the change. */
  GuardBlocked = 'byoip_guard_blocked',
  /** Too many commands too fast, or the bot is busy. */
  SlowDown = 'byoip_slow_down',
  PolicyInvalid = 'byoip_policy_invalid',
  ConfigInvalid = 'byoip_config_invalid',
  /** Start-up: Redis does not answer. */
  RedisUnavailable = 'byoip_redis_unavailable',
  /** Start-up: Slack refuses the bot token (auth.test), or cannot be reached. */
  SlackAuth = 'slack_auth',
  // Cloudflare
  CloudflareNotFound = 'cloudflare_not_found',
  CloudflareValidation = 'cloudflare_validation',
  CloudflareConflict = 'cloudflare_conflict',
  CloudflareAuth = 'cloudflare_auth',
  CloudflareRateLimited = 'cloudflare_rate_limited',
  CloudflareUnavailable = 'cloudflare_unavailable',
  CloudflareBadResponse = 'cloudflare_bad_response',
  // routing view
  RoutingUnavailable = 'routing_unavailable',
  RoutingBadResponse = 'routing_bad_response',
  // Slack delivery
  SlackDelivery = 'slack_delivery',
}

export class BotError extends Error {
  /**
   * People the sentence names, as `{name}` placeholders in `userMessage` -> Slack user id. The Slack layer renders
   * them as mentions; anything else (logs, the audit) sees the id.
   */
  readonly people: Record<string, string>;
  /**
   * What the user typed that the sentence echoes, as `{name}` placeholders -> the raw text. The Slack layer escapes
   * it (no live mention, link or `<!channel>`); `userMessage` and logs carry it as typed.
   */
  readonly texts: Record<string, string>;
  /** The sentence with both kinds of placeholder (what the Slack layer renders). */
  readonly template: string;
  /** The sentence with the echoed texts filled in and the people placeholders kept. */
  readonly userMessage: string;

  constructor(
    readonly code: ErrorCode,
    userMessage: string,
    /** Whether a job that hit this error should try again later. */
    readonly retryable = false,
    options?: { cause?: unknown; people?: Record<string, string>; texts?: Record<string, string> },
  ) {
    const texts = options?.texts ?? {};
    const withTexts = fillPeople(userMessage, texts, (t) => t);
    super(fillPeople(withTexts, options?.people ?? {}, (id) => id), options);
    this.people = options?.people ?? {};
    this.texts = texts;
    this.template = userMessage;
    this.userMessage = withTexts;
    this.name = 'BotError';
  }
}

/** Replaces `{name}` placeholders with `render(userId)`; text without placeholders is returned as is. */
export function fillPeople(text: string, people: Record<string, string>, render: (userId: string) => string): string {
  return text.replace(/\{([a-z]+)\}/g, (whole, name: string) => (people[name] !== undefined ? render(people[name]) : whole));
}

export class InvalidInputError extends BotError {
  /** `texts`: what the user typed that the sentence echoes (`{name}` placeholders). */
  constructor(userMessage: string, texts?: Record<string, string>) {
    super(ErrorCode.InvalidInput, userMessage, false, texts ? { texts } : undefined);
    this.name = 'InvalidInputError';
  }
}

export function isBotError(err: unknown): err is BotError {
  return err instanceof BotError;
}

/**
 * The sentence to show a user for any error: typed errors speak for themselves, anything else is generic.
 * `renderText` renders what the user typed (the Slack layer escapes it); by default it is shown as typed.
 */
export function userMessageOf(err: unknown, renderUser: (userId: string) => string = (id) => id, renderText?: (text: string) => string): string {
  if (isBotError(err)) {
    // One pass over the template: an echoed text is never scanned for placeholders itself.
    if (renderText) return err.template.replace(/\{([a-z]+)\}/g, (whole, name: string) => (err.texts[name] !== undefined ? renderText(err.texts[name]) : err.people[name] !== undefined ? renderUser(err.people[name]) : whole));
    return fillPeople(err.userMessage, err.people, renderUser);
  }
  return 'Something went wrong on our side; nothing was changed. Try again, and tell the bot owners if it keeps happening.';
}

/** A request refused by its plan's guards; the Slack layer renders each guard with its fix. */
export class GuardBlockedError extends BotError {
  constructor(
    userMessage: string,
    /** The blocking guards (domain `Guard`s). */
    readonly guards: { id: string; status: string; facts: Record<string, unknown> }[],
  ) {
    super(ErrorCode.GuardBlocked, userMessage);
    this.name = 'GuardBlockedError';
  }
}
