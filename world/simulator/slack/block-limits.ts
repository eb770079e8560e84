/**
 * Block Kit limits that Slack enforces on chat.postMessage / chat.update / views.*; a broken payload is
 * answered with `invalid_blocks` and `response_metadata.messages` in Slack's own
 * `[ERROR] ... [json-pointer:/blocks/0/text/text]` format, so bot tests see what production would show.
 * Limits: node-slack-sdk packages/types (blocks.ts, block-elements.ts, views.ts, composition-objects.ts).
 */

export interface BlockProblem {
  pointer: string;
  message: string;
}

export const LIMITS = {
  messageBlocks: 50,
  viewBlocks: 100,
  sectionText: 3000,
  sectionFields: 10,
  sectionFieldText: 2000,
  headerText: 150,
  actionsElements: 25,
  contextElements: 10,
  blockId: 255,
  actionId: 255,
  buttonText: 75,
  buttonValue: 2000,
  buttonUrl: 3000,
  optionText: 75,
  optionValue: 150,
  options: 100,
  overflowOptions: 5,
  placeholder: 150,
  inputLabel: 2000,
  inputHint: 2000,
  markdownText: 12000,
  imageAltText: 2000,
  modalTitle: 24,
  modalButton: 24,
  privateMetadata: 3000,
  callbackId: 255,
  externalId: 255,
} as const;

const BLOCK_TYPES = new Set([
  'section',
  'header',
  'divider',
  'context',
  'actions',
  'input',
  'image',
  'rich_text',
  'markdown',
  'file',
  'video',
  'call',
  'table',
  'context_actions',
]);

const OPTION_ELEMENTS = new Set(['static_select', 'multi_static_select', 'radio_buttons', 'checkboxes', 'overflow']);

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

class Checker {
  readonly problems: BlockProblem[] = [];

  fail(pointer: string, message: string): void {
    this.problems.push({ pointer, message });
  }

  /** A composition text object; `plainOnly` for places where Slack accepts only plain_text. */
  text(v: unknown, pointer: string, max: number, opts: { plainOnly?: boolean; required?: boolean } = {}): void {
    if (v === undefined) {
      if (opts.required) this.fail(pointer, 'must provide an object');
      return;
    }
    if (!isObj(v)) return this.fail(pointer, 'must provide an object');
    if (v.type !== 'plain_text' && v.type !== 'mrkdwn') return this.fail(`${pointer}/type`, 'must be one of plain_text, mrkdwn');
    if (opts.plainOnly && v.type !== 'plain_text') return this.fail(`${pointer}/type`, 'must be plain_text');
    if (typeof v.text !== 'string') return this.fail(`${pointer}/text`, 'must provide a string');
    if (v.text.length < 1) return this.fail(`${pointer}/text`, 'must be at least 1 character');
    if (v.text.length > max) this.fail(`${pointer}/text`, `must be less than ${max + 1} characters`);
  }

  maxString(v: unknown, pointer: string, max: number): void {
    if (v === undefined) return;
    if (typeof v !== 'string') return this.fail(pointer, 'must provide a string');
    if (v.length > max) this.fail(pointer, `must be less than ${max + 1} characters`);
  }

  option(v: unknown, pointer: string): void {
    if (!isObj(v)) return this.fail(pointer, 'must provide an object');
    this.text(v.text, `${pointer}/text`, LIMITS.optionText, { required: true });
    if (typeof v.value !== 'string') this.fail(`${pointer}/value`, 'must provide a string');
    else this.maxString(v.value, `${pointer}/value`, LIMITS.optionValue);
  }

  confirm(v: unknown, pointer: string): void {
    if (v === undefined) return;
    if (!isObj(v)) return this.fail(pointer, 'must provide an object');
    this.text(v.title, `${pointer}/title`, 100, { plainOnly: true, required: true });
    this.text(v.text, `${pointer}/text`, 300, { required: true });
    this.text(v.confirm, `${pointer}/confirm`, 30, { plainOnly: true, required: true });
    this.text(v.deny, `${pointer}/deny`, 30, { plainOnly: true, required: true });
  }

