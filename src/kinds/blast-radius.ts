/**
 * What else an advertise, a withdraw or an unbind touches: the prefix's service bindings, delegations, the address
 * maps whose IPs fall inside it (the zones whose DNS answers use it), and its other BGP prefixes. Shared reads.
 */
import type { AddressMap, BgpPrefix, Delegation, ServiceBinding } from '../domain/addressing.js';
import { cidrContains } from '../domain/cidr.js';
import { userMessageOf } from '../errors.js';
import type { BlastRadius, KindDeps } from './types.js';

const SHARE_MS = 10_000;

export interface PrefixServices {
  bindings: ServiceBinding[];
  delegations: Delegation[];
  maps: AddressMap[];
  bgp: BgpPrefix[];
}

/** The bindings, delegations, address maps (with IPs and memberships) and BGP prefixes of one account prefix. */
export async function readPrefixServices(deps: KindDeps, accountId: string, prefixId: string): Promise<PrefixServices> {
  const r = deps.reader;
  const cf = deps.cloudflare;
  const [bindings, delegations, list, bgp] = await Promise.all([
    r.read(`bindings:${prefixId}`, SHARE_MS, () => cf.listServiceBindings(accountId, prefixId)),
    r.read(`delegations:${prefixId}`, SHARE_MS, () => cf.listDelegations(accountId, prefixId)),
    r.read(`address-maps:${accountId}`, SHARE_MS, () => cf.listAddressMaps(accountId)),
    r.read(`bgp-prefixes:${prefixId}`, SHARE_MS, () => cf.listBgpPrefixes(accountId, prefixId)),
  ]);
  // The list leaves IPs and memberships out: read each map (shared, so a card costs one read per map per 10 s).
  const maps = await Promise.all(list.map((m) => r.read(`address-map:${m.id}`, SHARE_MS, () => cf.getAddressMap(accountId, m.id))));
  return { bindings, delegations, maps, bgp };
}

const inside = (outer: string, ip: string) => {
  try {
    return cidrContains(outer, ip.includes('/') ? ip : `${ip}/${ip.includes(':') ? 128 : 32}`);
  } catch {
    return false;
  }
};

export function blastRadiusOf(cidr: string, services: PrefixServices, exceptBgpPrefixId: string | null): BlastRadius {
  return {
    bindings: services.bindings.map((b) => ({ cidr: b.cidr, service: b.serviceName, state: b.provisioningState })),
    delegations: services.delegations.map((d) => ({ cidr: d.cidr, account: d.delegatedAccountId })),
    addressMaps: services.maps
      .map((m) => ({ m, ips: (m.ips ?? []).map((i) => i.ip).filter((ip) => inside(cidr, ip)) }))
      .filter(({ ips }) => ips.length > 0)
      .map(({ m, ips }) => ({
        id: m.id,
        description: m.description,
        enabled: m.enabled,
        ips,
        zones: (m.memberships ?? []).filter((x) => x.kind === 'zone').map((x) => x.identifier),
        accounts: (m.memberships ?? []).filter((x) => x.kind === 'account').map((x) => x.identifier),
      })),
    bgpPrefixes: services.bgp.filter((b) => b.id !== exceptBgpPrefixId).map((b) => ({ cidr: b.cidr, advertised: b.onDemand.advertised })),
    error: null,
  };
}

/** The blast radius, or an empty one that says why it could not be read. */
export async function readBlastRadius(deps: KindDeps, accountId: string, prefixId: string, cidr: string, exceptBgpPrefixId: string | null): Promise<{ blast: BlastRadius; services: PrefixServices | null }> {
  try {
    const services = await readPrefixServices(deps, accountId, prefixId);
    return { blast: blastRadiusOf(cidr, services, exceptBgpPrefixId), services };
  } catch (err) {
    return { blast: { bindings: [], delegations: [], addressMaps: [], bgpPrefixes: [], error: userMessageOf(err) }, services: null };
  }
}
