import { describeState } from '../../domain/operation.js';
import type { StatusReport } from '../../operations/service.js';
import { blastRadiusLines } from '../render/guards.js';
import { context, header, section, type Block } from './blocks.js';

/** `/byoip status`: one line per prefix and BGP prefix, then the open requests. Stays under 50 blocks. */
export function statusReportBlocks(report: StatusReport): { text: string; blocks: Block[] } {
  const blocks: Block[] = [header('BYOIP prefixes')];
  if (report.prefixes.length === 0) blocks.push(section('No prefixes match on the Cloudflare accounts this bot manages.'));
  for (const row of report.prefixes.slice(0, 30)) {
    const p = row.prefix;
    const validation = p.approved === 'V' ? 'approved' : `pending validation (IRR ${p.irrValidationState}, RPKI ${p.rpkiValidationState}, ownership ${p.ownershipValidationState})`;
    const bgp = row.bgp.length
      ? row.bgp.map((b) => `${b.cidr}: ${b.onDemand.advertised ? '🟢 advertised' : '⚪ withdrawn'}${b.onDemand.locked ? ' 🔒 locked' : ''}`).join(' · ')
      : 'no BGP prefix yet';
    blocks.push(section(`*${p.cidr}* (${row.account}) — ${validation}\n${bgp}`));
    if (row.blast) {
      // One prefix: everything the life cycle has put on it.
      const loa = p.loaDocumentId ? `LOA on file (\`${p.loaDocumentId.slice(0, 8)}…\`)` : p.delegateLoaCreation ? 'LOA: Cloudflare generates it' : 'no LOA on file';
      const bgpDetail = row.bgp.map((b) => `${b.cidr} prepend ${b.asnPrependCount}, auto advertise/withdraw ${b.autoAdvertiseWithdraw ? 'on' : 'off'}`).join(' · ');
      blocks.push(context(`${loa}${bgpDetail ? ` · BGP: ${bgpDetail}` : ''}`));
      blocks.push(context(blastRadiusLines(row.blast).join(' · ')));
    }
  }
  if (report.prefixes.length > 30) blocks.push(context(`…and ${report.prefixes.length - 30} more; narrow it with \`/byoip status <cidr>\`.`));
  if (report.open.length) {
    blocks.push(section('*Open requests*'));
    for (const op of report.open.slice(0, 10)) blocks.push(context(`${op.kind} ${op.prefix} by <@${op.requestedBy}>: ${describeState(op.state)} (\`${op.id}\`)`));
  } else {
    blocks.push(context('No open requests.'));
  }
  const reviews = report.reviews ?? [];
  if (reviews.length) {
    blocks.push(section(`*Break-glass changes waiting for review* (${reviews.length})`));
    for (const op of reviews.slice(0, 5)) blocks.push(context(`${op.kind} ${op.prefix} by <@${op.requestedBy}>: ${describeState(op.state)} (\`${op.id}\`); an approver clicks Mark reviewed on its card`));
  }
  const text = report.prefixes.map((r) => `${r.prefix.cidr}: ${r.bgp.map((b) => (b.onDemand.advertised ? 'advertised' : 'withdrawn')).join(', ') || 'no BGP prefix'}`).join('; ');
  return { text: text || 'No prefixes', blocks: blocks.slice(0, 50) };
}
