import { Address4, Address6 } from 'ip-address';
import { cidrContains, MAX_ANNOUNCE_LENGTH, parseCidr } from '../../../src/domain/cidr.js';
import { Router, type SimRequest, type SimResponse } from '../http.js';
import { CLOUDFLARE_ASN, type World } from '../world.js';
import { ipInCidr, overlaps, validatePrefixInWorld } from './rules.js';
import { SERVICE_IDS } from './scenarios.js';
import {
  bindingState,
  newId,
  type CloudflareState,
  type Permission,
  type SimAddressMap,
  type SimBgpPrefix,
  type SimBinding,
  type SimLoaDocument,
  type SimPrefix,
  type SimToken,
} from './state.js';

/**
 * The addressing endpoints and Cloudflare's rules. Error codes: Cloudflare publishes the auth (6003, 9109, 10000),
 * routing (7001, 7003) and rate-limit (971) codes; for addressing rules it documents only marker names
 * (`prefix_not_valid_and_approved`, ...), so the numbers below are the simulator's own and messages carry the markers:
 * 1000 malformed body (400), 1001 invalid field (400), 1002 rule broken by the request (400),
 * 1003 not found (404), 1004 not allowed in the current state (409), 1005 locked (409),
 * 1006 prefix not ready for BGP (409).
 */

export type Ctx = SimRequest & {
  state: CloudflareState;
  world: World;
  token: SimToken;
  /** Simulated ms when the request arrived. */
  now: number;
  validationDelayMs: number;
};

export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
    readonly chain: { code: number; message: string }[] = [],
  ) {
    super(message);
  }

  response(): SimResponse {
    const error: Record<string, unknown> = { code: this.code, message: this.message };
    if (this.chain.length) error.error_chain = this.chain;
    return { status: this.status, body: { success: false, errors: [error], messages: [], result: null } };
  }
}

const READ: Permission[] = ['IP Prefixes: Read', 'Magic Transit Read', 'IP Prefixes: BGP On Demand Read', 'IP Prefixes: Write', 'Magic Transit Write', 'IP Prefixes: BGP On Demand Write'];
const BGP_WRITE: Permission[] = ['IP Prefixes: BGP On Demand Write', 'Magic Transit Write', 'IP Prefixes: Write'];
const VALIDATE: Permission[] = ['Magic Transit Write', 'IP Prefixes: Write'];
const BINDING_WRITE: Permission[] = ['IP Prefixes: Write'];
const PREFIX_WRITE: Permission[] = ['IP Prefixes: Write', 'Magic Transit Write'];

const HEX32 = /^[0-9a-f]{32}$/;
const MINUTE = 60_000;
const HOUR = 3_600_000;

function fail(status: number, code: number, message: string): never {
  throw new ApiFailure(status, code, message);
}

type Handler = (ctx: Ctx) => SimResponse | Promise<SimResponse>;

