/** Look-ups the kinds share: which account prefix / BGP prefix a CIDR names. Reads go through the shared reader. */
import type { BgpPrefix, Prefix } from '../domain/addressing.js';
import { cidrContains, parseCidr } from '../domain/cidr.js';
import type { EnginePolicy } from '../domain/policy.js';
import { InvalidInputError } from '../errors.js';
import type { ReadOptions } from '../operations/coalesce.js';
import type { VisibilitySample } from '../routing/looking-glass.js';
import type { KindDeps } from './types.js';

/** How long intake shares prefix and BGP-prefix lists between callers and replicas. */
export const LIST_SHARE_MS = 2000;

/** The shared lists a change to this operation's prefix makes stale. */
export function listKeysOf(op: { accountId: string; prefixId: string }): string[] {
  return [`prefixes:${op.accountId}`, ...(op.prefixId ? [`bgp-prefixes:${op.prefixId}`] : [])];
}

export type Account = EnginePolicy['cloudflare']['accounts'][number];

export function listPrefixes(deps: KindDeps, accountId: string): Promise<Prefix[]> {
  return deps.reader.read(`prefixes:${accountId}`, LIST_SHARE_MS, () => deps.cloudflare.listPrefixes(accountId));
}

export function listBgpPrefixes(deps: KindDeps, accountId: string, prefixId: string): Promise<BgpPrefix[]> {
  return deps.reader.read(`bgp-prefixes:${prefixId}`, LIST_SHARE_MS, () => deps.cloudflare.listBgpPrefixes(accountId, prefixId));
}

/**
 * The looking glass's sample of one prefix, shared between callers and replicas for `ttlMs` under one key (the watch,
 * the drain gate and the card's drain line read the same thing); `opts.notBefore` refuses a sample fetched earlier.
 */
export function lookingGlassSample(deps: KindDeps, prefix: string, ttlMs: number, opts?: ReadOptions): Promise<VisibilitySample> {
  const revive = (raw: unknown): VisibilitySample => {
    const s = raw as VisibilitySample & { at: string };
    return { ...s, at: new Date(s.at) };
  };
  return deps.reader.read<VisibilitySample>(`lg:${prefix}`, ttlMs, () => deps.routing.sample(prefix), revive, opts);
}

/**
 * What a watch asks of shared reads: none fetched before its change was accepted (the watch starts when Cloudflare
 * has answered). A read made before it shows the world the change has not reached yet: a bind would look missing
 * ("failed" for a change Cloudflare applied), a quick withdraw-then-advertise "done" on the old routes.
 */
export function sinceChange(op: { watch?: { startedAt: number } | null; cloudflare?: { at: number } | null }): ReadOptions {
  return { notBefore: Math.min(op.watch?.startedAt ?? op.cloudflare?.at ?? 0, Date.now()) };
}

/** The first prefix on the policy's accounts, in order, that `match` accepts. */
export async function findAccountPrefix(deps: KindDeps, match: (p: Prefix) => boolean): Promise<{ account: Account; prefix: Prefix } | null> {
  for (const account of deps.policy.cloudflare.accounts) {
    const prefix = (await listPrefixes(deps, account.id)).find(match);
    if (prefix) return { account, prefix };
  }
  return null;
}

export interface ResolvedBgpPrefix {
  accountId: string;
  prefix: Prefix;
  bgp: BgpPrefix;
}

/** Finds the BGP prefix with exactly this CIDR on one of the policy's accounts, or says why there is none. */
export async function resolveBgpPrefix(deps: KindDeps, cidrText: string): Promise<ResolvedBgpPrefix> {
  const cidr = parseCidr(cidrText).text;
  const accounts = deps.policy.cloudflare.accounts;
  for (const account of accounts) {
    for (const prefix of await listPrefixes(deps, account.id)) {
      if (!covers(prefix.cidr, cidr)) continue;
      const bgp = (await listBgpPrefixes(deps, account.id, prefix.id)).find((b) => canonical(b.cidr) === cidr);
      if (bgp) return { accountId: account.id, prefix, bgp };
      if (canonical(prefix.cidr) === cidr) {
        throw new InvalidInputError(
          `${cidr} is on Cloudflare account ${account.name} but has no BGP prefix yet (it needs an approved prefix and an active default service binding first). Check it with /byoip status.`,
        );
      }
    }
  }
  const names = accounts.map((a) => a.name).join(', ');
  throw new InvalidInputError(
    `${cidr} is not a BGP prefix on the Cloudflare account${accounts.length > 1 ? 's' : ''} this bot manages (${names}). Check the CIDR, or see what is there with /byoip status.`,
  );
}

export function canonical(cidr: string): string | null {
  try {
    return parseCidr(cidr).text;
  } catch {
    return null;
  }
}

export function covers(outer: string, inner: string): boolean {
  try {
    return cidrContains(outer, inner);
  } catch {
    return false;
  }
}

/** The account prefix with exactly this CIDR, or a sentence naming the managed accounts and `hint` (what to do). */
export async function exactAccountPrefix(deps: KindDeps, cidr: string, hint: string): Promise<{ accountId: string; prefix: Prefix }> {
  const found = await findAccountPrefix(deps, (p) => canonical(p.cidr) === cidr);
  if (!found) {
    const names = deps.policy.cloudflare.accounts.map((a) => a.name).join(', ');
    throw new InvalidInputError(`${cidr} is not a prefix on the Cloudflare accounts this bot manages (${names}). ${hint}`);
  }
  return { accountId: found.account.id, prefix: found.prefix };
}
