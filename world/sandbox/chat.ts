import readline from 'node:readline';
import { buttonsIn, findButton, type FoundButton } from '../simulator/slack/buttons.js';
import type { SlackRequestSender, SendResult } from '../simulator/slack/sender.js';
import type { Json, SimEphemeral, SimMessage, SimView, SlackSimEvent, SlackSimulator } from '../simulator/slack/types.js';
import { indentLines, mrkdwnToText, renderMessage, renderView, type RenderContext } from './render.js';

export interface ChatUser {
  id: string;
  name: string;
  role: string;
}

export interface ChatOptions {
  sim: SlackSimulator;
  sender: SlackRequestSender;
  users: ChatUser[];
  /** Name or id of the user the chat starts as. */
  defaultUser: string;
  /** The channel commands are typed in. */
  channel: string;
  input: NodeJS.ReadableStream;
  output: NodeJS.WritableStream;
  /** No prompt, echo each line, exit 1 when a `wait until` times out. */
  script?: boolean;
  waitUntilTimeoutMs?: number;
  /** More chat commands (the sandbox's `world ...`); the first word of the line picks one. */
  extraCommands?: Record<string, { usage: string; run: (args: string) => Promise<string> | string }>;
  /**
   * Listen to this process's SIGINT (input that is not a terminal: a pipe, a script): Ctrl-C cancels a running
   * `wait`, and otherwise ends the chat. On a terminal readline hears Ctrl-C itself, with the same meaning.
   */
  handleSigint?: boolean;
}

/** A line holding only this character (ETX, what Ctrl-C sends) interrupts like Ctrl-C: remote chats send it. */
export const INTERRUPT_LINE = '\u0003';

const HELP = `Commands:
  /byoip <args>            run the slash command as the current user
  as <name>                act as another user
  click <button text>      click a button in the latest message, reply, ephemeral or open modal that has it
  fill <field>=<value>     fill an input of your open modal (by label or block_id; selects take an option's
                           text or value, checkboxes a comma list)
  submit                   submit your open modal
  cancel                   close your open modal
  wait <duration>          pause, e.g. wait 2s, wait 500ms
  wait until <text>        wait until a message, reply, card or ephemeral contains <text> (Ctrl-C stops waiting)
  whoami / users           who you are / who is here
  help                     this text
  quit                     leave`;

type Source =
  | { kind: 'modal'; view: SimView; at: number }
  | { kind: 'message'; message: SimMessage; at: number }
  | { kind: 'ephemeral'; ephemeral: SimEphemeral; at: number };

/** Parses `2s`, `500ms`, `1.5s`, `1m`, `3` (seconds) into milliseconds. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|sec|secs|seconds?|m|min|mins|minutes?)?$/i.exec(text.trim());
  if (!m?.[1]) return undefined;
  const n = Number(m[1]);
  const unit = (m[2] ?? 's').toLowerCase();
  if (unit === 'ms') return n;
  if (unit.startsWith('m')) return n * 60_000;
  return n * 1000;
}

/** The card indented by 4, with lines that are new since `before` marked `  › `. */
export function markChanges(before: string | undefined, after: string): string {
  const old = new Set(before?.split('\n') ?? []);
  return after
    .split('\n')
    .map((l) => (before !== undefined && !old.has(l) ? `  › ${l}` : `    ${l}`))
    .join('\n');
}

/** A card update in a few lines: its first line (the header) and only the lines that changed. */
export function changedLines(before: string | undefined, after: string): string {
  if (before === undefined) return markChanges(before, after);
  const old = new Set(before.split('\n'));
  const lines = after.split('\n');
  const changed = lines.filter((l, i) => i > 0 && !old.has(l)).map((l) => `  › ${l.trim()}`);
  return [`    ${lines[0]?.trim() ?? ''}`, ...changed].join('\n');
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function isObj(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function plain(v: unknown): string {
  return isObj(v) && typeof v.text === 'string' ? v.text : '';
}

function errMessage(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as Error & { cause?: unknown }).cause;
    const detail = cause instanceof Error ? ((cause as Error & { code?: unknown }).code ?? cause.message) : undefined;
    return `${err.message}${typeof detail === 'string' && detail ? ` (${detail})` : ''}`;
  }
  return String(err);
}

