/**
 * Guards: the checks that protect traffic. A kind's plan returns them; they run when a request is filed (shown on
 * the card) and again right before the mutation. Pure: no I/O, no Slack text (the Slack layer renders each by id).
 */

/** pass: fine. warn: needs an explicit acknowledgement from the approver. block: refused, with the fix. */
export type GuardStatus = 'pass' | 'warn' | 'block';

export interface Guard {
  /** Stable id, e.g. `own-announcement`, `preflight:rpki`; the Slack layer renders it. */
  id: string;
  status: GuardStatus;
  /** A block that an approver may take an explicit, audited override on (a warn is always acknowledgeable). */
  overridable: boolean;
  /** What was observed, for the renderer: plain values and plain-English detail, never markup. */
  facts: Record<string, unknown>;
  /** When the observation was made (ms). */
  checkedAt: number;
}

/** An informational line on the card (a pre-flight result): shown, never a gate. */
export interface Check {
  id: string;
  result: 'pass' | 'fail' | 'unknown';
  facts: Record<string, unknown>;
}

/** An approver's explicit acknowledgement of warn guards and override of overridable blocks. */
export interface GuardOverride {
  by: string;
  at: number;
  reason: string;
  /** Guard ids acknowledged or overridden. */
  guards: string[];
}

/** Guards that stop the request outright (not overridable). */
export function hardBlocks(guards: readonly Guard[]): Guard[] {
  return guards.filter((g) => g.status === 'block' && !g.overridable);
}

/** Guards the approver must explicitly take responsibility for before approving: warns and overridable blocks. */
export function needsConfirmation(guards: readonly Guard[]): Guard[] {
  return guards.filter((g) => g.status === 'warn' || (g.status === 'block' && g.overridable));
}

/** Blocks that an override does not cover: at execution these stop the change with nothing sent. */
export function unresolvedBlocks(guards: readonly Guard[], override: GuardOverride | null | undefined): Guard[] {
  const covered = new Set(override?.guards ?? []);
  return guards.filter((g) => g.status === 'block' && !(g.overridable && covered.has(g.id)));
}

/** The worst status of a set of guards. */
export function worstStatus(guards: readonly Guard[]): GuardStatus {
  if (guards.some((g) => g.status === 'block')) return 'block';
  if (guards.some((g) => g.status === 'warn')) return 'warn';
  return 'pass';
}
