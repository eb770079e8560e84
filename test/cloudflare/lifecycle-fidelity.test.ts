/**
 * Contract tests: the simulated Cloudflare (and the routing world around it) behaves as Cloudflare's BYOIP docs say
 * on the points the whole life cycle depends on (issue 9): address maps before advertising, IRR and ownership
 * validation, the auto-generated LOA, slow binding deletion, and IPv6 propagation judged against IPv6 peers.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import { DEFAULT_SCENARIO, SANDBOX_ACCOUNT_ID } from '../../world/simulator/cloudflare/scenarios.js';
import { caught, harness, type Harness } from './helpers.js';

const ACC = SANDBOX_ACCOUNT_ID;

let h: Harness;
afterEach(async () => {
  await h?.close();
});

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