export function addressingRoutes(): Router {
  const router = new Router();
  const A = '/accounts/:account_id/addressing';
  // Every handler receives the Ctx the server builds; the router only knows SimRequest.
  const on = (method: string, path: string, perms: Permission[], h: Handler) =>
    router.on(method, `${A}${path}`, (req) => {
      const ctx = req as Ctx;
      authorize(ctx, perms);
      return h(ctx);
    });

  // ---- prefixes ----
  on('GET', '/prefixes', READ, (c) => list([...c.state.prefixes.values()].filter((p) => p.accountId === acct(c)).map((p) => prefixJson(c, settle(c, p)))));
  on('POST', '/prefixes', PREFIX_WRITE, createPrefix);
  on('GET', '/prefixes/:prefix_id', READ, (c) => ok(prefixJson(c, prefixOf(c))));
  on('PATCH', '/prefixes/:prefix_id', PREFIX_WRITE, (c) => {
    const p = prefixOf(c);
    const b = objectBody(c);
    const extra = Object.keys(b).filter((k) => k !== 'description');
    if (extra.length) fail(400, 1001, `Only the description of a prefix can be changed; remove ${extra.join(', ')}`);
    if (typeof b.description !== 'string') fail(400, 1001, 'description is required and must be a string');
    if ((b.description as string).length > 1000) fail(400, 1001, 'description must be at most 1000 characters');
    p.description = b.description as string;
    p.modifiedAt = c.now;
    return ok(prefixJson(c, p));
  });
  on('DELETE', '/prefixes/:prefix_id', PREFIX_WRITE, (c) => {
    const p = prefixOf(c);
    if (p.approved === 'V') fail(409, 1004, `Prefix ${p.cidr} is approved; only unapproved prefixes can be deleted. Contact Cloudflare to offboard it`);
    for (const [id, d] of c.state.delegations) if (d.prefixId === p.id) c.state.delegations.delete(id);
    c.state.prefixes.delete(p.id);
    return empty();
  });
  on('POST', '/prefixes/:prefix_id/validate', VALIDATE, (c) => {
    const p = prefixOf(c);
    if (p.approved !== 'V') {
      p.irrValidationState = 'pending';
      p.rpkiValidationState = 'pending';
      p.ownershipValidationState = 'pending';
      p.validationDueAt = c.now + c.validationDelayMs;
      p.modifiedAt = c.now;
      settle(c, p);
    }
    return ok(prefixJson(c, p), 202);
  });

  // ---- BGP prefixes ----
  on('GET', '/prefixes/:prefix_id/bgp/prefixes', READ, (c) => {
    const p = prefixOf(c);
    return list(bgpOf(c, p).map(bgpJson));
  });
  on('POST', '/prefixes/:prefix_id/bgp/prefixes', BGP_WRITE, createBgpPrefix);
  on('GET', '/prefixes/:prefix_id/bgp/prefixes/:bgp_prefix_id', READ, (c) => ok(bgpJson(bgpPrefixOf(c, prefixOf(c)))));
  on('PATCH', '/prefixes/:prefix_id/bgp/prefixes/:bgp_prefix_id', BGP_WRITE, (c) => {
    const p = prefixOf(c);
    const b = bgpPrefixOf(c, p);
    const body = objectBody(c);
    let advertised: boolean | undefined;
    if (body.on_demand !== undefined) {
      if (!isObject(body.on_demand)) fail(400, 1001, 'on_demand must be an object');
      const od = body.on_demand as Record<string, unknown>;
      if (od.advertised !== undefined && typeof od.advertised !== 'boolean') fail(400, 1001, 'on_demand.advertised must be a boolean');
      advertised = od.advertised as boolean | undefined;
    }
    const prepend = body.asn_prepend_count;
    if (prepend !== undefined && !(Number.isInteger(prepend) && (prepend as number) >= 0 && (prepend as number) <= 3)) {
      fail(400, 1001, 'asn_prepend_count must be an integer from 0 to 3');
    }
    const auto = body.auto_advertise_withdraw;
    if (auto !== undefined && typeof auto !== 'boolean') fail(400, 1001, 'auto_advertise_withdraw must be a boolean');
    if (b.onDemandLocked || p.onDemandLocked) {
      fail(409, 1005, `on_demand_locked: the advertisement of ${b.cidr} is locked and cannot be changed; contact your Cloudflare account team`);
    }
    if (advertised !== undefined) setAdvertised(c, p, b, advertised);
    if (prepend !== undefined) {
      b.asnPrependCount = prepend as number;
      c.world.setPrepend(b.cidr, CLOUDFLARE_ASN, b.asnPrependCount);
    }
    if (auto !== undefined) b.autoAdvertiseWithdraw = auto as boolean;
    b.modifiedAt = c.now;
    return ok(bgpJson(b));
  });
  on('DELETE', '/prefixes/:prefix_id/bgp/prefixes/:bgp_prefix_id', BGP_WRITE, (c) => {
    const p = prefixOf(c);
    const b = bgpPrefixOf(c, p);
    if (b.onDemandLocked || p.onDemandLocked) fail(409, 1005, `on_demand_locked: BGP prefix ${b.cidr} is locked and cannot be deleted`);
    if (b.advertised) fail(409, 1004, `BGP prefix ${b.cidr} is advertised; withdraw it before deleting it`);
    c.state.bgpPrefixes.delete(b.id);
    return { status: 200, body: { success: true, errors: [], messages: [] } };
  });
  on('GET', '/prefixes/:prefix_id/bgp/status', READ, (c) => ok(statusJson(c, prefixOf(c))));
  on('PATCH', '/prefixes/:prefix_id/bgp/status', BGP_WRITE, (c) => {
    const p = prefixOf(c);
    const body = objectBody(c);
    if (typeof body.advertised !== 'boolean') fail(400, 1001, 'advertised is required and must be a boolean');
    const b = defaultBgp(c, p);
    if (!b) fail(409, 1006, `incomplete_bgp_deployment: prefix ${p.cidr} has no BGP prefix to advertise; create its default service binding first`);
    if (b.onDemandLocked || p.onDemandLocked) fail(409, 1005, `on_demand_locked: the advertisement of ${p.cidr} is locked and cannot be changed`);
    setAdvertised(c, p, b, body.advertised as boolean);
    return ok(statusJson(c, p));
  });

  // ---- service bindings and services ----
  on('GET', '/prefixes/:prefix_id/bindings', READ, (c) => {
    const p = prefixOf(c);
    return ok(bindingsOf(c, p).map((b) => bindingJson(c, b)));
  });
  on('POST', '/prefixes/:prefix_id/bindings', BINDING_WRITE, createBinding);
  on('GET', '/prefixes/:prefix_id/bindings/:binding_id', READ, (c) => ok(bindingJson(c, bindingOf(c, prefixOf(c)))));
  on('DELETE', '/prefixes/:prefix_id/bindings/:binding_id', BINDING_WRITE, (c) => {
    const p = prefixOf(c);
    const b = bindingOf(c, p);
    // Already going: the delete was registered; a repeat changes nothing.
    if (b.goneAt !== undefined) return { status: 200, body: { success: true, errors: [], messages: [] } };
    if (b.cidr === p.cidr) {
      if (bindingsOf(c, p).length > 1) fail(409, 1004, `The default binding of ${p.cidr} cannot be deleted while more specific bindings exist; delete those first`);
      if (bgpOf(c, p).some((x) => x.advertised)) fail(409, 1004, `The default binding of ${p.cidr} cannot be deleted while the prefix is advertised; withdraw it first`);
    }
    // Like a create, a delete takes 4-6 hours to propagate; the binding is listed (provisioning) until it is gone.
    b.goneAt = c.now + (4 + 2 * c.world.random()) * HOUR;
    return { status: 200, body: { success: true, errors: [], messages: [] } };
  });
  on('GET', '/services', READ, (c) => ok(c.state.services.map((s) => ({ id: s.id, name: s.name }))));

  // ---- delegations ----
  on('GET', '/prefixes/:prefix_id/delegations', READ, (c) => {
    const p = prefixOf(c);
    return list([...c.state.delegations.values()].filter((d) => d.prefixId === p.id).map(delegationJson));
  });
  on('POST', '/prefixes/:prefix_id/delegations', PREFIX_WRITE, (c) => {
    const p = prefixOf(c);
    const body = objectBody(c);
    const cidr = cidrField(body, 'cidr');
    const target = body.delegated_account_id;
    if (typeof target !== 'string' || !HEX32.test(target)) fail(400, 1001, 'delegated_account_id must be a 32-character account id');
    if (target === p.accountId) fail(400, 1002, 'A prefix cannot be delegated to the account that owns it');
    if (!cidrContains(p.cidr, cidr)) fail(400, 1002, `Delegated CIDR ${cidr} is not within prefix ${p.cidr}`);
    const clash = [...c.state.delegations.values()].find((d) => d.prefixId === p.id && overlaps(d.cidr, cidr));
    if (clash) fail(409, 1004, `${cidr} overlaps delegation ${clash.cidr} of this prefix`);
    const d = { id: newId(c.world), prefixId: p.id, cidr, delegatedAccountId: target as string, createdAt: c.now, modifiedAt: c.now };
    c.state.delegations.set(d.id, d);
    return ok(delegationJson(d));
  });
  on('DELETE', '/prefixes/:prefix_id/delegations/:delegation_id', PREFIX_WRITE, (c) => {
    const p = prefixOf(c);
    const id = idParam(c, 'delegation_id');
    const d = c.state.delegations.get(id);
    if (!d || d.prefixId !== p.id) fail(404, 1003, 'Delegation not found');
    c.state.delegations.delete(id);
    return ok({ id });
  });

  // ---- address maps ----
  on('GET', '/address_maps', READ, (c) => list(mapsOf(c).map((m) => mapJson(m, false))));
  on('POST', '/address_maps', PREFIX_WRITE, createAddressMap);
  on('GET', '/address_maps/:address_map_id', READ, (c) => ok(mapJson(mapOf(c), true)));
  on('PATCH', '/address_maps/:address_map_id', PREFIX_WRITE, (c) => {
    const m = mapOf(c);
    const body = objectBody(c);
    if (body.description !== undefined && body.description !== null && typeof body.description !== 'string') fail(400, 1001, 'description must be a string');
    if (body.enabled !== undefined && body.enabled !== null && typeof body.enabled !== 'boolean') fail(400, 1001, 'enabled must be a boolean');
    if (body.default_sni !== undefined && body.default_sni !== null && typeof body.default_sni !== 'string') fail(400, 1001, 'default_sni must be a string');
    if (body.description !== undefined) m.description = body.description as string | null;
    if (body.enabled !== undefined) m.enabled = (body.enabled as boolean | null) ?? false;
    if (body.default_sni !== undefined) m.defaultSni = body.default_sni as string | null;
    m.modifiedAt = c.now;
    return ok(mapJson(m, false));
  });
  on('DELETE', '/address_maps/:address_map_id', PREFIX_WRITE, (c) => {
    const m = mapOf(c);
    if (!m.canDelete) fail(409, 1004, 'This address map is managed by Cloudflare (can_delete is false) and cannot be deleted');
    if (m.enabled) fail(409, 1004, 'The address map is enabled; disable it before deleting it');
    c.state.addressMaps.delete(m.id);
    return empty();
  });
  on('PUT', '/address_maps/:address_map_id/ips/:ip_address', PREFIX_WRITE, (c) => {
    const m = mapOf(c);
    if (!m.canModifyIps) fail(409, 1004, 'The IPs of this address map are managed by Cloudflare (can_modify_ips is false)');
    const ip = c.params.ip_address ?? '';
    checkMapIp(c, ip);
    if (!m.ips.some((x) => x.ip === ip)) m.ips.push({ ip, createdAt: c.now });
    m.modifiedAt = c.now;
    return empty();
  });
  on('DELETE', '/address_maps/:address_map_id/ips/:ip_address', PREFIX_WRITE, (c) => {
    const m = mapOf(c);
    if (!m.canModifyIps) fail(409, 1004, 'The IPs of this address map are managed by Cloudflare (can_modify_ips is false)');
    const i = m.ips.findIndex((x) => x.ip === c.params.ip_address);
    if (i < 0) fail(404, 1003, `IP ${c.params.ip_address} is not on this address map`);
    m.ips.splice(i, 1);
    m.modifiedAt = c.now;
    return empty();
  });
  on('PUT', '/address_maps/:address_map_id/zones/:zone_id', PREFIX_WRITE, (c) => {
    const m = mapOf(c);
    const zone = idParam(c, 'zone_id');
    if (!m.memberships.some((x) => x.kind === 'zone' && x.identifier === zone)) m.memberships.push({ kind: 'zone', identifier: zone, canDelete: true, createdAt: c.now });
    m.modifiedAt = c.now;
    return empty();
  });
  on('DELETE', '/address_maps/:address_map_id/zones/:zone_id', PREFIX_WRITE, (c) => removeMembership(c, 'zone', idParam(c, 'zone_id')));
  on('PUT', '/address_maps/:address_map_id/accounts/:member_id', PREFIX_WRITE, (c) => {
    const m = mapOf(c);
    const member = memberParam(c);
    if (!m.memberships.some((x) => x.kind === 'account' && x.identifier === member)) m.memberships.push({ kind: 'account', identifier: member, canDelete: true, createdAt: c.now });
    m.modifiedAt = c.now;
    return empty();
  });
  on('DELETE', '/address_maps/:address_map_id/accounts/:member_id', PREFIX_WRITE, (c) => removeMembership(c, 'account', memberParam(c)));

  // ---- LOA documents and leases ----
  on('POST', '/loa_documents', PREFIX_WRITE, uploadLoa);
  on('GET', '/loa_documents/:loa_document_id/download', READ, (c) => {
    const id = idParam(c, 'loa_document_id');
    const doc = c.state.loaDocuments.get(id);
    if (!doc || doc.accountId !== acct(c)) fail(404, 1003, 'LOA document not found');
    return {
      status: 200,
      headers: { 'content-type': 'application/pdf', 'content-disposition': `attachment; filename="${doc.filename}"` },
      body: doc.content,
    };
  });
  on('GET', '/leases', READ, (c) =>
    list(
      [...c.state.leases.values()]
        .filter((l) => l.accountId === acct(c))
        .map((l) => ({
          id: l.id,
          owner_id: l.ownerId,
          purpose: l.purpose,
          cidrs: l.cidrs,
          active_from: stamp(l.activeFrom),
          created_at: stamp(l.createdAt),
          modified_at: stamp(l.modifiedAt),
        })),
    ),
  );
  return router;
}