/**
 * The sandbox's terminal chat: type slash commands, click buttons, fill and submit modals as any sandbox user,
 * and watch what the bot posts (from the Slack simulator's events). Returns the exit code.
 */
const SCRIPT_END_QUIET_MS = 1_500;
const SCRIPT_END_MAX_WAIT_MS = 10_000;

export async function runChat(opts: ChatOptions): Promise<number> {
  const chat = new Chat(opts);
  return chat.run();
}

class Chat {
  private current: ChatUser;
  private promptShown = false;
  /** What each message looked like when last printed, to mark what an update changed. */
  private readonly rendered = new Map<string, string>();
  /** Set on a terminal: readline then draws the prompt and keeps what is typed when the bot prints. */
  private rl?: readline.Interface;
  private readonly script: boolean;
  private readonly waitTimeoutMs: number;
  private readonly ctx: RenderContext;
  /** When the bot last posted or updated anything: a script's end waits for it to go quiet. */
  private lastEventAt = Date.now();
  /** Set while a `wait` runs: ends it early (Ctrl-C). */
  private cancelWait: (() => void) | undefined;

  constructor(private readonly o: ChatOptions) {
    const first = o.users[0];
    const user = this.findUser(o.defaultUser) ?? first;
    if (!user) throw new Error('runChat needs at least one user');
    this.current = user;
    this.script = o.script ?? false;
    this.waitTimeoutMs = o.waitUntilTimeoutMs ?? 60_000;
    this.ctx = {
      userName: (id) => (id === o.sim.botUserId ? 'bot' : (o.users.find((u) => u.id === id)?.name ?? o.sim.user(id)?.name)),
      channelName: (id) => o.sim.channel(id)?.name,
      usergroupHandle: (id) => o.sim.usergroupById(id)?.handle,
    };
  }

  async run(): Promise<number> {
    const unsubscribe = this.o.sim.subscribe((e) => {
      this.lastEventAt = Date.now();
      this.onEvent(e);
    });
    const tty = !this.script && (this.o.input as { isTTY?: boolean }).isTTY === true && (this.o.output as { isTTY?: boolean }).isTTY === true;
    const rl = tty
      ? readline.createInterface({
          input: this.o.input,
          output: this.o.output,
          terminal: true,
          historySize: 200,
          crlfDelay: Infinity,
          completer: (line: string) => this.complete(line),
        })
      : readline.createInterface({ input: this.o.input, terminal: false, crlfDelay: Infinity });
    if (tty) {
      this.rl = rl;
      rl.on('SIGINT', () => {
        if (!this.interrupt()) rl.close();
      });
    }
    const onSigint = (): void => {
      if (!this.interrupt()) rl.close();
    };
    if (this.o.handleSigint && !tty) process.on('SIGINT', onSigint);
    const lines: string[] = [];
    let closed = false;
    let wake: (() => void) | undefined;
    rl.on('line', (l) => {
      // Heard at once, not queued behind the wait it is meant to stop.
      if (l.trim() === INTERRUPT_LINE) {
        if (!this.interrupt()) this.print('(nothing to stop; type quit to leave)');
        return;
      }
      lines.push(l);
      wake?.();
    });
    rl.on('close', () => {
      closed = true;
      wake?.();
    });
    if (!this.script) {
      this.print(`Sandbox chat in #${this.o.sim.channel(this.o.channel)?.name ?? this.o.channel}. You are ${this.describe(this.current)}. Type help for commands.`);
      this.prompt();
    }
    let code = 0;
    try {
      for (;;) {
        const line = lines.shift();
        if (line === undefined) {
          if (closed) break;
          await new Promise<void>((r) => (wake = r));
          wake = undefined;
          continue;
        }
        this.promptShown = false;
        if (this.script) this.write(`${this.current.name}> ${line}\n`);
        const result = await this.handle(line.trim());
        if (result === 'quit') break;
        if (result === 'fail' && this.script) {
          code = 1;
          break;
        }
        if (!this.script) this.prompt();
      }
      // A script's last line may have started work whose thread replies are still paced out (one a second per
      // channel): show them before leaving, up to a bound, so the transcript ends with what the bot said.
      if (this.script && code === 0) await this.quiet(SCRIPT_END_QUIET_MS, SCRIPT_END_MAX_WAIT_MS);
    } finally {
      unsubscribe();
      process.removeListener('SIGINT', onSigint);
      rl.close();
    }
    return code;
  }

