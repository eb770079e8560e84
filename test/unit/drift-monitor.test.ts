import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { currentRequestContext } from '../../src/cloudflare/request-class.js';
import type { BgpPrefix, Delegation, Prefix, ServiceBinding } from '../../src/domain/addressing.js';
import type { Operation } from '../../src/domain/operation.js';
import { BotError, ErrorCode } from '../../src/errors.js';
import { createLogger } from '../../src/logger.js';
import { BotMetrics } from '../../src/metrics.js';
import { DriftMonitor } from '../../src/monitors/drift.js';
import type { AlertSink, Finding } from '../../src/monitors/findings.js';
import { CoalescedReader } from '../../src/operations/coalesce.js';
import { makeOperation } from './helpers.js';
import { deleteKeys, newRedis, uniquePrefix } from './redis.js';

const ACCOUNT = '0123456789abcdef0123456789abcdef';
const PREFIX_ID = 'fedcba9876543210fedcba9876543210';
const CIDR = '203.0.113.0/24';

/** A Cloudflare account with one prefix, whose state the test changes "outside the bot"; `failing` makes reads 5xx. */
function fakeCloudflare() {
  const cf = {
    advertised: true as boolean,
    bindings: [{ cidr: CIDR, serviceName: 'Magic Transit' }] as { cidr: string; serviceName: string }[],
    delegations: [] as { cidr: string; account: string }[],
    failing: false,
    classes: [] as string[],
    check() {
      cf.classes.push(currentRequestContext().class);
      if (cf.failing) throw Object.assign(new Error('Cloudflare answered HTTP 503'), { status: 503 });
    },
    async listPrefixes(): Promise<Prefix[]> {
      cf.check();
      return [{ id: PREFIX_ID, accountId: ACCOUNT, cidr: CIDR } as Prefix];
    },
    async listBgpPrefixes(): Promise<BgpPrefix[]> {
      cf.check();
      return [{ id: 'b1', cidr: CIDR, asnPrependCount: 0, onDemand: { advertised: cf.advertised } } as BgpPrefix];
    },
    async listServiceBindings(): Promise<ServiceBinding[]> {
      cf.check();
      return cf.bindings.map((b, i) => ({ id: `s${i}`, cidr: b.cidr, serviceId: 'x', serviceName: b.serviceName, provisioningState: 'active' }));
    },
    async listDelegations(): Promise<Delegation[]> {
      cf.check();
      return cf.delegations.map((d, i) => ({ id: `d${i}`, cidr: d.cidr, delegatedAccountId: d.account, parentPrefixId: PREFIX_ID, createdAt: null, modifiedAt: null }));
    },
  };
  return cf;
}

function recordingSink() {
  const sink = { raised: [] as Finding[], resolved: [] as { key: string; why: string }[] };
  const s: AlertSink = {
    raise: async (f) => {
      sink.raised.push(f);
      return { alertId: f.key, created: true };
    },
    resolve: async (key, why) => {
      sink.resolved.push({ key, why });
      return { alertId: key };
    },
  };
  return Object.assign(sink, { sink: s });
}

let redis: Redis;
let prefix: string;
let cf: ReturnType<typeof fakeCloudflare>;
let rec: ReturnType<typeof recordingSink>;
let ops: { active: Operation[]; recent: Operation[] };
let monitor: DriftMonitor;
let deps: ConstructorParameters<typeof DriftMonitor>[0];
let clock: number;

beforeAll(() => {
  redis = newRedis();
});
afterAll(async () => {
  await redis.quit();
});
beforeEach(() => {
  prefix = `{${uniquePrefix()}}:`;
  cf = fakeCloudflare();
  rec = recordingSink();
  ops = { active: [], recent: [] };
  clock = 1_000_000;
  deps = {
    redis,
    keyPrefix: prefix,
    kinds: { cloudflare: cf as never, reader: new CoalescedReader(redis, prefix), policy: { cloudflare: { accounts: [{ name: 'main', id: ACCOUNT }] } } as never },
    store: { active: async () => ops.active, recent: async () => ops.recent },
    sink: rec.sink,
    logger: createLogger({ level: 'silent' }),
    shareMs: 1,
    finishedMarginMs: 0,
    now: () => clock,
  };
  monitor = new DriftMonitor(deps);
});
afterEach(async () => {
  await deleteKeys(redis, `${prefix}*`);
});

/** One tick, a little later each time (the shared reads of 1 ms are gone by then). */
async function tick() {
  clock += 60_000;
  await new Promise((r) => setTimeout(r, 5));
  return (await monitor.tick())!;
}