// ---- handlers with more rules ----

function createPrefix(c: Ctx): SimResponse {
  const body = objectBody(c);
  const cidr = cidrField(body, 'cidr');
  const asn = body.asn;
  if (!Number.isInteger(asn) || (asn as number) < 1 || (asn as number) > 4294967295) fail(400, 1001, 'asn is required and must be an ASN (an integer)');
  const parsed = parseCidr(cidr);
  if (parsed.length > MAX_ANNOUNCE_LENGTH[parsed.version]) {
    fail(400, 1001, `Prefix ${cidr} is too small to be announced; the longest allowed is /${MAX_ANNOUNCE_LENGTH[parsed.version]}`);
  }
  const description = body.description ?? '';
  if (typeof description !== 'string' || description.length > 1000) fail(400, 1001, 'description must be a string of at most 1000 characters');
  const loa = body.loa_document_id ?? null;
  if (loa !== null) {
    if (typeof loa !== 'string' || !HEX32.test(loa)) fail(400, 1001, 'loa_document_id must be a 32-character id');
    const doc = c.state.loaDocuments.get(loa as string);
    if (!doc || doc.accountId !== acct(c)) fail(400, 1001, `LOA document ${String(loa)} not found in this account`);
  }
  const delegate = body.delegate_loa_creation ?? false;
  if (typeof delegate !== 'boolean') fail(400, 1001, 'delegate_loa_creation must be a boolean');
  const clash = [...c.state.prefixes.values()].find((p) => overlaps(p.cidr, cidr));
  if (clash) fail(409, 1004, `Prefix ${cidr} overlaps prefix ${clash.cidr}, which is already onboarded`);
  // delegate_loa_creation: Cloudflare writes the LOA itself and the prefix names it at once.
  const loaId = loa === null && delegate === true ? generateLoa(c, cidr, asn as number).id : (loa as string | null);
  const p: SimPrefix = {
    id: newId(c.world),
    accountId: acct(c),
    cidr,
    asn: asn as number,
    description: description as string,
    approved: 'P',
    loaDocumentId: loaId,
    delegateLoaCreation: delegate as boolean,
    irrValidationState: 'pending',
    rpkiValidationState: 'pending',
    ownershipValidationState: 'pending',
    ownershipValidationToken: newId(c.world),
    validationDueAt: null,
    onDemandEnabled: false,
    onDemandLocked: false,
    createdAt: c.now,
    modifiedAt: c.now,
  };
  c.state.prefixes.set(p.id, p);
  return ok(prefixJson(c, p), 201);
}

