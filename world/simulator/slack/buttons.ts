/** Finding buttons in Block Kit: what a user could click in a message, ephemeral or view. */

export interface FoundButton {
  text: string;
  actionId: string;
  /** The block's block_id; Slack makes one up when the bot left it out, here the block's index. */
  blockId: string;
  value?: string;
  url?: string;
  style?: string;
}

/** A message or ephemeral (`{ blocks }`), a simulator view (`{ view: { blocks } }`) or a bare blocks array. */
export type ButtonSource = unknown[] | { blocks?: unknown } | { view?: unknown };

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function blocksOf(source: ButtonSource): unknown[] {
  if (Array.isArray(source)) return source;
  if ('view' in source && isObj(source.view) && Array.isArray(source.view.blocks)) return source.view.blocks;
  if ('blocks' in source && Array.isArray(source.blocks)) return source.blocks;
  return [];
}

function buttonOf(el: unknown, blockId: string, fallbackActionId: string): FoundButton | undefined {
  if (!isObj(el) || el.type !== 'button') return undefined;
  const text = isObj(el.text) && typeof el.text.text === 'string' ? el.text.text : '';
  const b: FoundButton = { text, actionId: typeof el.action_id === 'string' ? el.action_id : fallbackActionId, blockId };
  if (typeof el.value === 'string') b.value = el.value;
  if (typeof el.url === 'string') b.url = el.url;
  if (typeof el.style === 'string') b.style = el.style;
  return b;
}

/** Every button in order: actions blocks' elements and section accessories. */
export function buttonsIn(source: ButtonSource): FoundButton[] {
  const out: FoundButton[] = [];
  blocksOf(source).forEach((block, i) => {
    if (!isObj(block)) return;
    const blockId = typeof block.block_id === 'string' ? block.block_id : String(i);
    if (block.type === 'actions' && Array.isArray(block.elements)) {
      block.elements.forEach((el, j) => {
        const b = buttonOf(el, blockId, `${blockId}-${j}`);
        if (b) out.push(b);
      });
    } else if (block.type === 'section' && block.accessory !== undefined) {
      const b = buttonOf(block.accessory, blockId, `${blockId}-accessory`);
      if (b) out.push(b);
    }
  });
  return out;
}

function norm(s: string): string {
  return s.replace(/:[a-z0-9_+-]+:/g, '').replace(/\s+/g, ' ').trim().toLowerCase();
}

/** The button whose text is `text` (case-insensitive; an exact match wins over a prefix, then a substring). */
export function findButton(source: ButtonSource, text: string): FoundButton | undefined {
  const want = norm(text);
  if (!want) return undefined;
  const all = buttonsIn(source);
  return (
    all.find((b) => norm(b.text) === want) ??
    all.find((b) => norm(b.text).startsWith(want)) ??
    all.find((b) => norm(b.text).includes(want)) ??
    all.find((b) => b.actionId === text)
  );
}
