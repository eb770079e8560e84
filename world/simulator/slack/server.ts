import { randomBytes } from 'node:crypto';
import type http from 'node:http';
import { startHttpServer, type RunningServer, type SimResponse } from '../http.js';
import { formatProblem, validateMessageBlocks, validateView, type BlockProblem } from './block-limits.js';
import type {
  FailNextOptions,
  Json,
  RecordedCall,
  ResponsePost,
  ResponseUrlContext,
  UsergroupChange,
  SimEdit,
  SimMethodHandler,
  SimEphemeral,
  SimMessage,
  SimView,
  SlackSimChannel,
  SlackSimEvent,
  SlackSimOptions,
  SlackSimulator,
  SlackSimUser,
  SlackSimUsergroup,
} from './types.js';

export type * from './types.js';

/**
 * A fake Slack Web API on 127.0.0.1, faithful enough that Bolt and @slack/web-api cannot tell:
 * form or JSON bodies, Bearer auth, `{ ok, error }` answers, Block Kit limits (`invalid_blocks`),
 * chat.postMessage's per-channel rate limit (HTTP 429 + Retry-After), trigger_id and response_url rules.
 */
export async function startSlackSimulator(opts: SlackSimOptions): Promise<SlackSimulator> {
  const sim = new SlackSim(opts);
  await sim.start(opts.port ?? 0);
  return sim;
}

/** Slack's published tiers for the methods the bot uses (java-slack-sdk MethodsRateLimits); pass as `methodRateLimits`. */
export const SLACK_TIER_LIMITS: Record<string, { perMinute: number }> = {
  'chat.update': { perMinute: 50 },
  'chat.postEphemeral': { perMinute: 100 },
  'chat.delete': { perMinute: 50 },
  'views.open': { perMinute: 100 },
  'views.update': { perMinute: 100 },
  'views.push': { perMinute: 100 },
  'views.publish': { perMinute: 100 },
  'users.info': { perMinute: 100 },
  'users.lookupByEmail': { perMinute: 50 },
  'usergroups.users.list': { perMinute: 20 },
  'usergroups.list': { perMinute: 20 },
  'conversations.history': { perMinute: 50 },
  'conversations.replies': { perMinute: 50 },
};

/** Fields Slack takes JSON-encoded inside form bodies. */
const JSON_FIELDS = ['blocks', 'attachments', 'view', 'metadata', 'users', 'channels'];

interface MethodResult {
  status?: number;
  headers?: Record<string, string>;
  body: Json;
}

interface Trigger {
  userId: string;
  fromViewId?: string;
  expiresAt: number;
  used: boolean;
}

interface ResponseUrl {
  ctx: ResponseUrlContext;
  createdAt: number;
  uses: number;
}

interface Bucket {
  tokens: number;
  updatedAt: number;
}

const RESPONSE_URL_MAX_USES = 5;
const RESPONSE_URL_TTL_MS = 30 * 60_000;

function ok(body: Json = {}): MethodResult {
  return { body: { ok: true, ...body } };
}

function fail(error: string, extra: Json = {}): MethodResult {
  return { body: { ok: false, error, ...extra } };
}

function invalidBlocks(problems: BlockProblem[]): MethodResult {
  const messages = problems.map(formatProblem);
  return fail('invalid_blocks', { errors: messages, response_metadata: { messages } });
}

