import { createHmac } from 'node:crypto';
import { buttonsIn, findButton, type FoundButton } from './buttons.js';
import type { Json, SimView, SlackSimulator, UsergroupChange } from './types.js';

export { buttonsIn, findButton, type FoundButton } from './buttons.js';

/** Bolt's HTTP parser takes a body as form data only for exactly this content type (no charset). */
export const FORM_CONTENT_TYPE = 'application/x-www-form-urlencoded';
/** The app id the simulator's payloads carry (`api_app_id`) and Socket Mode's hello names. */
export const APP_ID = 'A0SIMAPP01';
const VERIFICATION_TOKEN = 'sim-verification-token';

export interface SendResult {
  status: number;
  body: string;
  /** The body parsed as JSON when it is JSON. */
  json?: unknown;
  elapsedMs: number;
}

export interface CommandResult extends SendResult {
  responseUrl: string;
  triggerId: string;
}

/** Where a button is: in a channel message or ephemeral (by its ts), or in a view. */
export type ButtonTarget =
  | { channel: string; messageTs: string; actionId: string; value?: string; blockId?: string }
  | { viewId: string; actionId: string; value?: string; blockId?: string };

export type ViewValues = Record<string, Record<string, { type: string; value?: string | null; selected_option?: unknown; selected_options?: unknown[] } & Json>>;

export interface SenderOptions {
  /** The bot's Request URL, e.g. `http://127.0.0.1:3000/slack/events`. */
  eventsUrl: string;
  signingSecret: string;
  sim: SlackSimulator;
  teamId?: string;
  /** Channel for commands sent without one. Default C0SIMCHAN1. */
  defaultChannel?: string;
  /** Give up on a request after this long (Slack itself gives up after 3 s). Default 10 s. */
  timeoutMs?: number;
}

/** `v0=` + hex HMAC-SHA256(secret, `v0:{ts}:{body}`), Slack's request signature. */
export function slackSignature(signingSecret: string, timestampSec: number, body: string): string {
  return `v0=${createHmac('sha256', signingSecret).update(`v0:${timestampSec}:${body}`).digest('hex')}`;
}

function nowSec(): number {
  return Math.floor(Date.now() / 1000);
}

function actionTs(): string {
  const ms = Date.now();
  return `${Math.floor(ms / 1000)}.${String((ms % 1000) * 1000).padStart(6, '0')}`;
}

export interface PayloadOptions {
  sim: SlackSimulator;
  teamId?: string;
  /** Channel for commands sent without one. Default C0SIMCHAN1. */
  defaultChannel?: string;
}

/** A slash command as Slack sends it: the fields (in Slack's order) plus where its answer goes. */
export interface CommandPayload {
  channel: string;
  fields: Record<string, string>;
  responseUrl: string;
  triggerId: string;
}

/**
 * Builds what Slack sends to a bot (slash command fields, block_actions, view_submission, view_closed and
 * Events API callbacks) with response_url and trigger_id values the simulator honours. Shared by the signed
 * HTTP sender and the Socket Mode sender, which differ only in how the payload travels.
 */
export class SlackPayloads {
  readonly sim: SlackSimulator;
  readonly teamId: string;
  readonly defaultChannel: string;

  constructor(opts: PayloadOptions) {
    this.sim = opts.sim;
    this.teamId = opts.teamId ?? opts.sim.teamId;
    this.defaultChannel = opts.defaultChannel ?? 'C0SIMCHAN1';
  }

  /** An Events API callback (`type: event_callback`) around `event`. */
  eventCallback(event: Json): Json {
    return {
      token: VERIFICATION_TOKEN,
      team_id: this.teamId,
      api_app_id: APP_ID,
      event: { event_ts: actionTs(), ...event },
      type: 'event_callback',
      event_id: `Ev${Date.now().toString(36).toUpperCase()}${Math.floor(Math.random() * 1e6)}`,
      event_time: nowSec(),
      authorizations: [{ enterprise_id: null, team_id: this.teamId, user_id: this.sim.botUserId, is_bot: true, is_enterprise_install: false }],
      is_ext_shared_channel: false,
    };
  }

  /** The `app_home_opened` event for `userId` (with the published home view, if any). */
  appHomeOpenedEvent(userId: string): Json {
    const home = this.sim.views(userId).find((v) => v.type === 'home');
    const event: Json = { type: 'app_home_opened', user: userId, channel: `D${userId}`, tab: 'home' };
    if (home) event.view = home.view;
    return event;
  }

  /** Slack's `subteam_members_changed` event for one edit of a user group (`sim.setUsergroupUsers` returns it). */
  subteamMembersChangedEvent(change: UsergroupChange): Json {
    const event: Json = {
      type: 'subteam_members_changed',
      subteam_id: change.subteamId,
      team_id: this.teamId,
      date_previous_update: change.datePreviousUpdate,
      date_update: change.dateUpdate,
    };
    if (change.added.length) Object.assign(event, { added_users: change.added, added_users_count: String(change.added.length) });
    if (change.removed.length) Object.assign(event, { removed_users: change.removed, removed_users_count: String(change.removed.length) });
    return event;
  }

