/**
 * What advertise and withdraw share: both flip one BGP prefix's `on_demand.advertised` and follow it, first on
 * Cloudflare, then on the route collectors. The two kind modules (advertise.ts, withdraw.ts) add their guards and
 * their verdict rules.
 */
import type { BgpPrefix } from '../domain/addressing.js';
import type { OpEvent } from '../domain/events.js';
import { BotError, ErrorCode, InvalidInputError } from '../errors.js';
import type { Operation } from '../domain/operation.js';
import { ownAsnOf } from '../domain/policy.js';
import { DEFAULT_EXPECTED_ORIGIN, evaluatePropagation, type PropagationReport } from '../routing/propagation.js';
import { lookingGlassSample, resolveBgpPrefix, sinceChange } from './lookup.js';
import { DEFAULT_DRAIN, type ApplyResult, type ApplyTools, type IntakeRequest, type KindDeps, type Target, type VerifyStep } from './types.js';

export type Direction = 'advertise' | 'withdraw';

const wanted = (d: Direction) => d === 'advertise';

/** The BGP prefix, refused when locked or already in the wanted state. */
export async function intakeBgpPrefix(deps: KindDeps, direction: Direction, req: IntakeRequest): Promise<Target> {
  const resolved = await resolveBgpPrefix(deps, req.cidr);
  const target = wanted(direction);
  if (resolved.bgp.onDemand.locked) {
    throw new BotError(
      ErrorCode.CloudflareConflict,
      `${req.cidr} is locked for on-demand changes at Cloudflare (on_demand_locked), so it cannot be ${target ? 'advertised' : 'withdrawn'} from here. Ask your Cloudflare account team to unlock it.`,
    );
  }
  if (resolved.bgp.onDemand.advertised === target) {
    throw new InvalidInputError(`${req.cidr} is already ${target ? 'advertised' : 'withdrawn'} at Cloudflare; nothing to do, and nothing was sent.`);
  }
  return {
    accountId: resolved.accountId,
    prefixId: resolved.prefix.id,
    bgpPrefixId: resolved.bgp.id,
    params: { accountPrefix: resolved.prefix.cidr },
    before: { advertised: resolved.bgp.onDemand.advertised },
  };
}

/** Reads the BGP prefix, skips what is already true, refuses a locked one, else sends the one PATCH. */
export async function applyAdvertisement(deps: KindDeps, direction: Direction, op: Operation, tools: ApplyTools): Promise<ApplyResult> {
  const bgpPrefixId = op.bgpPrefixId;
  if (!bgpPrefixId) return { outcome: 'refused', step: 'no_bgp_prefix', facts: {} };
  const target = wanted(direction);
  const current = await deps.cloudflare.getBgpPrefix(op.accountId, op.prefixId, bgpPrefixId);
  await tools.audit('cloudflare_read', { advertised: current.onDemand.advertised, locked: current.onDemand.locked });
  // The staged withdraw's gate 2 raised the AS-path prepend: set it back in the same PATCH, so the next advertise
  // is not prepended by surprise.
  const resetPrepend = !target && typeof op.stage?.data.prependStep === 'number' && op.stage.data.prependStep > 0 && current.asnPrependCount > 0 && deps.cloudflare.withdrawBgpPrefix ? 0 : null;
  const request = `PATCH /accounts/${op.accountId}/addressing/prefixes/${op.prefixId}/bgp/prefixes/${bgpPrefixId} {"on_demand":{"advertised":${target}}${resetPrepend !== null ? ',"asn_prepend_count":0' : ''}}`;
  const facts = (b: BgpPrefix) => ({ advertised: b.onDemand.advertised, modifiedAt: b.onDemand.advertisedModifiedAt ?? null });
  if (current.onDemand.advertised === target) {
    // Already true: either someone else did it, or our own earlier attempt went through before a crash.
    return { outcome: tools.calledBefore ? 'called' : 'skipped', request, result: facts(current), facts: facts(current) };
  }
  if (current.onDemand.locked) return { outcome: 'refused', step: 'locked', facts: { direction } };
  const withdrawReset = deps.cloudflare.withdrawBgpPrefix;
  const result = await tools.send(request, () =>
    resetPrepend !== null && withdrawReset ? withdrawReset.call(deps.cloudflare, op.accountId, op.prefixId, bgpPrefixId, resetPrepend) : deps.cloudflare.setBgpPrefixAdvertised(op.accountId, op.prefixId, bgpPrefixId, target),
  );
  return { outcome: 'called', request, result: facts(result), facts: facts(result) };
}

