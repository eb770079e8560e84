/**
 * What the standing routing monitor concludes from the routes collector peers hold for one managed prefix (and its
 * more-specifics): pure, no I/O. Each rule gives at most one `Finding` per key; the monitor raises new keys and
 * resolves the ones that disappeared.
 *
 * - `foreign_origin`: our exact prefix (an account prefix or one of its BGP prefixes) originated by an AS that is
 *   neither Cloudflare (AS13335) nor our own (policy `prefixes[].own_asn`): a hijack or a leak.
 * - `more_specific`: a more-specific of our prefix, from anyone (it wins over ours everywhere it is seen).
 * - `rpki_invalid`: an announcement of our exact prefix by an expected origin that RPKI says is invalid (networks
 *   that drop invalids will not carry it). A foreign origin or a more-specific that is also invalid says so on its
 *   own card instead of making a second one.
 * - `low_visibility`: a BGP prefix Cloudflare advertises (settled) seen with an expected origin by fewer peers than
 *   the threshold share of the usual count.
 * - `seen_while_withdrawn`: a BGP prefix Cloudflare says is withdrawn (settled) still seen from AS13335 (a stuck,
 *   "zombie" route); our own AS announcing it is the intended drain, not a finding.
 */
import { cidrContains, parseCidr } from '../domain/cidr.js';
import type { AlertAction, Finding } from './findings.js';

export const CLOUDFLARE_ASN = 13335;

/** One route a collector peer holds (from RIS Live or a poll). */
export interface SeenRoute {
  collector: string;
  peer: string;
  prefix: string;
  path: (number | null)[];
  origin: number | null;
}

export interface ManagedBgpPrefix {
  cidr: string;
  advertised: boolean | null;
  /** Cloudflare's `advertised_modified_at` (ms), when it says. */
  modifiedAt: number | null;
}

/** One account prefix the bot manages, with its BGP prefixes. */
export interface ManagedPrefix {
  cidr: string;
  accountId: string;
  /** Cloudflare's id of the account prefix (to read its BGP prefixes again on their own). */
  prefixId: string;
  bgp: ManagedBgpPrefix[];
  /** Our own origin AS for a CIDR inside this prefix (policy), when the policy names one. */
  ownAsn(cidr: string): number | undefined;
}

export type RpkiState = { state: 'valid' | 'invalid' | 'not-found'; reason?: 'as' | 'length' } | { state: 'unknown'; why: string };

export interface DetectionSettings {
  /** Peers that must see a foreign origin or a more-specific before it is a finding (1: the first peer). */
  minPeers: number;
  /** Share of the usual peer count below which an advertised prefix is low on visibility. */
  minVisibilityShare: number;
  /** After a Cloudflare advertise / withdraw, how long before visibility and withdrawn findings apply. */
  settleMs: number;
}

export interface DetectionInput {
  managed: ManagedPrefix;
  routes: SeenRoute[];
  /** RPKI validity by `<prefix>|<origin>`; absent ones count as unknown. */
  rpki: Map<string, RpkiState>;
  /** Full-table peers usually seeing a prefix of this family. */
  usualPeers: number;
  /** On the clock of Cloudflare's timestamps. */
  now: number;
  settings: DetectionSettings;
  /** Where the view came from, for the card (`RIS Live`, `RIPEstat bgp-state`). */
  source: string;
}

const peerKey = (r: SeenRoute) => `${r.collector}|${r.peer}`;

function canonical(cidr: string): string | null {
  try {
    return parseCidr(cidr).text;
  } catch {
    return null;
  }
}

/** Whether `inner` lies within `outer` (false for text that is no CIDR). */
export function inside(outer: string, inner: string): boolean {
  try {
    return cidrContains(outer, inner);
  } catch {
    return false;
  }
}

export function rpkiText(r: RpkiState | undefined): string {
  if (!r) return 'not checked yet';
  if (r.state === 'unknown') return `unknown (${r.why})`;
  if (r.state === 'invalid') return `invalid (${r.reason === 'length' ? 'longer than the ROA allows' : 'the ROA names another AS'})`;
  return r.state === 'valid' ? 'valid' : 'not found (no ROA covers it)';
}

