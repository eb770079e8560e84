/** Public shapes of the Slack simulator: what tests and the sandbox chat read back. */

export type Json = Record<string, unknown>;

export interface SlackSimUser {
  id: string;
  name: string;
  realName?: string;
}

export interface SlackSimUsergroup {
  id: string;
  handle: string;
  users: string[];
}

/** One edit of a user group's members (the fields of Slack's `subteam_members_changed` event). */
export interface UsergroupChange {
  subteamId: string;
  added: string[];
  removed: string[];
  /** Seconds since the epoch: the edit before this one, and this one. */
  datePreviousUpdate: number;
  dateUpdate: number;
}

export interface SlackSimChannel {
  id: string;
  name: string;
}

/** One Web API call as the simulator saw it; JSON fields (`blocks`, `view`, ...) are parsed back. */
export interface RecordedCall {
  method: string;
  args: Json;
  ok: boolean;
  error?: string;
  status: number;
  at: number;
}

export interface SimEdit {
  text: string;
  blocks: unknown[];
  at: number;
}

export interface SimMessage {
  channel: string;
  ts: string;
  /** Set on thread replies: the parent's ts. */
  threadTs?: string;
  text: string;
  blocks: unknown[];
  /** The bot's user id for messages the bot posted. */
  user: string;
  postedAt: number;
  /** Every chat.update (or response_url replace_original) in order; `text` / `blocks` are the latest. */
  edits: SimEdit[];
  deleted: boolean;
  metadata?: unknown;
}

export interface SimEphemeral {
  channel: string;
  /** The user who sees it. */
  user: string;
  /** The `message_ts` Slack answers; buttons in the ephemeral carry it as the container's message_ts. */
  ts: string;
  threadTs?: string;
  text: string;
  blocks: unknown[];
  /** `api` = chat.postEphemeral, `response_url` = a post to a response URL. */
  source: 'api' | 'response_url';
  postedAt: number;
  edits: SimEdit[];
  deleted: boolean;
}

export interface SimView {
  id: string;
  userId: string;
  type: 'modal' | 'home';
  hash: string;
  externalId?: string;
  callbackId: string;
  privateMetadata: string;
  /** The view object as Slack returns it (id, title, blocks, submit, close, state, hash, ...). */
  view: Json;
  rootViewId: string;
  previousViewId?: string;
  /** Values typed into the view's inputs so far: block_id -> action_id -> value object. */
  state: Record<string, Record<string, Json>>;
  /** Errors from the last `response_action: errors` answer, by block_id. */
  errors?: Record<string, string>;
  /** View ids of the modal stack this view is in, root first (a home view: just itself). */
  stack: string[];
  openedAt: number;
  closed: boolean;
}

/** What a response URL belongs to, so posts to it act like Slack's. */
export interface ResponseUrlContext {
  channel: string;
  user: string;
  /** Set when the response URL comes from a button in a message or ephemeral (replace_original target). */
  messageTs?: string;
  isEphemeral?: boolean;
  threadTs?: string;
}

export interface ResponsePost {
  id: string;
  at: number;
  status: number;
  text?: string;
  blocks?: unknown[];
  response_type?: string;
  replace_original?: boolean;
  delete_original?: boolean;
  thread_ts?: string;
  /** What the simulator made of it. */
  effect: 'message' | 'ephemeral' | 'replaced' | 'deleted' | 'rejected';
}

export type SlackSimEvent =
  | { type: 'message'; message: SimMessage }
  | { type: 'message_updated'; message: SimMessage }
  | { type: 'message_deleted'; message: SimMessage }
  | { type: 'ephemeral'; ephemeral: SimEphemeral }
  | { type: 'ephemeral_updated'; ephemeral: SimEphemeral }
  | { type: 'ephemeral_deleted'; ephemeral: SimEphemeral }
  | { type: 'view_opened'; view: SimView }
  | { type: 'view_updated'; view: SimView }
  | { type: 'view_closed'; view: SimView }
  | { type: 'view_errors'; view: SimView; errors: Record<string, string> }
  | { type: 'home_published'; view: SimView }
  /** A Web API call the simulator refused (invalid_blocks, rate limit, injected failure, ...). */
  | { type: 'api_error'; call: RecordedCall };

export interface FailNextOptions {
  /** HTTP status; 429 (or retryAfterSec) answers like Slack's rate limiter. Default 200 with `ok: false`. */
  status?: number;
  /** Slack error code for `{ ok: false, error }`; default `internal_error` (or `ratelimited` on 429). */
  error?: string;
  retryAfterSec?: number;
  /** How many following calls of the method fail; default 1. */
  count?: number;
  /** `after`: the call is carried out (the message is posted) and then answered with the failure: a lost answer. */
  applied?: 'before' | 'after';
}

export interface SlackSimOptions {
  port?: number;
  botToken: string;
  teamId?: string;
  botUserId?: string;
  botId?: string;
  users: SlackSimUser[];
  usergroups: SlackSimUsergroup[];
  /** Known channels; when given, other channel ids answer `channel_not_found`. */
  channels?: SlackSimChannel[];
  /**
   * chat.postMessage limit per channel: a token bucket of `burst` messages refilled at `perSecond`
   * (Slack: about 1 per second with short bursts). `false` turns it off. Default { perSecond: 1, burst: 5 }.
   */
  postMessageRateLimit?: { perSecond: number; burst: number } | false;
  /**
   * Per-method limits for the whole workspace (Slack's tiers: T2 20/min, T3 50/min, T4 100/min), e.g.
   * `{ 'usergroups.users.list': { perMinute: 20 } }` or `SLACK_TIER_LIMITS`. Off unless given.
   */
  methodRateLimits?: Record<string, { perMinute: number; burst?: number }>;
  /** Lifetime of a trigger_id in ms (Slack: 3 s). */
  triggerTtlMs?: number;
}

