import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { applyApproval, transition, type Operation } from '../../src/domain/operation.js';
import { ErrorCode, BotError } from '../../src/errors.js';
import { OperationStore, type AuditEntry, type OutboxItem } from '../../src/operations/store.js';
import { APPROVER, REQUESTER, T0, catchBotErrorAsync, makeOperation } from './helpers.js';
import { countKeys, deleteKeys, newRedis, uniquePrefix } from './redis.js';

let redis: Redis;
let prefix: string;
let store: OperationStore;
let clock: number;

const requested = (op: Operation): AuditEntry => ({ type: 'requested', opId: op.id, actor: op.requestedBy, data: { prefix: op.prefix, reason: op.reason } });
const card: OutboxItem = { kind: 'card' };

beforeAll(() => {
  redis = newRedis();
});

afterAll(async () => {
  await redis.quit();
});

beforeEach(() => {
  prefix = uniquePrefix();
  clock = T0;
  store = new OperationStore(redis, prefix, () => clock);
});

afterEach(async () => {
  await deleteKeys(redis, `{${prefix}}:*`);
  expect(await countKeys(redis, `{${prefix}}:*`)).toBe(0);
});

describe('OperationStore.create', () => {
  it('stores the operation and takes the prefix lock', async () => {
    const op = makeOperation();
    expect(await store.create(op, [card], requested(op))).toEqual({ created: true });
    expect(await store.get(op.id)).toEqual(op);
    expect(await store.lockHolder(op.prefix)).toBe(op.id);
    expect((await store.recent()).map((o) => o.id)).toEqual([op.id]);
  });

  it('a second request on the same prefix is refused and told which request holds it', async () => {
    const first = makeOperation();
    const second = makeOperation({ requestedBy: 'UOTHER01', kind: 'advertise' });
    await store.create(first, [card], requested(first));
    expect(await store.create(second, [card], requested(second))).toEqual({ created: false, lockedBy: first.id });
    // Nothing of the refused request was written.
    expect(await store.get(second.id)).toBeNull();
    expect(await store.outboxHead(second.id)).toBeNull();
    expect((await store.auditTrail(second.id)).length).toBe(0);
    expect(await store.lockHolder(first.prefix)).toBe(first.id);
  });

  it('requests on different prefixes do not block each other', async () => {
    const a = makeOperation({ prefix: '203.0.113.0/24' });
    const b = makeOperation({ prefix: '198.51.100.0/24' });
    expect((await store.create(a, [], requested(a))).created).toBe(true);
    expect((await store.create(b, [], requested(b))).created).toBe(true);
  });

  it('of 20 simultaneous requests on one prefix exactly one wins', async () => {
    const ops = Array.from({ length: 20 }, () => makeOperation());
    const results = await Promise.all(ops.map((op) => store.create(op, [card], requested(op))));
    const winners = results.filter((r) => r.created);
    expect(winners.length).toBe(1);
    const winner = ops[results.findIndex((r) => r.created)]!;
    for (const r of results) if (!r.created) expect(r.lockedBy).toBe(winner.id);
  });

  it('keys live under the store prefix with one hash tag', async () => {
    const op = makeOperation();
    await store.create(op, [card], requested(op));
    expect(await countKeys(redis, `{${prefix}}:*`)).toBeGreaterThan(0);
    expect(store.key('op', op.id)).toBe(`{${prefix}}:op:${op.id}`);
  });
});

describe('OperationStore.get / require', () => {
  it('an unknown id reads as null, and require says the request no longer exists', async () => {
    expect(await store.get('nope')).toBeNull();
    const err = await catchBotErrorAsync(() => store.require('nope'));
    expect(err.code).toBe(ErrorCode.OperationNotFound);
    expect(err.userMessage).toMatch(/no longer exists/);
  });
});

