import { afterAll, describe, expect, it } from 'vitest';
import type { CloudflareClient } from '../../src/cloudflare/client.js';
import { CloudflareError } from '../../src/cloudflare/errors.js';
import {
  DEFAULT_SCENARIO,
  LOCKED_SCENARIO,
  OTHER_ACCOUNT_ID,
  READONLY_CLOUDFLARE_TOKEN,
  SANDBOX_ACCOUNT_ID as ACC,
  SERVICE_IDS,
  SERVICES_SCENARIO as S,
} from '../../world/simulator/cloudflare/scenarios.js';
import { CLOUDFLARE_ASN } from '../../world/simulator/world.js';
import { harness, HOUR, MINUTE } from './helpers.js';
import { checkCalls, newReport, OPERATIONS, pointerOf, validAgainst } from './openapi.js';
import type { SimCall } from '../../world/simulator/cloudflare/state.js';

const NOPE = 'ffffffffffffffffffffffffffffffff';
const PDF = Buffer.from('%PDF-1.4\n%%EOF\n');
const report = newReport();

/** Runs `fn` and swallows the CloudflareError it is expected to throw (the tour records traffic; other tests assert). */
async function fails(fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CloudflareError);
    return;
  }
  throw new Error('expected a failure');
}

/** One success and at least one refusal of every read and write, through the client. */
async function tourServices(c: CloudflareClient, ro: CloudflareClient): Promise<void> {
  const p = S.prefix;
  await c.listPrefixes(ACC);
  await fails(() => c.listPrefixes(OTHER_ACCOUNT_ID));
  await c.getPrefix(ACC, p.id);
  await fails(() => c.getPrefix(ACC, NOPE));
  await c.updatePrefixDescription(ACC, p.id, 'conformance');
  await fails(() => c.updatePrefixDescription(ACC, NOPE, 'conformance'));
  await fails(() => c.deletePrefix(ACC, p.id));
  await c.validatePrefix(ACC, p.id);
  await fails(() => c.validatePrefix(ACC, NOPE));
  await c.listBgpPrefixes(ACC, p.id);
  await fails(() => c.listBgpPrefixes(ACC, NOPE));
  await c.getBgpPrefix(ACC, p.id, p.bgpPrefixId);
  await fails(() => c.getBgpPrefix(ACC, p.id, NOPE));
  await c.updateBgpPrefix(ACC, p.id, p.bgpPrefixId, { asnPrependCount: 1 });
  await fails(() => c.updateBgpPrefix(ACC, p.id, NOPE, { asnPrependCount: 2 }));
  await fails(() => c.createBgpPrefix(ACC, p.id, p.cidr));
  await fails(() => c.deleteBgpPrefix(ACC, p.id, p.bgpPrefixId));
  await c.getAdvertisementStatus(ACC, p.id);
  await fails(() => c.getAdvertisementStatus(ACC, NOPE));
  await c.setAdvertisementStatus(ACC, p.id, true);
  await fails(() => ro.setAdvertisementStatus(ACC, p.id, true));
  await c.listServiceBindings(ACC, p.id);
  await fails(() => c.listServiceBindings(ACC, NOPE));
  await c.getServiceBinding(ACC, p.id, p.cdnBindingId);
  await fails(() => c.getServiceBinding(ACC, p.id, NOPE));
  const b = await c.createServiceBinding(ACC, p.id, { cidr: '203.0.113.30/32', serviceId: SERVICE_IDS.spectrum });
  await fails(() => c.createServiceBinding(ACC, p.id, { cidr: '203.0.113.30/32', serviceId: SERVICE_IDS.cdn }));
  await c.deleteServiceBinding(ACC, p.id, b.id);
  await fails(() => c.deleteServiceBinding(ACC, p.id, p.cdnBindingId));
  await c.listServices(ACC);
  await fails(() => c.listServices(OTHER_ACCOUNT_ID));
  await c.listDelegations(ACC, p.id);
  await fails(() => c.listDelegations(ACC, NOPE));
  const d = await c.createDelegation(ACC, p.id, { cidr: '203.0.113.64/26', delegatedAccountId: OTHER_ACCOUNT_ID });
  await fails(() => c.createDelegation(ACC, p.id, { cidr: '192.0.2.0/26', delegatedAccountId: OTHER_ACCOUNT_ID }));
  await c.deleteDelegation(ACC, p.id, d.id);
  await fails(() => c.deleteDelegation(ACC, p.id, d.id));
  await c.listAddressMaps(ACC);
  await fails(() => c.listAddressMaps(OTHER_ACCOUNT_ID));
  await fails(() => ro.createAddressMap(ACC, {}));
  const m = await c.createAddressMap(ACC, { description: 'tour', enabled: false, ips: ['203.0.113.40'], memberships: [{ kind: 'zone', identifier: S.addressMap.zoneId }] });
  await fails(() => c.createAddressMap(ACC, { ips: ['192.0.2.1'] }));
  await c.getAddressMap(ACC, m.id);
  await fails(() => c.getAddressMap(ACC, NOPE));
  await c.updateAddressMap(ACC, m.id, { description: 'tour 2', defaultSni: '*.example.com' });
  await fails(() => c.updateAddressMap(ACC, NOPE, { enabled: true }));
  await c.addAddressMapIp(ACC, m.id, '203.0.113.41');
  await fails(() => c.addAddressMapIp(ACC, m.id, '192.0.2.9'));
  await c.removeAddressMapIp(ACC, m.id, '203.0.113.41');
  await fails(() => c.removeAddressMapIp(ACC, m.id, '203.0.113.41'));
  await c.addAddressMapZone(ACC, m.id, '0123456789abcdef0123456789abcdef');
  await fails(() => c.addAddressMapZone(ACC, NOPE, '0123456789abcdef0123456789abcdef'));
  await c.removeAddressMapZone(ACC, m.id, '0123456789abcdef0123456789abcdef');
  await fails(() => c.removeAddressMapZone(ACC, m.id, '0123456789abcdef0123456789abcdef'));
  await c.addAddressMapAccount(ACC, m.id);
  await fails(() => c.addAddressMapAccount(ACC, NOPE));
  await c.removeAddressMapAccount(ACC, m.id);
  await fails(() => c.removeAddressMapAccount(ACC, m.id));
  await c.updateAddressMap(ACC, S.addressMap.id, { enabled: true });
  await fails(() => c.deleteAddressMap(ACC, S.addressMap.id));
  await c.deleteAddressMap(ACC, m.id);
  const loa = await c.uploadLoaDocument(ACC, { filename: 'tour.pdf', content: PDF });
  await fails(() => c.uploadLoaDocument(ACC, { filename: 'tour.txt', content: Buffer.from('nope') }));
  await c.downloadLoaDocument(ACC, loa.id!);
  await fails(() => c.downloadLoaDocument(ACC, NOPE));
  await c.listLeases(ACC);
  await fails(() => c.listLeases(OTHER_ACCOUNT_ID));
}

