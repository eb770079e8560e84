import { CLOUDFLARE_ASN, type World } from '../world.js';
import {
  ALL_PERMISSIONS,
  emptyState,
  type CloudflareState,
  type SimBgpPrefix,
  type SimBinding,
  type SimPrefix,
} from './state.js';

/** Named starting points of the simulated Cloudflare. Ids are fixed so tests and the sandbox can name them. */

export const SANDBOX_ACCOUNT_ID = '258def64c72dae45f3e4c8516e2111f2';
export const SANDBOX_CLOUDFLARE_TOKEN = 'sandbox-cloudflare-token';
/** A second customer account with its own token; the sandbox token cannot see it (and vice versa). */
export const OTHER_ACCOUNT_ID = '9a7806061c88ada191ed06f989cc3dac';
export const OTHER_CLOUDFLARE_TOKEN = 'sandbox-cloudflare-token-other';
/** Sees the sandbox account with read permissions only. */
export const READONLY_CLOUDFLARE_TOKEN = 'sandbox-cloudflare-token-readonly';
/** The customer's own ASN, announcing a covering /23 from its data centre. */
export const CUSTOMER_ASN = 64500;

export const SERVICE_IDS = {
  magicTransit: '2db684ee7ca04e159946fd05b99e1bcd',
  cdn: '969d8b5f1bf24a2f8a0c4a1e7c2d01bf',
  spectrum: 'a3f1c2d4e5b64a7c8d9e0f1a2b3c4d5e',
} as const;

export const SERVICES = [
  { id: SERVICE_IDS.magicTransit, name: 'Magic Transit' },
  { id: SERVICE_IDS.cdn, name: 'CDN' },
  { id: SERVICE_IDS.spectrum, name: 'Spectrum' },
];

export const SCENARIO_NAMES = ['default', 'fresh', 'onboarding', 'deployed', 'services', 'locked', 'fleet'] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

/** `default`: one advertised and one withdrawn prefix, both approved with an active Magic Transit binding. */
export const DEFAULT_SCENARIO = {
  accountId: SANDBOX_ACCOUNT_ID,
  token: SANDBOX_CLOUDFLARE_TOKEN,
  prefixes: {
    advertised: {
      id: '2af39739cc4e3b5910c918468bb89828',
      cidr: '203.0.113.0/24',
      bgpPrefixId: '7009ba364c7a5760798ceb430e603b74',
      bindingId: '0429b49b6a5155297b78e75a44b09e14',
      ownershipToken: 'e1b7c2d4a5f60718293a4b5c6d7e8f90',
    },
    withdrawn: {
      id: '4c1a9f3e0b2d48a6b7c8d9e0f1a2b3c4',
      cidr: '198.51.100.0/24',
      bgpPrefixId: '5d2b0a4f1c3e59b7c8d9e0f1a2b3c4d5',
      bindingId: '6e3c1b5a2d4f60c8d9e0f1a2b3c4d5e6',
      ownershipToken: 'f2c8d3e5b6a71829304b5c6d7e8f9a01',
    },
  },
  /** The customer's covering announcement. */
  customerAggregate: '203.0.112.0/23',
} as const;

/** A 32-hex id made from a tag and a number (deterministic, like the scenarios' other ids). */
const fleetId = (tag: string, i: number) => `${tag}${i.toString(16).padStart(2, '0')}`.padEnd(32, '0').slice(0, 32);

/**
 * `fleet`: `default` plus ten more advertised /24s (198.18.0.0/24 … 198.18.9.0/24, each with its Magic Transit
 * binding, fully visible from AS13335, covered by the customer's own 198.18.0.0/15 announcement): a data-centre
 * failover or a large attack that touches many prefixes at once (`/byoip emergency withdraw a,b,c…|--all`).
 */
