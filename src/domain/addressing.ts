/**
 * Cloudflare addressing objects as the bot sees them (camelCase, every field typed).
 * The Cloudflare client's zod schemas turn API responses into these.
 */

/** `P` = pending (not yet approved), `V` = validated and approved. */
export type PrefixApproval = 'P' | 'V' | (string & {});

export interface Prefix {
  id: string;
  accountId: string;
  cidr: string;
  asn: number | null;
  description: string;
  approved: PrefixApproval;
  loaDocumentId: string | null;
  delegateLoaCreation: boolean;
  irrValidationState: string;
  rpkiValidationState: string;
  ownershipValidationState: string;
  ownershipValidationToken: string | null;
  onDemandEnabled: boolean;
  onDemandLocked: boolean;
  advertised: boolean | null;
  advertisedModifiedAt: string | null;
  createdAt: string | null;
  modifiedAt: string | null;
}

export interface BgpPrefix {
  id: string;
  cidr: string;
  asn: number | null;
  asnPrependCount: number;
  autoAdvertiseWithdraw: boolean;
  bgpSignalEnabled: boolean;
  onDemand: {
    advertised: boolean | null;
    advertisedModifiedAt: string | null;
    enabled: boolean;
    locked: boolean;
  };
  createdAt: string | null;
  modifiedAt: string | null;
}
