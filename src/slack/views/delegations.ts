import type { DelegationsReport } from '../../operations/service.js';
import { context, header, section, type Block } from './blocks.js';

/** How many delegations one answer lists (Slack: at most 50 blocks; one context line per 10 delegations). */
const SHOWN = 200;

/** `/byoip delegations <prefix>`: one line per delegation (CIDR → account), bounded to Slack's limits. */
export function delegationsBlocks(report: DelegationsReport): { text: string; blocks: Block[] } {
  const p = report.prefix.cidr;
  const ds = report.delegations;
  const blocks: Block[] = [header(`Delegations of ${p}`.slice(0, 150))];
  if (!ds.length) {
    blocks.push(section(`${p} (${report.account}) has no delegations: only this account uses its addresses.`));
  } else {
    blocks.push(section(`${p} (${report.account}): ${ds.length} delegation${ds.length === 1 ? '' : 's'}. Service bindings stay on this, the parent account.`));
    const shown = ds.slice(0, SHOWN);
    for (let i = 0; i < shown.length; i += 10) {
      blocks.push(context(shown.slice(i, i + 10).map((d) => `\`${d.cidr}\` → account \`${d.delegatedAccountId}\``).join('\n')));
    }
    if (ds.length > SHOWN) blocks.push(context(`…and ${ds.length - SHOWN} more; see the dashboard for the full list.`));
  }
  const text = ds.length ? `${p}: ${ds.slice(0, 20).map((d) => `${d.cidr} to ${d.delegatedAccountId}`).join(', ')}${ds.length > 20 ? ', …' : ''}` : `${p}: no delegations`;
  return { text: text.slice(0, 3000), blocks: blocks.slice(0, 50) };
}
