import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import type { FaultSpec } from '../../world/simulator/cloudflare/server.js';
import { DEFAULT_SCENARIO, SANDBOX_ACCOUNT_ID as ACC, SANDBOX_CLOUDFLARE_TOKEN } from '../../world/simulator/cloudflare/scenarios.js';
import { caught, harness, type Harness } from './helpers.js';

const W = DEFAULT_SCENARIO.prefixes.withdrawn;
const BGP_PATH = '/bgp/prefixes/[0-9a-f]{32}$';
let h: Harness;

afterEach(async () => {
  await h?.close();
});

const read = () => h.client.getBgpPrefix(ACC, W.id, W.bgpPrefixId);
const advertise = () => h.client.setBgpPrefixAdvertised(ACC, W.id, W.bgpPrefixId, true);
const patches = () => h.sim.state.calls.filter((c) => c.method === 'PATCH');
const gets = () => h.sim.state.calls.filter((c) => c.method === 'GET');
const applied = () => h.sim.state.bgpPrefixes.get(W.bgpPrefixId)!.advertised;

async function setup(fault: FaultSpec, timeoutMs = 500): Promise<void> {
  h = await harness('default', { client: { timeoutMs } });
  h.sim.addFault(fault);
}

describe('injected faults: the client ends in the right typed error or a successful retry, and never sends a mutation twice', () => {
  it('latency under the timeout: read and mutation succeed', async () => {
    await setup({ path: BGP_PATH, kind: 'latency', ms: 200 });
    expect((await read()).cidr).toBe(W.cidr);
    expect((await advertise()).onDemand.advertised).toBe(true);
    expect(patches()).toHaveLength(1);
  });

  it('timeout on a read: retried and succeeds', async () => {
    await setup({ path: BGP_PATH, method: 'GET', kind: 'timeout', ms: 1500, times: 1 });
    expect((await read()).cidr).toBe(W.cidr);
    expect(gets().length).toBeGreaterThanOrEqual(1);
  });

  it('timeout on a mutation before it is applied: one request, CloudflareUnavailable with outcome unknown, not applied', async () => {
    await setup({ path: BGP_PATH, method: 'PATCH', kind: 'timeout', ms: 1500 });
    const err = await caught(advertise());
    expect(err).toMatchObject({ code: ErrorCode.CloudflareUnavailable, status: null, retryable: true, outcomeUnknown: true });
    expect(err.userMessage).toMatch(/did not answer in time.*may or may not have been made/);
    await new Promise((r) => setTimeout(r, 1700));
    expect(patches()).toHaveLength(1);
    expect(applied()).toBe(false);
  });

  it('timeout on a mutation after it is applied: one request; re-reading shows it took effect', async () => {
    await setup({ path: BGP_PATH, method: 'PATCH', kind: 'timeout', ms: 1500, applied: 'after' });
    const err = await caught(advertise());
    expect(err.outcomeUnknown).toBe(true);
    expect(applied()).toBe(true);
    expect((await read()).onDemand.advertised).toBe(true);
    await new Promise((r) => setTimeout(r, 1700));
    expect(patches()).toHaveLength(1);
  });

  for (const status of [500, 502, 503, 504]) {
    it(`${status} on reads: retried with backoff until it passes`, async () => {
      await setup({ path: BGP_PATH, method: 'GET', kind: 'error', status, times: 2 });
      expect((await read()).cidr).toBe(W.cidr);
      expect(gets()).toHaveLength(3);
    });
  }

  it('5xx on every read: CloudflareUnavailable after the retries (4 attempts)', async () => {
    await setup({ path: BGP_PATH, method: 'GET', kind: 'error', status: 503 });
    const err = await caught(read());
    expect(err).toMatchObject({ code: ErrorCode.CloudflareUnavailable, status: 503, retryable: true, outcomeUnknown: false });
    expect(err.userMessage).toMatch(/internal error \(HTTP 503\).*Nothing was changed/);
    expect(gets()).toHaveLength(4);
  });

  it('5xx on a mutation before it is applied: sent once, not applied, outcome unknown', async () => {
    await setup({ path: BGP_PATH, method: 'PATCH', kind: 'error', status: 502 });
    const err = await caught(advertise());
    expect(err).toMatchObject({ code: ErrorCode.CloudflareUnavailable, status: 502, outcomeUnknown: true });
    expect(patches()).toHaveLength(1);
    expect(applied()).toBe(false);
  });

  it('5xx on a mutation after it is applied: sent once, applied', async () => {
    await setup({ path: BGP_PATH, method: 'PATCH', kind: 'error', status: 500, applied: 'after' });
    await caught(advertise());
    expect(patches()).toHaveLength(1);
    expect(applied()).toBe(true);
  });

  for (const corrupt of ['json', 'envelope', 'field'] as const) {
    it(`malformed body (${corrupt}) on a read: retried once and succeeds`, async () => {
      await setup({ path: BGP_PATH, method: 'GET', kind: 'malformed', corrupt, times: 1 });
      expect((await read()).cidr).toBe(W.cidr);
      expect(gets()).toHaveLength(2);
    });

    it(`malformed body (${corrupt}) on a mutation: CloudflareBadResponse naming the field, sent once`, async () => {
      await setup({ path: BGP_PATH, method: 'PATCH', kind: 'malformed', corrupt });
      const err = await caught(advertise());
      expect(err.code).toBe(ErrorCode.CloudflareBadResponse);
      expect(err.field).toBe({ json: 'body', envelope: 'success', field: 'result.cidr' }[corrupt]);
      expect(err.outcomeUnknown).toBe(true);
      expect(err.userMessage).toMatch(/did not make sense .*check the current state/);
      expect(patches()).toHaveLength(1);
    });
  }

  it('a 429 storm on reads: waits Retry-After each time and succeeds', async () => {
    await setup({ path: BGP_PATH, method: 'GET', kind: 'rate_limit', retryAfterS: 1, times: 2 });
    const started = Date.now();
    expect((await read()).cidr).toBe(W.cidr);
    expect(Date.now() - started).toBeGreaterThanOrEqual(2000);
    expect(gets().map((c) => c.status)).toEqual([429, 429, 200]);
  }, 10_000);

  it('a 429 storm longer than the client will wait: CloudflareRateLimited with the wait', async () => {
    h = await harness('default', { client: { maxRetryAfterMs: 5_000 } });
    h.sim.addFault({ path: BGP_PATH, method: 'GET', kind: 'rate_limit', retryAfterS: 300 });
    const err = await caught(read());
    expect(err).toMatchObject({ code: ErrorCode.CloudflareRateLimited, status: 429, retryAfterMs: 300_000, retryable: true });
    expect(err.cloudflareCodes).toEqual([971]);
    expect(gets()).toHaveLength(1);
  });

  it('a 429 on a mutation: not applied, not resent, CloudflareRateLimited', async () => {
    await setup({ path: BGP_PATH, method: 'PATCH', kind: 'rate_limit', retryAfterS: 1 });
    const err = await caught(advertise());
    expect(err.code).toBe(ErrorCode.CloudflareRateLimited);
    expect(patches()).toHaveLength(1);
    expect(applied()).toBe(false);
  });

  it('Cloudflare unreachable: CloudflareUnavailable with no status', async () => {
    h = await harness('default');
    const client = h.clientFor(SANDBOX_CLOUDFLARE_TOKEN, { baseUrl: 'http://127.0.0.1:9/client/v4', readRetries: 1 });
    const err = await caught(client.listPrefixes(ACC));
    expect(err).toMatchObject({ code: ErrorCode.CloudflareUnavailable, status: null, retryable: true });
    expect(err.userMessage).toMatch(/could not reach Cloudflare's API/);
  });
});

describe("the simulator's own rate limit (1200 / 5 min, scaled down)", () => {
  it('200 requests per second per client IP', async () => {
    h = await harness('default');
    const statuses = await Promise.all(
      Array.from({ length: 260 }, () =>
        fetch(`${h.sim.url}/accounts/${ACC}/addressing/services`, { headers: { authorization: `Bearer ${SANDBOX_CLOUDFLARE_TOKEN}` } }).then((r) => r.status),
      ),
    );
    const limited = statuses.filter((s) => s === 429).length;
    expect(limited).toBeGreaterThanOrEqual(60 - 5);
    expect(statuses.filter((s) => s === 200).length).toBeLessThanOrEqual(200 + 5);
  });

  it('counts per token, answers 429 with code 971 and Retry-After, locks the token out, and sends Ratelimit headers', async () => {
    h = await harness('default', { sim: { rateLimit: { limit: 5, windowMs: 60_000, lockoutMs: 1_500 } } });
    const get = () =>
      fetch(`${h.sim.url}/accounts/${ACC}/addressing/prefixes`, { headers: { authorization: `Bearer ${SANDBOX_CLOUDFLARE_TOKEN}` } });
    const first = await get();
    expect(first.headers.get('ratelimit')).toMatch(/^"default";r=4;t=\d+$/);
    expect(first.headers.get('ratelimit-policy')).toBe('"burst";q=5;w=60');
    for (let i = 0; i < 4; i++) expect((await get()).status).toBe(200);
    const limited = await get();
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('2');
    expect(await limited.json()).toEqual({
      success: false,
      errors: [{ code: 971, message: 'Please wait and consider throttling your request speed' }],
      messages: [],
      result: null,
    });
    // Locked out: even after the window would allow it, until the lock-out ends.
    h.sim.setRateLimit({ limit: 100 });
    expect((await get()).status).toBe(429);
    // Other tokens are counted apart.
    expect((await fetch(`${h.sim.url}/accounts/${ACC}/addressing/prefixes`, { headers: { authorization: 'Bearer sandbox-cloudflare-token-readonly' } })).status).toBe(200);
    // The client waits out the lock-out and succeeds.
    const started = Date.now();
    expect(await h.client.listPrefixes(ACC)).toHaveLength(2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
  }, 10_000);
});
