import Cloudflare, { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from 'cloudflare';
import { Address4, Address6 } from 'ip-address';
import { z } from 'zod';
import type {
  AddressMap,
  AdvertisementStatus,
  BgpPrefix,
  Delegation,
  Lease,
  LoaDocument,
  Prefix,
  Service,
  ServiceBinding,
} from '../domain/addressing.js';
import type { Logger } from '../logger.js';
import { recordAnswer } from './answers.js';
import { RequestBudget } from './budget.js';
import { describeFailure, invalidRequest, type Operation, type RequestKind, PERMISSIONS } from './describe.js';
import { currentRequestContext, higherClass, type RequestClass } from './request-class.js';
import { CloudflareError } from './errors.js';
import { ErrorCode } from '../errors.js';
import {
  addressMapSchema,
  advertisementStatusSchema,
  bgpPrefixSchema,
  delegationSchema,
  envelopeSchema,
  fieldPath,
  idSchema,
  leaseSchema,
  loaDocumentSchema,
  prefixSchema,
  serviceBindingSchema,
  serviceSchema,
  type Envelope,
} from './schemas.js';

export interface CloudflareClientOptions {
  /** e.g. `https://api.cloudflare.com/client/v4` or the simulator's `url`. */
  baseUrl: string;
  apiToken: string;
  /**
   * Per attempt; 30 s (CLOUDFLARE_TIMEOUT_MS). Also the in-flight window: a call whose answer never came may still
   * land at Cloudflare until this long after it was sent, so a worker taking it over waits that long before re-reading.
   */
  timeoutMs?: number;
  /** Shared request budget; without one the client does not pace itself. */
  budget?: RequestBudget;
  logger?: Logger;
  /** Read retries after the first attempt (timeouts, 5xx, 429, connection errors); 3. Mutations are never retried. */
  readRetries?: number;
  /** Backoff of read retries: base * 2^n capped at max, plus up to 25 % jitter; 500 ms / 8 s. */
  retryBaseDelayMs?: number;
  retryMaxDelayMs?: number;
  /** Longest a read waits for a Retry-After before giving up; 60 s. */
  maxRetryAfterMs?: number;
  /** Told about every call sent (metrics). */
  onCall?: (call: CloudflareCallReport) => void;
}

/** One call sent to Cloudflare (after the budget let it through), as `onCall` hears of it. */
export interface CloudflareCallReport {
  kind: RequestKind;
  /** HTTP status; null when no answer came (timeout, connection refused). */
  status: number | null;
  /** The ErrorCode when the call failed, null on success. */
  error: string | null;
  ms: number;
}

export interface CreatePrefixInput {
  cidr: string;
  asn: number;
  loaDocumentId?: string | null;
  description?: string;
  delegateLoaCreation?: boolean;
}

export interface UpdateBgpPrefixInput {
  advertised?: boolean;
  asnPrependCount?: number;
  autoAdvertiseWithdraw?: boolean;
}

export interface CreateAddressMapInput {
  description?: string | null;
  enabled?: boolean | null;
  ips?: string[];
  memberships?: { kind: 'zone' | 'account'; identifier: string }[];
}

export interface UpdateAddressMapInput {
  description?: string | null;
  enabled?: boolean | null;
  defaultSni?: string | null;
}

/** What a call returned, before its result is parsed. */
interface RawResult {
  envelope: Envelope | null;
  status: number;
  headers: Headers;
  bytes?: Buffer;
}

type Send = (opts: Cloudflare.RequestOptions) => { asResponse(): Promise<Response> };

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const ID = /^[0-9a-f]{32}$/;
const isIp = (ip: string) => !ip.includes('/') && (Address4.isValid(ip) || Address6.isValid(ip));
const MAX_DESCRIPTION = 1000;

/**
 * The Cloudflare addressing API, typed. Every method returns domain objects (camelCase) checked by zod and throws
 * only CloudflareError. Reads are paced by the shared budget and retried with backoff; mutations are sent once,
 * and a failure whose outcome is unknown says so (`outcomeUnknown`): re-read before trying again. Each request is
 * counted in the budget under the request class of the code calling it (`withRequestClass`, request-class.ts).
 */
export class CloudflareClient {
  readonly baseUrl: string;
  /** Per attempt, and the in-flight window of a call whose answer never came. */
  readonly timeoutMs: number;
  private readonly sdk: Cloudflare;
  private readonly tokenKey: string;
  private readonly budget: RequestBudget | undefined;
  private readonly logger: Logger | undefined;
  private readonly readRetries: number;
  private readonly retryBaseDelayMs: number;
  private readonly retryMaxDelayMs: number;
  private readonly maxRetryAfterMs: number;
  private readonly onCall: ((call: CloudflareCallReport) => void) | undefined;

  constructor(opts: CloudflareClientOptions) {
    if (!opts.apiToken) throw new Error('CloudflareClient needs an API token');
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '');
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.budget = opts.budget;
    this.logger = opts.logger;
    this.readRetries = opts.readRetries ?? 3;
    this.retryBaseDelayMs = opts.retryBaseDelayMs ?? 500;
    this.retryMaxDelayMs = opts.retryMaxDelayMs ?? 8_000;
    this.maxRetryAfterMs = opts.maxRetryAfterMs ?? 60_000;
    this.onCall = opts.onCall;
    this.tokenKey = RequestBudget.tokenKey(opts.apiToken);
    // SDK retries are off: they would bypass the budget and could send a mutation twice. Reads retry here.
    // Other credentials are nulled so the SDK does not pick up CLOUDFLARE_API_KEY / CLOUDFLARE_EMAIL from the environment.
    this.sdk = new Cloudflare({
      apiToken: opts.apiToken,
      apiKey: null,
      apiEmail: null,
      userServiceKey: null,
      baseURL: this.baseUrl,
      maxRetries: 0,
      timeout: this.timeoutMs,
      logLevel: 'off',
    });
  }

  // ---- prefixes ----

  async listPrefixes(accountId: string): Promise<Prefix[]> {
    const op = this.op('list prefixes', 'read', PERMISSIONS.read, accountId, `the prefixes of account ${accountId}`);
    const list = await this.many(op, (o) => this.sdk.addressing.prefixes.list({ account_id: accountId }, o), prefixSchema);
    return list.map((p) => ({ ...p, accountId: p.accountId ?? accountId }));
  }

  async getPrefix(accountId: string, prefixId: string): Promise<Prefix> {
    const op = this.op('get prefix', 'read', PERMISSIONS.read, accountId, `prefix ${prefixId}`, { 'prefix id': prefixId });
    const p = await this.one(op, (o) => this.sdk.addressing.prefixes.get(prefixId, { account_id: accountId }, o), prefixSchema);
    return { ...p, accountId: p.accountId ?? accountId };
  }

  async createPrefix(accountId: string, input: CreatePrefixInput): Promise<Prefix> {
    const op = this.op('add prefix', 'mutation', PERMISSIONS.prefixWrite, accountId, `prefix ${input.cidr}`);
    if (!Number.isInteger(input.asn) || input.asn < 1 || input.asn > 4294967295) throw invalidRequest(op, `${input.asn} is not an ASN`);
    checkDescription(op, input.description);
    if (input.loaDocumentId != null && !ID.test(input.loaDocumentId)) {
      throw invalidRequest(op, `\`${input.loaDocumentId}\` is not an LOA document id`);
    }
    // The 2024 spec requires loa_document_id (nullable); sending null keeps both spec versions happy.
    const params: Cloudflare.Addressing.PrefixCreateParams = { account_id: accountId, cidr: input.cidr, asn: input.asn, loa_document_id: input.loaDocumentId ?? null };
    if (input.description !== undefined) params.description = input.description;
    if (input.delegateLoaCreation !== undefined) params.delegate_loa_creation = input.delegateLoaCreation;
    const p = await this.one(op, (o) => this.sdk.addressing.prefixes.create(params, o), prefixSchema);
    return { ...p, accountId: p.accountId ?? accountId };
  }

  async updatePrefixDescription(accountId: string, prefixId: string, description: string): Promise<Prefix> {
    const op = this.op('change prefix description', 'mutation', PERMISSIONS.prefixWrite, accountId, `prefix ${prefixId}`, { 'prefix id': prefixId });
    checkDescription(op, description);
    const p = await this.one(op, (o) => this.sdk.addressing.prefixes.edit(prefixId, { account_id: accountId, description }, o), prefixSchema);
    return { ...p, accountId: p.accountId ?? accountId };
  }

  /** Deletes a prefix; Cloudflare allows it only while the prefix is unapproved. */
  async deletePrefix(accountId: string, prefixId: string): Promise<void> {
    const op = this.op('delete prefix', 'mutation', PERMISSIONS.prefixWrite, accountId, `prefix ${prefixId}`, { 'prefix id': prefixId });
    await this.none(op, (o) => this.sdk.addressing.prefixes.delete(prefixId, { account_id: accountId }, { ...o, body: {} }));
  }

  /** Starts Cloudflare's IRR, RPKI and ownership checks (asynchronous); the answer shows the states as they are now. */
  async validatePrefix(accountId: string, prefixId: string): Promise<Prefix> {
    const op = this.op('validate prefix', 'mutation', PERMISSIONS.validate, accountId, `prefix ${prefixId}`, { 'prefix id': prefixId });
    const p = await this.one(op, (o) => this.sdk.addressing.prefixes.validate(prefixId, { account_id: accountId }, o), prefixSchema);
    return { ...p, accountId: p.accountId ?? accountId };
  }

  // ---- BGP prefixes ----

  async listBgpPrefixes(accountId: string, prefixId: string): Promise<BgpPrefix[]> {
    const op = this.op('list BGP prefixes', 'read', PERMISSIONS.read, accountId, `the BGP prefixes of prefix ${prefixId}`, { 'prefix id': prefixId });
    return this.many(op, (o) => this.sdk.addressing.prefixes.bgpPrefixes.list(prefixId, { account_id: accountId }, o), bgpPrefixSchema);
  }

  async getBgpPrefix(accountId: string, prefixId: string, bgpPrefixId: string): Promise<BgpPrefix> {
    const op = this.op('get BGP prefix', 'read', PERMISSIONS.read, accountId, `BGP prefix ${bgpPrefixId} of prefix ${prefixId}`, {
      'prefix id': prefixId,
      'BGP prefix id': bgpPrefixId,
    });
    const params = { account_id: accountId, prefix_id: prefixId };
    return this.one(op, (o) => this.sdk.addressing.prefixes.bgpPrefixes.get(bgpPrefixId, params, o), bgpPrefixSchema);
  }

  /** Creates a BGP prefix (equal to or more specific than the prefix); Cloudflare creates it withdrawn. */
  async createBgpPrefix(accountId: string, prefixId: string, cidr: string): Promise<BgpPrefix> {
    const op = this.op('create BGP prefix', 'mutation', PERMISSIONS.bgpWrite, accountId, `BGP prefix ${cidr} of prefix ${prefixId}`, {
      'prefix id': prefixId,
    });
    return this.one(op, (o) => this.sdk.addressing.prefixes.bgpPrefixes.create(prefixId, { account_id: accountId, cidr }, o), bgpPrefixSchema);
  }

  async updateBgpPrefix(accountId: string, prefixId: string, bgpPrefixId: string, input: UpdateBgpPrefixInput): Promise<BgpPrefix> {
    const what = input.advertised === true ? 'advertise' : input.advertised === false ? 'withdraw' : 'update';
    const op = this.op(`${what} BGP prefix`, 'mutation', PERMISSIONS.bgpWrite, accountId, `BGP prefix ${bgpPrefixId} of prefix ${prefixId}`, {
      'prefix id': prefixId,
      'BGP prefix id': bgpPrefixId,
    });
    const n = input.asnPrependCount;
    if (n !== undefined && !(Number.isInteger(n) && n >= 0 && n <= 3)) throw invalidRequest(op, `the AS path prepend count must be 0 to 3, not ${n}`);
    const params: Cloudflare.Addressing.Prefixes.BGPPrefixEditParams = { account_id: accountId, prefix_id: prefixId };
    if (input.advertised !== undefined) params.on_demand = { advertised: input.advertised };
    if (input.asnPrependCount !== undefined) params.asn_prepend_count = input.asnPrependCount;
    if (input.autoAdvertiseWithdraw !== undefined) params.auto_advertise_withdraw = input.autoAdvertiseWithdraw;
    return this.one(op, (o) => this.sdk.addressing.prefixes.bgpPrefixes.edit(bgpPrefixId, params, o), bgpPrefixSchema);
  }

  /** Advertises (true) or withdraws (false) a BGP prefix. A 2xx only means Cloudflare registered the change. */
  async setBgpPrefixAdvertised(accountId: string, prefixId: string, bgpPrefixId: string, advertised: boolean): Promise<BgpPrefix> {
    return this.updateBgpPrefix(accountId, prefixId, bgpPrefixId, { advertised });
  }

  /** Sets how many times AS13335 is prepended to the BGP prefix's AS path (0-3): the staged withdraw's gate 2. */
  async setBgpPrefixPrepend(accountId: string, prefixId: string, bgpPrefixId: string, count: number): Promise<BgpPrefix> {
    return this.updateBgpPrefix(accountId, prefixId, bgpPrefixId, { asnPrependCount: count });
  }

  /** Withdraws a BGP prefix, setting its prepend count back in the same PATCH when `resetPrependTo` is a number. */
  async withdrawBgpPrefix(accountId: string, prefixId: string, bgpPrefixId: string, resetPrependTo: number | null): Promise<BgpPrefix> {
    return this.updateBgpPrefix(accountId, prefixId, bgpPrefixId, { advertised: false, ...(resetPrependTo !== null ? { asnPrependCount: resetPrependTo } : {}) });
  }

  /** Deletes a BGP prefix; Cloudflare allows it only once withdrawn. */
  async deleteBgpPrefix(accountId: string, prefixId: string, bgpPrefixId: string): Promise<void> {
    const op = this.op('delete BGP prefix', 'mutation', PERMISSIONS.bgpWrite, accountId, `BGP prefix ${bgpPrefixId} of prefix ${prefixId}`, {
      'prefix id': prefixId,
      'BGP prefix id': bgpPrefixId,
    });
    const params = { account_id: accountId, prefix_id: prefixId };
    await this.none(op, (o) => this.sdk.addressing.prefixes.bgpPrefixes.delete(bgpPrefixId, params, o));
  }

  /** Deprecated whole-prefix advertisement status, for accounts that still use `/bgp/status`. */
  async getAdvertisementStatus(accountId: string, prefixId: string): Promise<AdvertisementStatus> {
    const op = this.op('get advertisement status', 'read', PERMISSIONS.read, accountId, `prefix ${prefixId}`, { 'prefix id': prefixId });
    return this.one(op, (o) => this.sdk.addressing.prefixes.advertisementStatus.get(prefixId, { account_id: accountId }, o), advertisementStatusSchema);
  }

  /** Deprecated whole-prefix advertise / withdraw. */
  async setAdvertisementStatus(accountId: string, prefixId: string, advertised: boolean): Promise<AdvertisementStatus> {
    const op = this.op(advertised ? 'advertise prefix' : 'withdraw prefix', 'mutation', PERMISSIONS.bgpWrite, accountId, `prefix ${prefixId}`, {
      'prefix id': prefixId,
    });
    const params = { account_id: accountId, advertised };
    return this.one(op, (o) => this.sdk.addressing.prefixes.advertisementStatus.edit(prefixId, params, o), advertisementStatusSchema);
  }

  // ---- service bindings and services ----

  async listServiceBindings(accountId: string, prefixId: string): Promise<ServiceBinding[]> {
    const op = this.op('list service bindings', 'read', PERMISSIONS.read, accountId, `the service bindings of prefix ${prefixId}`, {
      'prefix id': prefixId,
    });
    return this.many(op, (o) => this.sdk.addressing.prefixes.serviceBindings.list(prefixId, { account_id: accountId }, o), serviceBindingSchema);
  }

  async getServiceBinding(accountId: string, prefixId: string, bindingId: string): Promise<ServiceBinding> {
    const op = this.op('get service binding', 'read', PERMISSIONS.read, accountId, `service binding ${bindingId} of prefix ${prefixId}`, {
      'prefix id': prefixId,
      'service binding id': bindingId,
    });
    const params = { account_id: accountId, prefix_id: prefixId };
    return this.one(op, (o) => this.sdk.addressing.prefixes.serviceBindings.get(bindingId, params, o), serviceBindingSchema);
  }

  /** Binds a CIDR of the prefix to a service (look the id up by name with listServices). Starts `provisioning`. */
  async createServiceBinding(accountId: string, prefixId: string, input: { cidr: string; serviceId: string }): Promise<ServiceBinding> {
    const op = this.op('create service binding', 'mutation', PERMISSIONS.bindingWrite, accountId, `a service binding for ${input.cidr} on prefix ${prefixId}`, {
      'prefix id': prefixId,
      'service id': input.serviceId,
    });
    const params = { account_id: accountId, cidr: input.cidr, service_id: input.serviceId };
    return this.one(op, (o) => this.sdk.addressing.prefixes.serviceBindings.create(prefixId, params, o), serviceBindingSchema);
  }

  async deleteServiceBinding(accountId: string, prefixId: string, bindingId: string): Promise<void> {
    const op = this.op('delete service binding', 'mutation', PERMISSIONS.bindingWrite, accountId, `service binding ${bindingId} of prefix ${prefixId}`, {
      'prefix id': prefixId,
      'service binding id': bindingId,
    });
    const params = { account_id: accountId, prefix_id: prefixId };
    await this.none(op, (o) => this.sdk.addressing.prefixes.serviceBindings.delete(bindingId, params, o));
  }

  async listServices(accountId: string): Promise<Service[]> {
    const op = this.op('list services', 'read', PERMISSIONS.read, accountId, `the services of account ${accountId}`);
    return this.many(op, (o) => this.sdk.addressing.services.list({ account_id: accountId }, o), serviceSchema);
  }

  /** The service called `name` (e.g. `Magic Transit`, `CDN`, `Spectrum`); ids differ between accounts, names do not. */
  async findService(accountId: string, name: string): Promise<Service> {
    const services = await this.listServices(accountId);
    const found = services.find((s) => s.name.toLowerCase() === name.toLowerCase());
    if (found) return found;
    throw new CloudflareError(
      ErrorCode.CloudflareNotFound,
      `Cloudflare offers no service called ${name} to account ${accountId}; it offers ${services.map((s) => s.name).join(', ') || 'none'}. Check the account's contract.`,
      { status: null, retryable: false, operation: 'find service' },
    );
  }

  // ---- delegations ----

  async listDelegations(accountId: string, prefixId: string): Promise<Delegation[]> {
    const op = this.op('list delegations', 'read', PERMISSIONS.read, accountId, `the delegations of prefix ${prefixId}`, { 'prefix id': prefixId });
    return this.many(op, (o) => this.sdk.addressing.prefixes.delegations.list(prefixId, { account_id: accountId }, o), delegationSchema);
  }

  async createDelegation(accountId: string, prefixId: string, input: { cidr: string; delegatedAccountId: string }): Promise<Delegation> {
    const op = this.op('delegate prefix', 'mutation', PERMISSIONS.prefixWrite, accountId, `a delegation of ${input.cidr} from prefix ${prefixId}`, {
      'prefix id': prefixId,
      'delegated account id': input.delegatedAccountId,
    });
    const params = { account_id: accountId, cidr: input.cidr, delegated_account_id: input.delegatedAccountId };
    return this.one(op, (o) => this.sdk.addressing.prefixes.delegations.create(prefixId, params, o), delegationSchema);
  }

  /** Removes a delegation; returns the id Cloudflare confirms. */
  async deleteDelegation(accountId: string, prefixId: string, delegationId: string): Promise<string> {
    const op = this.op('remove delegation', 'mutation', PERMISSIONS.prefixWrite, accountId, `delegation ${delegationId} of prefix ${prefixId}`, {
      'prefix id': prefixId,
      'delegation id': delegationId,
    });
    const params = { account_id: accountId, prefix_id: prefixId };
    const r = await this.one(op, (o) => this.sdk.addressing.prefixes.delegations.delete(delegationId, params, { ...o, body: {} }), idSchema);
    return r.id;
  }

  // ---- address maps ----

  async listAddressMaps(accountId: string): Promise<AddressMap[]> {
    const op = this.op('list address maps', 'read', PERMISSIONS.read, accountId, `the address maps of account ${accountId}`);
    return this.many(op, (o) => this.sdk.addressing.addressMaps.list({ account_id: accountId }, o), addressMapSchema);
  }

  async getAddressMap(accountId: string, addressMapId: string): Promise<AddressMap> {
    const op = this.op('get address map', 'read', PERMISSIONS.read, accountId, `address map ${addressMapId}`, { 'address map id': addressMapId });
    return this.one(op, (o) => this.sdk.addressing.addressMaps.get(addressMapId, { account_id: accountId }, o), addressMapSchema);
  }

  async createAddressMap(accountId: string, input: CreateAddressMapInput = {}): Promise<AddressMap> {
    const op = this.op('create address map', 'mutation', PERMISSIONS.prefixWrite, accountId, 'a new address map');
    const badIp = input.ips?.find((ip) => !isIp(ip));
    if (badIp !== undefined) throw invalidRequest(op, `\`${badIp}\` is not an IP address`);
    const badMember = input.memberships?.find((m) => !ID.test(m.identifier));
    if (badMember) throw invalidRequest(op, `\`${badMember.identifier}\` is not a ${badMember.kind} id`);
    const params: Cloudflare.Addressing.AddressMapCreateParams = { account_id: accountId };
    if (input.description !== undefined) params.description = input.description;
    if (input.enabled !== undefined) params.enabled = input.enabled;
    if (input.ips !== undefined) params.ips = input.ips;
    if (input.memberships !== undefined) params.memberships = input.memberships;
    return this.one(op, (o) => this.sdk.addressing.addressMaps.create(params, o), addressMapSchema);
  }

  /** Changes description, enabled or default SNI. The answer leaves out IPs and memberships (null). */
  async updateAddressMap(accountId: string, addressMapId: string, input: UpdateAddressMapInput): Promise<AddressMap> {
    const op = this.op('change address map', 'mutation', PERMISSIONS.prefixWrite, accountId, `address map ${addressMapId}`, { 'address map id': addressMapId });
    const params: Cloudflare.Addressing.AddressMapEditParams = { account_id: accountId };
    if (input.description !== undefined) params.description = input.description;
    if (input.enabled !== undefined) params.enabled = input.enabled;
    if (input.defaultSni !== undefined) params.default_sni = input.defaultSni;
    return this.one(op, (o) => this.sdk.addressing.addressMaps.edit(addressMapId, params, o), addressMapSchema);
  }

  /** Deletes an address map; Cloudflare allows it only once disabled, and never for `canDelete: false`. */
  async deleteAddressMap(accountId: string, addressMapId: string): Promise<void> {
    const op = this.op('delete address map', 'mutation', PERMISSIONS.prefixWrite, accountId, `address map ${addressMapId}`, { 'address map id': addressMapId });
    await this.none(op, (o) => this.sdk.addressing.addressMaps.delete(addressMapId, { account_id: accountId }, { ...o, body: {} }));
  }

  async addAddressMapIp(accountId: string, addressMapId: string, ip: string): Promise<void> {
    const op = this.op('add IP to address map', 'mutation', PERMISSIONS.prefixWrite, accountId, `IP ${ip} on address map ${addressMapId}`, {
      'address map id': addressMapId,
    });
    if (!isIp(ip)) throw invalidRequest(op, `\`${ip}\` is not an IP address`);
    const params = { account_id: accountId, address_map_id: addressMapId };
    await this.none(op, (o) => this.sdk.addressing.addressMaps.ips.update(ip, params, { ...o, body: {} }));
  }

  async removeAddressMapIp(accountId: string, addressMapId: string, ip: string): Promise<void> {
    const op = this.op('remove IP from address map', 'mutation', PERMISSIONS.prefixWrite, accountId, `IP ${ip} on address map ${addressMapId}`, {
      'address map id': addressMapId,
    });
    if (!isIp(ip)) throw invalidRequest(op, `\`${ip}\` is not an IP address`);
    const params = { account_id: accountId, address_map_id: addressMapId };
    await this.none(op, (o) => this.sdk.addressing.addressMaps.ips.delete(ip, params, { ...o, body: {} }));
  }

  /** The SDK has no zone membership calls; raw PUT. */
  async addAddressMapZone(accountId: string, addressMapId: string, zoneId: string): Promise<void> {
    const op = this.op('add zone to address map', 'mutation', PERMISSIONS.prefixWrite, accountId, `zone ${zoneId} on address map ${addressMapId}`, {
      'address map id': addressMapId,
      'zone id': zoneId,
    });
    await this.none(op, (o) => this.sdk.put(`/accounts/${accountId}/addressing/address_maps/${addressMapId}/zones/${zoneId}`, { ...o, body: {} }));
  }

  async removeAddressMapZone(accountId: string, addressMapId: string, zoneId: string): Promise<void> {
    const op = this.op('remove zone from address map', 'mutation', PERMISSIONS.prefixWrite, accountId, `zone ${zoneId} on address map ${addressMapId}`, {
      'address map id': addressMapId,
      'zone id': zoneId,
    });
    await this.none(op, (o) => this.sdk.delete(`/accounts/${accountId}/addressing/address_maps/${addressMapId}/zones/${zoneId}`, { ...o, body: {} }));
  }

  async addAddressMapAccount(accountId: string, addressMapId: string): Promise<void> {
    const op = this.op('add account to address map', 'mutation', PERMISSIONS.prefixWrite, accountId, `account ${accountId} on address map ${addressMapId}`, {
      'address map id': addressMapId,
    });
    const params = { account_id: accountId, address_map_id: addressMapId };
    await this.none(op, (o) => this.sdk.addressing.addressMaps.accounts.update(accountId, params, { ...o, body: {} }));
  }

  async removeAddressMapAccount(accountId: string, addressMapId: string): Promise<void> {
    const op = this.op('remove account from address map', 'mutation', PERMISSIONS.prefixWrite, accountId, `account ${accountId} on address map ${addressMapId}`, {
      'address map id': addressMapId,
    });
    const params = { account_id: accountId, address_map_id: addressMapId };
    await this.none(op, (o) => this.sdk.addressing.addressMaps.accounts.delete(accountId, params, { ...o, body: {} }));
  }

  // ---- LOA documents and leases ----

  /**
   * Uploads an LOA (PDF, at most 10 MB) as multipart/form-data field `loa_document`. Raw POST: the SDK types the
   * field as a string, which would send text rather than a file part.
   */
  async uploadLoaDocument(accountId: string, input: { filename: string; content: Uint8Array }): Promise<LoaDocument> {
    const op = this.op('upload LOA', 'mutation', PERMISSIONS.prefixWrite, accountId, `LOA ${input.filename}`);
    const send: Send = (o) => {
      const form = new FormData();
      form.append('loa_document', new File([Buffer.from(input.content)], input.filename, { type: 'application/pdf' }));
      return this.sdk.post(`/accounts/${accountId}/addressing/loa_documents`, { ...o, body: form });
    };
    return this.one(op, send, loaDocumentSchema);
  }

  /** The LOA PDF as bytes. */
  async downloadLoaDocument(accountId: string, loaDocumentId: string): Promise<Buffer> {
    const op = this.op('download LOA', 'read', PERMISSIONS.read, accountId, `LOA ${loaDocumentId}`, { 'LOA document id': loaDocumentId });
    return this.run(
      op,
      (o) => this.sdk.addressing.loaDocuments.get(loaDocumentId, { account_id: accountId }, o),
      (r) => {
        if (!r.bytes || r.bytes.subarray(0, 5).toString('latin1') !== '%PDF-') throw this.badResponse(op, 'body', 'not a PDF document');
        return r.bytes;
      },
      { binary: true },
    );
  }

  /** Leases are not in the SDK; raw GET. */
  async listLeases(accountId: string): Promise<Lease[]> {
    const op = this.op('list leases', 'read', PERMISSIONS.read, accountId, `the leases of account ${accountId}`);
    return this.many(op, (o) => this.sdk.get(`/accounts/${accountId}/addressing/leases`, o), leaseSchema);
  }

  // ---- machinery ----

  /** Describes a call and checks its ids: Cloudflare ids are 32 lowercase hex characters, so nothing else goes in a URL. */
  private op(name: string, kind: RequestKind, permission: string, accountId: string, subject: string, ids: Record<string, string> = {}): Operation {
    const op: Operation = { name, kind, permission, accountId, subject };
    for (const [what, id] of Object.entries({ 'account id': accountId, ...ids })) {
      if (!ID.test(id)) throw invalidRequest(op, `\`${id.slice(0, 64)}\` is not a Cloudflare ${what} (32 hex characters)`);
    }
    return op;
  }

  private one<T>(op: Operation, send: Send, schema: z.ZodType<T>): Promise<T> {
    return this.run(op, send, (r) => this.parseOne(op, r, schema));
  }

  private many<T>(op: Operation, send: Send, schema: z.ZodType<T>): Promise<T[]> {
    return this.run(op, send, (r) => this.parseList(op, r, schema));
  }

  /** Calls whose success answer carries nothing the bot needs; the envelope is still checked. */
  private async none(op: Operation, send: Send): Promise<void> {
    await this.run(op, send, () => undefined);
  }

  /**
   * Sends one call (reads: with retries), paced by the budget, and parses the answer with `parse` (inside the retry
   * loop, so a read whose body does not parse is tried again). Throws only CloudflareError.
   */
  private async run<T>(op: Operation, send: Send, parse: (raw: RawResult) => T, opts: { binary?: boolean } = {}): Promise<T> {
    const attempts = op.kind === 'read' ? this.readRetries + 1 : 1;
    const ctx = currentRequestContext();
    const cls = classOf(op.kind, ctx.class);
    // The caller's wait bound covers the budget and a Retry-After alike (the executor turns longer waits into a delayed job).
    const maxRetryAfterMs = Math.min(this.maxRetryAfterMs, ctx.maxWaitMs ?? Infinity);
    let lastError: CloudflareError | undefined;
    for (let attempt = 0; attempt < attempts; attempt++) {
      if (this.budget) await this.acquire(this.budget, op, cls, ctx.maxWaitMs);
      const started = Date.now();
      try {
        // asResponse(): the raw answer, so the envelope (and a 2xx with success:false) is checked here, not by the SDK.
        const response = await send({ maxRetries: 0, timeout: this.timeoutMs }).asResponse();
        await this.observeRateLimit(response.headers);
        const result = parse(await this.readResponse(op, response, opts.binary === true));
        this.logger?.debug({ cfOperation: op.name, requestClass: cls, status: response.status, ms: Date.now() - started }, 'cloudflare call');
        this.onCall?.({ kind: op.kind, status: response.status, error: null, ms: Date.now() - started });
        return result;
      } catch (err) {
        if (err instanceof APIError && err.headers) await this.observeRateLimit(err.headers);
        lastError = await this.toCloudflareError(op, err);
        if (op.kind === 'mutation' && !(err instanceof CloudflareError)) {
          const body = err instanceof APIError ? JSON.stringify(err.error ?? null) : `no answer: ${(err as Error)?.message ?? String(err)}`;
          recordAnswer(lastError.status, body);
        }
        this.onCall?.({ kind: op.kind, status: lastError.status, error: lastError.code, ms: Date.now() - started });
      }
      if (lastError.code === ErrorCode.CloudflareRateLimited && lastError.retryAfterMs !== undefined && this.budget) {
        await this.budget.pause(this.tokenKey, lastError.retryAfterMs);
      }
      const canRetry = op.kind === 'read' && lastError.retryable && attempt + 1 < attempts;
      this.logger?.warn(
        { cfOperation: op.name, requestClass: cls, status: lastError.status, code: lastError.code, cfCodes: lastError.cloudflareCodes, retrying: canRetry },
        'cloudflare call failed',
      );
      if (!canRetry) break;
      const wait = this.retryDelay(attempt, lastError.retryAfterMs);
      if (wait > maxRetryAfterMs) break;
      await sleep(wait);
    }
    throw lastError ?? new Error('unreachable');
  }

  /** Waits for the shared budget. Fails closed: without Redis the bot cannot know it is under the limit. */
  private async acquire(budget: RequestBudget, op: Operation, cls: RequestClass, maxWaitMs: number | undefined): Promise<void> {
    try {
      await budget.acquire(this.tokenKey, cls, maxWaitMs !== undefined ? { maxWaitMs } : {});
    } catch (err) {
      if (err instanceof CloudflareError) throw err;
      throw new CloudflareError(
        ErrorCode.CloudflareUnavailable,
        `The bot could not check its Cloudflare request budget (Redis) before it tried to ${op.name}. Nothing was sent; try again in a minute.`,
        { status: null, retryable: true, operation: op.name, cause: err },
      );
    }
  }

  /** Passes Cloudflare's `Ratelimit: "default";r=<remaining>;t=<seconds>` to the budget. */
  private async observeRateLimit(headers: Headers): Promise<void> {
    if (!this.budget) return;
    const m = /(?:^|[;,\s])r=(\d+).*?(?:^|[;,\s])t=(\d+)/.exec(headers.get('ratelimit') ?? '');
    if (!m) return;
    // Best effort: the answer is already here, and a Redis hiccup must not turn it into a failure.
    await this.budget.observeRateLimit(this.tokenKey, Number(m[1]), Number(m[2])).catch((err: unknown) => {
      this.logger?.warn({ err }, 'could not record Cloudflare rate-limit headers in the budget');
    });
  }

  private retryDelay(attempt: number, retryAfterMs: number | undefined): number {
    if (retryAfterMs !== undefined) return retryAfterMs;
    const base = Math.min(this.retryMaxDelayMs, this.retryBaseDelayMs * 2 ** attempt);
    return Math.round(base * (1 + Math.random() * 0.25));
  }

  private async readResponse(op: Operation, response: Response, binary: boolean): Promise<RawResult> {
    const bytes = Buffer.from(await response.arrayBuffer());
    if (op.kind === 'mutation') recordAnswer(response.status, binary ? `(${bytes.length} bytes)` : bytes.toString('utf8'));
    if (binary && !(response.headers.get('content-type') ?? '').includes('json')) {
      return { envelope: null, status: response.status, headers: response.headers, bytes };
    }
    let json: unknown;
    try {
      json = JSON.parse(bytes.toString('utf8'));
    } catch {
      throw this.badResponse(op, 'body', 'not JSON');
    }
    const env = envelopeSchema.safeParse(json);
    if (!env.success) {
      const issue = env.error.issues[0];
      throw this.badResponse(op, fieldPath('', issue?.path ?? []).replace(/^\./, '') || 'body', issue?.message ?? 'invalid envelope');
    }
    if (!env.data.success) {
      // A 2xx with success:false is a refusal too (the SDK does not raise it).
      throw describeFailure(op, { status: response.status, errors: env.data.errors, retryAfterMs: undefined });
    }
    return { envelope: env.data, status: response.status, headers: response.headers };
  }

  private async toCloudflareError(op: Operation, err: unknown): Promise<CloudflareError> {
    if (err instanceof CloudflareError) return err;
    if (err instanceof APIUserAbortError) {
      return new CloudflareError(ErrorCode.CloudflareUnavailable, `The call to ${op.name} was cancelled before Cloudflare answered.`, {
        status: null,
        retryable: true,
        operation: op.name,
        outcomeUnknown: op.kind === 'mutation',
        cause: err,
      });
    }
    if (err instanceof APIConnectionError) {
      const timeout = err instanceof APIConnectionTimeoutError;
      return describeFailure(op, { status: null, errors: [], timeout, cause: err });
    }
    if (err instanceof APIError) {
      const body = (err.error ?? {}) as { errors?: unknown };
      const errors = z.array(z.object({ code: z.number(), message: z.string() })).safeParse(body.errors);
      return describeFailure(op, {
        status: err.status ?? null,
        errors: errors.success ? errors.data : [],
        retryAfterMs: retryAfterMs(err.headers),
        cause: err,
      });
    }
    return describeFailure(op, { status: null, errors: [], cause: err });
  }

  private parseOne<T>(op: Operation, raw: RawResult, schema: z.ZodType<T>): T {
    const r = schema.safeParse(raw.envelope?.result);
    if (!r.success) {
      const issue = r.error.issues[0];
      throw this.badResponse(op, fieldPath('result', issue?.path ?? []), issue?.message ?? 'invalid');
    }
    return r.data;
  }

  private parseList<T>(op: Operation, raw: RawResult, schema: z.ZodType<T>): T[] {
    const list = raw.envelope?.result;
    if (!Array.isArray(list)) throw this.badResponse(op, 'result', 'expected a list');
    return list.map((item, i) => {
      const r = schema.safeParse(item);
      if (!r.success) {
        const issue = r.error.issues[0];
        throw this.badResponse(op, fieldPath(`result[${i}]`, issue?.path ?? []), issue?.message ?? 'invalid');
      }
      return r.data;
    });
  }

  private badResponse(op: Operation, field: string, problem: string): CloudflareError {
    return new CloudflareError(
      ErrorCode.CloudflareBadResponse,
      `Cloudflare's answer to ${op.name} for ${op.subject} did not make sense (field \`${field}\`: ${problem}). ` +
        (op.kind === 'mutation'
          ? 'The change may or may not have been made; check the current state before trying again.'
          : 'Nothing was changed; try again in a minute, and tell the bot owners if it keeps happening.'),
      { status: 200, field, retryable: op.kind === 'read', operation: op.name, outcomeUnknown: op.kind === 'mutation' },
    );
  }
}

/** A mutation is always part of a change: one made outside any class (or under a lower one) counts as `change`. */
function classOf(kind: RequestKind, cls: RequestClass): RequestClass {
  return kind === 'mutation' ? higherClass(cls, 'change') : cls;
}

function checkDescription(op: Operation, description: string | undefined): void {
  if (description !== undefined && description.length > MAX_DESCRIPTION) {
    throw invalidRequest(op, `the description is ${description.length} characters long; Cloudflare allows at most ${MAX_DESCRIPTION}`);
  }
}

/** Retry-After (seconds or HTTP date) or retry-after-ms, in ms. */
function retryAfterMs(headers: Headers | undefined): number | undefined {
  if (!headers) return undefined;
  const ms = headers.get('retry-after-ms');
  if (ms && Number.isFinite(Number(ms))) return Math.max(0, Number(ms));
  const ra = headers.get('retry-after');
  if (!ra) return undefined;
  if (/^\d+(\.\d+)?$/.test(ra.trim())) return Math.ceil(Number(ra) * 1000);
  const at = Date.parse(ra);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}
