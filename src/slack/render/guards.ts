/** Slack text for guards (gates) and checks (informational pre-flight lines), by id. */
import type { Check, Guard } from '../../domain/guards.js';
import { clip, escapeMrkdwn, userText } from '../views/blocks.js';

/** Text we composed around outside data: code spans kept, mentions and links inert. */
const inert = (text: string, max: number) => clip(escapeMrkdwn(text), max);

export const GUARD_ICON = { pass: ':white_check_mark:', warn: ':warning:', block: ':no_entry:' } as const;
const CHECK_ICON = { pass: ':white_check_mark:', fail: ':x:', unknown: ':grey_question:' } as const;

const s = (v: unknown) => (v === null || v === undefined ? '' : String(v));

/** One guard as a sentence, without its icon. */
export function guardText(g: Guard): string {
  const f = g.facts;
  if (g.id === 'own-announcement') {
    switch (f.status) {
      case 'announced':
      case 'covering':
        return `AS${s(f.ownAsn)} (yours) is seen announcing ${s(f.seenPrefix) || s(f.prefix)}${f.peers !== null && f.peers !== undefined ? ` by ${s(f.peers)} peers` : ''}: traffic keeps a path once Cloudflare withdraws.`;
      case 'not_seen':
        return `*AS${s(f.ownAsn)} (yours) is not seen announcing ${s(f.prefix)} or a covering prefix.* Withdrawing now would leave the prefix unreachable. Add the advertisement to your data centre first; only an explicit, audited override lets this through.`;
      case 'no_own_asn':
        return `No own AS is on record for ${s(f.prefix)} in the policy, so the bot cannot check that your data centre announces it. Check a looking glass: once Cloudflare withdraws, the prefix is unreachable unless you announce it.`;
      default:
        return `Could not check whether AS${s(f.ownAsn)} announces ${s(f.prefix)} (${userText(s(f.detail), 300)}). Check a looking glass before going ahead.`;
    }
  }
  return `${g.id}: ${g.status}${f.detail ? ` (${userText(s(f.detail), 300)})` : ''}`;
}

export function guardLine(g: Guard): string {
  return `${GUARD_ICON[g.status]} ${guardText(g)}`;
}

export function checkLine(c: Check): string {
  const f = c.facts;
  if (c.id === 'preflight') {
    if (f.error) return `${CHECK_ICON.unknown} The pre-flight checks could not run: ${userText(s(f.error), 300)}`;
    return c.result === 'pass'
      ? `${CHECK_ICON.pass} Pre-flight: every check Cloudflare will run looks right.`
      : `${CHECK_ICON[c.result]} Pre-flight: ${s(f.failing)} check(s) would fail or could not be read; Cloudflare's validation may fail.`;
  }
  // Check details quote outside systems (IRR, DNS, error texts): shown inert.
  return `${CHECK_ICON[c.result]} ${inert(s(f.check), 100)}: ${inert(s(f.detail), 600)}${f.fix ? ` Fix: ${inert(s(f.fix), 400)}` : ''}`;
}
