/** What the engine needs of the policy file (config.ts validates the file into this shape). Pure types. */
import type { OperationKind } from './operation.js';

export interface ActionRule {
  /** Distinct approvers needed. */
  approvals: number;
  /** An unapproved request expires after this (ms). */
  expires_after: number;
  /** An approved change that has not started within this (ms) is not executed: back to waiting for approval. */
  approval_valid_for: number;
  /** Where this kind's cards go instead of the policy's channel. */
  channel?: string | undefined;
}

export interface EnginePolicy {
  cloudflare: { accounts: { name: string; id: string }[] };
  slack: { channel: string; alerts_channel?: string | undefined };
  /** `viewers` may read (status, preflight); the config defaults it to requesters ∪ approvers ∪ break_glass. */
  groups: { requesters: string[]; approvers: string[]; break_glass: string[]; viewers: string[] };
  actions: Record<OperationKind, ActionRule>;
  break_glass: { max_uses: number; window: number };
  prefixes: { cidr: string; own_asn?: number | undefined; withdraw_prepend?: boolean | undefined; auto_advertise?: boolean | undefined }[];
  /** The staged withdraw (Cloudflare's drain); absent = the defaults of `withdrawPolicyOf`. */
  withdraw?: WithdrawPolicy | undefined;
}

/** Gates of the staged withdraw. Timings are settings (env), not policy: see KindDeps.drain. */
export interface WithdrawPolicy {
  /** Gate 1: the share of the usual peers that must see our own AS announce the same-length prefix (0-1). */
  own_announcement_min_share: number;
  /**
   * `required`: gate 1 waits for the same-length announcement even when our AS announces only a covering prefix.
   * `when_announced`: a withdraw whose prefix our AS does not announce at the same length goes ahead without a drain
   * (the card says so); one that is announced is drained.
   */
  drain: 'required' | 'when_announced';
  /** Gate 2 for every prefix: raise `asn_prepend_count` 1..3 before the withdraw (per prefix: `withdraw_prepend`). */
  prepend: boolean;
}

export const DEFAULT_WITHDRAW_POLICY: WithdrawPolicy = { own_announcement_min_share: 0.8, drain: 'required', prepend: false };

export function withdrawPolicyOf(policy: EnginePolicy): WithdrawPolicy {
  return policy.withdraw ?? DEFAULT_WITHDRAW_POLICY;
}

/** Whether gate 2 (the AS-path prepend steps) applies to a prefix's withdraw. */
export function prependsBeforeWithdraw(policy: EnginePolicy, prefix: string): boolean {
  const own = policy.prefixes.find((p) => p.cidr === prefix)?.withdraw_prepend;
  return own ?? withdrawPolicyOf(policy).prepend;
}

/** The channel a kind's cards, thread replies and broadcasts go to: `actions.<kind>.channel`, else `slack.channel`. */
export function cardChannel(policy: EnginePolicy, kind: OperationKind): string {
  return policy.actions[kind].channel ?? policy.slack.channel;
}

/** The team's own origin AS for a prefix, when the policy names one. */
export function ownAsnOf(policy: EnginePolicy, prefix: string): number | undefined {
  return policy.prefixes.find((p) => p.cidr === prefix)?.own_asn;
}

/** Where alert cards go: `slack.alerts_channel`, else `slack.channel`. */
export function alertsChannel(policy: EnginePolicy): string {
  return policy.slack.alerts_channel ?? policy.slack.channel;
}

/** Whether the detector's attack start may advertise this prefix at once (policy `prefixes[].auto_advertise`). */
export function autoAdvertises(policy: EnginePolicy, prefix: string): boolean {
  return policy.prefixes.find((p) => p.cidr === prefix)?.auto_advertise === true;
}
