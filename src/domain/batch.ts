/**
 * A multi-prefix emergency: `/byoip emergency withdraw|advertise <cidr>,<cidr>…|--all <reason>`. One on-call
 * decision, one break-glass use, one card and one thread; each prefix is an ordinary break-glass operation of its own
 * (its own lock, execute job, watch and verdict) that names the batch (`Operation.batch`). Pure: no I/O, no Slack text.
 *
 * How it counts against the break-glass cap: ONE use per command, whatever the number of prefixes (one decision, one
 * review), taken in the same atomic step that creates every operation and takes every prefix lock: a lost race (any
 * lock taken meanwhile, or no use left) creates nothing and spends nothing. A prefix already held by another request
 * (normal or break glass) is not taken over by a batch: it is listed as skipped, with the request holding it, and the
 * single-prefix `/byoip emergency` remains the way to supersede that one request.
 */
import type { OpEvent } from './events.js';
import { isTerminal, type Operation } from './operation.js';

/** Slack's limits: a modal has at most 100 blocks and a message 50; one line per prefix fits 50 in a few sections. */
export const MAX_BATCH_PREFIXES = 50;

export interface BatchSkip {
  cidr: string;
  /** `already`: already in the wanted state; `locked`: another request holds it; `cloudflare_locked`: on_demand_locked. */
  why: 'already' | 'locked' | 'cloudflare_locked';
  /** The request holding the lock (`locked`). */
  holder?: string | null;
}

export interface EmergencyBatch {
  id: string;
  kind: 'advertise' | 'withdraw';
  requestedBy: string;
  reason: string;
  channel: string;
  cardTs: string | null;
  createdAt: number;
  /** `--all` was asked for (every prefix of every account in the opposite state). */
  all: boolean;
  /** The operations, one per prefix, in the order given. */
  children: { opId: string; prefix: string }[];
  skipped: BatchSkip[];
}

/** Where one prefix of the batch is, for its line on the card. */
export type BatchPrefixState = 'sending' | 'sent' | 'propagating' | 'withdrawing' | 'advertised' | 'withdrawn' | 'contested' | 'unconfirmed' | 'failed';

export function batchPrefixState(op: Operation): BatchPrefixState {
  if (op.state === 'done') return op.kind === 'advertise' ? 'advertised' : 'withdrawn';
  if (op.state === 'contested' || op.state === 'unconfirmed') return op.state;
  if (isTerminal(op.state)) return 'failed';
  if (op.state !== 'verifying') return 'sending';
  if (op.watch?.data.phase === 'routing') return op.kind === 'advertise' ? 'propagating' : 'withdrawing';
  return 'sent';
}

export interface BatchOutcome {
  /** Every prefix has finished. */
  finished: boolean;
  /** Every prefix's call has been answered by Cloudflare (or was already true), or the prefix has finished. */
  allSent: boolean;
  verdict: 'done' | 'contested' | 'unconfirmed' | 'failed';
  done: string[];
  contested: string[];
  unconfirmed: string[];
  failed: string[];
}

/** The batch's verdict, true for each prefix: done only when every one is done; otherwise the worst, naming which. */
export function batchOutcome(children: Operation[]): BatchOutcome {
  const pick = (s: BatchPrefixState[]) => children.filter((c) => s.includes(batchPrefixState(c))).map((c) => c.prefix);
  const failed = pick(['failed']);
  const contested = pick(['contested']);
  const unconfirmed = pick(['unconfirmed']);
  const done = pick(['advertised', 'withdrawn']);
  return {
    finished: children.every((c) => isTerminal(c.state)),
    allSent: children.every((c) => c.state === 'verifying' || isTerminal(c.state)),
    verdict: failed.length ? 'failed' : contested.length ? 'contested' : unconfirmed.length ? 'unconfirmed' : 'done',
    done,
    contested,
    unconfirmed,
    failed,
  };
}

/**
 * What earns a thread reply for one prefix of a batch: a warning or a bad ending. Progress (Cloudflare accepted,
 * Cloudflare confirms, looking-glass samples, clean guard refreshes) and a clean `done` are on the card's line only;
 * the batch posts its own request, sent and verdict lines once for all prefixes.
 */
export function batchThreadWorthy(event: OpEvent): boolean {
  switch (event.type) {
    case 'progress':
    case 'break_glass':
    case 'approval':
    case 'reviewed':
      return false;
    case 'guards_refreshed':
      return event.guards.some((g) => g.status !== 'pass');
    case 'verdict':
      return event.verdict !== 'done';
    default:
      return true;
  }
}
