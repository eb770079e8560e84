/**
 * Contract tests: the simulated Cloudflare (and the routing world around it) behaves as Cloudflare's BYOIP docs say
 * on the points the whole life cycle depends on (issue 9): address maps before advertising, IRR and ownership
 * validation, the auto-generated LOA, slow binding deletion, and IPv6 propagation judged against IPv6 peers.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import { LookingGlassClient } from '../../src/routing/looking-glass.js';
import { evaluatePropagation } from '../../src/routing/propagation.js';
import { RoutingStatusClient } from '../../src/routing/routing-status.js';
import { DEFAULT_SCENARIO, SANDBOX_ACCOUNT_ID, SERVICE_IDS, SERVICES_SCENARIO } from '../../world/simulator/cloudflare/scenarios.js';
import { startRoutingSimulators, type RoutingSimulators } from '../../world/simulator/routing/index.js';
import { CLOUDFLARE_ASN } from '../../world/simulator/world.js';
import { caught, harness, HOUR, MINUTE, type Harness } from './helpers.js';

const ACC = SANDBOX_ACCOUNT_ID;

let h: Harness;
let routing: RoutingSimulators | undefined;
afterEach(async () => {
  await routing?.close();
  routing = undefined;
  await h?.close();
});

/** A fresh prefix added to Cloudflare (validation runs at once), with nothing published yet. */
async function added(cidr = '192.0.2.0/24') {
  h = await harness('fresh', { sim: { validationDelayMs: 0 } });
  const p = await h.client.createPrefix(ACC, { cidr, asn: CLOUDFLARE_ASN });
  return { p, token: p.ownershipValidationToken!, validate: () => h.client.validatePrefix(ACC, p.id) };
}

describe('address maps are set up before the prefix is advertised', () => {
  it('IPs of a withdrawn BGP prefix can be put on a map (the docs advertise last, after the maps)', async () => {
    h = await harness('default');
    const W = DEFAULT_SCENARIO.prefixes.withdrawn;
    expect((await h.client.getBgpPrefix(ACC, W.id, W.bgpPrefixId)).onDemand.advertised).toBe(false);
    const m = await h.client.createAddressMap(ACC, { description: 'before advertising', ips: ['198.51.100.7'] });
    expect(m.ips?.map((i) => i.ip)).toEqual(['198.51.100.7']);
    await h.client.addAddressMapIp(ACC, m.id, '198.51.100.8');
    expect((await h.client.getAddressMap(ACC, m.id)).ips?.map((i) => i.ip)).toEqual(['198.51.100.7', '198.51.100.8']);
    // Still only the account's own (or delegated) addresses.
    expect((await caught(h.client.addAddressMapIp(ACC, m.id, '192.0.2.1'))).userMessage).toMatch(/not within a prefix of this account/);
    expect((await caught(h.client.addAddressMapIp(ACC, m.id, '2001:db8::1'))).code).toBe(ErrorCode.CloudflareValidation);
  });
});

describe('IRR validation: a route object for the exact prefix, the token in its remarks or descr', () => {
  it('a covering route object is not the route object of the prefix, even with the token in it', async () => {
    const { token, validate } = await added();
    h.world.addRoa({ prefix: '192.0.2.0/24', maxLength: 24, asn: CLOUDFLARE_ASN });
    h.world.addRouteObject({ prefix: '192.0.0.0/22', origin: CLOUDFLARE_ASN, source: 'RADB', remarks: [`cf-validation: ${token}`], descr: [] });
    expect(await validate()).toMatchObject({ approved: 'P', irrValidationState: 'missing', rpkiValidationState: 'valid', ownershipValidationState: 'missing' });
  });

  it('the token must be the value of a cf-validation line, not a substring of a longer one', async () => {
    const { token, validate } = await added();
    h.world.addRoa({ prefix: '192.0.2.0/24', maxLength: 24, asn: CLOUDFLARE_ASN });
    const route = { prefix: '192.0.2.0/24', origin: CLOUDFLARE_ASN, source: 'RADB', remarks: [`cf-validation: ${token}0`, `old ${token}`], descr: [] as string[] };
    h.world.addRouteObject(route);
    expect(await validate()).toMatchObject({ approved: 'P', irrValidationState: 'valid', ownershipValidationState: 'invalid' });
    route.descr.push(`cf-validation: ${token}`);
    expect(await validate()).toMatchObject({ approved: 'V', irrValidationState: 'valid', ownershipValidationState: 'valid' });
  });

  it('a route object with another origin is mismatch_asn', async () => {
    const { token, validate } = await added();
    h.world.addRoa({ prefix: '192.0.2.0/24', maxLength: 24, asn: CLOUDFLARE_ASN });
    h.world.addRouteObject({ prefix: '192.0.2.0/24', origin: 64511, source: 'RADB', remarks: [`cf-validation: ${token}`], descr: [] });
    expect(await validate()).toMatchObject({ approved: 'P', irrValidationState: 'mismatch_asn' });
  });
});