describe('OperationStore.update', () => {
  it('50 concurrent approvals from 5 connections are all recorded (none lost)', async () => {
    const op = makeOperation({ approvalsRequired: 50 });
    await store.create(op, [card], requested(op));
    const clients = Array.from({ length: 5 }, () => newRedis());
    try {
      const stores = clients.map((c) => new OperationStore(c, prefix, () => clock));
      const users = Array.from({ length: 50 }, (_, i) => `UAPPR${String(i).padStart(4, '0')}`);
      const results = await Promise.all(
        users.map((u, i) =>
          stores[i % stores.length]!.update(op.id, (cur) => {
            const d = applyApproval(cur, u, true, T0 + i + 1);
            return { op: d.op, audit: [{ type: d.kind, opId: op.id, actor: u }] };
          }),
        ),
      );
      const final = (await store.get(op.id))!;
      expect(final.approvals.map((a) => a.userId).sort()).toEqual([...users].sort());
      expect(final.state).toBe('approved');
      // Exactly one click completed the quorum; everyone else was "recorded".
      expect(results.filter((r) => r.op.state === 'approved').length).toBe(1);
      const trail = await store.auditTrail(op.id);
      expect(trail.filter((a) => a.type === 'approved').length).toBe(1);
      expect(trail.filter((a) => a.type === 'recorded').length).toBe(49);
      expect(final.decidedBy).toBe(trail.find((a) => a.type === 'approved')!.actor);
    } finally {
      await Promise.all(clients.map((c) => c.quit()));
    }
  });

  it('50 concurrent appends on one connection lose nothing either', async () => {
    const op = makeOperation({ approvalsRequired: 1000 });
    await store.create(op, [], requested(op));
    await Promise.all(
      Array.from({ length: 50 }, (_, i) => store.update(op.id, (cur) => ({ op: { ...cur, approvals: [...cur.approvals, { userId: `U${i}`, at: i }] } }))),
    );
    expect((await store.get(op.id))!.approvals.length).toBe(50);
  });

  it('a refusal from fn propagates and changes nothing', async () => {
    const op = makeOperation();
    await store.create(op, [card], requested(op));
    const err = await catchBotErrorAsync(() => store.update(op.id, (cur) => ({ op: applyApproval(cur, REQUESTER, true, T0 + 1).op })));
    expect(err.code).toBe(ErrorCode.SelfApproval);
    expect(await store.get(op.id)).toEqual(op);
    expect((await store.outboxHead(op.id))!.seq).toBe(1);
    expect((await store.auditTrail(op.id)).length).toBe(1);
  });

  it('an update of a request that does not exist says so', async () => {
    const err = await catchBotErrorAsync(() => store.update('missing', (cur) => ({ op: cur })));
    expect(err).toBeInstanceOf(BotError);
    expect(err.code).toBe(ErrorCode.OperationNotFound);
  });

  it.each(['rejected', 'cancelled', 'expired'] as const)('moving to %s releases the prefix lock so a new request can be filed', async (to) => {
    const op = makeOperation();
    await store.create(op, [card], requested(op));
    await store.update(op.id, (cur) => ({ op: transition(cur, to, T0 + 1) }));
    expect(await store.lockHolder(op.prefix)).toBeNull();
    const next = makeOperation();
    expect(await store.create(next, [card], requested(next))).toEqual({ created: true });
  });

  it('the lock is held through approval and execution and released when done or failed', async () => {
    for (const end of ['done', 'failed'] as const) {
      const op = makeOperation({ prefix: end === 'done' ? '203.0.113.0/24' : '198.51.100.0/24' });
      await store.create(op, [card], requested(op));
      for (const s of ['approved', 'executing'] as const) {
        await store.update(op.id, (cur) => ({ op: transition(cur, s, T0 + 1) }));
        expect(await store.lockHolder(op.prefix)).toBe(op.id);
      }
      await store.update(op.id, (cur) => ({ op: transition(cur, end, T0 + 2) }));
      expect(await store.lockHolder(op.prefix)).toBeNull();
    }
  });

  it('finishing an old request does not release a lock now held by another request', async () => {
    const old = makeOperation();
    await store.create(old, [], requested(old));
    await store.update(old.id, (cur) => ({ op: transition(cur, 'cancelled', T0 + 1) }));
    const current = makeOperation();
    await store.create(current, [], requested(current));
    // A stray late write to the finished record (e.g. a note) must not free the new holder's lock.
    await store.update(old.id, (cur) => ({ op: { ...cur, notes: [...cur.notes, 'late note'] } }));
    expect(await store.lockHolder(current.prefix)).toBe(current.id);
  });
});