export const FLEET_SCENARIO = {
  ...DEFAULT_SCENARIO,
  fleet: Array.from({ length: 10 }, (_, i) => ({
    id: fleetId('f1ee7a', i),
    cidr: `198.18.${i}.0/24`,
    bgpPrefixId: fleetId('f1ee7b', i),
    bindingId: fleetId('f1ee7c', i),
    ownershipToken: fleetId('f1ee7d', i),
  })),
  /** The customer's covering announcement of the fleet. */
  fleetAggregate: '198.18.0.0/15',
} as const;

/** `onboarding`: a prefix added but not yet approved; IRR and RPKI are in place, the ownership token is not published. */
export const ONBOARDING_SCENARIO = {
  accountId: SANDBOX_ACCOUNT_ID,
  prefix: { id: '8f4d2c6b3e5a71d9e0f1a2b3c4d5e6f7', cidr: '192.0.2.0/24', ownershipToken: 'a3d9e4f6c7b8203a4b5c6d7e8f9a0b12' },
  loaDocumentId: 'd933b1530bc56c9953cf8ce166da8004',
} as const;

/** `deployed`: one prefix approved, Magic Transit binding active, BGP prefix advertised and visible. */
export const DEPLOYED_SCENARIO = {
  accountId: SANDBOX_ACCOUNT_ID,
  prefix: DEFAULT_SCENARIO.prefixes.advertised,
} as const;

/** `services`: a CDN prefix with a Spectrum /32 inside it, a delegation, and an enabled address map. */
export const SERVICES_SCENARIO = {
  accountId: SANDBOX_ACCOUNT_ID,
  prefix: {
    id: '1b5e3d7c4f6a82e0f1a2b3c4d5e6f708',
    cidr: '203.0.113.0/24',
    bgpPrefixId: '2c6f4e8d5a7b93f1a2b3c4d5e6f70819',
    cdnBindingId: '3d7a5f9e6b8ca4a2b3c4d5e6f708192a',
    spectrumBindingId: '4e8b6a0f7c9db5b3c4d5e6f708192a3b',
    spectrumCidr: '203.0.113.10/32',
    ownershipToken: 'b4e0f5a7d8c9314b5c6d7e8f9a0b1c23',
  },
  delegation: { id: 'd933b1530bc56c9953cf8ce166da8004', cidr: '203.0.113.128/25', delegatedAccountId: OTHER_ACCOUNT_ID },
  addressMap: { id: '055817b111884e0227e1be16a0be6ee0', ip: '203.0.113.1', zoneId: '023e105f4ecef8ad9ca31a8372d0c353' },
} as const;

/** `locked`: an advertised prefix whose advertisement Cloudflare has locked (`on_demand_locked`). */
export const LOCKED_SCENARIO = {
  accountId: SANDBOX_ACCOUNT_ID,
  prefix: { ...DEFAULT_SCENARIO.prefixes.advertised },
} as const;

const HOUR = 3_600_000;

