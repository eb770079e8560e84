/** Slack text for guards (gates) and checks (informational pre-flight lines), by id. */
import type { Check, Guard } from '../../domain/guards.js';
import type { BlastRadiusFacts } from '../../domain/operation.js';
import { humanDuration } from '../../domain/time.js';
import { clip, escapeMrkdwn, userText } from '../views/blocks.js';

/** Text we composed around outside data: code spans kept, mentions and links inert. */
const inert = (text: string, max: number) => clip(escapeMrkdwn(text), max);

export const GUARD_ICON = { pass: '✅', warn: '⚠️', block: '⛔' } as const;
const CHECK_ICON = { pass: '✅', fail: '❌', unknown: '❔' } as const;

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
  if (g.id === 'default-binding') {
    switch (f.status) {
      case 'missing':
        return `${s(f.prefix)} has no default service binding, so Cloudflare has nothing to serve it with. Create the default binding first (it spans the whole prefix) and wait for it to be active.`;
      case 'provisioning':
        return `The default ${s(f.service)} binding of ${s(f.prefix)} is still provisioning (Cloudflare takes 4-6 hours). Advertise once it is active, and five hours after that.`;
      case 'settling':
        return `*The default ${s(f.service)} binding of ${s(f.prefix)} became active only ${s(f.activeFor)} ago.* Cloudflare asks for ${humanDuration(Number(f.settleMs ?? 18_000_000))} before the first advertise (until ${new Date(Number(f.waitUntil)).toISOString().replace(/\.\d+Z$/, 'Z')}); only an explicit, audited override lets it through sooner.`;
      case 'active':
        return `The default ${s(f.service)} binding of ${s(f.prefix)} is active${f.since ? ` (since ${new Date(Number(f.since)).toISOString().replace(/\.\d+Z$/, 'Z')})` : ''}.`;
      default:
        return `Could not read the service bindings of ${s(f.prefix)} (${userText(s(f.detail), 300)}). Check them in the dashboard before going ahead.`;
    }
  }
  if (g.id === 'binding-rules') {
    const problems = (f.problems as string[] | undefined) ?? [];
    return problems.length ? `The binding rules no longer hold: ${problems.slice(0, 3).map((p) => inert(p, 300)).join(' ')}` : 'The binding rules hold: inside the prefix, default binding first, Magic Transit only as the default, CDN or Spectrum per address.';
  }
  if (g.id === 'address-map-rules') {
    const problems = (f.problems as string[] | undefined) ?? [];
    return problems.length ? `The address map rules do not hold: ${problems.slice(0, 3).map((p) => inert(p, 400)).join(' ')}` : 'The address map rules hold: IPs inside the account\'s prefixes, each once; the map may be changed this way.';
  }
  if (g.id === 'bgp-withdrawn') {
    if (f.gone) return `BGP prefix ${s(f.prefix)} is no longer listed at Cloudflare; there is nothing to delete.`;
    return f.advertised
      ? `*BGP prefix ${s(f.prefix)} is advertised*, and Cloudflare deletes only a withdrawn one. Fix: withdraw it first (\`/byoip withdraw ${s(f.prefix)}\`), then ask again.`
      : `BGP prefix ${s(f.prefix)} is withdrawn: deleting it changes nothing announced.`;
  }
  if (g.id === 'cdn-address-map') {
    return `CDN bindings (${((f.bindings as string[]) ?? []).join(', ')}) exist, but no enabled address map points DNS answers at them: proxied hostnames will not use these addresses until one does.`;
  }
  if (g.id === 'delegated') {
    const list = ((f.delegations as { cidr: string; account: string }[]) ?? []).map((d) => `${d.cidr} to account \`${d.account.slice(0, 8)}…\``).join(', ');
    return `Parts of the prefix are delegated (${list}); their service bindings live on the other account and are not visible here. Check with that account that they are ready.`;
  }
  if (g.id === 'unbind-rules') {
    if (f.unreadable) return `Could not re-read the bindings and BGP prefixes (${userText(s(f.unreadable), 300)}); Cloudflare refuses removing a default binding while others exist or the prefix is advertised.`;
    return f.problem ? inert(s(f.problem), 600) : `Removing the binding on ${s(f.cidr)} is allowed now${f.isDefault ? ' (the default: no other bindings, nothing advertised)' : ''}.`;
  }
  if (g.id === 'delegation-rules') {
    const problems = (f.problems as string[] | undefined) ?? [];
    return problems.length ? `The delegation rules no longer hold: ${problems.slice(0, 3).map((p) => inert(p, 300)).join(' ')}` : 'The delegation rules hold: inside the prefix, not to the owning account, no overlap with another delegation.';
  }
  return `${g.id}: ${g.status}${f.detail ? ` (${userText(s(f.detail), 300)})` : ''}`;
}

