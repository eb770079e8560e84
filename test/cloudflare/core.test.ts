import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import {
  CUSTOMER_ASN,
  DEFAULT_SCENARIO,
  OTHER_ACCOUNT_ID,
  READONLY_CLOUDFLARE_TOKEN,
  SANDBOX_ACCOUNT_ID,
  SANDBOX_CLOUDFLARE_TOKEN,
} from '../../world/simulator/cloudflare/scenarios.js';
import { CLOUDFLARE_ASN } from '../../world/simulator/world.js';
import { caught, harness, MINUTE, type Harness } from './helpers.js';

const A = DEFAULT_SCENARIO.prefixes.advertised;
const W = DEFAULT_SCENARIO.prefixes.withdrawn;

describe('priority-1 contract: prefixes and BGP prefixes against the simulator', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await harness('default');
  });
  afterEach(async () => {
    await h.close();
  });

  it('default scenario: constants, world routes, ROAs and IRR objects', () => {
    expect(SANDBOX_ACCOUNT_ID).toMatch(/^[0-9a-f]{32}$/);
    expect(SANDBOX_CLOUDFLARE_TOKEN).toBe('sandbox-cloudflare-token');
    expect(h.world.visibleRoutes(A.cidr).length).toBeGreaterThan(0);
    expect(h.world.visibleRoutes(A.cidr).every((r) => r.origin === CLOUDFLARE_ASN)).toBe(true);
    expect(h.world.visibleRoutes(DEFAULT_SCENARIO.customerAggregate).every((r) => r.origin === CUSTOMER_ASN)).toBe(true);
    expect(h.world.visibleRoutes(W.cidr)).toHaveLength(0);
    for (const cidr of [A.cidr, W.cidr]) {
      expect(h.world.roas).toContainEqual({ prefix: cidr, maxLength: 24, asn: CLOUDFLARE_ASN });
      expect(h.world.routeObjects.some((r) => r.prefix === cidr && r.origin === CLOUDFLARE_ASN)).toBe(true);
    }
  });

  it('lists and gets prefixes as domain objects', async () => {
    const prefixes = await h.client.listPrefixes(SANDBOX_ACCOUNT_ID);
    expect(prefixes.map((p) => p.cidr).sort()).toEqual([W.cidr, A.cidr].sort());
    const p = await h.client.getPrefix(SANDBOX_ACCOUNT_ID, A.id);
    expect(p).toMatchObject({
      id: A.id,
      accountId: SANDBOX_ACCOUNT_ID,
      cidr: A.cidr,
      asn: CLOUDFLARE_ASN,
      approved: 'V',
      irrValidationState: 'valid',
      rpkiValidationState: 'valid',
      ownershipValidationState: 'valid',
      onDemandEnabled: true,
      onDemandLocked: false,
      advertised: true,
    });
    expect(p.createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z$/);
  });

  it('lists and gets BGP prefixes', async () => {
    const list = await h.client.listBgpPrefixes(SANDBOX_ACCOUNT_ID, W.id);
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ id: W.bgpPrefixId, cidr: W.cidr, onDemand: { advertised: false, enabled: true, locked: false } });
    const b = await h.client.getBgpPrefix(SANDBOX_ACCOUNT_ID, A.id, A.bgpPrefixId);
    expect(b.onDemand.advertised).toBe(true);
  });

  it('advertise records advertised=true at once and the world sees Cloudflare 2-7 simulated minutes later', async () => {
    const b = await h.client.setBgpPrefixAdvertised(SANDBOX_ACCOUNT_ID, W.id, W.bgpPrefixId, true);
    expect(b.onDemand.advertised).toBe(true);
    expect(h.sim.state.bgpPrefixes.get(W.bgpPrefixId)?.advertised).toBe(true);
    const [ann] = h.world.announcementsOf(W.cidr).filter((a) => a.origin === CLOUDFLARE_ASN);
    expect(ann).toBeDefined();
    const delay = ann!.start - h.world.clock.now();
    expect(delay).toBeGreaterThan(1.9 * MINUTE);
    expect(delay).toBeLessThanOrEqual(7 * MINUTE);
    expect(h.world.visibleRoutes(W.cidr)).toHaveLength(0);
    h.world.clock.advance(9 * MINUTE);
    expect(h.world.visibleRoutes(W.cidr).length).toBeGreaterThan(0);
    const patches = h.sim.state.calls.filter((c) => c.method === 'PATCH');
    expect(patches).toHaveLength(1);
    expect(patches[0]!.body).toEqual({ on_demand: { advertised: true } });
  });

  it('withdraw takes about 15 simulated minutes to leave the Internet', async () => {
    await h.client.setBgpPrefixAdvertised(SANDBOX_ACCOUNT_ID, A.id, A.bgpPrefixId, false);
    expect(h.sim.state.bgpPrefixes.get(A.bgpPrefixId)?.advertised).toBe(false);
    h.world.clock.advance(13 * MINUTE);
    expect(h.world.visibleRoutes(A.cidr).length).toBeGreaterThan(0);
    h.world.clock.advance(6 * MINUTE);
    expect(h.world.visibleRoutes(A.cidr)).toHaveLength(0);
  });

  it('unknown prefix is CloudflareNotFound with a sentence', async () => {
    const err = await caught(h.client.getPrefix(SANDBOX_ACCOUNT_ID, 'ffffffffffffffffffffffffffffffff'));
    expect(err.code).toBe(ErrorCode.CloudflareNotFound);
    expect(err.status).toBe(404);
    expect(err.retryable).toBe(false);
    expect(err.userMessage).toMatch(/no prefix ffff/);
  });

  it('a token that cannot see the account gets CloudflareAuth (403, 10000)', async () => {
    const err = await caught(h.client.listPrefixes(OTHER_ACCOUNT_ID));
    expect(err.code).toBe(ErrorCode.CloudflareAuth);
    expect(err.status).toBe(403);
    expect(err.cloudflareCodes).toEqual([10000]);
  });

  it('a read-only token cannot advertise and the sentence names the missing permission', async () => {
    const ro = h.clientFor(READONLY_CLOUDFLARE_TOKEN);
    const err = await caught(ro.setBgpPrefixAdvertised(SANDBOX_ACCOUNT_ID, W.id, W.bgpPrefixId, true));
    expect(err.code).toBe(ErrorCode.CloudflareAuth);
    expect(err.userMessage).toContain('IP Prefixes: BGP On Demand Write');
    expect(h.sim.state.bgpPrefixes.get(W.bgpPrefixId)?.advertised).toBe(false);
  });

  it('an unknown token is CloudflareAuth and the token never appears in the message', async () => {
    const bad = h.clientFor('not-a-real-token');
    const err = await caught(bad.listPrefixes(SANDBOX_ACCOUNT_ID));
    expect(err.code).toBe(ErrorCode.CloudflareAuth);
    expect(err.cloudflareCodes).toEqual([9109]);
    expect(err.userMessage).not.toContain('not-a-real-token');
  });

  it('a mutation answered 500 is not retried and says the outcome is unknown', async () => {
    h.sim.addFault({ path: '/bgp/prefixes/', method: 'PATCH', kind: 'error', status: 500 });
    const err = await caught(h.client.setBgpPrefixAdvertised(SANDBOX_ACCOUNT_ID, W.id, W.bgpPrefixId, true));
    expect(err.code).toBe(ErrorCode.CloudflareUnavailable);
    expect(err.outcomeUnknown).toBe(true);
    expect(h.sim.state.calls.filter((c) => c.method === 'PATCH')).toHaveLength(1);
  });

  it('a read answered 503 twice is retried and succeeds', async () => {
    h.sim.addFault({ path: '/prefixes$', method: 'GET', kind: 'error', status: 503, times: 2 });
    const list = await h.client.listPrefixes(SANDBOX_ACCOUNT_ID);
    expect(list).toHaveLength(2);
    expect(h.sim.state.calls.filter((c) => c.method === 'GET')).toHaveLength(3);
  });

  it('a body that does not parse is CloudflareBadResponse naming the field', async () => {
    h.sim.addFault({ path: '/bgp/prefixes/', method: 'GET', kind: 'malformed', corrupt: 'field' });
    const err = await caught(h.client.getBgpPrefix(SANDBOX_ACCOUNT_ID, A.id, A.bgpPrefixId));
    expect(err.code).toBe(ErrorCode.CloudflareBadResponse);
    expect(err.field).toBe('result.cidr');
    expect(err.userMessage).toContain('result.cidr');
  });

  it('429 gives CloudflareRateLimited with the wait for a mutation', async () => {
    h.sim.addFault({ path: '/bgp/prefixes/', method: 'PATCH', kind: 'rate_limit', retryAfterS: 7 });
    const err = await caught(h.client.setBgpPrefixAdvertised(SANDBOX_ACCOUNT_ID, W.id, W.bgpPrefixId, true));
    expect(err.code).toBe(ErrorCode.CloudflareRateLimited);
    expect(err.retryAfterMs).toBe(7000);
    expect(err.userMessage).toMatch(/about 7 s/);
  });
});
