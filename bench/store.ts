import { Redis } from 'ioredis';
import type { OpEvent } from '../src/domain/events.js';
import { newOperation, newWatch, transition, type Operation } from '../src/domain/operation.js';
import { OperationStore, type AuditEntry, type OutboxItem, type UpdateResult } from '../src/operations/store.js';
import { benchPrefix, deleteKeys, latencies, memory, nowMs, redisUsedMemory, REDIS_URL, timedPool, type Row } from './lib.js';

const OPERATIONS = 2000;
const UPDATES = 10;
const CONCURRENCY = 50;

/** A fake but well-formed withdraw for 10.x.y.0/24 (distinct prefixes, so every create takes its own lock). */
function fakeOperation(i: number, at: number): Operation {
  const hex = i.toString(16).padStart(8, '0');
  return newOperation(
    {
      id: `bench-op-${hex}`,
      kind: 'withdraw',
      prefix: `10.${(i >> 8) & 255}.${i & 255}.0/24`,
      accountId: '258def64c72dae45f3e4c8516e2111f2',
      prefixId: `${hex}${'a'.repeat(24)}`,
      bgpPrefixId: `${hex}${'b'.repeat(24)}`,
      requestedBy: 'U0ALICE',
      reason: 'benchmark: store throughput CHG-0000',
      channel: 'C0NETOPS',
      cardTs: `1700000000.${String(i).padStart(6, '0')}`,
      state: 'awaiting_approval',
      expiresAt: at + 30 * 60_000,
      approvalsRequired: 1,
      guards: [
        { id: 'own-announcement', status: 'pass', overridable: true, facts: { status: 'covering', ownAsn: 64500, prefix: `10.${(i >> 8) & 255}.${i & 255}.0/24`, seenPrefix: '10.0.0.0/8', peers: 212 }, checkedAt: at },
      ],
      guardsAt: at,
    },
    at,
  );
}

/** The ten changes an operation goes through after it is filed: approve, execute, verify, six watch ticks, done. */
function step(n: number, op: Operation, at: number): UpdateResult {
  const audit = (type: string, actor = 'system', data?: Record<string, unknown>): AuditEntry => ({ type, opId: op.id, actor, ...(data ? { data } : {}) });
  const card: OutboxItem = { kind: 'card' };
  const ev = (event: OpEvent): OutboxItem => ({ kind: 'event', event });
  switch (n) {
    case 0:
      return {
        op: transition(op, 'approved', at, { approvals: [{ userId: 'U0BOB', at }], decidedBy: 'U0BOB', approvedAt: at }),
        notify: [ev({ type: 'approval', by: 'U0BOB', count: 1, required: 1, quorum: true, override: null }), card],
        audit: [audit('approved', 'U0BOB')],
      };
    case 1:
      return { op: transition(op, 'executing', at), notify: [card], audit: [audit('executing')] };
    case 2:
      return {
        op: transition(op, 'verifying', at, {
          cloudflare: { at, request: `PATCH .../bgp/prefixes/${op.bgpPrefixId} {"on_demand":{"advertised":false}}`, outcome: 'called', result: { advertised: false, modifiedAt: new Date(at).toISOString() } },
          watch: newWatch(at, { phase: 'cloudflare' }),
        }),
        notify: [ev({ type: 'progress', step: 'accepted', facts: { advertised: false, modifiedAt: new Date(at).toISOString() } }), card],
        audit: [audit('cloudflare_call', 'system', { advertised: false }), audit('cloudflare_result', 'system', { status: 200 })],
      };
    case UPDATES - 1: {
      const final = { type: 'verdict', verdict: 'done', step: 'withdrawn', facts: { peers: 3, usual: 96, summary: `Withdrawn: 3/96 peers still see ${op.prefix}`, ownAsn: 64500, origins: [] } } as const;
      return {
        op: transition(op, 'done', at, { final }),
        notify: [ev(final), card],
        audit: [audit('done', 'system', { step: final.step })],
      };
    }
    default: {
      const peers = 96 - (n - 2) * 15;
      const summary = `Withdrawing: ${peers}/96 peers still see ${op.prefix} from AS13335`;
      const w = op.watch!;
      return {
        op: { ...op, updatedAt: at, watch: { ...w, samples: w.samples + 1, latest: summary, data: { ...w.data, phase: 'routing', lastVerdict: 'withdrawing', lastPostedPeers: peers, flaggedOrigins: [] } } },
        notify: [ev({ type: 'progress', step: 'sample', facts: { summary, peers, usual: 96 } })],
      };
    }
  }
}

