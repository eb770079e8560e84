import { humanDuration } from '../domain/time.js';
import type { VisibilitySample } from './looking-glass.js';

export const DEFAULT_EXPECTED_ORIGIN = 13335;
export const DEFAULT_MIN_PEERS = 10;
export const DEFAULT_PROPAGATED_SHARE = 0.75;
/** Another origin seen by at least this many peers is flagged (1 peer is usually local noise). */
export const DEFAULT_HIJACK_MIN_PEERS = 2;
export const ESCALATE_AFTER_MS = { advertise: 20 * 60_000, withdraw: 30 * 60_000 } as const;

export type PropagationVerdict = 'propagating' | 'propagated' | 'withdrawing' | 'withdrawn';

export interface PropagationInput {
  action: 'advertise' | 'withdraw';
  sample: VisibilitySample;
  /** The origin the change should show; AS13335 when Cloudflare announces. */
  expectedOrigin?: number;
  /** The team's own ASNs (e.g. its data centre announcing the prefix): not a hijack, and no obstacle to a withdraw. */
  ownOrigins?: number[];
  /** Peers that see a fully propagated prefix (see RoutingStatusClient.usualPeerCount). */
  usualPeerCount: number;
  minPeers?: number;
  share?: number;
  /** Time since Cloudflare accepted the change. */
  elapsedMs: number;
  escalateAfterMs?: number;
  hijackMinPeers?: number;
}

export interface PropagationReport {
  verdict: PropagationVerdict;
  peersWithExpectedOrigin: number;
  usualPeerCount: number;
  /** Origins neither expected nor the team's own, seen by at least `hijackMinPeers` peers, most-seen first. */
  unexpectedOrigins: { asn: number; peers: number }[];
  /** Time to call a human: too slow, or another origin is announcing the prefix. */
  escalate: boolean;
  /** One line for a Slack thread. */
  summary: string;
}

/**
 * Decides whether the Internet agrees with an advertise or a withdraw.
 * propagated: at least `minPeers` and `share` of the usual peers see the prefix from the expected origin.
 * withdrawn: fewer than `minPeers` see it from the expected origin (the team's own origin may stay).
 */
export function evaluatePropagation(input: PropagationInput): PropagationReport {
  const expected = input.expectedOrigin ?? DEFAULT_EXPECTED_ORIGIN;
  const own = new Set(input.ownOrigins ?? []);
  const minPeers = input.minPeers ?? DEFAULT_MIN_PEERS;
  const share = input.share ?? DEFAULT_PROPAGATED_SHARE;
  const hijackMin = input.hijackMinPeers ?? DEFAULT_HIJACK_MIN_PEERS;
  const escalateAfter = input.escalateAfterMs ?? ESCALATE_AFTER_MS[input.action];
  const usual = Math.max(0, Math.floor(input.usualPeerCount));
  const { sample } = input;

  const seen = sample.byOrigin[expected] ?? 0;
  const unexpectedOrigins = Object.entries(sample.byOrigin)
    .map(([asn, peers]) => ({ asn: Number(asn), peers }))
    .filter((o) => o.asn !== expected && !own.has(o.asn) && o.peers >= hijackMin)
    .sort((a, b) => b.peers - a.peers || a.asn - b.asn);

  const needed = Math.max(minPeers, Math.ceil(share * usual));
  let verdict: PropagationVerdict;
  if (input.action === 'advertise') verdict = seen >= needed ? 'propagated' : 'propagating';
  else verdict = seen < minPeers ? 'withdrawn' : 'withdrawing';

  const slow = (verdict === 'propagating' || verdict === 'withdrawing') && input.elapsedMs >= escalateAfter;
  const escalate = slow || unexpectedOrigins.length > 0;

  const ratio = usual > 0 ? `${seen}/${usual} peers` : `${seen} peers`;
  const pct = usual > 0 ? ` (${Math.round((100 * seen) / usual)}%)` : '';
  let line: string;
  switch (verdict) {
    case 'propagated':
      line = `Propagated: ${ratio} see ${sample.prefix} from AS${expected}${pct}`;
      break;
    case 'propagating':
      line = `Propagating: ${ratio} see ${sample.prefix} from AS${expected}${pct}; propagated at ${needed}`;
      break;
    case 'withdrawn':
      line = `Withdrawn: ${ratio} still see ${sample.prefix} from AS${expected}${pct}, below ${minPeers}`;
      break;
    case 'withdrawing':
      line = `Withdrawing: ${ratio} still see ${sample.prefix} from AS${expected}${pct}; withdrawn below ${minPeers}`;
      break;
  }
  if (slow) {
    const what = input.action === 'advertise' ? 'not propagated' : 'still visible';
    line += `. ${what} after ${minutes(input.elapsedMs)} (limit ${minutes(escalateAfter)}): check Cloudflare and the upstreams`;
  }
  if (unexpectedOrigins.length > 0) {
    const list = unexpectedOrigins.map((o) => `${o.asn === 0 ? 'an unreadable origin (AS_SET)' : `AS${o.asn}`} on ${o.peers} peers`).join(', ');
    line += `. Unexpected origin: ${list}; possible hijack or leak`;
  }
  return { verdict, peersWithExpectedOrigin: seen, usualPeerCount: usual, unexpectedOrigins, escalate, summary: line };
}

const minutes = humanDuration;
