/**
 * The staged withdraw: Cloudflare's drain guidance (../shared/reference/withdraw-drain.md) as gates before the one
 * withdraw PATCH, and the zombie hunt after it.
 *
 * Gate 1 (`drain`): our own AS (policy `prefixes[].own_asn`) announces the same-length prefix, and the looking glass
 * sees it on at least `withdraw.own_announcement_min_share` of the usual peers, continuously for the convergence time
 * (WITHDRAW_CONVERGENCE_MS, 10 min). Until then the job waits (delayed in Redis, re-checked every poll interval) and
 * nothing is sent. With `withdraw.drain: when_announced`, a prefix our AS does not announce at the same length at all
 * goes ahead undrained, and the thread says so.
 * Gate 2 (`prepend`, policy `withdraw.prepend` or `prefixes[].withdraw_prepend`): `asn_prepend_count` raised 1, 2, 3,
 * one idempotent PATCH each (read first), with a pause after each (WITHDRAW_PREPEND_PAUSE_MS).
 * An approver skips a gate only through the engine's audited override (the gate's id in `op.override.guards`); break
 * glass skips both (the engine never calls `stage` for it).
 * Each look is stored on the record (`op.stage`): a restart resumes the wait where it was and never skips a gate.
 */
import type { BgpPrefix } from '../domain/addressing.js';
import type { OpEvent } from '../domain/events.js';
import type { Operation } from '../domain/operation.js';
import { ownAsnOf, prependsBeforeWithdraw, withdrawPolicyOf } from '../domain/policy.js';
import { humanDuration } from '../domain/time.js';
import { lookingGlassSample } from './lookup.js';
import { DEFAULT_DRAIN, type KindDeps, type StageStep, type StageTools } from './types.js';

export const DRAIN_GATE = 'drain';
export const PREPEND_GATE = 'prepend';
export const MAX_PREPEND = 3;

export interface DrainData {
  /** `own`: gate 1; `prepend`: gate 2; `ready`: both passed (or skipped). */
  phase: 'own' | 'prepend' | 'ready';
  /** Since when (bot clock) the own announcement has been seen on enough peers, without a break; null when not now. */
  metSince: number | null;
  /** The last picture said in the thread (the thread gets a line only when it changes). */
  said: string | null;
  /** The last prepend count set, and when. */
  prependStep: number;
  prependAt: number | null;
  /** Gate 1 did not apply (no same-length announcement, policy `when_announced`). */
  undrained: boolean;
}

export function drainData(op: Operation): DrainData {
  const d = op.stage?.data ?? {};
  return {
    phase: d.phase === 'prepend' || d.phase === 'ready' ? d.phase : 'own',
    metSince: typeof d.metSince === 'number' ? d.metSince : null,
    said: typeof d.said === 'string' ? d.said : null,
    prependStep: typeof d.prependStep === 'number' ? d.prependStep : 0,
    prependAt: typeof d.prependAt === 'number' ? d.prependAt : null,
    undrained: d.undrained === true,
  };
}

/** The gates this withdraw has (for the card's "skip" button): gate 1 when an own AS is on record, gate 2 when asked. */
export function drainGateIds(deps: KindDeps, op: Operation): string[] {
  if (!ownAsnOf(deps.policy, op.prefix)) return prependsBeforeWithdraw(deps.policy, op.prefix) ? [PREPEND_GATE] : [];
  return [DRAIN_GATE, ...(prependsBeforeWithdraw(deps.policy, op.prefix) ? [PREPEND_GATE] : [])];
}

