import type { Logger } from 'pino';
import type { Policy } from '../config.js';
import type { BgpPrefix, Prefix } from '../domain/addressing.js';
import { transition, type Operation, type WatchProgress } from '../domain/operation.js';
import type { VisibilitySample } from '../routing/looking-glass.js';
import { evaluatePropagation, type PropagationReport } from '../routing/propagation.js';
import { userMessageOf } from '../errors.js';
import type { CoalescedReader } from './coalesce.js';
import type { AddressingApi, Dispatcher, RoutingView } from './ports.js';
import type { OperationStore, OutboxItem } from './store.js';

export interface WatcherDeps {
  store: OperationStore;
  cloudflare: AddressingApi;
  routing: RoutingView;
  reader: CoalescedReader;
  dispatcher: Dispatcher;
  policy: Policy;
  logger: Logger;
  pollIntervalMs: number;
  timeoutMs: number;
  escalateAfterMs: { advertise: number; withdraw: number };
  now?: () => number;
}

/** Validation states Cloudflare uses for a check that did not pass. */
const FAILED_VALIDATION = new Set(['missing', 'invalid', 'mismatch_asn', 'failed']);

export type TickResult = { done: true } | { done: false; nextDelayMs: number };

/**
 * Follows a change until the Internet agrees: first Cloudflare's own state, then the looking glass.
 * One tick per call; reads are coalesced so every watcher of a prefix shares one read per tick.
 */
export class Watcher {
  private now: () => number;

  constructor(private deps: WatcherDeps) {
    this.now = deps.now ?? Date.now;
  }