  userJson(userId: string): Json {
    const u = this.sim.user(userId);
    return { id: userId, username: u?.name ?? userId, name: u?.name ?? userId, team_id: this.teamId };
  }

  team(): Json {
    return { id: this.teamId, domain: 'sim-workspace' };
  }

  /** Slash command fields in Slack's order, with a fresh response URL and trigger_id. */
  command(userId: string, text: string, opts: { channel?: string; command?: string } = {}): CommandPayload {
    const channel = this.sim.channel(opts.channel ?? this.defaultChannel)?.id ?? opts.channel ?? this.defaultChannel;
    const channelName = this.sim.channel(channel)?.name ?? channel.toLowerCase();
    const { url: responseUrl } = this.sim.createResponseUrl({ channel, user: userId });
    const triggerId = this.sim.createTriggerId(userId);
    const fields: Record<string, string> = {
      token: VERIFICATION_TOKEN,
      team_id: this.teamId,
      team_domain: 'sim-workspace',
      channel_id: channel,
      channel_name: channelName,
      user_id: userId,
      user_name: this.sim.user(userId)?.name ?? userId,
      command: opts.command ?? '/byoip',
      text,
      api_app_id: APP_ID,
      is_enterprise_install: 'false',
      response_url: responseUrl,
      trigger_id: triggerId,
    };
    return { channel, fields, responseUrl, triggerId };
  }

  /** A `block_actions` payload for a click on a button in a message, ephemeral or view. */
  buttonClick(userId: string, target: ButtonTarget, opts: { state?: ViewValues } = {}): Json {
    if ('viewId' in target) return this.clickInView(userId, target, opts.state);
    const { channel, messageTs } = target;
    const message = this.sim.message(channel, messageTs);
    const ephemeral = message ? undefined : this.sim.ephemeral(messageTs);
    if (!message && !ephemeral) throw new Error(`no message or ephemeral ${messageTs} in ${channel}`);
    if (ephemeral && ephemeral.user !== userId) throw new Error(`ephemeral ${messageTs} is only visible to ${ephemeral.user}`);
    const source = (message ?? ephemeral) as { blocks: unknown[] };
    const button = this.pickButton(source, target);
    const container: Json = { type: 'message', message_ts: messageTs, channel_id: channel, is_ephemeral: !!ephemeral };
    const threadTs = message?.threadTs ?? ephemeral?.threadTs;
    if (threadTs) container.thread_ts = threadTs;
    const { url: responseUrl } = this.sim.createResponseUrl({
      channel,
      user: userId,
      messageTs,
      isEphemeral: !!ephemeral,
      ...(threadTs ? { threadTs } : {}),
    });
    const payload: Json = {
      type: 'block_actions',
      user: this.userJson(userId),
      api_app_id: APP_ID,
      token: VERIFICATION_TOKEN,
      container,
      trigger_id: this.sim.createTriggerId(userId),
      team: this.team(),
      enterprise: null,
      is_enterprise_install: false,
      channel: { id: channel, name: this.sim.channel(channel)?.name ?? channel.toLowerCase() },
      state: { values: structuredClone(opts.state ?? {}) },
      response_url: responseUrl,
      actions: [this.actionJson(button)],
    };
    if (message) payload.message = this.sim.messagePayload(channel, messageTs);
    return payload;
  }

  private clickInView(userId: string, target: { viewId: string; actionId: string; value?: string; blockId?: string }, extra?: ViewValues): Json {
    const view = this.openView(userId, target.viewId);
    const values: Record<string, Record<string, Json>> = structuredClone(view.state);
    for (const [blockId, actions] of Object.entries(extra ?? {})) for (const [actionId, v] of Object.entries(actions)) (values[blockId] ??= {})[actionId] = { ...v };
    const button = this.pickButton(view, target);
    return {
      type: 'block_actions',
      user: this.userJson(userId),
      api_app_id: APP_ID,
      token: VERIFICATION_TOKEN,
      container: { type: 'view', view_id: view.id },
      trigger_id: this.sim.createTriggerId(userId, view.id),
      team: this.team(),
      enterprise: null,
      is_enterprise_install: false,
      view: { ...view.view, state: { values } },
      actions: [this.actionJson(button)],
    };
  }

