/**
 * A watch never judges its change by a shared read made before the change was accepted (CoalescedReader's
 * freshness floor), with a real reader on a real Redis: each case fails when the watch takes the cached answer.
 */
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { BgpPrefix, ServiceBinding } from '../../src/domain/addressing.js';
import { newWatch } from '../../src/domain/operation.js';
import { DEFAULT_WITHDRAW_POLICY, type EnginePolicy } from '../../src/domain/policy.js';
import { advertise } from '../../src/kinds/advertise.js';
import { bind } from '../../src/kinds/bind.js';
import type { AddressingApi, KindDeps } from '../../src/kinds/types.js';
import { CoalescedReader } from '../../src/operations/coalesce.js';
import type { VisibilitySample } from '../../src/routing/looking-glass.js';
import { makeOperation } from './helpers.js';
import { deleteKeys, newRedis, uniquePrefix } from './redis.js';

const CIDR = '203.0.113.0/24';
const ACCOUNT = '0123456789abcdef0123456789abcdef';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let redis: Redis;
let keyPrefix: string;
beforeAll(() => {
  redis = newRedis();
});
afterAll(async () => {
  await deleteKeys(redis, `${keyPrefix}*`);
  await redis.quit();
});
beforeEach(() => {
  keyPrefix = `{${uniquePrefix()}}:`;
});

/** The world now: Cloudflare's route seen by `seen` of 60 peers; the service bindings Cloudflare lists. */
function deps(world: { seen: number; bindings: ServiceBinding[]; samples: number; bindingReads: number }): KindDeps {
  const policy = {
    cloudflare: { accounts: [{ name: 'a', id: ACCOUNT }] },
    prefixes: [{ cidr: CIDR }],
    withdraw: DEFAULT_WITHDRAW_POLICY,
  } as unknown as EnginePolicy;
  return {
    cloudflare: {
      getBgpPrefix: async () => ({ id: 'b1', cidr: CIDR, onDemand: { advertised: true, advertisedModifiedAt: null } }) as unknown as BgpPrefix,
      listServiceBindings: async () => {
        world.bindingReads++;
        return world.bindings;
      },
    } as unknown as AddressingApi,
    policy,
    reader: new CoalescedReader(redis as never, keyPrefix),
    routing: {
      sample: async (prefix): Promise<VisibilitySample> => {
        world.samples++;
        return { prefix, at: new Date(), peersSeeing: world.seen, collectors: 5, byOrigin: world.seen ? { 13335: world.seen } : {} };
      },
      usualPeerCount: async () => 60,
    },
    now: Date.now,
    // A production-like poll: shared answers last 24 s.
    watch: { pollIntervalMs: 30_000, escalateAfterMs: { advertise: 20 * 60_000, withdraw: 30 * 60_000 } },
    bindingWatch: { pollIntervalMs: 30_000, timeoutMs: 8 * 3_600_000 },
  } as KindDeps;
}

describe('a watch reads again rather than judge its change by a read from before it', () => {
  it('advertise right after a withdraw: the looking-glass sample cached before the withdraw (57 peers) does not make it Done', async () => {
    const world = { seen: 57, bindings: [], samples: 0, bindingReads: 0 };
    const d = deps(world);
    // Another request's read, shared for 24 s: Cloudflare's route on 57 peers (before the break-glass withdraw).
    await d.reader.read(`lg:${CIDR}`, 24_000, () => d.routing.sample(CIDR));
    world.seen = 0; // withdrawn since; the advertise has just been accepted, the Internet has not heard it yet
    await sleep(5);
    const op = makeOperation({ kind: 'advertise', prefix: CIDR, accountId: ACCOUNT, prefixId: 'p1', bgpPrefixId: 'b1', state: 'verifying', watch: newWatch(Date.now(), { phase: 'routing' }) });
    const step = await advertise.verify!(d, op);
    expect(step.verdict).toBeUndefined(); // still propagating, not "Done" on the old sample
    expect(world.samples).toBe(2);
    // Once the world really shows it, the same watch says Done.
    world.seen = 57;
    await d.reader.invalidate(`lg:${CIDR}`);
    expect((await advertise.verify!(d, op)).verdict?.verdict).toBe('done');
  });

  it('bind: a bindings list cached before the POST (without the binding) does not make it "failed: missing"', async () => {
    const world = { seen: 0, bindings: [] as ServiceBinding[], samples: 0, bindingReads: 0 };
    const d = deps(world);
    await d.reader.read(`bindings:p1`, 24_000, () => d.cloudflare.listServiceBindings(ACCOUNT, 'p1'));
    world.bindings = [{ id: 's1', cidr: CIDR, serviceId: 'svc-mt', serviceName: 'Magic Transit', provisioningState: 'active' }];
    await sleep(5);
    const op = makeOperation({
      kind: 'bind',
      prefix: CIDR,
      accountId: ACCOUNT,
      prefixId: 'p1',
      state: 'verifying',
      params: { cidr: CIDR, service: 'Magic Transit', serviceId: 'svc-mt' },
      watch: newWatch(Date.now()),
    });
    const step = await bind.verify!(d, op);
    expect(step.verdict?.verdict).not.toBe('failed');
    expect(world.bindingReads).toBe(2);
  });
});