  /** Resolves once the bot has sent nothing for `quietMs`, or after `maxMs` at most. */
  private async quiet(quietMs: number, maxMs: number): Promise<void> {
    const until = Date.now() + maxMs;
    while (Date.now() < until && Date.now() - this.lastEventAt < quietMs) await new Promise((r) => setTimeout(r, 100));
  }

  /** Ctrl-C: stops a running `wait` and says so; false when nothing was waiting. */
  interrupt(): boolean {
    if (!this.cancelWait) return false;
    this.cancelWait();
    return true;
  }

  /** Runs a wait that Ctrl-C can end early; resolves `'cancelled'` then. */
  private async cancellable<T>(wait: (cancelled: () => boolean) => Promise<T>): Promise<T | 'cancelled'> {
    let cancelled = false;
    let stop: (() => void) | undefined;
    const stopped = new Promise<'cancelled'>((resolve) => (stop = () => resolve('cancelled')));
    this.cancelWait = () => {
      cancelled = true;
      stop?.();
    };
    try {
      const running = wait(() => cancelled);
      running.catch(() => undefined); // settles on its own once it sees the cancellation
      const result = await Promise.race([running, stopped]);
      if (result === 'cancelled') this.print('(wait cancelled)');
      return result;
    } finally {
      this.cancelWait = undefined;
    }
  }

  /** Tab completion: commands, user names after `as`, button texts after `click`, field labels after `fill`. */
  complete(line: string): [string[], string] {
    const words = ['/byoip ', 'as ', 'click ', 'fill ', 'submit', 'cancel', 'wait ', 'wait until ', 'whoami', 'users', 'help', 'quit'];
    const lower = line.toLowerCase();
    const offer = (prefix: string, items: string[]): [string[], string] => {
      const partial = line.slice(prefix.length).toLowerCase();
      const hits = [...new Set(items)].filter((i) => i.toLowerCase().startsWith(partial)).map((i) => `${prefix}${i}`);
      return [hits, line];
    };
    if (lower.startsWith('as ')) return offer(line.slice(0, 3), this.o.users.map((u) => u.name));
    if (lower.startsWith('click ')) {
      const texts = this.sources().flatMap((src) => buttonsIn(src.kind === 'modal' ? src.view : src.kind === 'message' ? src.message : src.ephemeral).map((b) => b.text));
      return offer(line.slice(0, 6), texts);
    }
    if (lower.startsWith('fill ')) {
      const modal = this.o.sim.openModal(this.current.id);
      const blocks = modal && Array.isArray(modal.view.blocks) ? modal.view.blocks : [];
      const labels = blocks.filter((b): b is Json => isObj(b) && b.type === 'input').map((b) => `${plain(b.label)}=`);
      return offer(line.slice(0, 5), labels);
    }
    return [words.filter((w) => w.startsWith(lower)), line];
  }

  // ---------- output ----------

  private write(text: string): void {
    this.o.output.write(text);
  }

  private print(text: string): void {
    if (this.rl) {
      if (this.promptShown) {
        readline.clearLine(this.o.output, 0);
        readline.cursorTo(this.o.output, 0);
      }
      this.write(`${text}\n`);
      if (this.promptShown) this.rl.prompt(true);
      return;
    }
    if (this.promptShown) {
      this.write('\n');
      this.promptShown = false;
      this.write(`${text}\n`);
      this.prompt();
      return;
    }
    this.write(`${text}\n`);
  }

  private prompt(): void {
    if (this.script || this.promptShown) return;
    this.promptShown = true;
    if (this.rl) {
      this.rl.setPrompt(`${this.current.name}> `);
      this.rl.prompt();
      return;
    }
    this.write(`${this.current.name}> `);
  }

  private describe(u: ChatUser): string {
    return `${u.name}${u.role ? ` (${u.role})` : ''}`;
  }