  private pickButton(source: { blocks: unknown[] } | SimView, target: { actionId: string; value?: string; blockId?: string }): FoundButton {
    const candidates = buttonsIn(source).filter((b) => b.actionId === target.actionId && (target.blockId === undefined || b.blockId === target.blockId));
    const found = candidates.find((b) => target.value === undefined || b.value === target.value) ?? candidates[0];
    if (!found) throw new Error(`no button with action_id ${target.actionId}${target.blockId ? ` in block ${target.blockId}` : ''}`);
    const b = { ...found };
    if (target.value !== undefined) b.value = target.value;
    return b;
  }

  private actionJson(b: FoundButton): Json {
    const a: Json = {
      action_id: b.actionId,
      block_id: b.blockId,
      text: { type: 'plain_text', text: b.text, emoji: true },
      type: 'button',
      action_ts: actionTs(),
    };
    if (b.value !== undefined) a.value = b.value;
    if (b.style !== undefined) a.style = b.style;
    return a;
  }

  /** The user's open view `viewId` (throws when it is closed or someone else's). */
  openView(userId: string, viewId: string): SimView {
    const view = this.sim.view(viewId);
    if (!view || view.closed) throw new Error(`view ${viewId} is not open`);
    if (view.userId !== userId) throw new Error(`view ${viewId} belongs to ${view.userId}, not ${userId}`);
    return view;
  }

  /** A `view_submission` payload: `values` merged over what was filled in with `sim.setViewValue`. */
  viewSubmission(userId: string, viewId: string, values: ViewValues = {}): Json {
    const view = this.openView(userId, viewId);
    const state: Record<string, Record<string, Json>> = structuredClone(view.state);
    for (const [blockId, actions] of Object.entries(values)) {
      for (const [actionId, v] of Object.entries(actions)) (state[blockId] ??= {})[actionId] = { ...v };
    }
    return {
      type: 'view_submission',
      team: this.team(),
      user: this.userJson(userId),
      api_app_id: APP_ID,
      token: VERIFICATION_TOKEN,
      trigger_id: this.sim.createTriggerId(userId, viewId),
      view: { ...view.view, callback_id: view.callbackId, private_metadata: view.privateMetadata, hash: view.hash, state: { values: state } },
      response_urls: [],
      is_enterprise_install: false,
      enterprise: null,
    };
  }

  /**
   * The user closes the modal (the simulator closes it now); the `view_closed` payload when the view asked for
   * `notify_on_close`, else undefined.
   */
  closeView(userId: string, viewId: string): Json | undefined {
    const view = this.openView(userId, viewId);
    const notify = view.view.notify_on_close === true;
    this.sim.closeView(viewId);
    if (!notify) return undefined;
    return {
      type: 'view_closed',
      team: this.team(),
      user: this.userJson(userId),
      api_app_id: APP_ID,
      token: VERIFICATION_TOKEN,
      view: view.view,
      is_cleared: false,
      is_enterprise_install: false,
      enterprise: null,
    };
  }

  /** The button with this text in a message / ephemeral / view, as a click target (see `findButton`). */
  buttonByText(userId: string, where: { channel: string; messageTs: string } | { viewId: string }, text: string): ButtonTarget {
    const source = 'viewId' in where ? this.openView(userId, where.viewId) : (this.sim.message(where.channel, where.messageTs) ?? this.sim.ephemeral(where.messageTs));
    if (!source) throw new Error('no such message');
    const b = findButton(source, text);
    if (!b) throw new Error(`no button "${text}"`);
    return { ...where, actionId: b.actionId, blockId: b.blockId, ...(b.value !== undefined ? { value: b.value } : {}) };
  }
}

/**
 * Sends what Slack sends to a bot's Request URL: slash commands, block_actions, view_submission,
 * view_closed and Events API callbacks, each signed with the signing secret, with response_url and
 * trigger_id values the simulator honours.
 */
export class SlackRequestSender {
  readonly eventsUrl: string;
  /** The payload builders this sender uses (shared with the Socket Mode sender). */
  readonly payloads: SlackPayloads;
  private readonly secret: string;
  private readonly sim: SlackSimulator;
  private readonly timeoutMs: number;

  constructor(opts: SenderOptions) {
    this.eventsUrl = opts.eventsUrl;
    this.secret = opts.signingSecret;
    this.sim = opts.sim;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.payloads = new SlackPayloads({ sim: opts.sim, ...(opts.teamId !== undefined ? { teamId: opts.teamId } : {}), ...(opts.defaultChannel !== undefined ? { defaultChannel: opts.defaultChannel } : {}) });
  }

  // ---------- signing ----------

  /** Correct signature headers for `body` (timestamp now unless given). */
  signedHeaders(body: string, contentType = FORM_CONTENT_TYPE, timestampSec = nowSec()): Record<string, string> {
    return {
      'content-type': contentType,
      'x-slack-request-timestamp': String(timestampSec),
      'x-slack-signature': slackSignature(this.secret, timestampSec, body),
    };
  }