/** Makers of the scenarios' records: prefixes, BGP prefixes and bindings made 30 days ago, registry data, routes. */
function builders(state: CloudflareState, world: World) {
  const longAgo = world.clock.now() - 30 * 24 * HOUR;
  const prefix = (p: { id: string; cidr: string; ownershipToken: string }, extra: Partial<SimPrefix> = {}): SimPrefix => {
    const sp: SimPrefix = {
      id: p.id,
      accountId: SANDBOX_ACCOUNT_ID,
      cidr: p.cidr,
      asn: CLOUDFLARE_ASN,
      description: `BYOIP ${p.cidr}`,
      approved: 'V',
      loaDocumentId: null,
      delegateLoaCreation: false,
      irrValidationState: 'valid',
      rpkiValidationState: 'valid',
      ownershipValidationState: 'valid',
      ownershipValidationToken: p.ownershipToken,
      validationDueAt: null,
      onDemandEnabled: true,
      onDemandLocked: false,
      createdAt: longAgo,
      modifiedAt: longAgo,
      ...extra,
    };
    state.prefixes.set(sp.id, sp);
    return sp;
  };
  const bgp = (id: string, prefixId: string, cidr: string, advertised: boolean, extra: Partial<SimBgpPrefix> = {}): SimBgpPrefix => {
    const b: SimBgpPrefix = {
      id,
      prefixId,
      cidr,
      asn: CLOUDFLARE_ASN,
      asnPrependCount: 0,
      autoAdvertiseWithdraw: false,
      bgpSignalEnabled: false,
      bgpSignalModifiedAt: null,
      advertised,
      advertisedModifiedAt: longAgo,
      onDemandEnabled: true,
      onDemandLocked: false,
      createdAt: longAgo,
      modifiedAt: longAgo,
      ...extra,
    };
    state.bgpPrefixes.set(id, b);
    return b;
  };
  const binding = (id: string, prefixId: string, cidr: string, serviceId: string, activeAt = longAgo + 5 * HOUR): SimBinding => {
    const b: SimBinding = { id, prefixId, cidr, serviceId, createdAt: longAgo, activeAt };
    state.bindings.set(id, b);
    return b;
  };
  const registry = (cidr: string, token: string | null, opts: { roa?: boolean; route?: boolean } = {}) => {
    if (opts.roa !== false && !world.roas.some((r) => r.prefix === cidr && r.asn === CLOUDFLARE_ASN)) {
      world.addRoa({ prefix: cidr, maxLength: 24, asn: CLOUDFLARE_ASN });
    }
    if (opts.route !== false && !world.routeObjects.some((r) => r.prefix === cidr && r.origin === CLOUDFLARE_ASN)) {
      world.addRouteObject({
        prefix: cidr,
        origin: CLOUDFLARE_ASN,
        source: 'RADB',
        remarks: token ? [`cf-validation: ${token}`] : [],
        descr: ['Example Networks BYOIP via Cloudflare'],
        mntBy: 'MAINT-AS64500',
      });
    }
  };
  const visible = (cidr: string) => world.announce(cidr, CLOUDFLARE_ASN, { delayMs: 0, rampMs: 0 });
  return { prefix, bgp, binding, registry, visible };
}