/** One look at the gates. Pure decisions over the reads; the engine stores `data` and delays the job on `wait`. */
export async function drainStage(deps: KindDeps, op: Operation, tools: StageTools): Promise<StageStep> {
  const settings = deps.drain ?? DEFAULT_DRAIN;
  const policy = withdrawPolicyOf(deps.policy);
  const now = deps.now();
  const d = drainData(op);
  const startedAt = op.stage?.startedAt ?? now;
  const skipped = new Set(op.override?.guards ?? []);
  const events: OpEvent[] = [];
  const poll = Math.max(10, deps.watch.pollIntervalMs);
  const ownAsn = ownAsnOf(deps.policy, op.prefix);
  const waitedMs = now - startedAt;
  if (d.phase !== 'ready' && waitedMs > settings.maxWaitMs) {
    return { outcome: 'failed', step: 'drain_timeout', facts: { waitedMs, maxWaitMs: settings.maxWaitMs, latest: op.stage?.latest ?? null, sent: false } };
  }
  const tell = (key: string, event: OpEvent) => {
    if (d.said === key) return;
    events.push(event);
    d.said = key;
  };

  if (d.phase === 'own') {
    if (!ownAsn) {
      d.phase = 'prepend'; // nothing to check against: the own-announcement guard already warned at filing
    } else if (skipped.has(DRAIN_GATE)) {
      tell('skipped:drain', { type: 'progress', step: 'gate_skipped', facts: { gate: DRAIN_GATE, by: op.override?.by ?? null, reason: op.override?.reason ?? null } });
      await tools.audit('gate_skipped', { gate: DRAIN_GATE, by: op.override?.by ?? null, reason: op.override?.reason ?? null });
      d.phase = 'prepend';
    } else {
      const ttl = Math.max(1, Math.floor(poll * 0.8));
      // No older than half a poll: whether our AS is seen, and since when, is judged on a sample of now, not one
      // another caller (the watch, the card) took up to a whole share time ago.
      const sample = await lookingGlassSample(deps, op.prefix, ttl, { notBefore: Date.now() - Math.floor(poll / 2) });
      const usual = await deps.reader.read<number>(`usual-peers:${op.prefix.includes(':') ? 6 : 4}`, 3600_000, () => deps.routing.usualPeerCount(op.prefix));
      const seen = sample.byOrigin[ownAsn] ?? 0;
      const needed = Math.max(1, Math.ceil(policy.own_announcement_min_share * usual));
      const pct = usual > 0 ? Math.round((100 * seen) / usual) : 0;
      const facts = { ownAsn, prefix: op.prefix, seen, usual, needed, pct, minPct: Math.round(policy.own_announcement_min_share * 100), convergenceMs: settings.convergenceMs };
      if (seen === 0 && policy.drain === 'when_announced') {
        d.undrained = true;
        d.phase = 'prepend';
        tell('undrained', { type: 'progress', step: 'drain_not_staged', facts });
        await tools.audit('gate_not_applicable', { gate: DRAIN_GATE, ...facts });
      } else {
        const met = seen >= needed;
        d.metSince = met ? (d.metSince ?? now) : null;
        const forMs = d.metSince === null ? 0 : now - d.metSince;
        if (met && forMs >= settings.convergenceMs) {
          tell('converged', { type: 'progress', step: 'drain_converged', facts: { ...facts, forMs } });
          await tools.audit('gate_passed', { gate: DRAIN_GATE, ...facts, forMs });
          d.phase = 'prepend';
        } else {
          const key = met ? 'met' : seen > 0 ? 'below' : 'not_seen';
          tell(key, { type: 'progress', step: 'drain_waiting', facts: { ...facts, met, forMs } });
          if (events.length) await tools.audit('gate_waiting', { gate: DRAIN_GATE, ...facts, met, forMs });
          const latest = met
            ? `Waiting to withdraw (Cloudflare's drain): AS${ownAsn} announcing ${op.prefix} seen on ${pct}% of usual peers for ${humanDuration(forMs)} of ${humanDuration(settings.convergenceMs)}; the withdraw goes out at ${fmtTime(d.metSince! + settings.convergenceMs)} if it holds.`
            : `Waiting to withdraw (Cloudflare's drain): AS${ownAsn} announcing ${op.prefix} seen on ${pct}% of usual peers (${seen}/${usual}); needs ${facts.minPct}% (${needed}) for ${humanDuration(settings.convergenceMs)}. Nothing is sent until then; gives up at ${fmtTime(startedAt + settings.maxWaitMs)}.`;
          const untilMs = met ? Math.min(d.metSince! + settings.convergenceMs, now + poll) : now + poll;
          return { outcome: 'wait', untilMs, events, data: { ...d }, latest };
        }
      }
    }
  }

  if (d.phase === 'prepend') {
    if (!prependsBeforeWithdraw(deps.policy, op.prefix)) {
      d.phase = 'ready';
    } else if (skipped.has(PREPEND_GATE)) {
      tell('skipped:prepend', { type: 'progress', step: 'gate_skipped', facts: { gate: PREPEND_GATE, by: op.override?.by ?? null, reason: op.override?.reason ?? null } });
      await tools.audit('gate_skipped', { gate: PREPEND_GATE, by: op.override?.by ?? null, reason: op.override?.reason ?? null });
      d.phase = 'ready';
    } else {
      const pausedUntil = d.prependAt === null ? 0 : d.prependAt + settings.prependPauseMs;
      if (now < pausedUntil) {
        return { outcome: 'wait', untilMs: Math.min(pausedUntil, now + poll * 10), events, data: { ...d }, latest: prependLatest(op, d.prependStep, pausedUntil) };
      }
      if (d.prependStep >= MAX_PREPEND) {
        d.phase = 'ready';
      } else {
        const n = d.prependStep + 1;
        const set = deps.cloudflare.setBgpPrefixPrepend;
        if (!op.bgpPrefixId || !set) return { outcome: 'failed', step: 'prepend_unsupported', facts: { sent: false } };
        const bgpPrefixId = op.bgpPrefixId;
        const current: BgpPrefix = await deps.cloudflare.getBgpPrefix(op.accountId, op.prefixId, bgpPrefixId);
        await tools.audit('cloudflare_read', { advertised: current.onDemand.advertised, asnPrependCount: current.asnPrependCount });
        if (!current.onDemand.advertised) {
          d.phase = 'ready'; // already withdrawn (by someone else): the apply step reads it and skips
        } else {
          if (current.asnPrependCount < n) {
            const request = `PATCH /accounts/${op.accountId}/addressing/prefixes/${op.prefixId}/bgp/prefixes/${bgpPrefixId} {"asn_prepend_count":${n}}`;
            await tools.call(request, () => set.call(deps.cloudflare, op.accountId, op.prefixId, bgpPrefixId, n));
          }
          d.prependStep = n;
          d.prependAt = now;
          events.push({ type: 'progress', step: 'prepended', facts: { count: n, of: MAX_PREPEND, pauseMs: settings.prependPauseMs, already: current.asnPrependCount >= n } });
          d.said = `prepend:${n}`;
          const until = now + settings.prependPauseMs;
          return { outcome: 'wait', untilMs: Math.min(until, now + poll * 10), events, data: { ...d }, latest: prependLatest(op, n, until) };
        }
      }
    }
  }
  return { outcome: 'ready', events, data: { ...d, phase: 'ready' }, latest: readySummary(op, d, skipped, ownAsn, settings.convergenceMs) };
}