  private userName(id: string): string {
    return this.ctx.userName?.(id) ?? id;
  }

  private where(channel: string): string {
    if (channel === this.o.channel) return '';
    if (channel.startsWith('D')) return `[DM to ${this.userName(channel.slice(1))}] `;
    return `[#${this.o.sim.channel(channel)?.name ?? channel}] `;
  }

  private onEvent(e: SlackSimEvent): void {
    switch (e.type) {
      case 'message': {
        const m = e.message;
        const body = renderMessage(m, this.ctx);
        this.rendered.set(`${m.channel}:${m.ts}`, body);
        if (m.threadTs) this.print(indentLines(body, `${this.where(m.channel)}  ↳ bot: `, '        '));
        else this.print(indentLines(body, `${this.where(m.channel)}bot: `, '     '));
        break;
      }
      case 'message_updated': {
        const m = e.message;
        const key = `${m.channel}:${m.ts}`;
        const body = renderMessage(m, this.ctx);
        const before = this.rendered.get(key);
        this.rendered.set(key, body);
        if (before === body) break; // nothing a reader could see changed
        const label = m.threadTs ? 'reply updated' : 'card updated';
        this.print(`${this.where(m.channel)}~ ${label}:\n${changedLines(before, body)}`);
        break;
      }
      case 'message_deleted':
        this.print(`${this.where(e.message.channel)}~ message deleted: ${mrkdwnToText(e.message.text, this.ctx).split('\n')[0] ?? ''}`);
        break;
      case 'ephemeral':
      case 'ephemeral_updated': {
        const eph = e.ephemeral;
        const who = eph.user === this.current.id ? 'only you' : `only ${this.userName(eph.user)}`;
        const verb = e.type === 'ephemeral_updated' ? ' ~ updated' : '';
        const first = `${this.where(eph.channel)}(${who}${verb}) bot: `;
        this.print(indentLines(renderMessage(eph, this.ctx), first, '     '));
        break;
      }
      case 'ephemeral_deleted':
        this.print(`(an ephemeral for ${this.userName(e.ephemeral.user)} was removed)`);
        break;
      case 'view_opened':
      case 'view_updated': {
        const v = e.view;
        const who = v.userId === this.current.id ? 'you' : this.userName(v.userId);
        const what = e.type === 'view_opened' ? (v.stack.length > 1 ? 'modal pushed' : 'modal opened') : 'modal updated';
        this.print(`[${what} for ${who}]\n${this.renderModal(v)}`);
        break;
      }
      case 'view_errors': {
        const lines = Object.entries(e.errors).map(([blockId, msg]) => `  ! ${this.inputLabel(e.view, blockId)}: ${msg}`);
        this.print(`[the bot refused the form]\n${lines.join('\n')}`);
        break;
      }
      case 'view_closed': {
        const who = e.view.userId === this.current.id ? 'your' : `${this.userName(e.view.userId)}'s`;
        this.print(`[${who} modal closed]`);
        break;
      }
      case 'home_published':
        this.print(`[home tab updated for ${this.userName(e.view.userId)}]`);
        break;
      case 'api_error': {
        const c = e.call;
        if (c.status === 429) this.print(`! the bot's ${c.method} call was rate limited (HTTP 429; Slack allows about 1 message a second per channel)`);
        else this.print(`! the bot's ${c.method} call failed: ${c.error ?? `HTTP ${c.status}`}`);
        break;
      }
    }
  }

  private renderModal(v: SimView): string {
    return renderView(v.view, { ...this.ctx, values: v.state, ...(v.errors ? { errors: v.errors } : {}) });
  }

  private inputLabel(v: SimView, blockId: string): string {
    const blocks = Array.isArray(v.view.blocks) ? v.view.blocks : [];
    const b = blocks.find((x) => isObj(x) && x.block_id === blockId);
    return isObj(b) ? plain(b.label) || blockId : blockId;
  }

  // ---------- commands ----------