/** The buttons a routing card offers: the opposite of what Cloudflare does now, and Acknowledge. */
function actionsFor(bgp: ManagedBgpPrefix | undefined): AlertAction[] {
  if (!bgp) return ['acknowledge'];
  return bgp.advertised ? ['emergency_withdraw', 'acknowledge'] : ['emergency_advertise', 'acknowledge'];
}

/** The BGP prefix covering `cidr` most specifically (the one Cloudflare would announce for it). */
function coveringBgp(m: ManagedPrefix, cidr: string): ManagedBgpPrefix | undefined {
  return m.bgp
    .filter((b) => inside(b.cidr, cidr))
    .sort((a, b) => parseCidr(b.cidr).length - parseCidr(a.cidr).length)[0];
}

function cloudflareText(b: ManagedBgpPrefix | undefined): string {
  if (!b) return 'no BGP prefix covers it';
  return `${b.cidr} ${b.advertised ? 'advertised' : b.advertised === false ? 'withdrawn' : 'state unknown'}`;
}

interface Group {
  prefix: string;
  origin: number | null;
  routes: SeenRoute[];
}

/** Routes grouped by (prefix, origin), each peer counted once. */
function groups(routes: SeenRoute[]): Group[] {
  const byKey = new Map<string, Group>();
  const counted = new Set<string>();
  for (const r of routes) {
    const k = `${r.prefix}|${r.origin ?? 'set'}`;
    let g = byKey.get(k);
    if (!g) byKey.set(k, (g = { prefix: r.prefix, origin: r.origin, routes: [] }));
    const peer = `${k}|${peerKey(r)}`;
    if (counted.has(peer)) continue;
    counted.add(peer);
    g.routes.push(r);
  }
  return [...byKey.values()];
}

function originText(o: number | null): string {
  return o === null ? 'an AS_SET' : `AS${o}`;
}

function pathText(r: SeenRoute | undefined): string {
  if (!r) return '-';
  return `${r.collector} ${r.peer}: ${r.path.map((h) => (h === null ? '{set}' : String(h))).join(' ')}`;
}

function collectors(rs: SeenRoute[]): string {
  const c = [...new Set(rs.map((r) => r.collector))].sort();
  return c.length > 6 ? `${c.slice(0, 6).join(', ')} and ${c.length - 6} more` : c.join(', ');
}