function readySummary(op: Operation, d: DrainData, skipped: Set<string>, ownAsn: number | undefined, convergenceMs: number): string {
  const parts: string[] = [];
  if (skipped.has(DRAIN_GATE)) parts.push(`gate 1 (own announcement) skipped by ${op.override?.by ? 'an approver\'s' : 'an'} audited override`);
  else if (d.undrained) parts.push(`not drained: AS${ownAsn ?? '?'} does not announce ${op.prefix} at the same length, so traffic moves only at the withdraw`);
  else if (ownAsn) parts.push(`AS${ownAsn}'s own ${op.prefix} seen on enough peers for ${humanDuration(convergenceMs)}`);
  if (skipped.has(PREPEND_GATE)) parts.push('gate 2 (prepend) skipped by an audited override');
  else if (d.prependStep > 0) parts.push(`AS13335 prepended ${d.prependStep} times`);
  return parts.length ? `Gates: ${parts.join('; ')}; then the withdraw was sent.` : 'No gates applied.';
}

function prependLatest(op: Operation, n: number, until: number): string {
  return `Waiting to withdraw (Cloudflare's drain): AS13335 prepended ${n} of ${MAX_PREPEND} times on ${op.prefix}, so traffic shifts to your route; ${n < MAX_PREPEND ? 'the next step' : 'the withdraw'} at ${fmtTime(until)}.`;
}

const fmtTime = (ms: number) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