describe('DriftMonitor', () => {
  it('takes the first tick as the baseline, reads in the background class, and reports an outside change once', async () => {
    expect((await tick()).baselined).toEqual([CIDR]);
    expect(new Set(cf.classes)).toEqual(new Set(['background']));
    cf.advertised = false;
    const r = await tick();
    expect(r.raised).toEqual([`drift:${PREFIX_ID}:advertised:${CIDR}`]);
    expect(rec.raised[0]).toMatchObject({ type: 'drift', source: 'drift', prefix: CIDR, putBack: { kind: 'advertise', cidr: CIDR }, actions: ['put_back', 'acknowledge'] });
    expect((await tick()).raised).toEqual([]); // the same drift: no second raise
    cf.advertised = true;
    expect((await tick()).resolved).toEqual([`drift:${PREFIX_ID}:advertised:${CIDR}`]);
  });

  it('a read failure skips the prefix for this tick: no drift raised, none resolved', async () => {
    await tick();
    cf.bindings = [];
    await tick();
    expect(rec.raised).toHaveLength(1);
    cf.failing = true;
    const r = await tick();
    // The prefix list is still shared from the last tick; the prefix's own reads fail: that prefix waits for next tick.
    expect(r.skipped).toEqual([{ prefix: CIDR, why: expect.any(String), reason: 'read_failed' }]);
    expect(rec.raised).toHaveLength(1);
    expect(rec.resolved).toHaveLength(0);
  });

  it('a request being carried out hides what it changes; once finished, its result is the new baseline, not drift', async () => {
    await tick();
    const op = makeOperation({ kind: 'withdraw', prefix: CIDR, accountId: ACCOUNT, prefixId: PREFIX_ID, state: 'verifying' });
    ops.active = [op];
    cf.advertised = false; // the bot's own withdraw, under way
    expect((await tick()).raised).toEqual([]);
    const done = { ...op, state: 'done' as const, updatedAt: clock + 1, cloudflare: { at: clock, request: 'PATCH', outcome: 'called' as const, result: {} } };
    ops.active = [];
    ops.recent = [done];
    const r = await tick();
    expect(r.raised).toEqual([]);
    expect(r.baselined).toEqual([CIDR]);
    expect((await tick()).raised).toEqual([]);
  });

  it('an open request awaiting approval explains nothing, and is named on the finding', async () => {
    await tick();
    ops.active = [makeOperation({ kind: 'withdraw', prefix: CIDR, accountId: ACCOUNT, prefixId: PREFIX_ID, state: 'awaiting_approval', requestedBy: 'U0ALICE' })];
    cf.delegations = [{ cidr: '203.0.113.128/25', account: '9a7806061c88ada191ed06f989cc3dac' }];
    await tick();
    expect(rec.raised).toHaveLength(1);
    const requests = rec.raised[0]!.facts.find((f) => f.label === 'Open requests on this prefix')!.value;
    expect(requests).toMatch(/^withdraw 203\.0\.113\.0\/24 requested by U0ALICE \(awaiting approval, request op\d+\)$/);
    expect(rec.raised[0]!.putBack).toEqual({ kind: 'undelegate', cidr: CIDR, args: { target: '203.0.113.128/25' } });
  });

  it("the engine's hook re-baselines what a finished request touched; a drift elsewhere stays", async () => {
    await tick();
    cf.advertised = false; // the bot's withdraw
    cf.bindings.push({ cidr: '203.0.113.8/29', serviceName: 'CDN' }); // someone else's binding
    await monitor.recordFinished(makeOperation({ kind: 'withdraw', prefix: CIDR, accountId: ACCOUNT, prefixId: PREFIX_ID, state: 'done' }));
    await tick();
    expect(rec.raised.map((f) => f.key)).toEqual([`drift:${PREFIX_ID}:binding:203.0.113.8/29:CDN`]);
  });

  it('two ticks at once (a slow tick, another replica): the second does nothing', async () => {
    await tick();
    const [a, b] = await Promise.all([monitor.tick(), monitor.tick()]);
    expect([a, b].filter((r) => r === null)).toHaveLength(1);
  });

  it('moves the drift metrics: ticks by outcome and their duration, prefixes compared and skipped by reason, drifts raised and resolved, read failures', async () => {
    const metrics = new BotMetrics({ role: 'worker', defaultMetrics: false });
    const m = new DriftMonitor({ ...deps, metrics });
    const value = async (name: string, labels: Record<string, string> = {}) => {
      const hits = (await metrics.registry.getSingleMetric(name)!.get()).values.filter((v) => Object.entries(labels).every(([k, x]) => String(v.labels[k]) === x));
      return hits.reduce((sum, v) => sum + v.value, 0);
    };
    const next = async () => {
      clock += 60_000;
      await new Promise((r) => setTimeout(r, 5));
      return m.tick();
    };
    await next(); // the first baseline: a tick, not a comparison
    expect(await value('byoip_drift_ticks_total', { outcome: 'completed' })).toBe(1);
    expect(await value('byoip_drift_prefixes_compared_total')).toBe(0);
    cf.advertised = false;
    expect((await next())!.compared).toBe(1);
    expect(await value('byoip_drift_prefixes_compared_total')).toBe(1);
    expect(await value('byoip_drift_raised_total', { what: 'advertised' })).toBe(1);
    cf.advertised = true;
    await next();
    expect(await value('byoip_drift_resolved_total', { what: 'advertised' })).toBe(1);
    cf.failing = true;
    await next();
    expect(await value('byoip_drift_prefixes_skipped_total', { reason: 'read_failed' })).toBe(1);
    expect(await value('byoip_drift_cloudflare_read_failures_total', { code: 'unknown' })).toBeGreaterThanOrEqual(1);
    expect(await value('byoip_drift_prefixes_compared_total')).toBe(2);
    cf.failing = false;
    clock += 60_000;
    await new Promise((r) => setTimeout(r, 5));
    // Both at once: the second finds the first's lock (its SET NX is sent right after the first's).
    const [a, b] = await Promise.all([m.tick(), m.tick()]);
    expect([a, b].filter((r) => r === null)).toHaveLength(1);
    expect(await value('byoip_drift_ticks_total', { outcome: 'overlapped' })).toBe(1);
    expect(await value('byoip_drift_ticks_total', { outcome: 'completed' })).toBe(5);
    expect(await value('byoip_drift_tick_seconds', { le: '+Inf' })).toBe(6);
    const text = await metrics.render();
    for (const name of ['byoip_drift_ticks_total', 'byoip_drift_tick_seconds', 'byoip_drift_prefixes_compared_total', 'byoip_drift_prefixes_skipped_total', 'byoip_drift_raised_total', 'byoip_drift_resolved_total', 'byoip_drift_cloudflare_read_failures_total']) {
      expect(text).toContain(`# TYPE ${name} `);
    }
  });
});