  async tick(opId: string): Promise<TickResult> {
    const op = await this.deps.store.get(opId);
    if (!op || op.state !== 'propagating' || !op.watch) return { done: true };
    const w = op.watch;
    const elapsed = this.now() - w.startedAt;
    const ttl = Math.max(1, Math.floor(this.deps.pollIntervalMs * 0.8));
    const target = op.kind === 'advertise';

    if (op.kind === 'validate') return this.validateTick(op, elapsed, ttl);
    if (elapsed > this.deps.timeoutMs) {
      await this.finish(op, `:warning: Cloudflare applied the ${op.kind}, but the looking glass did not confirm it within ${humanDuration(this.deps.timeoutMs)} (last: ${w.lastSummary ?? 'no sample'}). Check a looking glass by hand.`, `Not confirmed in time: ${w.lastSummary ?? 'no sample'}`);
      return { done: true };
    }

    if (w.phase === 'cloudflare') {
      const bgpPrefixId = op.bgpPrefixId ?? '';
      const bgp = await this.deps.reader.read<BgpPrefix>(`cf-bgp:${bgpPrefixId}`, ttl, () => this.deps.cloudflare.getBgpPrefix(op.accountId, op.prefixId, bgpPrefixId));
      if (bgp.onDemand.advertised === target) {
        await this.patchWatch(op, { phase: 'routing' }, [
          { kind: 'reply', text: `:white_check_mark: Cloudflare reports ${op.prefix} ${target ? 'advertised' : 'withdrawn'}${bgp.onDemand.advertisedModifiedAt ? ` since ${bgp.onDemand.advertisedModifiedAt}` : ''}. Watching route collectors for the Internet to follow.` },
        ]);
        return this.tick(opId);
      }
      return { done: false, nextDelayMs: this.deps.pollIntervalMs };
    }

    let sample: VisibilitySample;
    let usual: number;
    try {
      sample = await this.deps.reader.read<VisibilitySample>(`lg:${op.prefix}`, ttl, () => this.deps.routing.sample(op.prefix), (raw) => {
        const s = raw as VisibilitySample & { at: string };
        return { ...s, at: new Date(s.at) };
      });
      usual = await this.deps.reader.read<number>(`usual-peers:${op.prefix.includes(':') ? 6 : 4}`, 3600_000, () => this.deps.routing.usualPeerCount(op.prefix));
    } catch (err) {
      const why = userMessageOf(err);
      if (w.routingError !== why) {
        await this.patchWatch(op, { routingError: why }, [{ kind: 'reply', text: `:grey_question: Could not read the routing view: ${why} Still trying every ${humanDuration(this.deps.pollIntervalMs)}.` }]);
      }
      return { done: false, nextDelayMs: this.deps.pollIntervalMs };
    }

    const own = this.deps.policy.prefixes.find((p) => p.cidr === op.prefix)?.own_asn;
    const kind = op.kind === 'advertise' ? 'advertise' : 'withdraw';
    const report = evaluatePropagation({
      action: kind,
      sample,
      ownOrigins: own ? [own] : [],
      usualPeerCount: usual,
      elapsedMs: elapsed,
      escalateAfterMs: this.deps.escalateAfterMs[kind],
    });
    const notify: OutboxItem[] = [];
    const patch: Partial<WatchProgress> = { samples: w.samples + 1, routingError: null, verdict: report.verdict };
    if (report.summary !== w.lastSummary) {
      patch.lastSummary = report.summary; // the card always shows the latest sample
      // The thread gets a sample when the verdict changes or visibility moved by a tenth of the usual peers: the
      // story climbs or falls in a few lines instead of one reply per tick.
      const step = Math.max(3, Math.round(report.usualPeerCount / 10));
      const last = w.lastPostedPeers ?? null;
      if (last === null || report.verdict !== w.verdict || Math.abs(report.peersWithExpectedOrigin - last) >= step) {
        notify.push({ kind: 'reply', text: `:satellite_antenna: ${report.summary}` });
        patch.lastPostedPeers = report.peersWithExpectedOrigin;
      }
    }
    const newOrigins = report.unexpectedOrigins.filter((o) => !w.flaggedOrigins.includes(o.asn));
    if (newOrigins.length > 0) {
      const list = newOrigins.map((o) => `AS${o.asn} (${o.peers} peers)`).join(', ');
      notify.push({
        kind: 'reply',
        broadcast: true,
        text: `:rotating_light: *Unexpected origin for ${op.prefix}:* ${list}. That is neither Cloudflare (AS13335) nor your own AS: a possible hijack or route leak. Check now and contact that network if it is not yours.`,
      });
      patch.flaggedOrigins = [...w.flaggedOrigins, ...newOrigins.map((o) => o.asn)];
    }
    const reached = (op.kind === 'advertise' && report.verdict === 'propagated') || (op.kind === 'withdraw' && report.verdict === 'withdrawn');
    if (reached) {
      await this.finish({ ...op, watch: { ...w, ...patch } }, `:tada: Done: ${doneText(op, report)}`, doneText(op, report), notify);
      return { done: true };
    }
    if (report.escalate && !w.escalated && elapsed >= this.deps.escalateAfterMs[kind]) {
      patch.escalated = true;
      notify.push({
        kind: 'reply',
        broadcast: true,
        text:
          op.kind === 'advertise'
            ? `:warning: ${op.prefix} is still not propagated ${humanDuration(elapsed)} after Cloudflare accepted the advertise (${report.summary}). Check Cloudflare's dashboard and the ROA; keep your own announcement up until this resolves.`
            : `:warning: ${op.prefix} is still visible from AS13335 ${humanDuration(elapsed)} after the withdraw (${report.summary}). Check Cloudflare's dashboard; open a Cloudflare support case if it persists.`,
      });
    }
    if (notify.length > 0 || patch.samples !== w.samples) await this.patchWatch(op, patch, notify, patch.lastSummary !== undefined);
    return { done: false, nextDelayMs: this.deps.pollIntervalMs };
  }