  element(v: unknown, pointer: string, actionIds: Set<string>): void {
    if (!isObj(v)) return this.fail(pointer, 'must provide an object');
    if (typeof v.type !== 'string') return this.fail(`${pointer}/type`, 'must provide a string');
    if (v.action_id !== undefined) {
      this.maxString(v.action_id, `${pointer}/action_id`, LIMITS.actionId);
      if (typeof v.action_id === 'string') {
        if (actionIds.has(v.action_id)) this.fail(`${pointer}/action_id`, `duplicate action_id: ${v.action_id}`);
        actionIds.add(v.action_id);
      }
    }
    this.confirm(v.confirm, `${pointer}/confirm`);
    if (v.placeholder !== undefined) this.text(v.placeholder, `${pointer}/placeholder`, LIMITS.placeholder, { plainOnly: true });
    switch (v.type) {
      case 'button':
        this.text(v.text, `${pointer}/text`, LIMITS.buttonText, { plainOnly: true, required: true });
        this.maxString(v.value, `${pointer}/value`, LIMITS.buttonValue);
        this.maxString(v.url, `${pointer}/url`, LIMITS.buttonUrl);
        if (v.style !== undefined && v.style !== 'primary' && v.style !== 'danger') {
          this.fail(`${pointer}/style`, 'must be one of primary, danger');
        }
        break;
      case 'plain_text_input':
        if (typeof v.min_length === 'number' && v.min_length > 3000) this.fail(`${pointer}/min_length`, 'must be at most 3000');
        if (typeof v.max_length === 'number' && v.max_length > 3000) this.fail(`${pointer}/max_length`, 'must be at most 3000');
        this.maxString(v.initial_value, `${pointer}/initial_value`, 3000);
        break;
      case 'image':
        this.maxString(v.alt_text, `${pointer}/alt_text`, LIMITS.imageAltText);
        break;
      default:
        break;
    }
    if (OPTION_ELEMENTS.has(v.type)) {
      const max = v.type === 'overflow' ? LIMITS.overflowOptions : LIMITS.options;
      if (v.options === undefined && v.option_groups === undefined) this.fail(`${pointer}/options`, 'must provide an array');
      if (v.options !== undefined) {
        if (!Array.isArray(v.options)) this.fail(`${pointer}/options`, 'must provide an array');
        else {
          if (v.options.length > max) this.fail(`${pointer}/options`, `must provide no more than ${max} items`);
          if (v.options.length < (v.type === 'overflow' ? 2 : 1)) this.fail(`${pointer}/options`, 'must provide at least 1 item');
          v.options.forEach((o, i) => this.option(o, `${pointer}/options/${i}`));
        }
      }
    }
  }