  private async handle(line: string): Promise<'ok' | 'fail' | 'quit'> {
    if (line === '' || line.startsWith('#')) return 'ok';
    try {
      if (line.startsWith('/')) return await this.command(line);
      const [word = '', ...restParts] = line.split(/\s+/);
      const rest = line.slice(word.length).trim();
      switch (word.toLowerCase()) {
        case 'as':
          return this.switchUser(rest);
        case 'click':
          return await this.click(rest);
        case 'fill':
          return this.fill(rest);
        case 'submit':
          return await this.submit();
        case 'cancel':
        case 'close':
          return await this.cancel();
        case 'wait':
          if (restParts[0]?.toLowerCase() === 'until') return await this.waitUntil(rest.slice('until'.length).trim());
          return await this.waitFor(rest);
        case 'whoami':
          this.print(`You are ${this.describe(this.current)}.`);
          return 'ok';
        case 'users':
          this.print(this.o.users.map((u) => `  ${u === this.current ? '*' : ' '} ${this.describe(u)}`).join('\n'));
          return 'ok';
        case 'help':
        case '?':
          this.print(`${HELP}${Object.values(this.o.extraCommands ?? {}).map((c) => `\n  ${c.usage}`).join('')}\nUsers: ${this.o.users.map((u) => this.describe(u)).join(', ')}`);
          return 'ok';
        case 'quit':
        case 'exit':
          return 'quit';
        default: {
          const extra = this.o.extraCommands?.[word.toLowerCase()];
          if (extra) {
            this.print(await extra.run(rest));
            return 'ok';
          }
          if (word.toLowerCase() === 'byoip') this.print(`? did you mean /${line}? Slash commands start with "/".`);
          else this.print(`? unknown command "${word}". Type help for the list.`);
          return 'ok';
        }
      }
    } catch (err) {
      this.print(`! ${errMessage(err)}`);
      return 'ok';
    }
  }

  private reportHttp(what: string, res: SendResult): void {
    if (res.status !== 200) {
      const body = res.body.trim().slice(0, 300);
      this.print(`! the bot answered ${what} with HTTP ${res.status}${body ? `: ${body}` : ''}`);
    } else if (res.elapsedMs > 3000) {
      this.print(`! the bot took ${(res.elapsedMs / 1000).toFixed(1)} s to answer ${what}; Slack gives up after 3 s`);
    }
  }

  private async command(line: string): Promise<'ok'> {
    const [command = '/byoip', ...rest] = line.split(/\s+/);
    const res = await this.o.sender.command(this.current.id, rest.join(' '), { channel: this.o.channel, command });
    this.reportHttp(command, res);
    return 'ok';
  }

  private findUser(nameOrId: string): ChatUser | undefined {
    const n = nameOrId.trim().replace(/^@/, '').toLowerCase();
    return this.o.users.find((u) => u.name.toLowerCase() === n || u.id.toLowerCase() === n);
  }

  private switchUser(name: string): 'ok' {
    const u = this.findUser(name);
    if (!u) {
      this.print(`? no user "${name}". Users: ${this.o.users.map((x) => x.name).join(', ')}`);
      return 'ok';
    }
    this.current = u;
    this.print(`You are now ${this.describe(u)}.`);
    return 'ok';
  }

  /** What the current user can see that may hold a button, newest first; an open modal sits on top. */
  private sources(): Source[] {
    const me = this.current.id;
    const list: Source[] = [];
    const modal = this.o.sim.openModal(me);
    if (modal) list.push({ kind: 'modal', view: modal, at: Number.MAX_SAFE_INTEGER });
    for (const m of this.o.sim.messages()) {
      if (m.channel.startsWith('D') && m.channel !== `D${me}`) continue;
      list.push({ kind: 'message', message: m, at: m.edits.at(-1)?.at ?? m.postedAt });
    }
    for (const e of this.o.sim.ephemerals(me)) list.push({ kind: 'ephemeral', ephemeral: e, at: e.edits.at(-1)?.at ?? e.postedAt });
    return list.sort((a, b) => b.at - a.at);
  }