  /** Follows Cloudflare's IRR / RPKI / ownership states until the prefix is approved (`V`) or a check has failed. */
  private async validateTick(op: Operation, elapsed: number, ttl: number): Promise<TickResult> {
    const w = op.watch!;
    const p = await this.deps.reader.read<Prefix>(`cf-prefix:${op.prefixId}`, ttl, () => this.deps.cloudflare.getPrefix(op.accountId, op.prefixId));
    const states = { IRR: p.irrValidationState, RPKI: p.rpkiValidationState, ownership: p.ownershipValidationState };
    const summary = Object.entries(states)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
    if (p.approved === 'V') {
      await this.finish(op, `:tada: Done: Cloudflare validated and approved ${op.prefix} (${summary}). Next: the default service binding, then the BGP prefix.`, `Validated and approved (${summary}).`);
      return { done: true };
    }
    const failing = Object.entries(states).filter(([, v]) => FAILED_VALIDATION.has(v));
    const pending = Object.values(states).some((v) => v === 'pending' || v === '');
    if (failing.length && !pending) {
      const why = failing.map(([k, v]) => `${k} ${v}`).join(', ');
      await this.deps.store.update(op.id, (o) =>
        o.state !== 'propagating'
          ? { op: o }
          : {
              op: transition(o, 'failed', this.now(), { outcome: `Cloudflare's validation failed: ${why}.` }),
              notify: [
                { kind: 'reply', text: `:x: Cloudflare's validation of ${op.prefix} failed: ${why}. Run \`/byoip preflight ${op.prefix}\` to see what to fix, then ask again.` },
                { kind: 'card' },
              ],
              audit: [{ type: 'failed', opId: op.id, actor: 'system', data: { states } }],
            },
      );
      await this.deps.dispatcher.deliver(op.id);
      return { done: true };
    }
    if (elapsed > this.deps.timeoutMs) {
      await this.finish(op, `:warning: Cloudflare has not finished validating ${op.prefix} within ${humanDuration(this.deps.timeoutMs)} (${summary}). Check again with \`/byoip status ${op.prefix}\`.`, `Not settled in time: ${summary}`);
      return { done: true };
    }
    if (summary !== w.lastSummary) await this.patchWatch(op, { lastSummary: summary, samples: w.samples + 1 }, [{ kind: 'reply', text: `:hourglass_flowing_sand: Cloudflare's checks: ${summary}` }]);
    return { done: false, nextDelayMs: this.deps.pollIntervalMs };
  }

  private async patchWatch(op: Operation, patch: Partial<WatchProgress>, notify: OutboxItem[], cardChanged = false): Promise<void> {
    const items: OutboxItem[] = notify.length || cardChanged ? [...notify, { kind: 'card' }] : [];
    await this.deps.store.update(op.id, (o) => (o.state !== 'propagating' || !o.watch ? { op: o } : { op: { ...o, watch: { ...o.watch, ...patch }, updatedAt: this.now() }, notify: items }));
    if (items.length) await this.deps.dispatcher.deliver(op.id);
  }

  private async finish(op: Operation, reply: string, outcome: string, before: OutboxItem[] = []): Promise<void> {
    const now = this.now();
    await this.deps.store.update(op.id, (o) =>
      o.state !== 'propagating'
        ? { op: o }
        : {
            op: transition(o, 'done', now, { outcome, watch: op.watch }),
            notify: [...before, { kind: 'reply', text: reply }, { kind: 'card' }],
            audit: [{ type: 'done', opId: op.id, actor: 'system', data: { outcome } }],
          },
    );
    await this.deps.dispatcher.deliver(op.id);
  }
}

/** `45 s`, `2 min`, `1 h 30 min`: how long, for a thread reply. */
export function humanDuration(ms: number): string {
  if (ms < 60_000) return `${Math.max(0, Math.round(ms / 1000))} s`;
  const min = Math.round(ms / 60_000);
  if (min < 60) return `${min} min`;
  return `${Math.floor(min / 60)} h${min % 60 ? ` ${min % 60} min` : ''}`;
}

function doneText(op: Operation, r: PropagationReport): string {
  return op.kind === 'advertise'
    ? `${op.prefix} is propagated: ${r.peersWithExpectedOrigin}/${r.usualPeerCount} peers see it from AS13335. Remove the announcement from your own data centre now.`
    : `${op.prefix} is withdrawn from Cloudflare: ${r.peersWithExpectedOrigin} peers still see it from AS13335 (under 10).`;
}
