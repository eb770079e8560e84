/**
 * What happens to an operation, as typed events. The engine and the kinds emit them into the outbox; the Slack layer
 * (src/slack/render/) turns each into text and blocks. No Slack text, emoji or mentions here.
 */
import type { Guard, GuardOverride } from './guards.js';

/** How a followed change ended, as observed. */
export type Verdict = 'done' | 'contested' | 'unconfirmed' | 'failed';

export interface UnexpectedOrigin {
  asn: number;
  peers: number;
}

export type OpEvent =
  /** One approver's click counted; `quorum` when it completed the approvals. */
  | { type: 'approval'; by: string; count: number; required: number; quorum: boolean; override: GuardOverride | null }
  | { type: 'rejected'; by: string }
  | { type: 'cancelled'; by: string }
  | { type: 'expired' }
  | { type: 'reviewed'; by: string }
  /** This request was replaced by a break-glass change on the same prefix. */
  | { type: 'superseded'; by: string; opId: string }
  /** A break-glass change was filed (broadcast). `supersedes` names the request it replaced. */
  | { type: 'break_glass'; by: string; reason: string; supersedes: string | null }
  /** The approval went stale before the change started: back to waiting for approval. */
  | { type: 'approval_lapsed'; approvedAt: number; validForMs: number }
  /** Guards re-run right before the mutation found a block: closed, nothing sent. */
  | { type: 'guards_blocked'; guards: Guard[] }
  /** Guards re-run at execution that warn (nothing blocked): said in the thread, the change goes ahead. */
  | { type: 'guards_warned'; guards: Guard[] }
  /** After a break-glass mutation: the guards' look-ups refreshed (they were older than allowed, or never run). */
  | { type: 'guards_refreshed'; guards: Guard[] }
  /** A kind-specific step (accepted, cloudflare_confirmed, sample, checks, added ...); facts for the kind's renderer. */
  | { type: 'progress'; step: string; facts: Record<string, unknown> }
  /** Another origin than Cloudflare or our own AS holds peers (broadcast). */
  | { type: 'unexpected_origin'; origins: UnexpectedOrigin[]; summary: string }
  /** Too slow: call a human (broadcast). */
  | { type: 'escalated'; elapsedMs: number; summary: string }
  /** The routing view or Cloudflare could not be read this tick (said once until it recovers). */
  | { type: 'read_error'; why: string; retryEveryMs: number; failures: number }
  /** Cloudflare is rate-limiting this token: the change is queued (said once). */
  | { type: 'rate_limited'; sendAt: number }
  /** The end. `step` says which ending of the kind; facts for the renderer. */
  | { type: 'verdict'; verdict: Verdict; step: string; facts: Record<string, unknown> };

export type VerdictEvent = Extract<OpEvent, { type: 'verdict' }>;

/** Events that ping the whole channel when posted in the thread. */
export function isBroadcast(event: OpEvent): boolean {
  return event.type === 'break_glass' || event.type === 'unexpected_origin' || event.type === 'escalated' || (event.type === 'verdict' && event.verdict === 'contested');
}

/**
 * Progress that only moves the picture along (Cloudflare confirms its own state, a looking-glass sample, a binding
 * still provisioning or deleting, validation checks still running): folded into the card's "Latest" line, no thread
 * reply. The thread keeps what changed the picture: the request, approvals, the call sent (`accepted` /
 * `already_true`), warnings, unexpected origins, escalations, errors and the verdict. A withdraw's thread goes from
 * 6-7 replies to 3, so a busy channel's one-post-per-second pacing has that much less to queue.
 */
export const CARD_ONLY_PROGRESS: ReadonlySet<string> = new Set(['cloudflare_confirmed', 'sample', 'provisioning', 'deleting', 'checks', 'zombie_hunt']);

/** Whether an event earns a thread reply (otherwise the card alone shows it). */
export function isThreadWorthy(event: OpEvent): boolean {
  return !(event.type === 'progress' && CARD_ONLY_PROGRESS.has(event.step));
}
