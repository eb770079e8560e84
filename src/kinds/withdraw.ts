/**
 * Withdraw a BGP prefix from Cloudflare (on_demand.advertised -> false), followed until the route is gone. Guarded by
 * the own-announcement check: Cloudflare's guidance is to announce the prefix from your own network first. Staged
 * (src/kinds/drain.ts): the drain gates before the PATCH, the zombie hunt after it (bgp-advertisement.ts).
 */
import type { Guard } from '../domain/guards.js';
import type { Operation } from '../domain/operation.js';
import { ownAsnOf, prependsBeforeWithdraw, withdrawPolicyOf } from '../domain/policy.js';
import { userMessageOf } from '../errors.js';
import { lookingGlassSample } from './lookup.js';
import type { OwnAnnouncement } from '../routing/pre-withdraw.js';
import { applyAdvertisement, intakeBgpPrefix, verifyAdvertisement } from './bgp-advertisement.js';
import { readBlastRadius } from './blast-radius.js';
import { drainGateIds, drainStage } from './drain.js';
import { DEFAULT_DRAIN, type Check, type ChangeKind, type KindDeps } from './types.js';

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

/**
 * The card's line about the staged withdraw: what the gates will wait for, and what the looking glass shows now.
 * Informational (a check): the gates themselves run after approval, each look stored on the record.
 */
export async function drainCheck(deps: KindDeps, op: Operation): Promise<Check | null> {
  const ownAsn = ownAsnOf(deps.policy, op.prefix);
  const prepend = prependsBeforeWithdraw(deps.policy, op.prefix);
  const pol = withdrawPolicyOf(deps.policy);
  const drain = deps.drain ?? DEFAULT_DRAIN;
  const base = { prefix: op.prefix, ownAsn: ownAsn ?? null, prepend, gates: drainGateIds(deps, op), minPct: Math.round(pol.own_announcement_min_share * 100), convergenceMs: drain.convergenceMs, prependPauseMs: drain.prependPauseMs, zombieAfterMs: drain.zombieAfterMs, mode: pol.drain };
  if (!ownAsn) return prepend ? { id: 'withdraw:drain', result: 'unknown', facts: base } : null;
  try {
    const [sample, usual] = await Promise.all([
      lookingGlassSample(deps, op.prefix, 1000),
      deps.reader.read<number>(`usual-peers:${op.prefix.includes(':') ? 6 : 4}`, 3600_000, () => deps.routing.usualPeerCount(op.prefix)),
    ]);
    const seen = sample.byOrigin[ownAsn] ?? 0;
    const pct = usual > 0 ? Math.round((100 * seen) / usual) : 0;
    return { id: 'withdraw:drain', result: pct >= base.minPct ? 'pass' : 'fail', facts: { ...base, seen, usual, pct } };
  } catch (err) {
    return { id: 'withdraw:drain', result: 'unknown', facts: { ...base, error: userMessageOf(err) } };
  }
}

export const withdraw: ChangeKind = {
  kind: 'withdraw',
  breakGlass: true,
  intake: (deps, req) => intakeBgpPrefix(deps, 'withdraw', req),
  async plan(deps, op: Operation) {
    const [guard, { blast }, drain] = await Promise.all([ownAnnouncementGuard(deps, op.prefix), readBlastRadius(deps, op.accountId, op.prefixId, op.prefix, op.bgpPrefixId), drainCheck(deps, op)]);
    return { guards: [guard], checks: drain ? [drain] : [], blast };
  },
  stage: (deps, op, tools) => drainStage(deps, op, tools),
  gateIds: (deps, op) => drainGateIds(deps, op),
  apply: (deps, op, tools) => applyAdvertisement(deps, 'withdraw', op, tools),
  verify: (deps, op) => verifyAdvertisement(deps, 'withdraw', op),
};
