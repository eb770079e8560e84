/**
 * The change-kind interface. Each kind of change (advertise, withdraw, onboard, validate, ...) is one module in this
 * folder implementing `ChangeKind`, registered in `index.ts`. The engine (src/operations/) is generic over the table:
 * it files, approves, executes, verifies and recovers any kind the same way. Kinds emit typed facts and events;
 * their Slack text lives in src/slack/render/kinds.ts.
 */
import type { ReadOptions } from '../operations/coalesce.js';
import type { AddressMap, BgpPrefix, Delegation, LoaDocument, Prefix, Service, ServiceBinding } from '../domain/addressing.js';
import type { OpEvent, Verdict } from '../domain/events.js';
import type { Check, Guard } from '../domain/guards.js';

export type { Check };
import type { BlastRadiusFacts, Operation, OperationKind } from '../domain/operation.js';
import type { EnginePolicy } from '../domain/policy.js';
import type { AddressSpaceRules } from '../domain/special-prefixes.js';
import type { OwnAnnouncement } from '../routing/pre-withdraw.js';
import type { PreflightReport } from '../routing/preflight.js';
import type { PeerRoute, VisibilitySample } from '../routing/looking-glass.js';

/** The slice of Cloudflare's addressing API the kinds use (CloudflareClient implements it). */
export interface AddressingApi {
  listPrefixes(accountId: string): Promise<Prefix[]>;
  getPrefix(accountId: string, prefixId: string): Promise<Prefix>;
  validatePrefix(accountId: string, prefixId: string): Promise<Prefix>;
  /** PATCH .../prefixes/{id}: the only editable field is the description (the own-LOA path's PATCH once approved). */
  updatePrefixDescription(accountId: string, prefixId: string, description: string): Promise<Prefix>;
  createPrefix(accountId: string, input: { cidr: string; asn: number; description?: string; loaDocumentId?: string | null; delegateLoaCreation?: boolean }): Promise<Prefix>;
  uploadLoaDocument(accountId: string, input: { filename: string; content: Uint8Array }): Promise<LoaDocument>;
  listBgpPrefixes(accountId: string, prefixId: string): Promise<BgpPrefix[]>;
  getBgpPrefix(accountId: string, prefixId: string, bgpPrefixId: string): Promise<BgpPrefix>;
  createBgpPrefix(accountId: string, prefixId: string, cidr: string): Promise<BgpPrefix>;
  deleteBgpPrefix(accountId: string, prefixId: string, bgpPrefixId: string): Promise<void>;
  setBgpPrefixAdvertised(accountId: string, prefixId: string, bgpPrefixId: string, advertised: boolean): Promise<BgpPrefix>;
  /** `PATCH .../bgp/prefixes/{id} {"asn_prepend_count": n}` (the staged withdraw's gate 2); optional for test fakes. */
  setBgpPrefixPrepend?(accountId: string, prefixId: string, bgpPrefixId: string, count: number): Promise<BgpPrefix>;
  /** The withdraw with the prepend count set back in the same PATCH (after gate 2 raised it). */
  withdrawBgpPrefix?(accountId: string, prefixId: string, bgpPrefixId: string, resetPrependTo: number | null): Promise<BgpPrefix>;
  listServiceBindings(accountId: string, prefixId: string): Promise<ServiceBinding[]>;
  listDelegations(accountId: string, prefixId: string): Promise<Delegation[]>;
  listAddressMaps(accountId: string): Promise<AddressMap[]>;
  getAddressMap(accountId: string, addressMapId: string): Promise<AddressMap>;
  createAddressMap(accountId: string, input: { description?: string | null; enabled?: boolean | null; ips?: string[]; memberships?: { kind: 'zone' | 'account'; identifier: string }[] }): Promise<AddressMap>;
  updateAddressMap(accountId: string, addressMapId: string, input: { description?: string | null; enabled?: boolean | null; defaultSni?: string | null }): Promise<AddressMap>;
  deleteAddressMap(accountId: string, addressMapId: string): Promise<void>;
  addAddressMapIp(accountId: string, addressMapId: string, ip: string): Promise<void>;
  removeAddressMapIp(accountId: string, addressMapId: string, ip: string): Promise<void>;
  addAddressMapZone(accountId: string, addressMapId: string, zoneId: string): Promise<void>;
  removeAddressMapZone(accountId: string, addressMapId: string, zoneId: string): Promise<void>;
  addAddressMapAccount(accountId: string, addressMapId: string): Promise<void>;
  removeAddressMapAccount(accountId: string, addressMapId: string): Promise<void>;
  listServices(accountId: string): Promise<Service[]>;
  createServiceBinding(accountId: string, prefixId: string, input: { cidr: string; serviceId: string }): Promise<ServiceBinding>;
  deleteServiceBinding(accountId: string, prefixId: string, bindingId: string): Promise<void>;
  createDelegation(accountId: string, prefixId: string, input: { cidr: string; delegatedAccountId: string }): Promise<Delegation>;
  deleteDelegation(accountId: string, prefixId: string, delegationId: string): Promise<string>;
}