describe('ownership validation also needs a matching ROA (troubleshooting page)', () => {
  it('the token in the IRR and in every reverse zone is not enough without a ROA for the ASN and length', async () => {
    const { token, validate } = await added('198.18.0.0/23');
    h.world.addRouteObject({ prefix: '198.18.0.0/23', origin: CLOUDFLARE_ASN, source: 'RADB', remarks: [`cf-validation: ${token}`], descr: [] });
    h.world.setTxt('cf-validation.0.18.198.in-addr.arpa', [token]);
    h.world.setTxt('cf-validation.1.18.198.in-addr.arpa', [token]);
    expect(await validate()).toMatchObject({ approved: 'P', rpkiValidationState: 'missing', ownershipValidationState: 'invalid' });
    h.world.addRoa({ prefix: '198.18.0.0/23', maxLength: 23, asn: 64511 });
    expect(await validate()).toMatchObject({ approved: 'P', rpkiValidationState: 'mismatch_asn', ownershipValidationState: 'invalid' });
    h.world.addRoa({ prefix: '198.18.0.0/16', maxLength: 22, asn: CLOUDFLARE_ASN });
    expect(await validate()).toMatchObject({ approved: 'P', rpkiValidationState: 'invalid', ownershipValidationState: 'invalid' });
    h.world.addRoa({ prefix: '198.18.0.0/16', maxLength: 24, asn: CLOUDFLARE_ASN });
    expect(await validate()).toMatchObject({ approved: 'V', irrValidationState: 'valid', rpkiValidationState: 'valid', ownershipValidationState: 'valid' });
  });
});

describe('delegate_loa_creation: true makes Cloudflare write the LOA', () => {
  it('the new prefix names an auto-generated LOA document for its CIDR and ASN', async () => {
    h = await harness('fresh');
    const p = await h.client.createPrefix(ACC, { cidr: '192.0.2.0/24', asn: CLOUDFLARE_ASN, delegateLoaCreation: true });
    expect(p).toMatchObject({ delegateLoaCreation: true, approved: 'P' });
    expect(p.loaDocumentId).toMatch(/^[0-9a-f]{32}$/);
    expect(h.sim.state.loaDocuments.get(p.loaDocumentId!)).toMatchObject({ accountId: ACC, autoGenerated: true });
    const pdf = (await h.client.downloadLoaDocument(ACC, p.loaDocumentId!)).toString('latin1');
    expect(pdf.startsWith('%PDF-')).toBe(true);
    expect(pdf).toContain('192.0.2.0/24');
    expect(pdf).toContain('AS13335');
    // Without it (and without an uploaded LOA) there is no LOA document.
    const q = await h.client.createPrefix(ACC, { cidr: '198.51.100.0/24', asn: CLOUDFLARE_ASN });
    expect(q.loaDocumentId).toBeNull();
  });
});