interface AdvertisementWatch {
  phase: 'cloudflare' | 'routing';
  lastPostedPeers: number | null;
  lastVerdict: string | null;
  flaggedOrigins: number[];
  /** Withdraw: when the route collectors first showed the route gone from most peers (the zombie hunt waits on). */
  withdrawnAt: number | null;
}

function watchData(op: Operation): AdvertisementWatch {
  const d = op.watch?.data ?? {};
  return {
    phase: d.phase === 'routing' ? 'routing' : 'cloudflare',
    lastPostedPeers: typeof d.lastPostedPeers === 'number' ? d.lastPostedPeers : null,
    lastVerdict: typeof d.lastVerdict === 'string' ? d.lastVerdict : null,
    flaggedOrigins: Array.isArray(d.flaggedOrigins) ? (d.flaggedOrigins as number[]) : [],
    withdrawnAt: typeof d.withdrawnAt === 'number' ? d.withdrawnAt : null,
  };
}

/**
 * One tick: Cloudflare's own state first, then the looking glass. The verdict: `done` when the Internet agrees and no
 * other origin holds peers; `contested` when it agrees but an unexpected origin holds peers (a hijack or leak: say
 * who, and what not to do yet).
 */
export async function verifyAdvertisement(deps: KindDeps, direction: Direction, op: Operation): Promise<VerifyStep> {
  const w = watchData(op);
  const ttl = Math.max(1, Math.floor(deps.watch.pollIntervalMs * 0.8));
  const target = wanted(direction);
  // Shared reads, but none made before the change was accepted (the drain check's sample, an earlier request's).
  const fresh = sinceChange(op);
  if (w.phase === 'cloudflare') {
    const bgpPrefixId = op.bgpPrefixId ?? '';
    const bgp = await deps.reader.read<BgpPrefix>(`cf-bgp:${bgpPrefixId}`, ttl, () => deps.cloudflare.getBgpPrefix(op.accountId, op.prefixId, bgpPrefixId), undefined, fresh);
    if (bgp.onDemand.advertised !== target) return { events: [] };
    const since = bgp.onDemand.advertisedModifiedAt ?? null;
    return {
      events: [{ type: 'progress', step: 'cloudflare_confirmed', facts: { advertised: target, since } }],
      // The card's line (the event itself is card-only): Cloudflare agrees, the collectors are next.
      latest: `Cloudflare reports ${op.prefix} ${target ? 'advertised' : 'withdrawn'}${since ? ` since ${since}` : ''}; watching route collectors.`,
      data: { phase: 'routing' },
      nextDelayMs: 0,
    };
  }
  const sample = await lookingGlassSample(deps, op.prefix, ttl, fresh);
  const usual = await deps.reader.read<number>(`usual-peers:${op.prefix.includes(':') ? 6 : 4}`, 3600_000, () => deps.routing.usualPeerCount(op.prefix));
  const own = ownAsnOf(deps.policy, op.prefix);
  const elapsed = deps.now() - (op.watch?.startedAt ?? deps.now());
  const report = evaluatePropagation({
    action: direction,
    sample,
    ownOrigins: own ? [own] : [],
    usualPeerCount: usual,
    elapsedMs: elapsed,
    escalateAfterMs: deps.watch.escalateAfterMs[direction],
  });
  const events: OpEvent[] = [];
  const data: Partial<AdvertisementWatch> = { lastVerdict: report.verdict };
  // The thread gets a sample when the verdict changes or visibility moved by a tenth of the usual peers: the story
  // climbs or falls in a few lines instead of one reply per tick. The card always shows the latest.
  const step = Math.max(3, Math.round(report.usualPeerCount / 10));
  if (w.lastPostedPeers === null || report.verdict !== w.lastVerdict || Math.abs(report.peersWithExpectedOrigin - w.lastPostedPeers) >= step) {
    if (report.summary !== op.watch?.latest) {
      events.push({ type: 'progress', step: 'sample', facts: { summary: report.summary, peers: report.peersWithExpectedOrigin, usual: report.usualPeerCount } });
      data.lastPostedPeers = report.peersWithExpectedOrigin;
    }
  }
  const newOrigins = report.unexpectedOrigins.filter((o) => !w.flaggedOrigins.includes(o.asn));
  if (newOrigins.length > 0) {
    events.push({ type: 'unexpected_origin', origins: newOrigins, summary: report.summary });
    data.flaggedOrigins = [...w.flaggedOrigins, ...newOrigins.map((o) => o.asn)];
  }
  const reached = (direction === 'advertise' && report.verdict === 'propagated') || (direction === 'withdraw' && report.verdict === 'withdrawn');
  const result: VerifyStep = { events, data, latest: report.summary, sampled: true };
  if (reached && direction === 'withdraw') {
    // The zombie hunt: Cloudflare's route is gone from most peers; whoever still has it via AS13335 once the hunt's
    // time has come is a stuck route.
    const drain = deps.drain ?? DEFAULT_DRAIN;
    const now = deps.now();
    const withdrawnAt = w.withdrawnAt ?? now;
    const huntAt = Math.max((op.watch?.startedAt ?? now) + drain.zombieAfterMs, withdrawnAt + drain.zombieSettleMs);
    if (w.withdrawnAt === null) data.withdrawnAt = withdrawnAt;
    if (now < huntAt) {
      if (w.withdrawnAt === null) events.push({ type: 'progress', step: 'zombie_hunt', facts: { at: huntAt, peers: report.peersWithExpectedOrigin } });
      result.latest = `${report.summary}; looking for stuck (zombie) routes via AS13335 at ${new Date(huntAt).toISOString().replace(/\.\d+Z$/, 'Z')}`;
      result.nextDelayMs = Math.max(1, Math.min(deps.watch.pollIntervalMs, huntAt - now));
      return result;
    }
    const zombies = report.peersWithExpectedOrigin > 0 && deps.routing.routes ? (await deps.routing.routes(op.prefix)).filter((r) => r.origin === DEFAULT_EXPECTED_ORIGIN) : [];
    if (zombies.length > 0) {
      const list = zombies.slice(0, 20).map((z) => ({ collector: z.collector, peer: z.peer, peerAsn: z.peerAsn, neighbour: z.asPath.length >= 2 ? z.asPath[z.asPath.length - 2] : null, asPath: z.asPath }));
      const facts = { count: zombies.length, collectors: [...new Set(zombies.map((z) => z.collector))], zombies: list, sinceMs: now - (op.watch?.startedAt ?? now) };
      events.push({ type: 'progress', step: 'zombies', facts });
      const base = verdictOf(direction, report, own);
      result.verdict = base.verdict === 'contested' ? { ...base, facts: { ...base.facts, zombies: facts } } : { verdict: 'contested', step: 'withdrawn_zombie', facts: { ...base.facts, ...facts } };
      return result;
    }
    result.verdict = verdictOf(direction, report, own);
    result.verdict.facts = { ...result.verdict.facts, zombieCheckAfterMs: now - (op.watch?.startedAt ?? now) };
    return result;
  }
  if (reached) {
    result.verdict = verdictOf(direction, report, own);
    return result;
  }
  const slow = elapsed >= deps.watch.escalateAfterMs[direction] && (report.verdict === 'propagating' || report.verdict === 'withdrawing');
  if (slow && !op.watch?.escalated) {
    events.push({ type: 'escalated', elapsedMs: elapsed, summary: report.summary });
    result.escalated = true;
  }
  return result;
}

function verdictOf(direction: Direction, report: PropagationReport, own: number | undefined): NonNullable<VerifyStep['verdict']> {
  const facts = { peers: report.peersWithExpectedOrigin, usual: report.usualPeerCount, summary: report.summary, ownAsn: own ?? null, origins: report.unexpectedOrigins };
  if (report.unexpectedOrigins.length > 0) return { verdict: 'contested', step: direction === 'advertise' ? 'propagated_contested' : 'withdrawn_contested', facts };
  return { verdict: 'done', step: direction === 'advertise' ? 'propagated' : 'withdrawn', facts };
}
