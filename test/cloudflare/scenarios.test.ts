import { afterEach, describe, expect, it } from 'vitest';
import { CloudflareError } from '../../src/cloudflare/errors.js';
import { ErrorCode } from '../../src/errors.js';
import {
  DEPLOYED_SCENARIO,
  LOCKED_SCENARIO,
  ONBOARDING_SCENARIO,
  SANDBOX_ACCOUNT_ID as ACC,
  SCENARIO_NAMES,
  SERVICES_SCENARIO,
} from '../../world/simulator/cloudflare/scenarios.js';
import { CLOUDFLARE_ASN } from '../../world/simulator/world.js';
import { harness, HOUR, type Harness } from './helpers.js';

let h: Harness;
afterEach(async () => {
  await h?.close();
});

const control = (path: string, method = 'POST', body?: unknown) =>
  fetch(`${h.sim.controlUrl}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

describe('seeded scenarios', () => {
  it('fresh: an empty account with the service catalogue', async () => {
    h = await harness('fresh');
    expect(await h.client.listPrefixes(ACC)).toEqual([]);
    expect(await h.client.listAddressMaps(ACC)).toEqual([]);
    expect(await h.client.listLeases(ACC)).toEqual([]);
    expect((await h.client.listServices(ACC)).map((s) => s.name)).toEqual(['Magic Transit', 'CDN', 'Spectrum']);
  });

  it('onboarding: unapproved prefix, IRR and RPKI in place, ownership token not yet published, LOA on file', async () => {
    h = await harness('onboarding');
    const o = ONBOARDING_SCENARIO;
    const p = await h.client.getPrefix(ACC, o.prefix.id);
    expect(p).toMatchObject({ cidr: o.prefix.cidr, approved: 'P', irrValidationState: 'valid', rpkiValidationState: 'valid', ownershipValidationState: 'missing' });
    expect(p.ownershipValidationToken).toBe(o.prefix.ownershipToken);
    expect((await h.client.downloadLoaDocument(ACC, o.loaDocumentId)).subarray(0, 5).toString()).toBe('%PDF-');
    expect(h.world.roas.some((r) => r.prefix === o.prefix.cidr && r.asn === CLOUDFLARE_ASN)).toBe(true);
    expect(h.world.routeObjects.find((r) => r.prefix === o.prefix.cidr)?.remarks).toEqual([]);
    expect(await h.client.listServiceBindings(ACC, o.prefix.id)).toEqual([]);
  });

  it('deployed: approved, Magic Transit active, BGP prefix advertised and visible', async () => {
    h = await harness('deployed');
    const d = DEPLOYED_SCENARIO.prefix;
    expect((await h.client.getPrefix(ACC, d.id)).approved).toBe('V');
    expect(await h.client.listServiceBindings(ACC, d.id)).toEqual([
      { id: d.bindingId, cidr: d.cidr, serviceId: '2db684ee7ca04e159946fd05b99e1bcd', serviceName: 'Magic Transit', provisioningState: 'active' },
    ]);
    expect((await h.client.getBgpPrefix(ACC, d.id, d.bgpPrefixId)).onDemand.advertised).toBe(true);
    expect(h.world.visibleRoutes(d.cidr).length).toBeGreaterThan(0);
  });

  it('services: CDN default binding, Spectrum /32, a delegation, an enabled address map, a lease', async () => {
    h = await harness('services');
    const s = SERVICES_SCENARIO;
    expect((await h.client.listServiceBindings(ACC, s.prefix.id)).map((b) => b.serviceName)).toEqual(['CDN', 'Spectrum']);
    expect((await h.client.listDelegations(ACC, s.prefix.id))[0]).toMatchObject({ cidr: s.delegation.cidr, delegatedAccountId: s.delegation.delegatedAccountId });
    expect(await h.client.getAddressMap(ACC, s.addressMap.id)).toMatchObject({ enabled: true, defaultSni: '*.example.com' });
    expect(await h.client.listLeases(ACC)).toHaveLength(1);
  });

  it('locked: the advertisement is frozen', async () => {
    h = await harness('locked');
    const l = LOCKED_SCENARIO.prefix;
    expect((await h.client.getBgpPrefix(ACC, l.id, l.bgpPrefixId)).onDemand).toMatchObject({ advertised: true, locked: true });
    expect((await h.client.getPrefix(ACC, l.id)).onDemandLocked).toBe(true);
  });

  it('an unknown scenario is refused with the list of known ones', async () => {
    h = await harness('fresh');
    expect(() => h.sim.seed('nope')).toThrow(/known: default, fresh, onboarding, deployed, services, locked/);
    expect(SCENARIO_NAMES).toHaveLength(7);
  });
});

describe('control API (/__control, no auth, outside /client/v4)', () => {
  it('seeds scenarios, injects and clears faults, reports state and calls', async () => {
    h = await harness('default');
    expect(h.sim.controlUrl).toMatch(/\/__control$/);
    expect((await control('/scenario', 'POST', { name: 'fresh' })).status).toBe(200);
    expect(await h.client.listPrefixes(ACC)).toEqual([]);
    const fault = await control('/faults', 'POST', { path: '/prefixes$', method: 'GET', kind: 'error', status: 503 });
    expect(fault.status).toBe(201);
    const noRetry = h.clientFor('sandbox-cloudflare-token', { readRetries: 0 });
    await expect(noRetry.listPrefixes(ACC)).rejects.toMatchObject({ code: ErrorCode.CloudflareUnavailable, status: 503 });
    expect(((await (await control('/faults', 'GET')).json()) as { hits: number }[])[0]!.hits).toBe(1);
    await control('/faults', 'DELETE');
    expect(await noRetry.listPrefixes(ACC)).toEqual([]);
    const state = (await (await control('/state', 'GET')).json()) as { prefixes: unknown[]; calls: number };
    expect(state.prefixes).toEqual([]);
    expect(state.calls).toBe(3); // the call log survives re-seeding
    const calls = (await (await control('/calls', 'GET')).json()) as { fault?: string; status: number }[];
    expect(calls.slice(1).map((c) => [c.status, c.fault ?? null])).toEqual([
      [503, 'error'],
      [200, null],
    ]);
  });

  it('advances and scales simulated time', async () => {
    h = await harness('services');
    const b = await h.client.createServiceBinding(ACC, SERVICES_SCENARIO.prefix.id, { cidr: '203.0.113.77/32', serviceId: SERVICES_SCENARIO.prefix.cdnBindingId.replace(/./g, 'f') }).catch(
      (e: unknown) => e,
    );
    expect(b).toBeInstanceOf(CloudflareError);
    const created = await h.client.createServiceBinding(ACC, SERVICES_SCENARIO.prefix.id, { cidr: '203.0.113.77/32', serviceId: '969d8b5f1bf24a2f8a0c4a1e7c2d01bf' });
    expect(created.provisioningState).toBe('provisioning');
    const res = (await (await control('/clock', 'POST', { advanceMs: 6 * HOUR, scale: 3600 })).json()) as { scale: number };
    expect(res.scale).toBe(3600);
    expect(h.world.clock.getScale()).toBe(3600);
    expect((await h.client.getServiceBinding(ACC, SERVICES_SCENARIO.prefix.id, created.id)).provisioningState).toBe('active');
  });

  it('changes the rate limit and adds tokens scoped to accounts and permissions', async () => {
    h = await harness('default');
    await control('/rate-limit', 'POST', { limit: 2, windowMs: 60_000, lockoutMs: 60_000, reset: true });
    const raw = () => fetch(`${h.sim.url}/accounts/${ACC}/addressing/services`, { headers: { authorization: 'Bearer sandbox-cloudflare-token' } });
    expect((await raw()).status).toBe(200);
    expect((await raw()).status).toBe(200);
    expect((await raw()).status).toBe(429);
    await control('/rate-limit', 'POST', { limit: 1200, reset: true });
    expect((await raw()).status).toBe(200);

    await control('/tokens', 'POST', { token: 'bgp-only', accounts: [ACC], permissions: ['IP Prefixes: BGP On Demand Write'] });
    const bgpOnly = h.clientFor('bgp-only');
    expect((await bgpOnly.listPrefixes(ACC)).length).toBe(2);
    const err = await bgpOnly.createAddressMap(ACC, {}).catch((e: unknown) => e as CloudflareError);
    expect(err).toMatchObject({ code: ErrorCode.CloudflareAuth, status: 403 });
    expect((err as CloudflareError).userMessage).toContain('`IP Prefixes: Write`');
  });
});