  /** Headers whose signature was made with the wrong secret (the bot must answer 401). */
  badSignatureHeaders(body: string, contentType = FORM_CONTENT_TYPE): Record<string, string> {
    const ts = nowSec();
    return {
      'content-type': contentType,
      'x-slack-request-timestamp': String(ts),
      'x-slack-signature': slackSignature(`${this.secret}-wrong`, ts, body),
    };
  }

  /** Correctly signed headers with a timestamp more than 5 minutes old (a replay; the bot must answer 401). */
  staleHeaders(body: string, contentType = FORM_CONTENT_TYPE, ageSec = 6 * 60): Record<string, string> {
    return this.signedHeaders(body, contentType, nowSec() - ageSec);
  }

  /** POSTs `body` with exactly these headers. */
  async raw(body: string, headers: Record<string, string>): Promise<SendResult> {
    const started = Date.now();
    const res = await fetch(this.eventsUrl, { method: 'POST', headers, body, signal: AbortSignal.timeout(this.timeoutMs) });
    const text = await res.text();
    const out: SendResult = { status: res.status, body: text, elapsedMs: Date.now() - started };
    if (text.trim().startsWith('{') || text.trim().startsWith('[')) {
      try {
        out.json = JSON.parse(text);
      } catch {
        // not JSON after all
      }
    }
    return out;
  }

  /** POSTs a form body, signed. */
  async sendForm(fields: Record<string, string>): Promise<SendResult> {
    const body = new URLSearchParams(fields).toString();
    return this.raw(body, this.signedHeaders(body));
  }

  /** POSTs an interaction payload (`payload=<urlencoded JSON>`), signed. */
  async sendInteraction(payload: Json): Promise<SendResult> {
    return this.sendForm({ payload: JSON.stringify(payload) });
  }

  /** POSTs an Events API callback (JSON), signed. */
  async event(event: Json): Promise<SendResult> {
    const body = JSON.stringify(this.payloads.eventCallback(event));
    return this.raw(body, this.signedHeaders(body, 'application/json'));
  }

  /** The user opens the bot's App Home tab. */
  async appHomeOpened(userId: string): Promise<SendResult> {
    return this.event(this.payloads.appHomeOpenedEvent(userId));
  }

  /** An admin edits a user group: the simulator's members change, and Slack tells the app (`subteam_members_changed`). */
  async changeUsergroup(groupId: string, users: string[]): Promise<SendResult> {
    return this.event(this.payloads.subteamMembersChangedEvent(this.sim.setUsergroupUsers(groupId, users)));
  }

  // ---------- user actions ----------

  /**
   * A slash command as Slack sends it (form fields in Slack's order). The bot's ack body is shown to the
   * user like Slack does (text -> ephemeral, `response_type: in_channel` -> channel message).
   */
  async command(userId: string, text: string, opts: { channel?: string; command?: string } = {}): Promise<CommandResult> {
    const { channel, fields, responseUrl, triggerId } = this.payloads.command(userId, text, opts);
    const res = await this.sendForm(fields);
    if (res.status === 200) this.sim.applyCommandAck({ channel, user: userId }, res.body);
    return { ...res, responseUrl, triggerId };
  }

  /**
   * A click on a button (a `block_actions` payload) in a channel message, a thread reply, an ephemeral or
   * a view. Value and block_id are taken from the button itself unless given. `opts.state` adds input values
   * to the payload's state (a view's filled-in values are always sent).
   */
  async clickButton(userId: string, target: ButtonTarget, opts: { state?: ViewValues } = {}): Promise<SendResult> {
    return this.sendInteraction(this.payloads.buttonClick(userId, target, opts));
  }

  /**
   * Submits a modal (`view_submission`). `values` (block_id -> action_id -> value object) are merged over what
   * was already filled in with `sim.setViewValue`. The bot's answer is applied to the simulator: errors stay on
   * the view, update / push / clear act on the stack, an empty answer closes the view.
   */
  async submitView(userId: string, viewId: string, values: ViewValues = {}): Promise<SendResult> {
    const res = await this.sendInteraction(this.payloads.viewSubmission(userId, viewId, values));
    if (res.status === 200) this.sim.applyViewSubmissionResponse(viewId, res.json ?? {});
    return res;
  }

  /** The user closes the modal; sends `view_closed` when the view asked for `notify_on_close`. */
  async closeView(userId: string, viewId: string): Promise<SendResult | undefined> {
    const payload = this.payloads.closeView(userId, viewId);
    return payload ? this.sendInteraction(payload) : undefined;
  }

  /** Clicks the button with this text in a message / ephemeral / view (see `findButton`). */
  async clickButtonByText(
    userId: string,
    where: { channel: string; messageTs: string } | { viewId: string },
    text: string,
  ): Promise<SendResult> {
    return this.clickButton(userId, this.payloads.buttonByText(userId, where, text));
  }
}
