import type { AuditRecord } from '../../operations/store.js';
import { clip, context, header, mention, section, userText, type Block } from './blocks.js';

const fmt = (ms: number) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');

/** One audit line, compact: when, what, who, the request, and the data (inert, clipped). */
function line(r: AuditRecord): string {
  const who = r.actor === 'system' ? 'bot' : mention(r.actor);
  const data = r.data && Object.keys(r.data).length ? ` ${userText(JSON.stringify(r.data), 240)}` : '';
  return `\`${fmt(r.at)}\` *${r.type}* ${who}${r.opId && r.opId !== '-' ? ` \`${r.opId}\`` : ''}${data}`;
}

/** `/byoip audit`: a page of the trail, newest first, within Slack's limits (under 50 blocks, 3000 chars each). */
export function auditBlocks(target: { opId: string } | { prefix: string }, page: number, res: { lines: AuditRecord[]; more: boolean; found: boolean }): { text: string; blocks: Block[] } {
  const what = 'opId' in target ? `request ${target.opId}` : target.prefix;
  const blocks: Block[] = [header(clip(`Audit: ${what}${page > 1 ? ` (page ${page})` : ''}`, 150))];
  if (!res.found) blocks.push(section(`Nothing in the audit for ${what}. Check the prefix or the request id (it is at the bottom of every card).`));
  else if (res.lines.length === 0) blocks.push(section(`No more lines: page ${page} is past the end.`));
  // Ten lines a section keeps each under Slack's 3000 characters.
  for (let i = 0; i < res.lines.length; i += 10) blocks.push(section(res.lines.slice(i, i + 10).map(line).join('\n')));
  if (res.more) blocks.push(context(`Older lines: \`/byoip audit ${'opId' in target ? target.opId : target.prefix} ${page + 1}\`. Everything: \`npm run audit -- --since 7d\` on the bot's host.`));
  return { text: `Audit of ${what}: ${res.lines.length} line(s)${res.more ? ', more on the next page' : ''}`, blocks };
}
