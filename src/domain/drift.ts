/**
 * Drift: what Cloudflare shows for a managed prefix, compared with what the bot last set or saw there. Pure: the
 * monitor (src/monitors/drift.ts) reads Cloudflare, keeps the baseline in Redis and turns each difference into a
 * Finding. Bindings are compared by CIDR and service (their provisioning state moves on by itself), delegations by
 * CIDR and account, BGP prefixes by CIDR (advertised, asn_prepend_count).
 */
import type { OperationKind } from './operation.js';

export interface PrefixState {
  prefixId: string;
  accountId: string;
  /** The account prefix. */
  cidr: string;
  bgp: { cidr: string; advertised: boolean | null; prepend: number }[];
  bindings: { cidr: string; service: string }[];
  delegations: { cidr: string; account: string }[];
}

/**
 * The parts of a prefix's state a change kind touches (a request being carried out hides only those from the
 * comparison; a finished one re-baselines only those): a BGP prefix's advertisement, its prepend, which BGP prefixes
 * exist, the bindings, the delegations.
 */
export type DriftSection = 'advertised' | 'prepend' | 'bgp_prefix' | 'binding' | 'delegation';

/** What the request that would put one difference back is: a normal change kind, with approval. */
export interface PutBack {
  kind: Extract<OperationKind, 'advertise' | 'withdraw' | 'bind' | 'unbind' | 'delegate' | 'undelegate'>;
  cidr: string;
  /** What the command names after the prefix (unbind / undelegate: `target`; delegate: `target`, `account`). */
  args?: Record<string, string>;
}

export interface DriftItem {
  /** Unique within the prefix, e.g. `advertised:203.0.113.0/24`, `binding:203.0.113.8/29:CDN`. */
  id: string;
  section: DriftSection;
  what: DriftSection;
  /** The CIDR it is about (the BGP prefix, the binding's, the delegation's). */
  cidr: string;
  /** Plain text, e.g. `advertised`, `withdrawn`, `prepend 0`, `none`, `CDN on 203.0.113.8/29`. */
  before: string;
  after: string;
  /** The request that puts it back as the bot last set it; null when no change kind can (say so on the card). */
  putBack: PutBack | null;
}

/** Which sections a finished request of this kind may have changed. */
export function sectionsOf(kind: OperationKind): DriftSection[] {
  switch (kind) {
    case 'advertise':
    case 'withdraw':
      // A staged withdraw raises asn_prepend_count before the withdraw.
      return ['advertised', 'prepend'];
    case 'bgp_create':
    case 'bgp_delete':
      return ['bgp_prefix'];
    case 'bind':
    case 'unbind':
      // Cloudflare creates the prefix's BGP prefix with its default binding.
      return ['binding', 'bgp_prefix'];
    case 'delegate':
    case 'undelegate':
      return ['delegation'];
    // Onboarding creates the prefix (a first baseline); validate and address maps touch none of these.
    default:
      return [];
  }
}

const advText = (a: boolean | null) => (a === true ? 'advertised' : a === false ? 'withdrawn' : 'unknown (on-demand off)');
const bindText = (b: { cidr: string; service: string }) => `${b.service} on ${b.cidr}`;
const delText = (d: { cidr: string; account: string }) => `${d.cidr} delegated to account ${d.account}`;

/**
 * Every difference between the baseline and what Cloudflare shows now, in a stable order. `skip` leaves sections out
 * (a request on the prefix is changing them right now).
 */