function createBgpPrefix(c: Ctx): SimResponse {
  const p = prefixOf(c);
  const body = objectBody(c);
  const cidr = cidrField(body, 'cidr');
  if (!cidrContains(p.cidr, cidr)) fail(400, 1002, `BGP prefix ${cidr} is not within prefix ${p.cidr}`);
  const parsed = parseCidr(cidr);
  if (parsed.length > MAX_ANNOUNCE_LENGTH[parsed.version]) {
    fail(400, 1002, `BGP prefix ${cidr} is too small to be announced; the longest allowed is /${MAX_ANNOUNCE_LENGTH[parsed.version]}`);
  }
  if (p.approved !== 'V') fail(409, 1006, `prefix_not_valid_and_approved: prefix ${p.cidr} is not validated and approved`);
  const def = defaultBinding(c, p);
  if (!def) fail(409, 1006, `incomplete_bgp_deployment: prefix ${p.cidr} has no default service binding`);
  if (bindingState(def, c.now) !== 'active') fail(409, 1005, `advertise_state_locked: the default service binding of ${p.cidr} is still provisioning`);
  if (bgpOf(c, p).some((b) => b.cidr === cidr)) fail(409, 1004, `A BGP prefix for ${cidr} already exists`);
  const b = newBgp(c, p, cidr);
  return ok(bgpJson(b));
}