/** What a method added with `registerMethod` answers (HTTP status 200 unless given). */
export interface SimMethodResult {
  status?: number;
  headers?: Record<string, string>;
  body: Json;
}

/**
 * A Web API method added to the simulator. It checks the token itself (the bot token check does not apply),
 * e.g. `apps.connections.open`, which takes an app-level `xapp-` token.
 */
export type SimMethodHandler = (req: { token: string | undefined; args: Json }) => SimMethodResult;

export interface SlackSimulator {
  /** Base URL of the Web API, ending in `/api/` (Bolt's `clientOptions.slackApiUrl`). */
  readonly apiUrl: string;
  /** The server root, e.g. `http://127.0.0.1:4010`. */
  readonly url: string;
  readonly port: number;
  readonly teamId: string;
  readonly botUserId: string;
  readonly botId: string;
  readonly calls: RecordedCall[];
  /** Calls of one method (convenience over `calls`). */
  callsOf(method: string): RecordedCall[];

  /** Live (not deleted) messages, top-level and thread replies, in posting order. */
  messages(channel?: string): SimMessage[];
  message(channel: string, ts: string): SimMessage | undefined;
  /** Replies to the thread started by `ts`, in order. */
  thread(channel: string, ts: string): SimMessage[];
  ephemerals(user?: string): SimEphemeral[];
  ephemeral(ts: string): SimEphemeral | undefined;
  /** Open views: the top of each user's modal stack and published home tabs. */
  views(userId?: string): SimView[];
  view(viewId: string): SimView | undefined;
  /** The top view of the user's open modal, if any. */
  openModal(userId: string): SimView | undefined;

  /** URL of response URL `id`; registers it with `ctx` when given. */
  responseUrlFor(id: string, ctx?: ResponseUrlContext): string;
  /** A fresh response URL bound to `ctx`. */
  createResponseUrl(ctx: ResponseUrlContext): { id: string; url: string };
  responsePosts(id?: string): ResponsePost[];
  /** A fresh trigger_id for `userId` that views.open / views.push accept once within the TTL. */
  createTriggerId(userId: string, fromViewId?: string): string;

  /** A message as Slack puts it in interaction payloads (`type`, `user`, `bot_id`, `text`, `blocks`, `ts`, ...). */
  messagePayload(channel: string, ts: string): Json | undefined;
  /**
   * Shows the bot's HTTP answer to a slash command the way Slack does: a plain-text or `{ text, blocks }`
   * body becomes an ephemeral for the user, `response_type: 'in_channel'` a channel message.
   */
  applyCommandAck(ctx: { channel: string; user: string }, body: string): void;
  /** Records a value typed into an input of an open view (what the chat's `fill` does). */
  setViewValue(viewId: string, blockId: string, actionId: string, value: Json): void;
  /** Applies the bot's answer to a view_submission (empty = close this view, errors, update, push, clear). */
  applyViewSubmissionResponse(viewId: string, response: unknown): void;
  /** The user closes a modal (the X / Cancel button): the whole stack goes. */
  closeView(viewId: string): SimView | undefined;

  subscribe(listener: (event: SlackSimEvent) => void): () => void;
  /** Resolves with the predicate's first truthy answer (checked on every simulator event and every 25 ms). */
  waitFor<T>(predicate: () => T | undefined | null | false | 0 | '', timeoutMs?: number): Promise<T>;

  user(id: string): SlackSimUser | undefined;
  userByName(name: string): SlackSimUser | undefined;
  usergroup(handle: string): SlackSimUsergroup | undefined;
  usergroupById(id: string): SlackSimUsergroup | undefined;
  /**
   * Replaces a group's members, as an admin editing it in Slack does, and returns what changed: what Slack's
   * `subteam_members_changed` event carries (`SlackPayloads.subteamMembersChangedEvent` builds it).
   */
  setUsergroupUsers(id: string, users: string[]): UsergroupChange;
  channel(idOrName: string): SlackSimChannel | undefined;

  /** Adds (or replaces) a Web API method; calls are recorded like any other. Returns a function that removes it. */
  registerMethod(method: string, handler: SimMethodHandler): () => void;

  failNext(method: string, opts?: FailNextOptions): void;
  /**
   * The next `count` posts to any response URL answer `status` (default 503) without being taken: no message,
   * no use counted (a Slack edge failing before the post is taken).
   */
  failNextResponse(opts?: { status?: number; count?: number }): void;
  setPostMessageRateLimit(limit: { perSecond: number; burst: number } | false): void;
  /** Replaces the per-method limits (`{}` turns them off). */
  setMethodRateLimits(limits: Record<string, { perMinute: number; burst?: number }>): void;
  /** Forgets recorded calls, messages, ephemerals, views and response posts (users and groups stay). */
  reset(): void;
  close(): Promise<void>;
}