export function compareState(base: PrefixState, now: PrefixState, skip: readonly DriftSection[] = []): DriftItem[] {
  const items: DriftItem[] = [];
  {
    const before = new Map(base.bgp.map((b) => [b.cidr, b]));
    const after = new Map(now.bgp.map((b) => [b.cidr, b]));
    for (const [cidr, b] of before) {
      const a = after.get(cidr);
      if (!a) {
        items.push({ id: `bgp:${cidr}`, section: 'bgp_prefix', what: 'bgp_prefix', cidr, before: `BGP prefix ${cidr} (${advText(b.advertised)})`, after: 'none', putBack: null });
        continue;
      }
      if (a.advertised !== b.advertised) {
        const putBack: PutBack | null = b.advertised === true ? { kind: 'advertise', cidr } : b.advertised === false ? { kind: 'withdraw', cidr } : null;
        items.push({ id: `advertised:${cidr}`, section: 'advertised', what: 'advertised', cidr, before: advText(b.advertised), after: advText(a.advertised), putBack });
      }
      if (a.prepend !== b.prepend) {
        items.push({ id: `prepend:${cidr}`, section: 'prepend', what: 'prepend', cidr, before: `asn_prepend_count ${b.prepend}`, after: `asn_prepend_count ${a.prepend}`, putBack: null });
      }
    }
    for (const [cidr, a] of after) {
      if (!before.has(cidr)) items.push({ id: `bgp:${cidr}`, section: 'bgp_prefix', what: 'bgp_prefix', cidr, before: 'none', after: `BGP prefix ${cidr} (${advText(a.advertised)})`, putBack: null });
    }
  }
  {
    const k = (b: { cidr: string; service: string }) => `${b.cidr}:${b.service}`;
    const before = new Set(base.bindings.map(k));
    const after = new Set(now.bindings.map(k));
    for (const b of base.bindings) {
      if (after.has(k(b))) continue;
      items.push({ id: `binding:${k(b)}`, section: 'binding', what: 'binding', cidr: b.cidr, before: bindText(b), after: 'none', putBack: { kind: 'bind', cidr: base.cidr } });
    }
    for (const b of now.bindings) {
      if (before.has(k(b))) continue;
      items.push({ id: `binding:${k(b)}`, section: 'binding', what: 'binding', cidr: b.cidr, before: 'none', after: bindText(b), putBack: { kind: 'unbind', cidr: base.cidr, args: { target: b.cidr } } });
    }
  }
  {
    const k = (d: { cidr: string; account: string }) => `${d.cidr}:${d.account}`;
    const before = new Set(base.delegations.map(k));
    const after = new Set(now.delegations.map(k));
    for (const d of base.delegations) {
      if (after.has(k(d))) continue;
      items.push({
        id: `delegation:${k(d)}`,
        section: 'delegation',
        what: 'delegation',
        cidr: d.cidr,
        before: delText(d),
        after: 'none',
        putBack: { kind: 'delegate', cidr: base.cidr, args: { target: d.cidr, account: d.account } },
      });
    }
    for (const d of now.delegations) {
      if (before.has(k(d))) continue;
      items.push({ id: `delegation:${k(d)}`, section: 'delegation', what: 'delegation', cidr: d.cidr, before: 'none', after: delText(d), putBack: { kind: 'undelegate', cidr: base.cidr, args: { target: d.cidr } } });
    }
  }
  return items.filter((i) => !skip.includes(i.section));
}

/** The baseline after a request finished: the sections it may have changed taken from what Cloudflare shows now. */
export function rebase(base: PrefixState, now: PrefixState, sections: readonly DriftSection[]): PrefixState {
  const was = new Map(base.bgp.map((b) => [b.cidr, b]));
  const is = new Map(now.bgp.map((b) => [b.cidr, b]));
  // Which BGP prefixes exist follows `bgp_prefix`; each one's advertisement and prepend follow their own sections.
  const cidrs = sections.includes('bgp_prefix') ? now.bgp.map((b) => b.cidr) : base.bgp.map((b) => b.cidr);
  const bgp = cidrs.map((cidr) => {
    const b = was.get(cidr);
    const n = is.get(cidr);
    if (!b) return n!;
    if (!n) return b;
    return { cidr, advertised: sections.includes('advertised') ? n.advertised : b.advertised, prepend: sections.includes('prepend') ? n.prepend : b.prepend };
  });
  return {
    ...base,
    cidr: now.cidr,
    bgp,
    bindings: sections.includes('binding') ? now.bindings : base.bindings,
    delegations: sections.includes('delegation') ? now.delegations : base.delegations,
  };
}

/** One plain sentence for a difference (the alert's title). */
export function driftTitle(item: DriftItem, prefix: string): string {
  switch (item.what) {
    case 'advertised':
      return `${item.cidr} is ${item.after} at Cloudflare, but the bot last left it ${item.before}: someone changed it outside the bot.`;
    case 'prepend':
      return `The AS-path prepend of ${item.cidr} changed at Cloudflare outside the bot (${item.before} -> ${item.after}).`;
    case 'bgp_prefix':
      return item.after === 'none' ? `BGP prefix ${item.cidr} of ${prefix} was deleted at Cloudflare outside the bot.` : `BGP prefix ${item.cidr} was created on ${prefix} at Cloudflare outside the bot.`;
    case 'binding':
      return item.after === 'none' ? `The service binding ${item.before} of ${prefix} was removed at Cloudflare outside the bot.` : `A service binding (${item.after}) was added to ${prefix} at Cloudflare outside the bot.`;
    case 'delegation':
      return item.after === 'none' ? `The delegation ${item.before} of ${prefix} was removed at Cloudflare outside the bot.` : `A delegation (${item.after}) was added to ${prefix} at Cloudflare outside the bot.`;
  }
}

/** The same difference still there: same before and after (a raise with other values updates the alert). */
export function sameItem(a: DriftItem, b: DriftItem): boolean {
  return a.id === b.id && a.before === b.before && a.after === b.after;
}