/** Replaces `state`'s contents with the named scenario and adds its registry data and routes to `world`. */
export function seedScenario(name: string, state: CloudflareState, world: World): void {
  if (!(SCENARIO_NAMES as readonly string[]).includes(name)) {
    throw new Error(`unknown Cloudflare scenario "${name}"; known: ${SCENARIO_NAMES.join(', ')}`);
  }
  Object.assign(state, { ...emptyState(), calls: state.calls });
  const now = world.clock.now();
  const longAgo = now - 30 * 24 * HOUR;
  state.accounts.set(SANDBOX_ACCOUNT_ID, { id: SANDBOX_ACCOUNT_ID, name: 'Example Networks' });
  state.accounts.set(OTHER_ACCOUNT_ID, { id: OTHER_ACCOUNT_ID, name: 'Other Customer' });
  state.tokens.set(SANDBOX_CLOUDFLARE_TOKEN, { token: SANDBOX_CLOUDFLARE_TOKEN, accounts: [SANDBOX_ACCOUNT_ID], permissions: [...ALL_PERMISSIONS] });
  state.tokens.set(OTHER_CLOUDFLARE_TOKEN, { token: OTHER_CLOUDFLARE_TOKEN, accounts: [OTHER_ACCOUNT_ID], permissions: [...ALL_PERMISSIONS] });
  state.tokens.set(READONLY_CLOUDFLARE_TOKEN, {
    token: READONLY_CLOUDFLARE_TOKEN,
    accounts: [SANDBOX_ACCOUNT_ID],
    permissions: ['IP Prefixes: Read', 'Magic Transit Read', 'IP Prefixes: BGP On Demand Read'],
  });
  state.services = SERVICES.map((s) => ({ ...s }));

  const { prefix, bgp, binding, registry, visible } = builders(state, world);
  const customerAggregate = () => {
    const agg = DEFAULT_SCENARIO.customerAggregate;
    world.announce(agg, CUSTOMER_ASN, { delayMs: 0, rampMs: 0 });
    if (!world.roas.some((r) => r.prefix === agg)) world.addRoa({ prefix: agg, maxLength: 23, asn: CUSTOMER_ASN });
    if (!world.routeObjects.some((r) => r.prefix === agg)) {
      world.addRouteObject({ prefix: agg, origin: CUSTOMER_ASN, source: 'RADB', remarks: [], descr: ['Example Networks data centre'], mntBy: 'MAINT-AS64500' });
    }
  };

  switch (name as ScenarioName) {
    case 'default': {
      const a = DEFAULT_SCENARIO.prefixes.advertised;
      const w = DEFAULT_SCENARIO.prefixes.withdrawn;
      prefix(a);
      prefix(w);
      binding(a.bindingId, a.id, a.cidr, SERVICE_IDS.magicTransit);
      binding(w.bindingId, w.id, w.cidr, SERVICE_IDS.magicTransit);
      bgp(a.bgpPrefixId, a.id, a.cidr, true);
      bgp(w.bgpPrefixId, w.id, w.cidr, false);
      registry(a.cidr, a.ownershipToken);
      registry(w.cidr, w.ownershipToken);
      visible(a.cidr);
      customerAggregate();
      break;
    }
    case 'fleet': {
      seedScenario('default', state, world);
      for (const f of FLEET_SCENARIO.fleet) {
        prefix(f);
        binding(f.bindingId, f.id, f.cidr, SERVICE_IDS.magicTransit);
        bgp(f.bgpPrefixId, f.id, f.cidr, true);
        registry(f.cidr, f.ownershipToken);
        visible(f.cidr);
      }
      const agg = FLEET_SCENARIO.fleetAggregate;
      world.announce(agg, CUSTOMER_ASN, { delayMs: 0, rampMs: 0 });
      if (!world.roas.some((r) => r.prefix === agg)) world.addRoa({ prefix: agg, maxLength: 24, asn: CUSTOMER_ASN });
      break;
    }
    case 'fresh':
      break;
    case 'onboarding': {
      const o = ONBOARDING_SCENARIO;
      state.loaDocuments.set(o.loaDocumentId, {
        id: o.loaDocumentId,
        accountId: SANDBOX_ACCOUNT_ID,
        filename: 'loa-192.0.2.0-24.pdf',
        content: Buffer.from('%PDF-1.4\n% Letter of Authorization for 192.0.2.0/24\n%%EOF\n'),
        autoGenerated: false,
        verified: true,
        verifiedAt: longAgo,
        createdAt: longAgo,
      });
      prefix(o.prefix, {
        approved: 'P',
        loaDocumentId: o.loaDocumentId,
        irrValidationState: 'valid',
        rpkiValidationState: 'valid',
        ownershipValidationState: 'missing',
        onDemandEnabled: false,
        createdAt: now - 2 * HOUR,
        modifiedAt: now - HOUR,
      });
      // ROA and route object are published; the ownership token is not yet.
      registry(o.prefix.cidr, null);
      break;
    }
    case 'deployed': {
      const p = DEPLOYED_SCENARIO.prefix;
      prefix(p);
      binding(p.bindingId, p.id, p.cidr, SERVICE_IDS.magicTransit);
      bgp(p.bgpPrefixId, p.id, p.cidr, true);
      registry(p.cidr, p.ownershipToken);
      visible(p.cidr);
      customerAggregate();
      break;
    }
    case 'services': {
      const s = SERVICES_SCENARIO;
      prefix(s.prefix);
      binding(s.prefix.cdnBindingId, s.prefix.id, s.prefix.cidr, SERVICE_IDS.cdn);
      binding(s.prefix.spectrumBindingId, s.prefix.id, s.prefix.spectrumCidr, SERVICE_IDS.spectrum);
      bgp(s.prefix.bgpPrefixId, s.prefix.id, s.prefix.cidr, true);
      registry(s.prefix.cidr, s.prefix.ownershipToken);
      visible(s.prefix.cidr);
      state.delegations.set(s.delegation.id, {
        id: s.delegation.id,
        prefixId: s.prefix.id,
        cidr: s.delegation.cidr,
        delegatedAccountId: s.delegation.delegatedAccountId,
        createdAt: longAgo,
        modifiedAt: longAgo,
      });
      state.addressMaps.set(s.addressMap.id, {
        id: s.addressMap.id,
        accountId: SANDBOX_ACCOUNT_ID,
        description: 'CDN ingress for www.example.com',
        enabled: true,
        defaultSni: '*.example.com',
        canDelete: true,
        canModifyIps: true,
        ips: [{ ip: s.addressMap.ip, createdAt: longAgo }],
        memberships: [{ kind: 'zone', identifier: s.addressMap.zoneId, canDelete: true, createdAt: longAgo }],
        createdAt: longAgo,
        modifiedAt: longAgo,
      });
      state.leases.set('6f9c7b1a8d0ec6c4d5e6f708192a3b4c', {
        id: '6f9c7b1a8d0ec6c4d5e6f708192a3b4c',
        accountId: SANDBOX_ACCOUNT_ID,
        ownerId: SANDBOX_ACCOUNT_ID,
        purpose: 'Static egress IPs',
        cidrs: ['104.30.134.0/30'],
        activeFrom: longAgo,
        createdAt: longAgo,
        modifiedAt: longAgo,
      });
      break;
    }
    case 'locked': {
      const p = LOCKED_SCENARIO.prefix;
      prefix(p, { onDemandLocked: true });
      binding(p.bindingId, p.id, p.cidr, SERVICE_IDS.magicTransit);
      bgp(p.bgpPrefixId, p.id, p.cidr, true, { onDemandLocked: true });
      registry(p.cidr, p.ownershipToken);
      visible(p.cidr);
      break;
    }
  }
}

