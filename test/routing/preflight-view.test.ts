import { describe, expect, it } from 'vitest';
import { preflightBlocks } from '../../src/slack/views/preflight.js';
import type { PreflightReport } from '../../src/routing/preflight.js';

const base: PreflightReport = {
  cidr: '198.51.100.0/23',
  asn: 13335,
  status: 'fail',
  checkedAt: new Date('2026-07-13T10:00:00Z'),
  lines: [
    { check: 'Prefix size', status: 'pass', detail: '198.51.100.0/23 can be announced.' },
    {
      check: 'RPKI for /24s in 198.51.100.0/23',
      status: 'fail',
      detail: 'RPKI invalid (length): the ROA 198.51.100.0/23 AS13335 maxLength 23 does not allow /24.',
      fix: 'Raise the maxLength of the ROA 198.51.100.0/23 AS13335 to 24.',
    },
    { check: 'IRR route object for 198.51.100.0/23', status: 'unknown', detail: 'IRR <whois> did not answer & timed out.', fix: 'Run again.' },
  ],
};

type Section = { type: string; text?: { text: string } };

describe('preflightBlocks', () => {
  it('shows a verdict, each check with its status and fix, and escapes mrkdwn', () => {
    const { text, blocks } = preflightBlocks(base);
    expect(text).toBe('Preflight 198.51.100.0/23: fail (1 pass, 1 fail, 1 unknown)');
    const texts = (blocks as Section[]).map((b) => b.text?.text ?? '');
    expect(texts[1]).toMatch(/1 check would make Cloudflare's validation fail/);
    expect(texts.find((t) => t.includes('RPKI for /24s'))).toMatch(/❌ .*FAIL[\s\S]*\*Fix:\* Raise the maxLength/);
    expect(texts.find((t) => t.includes('IRR route object'))).toContain('IRR &lt;whois&gt; did not answer &amp; timed out.');
    expect(texts.find((t) => t.includes('Prefix size'))).not.toContain('Fix');
  });

  it('says why the ownership token was not checked', () => {
    const shown = (r: PreflightReport) => (preflightBlocks(r).blocks as Section[]).map((b) => b.text?.text ?? '').join('\n');
    expect(shown(base)).not.toContain('Ownership token');
    expect(shown({ ...base, tokenSkipped: { why: 'not_on_cloudflare' } })).toMatch(
      /➖ \*Ownership token\*: not checked\n198\.51\.100\.0\/23 is not on Cloudflare yet, so it has no ownership token to look for; Cloudflare issues one when the prefix is added \(`\/byoip onboard 198\.51\.100\.0\/23 &lt;asn&gt;`\)/,
    );
    expect(shown({ ...base, tokenSkipped: { why: 'cloudflare_unreadable', detail: 'budget <used up>' } })).toMatch(/could not look 198\.51\.100\.0\/23 up at Cloudflare just now \(budget &lt;used up&gt;\)/);
    expect(shown({ ...base, tokenSkipped: { why: 'no_token' } })).toMatch(/Cloudflare shows no ownership token/);
  });

  it('stays within 50 blocks and 3000 characters per section', () => {
    const lines = Array.from({ length: 80 }, (_, i) => ({ check: `Check ${i}`, status: 'fail' as const, detail: 'x'.repeat(4000), fix: 'y' }));
    const { blocks } = preflightBlocks({ ...base, lines });
    expect(blocks.length).toBeLessThanOrEqual(50);
    for (const b of blocks as Section[]) if (b.type === 'section') expect(b.text!.text.length).toBeLessThanOrEqual(3000);
    expect(JSON.stringify(blocks)).toContain('Check 79');
  });

  it('says pass and unknown plainly', () => {
    expect((preflightBlocks({ ...base, status: 'pass', lines: [base.lines[0]!] }).blocks[1] as Section).text!.text).toMatch(/looks right/);
    expect((preflightBlocks({ ...base, status: 'unknown', lines: [base.lines[0]!, base.lines[2]!] }).blocks[1] as Section).text!.text).toMatch(/could not be made/);
  });
});
