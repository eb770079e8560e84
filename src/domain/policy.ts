/** What the engine needs of the policy file (config.ts validates the file into this shape). Pure types. */
import type { OperationKind } from './operation.js';

export interface ActionRule {
  /** Distinct approvers needed. */
  approvals: number;
  /** An unapproved request expires after this (ms). */
  expires_after: number;
  /** An approved change that has not started within this (ms) is not executed: back to waiting for approval. */
  approval_valid_for: number;
}

export interface EnginePolicy {
  cloudflare: { accounts: { name: string; id: string }[] };
  slack: { channel: string };
  groups: { requesters: string[]; approvers: string[]; break_glass: string[] };
  actions: Record<OperationKind, ActionRule>;
  break_glass: { max_uses: number; window: number };
  prefixes: { cidr: string; own_asn?: number | undefined }[];
}

/** The team's own origin AS for a prefix, when the policy names one. */
export function ownAsnOf(policy: EnginePolicy, prefix: string): number | undefined {
  return policy.prefixes.find((p) => p.cidr === prefix)?.own_asn;
}