export function detectFindings(input: DetectionInput): Finding[] {
  const { managed: m, settings, now } = input;
  const root = canonical(m.cidr);
  if (!root) return [];
  const routes = input.routes.filter((r) => inside(root, r.prefix));
  const exact = new Set([root, ...m.bgp.map((b) => canonical(b.cidr)).filter((c): c is string => c !== null)]);
  const out: Finding[] = [];
  // The card's prefix (what its Emergency buttons act on): the BGP prefix covering what was seen, else ours.
  const base = (prefix: string) => ({ source: 'routing' as const, prefix: coveringBgp(m, prefix)?.cidr ?? root, accountId: m.accountId, observedAt: now, raw: { prefix, source: input.source } });
  const usual = Math.max(1, input.usualPeers);

  for (const g of groups(routes)) {
    const bgp = coveringBgp(m, g.prefix);
    const own = m.ownAsn(g.prefix);
    const expected = g.origin === CLOUDFLARE_ASN || (own !== undefined && g.origin === own);
    const rpki = g.origin === null ? undefined : input.rpki.get(`${g.prefix}|${g.origin}`);
    const peers = g.routes.length;
    const facts = [
      { label: 'Prefix', value: g.prefix },
      { label: 'Origin', value: originText(g.origin) },
      { label: 'Seen by', value: `${peers} of ${usual} collector peers (${collectors(g.routes)})` },
      { label: 'RPKI', value: rpkiText(rpki) },
      { label: 'Example path', value: pathText(g.routes[0]) },
      { label: 'Cloudflare', value: cloudflareText(bgp) },
      { label: 'Our origins', value: `AS${CLOUDFLARE_ASN}${own !== undefined ? `, AS${own}` : ''}` },
      { label: 'Source', value: input.source },
    ];
    if (!exact.has(g.prefix)) {
      if (peers < settings.minPeers) continue;
      out.push({
        ...base(g.prefix),
        key: `routing:${root}:more_specific:${g.prefix}:${g.origin ?? 'set'}`,
        type: 'more_specific',
        title: `${g.prefix}, a more-specific of our ${root}, is announced by ${originText(g.origin)}${expected ? '' : ' (not an origin of ours)'}: it wins over ${root} wherever it is seen.`,
        facts,
        actions: actionsFor(bgp),
      });
      continue;
    }
    if (!expected) {
      if (peers < settings.minPeers) continue;
      out.push({
        ...base(g.prefix),
        key: `routing:${root}:foreign_origin:${g.prefix}:${g.origin ?? 'set'}`,
        type: 'foreign_origin',
        title: `${originText(g.origin)} is announcing our ${g.prefix}: neither Cloudflare (AS${CLOUDFLARE_ASN}) nor our own AS. A possible hijack or route leak.`,
        facts,
        actions: actionsFor(bgp),
      });
      continue;
    }
    if (rpki?.state === 'invalid') {
      out.push({
        ...base(g.prefix),
        key: `routing:${root}:rpki_invalid:${g.prefix}:${g.origin}`,
        type: 'rpki_invalid',
        title: `${originText(g.origin)}'s announcement of ${g.prefix} is RPKI invalid (${rpkiText(rpki)}): networks that drop invalid routes will not carry it.`,
        facts,
        actions: actionsFor(bgp),
      });
    }
  }

  for (const b of m.bgp) {
    const cidr = canonical(b.cidr);
    if (!cidr || b.advertised === null) continue;
    if (b.modifiedAt !== null && now - b.modifiedAt < settings.settleMs) continue;
    const own = m.ownAsn(cidr);
    const seen = routes.filter((r) => r.prefix === cidr);
    const peersOf = (pick: (o: number | null) => boolean) => new Set(seen.filter((r) => pick(r.origin)).map(peerKey)).size;
    const facts = (extra: { label: string; value: string }[]) => [
      { label: 'BGP prefix', value: cidr },
      ...extra,
      { label: 'Since', value: b.modifiedAt !== null ? new Date(b.modifiedAt).toISOString() : 'unknown' },
      { label: 'Source', value: input.source },
    ];
    if (b.advertised) {
      const expectedPeers = peersOf((o) => o === CLOUDFLARE_ASN || (own !== undefined && o === own));
      const threshold = Math.ceil(settings.minVisibilityShare * usual);
      if (expectedPeers < threshold) {
        out.push({
          ...base(cidr),
          key: `routing:${cidr}:low_visibility`,
          type: 'low_visibility',
          title: `${cidr} is advertised at Cloudflare but only ${expectedPeers} of ${usual} collector peers see it from an origin of ours (threshold ${threshold}).`,
          facts: facts([{ label: 'Seen by', value: `${expectedPeers} of ${usual} peers (threshold ${Math.round(settings.minVisibilityShare * 100)}%)` }]),
          actions: ['emergency_withdraw', 'acknowledge'],
        });
      }
    } else {
      const zombies = seen.filter((r) => r.origin === CLOUDFLARE_ASN);
      const n = new Set(zombies.map(peerKey)).size;
      if (n >= 1) {
        out.push({
          ...base(cidr),
          key: `routing:${cidr}:seen_while_withdrawn`,
          type: 'seen_while_withdrawn',
          title: `${cidr} is withdrawn at Cloudflare but ${n} collector peer${n === 1 ? '' : 's'} still see it from AS${CLOUDFLARE_ASN} (a stuck route).`,
          facts: facts([
            { label: 'Still seen by', value: `${n} peers (${collectors(zombies)})` },
            { label: 'Example path', value: pathText(zombies[0]) },
          ]),
          actions: ['emergency_advertise', 'acknowledge'],
        });
      }
    }
  }
  return out;
}