function createBinding(c: Ctx): SimResponse {
  const p = prefixOf(c);
  const body = objectBody(c);
  const cidr = cidrField(body, 'cidr');
  const serviceId = body.service_id;
  if (typeof serviceId !== 'string') fail(400, 1001, 'service_id is required');
  const service = c.state.services.find((s) => s.id === serviceId);
  if (!service) fail(400, 1001, `Unknown service_id ${String(serviceId)}; list the services of the account for valid ids`);
  if (!cidrContains(p.cidr, cidr)) fail(400, 1002, `Binding CIDR ${cidr} is not within prefix ${p.cidr}`);
  if (p.approved !== 'V') fail(409, 1006, `prefix_not_valid_and_approved: prefix ${p.cidr} must be validated and approved before it can be bound to a service`);
  const existing = bindingsOf(c, p);
  const isDefault = cidr === p.cidr;
  if (existing.length === 0 && !isDefault) {
    fail(400, 1002, `The first service binding of a prefix must cover the whole prefix ${p.cidr}; ${cidr} is more specific`);
  }
  if (service.id === SERVICE_IDS.magicTransit && !isDefault) {
    fail(400, 1002, `Magic Transit can only be the default binding spanning the whole prefix ${p.cidr}, not ${cidr}`);
  }
  const same = existing.find((b) => b.cidr === cidr);
  if (same?.goneAt !== undefined) {
    fail(409, 1004, `The ${serviceName(c, same.serviceId)} binding of ${cidr} is still being deleted (4 to 6 hours); bind ${cidr} again once it is gone`);
  }
  if (same) {
    if (same.serviceId === service.id) fail(409, 1004, `A ${service.name} binding for ${cidr} already exists`);
    fail(400, 1002, `${cidr} is already bound to ${serviceName(c, same.serviceId)}; an IP can be bound to CDN or Spectrum, not both`);
  }
  if (!isDefault) {
    const rival = existing.find((b) => b.cidr !== p.cidr && b.serviceId !== service.id && overlaps(b.cidr, cidr));
    if (rival) fail(400, 1002, `${cidr} overlaps the ${serviceName(c, rival.serviceId)} binding ${rival.cidr}; an IP can be bound to CDN or Spectrum, not both`);
  }
  const b: SimBinding = {
    id: newId(c.world),
    prefixId: p.id,
    cidr,
    serviceId: service.id,
    createdAt: c.now,
    activeAt: c.now + (4 + 2 * c.world.random()) * HOUR,
  };
  c.state.bindings.set(b.id, b);
  // The default binding makes Cloudflare create the prefix's BGP prefix, withdrawn.
  if (isDefault && !bgpOf(c, p).some((x) => x.cidr === p.cidr)) {
    newBgp(c, p, p.cidr);
    p.onDemandEnabled = true;
  }
  return ok(bindingJson(c, b), 201);
}

function createAddressMap(c: Ctx): SimResponse {
  const body = c.rawBody.length ? objectBody(c) : {};
  if (body.description !== undefined && body.description !== null && typeof body.description !== 'string') fail(400, 1001, 'description must be a string');
  if (body.enabled !== undefined && body.enabled !== null && typeof body.enabled !== 'boolean') fail(400, 1001, 'enabled must be a boolean');
  const ips = body.ips ?? [];
  if (!Array.isArray(ips) || ips.some((i) => typeof i !== 'string')) fail(400, 1001, 'ips must be a list of IP addresses');
  for (const ip of ips as string[]) checkMapIp(c, ip);
  const memberships = body.memberships ?? [];
  if (!Array.isArray(memberships)) fail(400, 1001, 'memberships must be a list');
  const ms: SimAddressMap['memberships'] = [];
  for (const [i, m] of (memberships as unknown[]).entries()) {
    if (!isObject(m)) fail(400, 1001, `memberships[${i}] must be an object`);
    const { kind, identifier } = m as Record<string, unknown>;
    if (kind !== 'zone' && kind !== 'account') fail(400, 1001, `memberships[${i}].kind must be zone or account`);
    if (typeof identifier !== 'string' || !HEX32.test(identifier)) fail(400, 1001, `memberships[${i}].identifier must be a 32-character id`);
    if (kind === 'account' && identifier !== acct(c)) fail(400, 1002, `An account membership must name this account (${acct(c)})`);
    ms.push({ kind: kind as 'zone' | 'account', identifier: identifier as string, canDelete: true, createdAt: c.now });
  }
  const m: SimAddressMap = {
    id: newId(c.world),
    accountId: acct(c),
    description: (body.description as string | null | undefined) ?? null,
    enabled: (body.enabled as boolean | null | undefined) ?? false,
    defaultSni: null,
    canDelete: true,
    canModifyIps: true,
    ips: (ips as string[]).map((ip) => ({ ip, createdAt: c.now })),
    memberships: ms,
    createdAt: c.now,
    modifiedAt: c.now,
  };
  c.state.addressMaps.set(m.id, m);
  return ok(mapJson(m, true));
}