async function tourOnboarding(c: CloudflareClient, world: import('../../world/simulator/world.js').World): Promise<void> {
  const cidr = '198.18.0.0/23';
  const p = await c.createPrefix(ACC, { cidr, asn: CLOUDFLARE_ASN, description: 'tour' });
  await fails(() => c.createPrefix(ACC, { cidr: '198.18.0.0/25', asn: CLOUDFLARE_ASN }));
  await fails(() => c.createBgpPrefix(ACC, p.id, cidr));
  world.addRoa({ prefix: cidr, maxLength: 24, asn: CLOUDFLARE_ASN });
  world.addRouteObject({ prefix: cidr, origin: CLOUDFLARE_ASN, source: 'RADB', remarks: [`cf-validation: ${p.ownershipValidationToken}`], descr: [] });
  await c.validatePrefix(ACC, p.id);
  world.clock.advance(3 * MINUTE);
  await c.getPrefix(ACC, p.id);
  await c.createServiceBinding(ACC, p.id, { cidr, serviceId: SERVICE_IDS.magicTransit });
  await fails(() => c.createBgpPrefix(ACC, p.id, '198.18.1.0/24'));
  world.clock.advance(6 * HOUR);
  const bgp = await c.createBgpPrefix(ACC, p.id, '198.18.1.0/24');
  await c.setBgpPrefixAdvertised(ACC, p.id, bgp.id, true);
  await fails(() => c.deleteBgpPrefix(ACC, p.id, bgp.id));
  await c.setBgpPrefixAdvertised(ACC, p.id, bgp.id, false);
  await c.deleteBgpPrefix(ACC, p.id, bgp.id);
  const q = await c.createPrefix(ACC, { cidr: '192.0.2.0/24', asn: CLOUDFLARE_ASN });
  await c.deletePrefix(ACC, q.id);
}

