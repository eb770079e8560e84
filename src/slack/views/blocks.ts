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