describe('DriftMonitor at scale: a tick the budget cuts short leaves the rest for the next', () => {
  it('ten prefixes, three comparisons per tick: every prefix is compared in turn, and a drift on the last one is raised', async () => {
    const n = 10;
    const id = (i: number) => `p${String(i).padStart(2, '0')}`;
    const cidr = (i: number) => `10.0.${i}.0/24`;
    const advertised = new Map(Array.from({ length: n }, (_, i) => [id(i), true]));
    let allowance = 0;
    const compared: string[] = [];
    /** Three prefixes' reads (three calls each) per tick, then the budget's background share is used up. */
    const take = (pid: string) => {
      if (allowance <= 0) throw new BotError(ErrorCode.CloudflareRateLimited, 'The Cloudflare request budget is used up; try again in a minute.', true);
      allowance--;
      compared.push(pid);
    };
    const fleet = {
      listPrefixes: async () => Array.from({ length: n }, (_, i) => ({ id: id(i), accountId: ACCOUNT, cidr: cidr(i) }) as Prefix),
      listBgpPrefixes: async (_a: string, pid: string) => {
        take(pid);
        return [{ id: `b${pid}`, cidr: cidr(Number(pid.slice(1))), asnPrependCount: 0, onDemand: { advertised: advertised.get(pid)! } } as BgpPrefix];
      },
      listServiceBindings: async () => [] as ServiceBinding[],
      listDelegations: async () => [] as Delegation[],
    };
    const m = new DriftMonitor({
      redis,
      keyPrefix: prefix,
      kinds: { cloudflare: fleet as never, reader: new CoalescedReader(redis, prefix), policy: { cloudflare: { accounts: [{ name: 'main', id: ACCOUNT }] } } as never },
      store: { active: async () => [], recent: async () => [] },
      sink: rec.sink,
      logger: createLogger({ level: 'silent' }),
      shareMs: 1,
      finishedMarginMs: 0,
      now: () => clock,
    });
    const run = async () => {
      clock += 60_000;
      allowance = 3;
      await new Promise((r) => setTimeout(r, 5));
      return (await m.tick())!;
    };
    // Four ticks baseline all ten (3 + 3 + 3 + 1), each starting where the last stopped.
    const reports = [await run(), await run(), await run(), await run()];
    expect(reports.map((r) => r.baselined.length)).toEqual([3, 3, 3, 1]);
    expect(reports[0]!.notReached).toBe(6);
    expect(new Set(compared)).toEqual(new Set(Array.from({ length: n }, (_, i) => id(i))));
    // The tick that baselined the last one went on from the start of the list with what was left.
    expect(compared.slice(9, 12)).toEqual([id(9), id(0), id(1)]);
    // A withdraw outside the bot on the last prefix: raised within the ticks it takes to come round to it.
    advertised.set(id(9), false);
    const raised: string[] = [];
    for (let i = 0; i < 4 && !raised.length; i++) raised.push(...(await run()).raised);
    expect(raised).toEqual([`drift:${id(9)}:advertised:${cidr(9)}`]);
  });
});
