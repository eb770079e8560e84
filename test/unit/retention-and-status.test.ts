import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { createLogger } from '../../src/logger.js';
import { parsePolicy } from '../../src/config.js';
import type { BgpPrefix, Prefix } from '../../src/domain/addressing.js';
import { transition } from '../../src/domain/operation.js';
import { CoalescedReader } from '../../src/operations/coalesce.js';
import { OperationService } from '../../src/operations/service.js';
import { OperationStore } from '../../src/operations/store.js';
import type { AddressingApi } from '../../src/kinds/types.js';
import { makeOperation } from './helpers.js';
import { deleteKeys, newRedis, uniquePrefix } from './redis.js';

describe('retention', () => {
  let redis: Redis;
  let prefix: string;
  beforeEach(() => {
    redis = newRedis();
    prefix = uniquePrefix();
  });
  afterEach(async () => {
    await deleteKeys(redis, `{${prefix}}:*`);
    await redis.quit();
  });

  it('a finished operation expires after the retention; an open one never does; old audit lines are trimmed', async () => {
    const store = new OperationStore(redis, prefix, Date.now, { operationMs: 60_000, auditMs: 300 });
    const op = makeOperation({ prefix: '10.9.8.0/24', createdAt: Date.now() - 120_000 });
    await store.create(op, [], { type: 'requested', opId: op.id, actor: op.requestedBy });
    expect(await redis.pttl(store.key('op', op.id))).toBe(-1);
    await store.update(op.id, (o) => ({ op: transition(o, 'rejected', Date.now()) }));
    const ttl = await redis.pttl(store.key('op', op.id));
    expect(ttl).toBeGreaterThan(50_000);
    expect(ttl).toBeLessThanOrEqual(60_000);

    await new Promise((r) => setTimeout(r, 400)); // the audit lines so far are now past their 300 ms
    await store.audit({ type: 'fresh', opId: op.id, actor: 'x' });
    await store.prune();
    expect((await store.auditTrail()).map((a) => a.type)).toEqual(['fresh']);
    expect(await redis.zcard(store.recentKey())).toBe(0); // created two minutes ago, retention one minute
  });
});

describe('/byoip status shares Cloudflare reads for a moment (LIST_SHARE_MS)', () => {
  it('two status reports in a row read Cloudflare once', async () => {
    const redis = newRedis();
    const prefix = uniquePrefix();
    const calls: string[] = [];
    const prefixRow = { id: 'p1', cidr: '203.0.113.0/24', approved: 'V' } as Prefix;
    const unused = async (): Promise<never> => {
      throw new Error('not used');
    };
    const cloudflare = {
      listPrefixes: async () => (calls.push('list'), [prefixRow]),
      listBgpPrefixes: async () => (calls.push('bgp'), [{ id: 'b1', cidr: '203.0.113.0/24', onDemand: { advertised: true, locked: false } } as BgpPrefix]),
      getPrefix: async () => prefixRow,
      validatePrefix: async () => prefixRow,
      createPrefix: async () => prefixRow,
      getBgpPrefix: async () => {
        throw new Error('not used');
      },
      setBgpPrefixAdvertised: async () => {
        throw new Error('not used');
      },
      listServiceBindings: async () => [],
      listDelegations: async () => [],
      listAddressMaps: async () => [],
      listServices: async () => [],
      createServiceBinding: async () => {
        throw new Error('not used');
      },
      deleteServiceBinding: async () => {
        throw new Error('not used');
      },
      createDelegation: async () => {
        throw new Error('not used');
      },
      deleteDelegation: async () => {
        throw new Error('not used');
      },
      uploadLoaDocument: async () => {
        throw new Error('not used');
      },
      createBgpPrefix: async () => {
        throw new Error('not used');
      },
      deleteBgpPrefix: async () => {
        throw new Error('not used');
      },
      getAddressMap: async () => {
        throw new Error('not used');
      },
      createAddressMap: unused,
      updateAddressMap: unused,
      deleteAddressMap: unused,
      addAddressMapIp: unused,
      removeAddressMapIp: unused,
      addAddressMapZone: unused,
      removeAddressMapZone: unused,
      addAddressMapAccount: unused,
      removeAddressMapAccount: unused,
      updatePrefixDescription: unused,
    } satisfies AddressingApi;
    const policy = parsePolicy({
      cloudflare: { accounts: [{ name: 'a', id: '0'.repeat(32) }] },
      slack: { channel: 'C1' },
      groups: { requesters: ['S1'], approvers: ['S2'] },
    });
    const store = new OperationStore(redis, prefix);
    const notUsed = async (): Promise<never> => {
      throw new Error('not used');
    };
    const service = new OperationService({
      store,
      kinds: {
        cloudflare,
        policy,
        reader: new CoalescedReader(redis, store.keyPrefix),
        routing: { sample: notUsed, usualPeerCount: notUsed },
        now: Date.now,
        watch: { pollIntervalMs: 30_000, escalateAfterMs: { advertise: 20 * 60_000, withdraw: 30 * 60_000 } },
      },
      groups: { isMember: async () => true },
      dispatcher: { execute: async () => undefined, watch: async () => undefined, deliver: async () => undefined, jobState: async () => 'pending' },
      logger: createLogger({ level: 'silent' }),
    });
    const a = await service.statusReport();
    const b = await service.statusReport();
    expect(a.prefixes[0]!.bgp[0]!.onDemand.advertised).toBe(true);
    expect(b).toEqual(a);
    expect(calls).toEqual(['list', 'bgp']);
    await deleteKeys(redis, `{${prefix}}:*`);
    await redis.quit();
  });
});
