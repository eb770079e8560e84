import { describeState } from '../../domain/operation.js';
import type { StatusReport } from '../../operations/service.js';
import { blastRadiusLines } from '../render/guards.js';
import { clip, context, divider, header, mention, section, type Block } from './blocks.js';

const MAX_BLOCKS = 100; // a Home tab view holds at most 100 blocks

/**
 * The App Home tab: every prefix of every configured account, as `/byoip status <prefix>` shows it (validation, LOA,
 * BGP prefixes with advertisement, bindings, delegations, address maps), then the open requests and the break-glass
 * changes waiting for review. Pure: the report in, a `home` view out.
 */
export function homeView(report: StatusReport, at: number): Record<string, unknown> {
  const blocks: Block[] = [header('BYOIP prefixes'), context(`As of ${new Date(at).toISOString().replace(/\.\d+Z$/, 'Z')} · refreshed when you open this tab and after each change`)];
  if (report.prefixes.length === 0) blocks.push(section('No prefixes on the Cloudflare accounts this bot manages yet. Start with `/byoip onboard <cidr> <asn>`.'));
  const shown = report.prefixes.slice(0, 20);
  for (const row of shown) {
    const p = row.prefix;
    const validation = p.approved === 'V' ? 'approved' : `pending validation (IRR ${p.irrValidationState}, RPKI ${p.rpkiValidationState}, ownership ${p.ownershipValidationState})`;
    const loa = p.loaDocumentId ? 'LOA on file' : p.delegateLoaCreation ? 'LOA by Cloudflare' : 'no LOA';
    const bgp = row.bgp.length
      ? row.bgp.map((b) => `${b.cidr} ${b.onDemand.advertised ? '🟢 advertised' : '⚪ withdrawn'}${b.onDemand.locked ? ' 🔒' : ''} (prepend ${b.asnPrependCount})`).join(' · ')
      : 'no BGP prefix yet';
    blocks.push(divider(), section(clip(`*${p.cidr}* (${row.account}) — ${validation} · ${loa}\n${bgp}`, 3000)));
    if (row.blast) blocks.push(context(clip(blastRadiusLines(row.blast).join(' · '), 2000)));
  }
  if (report.prefixes.length > shown.length) blocks.push(context(`…and ${report.prefixes.length - shown.length} more: \`/byoip status <cidr>\` shows one.`));
  blocks.push(divider(), section(`*Open requests* (${report.open.length})`));
  if (report.open.length === 0) blocks.push(context('None.'));
  for (const op of report.open.slice(0, 15)) blocks.push(context(`${op.kind} ${op.prefix} by ${mention(op.requestedBy)}: ${describeState(op.state)} (\`${op.id}\`)`));
  const reviews = report.reviews ?? [];
  if (reviews.length) {
    blocks.push(section(`*Break-glass changes waiting for review* (${reviews.length})`));
    for (const op of reviews.slice(0, 10)) blocks.push(context(`${op.kind} ${op.prefix} by ${mention(op.requestedBy)} (\`${op.id}\`): an approver clicks Mark reviewed on its card`));
  }
  return { type: 'home', blocks: blocks.slice(0, MAX_BLOCKS) };
}