describe('deleting a service binding takes 4 to 6 hours', () => {
  it('the binding stays, provisioning, until Cloudflare has removed it from the network', async () => {
    h = await harness('services');
    const S = SERVICES_SCENARIO.prefix;
    await h.client.deleteServiceBinding(ACC, S.id, S.spectrumBindingId);
    expect((await h.client.getServiceBinding(ACC, S.id, S.spectrumBindingId)).provisioningState).toBe('provisioning');
    expect((await h.client.listServiceBindings(ACC, S.id)).map((b) => [b.cidr, b.provisioningState])).toEqual([
      [S.cidr, 'active'],
      [S.spectrumCidr, 'provisioning'],
    ]);
    // A second delete while it goes is accepted and changes nothing; a new binding on that CIDR must wait.
    await h.client.deleteServiceBinding(ACC, S.id, S.spectrumBindingId);
    const busy = await caught(h.client.createServiceBinding(ACC, S.id, { cidr: S.spectrumCidr, serviceId: SERVICE_IDS.spectrum }));
    expect(busy.code).toBe(ErrorCode.CloudflareConflict);
    expect(busy.userMessage).toMatch(/being deleted/);
    h.world.clock.advance(3 * HOUR + 59 * MINUTE);
    expect((await h.client.getServiceBinding(ACC, S.id, S.spectrumBindingId)).provisioningState).toBe('provisioning');
    h.world.clock.advance(2 * HOUR + 2 * MINUTE);
    expect((await caught(h.client.getServiceBinding(ACC, S.id, S.spectrumBindingId))).code).toBe(ErrorCode.CloudflareNotFound);
    expect((await h.client.listServiceBindings(ACC, S.id)).map((b) => b.cidr)).toEqual([S.cidr]);
    expect((await h.client.createServiceBinding(ACC, S.id, { cidr: S.spectrumCidr, serviceId: SERVICE_IDS.cdn })).provisioningState).toBe('provisioning');
  });

  it('the default binding cannot go while a more specific one is still being deleted', async () => {
    h = await harness('services');
    const S = SERVICES_SCENARIO.prefix;
    await h.client.deleteServiceBinding(ACC, S.id, S.spectrumBindingId);
    h.sim.state.bgpPrefixes.get(S.bgpPrefixId)!.advertised = false;
    expect((await caught(h.client.deleteServiceBinding(ACC, S.id, S.cdnBindingId))).userMessage).toMatch(/more specific bindings/);
    h.world.clock.advance(6 * HOUR);
    await h.client.deleteServiceBinding(ACC, S.id, S.cdnBindingId);
    expect((await h.client.getServiceBinding(ACC, S.id, S.cdnBindingId)).provisioningState).toBe('provisioning');
  });
});

describe('IPv6 has its own usual peer count', () => {
  it('an IPv6 BGP prefix advertised at Cloudflare is seen by IPv6 peers and judged against their total', async () => {
    h = await harness('fresh', { sim: { validationDelayMs: 0 } });
    routing = await startRoutingSimulators({ world: h.world, routingStatusTime: 'live' });
    const c = h.client;
    const cidr = '2001:db8:10::/44';
    const p = await c.createPrefix(ACC, { cidr, asn: CLOUDFLARE_ASN });
    h.world.addRoa({ prefix: cidr, maxLength: 48, asn: CLOUDFLARE_ASN });
    h.world.addRouteObject({ prefix: cidr, origin: CLOUDFLARE_ASN, source: 'RIPE', remarks: [`cf-validation: ${p.ownershipValidationToken!}`], descr: [] });
    expect((await c.validatePrefix(ACC, p.id)).approved).toBe('V');
    await c.createServiceBinding(ACC, p.id, { cidr, serviceId: SERVICE_IDS.magicTransit });
    h.world.clock.advance(6 * HOUR);
    const bgp = await c.createBgpPrefix(ACC, p.id, '2001:db8:1f::/48');
    await c.setBgpPrefixAdvertised(ACC, p.id, bgp.id, true);
    h.world.clock.advance(10 * MINUTE);

    const rs = new RoutingStatusClient({ baseUrl: routing.ripestatUrl, timeoutMs: 1000 });
    const lg = new LookingGlassClient({ baseUrl: routing.ripestatUrl, timeoutMs: 1000, now: () => h.world.clock.nowDate() });
    const v6Peers = h.world.totalPeersFor(6);
    const v4Peers = h.world.totalPeersFor(4);
    expect(v6Peers).toBeLessThan(v4Peers);
    expect(await rs.usualPeerCount('2001:db8:1f::/48')).toBe(v6Peers);
    expect(await rs.usualPeerCount('203.0.113.0/24')).toBe(v4Peers);

    const sample = await lg.sample('2001:db8:1f::/48');
    expect(sample.peersSeeing).toBeGreaterThan(0.75 * v6Peers);
    expect(sample.peersSeeing).toBeLessThanOrEqual(v6Peers);
    const judged = evaluatePropagation({ action: 'advertise', sample, usualPeerCount: await rs.usualPeerCount('2001:db8:1f::/48'), elapsedMs: 10 * MINUTE });
    expect(judged.verdict).toBe('propagated');
    // Against the IPv4 total the same, fully propagated prefix would never look propagated.
    expect(evaluatePropagation({ action: 'advertise', sample, usualPeerCount: v4Peers, elapsedMs: 10 * MINUTE }).verdict).toBe('propagating');
    // The routes come over IPv6 sessions.
    const raw = (await (await fetch(`${routing.ripestatUrl}/data/looking-glass/data.json?resource=2001:db8:1f::/48`)).json()) as { data: { rrcs: { peers: { peer: string }[] }[] } };
    expect(raw.data.rrcs.flatMap((r) => r.peers.map((x) => x.peer)).every((ip) => ip.includes(':'))).toBe(true);
  });
});
