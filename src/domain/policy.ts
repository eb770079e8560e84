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
  prefixes: { cidr: string; own_asn?: number | undefined; auto_advertise?: boolean | undefined }[];
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
