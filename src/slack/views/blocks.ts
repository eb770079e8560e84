/** Small Block Kit helpers that keep every piece inside Slack's limits. */
export type Block = Record<string, unknown>;

export function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

export const section = (text: string): Block => ({ type: 'section', text: { type: 'mrkdwn', text: clip(text, 3000) } });
export const context = (text: string): Block => ({ type: 'context', elements: [{ type: 'mrkdwn', text: clip(text, 2000) }] });
export const header = (text: string): Block => ({ type: 'header', text: { type: 'plain_text', text: clip(text, 150), emoji: true } });
export const divider = (): Block => ({ type: 'divider' });
export const fields = (items: string[]): Block => ({ type: 'section', fields: items.slice(0, 10).map((t) => ({ type: 'mrkdwn', text: clip(t, 2000) })) });

/** User-typed text shown in mrkdwn: no mentions, links or channel-wide pings (`<!channel>`) sneak through. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * Any user-supplied string shown in mrkdwn (reason, names, echoed input): `&`, `<`, `>` escaped so mentions,
 * `<!channel>` and links stay inert, backticks made inert so code spans cannot swallow the rest, and capped with "…".
 */
export function userText(text: string, max = 500): string {
  return clip(escapeMrkdwn(stripControl(text.replace(/`/g, 'ˋ'))), max);
}

/** Control characters (other than tab and newline) become spaces. */
function stripControl(text: string): string {
  let out = '';
  for (const ch of text) {
    const c = ch.codePointAt(0)!;
    out += (c < 32 && c !== 9 && c !== 10) || c === 127 ? ' ' : ch;
  }
  return out;
}

/** A Slack user id as a mention (ids only: anything else is shown inert). */
export function mention(userId: string): string {
  return /^[UW][A-Z0-9]{2,}$/.test(userId) ? `<@${userId}>` : userText(userId, 40);
}