/** Facts the bot observed and must remember across requests (in Redis): e.g. when it saw a binding become active. */
export interface Observations {
  get(key: string): Promise<string | null>;
  /** Records `value` unless something is recorded already; returns what is recorded now. */
  setOnce(key: string, value: string): Promise<string>;
}

/** What watches read from the routing view (RIPEstat looking glass and routing-status in production). */
export interface RoutingView {
  sample(prefix: string): Promise<VisibilitySample>;
  usualPeerCount(prefix: string): Promise<number>;
  /** Each collector peer's route for exactly `prefix` (the zombie hunt names them); optional for test fakes. */
  routes?(prefix: string): Promise<PeerRoute[]>;
}

/** The staged withdraw's timings (env WITHDRAW_*_MS). */
export interface DrainSettings {
  /** Gate 1: how long our same-length announcement must be seen on enough peers. */
  convergenceMs: number;
  /** How long the gates may hold an approved withdraw before it closes as failed, nothing sent. */
  maxWaitMs: number;
  /** Gate 2: the pause after each prepend step. */
  prependPauseMs: number;
  /** Zombie hunt: this long after the withdraw was accepted... */
  zombieAfterMs: number;
  /** ...and this long after most peers dropped the route. */
  zombieSettleMs: number;
}

export const DEFAULT_DRAIN: DrainSettings = { convergenceMs: 10 * 60_000, maxWaitMs: 60 * 60_000, prependPauseMs: 2 * 60_000, zombieAfterMs: 15 * 60_000, zombieSettleMs: 5 * 60_000 };

/** Reads shared between callers and replicas for a while (CoalescedReader in Redis). */
export interface SharedReader {
  read<T>(key: string, ttlMs: number, fetch: () => Promise<T>, revive?: (raw: unknown) => T, opts?: ReadOptions): Promise<T>;
  /** Drops shared answers made stale by a change. */
  invalidate(...keys: string[]): Promise<void>;
}

/** Everything a kind may use; no Slack, no Redis records. */
export interface KindDeps {
  cloudflare: AddressingApi;
  policy: EnginePolicy;
  reader: SharedReader;
  routing: RoutingView;
  /** Before a withdraw: is the team's own AS seen announcing the prefix or a covering one? */
  ownAnnouncement?: (prefix: string, ownAsn: number) => Promise<OwnAnnouncement>;
  /** Before onboard / validate: what Cloudflare's validation would find. */
  preflight?: (cidr: string, asn: number | undefined, ownershipToken: string | undefined) => Promise<PreflightReport>;
  /** What the bot remembers seeing (binding activation times...). */
  observations?: Observations;
  now(): number;
  /** Which special-purpose space onboarding refuses (documentation space is allowed in the sandbox only). */
  addressSpace?: AddressSpaceRules;
  /** Between watch ticks; escalation thresholds. */
  watch: { pollIntervalMs: number; escalateAfterMs: { advertise: number; withdraw: number } };
  /** The wait between the default binding becoming active and the first advertise (the docs: 5 h). */
  bindingSettleMs?: number;
  /** Following a service binding (4-6 h at Cloudflare): between reads, and how long before `Not confirmed:`. */
  bindingWatch?: { pollIntervalMs: number; timeoutMs: number };
  /** The staged withdraw's timings; DEFAULT_DRAIN when absent. */
  drain?: DrainSettings;
}

export interface IntakeRequest {
  cidr: string;
  userId: string;
  /** Onboard: the ASN the prefix is added with. */
  asn?: number;
  /** What the request form collected (bind: the service and the CIDR or IP list); absent at the command. */
  form?: Record<string, string>;
  breakGlass: boolean;
}

