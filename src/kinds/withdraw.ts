/**
 * Withdraw a BGP prefix from Cloudflare (on_demand.advertised -> false), followed until the route is gone. Guarded by
 * the own-announcement check: Cloudflare's guidance is to announce the prefix from your own network first.
 */
import type { Guard } from '../domain/guards.js';
import type { Operation } from '../domain/operation.js';
import { ownAsnOf } from '../domain/policy.js';
import { userMessageOf } from '../errors.js';
import type { OwnAnnouncement } from '../routing/pre-withdraw.js';
import { applyAdvertisement, intakeBgpPrefix, verifyAdvertisement } from './bgp-advertisement.js';
import { readBlastRadius } from './blast-radius.js';
import type { ChangeKind, KindDeps } from './types.js';

export const OWN_ANNOUNCEMENT = 'own-announcement';

/**
 * Our AS seen announcing the prefix or a covering one: pass. Not seen: block (the prefix would become unreachable),
 * which an approver may override explicitly. Look-up failed, or no own AS in the policy: warn.
 */
export async function ownAnnouncementGuard(deps: KindDeps, prefix: string): Promise<Guard> {
  const checkedAt = deps.now();
  const ownAsn = ownAsnOf(deps.policy, prefix);
  if (!ownAsn || !deps.ownAnnouncement) {
    return { id: OWN_ANNOUNCEMENT, status: 'warn', overridable: true, facts: { prefix, status: 'no_own_asn' }, checkedAt };
  }
  let seen: OwnAnnouncement;
  try {
    seen = await deps.ownAnnouncement(prefix, ownAsn);
  } catch (err) {
    seen = { status: 'unknown', detail: userMessageOf(err) };
  }
  const facts = { prefix, ownAsn, status: seen.status, seenPrefix: seen.seenPrefix ?? null, peers: seen.peers ?? null, detail: seen.detail };
  switch (seen.status) {
    case 'announced':
    case 'covering':
      return { id: OWN_ANNOUNCEMENT, status: 'pass', overridable: false, facts, checkedAt };
    case 'not_seen':
      return { id: OWN_ANNOUNCEMENT, status: 'block', overridable: true, facts, checkedAt };
    default:
      return { id: OWN_ANNOUNCEMENT, status: 'warn', overridable: true, facts, checkedAt };
  }
}

export const withdraw: ChangeKind = {
  kind: 'withdraw',
  breakGlass: true,
  intake: (deps, req) => intakeBgpPrefix(deps, 'withdraw', req),
  async plan(deps, op: Operation) {
    const [guard, { blast }] = await Promise.all([ownAnnouncementGuard(deps, op.prefix), readBlastRadius(deps, op.accountId, op.prefixId, op.prefix, op.bgpPrefixId)]);
    return { guards: [guard], checks: [], blast };
  },
  apply: (deps, op, tools) => applyAdvertisement(deps, 'withdraw', op, tools),
  verify: (deps, op) => verifyAdvertisement(deps, 'withdraw', op),
};