/** The LOA Cloudflare generates for `delegate_loa_creation`: a one-page PDF naming the account, the prefix and the ASN. */
function generateLoa(c: Ctx, cidr: string, asn: number): SimLoaDocument {
  const account = c.state.accounts.get(acct(c))?.name ?? acct(c);
  const date = new Date(c.now).toISOString().slice(0, 10);
  const lines = [
    'Letter of Authorization',
    `Date: ${date}`,
    `${account} (Cloudflare account ${acct(c)}) authorizes Cloudflare, Inc. to announce`,
    `the prefix ${cidr} from AS${asn}.`,
  ].map((l) => l.replace(/[\\()]/g, (ch) => `\\${ch}`));
  const text = `BT /F1 12 Tf 72 720 Td 16 TL ${lines.map((l) => `(${l}) '`).join(' ')} ET`;
  const pdf = [
    '%PDF-1.4',
    '1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj',
    '2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj',
    '3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >> endobj',
    `4 0 obj << /Length ${text.length} >> stream`,
    text,
    'endstream endobj',
    '5 0 obj << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> endobj',
    'trailer << /Root 1 0 R >>',
    '%%EOF',
    '',
  ].join('\n');
  const doc: SimLoaDocument = {
    id: newId(c.world),
    accountId: acct(c),
    filename: `loa-${cidr.replace(/[/:]/g, '-')}.pdf`,
    content: Buffer.from(pdf, 'latin1'),
    autoGenerated: true,
    verified: false,
    verifiedAt: null,
    createdAt: c.now,
  };
  c.state.loaDocuments.set(doc.id, doc);
  return doc;
}

function uploadLoa(c: Ctx): SimResponse {
  const type = String(c.headers['content-type'] ?? '');
  const boundary = /boundary=(?:"([^"]+)"|([^;]+))/.exec(type);
  if (!type.startsWith('multipart/form-data') || !boundary) fail(400, 1000, 'The LOA must be sent as multipart/form-data with a loa_document field');
  const part = multipartFile(c.rawBody, boundary[1] ?? boundary[2] ?? '', 'loa_document');
  if (!part) fail(400, 1001, 'loa_document is required');
  if (part.content.length > 10 * 1024 * 1024) fail(413, 1001, 'The LOA document must be at most 10 MB');
  if (part.content.subarray(0, 5).toString('latin1') !== '%PDF-') fail(400, 1001, 'The LOA document must be a PDF');
  const doc = {
    id: newId(c.world),
    accountId: acct(c),
    filename: part.filename || 'loa.pdf',
    content: part.content,
    autoGenerated: false,
    verified: false,
    verifiedAt: null,
    createdAt: c.now,
  };
  c.state.loaDocuments.set(doc.id, doc);
  return ok(
    {
      id: doc.id,
      account_id: doc.accountId,
      filename: doc.filename,
      size_bytes: doc.content.length,
      auto_generated: false,
      verified: false,
      verified_at: null,
      created: stamp(doc.createdAt),
    },
    201,
  );
}

function multipartFile(raw: Buffer, boundary: string, field: string): { filename: string; content: Buffer } | undefined {
  const delimiter = Buffer.from(`--${boundary}`);
  let pos = raw.indexOf(delimiter);
  while (pos >= 0) {
    const start = pos + delimiter.length;
    const next = raw.indexOf(delimiter, start);
    if (next < 0) break;
    const part = raw.subarray(start, next);
    const headerEnd = part.indexOf('\r\n\r\n');
    if (headerEnd >= 0) {
      const headers = part.subarray(0, headerEnd).toString('utf8');
      const name = /name="([^"]*)"/.exec(headers)?.[1];
      if (name === field) {
        let content = part.subarray(headerEnd + 4);
        if (content.subarray(-2).toString() === '\r\n') content = content.subarray(0, -2);
        return { filename: /filename="([^"]*)"/.exec(headers)?.[1] ?? '', content: Buffer.from(content) };
      }
    }
    pos = next;
  }
  return undefined;
}

// ---- rules shared by handlers ----

function authorize(c: Ctx, perms: Permission[]): void {
  const account = c.params.account_id ?? '';
  if (!HEX32.test(account)) fail(400, 7003, `Could not route to ${c.path}, perhaps your object identifier is invalid?`);
  // Cloudflare does not tell a token whether an account it cannot see exists.
  if (!c.token.accounts.includes(account) || !c.state.accounts.has(account)) fail(403, 10000, 'Authentication error');
  if (!perms.some((p) => c.token.permissions.includes(p))) fail(403, 10000, 'Authentication error');
}

function acct(c: Ctx): string {
  return c.params.account_id ?? '';
}

function idParam(c: Ctx, name: string): string {
  const id = c.params[name] ?? '';
  if (!HEX32.test(id)) fail(400, 7003, `Could not route to ${c.path}, perhaps your object identifier is invalid?`);
  return id;
}

function memberParam(c: Ctx): string {
  const member = idParam(c, 'member_id');
  if (member !== acct(c)) fail(400, 1002, `An account membership must name this account (${acct(c)})`);
  return member;
}

function prefixOf(c: Ctx): SimPrefix {
  const id = idParam(c, 'prefix_id');
  const p = c.state.prefixes.get(id);
  if (!p || p.accountId !== acct(c)) return fail(404, 1003, 'Prefix not found');
  return settle(c, p);
}

function bgpPrefixOf(c: Ctx, p: SimPrefix): SimBgpPrefix {
  const id = idParam(c, 'bgp_prefix_id');
  const b = c.state.bgpPrefixes.get(id);
  if (!b || b.prefixId !== p.id) return fail(404, 1003, 'BGP prefix not found');
  return b;
}

function bindingOf(c: Ctx, p: SimPrefix): SimBinding {
  const id = idParam(c, 'binding_id');
  const b = bindingsOf(c, p).find((x) => x.id === id);
  if (!b || b.prefixId !== p.id) return fail(404, 1003, 'Service binding not found');
  return b;
}