describe('OperationStore outbox', () => {
  it('items come out in order, across create and updates, and ackOutbox removes them', async () => {
    const op = makeOperation();
    await store.create(op, [card, { kind: 'reply', text: 'Filed.' }], requested(op));
    await store.update(op.id, (cur) => ({
      op: transition(cur, 'rejected', T0 + 1, { decidedBy: 'UAPP0001' }),
      notify: [card, { kind: 'ephemeral', user: REQUESTER, text: 'Rejected.' }, { kind: 'reply', text: 'Rejected by <@UAPP0001>.', broadcast: true }],
    }));
    expect(await store.pendingOutboxes()).toContain(op.id);

    const seen: { seq: number; kind: string }[] = [];
    for (let head = await store.outboxHead(op.id); head; head = await store.outboxHead(op.id)) {
      seen.push({ seq: head.seq, kind: head.item.kind });
      await store.ackOutbox(op.id, head.seq);
      expect(await store.lastDelivered(op.id)).toBe(head.seq);
    }
    expect(seen).toEqual([
      { seq: 1, kind: 'card' },
      { seq: 2, kind: 'reply' },
      { seq: 3, kind: 'card' },
      { seq: 4, kind: 'ephemeral' },
      { seq: 5, kind: 'reply' },
    ]);
    expect(await store.pendingOutboxes()).not.toContain(op.id);
  });

  it('keeps item contents intact', async () => {
    const op = makeOperation();
    const reply: OutboxItem = { kind: 'reply', text: 'Done | with a pipe and ünïcode', blocks: [{ type: 'divider' }], broadcast: true };
    await store.create(op, [reply], requested(op));
    expect(await store.outboxHead(op.id)).toEqual({ seq: 1, item: reply });
  });

  it('acking a sequence number that is not the head does not drop the head', async () => {
    const op = makeOperation();
    await store.create(op, [card, { kind: 'reply', text: 'second' }], requested(op));
    await store.ackOutbox(op.id, 2);
    expect((await store.outboxHead(op.id))!.seq).toBe(1);
    expect(await store.pendingOutboxes()).toContain(op.id);
  });

  it('acking the same item twice (a retried delivery) does not drop the next one', async () => {
    const op = makeOperation();
    await store.create(op, [card, { kind: 'reply', text: 'second' }], requested(op));
    await store.ackOutbox(op.id, 1);
    await store.ackOutbox(op.id, 1);
    expect(await store.outboxHead(op.id)).toEqual({ seq: 2, item: { kind: 'reply', text: 'second' } });
  });

  it('an update without notifications leaves the outbox alone', async () => {
    const op = makeOperation();
    await store.create(op, [], requested(op));
    await store.update(op.id, (cur) => ({ op: { ...cur, notes: ['x'] } }));
    expect(await store.outboxHead(op.id)).toBeNull();
    expect(await store.pendingOutboxes()).not.toContain(op.id);
  });
});