  private async click(text: string): Promise<'ok'> {
    if (!text) {
      this.print('? click what? e.g. click Approve');
      return 'ok';
    }
    const sources = this.sources();
    const blocksOf = (s: Source): { blocks?: unknown } | { view?: unknown } => (s.kind === 'modal' ? s.view : s.kind === 'message' ? s.message : s.ephemeral);
    // an exact match anywhere beats a partial match in a newer message
    let hit: { source: Source; button: FoundButton } | undefined;
    const want = text.toLowerCase();
    for (const s of sources) {
      const b = buttonsIn(blocksOf(s)).find((x) => x.text.toLowerCase() === want);
      if (b) {
        hit = { source: s, button: b };
        break;
      }
    }
    if (!hit) {
      for (const s of sources) {
        const b = findButton(blocksOf(s), text);
        if (b) {
          hit = { source: s, button: b };
          break;
        }
      }
    }
    if (!hit) {
      const visible = [...new Set(sources.flatMap((s) => buttonsIn(blocksOf(s)).map((b) => b.text)))].slice(0, 12);
      this.print(`? no button "${text}" visible to ${this.current.name}${visible.length ? `. Buttons: ${visible.map((t) => `[ ${t} ]`).join(' ')}` : ''}`);
      return 'ok';
    }
    const { source, button } = hit;
    if (button.url) this.print(`(opens ${button.url})`);
    const base = { actionId: button.actionId, blockId: button.blockId, ...(button.value !== undefined ? { value: button.value } : {}) };
    let res: SendResult;
    if (source.kind === 'modal') res = await this.o.sender.clickButton(this.current.id, { viewId: source.view.id, ...base });
    else if (source.kind === 'message') res = await this.o.sender.clickButton(this.current.id, { channel: source.message.channel, messageTs: source.message.ts, ...base });
    else res = await this.o.sender.clickButton(this.current.id, { channel: source.ephemeral.channel, messageTs: source.ephemeral.ts, ...base });
    this.reportHttp(`the click on [ ${button.text} ]`, res);
    return 'ok';
  }

  private fill(arg: string): 'ok' {
    const eq = arg.indexOf('=');
    if (eq <= 0) {
      this.print('? fill <field>=<value>, e.g. fill prefix=203.0.113.0/24');
      return 'ok';
    }
    const field = arg.slice(0, eq).trim();
    const value = arg.slice(eq + 1).trim();
    const modal = this.o.sim.openModal(this.current.id);
    if (!modal) {
      this.print(`? ${this.current.name} has no open modal`);
      return 'ok';
    }
    const inputs = (Array.isArray(modal.view.blocks) ? modal.view.blocks : []).filter(
      (b): b is Json => isObj(b) && b.type === 'input' && typeof b.block_id === 'string' && isObj(b.element),
    );
    const f = field.toLowerCase();
    const block =
      inputs.find((b) => plain(b.label).toLowerCase() === f || String(b.block_id).toLowerCase() === f) ??
      inputs.find((b) => plain(b.label).toLowerCase().startsWith(f) || String(b.block_id).toLowerCase().startsWith(f));
    if (!block || !isObj(block.element)) {
      this.print(`? no field "${field}". Fields: ${inputs.map((b) => plain(b.label) || String(b.block_id)).join(', ')}`);
      return 'ok';
    }
    const el = block.element;
    const type = String(el.type);
    const actionId = typeof el.action_id === 'string' ? el.action_id : 'value';
    const options = this.optionsOf(el);
    const pick = (v: string): Json | undefined => {
      const l = v.toLowerCase();
      return (
        options.find((o) => plain(o.text).toLowerCase() === l || String(o.value).toLowerCase() === l) ??
        options.find((o) => plain(o.text).toLowerCase().startsWith(l))
      );
    };
    let state: Json;
    switch (type) {
      case 'static_select':
      case 'radio_buttons': {
        const o = pick(value);
        if (!o) return this.noOption(value, options);
        state = { type, selected_option: o };
        break;
      }
      case 'multi_static_select':
      case 'checkboxes': {
        // An option whose own text has commas is matched whole first; otherwise the value is a comma list.
        const whole = pick(value.trim());
        const wanted = whole ? [value.trim()] : value.split(',').map((x) => x.trim()).filter((x) => x !== '');
        const picked: Json[] = [];
        for (const w of wanted) {
          const o = pick(w);
          if (!o) return this.noOption(w, options);
          picked.push(o);
        }
        state = { type, selected_options: picked };
        break;
      }
      case 'users_select': {
        const u = this.findUser(value);
        state = { type, selected_user: u?.id ?? value };
        break;
      }
      case 'multi_users_select':
        state = { type, selected_users: value.split(',').map((x) => this.findUser(x)?.id ?? x.trim()) };
        break;
      case 'conversations_select':
      case 'channels_select':
        state = { type, [type === 'channels_select' ? 'selected_channel' : 'selected_conversation']: this.o.sim.channel(value)?.id ?? value };
        break;
      case 'datepicker':
        state = { type, selected_date: value };
        break;
      case 'timepicker':
        state = { type, selected_time: value };
        break;
      default:
        state = { type, value };
    }
    this.o.sim.setViewValue(modal.id, String(block.block_id), actionId, state);
    this.print(`  ${plain(block.label) || String(block.block_id)} = ${value}`);
    return 'ok';
  }