/** OperationStore.create + 10 updates for each of 2,000 operations, 50 operations in flight on one connection. */
export async function run(): Promise<Row[]> {
  const prefix = benchPrefix('store');
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 3 });
  const store = new OperationStore(redis, prefix);
  try {
    const usedBefore = await redisUsedMemory(redis);
    const memBefore = memory();
    const creates: number[] = [];
    const updates: number[] = [];
    let notCreated = 0;
    const t0 = nowMs();
    await timedPool(OPERATIONS, CONCURRENCY, async (i) => {
      let op = fakeOperation(i, Date.now());
      const c0 = nowMs();
      const res = await store.create(op, [{ kind: 'card' }], { type: 'requested', opId: op.id, actor: op.requestedBy, data: { prefix: op.prefix } });
      creates.push(nowMs() - c0);
      if (!res.created) {
        notCreated++;
        return;
      }
      for (let n = 0; n < UPDATES; n++) {
        const u0 = nowMs();
        const r = await store.update(op.id, (current) => step(n, current, Date.now()));
        updates.push(nowMs() - u0);
        op = r.op;
      }
    });
    const wall = nowMs() - t0;
    const memAfter = memory();
    const usedAfter = await redisUsedMemory(redis);
    const keys = await countKeys(redis, prefix);

    // Deliver every outbox item (what the deliverer does), to see what an operation leaves behind once posted.
    const pending = await store.pendingOutboxes();
    const a0 = nowMs();
    let acked = 0;
    await timedPool(pending.length, CONCURRENCY, async (i) => {
      const id = pending[i]!;
      for (let head = await store.outboxHead(id); head; head = await store.outboxHead(id)) {
        await store.ackOutbox(id, head.seq);
        acked++;
      }
    });
    const ackWall = nowMs() - a0;
    const usedDelivered = await redisUsedMemory(redis);
    const calls = creates.length + updates.length;
    const perOp = (bytes: number) => `${((bytes - usedBefore) / OPERATIONS / 1024).toFixed(2)} KiB`;

    return [
      {
        bench: 'store',
        case: `create + ${UPDATES} updates (operations)`,
        count: OPERATIONS,
        perSec: OPERATIONS / (wall / 1000),
        memBefore,
        memAfter,
        note:
          `${CONCURRENCY} operations in flight on one connection, ${(wall / 1000).toFixed(2)} s; ${notCreated} creates refused; ` +
          `Redis used_memory +${perOp(usedAfter)} per operation with its outbox undelivered, +${perOp(usedDelivered)} after delivery ` +
          `(${keys} keys; server-wide figure, other Redis users add noise)`,
      },
      { bench: 'store', case: 'store calls (create + update)', count: calls, perSec: calls / (wall / 1000), memBefore, memAfter },
      { bench: 'store', case: 'create (Lua: lock + record + outbox + audit)', count: creates.length, ...latencies(creates), memBefore, memAfter },
      { bench: 'store', case: 'update (read + compare-and-set Lua)', count: updates.length, ...latencies(updates), memBefore, memAfter },
      { bench: 'store', case: 'outbox ack (head + ack Lua)', count: acked, perSec: acked / (ackWall / 1000), memBefore, memAfter },
    ];
  } finally {
    await redis.quit();
    await deleteKeys(prefix);
  }
}

async function countKeys(redis: Redis, prefix: string): Promise<number> {
  let n = 0;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `{${prefix}}:*`, 'COUNT', 1000);
    cursor = next;
    n += keys.length;
  } while (cursor !== '0');
  return n;
}