/** What a request targets, found at intake (the command) and again at filing. */
export interface Target {
  accountId: string;
  prefixId: string;
  bgpPrefixId: string | null;
  params: Record<string, unknown>;
  /** Cloudflare's state before the change, for the audit. */
  before: Record<string, unknown>;
}

/** What else a routing change touches, read from Cloudflare for the card. */
export type BlastRadius = BlastRadiusFacts;

export interface Plan {
  guards: Guard[];
  checks: Check[];
  blast?: BlastRadius;
}

export interface ApplyTools {
  /**
   * Records that the call may be in flight, then sends it once. Throws what the call threw; the engine audits it
   * and decides (retry after a re-read, or close honestly). Refuses (throws) if the operation moved on meanwhile.
   */
  send<T>(request: string, call: () => Promise<T>): Promise<T>;
  audit(type: string, data: Record<string, unknown>): Promise<void>;
  /** An earlier attempt of ours recorded a call (a retry after a crash or an unclear answer). */
  calledBefore: boolean;
}

export type ApplyResult =
  /** Cloudflare has the change (sent by us, or already true): follow it. */
  | { outcome: 'called' | 'skipped'; request: string; result: Record<string, unknown>; facts: Record<string, unknown>; patch?: Partial<Pick<Operation, 'prefixId' | 'params'>> }
  /** The read showed it cannot or must not be done: closed as failed, nothing sent. */
  | { outcome: 'refused'; step: string; facts: Record<string, unknown> };

export interface VerifyStep {
  events: OpEvent[];
  /** The kind's watch state to merge. */
  data?: Record<string, unknown>;
  /** The latest observation (plain sentence) for the card; undefined keeps it. */
  latest?: string;
  escalated?: boolean;
  /** Counts as a sample (for the counters). */
  sampled?: boolean;
  /** The end, when reached. */
  verdict?: { verdict: Verdict; step: string; facts: Record<string, unknown> };
  /** Ask for the next tick sooner than the poll interval (e.g. straight into the next phase). */
  nextDelayMs?: number;
}

/** Tools the engine gives a kind's gates (`stage`): audited reads and the gates' own idempotent calls. */
export interface StageTools {
  audit(type: string, data: Record<string, unknown>): Promise<void>;
  /** A gate's own Cloudflare call (gate 2's prepend PATCH): audited as a call, its answer and its result. */
  call<T>(request: string, call: () => Promise<T>): Promise<T>;
}

/**
 * One look at a kind's gates before its mutation, inside `executing`. `ready`: go on to the guards and the one call.
 * `wait`: nothing sent; look again at `untilMs` (the job is delayed in Redis). `failed`: close, nothing sent.
 */
export type StageStep =
  | { outcome: 'ready'; events: OpEvent[]; data?: Record<string, unknown>; latest?: string | null }
  | { outcome: 'wait'; untilMs: number; events: OpEvent[]; data: Record<string, unknown>; latest: string }
  | { outcome: 'failed'; step: string; facts: Record<string, unknown> };

export interface ChangeKind {
  readonly kind: OperationKind;
  /** May be used through `/byoip emergency` (no approval, reviewed afterwards). */
  readonly breakGlass: boolean;
  /** Checks the target before any form opens: refuses (BotError) what cannot be done, with the fix. */
  intake(deps: KindDeps, req: IntakeRequest): Promise<Target>;
  /** What the change is guarded by: run at filing (shown on the card) and again right before the mutation. */
  plan(deps: KindDeps, op: Operation): Promise<Plan>;
  /** Reads first, skips what is already true, then makes exactly one mutation through `tools.send`. */
  apply(deps: KindDeps, op: Operation, tools: ApplyTools): Promise<ApplyResult>;
  /** One tick of following the change. Throws when a read fails (the engine counts failures). */
  verify(deps: KindDeps, op: Operation): Promise<VerifyStep>;
  /** How long the watch may take before `Not confirmed:` (default: WATCH_TIMEOUT_MS); bindings take hours. */
  watchTimeoutMs?(deps: KindDeps): number | undefined;
  /**
   * Gates the change waits on before its mutation (the staged withdraw's drain). Run on every execute attempt until
   * `ready`; never for break glass (the engine says so on the card and in the audit). Absent: no gates.
   */
  stage?(deps: KindDeps, op: Operation, tools: StageTools): Promise<StageStep>;
  /** Ids of the gates an approver may skip with an explicit, audited override (shown on the card as "skip"). */
  gateIds?(deps: KindDeps, op: Operation): string[];
}
