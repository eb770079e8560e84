/** Which managed prefix a CIDR or a single IP of an alert falls under: the most specific BGP prefix covering it. */
import { parseCidr } from '../domain/cidr.js';
import { canonical, covers, listBgpPrefixes, listPrefixes } from '../kinds/lookup.js';
import type { KindDeps } from '../kinds/types.js';

export interface ManagedPrefix {
  /** What an emergency advertise / withdraw acts on: the covering BGP prefix, else the account prefix. */
  cidr: string;
  accountId: string;
  prefixId: string;
  /** The account prefix (the blast radius is read from it). */
  accountPrefix: string;
  /** Whether the covering BGP prefix is advertised now (null: no BGP prefix covers it). */
  advertised: boolean | null;
}

/** `203.0.113.7` -> `203.0.113.7/32`; a CIDR as it is (canonical). Throws a sentence on anything else. */
export function asCidr(text: string): string {
  const t = text.trim();
  return parseCidr(t.includes('/') ? t : `${t}/${t.includes(':') ? 128 : 32}`).text;
}

/**
 * The managed prefix covering `cidr` on the policy's Cloudflare accounts (shared, coalesced reads), or null when
 * none of ours covers it. A notification about a wider prefix that contains ours (a hijack of a covering /22) also
 * names ours.
 */
export async function coveringManaged(deps: KindDeps, cidrText: string): Promise<ManagedPrefix | null> {
  const cidr = asCidr(cidrText);
  for (const account of deps.policy.cloudflare.accounts) {
    for (const prefix of await listPrefixes(deps, account.id)) {
      const pc = canonical(prefix.cidr);
      if (!pc) continue;
      if (covers(pc, cidr)) {
        const bgp = (await listBgpPrefixes(deps, account.id, prefix.id)).filter((b) => covers(b.cidr, cidr));
        const best = bgp.sort((a, b) => Number(b.cidr.split('/')[1]) - Number(a.cidr.split('/')[1]))[0];
        return { cidr: best ? (canonical(best.cidr) ?? pc) : pc, accountId: account.id, prefixId: prefix.id, accountPrefix: pc, advertised: best ? best.onDemand.advertised : null };
      }
      if (covers(cidr, pc)) return { cidr: pc, accountId: account.id, prefixId: prefix.id, accountPrefix: pc, advertised: null };
    }
  }
  return null;
}
