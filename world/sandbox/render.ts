/**
 * Block Kit and mrkdwn as readable terminal text for the sandbox chat. Pure functions: no I/O, no colours.
 * Buttons look like `[ Approve ] [ Reject ]`, links `<url|text>` become `text`, mentions `<@U123>` become `@alice`.
 */

export interface RenderContext {
  userName?: (id: string) => string | undefined;
  channelName?: (id: string) => string | undefined;
  usergroupHandle?: (id: string) => string | undefined;
}

/** Current input values of a view (view.state.values) and the bot's errors by block_id. */
export interface ViewRenderContext extends RenderContext {
  values?: Record<string, Record<string, unknown>>;
  errors?: Record<string, string>;
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function s(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

const EMOJI: Record<string, string> = {
  white_check_mark: '✅',
  heavy_check_mark: '✔',
  check: '✔',
  ballot_box_with_check: '☑',
  x: '❌',
  heavy_multiplication_x: '✖',
  no_entry: '⛔',
  no_entry_sign: '🚫',
  warning: '⚠️',
  rotating_light: '🚨',
  exclamation: '❗',
  question: '❓',
  bangbang: '‼️',
  hourglass: '⌛',
  hourglass_flowing_sand: '⏳',
  stopwatch: '⏱',
  alarm_clock: '⏰',
  clock3: '🕒',
  calendar: '📆',
  large_green_circle: '🟢',
  large_yellow_circle: '🟡',
  large_orange_circle: '🟠',
  red_circle: '🔴',
  dart: '🎯',
  white_circle: '⚪',
  black_circle: '⚫',
  large_blue_circle: '🔵',
  green_heart: '💚',
  broken_heart: '💔',
  information_source: 'ℹ️',
  bulb: '💡',
  lock: '🔒',
  unlock: '🔓',
  key: '🔑',
  shield: '🛡',
  globe_with_meridians: '🌐',
  earth_africa: '🌍',
  satellite_antenna: '📡',
  satellite: '🛰',
  cloud: '☁️',
  zap: '⚡',
  fire: '🔥',
  arrow_right: '→',
  arrow_left: '←',
  arrow_up: '↑',
  arrow_down: '↓',
  arrows_counterclockwise: '🔄',
  repeat: '🔁',
  leftwards_arrow_with_hook: '↩',
  clipboard: '📋',
  memo: '📝',
  pencil: '✏️',
  page_facing_up: '📄',
  scroll: '📜',
  mag: '🔍',
  mag_right: '🔎',
  bar_chart: '📊',
  chart_with_upwards_trend: '📈',
  chart_with_downwards_trend: '📉',
  gear: '⚙️',
  wrench: '🔧',
  hammer_and_wrench: '🛠',
  package: '📦',
  link: '🔗',
  bell: '🔔',
  no_bell: '🔕',
  loudspeaker: '📢',
  mega: '📣',
  speech_balloon: '💬',
  eyes: '👀',
  wave: '👋',
  tada: '🎉',
  rocket: '🚀',
  thumbsup: '👍',
  '+1': '👍',
  thumbsdown: '👎',
  '-1': '👎',
  raised_hand: '✋',
  stop_sign: '🛑',
  construction: '🚧',
  octagonal_sign: '🛑',
  skull: '💀',
  ghost: '👻',
  robot_face: '🤖',
  bust_in_silhouette: '👤',
  busts_in_silhouette: '👥',
  sos: '🆘',
  new: '🆕',
  white_circle_with_check: '✅',
  pushpin: '📌',
  round_pushpin: '📍',
  inbox_tray: '📥',
  outbox_tray: '📤',
  heavy_plus_sign: '➕',
  heavy_minus_sign: '➖',
  twisted_rightwards_arrows: '🔀',
};

function emojiToText(text: string): string {
  return text.replace(/:([a-z0-9_+-]+):/g, (m, name: string) => EMOJI[name] ?? m);
}

/** Turns one `<...>` token of Slack's mrkdwn into text. */
function angleToken(inner: string, ctx: RenderContext): string {
  const bar = inner.indexOf('|');
  const target = bar >= 0 ? inner.slice(0, bar) : inner;
  const label = bar >= 0 ? inner.slice(bar + 1) : undefined;
  if (target.startsWith('@')) {
    const id = target.slice(1);
    return `@${ctx.userName?.(id) ?? label?.replace(/^@/, '') ?? id}`;
  }
  if (target.startsWith('#')) {
    const id = target.slice(1);
    return `#${ctx.channelName?.(id) ?? label ?? id}`;
  }
  if (target.startsWith('!subteam^')) {
    const id = target.slice('!subteam^'.length);
    return `@${ctx.usergroupHandle?.(id) ?? label?.replace(/^@/, '') ?? id}`;
  }
  if (target.startsWith('!date^')) return label ?? target.split('^')[1] ?? '';
  if (target.startsWith('!')) return `@${label?.replace(/^@/, '') ?? target.slice(1)}`;
  if (label !== undefined) return label;
  return target.replace(/^mailto:/, '');
}

/** Slack mrkdwn (or plain text with entities) as terminal text. */
export function mrkdwnToText(text: string, ctx: RenderContext = {}): string {
  // only Slack's own tokens (mentions, specials, links with a scheme); a stray `<prefix>` stays as typed
  let out = text.replace(/<([^<>\n]+)>/g, (m, inner: string) => (/^([@#!]|[a-z][a-z0-9+.-]*:)/i.test(inner) ? angleToken(inner, ctx) : m));
  // *bold* and _italic_ markers go; `code` stays recognisable
  out = out.replace(/(^|[\s([{"'])\*(?=\S)([^*\n]*?\S)\*(?=$|[\s)\]}.,:;!?"'])/gm, '$1$2');
  out = out.replace(/(^|[\s([{"'])_(?=\S)([^_\n]*?\S)_(?=$|[\s)\]}.,:;!?"'])/gm, '$1$2');
  out = emojiToText(out);
  return out.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

/** A text object (plain_text or mrkdwn) as text. */
export function textOf(v: unknown, ctx: RenderContext = {}): string {
  if (typeof v === 'string') return mrkdwnToText(v, ctx);
  if (!isObj(v)) return '';
  const t = s(v.text) ?? '';
  return v.type === 'mrkdwn' ? mrkdwnToText(t, ctx) : emojiToText(t);
}

/** `[ Approve ]` */
export function buttonLabel(text: string, url?: string): string {
  return `[ ${text}${url ? ' ↗' : ''} ]`;
}

function optionText(o: unknown, ctx: RenderContext): string {
  return isObj(o) ? textOf(o.text, ctx) : '';
}

function optionsOf(el: Obj): Obj[] {
  const out: Obj[] = [];
  if (Array.isArray(el.options)) for (const o of el.options) if (isObj(o)) out.push(o);
  if (Array.isArray(el.option_groups)) {
    for (const g of el.option_groups) if (isObj(g) && Array.isArray(g.options)) for (const o of g.options) if (isObj(o)) out.push(o);
  }
  return out;
}

function sameOption(a: unknown, b: unknown): boolean {
  return isObj(a) && isObj(b) && a.value === b.value;
}

/** An interactive element inline: buttons, selects, inputs, with `value` (a state value object) when known. */
export function renderElement(el: unknown, ctx: RenderContext = {}, value?: unknown): string {
  if (!isObj(el)) return '';
  const v = isObj(value) ? value : undefined;
  const placeholder = el.placeholder !== undefined ? textOf(el.placeholder, ctx) : '';
  switch (el.type) {
    case 'button':
      return buttonLabel(textOf(el.text, ctx), s(el.url));
    case 'overflow':
      return `[ ⋯ ${optionsOf(el).map((o) => optionText(o, ctx)).join(' | ')} ]`;
    case 'plain_text_input':
    case 'email_text_input':
    case 'url_text_input':
    case 'number_input': {
      const current = s(v?.value) ?? s(el.initial_value) ?? s(el.initial_number);
      return current !== undefined && current !== '' ? `[ ${current} ]` : `[ ${placeholder ? `${placeholder}…` : '_______'} ]`;
    }
    case 'static_select':
    case 'external_select': {
      const selected = v?.selected_option ?? el.initial_option;
      const label = selected !== undefined && selected !== null ? optionText(selected, ctx) : placeholder || 'choose';
      return `[ ${label} ▾ ]`;
    }
    case 'multi_static_select': {
      const selected = Array.isArray(v?.selected_options) ? v.selected_options : Array.isArray(el.initial_options) ? el.initial_options : [];
      const label = selected.length ? selected.map((o) => optionText(o, ctx)).join(', ') : placeholder || 'choose';
      return `[ ${label} ▾ ]`;
    }
    case 'radio_buttons': {
      const selected = v?.selected_option ?? el.initial_option;
      return optionsOf(el)
        .map((o) => `(${sameOption(o, selected) ? '•' : ' '}) ${optionText(o, ctx)}`)
        .join('  ');
    }
    case 'checkboxes': {
      const selected = Array.isArray(v?.selected_options) ? v.selected_options : Array.isArray(el.initial_options) ? el.initial_options : [];
      return optionsOf(el)
        .map((o) => `[${selected.some((x) => sameOption(o, x)) ? 'x' : ' '}] ${optionText(o, ctx)}`)
        .join('  ');
    }
    case 'users_select': {
      const id = s(v?.selected_user) ?? s(el.initial_user);
      return `[ ${id ? `@${ctx.userName?.(id) ?? id}` : placeholder || 'choose a person'} ▾ ]`;
    }
    case 'conversations_select':
    case 'channels_select': {
      const id = s(v?.selected_conversation) ?? s(v?.selected_channel) ?? s(el.initial_conversation) ?? s(el.initial_channel);
      return `[ ${id ? `#${ctx.channelName?.(id) ?? id}` : placeholder || 'choose a channel'} ▾ ]`;
    }
    case 'datepicker':
      return `[ ${s(v?.selected_date) ?? s(el.initial_date) ?? (placeholder || 'YYYY-MM-DD')} 📅 ]`;
    case 'timepicker':
      return `[ ${s(v?.selected_time) ?? s(el.initial_time) ?? (placeholder || 'HH:MM')} 🕒 ]`;
    case 'image':
      return `[image${s(el.alt_text) ? `: ${s(el.alt_text)}` : ''}]`;
    default:
      return `[ ${String(el.type)} ]`;
  }
}

function richTextElements(elements: unknown, ctx: RenderContext): string {
  if (!Array.isArray(elements)) return '';
  return elements
    .map((e) => {
      if (!isObj(e)) return '';
      switch (e.type) {
        case 'text':
          return s(e.text) ?? '';
        case 'link':
          return s(e.text) ?? s(e.url) ?? '';
        case 'user':
          return `@${ctx.userName?.(s(e.user_id) ?? '') ?? s(e.user_id) ?? ''}`;
        case 'usergroup':
          return `@${ctx.usergroupHandle?.(s(e.usergroup_id) ?? '') ?? s(e.usergroup_id) ?? ''}`;
        case 'channel':
          return `#${ctx.channelName?.(s(e.channel_id) ?? '') ?? s(e.channel_id) ?? ''}`;
        case 'emoji':
          return EMOJI[s(e.name) ?? ''] ?? `:${s(e.name) ?? ''}:`;
        case 'broadcast':
          return `@${s(e.range) ?? 'here'}`;
        default:
          return '';
      }
    })
    .join('');
}

function renderRichText(block: Obj, ctx: RenderContext): string[] {
  const lines: string[] = [];
  if (!Array.isArray(block.elements)) return lines;
  for (const part of block.elements) {
    if (!isObj(part)) continue;
    if (part.type === 'rich_text_list' && Array.isArray(part.elements)) {
      part.elements.forEach((item, i) => {
        if (isObj(item)) lines.push(`${part.style === 'ordered' ? `${i + 1}.` : '•'} ${richTextElements(item.elements, ctx)}`);
      });
    } else if (part.type === 'rich_text_preformatted') {
      lines.push(...richTextElements(part.elements, ctx).split('\n').map((l) => `  ${l}`));
    } else if (part.type === 'rich_text_quote') {
      lines.push(...richTextElements(part.elements, ctx).split('\n').map((l) => `> ${l}`));
    } else {
      lines.push(...richTextElements(part.elements, ctx).split('\n'));
    }
  }
  return lines;
}

/** A section field like `*Prefix*\n203.0.113.0/24` reads best as `Prefix: 203.0.113.0/24`. */
function fieldText(f: unknown, ctx: RenderContext): string {
  if (isObj(f) && f.type === 'mrkdwn' && typeof f.text === 'string') {
    const m = /^\*([^*\n]+)\*\s*\n([\s\S]*)$/.exec(f.text);
    if (m?.[1] !== undefined && m[2] !== undefined) return `${mrkdwnToText(m[1], ctx)}: ${mrkdwnToText(m[2], ctx).replace(/\n/g, ' ')}`;
  }
  return textOf(f, ctx).replace(/\n/g, ' ');
}

/** One block as lines of text. */
export function renderBlock(block: unknown, ctx: ViewRenderContext = {}): string[] {
  if (!isObj(block)) return [];
  const blockId = s(block.block_id);
  switch (block.type) {
    case 'header':
      return [`== ${textOf(block.text, ctx)} ==`];
    case 'divider':
      return ['─'.repeat(32)];
    case 'section': {
      const lines = block.text !== undefined ? textOf(block.text, ctx).split('\n') : [];
      if (Array.isArray(block.fields)) for (const f of block.fields) lines.push(`  ${fieldText(f, ctx)}`);
      if (block.accessory !== undefined) {
        const acc = renderElement(block.accessory, ctx, blockId ? firstValue(ctx.values?.[blockId]) : undefined);
        if (lines.length === 0) lines.push(acc);
        else lines[0] = `${lines[0]}  ${acc}`;
      }
      return lines;
    }
    case 'context': {
      const parts = Array.isArray(block.elements)
        ? block.elements.map((e) => (isObj(e) && e.type === 'image' ? '' : textOf(e, ctx))).filter((t) => t !== '')
        : [];
      return parts.length ? [`  ${parts.join('  ·  ')}`] : [];
    }
    case 'actions': {
      const els = Array.isArray(block.elements) ? block.elements : [];
      const values = blockId ? ctx.values?.[blockId] : undefined;
      return [els.map((e) => renderElement(e, ctx, isObj(e) && typeof e.action_id === 'string' ? values?.[e.action_id] : undefined)).join(' ')];
    }
    case 'input': {
      const el = isObj(block.element) ? block.element : {};
      const actionId = s(el.action_id);
      const value = blockId && actionId ? ctx.values?.[blockId]?.[actionId] : undefined;
      const optional = block.optional === true ? ' (optional)' : '';
      const lines = [`${textOf(block.label, ctx)}${optional}: ${renderElement(el, ctx, value)}`];
      if (block.hint !== undefined) lines.push(`  (${textOf(block.hint, ctx)})`);
      if ((el.type === 'static_select' || el.type === 'multi_static_select') && optionsOf(el).length > 0) {
        lines.push(`  options: ${optionsOf(el).map((o) => optionText(o, ctx)).join(' | ')}`);
      }
      const error = blockId ? ctx.errors?.[blockId] : undefined;
      if (error) lines.push(`  ! ${error}`);
      return lines;
    }
    case 'image':
      return [`[image${s(block.alt_text) ? `: ${s(block.alt_text)}` : ''}]`];
    case 'rich_text':
      return renderRichText(block, ctx);
    case 'markdown':
      return mrkdwnToText(s(block.text) ?? '', ctx).split('\n');
    default:
      return [`[${String(block.type)} block]`];
  }
}

function firstValue(values: Record<string, unknown> | undefined): unknown {
  return values ? Object.values(values)[0] : undefined;
}

/** Blocks as text lines. */
export function renderBlocks(blocks: unknown[], ctx: ViewRenderContext = {}): string[] {
  return blocks.flatMap((b) => renderBlock(b, ctx));
}

/** A message: its blocks, or its text when it has none. */
export function renderMessage(message: { text?: string; blocks?: unknown[] }, ctx: RenderContext = {}): string {
  if (message.blocks && message.blocks.length > 0) return renderBlocks(message.blocks, ctx).join('\n');
  return mrkdwnToText(message.text ?? '', ctx);
}

/** A modal (or home tab) in a box, with its inputs' current values, the bot's errors and the footer buttons. */
export function renderView(view: unknown, ctx: ViewRenderContext = {}): string {
  if (!isObj(view)) return '';
  const title = view.type === 'home' ? 'Home' : textOf(view.title, ctx) || 'Modal';
  const blocks = Array.isArray(view.blocks) ? view.blocks : [];
  const lines = [`┌─ ${title}`];
  for (const l of renderBlocks(blocks, ctx)) lines.push(`│ ${l}`);
  const footer: string[] = [];
  if (view.type !== 'home') {
    footer.push(buttonLabel(view.close !== undefined ? textOf(view.close, ctx) : 'Cancel'));
    if (view.submit !== undefined) footer.push(buttonLabel(textOf(view.submit, ctx)));
  }
  lines.push(`└─ ${footer.join(' ')}`.trimEnd());
  return lines.join('\n');
}

/** Prefixes every line but the first with `indent` (continuation lines of a chat entry). */
export function indentLines(text: string, first: string, rest = ' '.repeat(first.length)): string {
  return text
    .split('\n')
    .map((l, i) => `${i === 0 ? first : rest}${l}`)
    .join('\n');
}