  block(b: unknown, pointer: string, blockIds: Set<string>): void {
    if (!isObj(b)) return this.fail(pointer, 'must provide an object');
    if (typeof b.type !== 'string') return this.fail(`${pointer}/type`, 'must provide a string');
    if (!BLOCK_TYPES.has(b.type)) return this.fail(`${pointer}/type`, `unsupported type: ${b.type}`);
    if (b.block_id !== undefined) {
      this.maxString(b.block_id, `${pointer}/block_id`, LIMITS.blockId);
      if (typeof b.block_id === 'string') {
        if (blockIds.has(b.block_id)) this.fail(`${pointer}/block_id`, `duplicate block_id: ${b.block_id}`);
        blockIds.add(b.block_id);
      }
    }
    const actionIds = new Set<string>();
    switch (b.type) {
      case 'section':
        if (b.text === undefined && b.fields === undefined) this.fail(pointer, 'must provide text or fields');
        this.text(b.text, `${pointer}/text`, LIMITS.sectionText);
        if (b.fields !== undefined) {
          if (!Array.isArray(b.fields)) this.fail(`${pointer}/fields`, 'must provide an array');
          else {
            if (b.fields.length > LIMITS.sectionFields) this.fail(`${pointer}/fields`, `must provide no more than ${LIMITS.sectionFields} items`);
            b.fields.forEach((f, i) => this.text(f, `${pointer}/fields/${i}`, LIMITS.sectionFieldText, { required: true }));
          }
        }
        if (b.accessory !== undefined) this.element(b.accessory, `${pointer}/accessory`, actionIds);
        break;
      case 'header':
        this.text(b.text, `${pointer}/text`, LIMITS.headerText, { plainOnly: true, required: true });
        break;
      case 'context':
        if (!Array.isArray(b.elements) || b.elements.length === 0) this.fail(`${pointer}/elements`, 'must provide a non-empty array');
        else {
          if (b.elements.length > LIMITS.contextElements) this.fail(`${pointer}/elements`, `must provide no more than ${LIMITS.contextElements} items`);
          b.elements.forEach((e, i) => {
            if (isObj(e) && e.type === 'image') this.element(e, `${pointer}/elements/${i}`, actionIds);
            else this.text(e, `${pointer}/elements/${i}`, 3000, { required: true });
          });
        }
        break;
      case 'actions':
        if (!Array.isArray(b.elements) || b.elements.length === 0) this.fail(`${pointer}/elements`, 'must provide a non-empty array');
        else {
          if (b.elements.length > LIMITS.actionsElements) this.fail(`${pointer}/elements`, `must provide no more than ${LIMITS.actionsElements} items`);
          b.elements.forEach((e, i) => this.element(e, `${pointer}/elements/${i}`, actionIds));
        }
        break;
      case 'input':
        this.text(b.label, `${pointer}/label`, LIMITS.inputLabel, { plainOnly: true, required: true });
        if (b.hint !== undefined) this.text(b.hint, `${pointer}/hint`, LIMITS.inputHint, { plainOnly: true });
        if (b.element === undefined) this.fail(`${pointer}/element`, 'must provide an object');
        else this.element(b.element, `${pointer}/element`, actionIds);
        break;
      case 'image':
        if (b.image_url === undefined && b.slack_file === undefined) this.fail(`${pointer}/image_url`, 'must provide a string');
        this.maxString(b.alt_text, `${pointer}/alt_text`, LIMITS.imageAltText);
        break;
      case 'markdown':
        if (typeof b.text !== 'string') this.fail(`${pointer}/text`, 'must provide a string');
        else this.maxString(b.text, `${pointer}/text`, LIMITS.markdownText);
        break;
      default:
        break;
    }
  }

  blocks(v: unknown, pointer: string, max: number): void {
    if (!Array.isArray(v)) return this.fail(pointer, 'must provide an array');
    if (v.length > max) this.fail(pointer, `no more than ${max} items allowed`);
    const blockIds = new Set<string>();
    v.forEach((b, i) => this.block(b, `${pointer}/${i}`, blockIds));
  }
}

/** Problems with a message's `blocks` (at most 50 blocks). */
export function validateMessageBlocks(blocks: unknown): BlockProblem[] {
  const c = new Checker();
  c.blocks(blocks, '/blocks', LIMITS.messageBlocks);
  return c.problems;
}

/** Problems with a view (modal or home tab) as passed to views.open / update / push / publish. */
export function validateView(view: unknown): BlockProblem[] {
  const c = new Checker();
  if (!isObj(view)) {
    c.fail('/view', 'must provide an object');
    return c.problems;
  }
  if (view.type !== 'modal' && view.type !== 'home') {
    c.fail('/view/type', 'must be one of modal, home');
    return c.problems;
  }
  c.blocks(view.blocks, '/view/blocks', LIMITS.viewBlocks);
  if (view.type === 'modal') {
    c.text(view.title, '/view/title', LIMITS.modalTitle, { plainOnly: true, required: true });
    c.text(view.submit, '/view/submit', LIMITS.modalButton, { plainOnly: true });
    c.text(view.close, '/view/close', LIMITS.modalButton, { plainOnly: true });
    const hasInput = Array.isArray(view.blocks) && view.blocks.some((b) => isObj(b) && b.type === 'input');
    if (hasInput && view.submit === undefined) c.fail('/view/submit', 'must provide submit when the view has input blocks');
  }
  c.maxString(view.private_metadata, '/view/private_metadata', LIMITS.privateMetadata);
  c.maxString(view.callback_id, '/view/callback_id', LIMITS.callbackId);
  c.maxString(view.external_id, '/view/external_id', LIMITS.externalId);
  return c.problems;
}

/** Slack's wording for one problem: `[ERROR] must be less than 3001 characters [json-pointer:/blocks/0/text/text]`. */
export function formatProblem(p: BlockProblem): string {
  return `[ERROR] ${p.message} [json-pointer:${p.pointer}]`;
}