describe('conformance with the OpenAPI extract', () => {
  it('services tour: every endpoint, success and refusal', async () => {
    const h = await harness('services');
    try {
      await tourServices(h.client, h.clientFor(READONLY_CLOUDFLARE_TOKEN));
      checkCalls(h.sim.state.calls, report);
    } finally {
      await h.close();
    }
  });

  it('onboarding tour: create, validate, bind, BGP create / advertise / delete', async () => {
    const h = await harness('fresh', { sim: { validationDelayMs: 2 * MINUTE } });
    try {
      await tourOnboarding(h.client, h.world);
      checkCalls(h.sim.state.calls, report);
    } finally {
      await h.close();
    }
  });

  it('locked and default scenarios: refusals conform too', async () => {
    const h = await harness('locked');
    try {
      const P = LOCKED_SCENARIO.prefix;
      await fails(() => h.client.setBgpPrefixAdvertised(ACC, P.id, P.bgpPrefixId, false));
      await fails(() => h.client.setAdvertisementStatus(ACC, P.id, false));
      h.sim.seed('default');
      const W = DEFAULT_SCENARIO.prefixes.withdrawn;
      await fails(() => h.client.createAddressMap(ACC, { ips: ['192.0.2.1'] }));
      await h.client.setBgpPrefixAdvertised(ACC, W.id, W.bgpPrefixId, true);
      // A real 429 from the limiter (not an injected fault).
      h.sim.setRateLimit({ limit: 1 });
      await fails(() => h.clientFor('sandbox-cloudflare-token', { readRetries: 0 }).listPrefixes(ACC));
      checkCalls(h.sim.state.calls, report);
    } finally {
      await h.close();
    }
  });

  it('the checker is not vacuous: it flags a wrong field, a wrong request and an unknown status', () => {
    const call = (over: Partial<SimCall>): SimCall => ({
      method: 'GET',
      path: `/client/v4/accounts/${ACC}/addressing/prefixes/${NOPE}`,
      query: '',
      contentType: '',
      body: undefined,
      status: 200,
      response: { success: true, errors: [], messages: [], result: { id: NOPE, cidr: '192.0.2.0/24' } },
      at: 0,
      ...over,
    });
    expect(checkCalls([call({})]).problems).toEqual([]);
    expect(checkCalls([call({ response: { success: true, errors: [], messages: [], result: { id: NOPE, asn: 'AS13335' } } })]).problems).toHaveLength(1);
    expect(checkCalls([call({ response: { success: true, errors: [], messages: [], result: { id: NOPE, created_at: 'yesterday' } } })]).problems).toHaveLength(1);
    expect(checkCalls([call({ response: { errors: [], messages: [], result: {} } })]).problems).toHaveLength(1);
    expect(checkCalls([call({ status: 404, response: { success: false, errors: [], messages: [], result: null } })]).problems).toEqual([]);
    expect(checkCalls([call({ status: 404, response: { success: false, errors: [{ code: 5, message: 'x' }], messages: [], result: null } })]).problems).toHaveLength(1);
    expect(
      checkCalls([call({ method: 'PATCH', contentType: 'application/json', body: { description: 7 }, response: { success: true, errors: [], messages: [], result: {} } })])
        .problems,
    ).toHaveLength(1);
    expect(checkCalls([call({ status: 302 })]).problems).toHaveLength(1);
    // Why failures are checked against the failure envelope alone: the extract's own 4XX schema rejects result: null.
    const fourXX = pointerOf('/accounts/{account_id}/addressing/prefixes/{prefix_id}', 'get', '/responses/4XX/content/application~1json/schema');
    expect(validAgainst(fourXX, { success: false, errors: [{ code: 1003, message: 'Prefix not found' }], messages: [], result: null })).toBe(false);
  });

  afterAll(() => {
    const ids = OPERATIONS.map((o) => o.operationId);
    const both = ids.filter((id) => report.requestsValidated.has(id) && report.responsesValidated.has(id));
    const withError = ids.filter((id) => [...(report.statusesSeen.get(id) ?? [])].some((s) => s >= 400));
    console.log(
      `OpenAPI conformance: ${OPERATIONS.length} operations in scope (${OPERATIONS.filter((o) => o.added).length} added from the reference), ` +
        `${both.length} with request and response validated, ${withError.length} also with a refusal validated; ` +
        `${report.checked} calls checked, ${report.skipped} skipped, ${report.problems.length} problems, ` +
        `${report.knownDeviations.length} known deviation(s) of real Cloudflare from the extract (429 code 971 < minimum 1000)`,
    );
  });

  it('every operation was exercised and every request and response validated', () => {
    expect(report.problems).toEqual([]);
    const missing = OPERATIONS.filter((o) => !report.requestsValidated.has(o.operationId) || !report.responsesValidated.has(o.operationId));
    expect(missing.map((o) => `${o.method} ${o.template}`)).toEqual([]);
    const noRefusal = OPERATIONS.filter((o) => ![...(report.statusesSeen.get(o.operationId) ?? [])].some((s) => s >= 400));
    expect(noRefusal.map((o) => `${o.method} ${o.template}`)).toEqual([]);
    expect(OPERATIONS.length).toBe(35);
    expect(report.knownDeviations).toHaveLength(1);
  });
});