describe('OperationStore audit', () => {
  it('records entries in order with actor, time and data', async () => {
    const op = makeOperation();
    await store.create(op, [card], requested(op));
    clock = T0 + 1000;
    await store.audit({ type: 'approve_refused', opId: op.id, actor: 'UOUT0001', data: { code: ErrorCode.NotAuthorized } });
    clock = T0 + 2000;
    await store.update(op.id, (cur) => {
      const d = applyApproval(cur, APPROVER, true, clock);
      return {
        op: d.op,
        audit: [
          { type: 'approved', opId: op.id, actor: APPROVER, data: { approvals: 1 } },
          { type: 'state', opId: op.id, actor: APPROVER, data: { from: 'awaiting_approval', to: 'approved' } },
        ],
      };
    });
    clock = T0 + 3000;
    await store.audit({ type: 'cloudflare_call', opId: op.id, actor: 'bot', data: { request: 'PATCH /bgp/prefixes/x', status: 200 } });

    const trail = await store.auditTrail(op.id);
    expect(trail.map(({ type, actor, at, data }) => ({ type, actor, at, data }))).toEqual([
      { type: 'requested', actor: REQUESTER, at: T0, data: { prefix: op.prefix, reason: op.reason } },
      { type: 'approve_refused', actor: 'UOUT0001', at: T0 + 1000, data: { code: ErrorCode.NotAuthorized } },
      { type: 'approved', actor: APPROVER, at: T0 + 2000, data: { approvals: 1 } },
      { type: 'state', actor: APPROVER, at: T0 + 2000, data: { from: 'awaiting_approval', to: 'approved' } },
      { type: 'cloudflare_call', actor: 'bot', at: T0 + 3000, data: { request: 'PATCH /bgp/prefixes/x', status: 200 } },
    ]);
    for (const row of trail) expect(row.opId).toBe(op.id);
    expect(new Set(trail.map((r) => r.id)).size).toBe(trail.length);
  });

  it('filters by operation', async () => {
    const a = makeOperation({ prefix: '203.0.113.0/24' });
    const b = makeOperation({ prefix: '198.51.100.0/24' });
    await store.create(a, [], requested(a));
    await store.create(b, [], requested(b));
    await store.audit({ type: 'note', opId: a.id, actor: 'bot' });
    expect((await store.auditTrail(a.id)).map((r) => r.type)).toEqual(['requested', 'note']);
    expect((await store.auditTrail(b.id)).map((r) => r.type)).toEqual(['requested']);
    expect((await store.auditTrail()).length).toBe(3);
  });

  it('an entry without data reads back as an empty object', async () => {
    const op = makeOperation();
    await store.create(op, [], { type: 'requested', opId: op.id, actor: REQUESTER });
    expect((await store.auditTrail(op.id))[0]!.data).toEqual({});
  });
});

describe('OperationStore.dueForExpiry', () => {
  it('lists requests whose expiry has come (inclusive), not the others', async () => {
    const soon = makeOperation({ prefix: '203.0.113.0/24', expiresAt: T0 + 1000 });
    const later = makeOperation({ prefix: '198.51.100.0/24', expiresAt: T0 + 60_000 });
    await store.create(soon, [], requested(soon));
    await store.create(later, [], requested(later));
    expect(await store.dueForExpiry(T0 + 999)).toEqual([]);
    expect(await store.dueForExpiry(T0 + 1000)).toEqual([soon.id]);
    expect((await store.dueForExpiry(T0 + 60_000)).sort()).toEqual([soon.id, later.id].sort());
  });

  it.each(['approved', 'rejected', 'cancelled', 'expired'] as const)('a request that became %s is no longer due', async (to) => {
    const op = makeOperation({ expiresAt: T0 + 1000 });
    await store.create(op, [], requested(op));
    await store.update(op.id, (cur) => ({ op: transition(cur, to, T0 + 10) }));
    expect(await store.dueForExpiry(T0 + 10_000)).toEqual([]);
  });

  it('a half-approved 2-of-M request is still due', async () => {
    const op = makeOperation({ expiresAt: T0 + 1000, approvalsRequired: 2 });
    await store.create(op, [], requested(op));
    await store.update(op.id, (cur) => ({ op: applyApproval(cur, APPROVER, true, T0 + 10).op }));
    expect(await store.dueForExpiry(T0 + 1000)).toEqual([op.id]);
  });
});