/** Most prefixes `addPrefixFleet` makes: the /24s of 10.0.0.0/8. */
export const MAX_FLEET_PREFIXES = 65_536;

/**
 * Adds `count` approved, advertised /24s (10.0.0.0/24, 10.0.1.0/24, ...) to the sandbox account of whatever scenario
 * is seeded, each with its BGP prefix, Magic Transit binding, ROA and route object, and fully visible from AS13335:
 * an account of a few thousand prefixes (the standing monitor's polling at scale). Not a named scenario, since the
 * count varies; returns the CIDRs.
 */
export function addPrefixFleet(state: CloudflareState, world: World, count: number): string[] {
  if (!Number.isInteger(count) || count < 0 || count > MAX_FLEET_PREFIXES) throw new Error(`a fleet has 0 to ${MAX_FLEET_PREFIXES} prefixes, not ${count}`);
  const { prefix, bgp, binding, registry, visible } = builders(state, world);
  const id = (tag: string, i: number) => `${tag}${i.toString(16).padStart(5, '0')}`.padEnd(32, '0');
  const cidrs: string[] = [];
  for (let i = 0; i < count; i++) {
    const p = { id: id('b16f1a', i), cidr: `10.${i >> 8}.${i & 255}.0/24`, ownershipToken: id('b16f1d', i) };
    prefix(p);
    binding(id('b16f1c', i), p.id, p.cidr, SERVICE_IDS.magicTransit);
    bgp(id('b16f1b', i), p.id, p.cidr, true);
    registry(p.cidr, p.ownershipToken);
    visible(p.cidr);
    cidrs.push(p.cidr);
  }
  return cidrs;
}