function mapOf(c: Ctx): SimAddressMap {
  const id = idParam(c, 'address_map_id');
  const m = c.state.addressMaps.get(id);
  if (!m || m.accountId !== acct(c)) return fail(404, 1003, 'Address map not found');
  return m;
}

function mapsOf(c: Ctx): SimAddressMap[] {
  return [...c.state.addressMaps.values()].filter((m) => m.accountId === acct(c));
}

function bgpOf(c: Ctx, p: SimPrefix): SimBgpPrefix[] {
  return [...c.state.bgpPrefixes.values()].filter((b) => b.prefixId === p.id);
}

/** The prefix's bindings; those whose deletion has propagated are dropped here. */
function bindingsOf(c: Ctx, p: SimPrefix): SimBinding[] {
  for (const [id, b] of c.state.bindings) if (b.goneAt !== undefined && c.now >= b.goneAt) c.state.bindings.delete(id);
  return [...c.state.bindings.values()].filter((b) => b.prefixId === p.id);
}

function defaultBinding(c: Ctx, p: SimPrefix): SimBinding | undefined {
  return bindingsOf(c, p).find((b) => b.cidr === p.cidr);
}

function defaultBgp(c: Ctx, p: SimPrefix): SimBgpPrefix | undefined {
  return bgpOf(c, p).find((b) => b.cidr === p.cidr);
}

function serviceName(c: Ctx, id: string): string {
  return c.state.services.find((s) => s.id === id)?.name ?? id;
}

function newBgp(c: Ctx, p: SimPrefix, cidr: string): SimBgpPrefix {
  const b: SimBgpPrefix = {
    id: newId(c.world),
    prefixId: p.id,
    cidr,
    asn: p.asn,
    asnPrependCount: 0,
    autoAdvertiseWithdraw: false,
    bgpSignalEnabled: false,
    bgpSignalModifiedAt: null,
    advertised: false,
    advertisedModifiedAt: c.now,
    onDemandEnabled: true,
    onDemandLocked: false,
    createdAt: c.now,
    modifiedAt: c.now,
  };
  c.state.bgpPrefixes.set(b.id, b);
  return b;
}

/** Records the new advertisement state at once; the Internet follows in 2-7 min (advertise) or ~15 min (withdraw). */
function setAdvertised(c: Ctx, p: SimPrefix, b: SimBgpPrefix, advertised: boolean): void {
  if (!b.onDemandEnabled) fail(409, 1004, `On-demand advertisement is not enabled for ${b.cidr}`);
  if (advertised === b.advertised) return;
  if (advertised) {
    const def = defaultBinding(c, p);
    if (!def) fail(409, 1006, `incomplete_bgp_deployment: prefix ${p.cidr} has no default service binding`);
    if (bindingState(def, c.now) !== 'active') fail(409, 1005, `advertise_state_locked: the default service binding of ${p.cidr} is still provisioning`);
    c.world.announce(b.cidr, CLOUDFLARE_ASN, { delayMs: (2 + 5 * c.world.random()) * MINUTE, rampMs: 60_000 });
  } else {
    c.world.withdraw(b.cidr, CLOUDFLARE_ASN, { delayMs: (14 + 2 * c.world.random()) * MINUTE, decayMs: 120_000 });
  }
  b.advertised = advertised;
  b.advertisedModifiedAt = c.now;
  b.modifiedAt = c.now;
}

/** Applies a finished validation: the checks run against the world as it is when they complete. */
function settle(c: Ctx, p: SimPrefix): SimPrefix {
  if (p.validationDueAt === null || c.now < p.validationDueAt) return p;
  const r = validatePrefixInWorld(p, c.world);
  p.irrValidationState = r.irr;
  p.rpkiValidationState = r.rpki;
  p.ownershipValidationState = r.ownership;
  if (r.irr === 'valid' && r.rpki === 'valid' && r.ownership === 'valid') p.approved = 'V';
  p.modifiedAt = p.validationDueAt;
  p.validationDueAt = null;
  return p;
}

function checkMapIp(c: Ctx, ip: string): void {
  if (!(Address4.isValid(ip) && !ip.includes('/')) && !(Address6.isValid(ip) && !ip.includes('/'))) fail(400, 1001, `${ip} is not an IP address`);
  const own = [...c.state.prefixes.values()].filter((p) => p.accountId === acct(c)).map((p) => p.cidr);
  const delegated = [...c.state.delegations.values()].filter((d) => d.delegatedAccountId === acct(c)).map((d) => d.cidr);
  if (![...own, ...delegated].some((cidr) => ipInCidr(ip, cidr))) {
    fail(400, 1002, `IP ${ip} is not within a prefix of this account (or delegated to it)`);
  }
  // No advertisement needed: the get-started guide sets address maps up before the BGP prefix is advertised.
}

function removeMembership(c: Ctx, kind: 'zone' | 'account', identifier: string): SimResponse {
  const m = mapOf(c);
  const i = m.memberships.findIndex((x) => x.kind === kind && x.identifier === identifier);
  if (i < 0) fail(404, 1003, `The ${kind} ${identifier} is not a member of this address map`);
  if (!m.memberships[i]!.canDelete) fail(409, 1004, `The ${kind} membership ${identifier} is managed by Cloudflare and cannot be removed`);
  m.memberships.splice(i, 1);
  m.modifiedAt = c.now;
  return empty();
}