function str(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

function bool(v: unknown): boolean {
  return v === true || v === 'true' || v === '1' || v === 1;
}

function isObj(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function clone<T>(v: T): T {
  return structuredClone(v);
}

/** Token bucket: undefined when a token was free, else Slack's 429 with Retry-After. */
function takeToken(buckets: Map<string, Bucket>, key: string, burst: number, perSecond: number): MethodResult | undefined {
  const now = Date.now();
  const b = buckets.get(key) ?? { tokens: burst, updatedAt: now };
  b.tokens = Math.min(burst, b.tokens + ((now - b.updatedAt) / 1000) * perSecond);
  b.updatedAt = now;
  buckets.set(key, b);
  if (b.tokens >= 1) {
    b.tokens -= 1;
    return undefined;
  }
  const retryAfter = Math.max(1, Math.ceil((1 - b.tokens) / perSecond));
  return { status: 429, headers: { 'retry-after': String(retryAfter) }, body: { ok: false, error: 'ratelimited' } };
}

class SlackSim implements SlackSimulator {
  apiUrl = '';
  url = '';
  port = 0;
  readonly teamId: string;
  readonly botUserId: string;
  readonly botId: string;
  readonly calls: RecordedCall[] = [];

  private server?: RunningServer;
  private readonly botToken: string;
  private readonly users = new Map<string, SlackSimUser>();
  private readonly groups = new Map<string, SlackSimUsergroup>();
  private readonly channels?: Map<string, SlackSimChannel>;
  private msgs: SimMessage[] = [];
  private msgIndex = new Map<string, SimMessage>();
  private ephs: SimEphemeral[] = [];
  private viewMap = new Map<string, SimView>();
  /** userId -> the view ids of their open modal, root first. */
  private modalStacks = new Map<string, string[]>();
  private homeViews = new Map<string, string>();
  private triggers = new Map<string, Trigger>();
  private responseUrls = new Map<string, ResponseUrl>();
  private posts: ResponsePost[] = [];
  private responseFailures: { status: number; left: number }[] = [];
  private groupUpdatedAt = new Map<string, number>();
  private listeners = new Set<(e: SlackSimEvent) => void>();
  private failures = new Map<string, (FailNextOptions & { left: number })[]>();
  /** Methods added with registerMethod; they do their own token check. */
  private extraMethods = new Map<string, SimMethodHandler>();
  private buckets = new Map<string, Bucket>();
  private rateLimit: { perSecond: number; burst: number } | false;
  private methodLimits: Record<string, { perMinute: number; burst?: number }>;
  private methodBuckets = new Map<string, Bucket>();
  private readonly triggerTtlMs: number;
  private lastMicros = 0;
  private counter = 0;

  constructor(opts: SlackSimOptions) {
    this.botToken = opts.botToken;
    this.teamId = opts.teamId ?? 'T0SIM0001';
    this.botUserId = opts.botUserId ?? 'U0BOT0001';
    this.botId = opts.botId ?? 'B0BOT0001';
    for (const u of opts.users) this.users.set(u.id, { ...u });
    for (const g of opts.usergroups) this.groups.set(g.id, { ...g, users: [...g.users] });
    if (opts.channels) this.channels = new Map(opts.channels.map((c) => [c.id, { ...c }]));
    this.rateLimit = opts.postMessageRateLimit === undefined ? { perSecond: 1, burst: 5 } : opts.postMessageRateLimit;
    this.triggerTtlMs = opts.triggerTtlMs ?? 3000;
    this.methodLimits = { ...(opts.methodRateLimits ?? {}) };
  }

  async start(port: number): Promise<void> {
    this.server = await startHttpServer((req, body) => this.handle(req, body), port);
    this.url = this.server.url;
    this.port = this.server.port;
    this.apiUrl = `${this.server.url}/api/`;
  }

  async close(): Promise<void> {
    this.listeners.clear();
    await this.server?.close();
  }

  // ---------- HTTP ----------

  private async handle(req: http.IncomingMessage, raw: Buffer): Promise<SimResponse> {
    const url = new URL(req.url ?? '/', 'http://sim.local');
    const api = /^\/api\/([A-Za-z0-9_.]+)$/.exec(url.pathname);
    if (api?.[1]) return this.handleApi(api[1], req, raw, url.searchParams);
    const resp = /^\/response\/([^/]+)$/.exec(url.pathname);
    if (resp?.[1] && req.method === 'POST') return this.handleResponseUrl(decodeURIComponent(resp[1]), req, raw);
    if (url.pathname === '/' || url.pathname === '/healthz') return { status: 200, body: { ok: true, simulator: 'slack' } };
    return { status: 404, body: 'not found' };
  }

  private parseArgs(req: http.IncomingMessage, raw: Buffer, query: URLSearchParams): Json | undefined {
    const args: Json = {};
    for (const [k, v] of query) args[k] = v;
    const type = String(req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
    const text = raw.toString('utf8');
    if (text.length > 0) {
      if (type === 'application/json') {
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          return undefined;
        }
        if (!isObj(parsed)) return undefined;
        Object.assign(args, parsed);
      } else {
        for (const [k, v] of new URLSearchParams(text)) args[k] = v;
      }
    }
    for (const f of JSON_FIELDS) {
      const v = args[f];
      if (typeof v === 'string' && /^\s*[[{]/.test(v)) {
        try {
          args[f] = JSON.parse(v);
        } catch {
          // left as a string: the method answers invalid_arguments / invalid_blocks
        }
      }
    }
    return args;
  }

  private async handleApi(method: string, req: http.IncomingMessage, raw: Buffer, query: URLSearchParams): Promise<SimResponse> {
    const at = Date.now();
    const parsed = this.parseArgs(req, raw, query);
    const args: Json = parsed ?? {};
    const auth = String(req.headers.authorization ?? '');
    const bearer = /^Bearer\s+(.+)$/i.exec(auth)?.[1];
    const token = bearer ?? str(args.token);
    delete args.token;
    let result: MethodResult;
    const extra = this.extraMethods.get(method);
    if (parsed === undefined) result = fail('invalid_json');
    else if (extra) result = this.injectedFailure(method) ?? this.rateLimited(method, args) ?? extra({ token, args });
    else if (!token) result = fail('not_authed');
    else if (token !== this.botToken) result = fail('invalid_auth');
    else {
      const lost = this.lostAnswer(method);
      if (lost) {
        // Slack did the work, but the answer never reached the bot (a cut connection, a proxy timeout).
        this.dispatch(method, args);
        result = lost;
      } else result = this.injectedFailure(method) ?? this.rateLimited(method, args) ?? this.dispatch(method, args);
    }
    const status = result.status ?? 200;
    const okFlag = status === 200 && result.body.ok === true;
    const call: RecordedCall = { method, args, ok: okFlag, status, at };
    if (!okFlag) call.error = str(result.body.error) ?? `http_${status}`;
    this.calls.push(call);
    if (!okFlag) this.emit({ type: 'api_error', call });
    return { status, headers: result.headers, body: result.body };
  }

  private injectedFailure(method: string): MethodResult | undefined {
    const queue = this.failures.get(method);
    const f = queue?.[0];
    if (!queue || !f || f.applied === 'after') return undefined;
    f.left -= 1;
    if (f.left <= 0) queue.shift();
    if (f.status === 429 || f.retryAfterSec !== undefined) {
      return {
        status: f.status ?? 429,
        headers: { 'retry-after': String(f.retryAfterSec ?? 1) },
        body: { ok: false, error: f.error ?? 'ratelimited' },
      };
    }
    return { status: f.status ?? 200, body: { ok: false, error: f.error ?? 'internal_error' } };
  }

  private rateLimited(method: string, args: Json): MethodResult | undefined {
    const limit = this.methodLimits[method];
    if (limit) {
      const r = takeToken(this.methodBuckets, method, limit.burst ?? limit.perMinute, limit.perMinute / 60);
      if (r) return r;
    }
    if (method !== 'chat.postMessage' || !this.rateLimit) return undefined;
    const key = this.resolveChannel(args.channel) ?? str(args.channel) ?? '';
    return takeToken(this.buckets, key, this.rateLimit.burst, this.rateLimit.perSecond);
  }

  private dispatch(method: string, a: Json): MethodResult {
    switch (method) {
      case 'api.test':
        return ok({ args: a });
      case 'auth.test':
        return ok({
          url: 'https://sim-workspace.slack.com/',
          team: 'Sim Workspace',
          user: 'byoip-bot',
          team_id: this.teamId,
          user_id: this.botUserId,
          bot_id: this.botId,
          is_enterprise_install: false,
        });
      case 'chat.postMessage':
        return this.postMessage(a);
      case 'chat.update':
        return this.update(a);
      case 'chat.delete':
        return this.deleteMessage(a);
      case 'chat.postEphemeral':
        return this.postEphemeral(a);
      case 'chat.getPermalink': {
        const channel = this.resolveChannel(a.channel);
        const m = channel ? this.msgIndex.get(`${channel}:${str(a.message_ts)}`) : undefined;
        if (!channel) return fail('channel_not_found');
        if (!m || m.deleted) return fail('message_not_found');
        return ok({ channel, permalink: `https://sim-workspace.slack.com/archives/${channel}/p${m.ts.replace('.', '')}` });
      }
      case 'conversations.history': {
        const channel = this.resolveChannel(a.channel);
        if (!channel) return fail('channel_not_found');
        const meta = bool(a.include_all_metadata);
        const list = this.messages(channel).filter((m) => !m.threadTs).reverse().map((m) => this.messageJson(m, meta));
        return ok({ messages: list, has_more: false });
      }
      case 'conversations.replies': {
        const channel = this.resolveChannel(a.channel);
        if (!channel) return fail('channel_not_found');
        const parent = this.msgIndex.get(`${channel}:${str(a.ts)}`);
        if (!parent || parent.deleted) return fail('thread_not_found');
        const meta = bool(a.include_all_metadata);
        return ok({ messages: [parent, ...this.thread(channel, parent.ts)].map((m) => this.messageJson(m, meta)), has_more: false });
      }
      case 'conversations.info': {
        const channel = this.resolveChannel(a.channel);
        if (!channel) return fail('channel_not_found');
        const name = this.channels?.get(channel)?.name ?? channel.toLowerCase();
        return ok({ channel: { id: channel, name, is_channel: channel.startsWith('C'), is_im: channel.startsWith('D') } });
      }
      case 'conversations.open': {
        const users = str(a.users)?.split(',') ?? [];
        const first = users[0];
        if (!first || !this.users.has(first)) return fail('user_not_found');
        return ok({ channel: { id: this.dmChannel(first) } });
      }
      case 'users.info': {
        const u = str(a.user);
        if (u === this.botUserId) return ok({ user: this.botUserJson() });
        const user = u ? this.users.get(u) : undefined;
        if (!user) return fail('user_not_found');
        return ok({ user: this.userJson(user) });
      }
      case 'users.lookupByEmail': {
        const email = str(a.email)?.toLowerCase();
        const user = [...this.users.values()].find((u) => `${u.name}@example.net`.toLowerCase() === email);
        if (!user) return fail('users_not_found');
        return ok({ user: this.userJson(user) });
      }
      case 'users.list':
        return ok({ members: [...this.users.values()].map((u) => this.userJson(u)), response_metadata: { next_cursor: '' } });
      case 'usergroups.list':
        return ok({
          usergroups: [...this.groups.values()].map((g) => ({
            id: g.id,
            team_id: this.teamId,
            handle: g.handle,
            name: g.handle,
            is_usergroup: true,
            user_count: g.users.length,
            ...(bool(a.include_users) ? { users: [...g.users] } : {}),
          })),
        });
      case 'usergroups.users.list': {
        const g = this.groups.get(str(a.usergroup) ?? '');
        if (!g) return fail('no_such_subteam');
        return ok({ users: [...g.users] });
      }
      case 'views.open':
        return this.viewsOpen(a);
      case 'views.push':
        return this.viewsPush(a);
      case 'views.update':
        return this.viewsUpdate(a);
      case 'views.publish':
        return this.viewsPublish(a);
      default:
        return fail('unknown_method');
    }
  }

  // ---------- messages ----------

  private nextTs(): string {
    const micros = Math.max(Date.now() * 1000, this.lastMicros + 1);
    this.lastMicros = micros;
    return `${Math.floor(micros / 1e6)}.${String(micros % 1e6).padStart(6, '0')}`;
  }

  private dmChannel(userId: string): string {
    return `D${userId}`;
  }

  private resolveChannel(raw: unknown): string | undefined {
    const c = str(raw);
    if (!c) return undefined;
    if (this.users.has(c)) return this.dmChannel(c);
    if (c.startsWith('D') && this.users.has(c.slice(1))) return c;
    if (this.channels) {
      if (this.channels.has(c)) return c;
      const name = c.replace(/^#/, '');
      for (const ch of this.channels.values()) if (ch.name === name) return ch.id;
      return undefined;
    }
    return /^[CG][A-Z0-9]{2,}$/.test(c) ? c : undefined;
  }

  private content(a: Json, requireSome: boolean): { text?: string; blocks?: unknown[] } | MethodResult {
    let blocks: unknown[] | undefined;
    if (a.blocks !== undefined && a.blocks !== '') {
      if (!Array.isArray(a.blocks)) return invalidBlocks([{ pointer: '/blocks', message: 'must provide an array' }]);
      const problems = validateMessageBlocks(a.blocks);
      if (problems.length > 0) return invalidBlocks(problems);
      blocks = a.blocks;
    }
    const text = str(a.text);
    if (requireSome && !text && (!blocks || blocks.length === 0) && a.attachments === undefined) return fail('no_text');
    if (text !== undefined && text.length > 40_000) return fail('msg_too_long');
    return { text, blocks };
  }

  private postMessage(a: Json): MethodResult {
    const channel = this.resolveChannel(a.channel);
    if (!channel) return fail('channel_not_found');
    const c = this.content(a, true);
    if ('body' in c) return c;
    let threadTs = str(a.thread_ts);
    if (threadTs) {
      const parent = this.msgIndex.get(`${channel}:${threadTs}`);
      if (!parent || parent.deleted) return fail('thread_not_found');
      threadTs = parent.threadTs ?? parent.ts;
    }
    const message: SimMessage = {
      channel,
      ts: this.nextTs(),
      text: c.text ?? '',
      blocks: c.blocks ?? [],
      user: this.botUserId,
      postedAt: Date.now(),
      edits: [],
      deleted: false,
    };
    if (threadTs) message.threadTs = threadTs;
    if (a.metadata !== undefined) message.metadata = a.metadata;
    this.msgs.push(message);
    this.msgIndex.set(`${channel}:${message.ts}`, message);
    this.emit({ type: 'message', message });
    return ok({ channel, ts: message.ts, message: this.messageJson(message) });
  }

  private update(a: Json): MethodResult {
    const channel = this.resolveChannel(a.channel);
    if (!channel) return fail('channel_not_found');
    const m = this.msgIndex.get(`${channel}:${str(a.ts)}`);
    if (!m || m.deleted) return fail('message_not_found');
    const c = this.content(a, false);
    if ('body' in c) return c;
    if (c.text === undefined && c.blocks === undefined) return fail('no_text');
    // Slack keeps the previous blocks when `blocks` is left out, and drops them for `blocks: []`.
    this.editMessage(m, c.text ?? m.text, c.blocks ?? m.blocks);
    return ok({ channel, ts: m.ts, text: m.text, message: this.messageJson(m) });
  }

  private editMessage(m: SimMessage, text: string, blocks: unknown[]): void {
    m.text = text;
    m.blocks = blocks;
    const edit: SimEdit = { text, blocks, at: Date.now() };
    m.edits.push(edit);
    this.emit({ type: 'message_updated', message: m });
  }

  private deleteMessage(a: Json): MethodResult {
    const channel = this.resolveChannel(a.channel);
    if (!channel) return fail('channel_not_found');
    const m = this.msgIndex.get(`${channel}:${str(a.ts)}`);
    if (!m || m.deleted) return fail('message_not_found');
    m.deleted = true;
    this.emit({ type: 'message_deleted', message: m });
    return ok({ channel, ts: m.ts });
  }

  private postEphemeral(a: Json): MethodResult {
    const channel = this.resolveChannel(a.channel);
    if (!channel) return fail('channel_not_found');
    const user = str(a.user);
    if (!user || !this.users.has(user)) return fail('user_not_found');
    const c = this.content(a, true);
    if ('body' in c) return c;
    const e = this.addEphemeral(channel, user, c.text ?? '', c.blocks ?? [], 'api', str(a.thread_ts));
    return ok({ message_ts: e.ts });
  }

  private addEphemeral(channel: string, user: string, text: string, blocks: unknown[], source: SimEphemeral['source'], threadTs?: string): SimEphemeral {
    const e: SimEphemeral = { channel, user, ts: this.nextTs(), text, blocks, source, postedAt: Date.now(), edits: [], deleted: false };
    if (threadTs) e.threadTs = threadTs;
    this.ephs.push(e);
    this.emit({ type: 'ephemeral', ephemeral: e });
    return e;
  }

  /** A message as the Web API returns it; `metadata` only when asked for (`include_all_metadata`), as Slack does. */
  private messageJson(m: SimMessage, includeMetadata = false): Json {
    const j: Json = {
      type: 'message',
      subtype: 'bot_message',
      text: m.text,
      user: m.user,
      bot_id: this.botId,
      app_id: 'A0SIMAPP01',
      blocks: clone(m.blocks),
      ts: m.ts,
      team: this.teamId,
    };
    if (m.threadTs) j.thread_ts = m.threadTs;
    if (includeMetadata && m.metadata !== undefined) j.metadata = clone(m.metadata);
    if (m.edits.length > 0) j.edited = { user: m.user, ts: m.ts };
    if (!m.threadTs) {
      const replies = this.thread(m.channel, m.ts);
      if (replies.length > 0) {
        j.thread_ts = m.ts;
        j.reply_count = replies.length;
        j.latest_reply = replies[replies.length - 1]?.ts;
      }
    }
    return j;
  }

  private userJson(u: SlackSimUser): Json {
    const realName = u.realName ?? u.name;
    return {
      id: u.id,
      team_id: this.teamId,
      name: u.name,
      real_name: realName,
      deleted: false,
      is_bot: false,
      is_admin: false,
      tz: 'Etc/UTC',
      profile: {
        real_name: realName,
        real_name_normalized: realName,
        display_name: u.name,
        display_name_normalized: u.name,
        email: `${u.name}@example.net`,
        team: this.teamId,
      },
    };
  }

  private botUserJson(): Json {
    return {
      id: this.botUserId,
      team_id: this.teamId,
      name: 'byoip-bot',
      real_name: 'BYOIP bot',
      deleted: false,
      is_bot: true,
      profile: { real_name: 'BYOIP bot', display_name: 'byoip-bot', bot_id: this.botId },
    };
  }

  // ---------- views ----------

  private takeTrigger(a: Json): Trigger | MethodResult {
    const id = str(a.trigger_id) ?? str(a.interactivity_pointer);
    if (!id) return fail('invalid_arguments', { response_metadata: { messages: ['[ERROR] missing required field: trigger_id'] } });
    const t = this.triggers.get(id);
    if (!t) return fail('invalid_trigger_id');
    if (t.used) return fail('exchanged_trigger_id');
    if (Date.now() > t.expiresAt) return fail('expired_trigger_id');
    t.used = true;
    return t;
  }

  private checkView(a: Json, type: 'modal' | 'home'): { view: Json } | { error: MethodResult } {
    const view = a.view;
    if (!isObj(view)) return { error: fail('invalid_arguments', { response_metadata: { messages: ['[ERROR] must provide an object [json-pointer:/view]'] } }) };
    const problems = validateView(view);
    if (view.type !== type && problems.length === 0) problems.push({ pointer: '/view/type', message: `must be ${type}` });
    if (problems.length > 0) return { error: invalidBlocks(problems) };
    const ext = str(view.external_id);
    if (ext) {
      for (const v of this.viewMap.values()) {
        if (!v.closed && v.externalId === ext && v.id !== str(a.view_id) && str(a.external_id) !== ext) return { error: fail('duplicate_external_id') };
      }
    }
    return { view };
  }

  private newHash(): string {
    return `${Math.floor(Date.now() / 1000)}.${randomBytes(6).toString('hex')}`;
  }

  private makeView(userId: string, input: Json, rootViewId: string | undefined, previousViewId: string | undefined): SimView {
    const id = `V${String(++this.counter).padStart(4, '0')}${randomBytes(3).toString('hex').toUpperCase()}`;
    const root = rootViewId ?? id;
    const v: SimView = {
      id,
      userId,
      type: input.type === 'home' ? 'home' : 'modal',
      hash: '',
      callbackId: str(input.callback_id) ?? '',
      privateMetadata: str(input.private_metadata) ?? '',
      view: {},
      rootViewId: root,
      state: {},
      stack: [],
      openedAt: Date.now(),
      closed: false,
    };
    if (previousViewId) v.previousViewId = previousViewId;
    this.fillView(v, input);
    this.viewMap.set(id, v);
    return v;
  }

  /** (Re)writes a view's content from what the bot sent, with a new hash. */
  private fillView(v: SimView, input: Json): void {
    v.hash = this.newHash();
    v.callbackId = str(input.callback_id) ?? '';
    v.privateMetadata = str(input.private_metadata) ?? '';
    const ext = str(input.external_id);
    // an update that leaves external_id out keeps the view's external_id
    if (ext) v.externalId = ext;
    delete v.errors;
    // Like Slack: an input's initial value is its state until the user changes it, and a value the user entered
    // survives an update that keeps the same block_id and action_id.
    const previous = v.state;
    v.state = initialState(Array.isArray(input.blocks) ? input.blocks : []);
    for (const [blockId, actions] of Object.entries(previous)) {
      for (const [actionId, value] of Object.entries(actions as Record<string, Json>)) {
        if (v.state[blockId]?.[actionId] !== undefined) v.state[blockId]![actionId] = value;
      }
    }
    v.view = {
      ...clone(input),
      id: v.id,
      team_id: this.teamId,
      type: v.type,
      blocks: clone(Array.isArray(input.blocks) ? input.blocks : []),
      private_metadata: v.privateMetadata,
      callback_id: v.callbackId,
      external_id: v.externalId ?? '',
      state: { values: clone(v.state) },
      hash: v.hash,
      clear_on_close: bool(input.clear_on_close),
      notify_on_close: bool(input.notify_on_close),
      root_view_id: v.rootViewId,
      previous_view_id: v.previousViewId ?? null,
      app_id: 'A0SIMAPP01',
      app_installed_team_id: this.teamId,
      bot_id: this.botId,
    };
  }

  private viewsOpen(a: Json): MethodResult {
    const t = this.takeTrigger(a);
    if ('body' in t) return t;
    const checked = this.checkView(a, 'modal');
    if ('error' in checked) return checked.error;
    const input = checked.view;
    const old = this.modalStacks.get(t.userId);
    if (old) this.closeStack(t.userId);
    const v = this.makeView(t.userId, input, undefined, undefined);
    this.modalStacks.set(t.userId, [v.id]);
    this.emit({ type: 'view_opened', view: this.viewInfo(v) });
    return ok({ view: clone(v.view) });
  }

  private viewsPush(a: Json): MethodResult {
    const t = this.takeTrigger(a);
    if ('body' in t) return t;
    const checked = this.checkView(a, 'modal');
    if ('error' in checked) return checked.error;
    const input = checked.view;
    const stack = this.modalStacks.get(t.userId);
    const top = stack?.[stack.length - 1];
    if (!stack || !top) return fail('view_not_found');
    if (stack.length >= 3) return fail('push_limit_reached');
    const v = this.makeView(t.userId, input, stack[0], top);
    stack.push(v.id);
    this.emit({ type: 'view_opened', view: this.viewInfo(v) });
    return ok({ view: clone(v.view) });
  }

  private viewsUpdate(a: Json): MethodResult {
    const viewId = str(a.view_id);
    const ext = str(a.external_id);
    if (!viewId && !ext) return fail('invalid_arguments', { response_metadata: { messages: ['[ERROR] view_id or external_id is required'] } });
    let v: SimView | undefined;
    if (viewId) v = this.viewMap.get(viewId);
    else for (const x of this.viewMap.values()) if (!x.closed && x.externalId === ext) v = x;
    if (!v || v.closed) return fail('not_found');
    const hash = str(a.hash);
    if (hash && hash !== v.hash) return fail('hash_conflict');
    const checked = this.checkView(a, v.type);
    if ('error' in checked) return checked.error;
    const input = checked.view;
    this.fillView(v, input);
    this.emit({ type: 'view_updated', view: this.viewInfo(v) });
    return ok({ view: clone(v.view) });
  }

  private viewsPublish(a: Json): MethodResult {
    const userId = str(a.user_id);
    if (!userId || !this.users.has(userId)) return fail('user_not_found');
    const checked = this.checkView(a, 'home');
    if ('error' in checked) return checked.error;
    const input = checked.view;
    const existing = this.homeViews.get(userId);
    let v = existing ? this.viewMap.get(existing) : undefined;
    const hash = str(a.hash);
    if (v && hash && hash !== v.hash) return fail('hash_conflict');
    if (v) this.fillView(v, input);
    else {
      v = this.makeView(userId, input, undefined, undefined);
      this.homeViews.set(userId, v.id);
    }
    this.emit({ type: 'home_published', view: this.viewInfo(v) });
    return ok({ view: clone(v.view) });
  }

  private closeStack(userId: string): SimView | undefined {
    const stack = this.modalStacks.get(userId);
    if (!stack) return undefined;
    this.modalStacks.delete(userId);
    let top: SimView | undefined;
    for (const id of [...stack].reverse()) {
      const v = this.viewMap.get(id);
      if (!v) continue;
      v.stack = [...stack];
      v.closed = true;
      top ??= v;
    }
    if (top) this.emit({ type: 'view_closed', view: this.viewInfo(top) });
    return top;
  }

  private popView(v: SimView): void {
    const stack = this.modalStacks.get(v.userId);
    if (!stack || stack[stack.length - 1] !== v.id) return;
    if (stack.length === 1) {
      this.closeStack(v.userId);
      return;
    }
    v.stack = [...stack];
    stack.pop();
    v.closed = true;
    this.emit({ type: 'view_closed', view: this.viewInfo(v) });
  }

  private viewInfo(v: SimView): SimView {
    if (v.type === 'home') v.stack = [v.id];
    else if (!v.closed) v.stack = [...(this.modalStacks.get(v.userId) ?? [v.id])];
    else if (v.stack.length === 0) v.stack = [v.id];
    v.view.state = { values: clone(v.state) };
    return v;
  }

  // ---------- response URLs ----------

  private async handleResponseUrl(id: string, req: http.IncomingMessage, raw: Buffer): Promise<SimResponse> {
    const at = Date.now();
    const entry = this.responseUrls.get(id);
    if (!entry) return { status: 404, body: 'no_such_url' };
    const fault = this.responseFailures[0];
    if (fault) {
      if (--fault.left <= 0) this.responseFailures.shift();
      this.posts.push({ id, at, status: fault.status, effect: 'rejected' });
      return { status: fault.status, body: 'internal_error' };
    }
    let body: Json;
    try {
      const text = raw.toString('utf8');
      const type = String(req.headers['content-type'] ?? '');
      const parsed: unknown = type.includes('application/json') || /^\s*\{/.test(text) ? JSON.parse(text) : JSON.parse(new URLSearchParams(text).get('payload') ?? '');
      if (!isObj(parsed)) throw new Error('not an object');
      body = parsed;
    } catch {
      return { status: 400, body: 'invalid_payload' };
    }
    const post: ResponsePost = { id, at, status: 200, effect: 'rejected' };
    const text = str(body.text);
    if (text !== undefined) post.text = text;
    if (Array.isArray(body.blocks)) post.blocks = body.blocks;
    const responseType = str(body.response_type);
    if (responseType) post.response_type = responseType;
    if (body.replace_original !== undefined) post.replace_original = bool(body.replace_original);
    if (body.delete_original !== undefined) post.delete_original = bool(body.delete_original);
    const threadTs = str(body.thread_ts);
    if (threadTs) post.thread_ts = threadTs;
    this.posts.push(post);

    if (at - entry.createdAt > RESPONSE_URL_TTL_MS) return this.rejectPost(post, 404, 'expired_url');
    if (entry.uses >= RESPONSE_URL_MAX_USES) return this.rejectPost(post, 404, 'used_url');
    let blocks: unknown[] | undefined;
    if (body.blocks !== undefined) {
      const problems = validateMessageBlocks(body.blocks);
      if (problems.length > 0) return this.rejectPost(post, 400, 'invalid_blocks');
      blocks = body.blocks as unknown[];
    }
    if (!post.delete_original && !text && (!blocks || blocks.length === 0)) return this.rejectPost(post, 400, 'no_text');
    entry.uses += 1;
    const { ctx } = entry;

    if (post.delete_original || post.replace_original) {
      const target = this.originalOf(ctx);
      if (!target) return this.rejectPost(post, 404, 'message_not_found');
      if (post.delete_original) {
        target.deleted = true;
        if ('source' in target) this.emit({ type: 'ephemeral_deleted', ephemeral: target });
        else this.emit({ type: 'message_deleted', message: target });
        post.effect = 'deleted';
      } else if ('source' in target) {
        target.text = text ?? target.text;
        target.blocks = blocks ?? [];
        target.edits.push({ text: target.text, blocks: target.blocks, at });
        this.emit({ type: 'ephemeral_updated', ephemeral: target });
        post.effect = 'replaced';
      } else {
        this.editMessage(target, text ?? target.text, blocks ?? []);
        post.effect = 'replaced';
      }
      return { status: 200, body: { ok: true } };
    }
    if (responseType === 'in_channel') {
      const message: SimMessage = {
        channel: ctx.channel,
        ts: this.nextTs(),
        text: text ?? '',
        blocks: blocks ?? [],
        user: this.botUserId,
        postedAt: at,
        edits: [],
        deleted: false,
      };
      const thread = threadTs ?? ctx.threadTs;
      if (thread) message.threadTs = thread;
      this.msgs.push(message);
      this.msgIndex.set(`${message.channel}:${message.ts}`, message);
      this.emit({ type: 'message', message });
      post.effect = 'message';
    } else {
      this.addEphemeral(ctx.channel, ctx.user, text ?? '', blocks ?? [], 'response_url', threadTs ?? ctx.threadTs);
      post.effect = 'ephemeral';
    }
    return { status: 200, body: { ok: true } };
  }

  private rejectPost(post: ResponsePost, status: number, error: string): SimResponse {
    post.status = status;
    post.effect = 'rejected';
    return { status, body: error };
  }

  private originalOf(ctx: ResponseUrlContext): SimMessage | SimEphemeral | undefined {
    if (!ctx.messageTs) return undefined;
    if (ctx.isEphemeral) return this.ephs.find((e) => e.ts === ctx.messageTs && !e.deleted);
    const m = this.msgIndex.get(`${ctx.channel}:${ctx.messageTs}`);
    return m && !m.deleted ? m : undefined;
  }

  // ---------- public API ----------

  callsOf(method: string): RecordedCall[] {
    return this.calls.filter((c) => c.method === method);
  }

  messages(channel?: string): SimMessage[] {
    return this.msgs.filter((m) => !m.deleted && (channel === undefined || m.channel === channel));
  }

  message(channel: string, ts: string): SimMessage | undefined {
    const m = this.msgIndex.get(`${channel}:${ts}`);
    return m && !m.deleted ? m : undefined;
  }

  thread(channel: string, ts: string): SimMessage[] {
    return this.msgs.filter((m) => !m.deleted && m.channel === channel && m.threadTs === ts);
  }

  ephemerals(user?: string): SimEphemeral[] {
    return this.ephs.filter((e) => !e.deleted && (user === undefined || e.user === user));
  }

  ephemeral(ts: string): SimEphemeral | undefined {
    return this.ephs.find((e) => e.ts === ts && !e.deleted);
  }

  views(userId?: string): SimView[] {
    const out: SimView[] = [];
    for (const [uid, stack] of this.modalStacks) {
      const top = this.viewMap.get(stack[stack.length - 1] ?? '');
      if (top && (userId === undefined || uid === userId)) out.push(this.viewInfo(top));
    }
    for (const [uid, id] of this.homeViews) {
      const v = this.viewMap.get(id);
      if (v && (userId === undefined || uid === userId)) out.push(this.viewInfo(v));
    }
    return out;
  }

  view(viewId: string): SimView | undefined {
    const v = this.viewMap.get(viewId);
    return v ? this.viewInfo(v) : undefined;
  }

  openModal(userId: string): SimView | undefined {
    const stack = this.modalStacks.get(userId);
    const top = stack ? this.viewMap.get(stack[stack.length - 1] ?? '') : undefined;
    return top ? this.viewInfo(top) : undefined;
  }

  responseUrlFor(id: string, ctx?: ResponseUrlContext): string {
    if (ctx) this.responseUrls.set(id, { ctx: { ...ctx }, createdAt: Date.now(), uses: 0 });
    return `${this.url}/response/${encodeURIComponent(id)}`;
  }

  createResponseUrl(ctx: ResponseUrlContext): { id: string; url: string } {
    const id = `R${++this.counter}-${randomBytes(8).toString('hex')}`;
    return { id, url: this.responseUrlFor(id, ctx) };
  }

  responsePosts(id?: string): ResponsePost[] {
    return this.posts.filter((p) => id === undefined || p.id === id);
  }

  createTriggerId(userId: string, fromViewId?: string): string {
    if (this.triggers.size > 1000) {
      const now = Date.now();
      for (const [k, t] of this.triggers) if (t.used || t.expiresAt < now) this.triggers.delete(k);
    }
    const id = `${++this.counter}.${Date.now()}.${randomBytes(8).toString('hex')}`;
    const t: Trigger = { userId, expiresAt: Date.now() + this.triggerTtlMs, used: false };
    if (fromViewId) t.fromViewId = fromViewId;
    this.triggers.set(id, t);
    return id;
  }

  messagePayload(channel: string, ts: string): Json | undefined {
    const m = this.message(channel, ts);
    return m ? this.messageJson(m) : undefined;
  }

  applyCommandAck(ctx: { channel: string; user: string }, body: string): void {
    const raw = body.trim();
    if (!raw) return;
    let parsed: unknown = raw;
    if (raw.startsWith('{')) {
      try {
        parsed = JSON.parse(raw);
      } catch {
        parsed = raw;
      }
    }
    const channel = this.resolveChannel(ctx.channel) ?? ctx.channel;
    if (typeof parsed === 'string') {
      this.addEphemeral(channel, ctx.user, parsed, [], 'response_url');
      return;
    }
    if (!isObj(parsed)) return;
    const text = str(parsed.text) ?? '';
    const blocks = Array.isArray(parsed.blocks) && validateMessageBlocks(parsed.blocks).length === 0 ? parsed.blocks : [];
    if (!text && blocks.length === 0) return;
    if (parsed.response_type === 'in_channel') {
      const message: SimMessage = { channel, ts: this.nextTs(), text, blocks, user: this.botUserId, postedAt: Date.now(), edits: [], deleted: false };
      this.msgs.push(message);
      this.msgIndex.set(`${channel}:${message.ts}`, message);
      this.emit({ type: 'message', message });
    } else {
      this.addEphemeral(channel, ctx.user, text, blocks, 'response_url');
    }
  }

  setViewValue(viewId: string, blockId: string, actionId: string, value: Json): void {
    const v = this.viewMap.get(viewId);
    if (!v || v.closed) throw new Error(`view ${viewId} is not open`);
    (v.state[blockId] ??= {})[actionId] = clone(value);
    v.view.state = { values: clone(v.state) };
  }

  applyViewSubmissionResponse(viewId: string, response: unknown): void {
    const v = this.viewMap.get(viewId);
    if (!v || v.closed) return;
    const r = isObj(response) ? response : {};
    const action = str(r.response_action);
    if (action === 'errors') {
      const errors: Record<string, string> = {};
      if (isObj(r.errors)) for (const [k, msg] of Object.entries(r.errors)) errors[k] = str(msg) ?? '';
      // Slack keys errors by the block_id of an input block; any other key fails the whole answer
      const inputIds = new Set((Array.isArray(v.view.blocks) ? v.view.blocks : []).filter((b) => isObj(b) && b.type === 'input').map((b) => (b as Json).block_id));
      const stray = Object.keys(errors).filter((k) => !inputIds.has(k));
      if (stray.length > 0 || Object.keys(errors).length === 0) {
        const error = stray.length > 0 ? `errors name no input block: ${stray.join(', ')}` : 'errors is empty';
        const call: RecordedCall = { method: 'view_submission.response', args: r, ok: false, error, status: 200, at: Date.now() };
        this.calls.push(call);
        this.emit({ type: 'api_error', call });
        return;
      }
      v.errors = errors;
      this.emit({ type: 'view_errors', view: this.viewInfo(v), errors });
      return;
    }
    if (action === 'clear') {
      this.closeStack(v.userId);
      return;
    }
    if ((action === 'update' || action === 'push') && isObj(r.view)) {
      const problems = validateView(r.view);
      if (problems.length > 0) {
        // Slack shows the user "We had some trouble connecting"; the view stays as it was.
        const call: RecordedCall = { method: 'view_submission.response', args: r, ok: false, error: 'invalid_blocks', status: 200, at: Date.now() };
        this.calls.push(call);
        this.emit({ type: 'api_error', call });
        return;
      }
      if (action === 'update') {
        this.fillView(v, r.view);
        this.emit({ type: 'view_updated', view: this.viewInfo(v) });
      } else {
        const stack = this.modalStacks.get(v.userId);
        if (!stack) return;
        const pushed = this.makeView(v.userId, r.view, stack[0], stack[stack.length - 1]);
        stack.push(pushed.id);
        this.emit({ type: 'view_opened', view: this.viewInfo(pushed) });
      }
      return;
    }
    this.popView(v);
  }

  closeView(viewId: string): SimView | undefined {
    const v = this.viewMap.get(viewId);
    if (!v || v.closed || v.type !== 'modal') return undefined;
    return this.closeStack(v.userId);
  }

  subscribe(listener: (event: SlackSimEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(e: SlackSimEvent): void {
    for (const l of [...this.listeners]) {
      try {
        l(e);
      } catch {
        // a listener's bug must not break the Web API answer
      }
    }
  }

  waitFor<T>(predicate: () => T | undefined | null | false | 0 | '', timeoutMs = 5000): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const check = (): boolean => {
        let v: T | undefined | null | false | 0 | '';
        try {
          v = predicate();
        } catch (err) {
          done();
          reject(err instanceof Error ? err : new Error(String(err)));
          return true;
        }
        if (v) {
          done();
          resolve(v);
          return true;
        }
        return false;
      };
      const unsubscribe = this.subscribe(() => void check());
      const poll = setInterval(check, 25);
      const timer = setTimeout(() => {
        done();
        reject(new Error(`Slack simulator: condition not met within ${timeoutMs} ms`));
      }, timeoutMs);
      function done(): void {
        unsubscribe();
        clearInterval(poll);
        clearTimeout(timer);
      }
      check();
    });
  }

  user(id: string): SlackSimUser | undefined {
    return this.users.get(id);
  }

  userByName(name: string): SlackSimUser | undefined {
    const n = name.replace(/^@/, '').toLowerCase();
    for (const u of this.users.values()) if (u.name.toLowerCase() === n) return u;
    return undefined;
  }

  usergroup(handle: string): SlackSimUsergroup | undefined {
    const h = handle.replace(/^@/, '');
    for (const g of this.groups.values()) if (g.handle === h) return g;
    return undefined;
  }

  usergroupById(id: string): SlackSimUsergroup | undefined {
    return this.groups.get(id);
  }

  setUsergroupUsers(id: string, users: string[]): UsergroupChange {
    const g = this.groups.get(id) ?? this.usergroup(id);
    if (!g) throw new Error(`no user group ${id}`);
    const before = new Set(g.users);
    const after = new Set(users);
    g.users = [...after];
    const now = Math.floor(Date.now() / 1000);
    const previous = this.groupUpdatedAt.get(g.id) ?? now;
    this.groupUpdatedAt.set(g.id, now);
    return { subteamId: g.id, added: [...after].filter((u) => !before.has(u)), removed: [...before].filter((u) => !after.has(u)), datePreviousUpdate: previous, dateUpdate: now };
  }

  failNextResponse(opts: { status?: number; count?: number } = {}): void {
    this.responseFailures.push({ status: opts.status ?? 503, left: opts.count ?? 1 });
  }

  channel(idOrName: string): SlackSimChannel | undefined {
    const id = this.resolveChannel(idOrName);
    if (!id) return undefined;
    return this.channels?.get(id) ?? { id, name: id.toLowerCase() };
  }

  registerMethod(method: string, handler: SimMethodHandler): () => void {
    this.extraMethods.set(method, handler);
    return () => {
      if (this.extraMethods.get(method) === handler) this.extraMethods.delete(method);
    };
  }

  /** The next `count` calls of `method` are carried out, but answered with a failure (the answer is lost). */
  private lostAnswer(method: string): MethodResult | undefined {
    const queue = this.failures.get(method);
    const f = queue?.[0];
    if (!queue || !f || f.applied !== 'after') return undefined;
    f.left -= 1;
    if (f.left <= 0) queue.shift();
    return { status: f.status ?? 502, body: { ok: false, error: f.error ?? 'request_timeout' } };
  }

  failNext(method: string, opts: FailNextOptions = {}): void {
    const queue = this.failures.get(method) ?? [];
    queue.push({ ...opts, left: opts.count ?? 1 });
    this.failures.set(method, queue);
  }

  setPostMessageRateLimit(limit: { perSecond: number; burst: number } | false): void {
    this.rateLimit = limit;
    this.buckets.clear();
  }

  setMethodRateLimits(limits: Record<string, { perMinute: number; burst?: number }>): void {
    this.methodLimits = { ...limits };
    this.methodBuckets.clear();
  }

  reset(): void {
    this.methodBuckets.clear();
    this.calls.length = 0;
    this.msgs = [];
    this.msgIndex.clear();
    this.ephs = [];
    this.viewMap.clear();
    this.modalStacks.clear();
    this.homeViews.clear();
    this.triggers.clear();
    this.responseUrls.clear();
    this.posts = [];
    this.responseFailures = [];
    this.failures.clear();
    this.buckets.clear();
  }
}

/** The state Slack reports for inputs nobody touched: their initial values. */
function initialState(blocks: unknown[]): Record<string, Record<string, Json>> {
  const state: Record<string, Record<string, Json>> = {};
  for (const b of blocks) {
    if (!isObj(b) || b.type !== 'input' || !isObj(b.element)) continue;
    const blockId = str(b.block_id);
    const el = b.element;
    const actionId = str(el.action_id);
    if (!blockId || !actionId) continue;
    const type = str(el.type) ?? '';
    let value: Json | undefined;
    if (type === 'plain_text_input') value = { type, value: str(el.initial_value) ?? null };
    else if (type === 'checkboxes') value = { type, selected_options: Array.isArray(el.initial_options) ? clone(el.initial_options) : [] };
    else if (type === 'static_select' || type === 'radio_buttons') value = { type, selected_option: isObj(el.initial_option) ? clone(el.initial_option) : null };
    if (value !== undefined) (state[blockId] ??= {})[actionId] = value;
  }
  return state;
}