/** What else the change touches, as card lines (bounded: Slack's block limits). */
export function blastRadiusLines(b: BlastRadiusFacts): string[] {
  if (b.error) return [`❔ What else this touches could not be read (${userText(b.error, 200)}); check the bindings, delegations and address maps in the dashboard.`];
  const lines: string[] = [];
  const cap = <T>(xs: T[], n: number, f: (x: T) => string) => `${xs.slice(0, n).map(f).join(', ')}${xs.length > n ? `, and ${xs.length - n} more` : ''}`;
  if (b.bindings.length) lines.push(`Service bindings: ${cap(b.bindings, 20, (x) => `${x.cidr} ${x.service} (${x.state})`)}`);
  if (b.delegations.length) lines.push(`Delegated: ${cap(b.delegations, 10, (x) => `${x.cidr} → account \`${x.account.slice(0, 8)}…\``)}`);
  if (b.addressMaps.length) {
    lines.push(
      `Address maps: ${cap(b.addressMaps, 5, (m) => `${userText(m.description ?? m.id.slice(0, 8), 60)} (${m.enabled ? 'enabled' : 'disabled'}; ${m.ips.length} IP(s); DNS answers of ${m.zones.length} zone(s)${m.accounts.length ? ` and ${m.accounts.length} account(s)` : ''})`)}`,
    );
  }
  if (b.bgpPrefixes.length) lines.push(`Other BGP prefixes of this prefix: ${cap(b.bgpPrefixes, 10, (x) => `${x.cidr} (${x.advertised ? 'advertised' : 'withdrawn'})`)}`);
  if (!lines.length) lines.push('Nothing else on this prefix: no other bindings, delegations, address maps or BGP prefixes.');
  return lines;
}

export function guardLine(g: Guard): string {
  return `${GUARD_ICON[g.status]} ${guardText(g)}`;
}

export function checkLine(c: Check): string {
  const f = c.facts;
  if (c.id === 'withdraw:drain') {
    const conv = humanDuration(Number(f.convergenceMs ?? 0));
    const gate2 = f.prepend ? `, then raises AS13335's AS-path prepend 1 → 3 with ${humanDuration(Number(f.prependPauseMs ?? 0))} between steps` : '';
    const hunt = ` After the withdraw, routes still seen via AS13335 ${humanDuration(Number(f.zombieAfterMs ?? 0))} later are listed as stuck (zombie) routes.`;
    if (!f.ownAsn) return `Staged withdraw: no own AS on record for ${s(f.prefix)}, so gate 1 (own announcement) cannot run${gate2 ? `; it only raises AS13335's AS-path prepend 1 → 3 first` : ''}.${hunt}`;
    const now = f.error ? ` Now: the looking glass could not be read (${userText(s(f.error), 200)}).` : ` Now: seen on ${s(f.pct)}% (${s(f.seen)}/${s(f.usual)}).`;
    const undrained = f.mode === 'when_announced' ? ' If AS' + s(f.ownAsn) + ' does not announce it at all, it goes ahead undrained (policy).' : '';
    return `*Staged withdraw (Cloudflare's drain):* once approved, nothing is sent until AS${s(f.ownAsn)} announcing ${s(f.prefix)} itself (same length) is seen on ${s(f.minPct)}% of the usual peers for ${conv}${gate2}.${now}${undrained}${hunt} An approver may skip the gates (audited).`;
  }
  if (c.id === 'bind:propagation') return 'Cloudflare takes 4-6 hours to provision a binding (and as long to delete one); traffic on these addresses may be disrupted meanwhile.';
  if (c.id === 'address-map:dns') {
    const zones = ((f.zones as string[] | undefined) ?? []).map((z) => `\`${inert(z, 40)}\``);
    const who = [...(zones.length ? [`zone${zones.length > 1 ? 's' : ''} ${zones.slice(0, 10).join(', ')}${zones.length > 10 ? `, and ${zones.length - 10} more` : ''}`] : []), ...(f.accountWide ? ['every zone of the account without a zone-level map (the account membership)'] : [])];
    const lines = [
      f.changes
        ? `⚠️ *DNS answers change* for ${who.join(' and ')}: proxied hostnames there answer with different addresses once this is applied.`
        : `${CHECK_ICON.pass} No DNS answer changes: ${f.enabled ? 'no member zone or account is affected' : 'the map is disabled (or gets no members), so it answers nothing'}.`,
    ];
    if (f.precedence) lines.push('A zone membership outranks an account membership: the member zones answer from this map\'s zone membership; the account membership covers the account\'s other zones.');
    return lines.join(' ');
  }
  if (c.id === 'bind:magic-transit') return 'Magic Transit customers: follow the Magic Transit onboarding guide (tunnels, routes) before traffic is sent to these addresses.';
  if (c.id === 'unbind:deletion') return `Cloudflare takes 4-6 hours to delete a binding; once it is gone, traffic on ${s(f.cidr)} is no longer served by ${userText(s(f.service), 60)}.`;
  if (c.id === 'delegate:bindings-stay') return `Service bindings of ${s(f.cidr)} stay on this (the parent) account; the other account uses the addresses, it does not bind them.`;
  if (c.id === 'undelegate:account-loses') return `Account \`${s(f.account)}\` loses ${s(f.cidr)}: its address maps on those addresses stop answering.`;
  if (c.id === 'preflight') {
    if (f.error) return `${CHECK_ICON.unknown} The pre-flight checks could not run: ${userText(s(f.error), 300)}`;
    return c.result === 'pass'
      ? `${CHECK_ICON.pass} Pre-flight: every check Cloudflare will run looks right.`
      : `${CHECK_ICON[c.result]} Pre-flight: ${s(f.failing)} check(s) would fail or could not be read; Cloudflare's validation may fail.`;
  }
  // Check details quote outside systems (IRR, DNS, error texts): shown inert.
  return `${CHECK_ICON[c.result]} ${inert(s(f.check), 100)}: ${inert(s(f.detail), 600)}${f.fix ? ` Fix: ${inert(s(f.fix), 400)}` : ''}`;
}