  private optionsOf(el: Json): Json[] {
    const out: Json[] = [];
    if (Array.isArray(el.options)) for (const o of el.options) if (isObj(o)) out.push(o);
    if (Array.isArray(el.option_groups)) {
      for (const g of el.option_groups) if (isObj(g) && Array.isArray(g.options)) for (const o of g.options) if (isObj(o)) out.push(o);
    }
    return out;
  }

  private noOption(value: string, options: Json[]): 'ok' {
    this.print(`? no option "${value}". Options: ${options.map((o) => plain(o.text)).join(' | ')}`);
    return 'ok';
  }

  private async submit(): Promise<'ok'> {
    const modal = this.o.sim.openModal(this.current.id);
    if (!modal) {
      this.print(`? ${this.current.name} has no open modal`);
      return 'ok';
    }
    const res = await this.o.sender.submitView(this.current.id, modal.id);
    this.reportHttp(`the submission of "${plain(modal.view.title)}"`, res);
    return 'ok';
  }

  private async cancel(): Promise<'ok'> {
    const modal = this.o.sim.openModal(this.current.id);
    if (!modal) {
      this.print(`? ${this.current.name} has no open modal`);
      return 'ok';
    }
    const res = await this.o.sender.closeView(this.current.id, modal.id);
    if (res) this.reportHttp('view_closed', res);
    return 'ok';
  }

  private async waitFor(arg: string): Promise<'ok'> {
    const ms = parseDuration(arg);
    if (ms === undefined) {
      this.print('? wait <duration> (e.g. wait 2s, wait 500ms) or wait until <text>');
      return 'ok';
    }
    await this.cancellable(() => sleep(ms));
    return 'ok';
  }

  /** Everything the chat shows that `wait until` looks through: messages, replies, cards, ephemerals, modals. */
  private visibleTexts(): string[] {
    const out: string[] = [];
    for (const m of this.o.sim.messages()) out.push(m.text, renderMessage(m, this.ctx));
    for (const e of this.o.sim.ephemerals()) out.push(e.text, renderMessage(e, this.ctx));
    for (const v of this.o.sim.views()) if (v.type === 'modal') out.push(this.renderModal(v));
    return out;
  }

  private async waitUntil(text: string): Promise<'ok' | 'fail'> {
    if (!text) {
      this.print('? wait until <text>');
      return 'ok';
    }
    const want = text.toLowerCase();
    try {
      // Ctrl-C ends the wait, not the chat: the next line runs as if the text had appeared.
      await this.cancellable((cancelled) => this.o.sim.waitFor(() => cancelled() || this.visibleTexts().some((t) => t.toLowerCase().includes(want)), this.waitTimeoutMs));
      return 'ok';
    } catch {
      const recent = this.o.sim
        .messages()
        .slice(-3)
        .map((m) => `    ${mrkdwnToText(m.text, this.ctx).split('\n')[0] ?? ''}`);
      const secs = this.waitTimeoutMs / 1000;
      this.print(
        `! waited ${secs} s and no message, reply, card or ephemeral contains "${text}".` +
          (recent.length ? `\n  Latest messages:\n${recent.join('\n')}` : '\n  The bot has posted nothing yet.'),
      );
      return 'fail';
    }
  }
}
