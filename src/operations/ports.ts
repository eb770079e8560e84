import type { BgpPrefix, Prefix } from '../domain/addressing.js';

/** The slice of Cloudflare's addressing API that operations use (CloudflareClient implements it). */
export interface AddressingApi {
  listPrefixes(accountId: string): Promise<Prefix[]>;
  getPrefix(accountId: string, prefixId: string): Promise<Prefix>;
  validatePrefix(accountId: string, prefixId: string): Promise<Prefix>;
  createPrefix(accountId: string, input: { cidr: string; asn: number; description?: string }): Promise<Prefix>;
  listBgpPrefixes(accountId: string, prefixId: string): Promise<BgpPrefix[]>;
  getBgpPrefix(accountId: string, prefixId: string, bgpPrefixId: string): Promise<BgpPrefix>;
  setBgpPrefixAdvertised(accountId: string, prefixId: string, bgpPrefixId: string, advertised: boolean): Promise<BgpPrefix>;
}

/** Live user-group membership (Slack `usergroups.users.list`, cached briefly). */
export interface GroupDirectory {
  isMember(userId: string, groupIds: readonly string[]): Promise<boolean>;
}

/** Puts work on the job queues; implemented by jobs/. */
export interface Dispatcher {
  execute(opId: string): Promise<void>;
  /** Idempotent: one watch job per operation, re-armed by the job itself. */
  watch(opId: string, delayMs: number): Promise<void>;
  deliver(opId: string): Promise<void>;
}

/** What watches read from the routing view (RIPEstat looking glass and routing-status in production). */
export interface RoutingView {
  sample(prefix: string): Promise<import('../routing/looking-glass.js').VisibilitySample>;
  usualPeerCount(prefix: string): Promise<number>;
}