// ---- bodies ----

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function objectBody(c: Ctx): Record<string, unknown> {
  if (c.rawBody.length === 0) return fail(400, 1000, 'A JSON request body is required');
  let v: unknown;
  try {
    v = JSON.parse(c.rawBody.toString('utf8'));
  } catch {
    return fail(400, 1000, 'Malformed JSON in request body');
  }
  if (!isObject(v)) return fail(400, 1000, 'The request body must be a JSON object');
  return v;
}

function cidrField(body: Record<string, unknown>, name: string): string {
  const v = body[name];
  if (typeof v !== 'string' || v === '') return fail(400, 1001, `${name} is required and must be a CIDR such as 192.0.2.0/24`);
  try {
    const parsed = parseCidr(v);
    if (parsed.text !== v.trim()) return fail(400, 1001, `${name} ${v} is not in canonical form; use ${parsed.text}`);
    return parsed.text;
  } catch (err) {
    if (err instanceof ApiFailure) throw err;
    return fail(400, 1001, `${name} ${v} is not a valid CIDR`);
  }
}

// ---- JSON shapes ----

/** RFC 3339 with fractional seconds, as Cloudflare writes timestamps (same format as SimClock.iso). */
function stamp(at: number | null): string | null {
  return at === null ? null : new Date(at).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

function ok(result: unknown, status = 200): SimResponse {
  return { status, body: { success: true, errors: [], messages: [], result } };
}

function list(items: unknown[]): SimResponse {
  return {
    status: 200,
    body: {
      success: true,
      errors: [],
      messages: [],
      result: items,
      result_info: { count: items.length, page: 1, per_page: Math.max(items.length, 20), total_count: items.length, total_pages: 1 },
    },
  };
}

function empty(): SimResponse {
  return { status: 200, body: { success: true, errors: [], messages: [], result: null } };
}

function prefixJson(c: Ctx, p: SimPrefix): Record<string, unknown> {
  const status = statusJson(c, p);
  return {
    id: p.id,
    account_id: p.accountId,
    cidr: p.cidr,
    asn: p.asn,
    description: p.description,
    approved: p.approved,
    loa_document_id: p.loaDocumentId,
    delegate_loa_creation: p.delegateLoaCreation,
    irr_validation_state: p.irrValidationState,
    rpki_validation_state: p.rpkiValidationState,
    ownership_validation_state: p.ownershipValidationState,
    ownership_validation_token: p.ownershipValidationToken,
    on_demand_enabled: p.onDemandEnabled,
    on_demand_locked: p.onDemandLocked,
    advertised: p.onDemandEnabled ? status.advertised : null,
    advertised_modified_at: p.onDemandEnabled ? status.advertised_modified_at : null,
    created_at: stamp(p.createdAt),
    modified_at: stamp(p.modifiedAt),
  };
}

function statusJson(c: Ctx, p: SimPrefix): { advertised: boolean; advertised_modified_at: string | null } {
  const b = defaultBgp(c, p);
  return { advertised: b?.advertised ?? false, advertised_modified_at: stamp(b?.advertisedModifiedAt ?? null) };
}

function bgpJson(b: SimBgpPrefix): Record<string, unknown> {
  const t = stamp;
  return {
    id: b.id,
    cidr: b.cidr,
    asn: b.asn,
    asn_prepend_count: b.asnPrependCount,
    auto_advertise_withdraw: b.autoAdvertiseWithdraw,
    bgp_signal_opts: { enabled: b.bgpSignalEnabled, modified_at: t(b.bgpSignalModifiedAt) },
    on_demand: {
      advertised: b.onDemandEnabled ? b.advertised : null,
      advertised_modified_at: b.onDemandEnabled ? t(b.advertisedModifiedAt) : null,
      on_demand_enabled: b.onDemandEnabled,
      on_demand_locked: b.onDemandLocked,
    },
    created_at: t(b.createdAt),
    modified_at: t(b.modifiedAt),
  };
}

function bindingJson(c: Ctx, b: SimBinding): Record<string, unknown> {
  return { id: b.id, cidr: b.cidr, service_id: b.serviceId, service_name: serviceName(c, b.serviceId), provisioning: { state: bindingState(b, c.now) } };
}

function delegationJson(d: { id: string; prefixId: string; cidr: string; delegatedAccountId: string; createdAt: number; modifiedAt: number }): Record<string, unknown> {
  const t = stamp;
  return { id: d.id, cidr: d.cidr, delegated_account_id: d.delegatedAccountId, parent_prefix_id: d.prefixId, created_at: t(d.createdAt), modified_at: t(d.modifiedAt) };
}

function mapJson(m: SimAddressMap, full: boolean): Record<string, unknown> {
  const t = stamp;
  const out: Record<string, unknown> = {
    id: m.id,
    description: m.description,
    enabled: m.enabled,
    default_sni: m.defaultSni,
    can_delete: m.canDelete,
    can_modify_ips: m.canModifyIps,
    created_at: t(m.createdAt),
    modified_at: t(m.modifiedAt),
  };
  if (full) {
    out.ips = m.ips.map((i) => ({ ip: i.ip, created_at: t(i.createdAt) }));
    out.memberships = m.memberships.map((x) => ({ kind: x.kind, identifier: x.identifier, can_delete: x.canDelete, created_at: t(x.createdAt) }));
  }
  return out;
}
