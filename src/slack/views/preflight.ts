import type { PreflightLine, PreflightReport, PreflightStatus } from '../../routing/preflight.js';
import { context, header, section, type Block } from './blocks.js';

const ICON: Record<PreflightStatus, string> = { pass: '✅', fail: '❌', unknown: '❔' };
const WORD: Record<PreflightStatus, string> = { pass: 'pass', fail: 'FAIL', unknown: 'unknown' };
/** Header, verdict and footer take 3 blocks; Slack allows 50. */
const MAX_LINE_BLOCKS = 45;

/** Slack mrkdwn needs &, < and > escaped; everything else (backticks for records to copy) passes through. */
function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function lineText(l: PreflightLine): string {
  const fix = l.fix && l.status !== 'pass' ? `\n*Fix:* ${escape(l.fix)}` : '';
  return `${ICON[l.status]} *${escape(l.check)}*: ${WORD[l.status]}\n${escape(l.detail)}${fix}`;
}

function verdict(report: PreflightReport): string {
  const fails = report.lines.filter((l) => l.status === 'fail').length;
  const unknown = report.lines.filter((l) => l.status === 'unknown').length;
  if (report.status === 'pass') return `${ICON.pass} Everything Cloudflare checks at validation looks right for *${report.cidr}* (AS${report.asn}).`;
  if (report.status === 'fail') {
    return `${ICON.fail} ${fails} check${fails === 1 ? '' : 's'} would make Cloudflare's validation fail for *${report.cidr}* (AS${report.asn}); fix ${fails === 1 ? 'it' : 'them'} before validating.${unknown ? ` ${unknown} could not be checked.` : ''}`;
  }
  return `${ICON.unknown} Nothing failed for *${report.cidr}* (AS${report.asn}), but ${unknown} check${unknown === 1 ? '' : 's'} could not be made because a routing service did not answer; run the preflight again in a minute.`;
}

function tokenSkippedText(report: PreflightReport): string {
  const skipped = report.tokenSkipped!;
  const why =
    skipped.why === 'not_on_cloudflare'
      ? `${report.cidr} is not on Cloudflare yet, so it has no ownership token to look for; Cloudflare issues one when the prefix is added (\`/byoip onboard ${report.cidr} <asn>\`). Run the preflight again after that.`
      : skipped.why === 'cloudflare_unreadable'
        ? `the bot could not look ${report.cidr} up at Cloudflare just now${skipped.detail ? ` (${skipped.detail})` : ''}; run the preflight again in a minute.`
        : `Cloudflare shows no ownership token for ${report.cidr} (already validated, or Cloudflare is not asking for one).`;
  return `➖ *Ownership token*: not checked\n${escape(why)}`;
}

/** The preflight report as Block Kit: a verdict, then one section per check with what to fix. Under Slack's limits. */
export function preflightBlocks(report: PreflightReport): { text: string; blocks: Block[] } {
  const blocks: Block[] = [header(`Preflight ${report.cidr}`), section(verdict(report))];
  const shown = report.lines.slice(0, MAX_LINE_BLOCKS);
  for (const l of shown) blocks.push(section(lineText(l)));
  const rest = report.lines.slice(MAX_LINE_BLOCKS);
  if (rest.length > 0) blocks.push(section(rest.map((l) => `${ICON[l.status]} ${escape(l.check)}: ${WORD[l.status]}`).join('\n')));
  if (report.tokenSkipped) blocks.push(section(tokenSkippedText(report)));
  blocks.push(context(`Checked ${report.checkedAt.toISOString().replace(/\.\d{3}Z$/, 'Z')} against RPKI, IRR and reverse DNS as seen from the bot. Cloudflare runs its own checks when you validate.`));
  const counts = (['pass', 'fail', 'unknown'] as const).map((s) => `${report.lines.filter((l) => l.status === s).length} ${s}`).join(', ');
  return { text: `Preflight ${report.cidr}: ${report.status} (${counts})`, blocks: blocks.slice(0, 50) };
}
