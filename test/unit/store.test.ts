import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { OpEvent } from '../../src/domain/events.js';
import { applyApproval, supersede, transition, type Operation } from '../../src/domain/operation.js';
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
const ev = (event: OpEvent): OutboxItem => ({ kind: 'event', event });
const sample = (summary: string): OutboxItem => ev({ type: 'progress', step: 'sample', facts: { summary } });
const approveAs = (op: Operation, userId: string, at: number) => applyApproval(op, { userId, isApprover: true, at });

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
    for (const r of results) if (!r.created) expect(r).toEqual({ created: false, lockedBy: winner.id });
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
            const d = approveAs(cur, u, T0 + i + 1);
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
    const err = await catchBotErrorAsync(() => store.update(op.id, (cur) => ({ op: approveAs(cur, REQUESTER, T0 + 1).op })));
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
    // A stray late write to the finished record (e.g. a check refreshed) must not free the new holder's lock.
    await store.update(old.id, (cur) => ({ op: { ...cur, checks: [...cur.checks, { id: 'late', result: 'pass', facts: {} }] } }));
    expect(await store.lockHolder(current.prefix)).toBe(current.id);
  });
});

describe('OperationStore outbox', () => {
  it('items come out in order, across create and updates, and ackOutbox removes them', async () => {
    const op = makeOperation();
    await store.create(op, [card, ev({ type: 'progress', step: 'checks', facts: { summary: 'filed' } })], requested(op));
    await store.update(op.id, (cur) => ({
      op: transition(cur, 'rejected', T0 + 1, { decidedBy: APPROVER }),
      notify: [card, ev({ type: 'rejected', by: APPROVER }), ev({ type: 'verdict', verdict: 'failed', step: 'rejected', facts: { by: APPROVER } })],
    }));
    expect(await store.pendingOutboxes()).toContain(op.id);

    const seen: { seq: number; kind: string }[] = [];
    for (let head = await store.outboxHead(op.id); head; head = await store.outboxHead(op.id)) {
      seen.push({ seq: head.seq, kind: head.item.kind === 'event' ? head.item.event.type : head.item.kind });
      await store.ackOutbox(op.id, head.seq);
      expect(await store.lastDelivered(op.id)).toBe(head.seq);
    }
    expect(seen).toEqual([
      { seq: 1, kind: 'card' },
      { seq: 2, kind: 'progress' },
      { seq: 3, kind: 'card' },
      { seq: 4, kind: 'rejected' },
      { seq: 5, kind: 'verdict' },
    ]);
    expect(await store.pendingOutboxes()).not.toContain(op.id);
  });

  it('keeps item contents intact', async () => {
    const op = makeOperation();
    const item: OutboxItem = ev({
      type: 'verdict',
      verdict: 'contested',
      step: 'withdrawn_contested',
      facts: { summary: 'Done | with a pipe and ünïcode, 12|34', peers: 3, usual: 96, ownAsn: null, origins: [{ asn: 64666, peers: 3 }], nested: { a: [1, '|', null] } },
    });
    const blocked: OutboxItem = ev({ type: 'guards_blocked', guards: [{ id: 'own-announcement', status: 'block', overridable: true, facts: { status: 'not_seen', prefix: op.prefix, ownAsn: 64500 }, checkedAt: T0 }] });
    await store.create(op, [item, blocked], requested(op));
    expect(await store.outboxHead(op.id)).toEqual({ seq: 1, item, recordedAt: expect.any(Number) });
    await store.ackOutbox(op.id, 1);
    expect(await store.outboxHead(op.id)).toEqual({ seq: 2, item: blocked, recordedAt: expect.any(Number) });
  });

  it('acking a sequence number that is not the head does not drop the head', async () => {
    const op = makeOperation();
    await store.create(op, [card, sample('second')], requested(op));
    await store.ackOutbox(op.id, 2);
    expect((await store.outboxHead(op.id))!.seq).toBe(1);
    expect(await store.pendingOutboxes()).toContain(op.id);
  });

  it('acking the same item twice (a retried delivery) does not drop the next one', async () => {
    const op = makeOperation();
    await store.create(op, [card, sample('second')], requested(op));
    await store.ackOutbox(op.id, 1);
    await store.ackOutbox(op.id, 1);
    expect(await store.outboxHead(op.id)).toEqual({ seq: 2, item: sample('second'), recordedAt: expect.any(Number) });
  });

  it('an update without notifications leaves the outbox alone', async () => {
    const op = makeOperation();
    await store.create(op, [], requested(op));
    await store.update(op.id, (cur) => ({ op: { ...cur, checks: [{ id: 'preflight', result: 'pass', facts: {} }] } }));
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
      const d = approveAs(cur, APPROVER, clock);
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
    await store.update(op.id, (cur) => ({ op: approveAs(cur, APPROVER, T0 + 10).op }));
    expect(await store.dueForExpiry(T0 + 1000)).toEqual([op.id]);
  });
});

describe('OperationStore retention of finished records', () => {
  const RETENTION = 90 * 86_400_000;
  const pttl = (...parts: string[]) => redis.pttl(store.key(...parts));

  it('an open record and its bookkeeping never expire', async () => {
    const op = makeOperation();
    await store.create(op, [card, sample('one')], requested(op));
    await store.ackOutbox(op.id, 1);
    await store.update(op.id, (cur) => ({ op: approveAs(cur, APPROVER, T0 + 1).op, notify: [card] }));
    await store.update(op.id, (cur) => ({ op: transition(cur, 'executing', T0 + 2), notify: [card] }));
    for (const k of ['op', 'outbox', 'outbox-seq', 'delivered']) expect(await pttl(k, op.id), k).toBe(-1);
  });

  it.each(['rejected', 'cancelled', 'expired'] as const)('moving to %s sets a TTL on the record, its outbox, outbox-seq and delivered marker in the same step', async (to) => {
    const op = makeOperation();
    await store.create(op, [card, sample('filed')], requested(op));
    await store.ackOutbox(op.id, 1); // the delivered marker exists
    await store.update(op.id, (cur) => ({ op: transition(cur, to, T0 + 1), notify: [card, ev({ type: 'expired' })] }));
    // Right after the update, with nothing in between: the TTL came from the compare-and-set itself.
    for (const k of ['op', 'outbox', 'outbox-seq', 'delivered']) {
      const ttl = await pttl(k, op.id);
      expect(ttl, k).toBeGreaterThan(RETENTION - 60_000);
      expect(ttl, k).toBeLessThanOrEqual(RETENTION);
    }
    // The shared indexes never expire, and the prefix lock is released rather than left to expire.
    for (const k of [store.pendingKey(), store.auditKey(), store.recentKey()]) expect(await redis.pttl(k), k).toBe(-1);
    expect(await store.lockHolder(op.prefix)).toBeNull();
    expect(await redis.sismember(store.activeKey(), op.id)).toBe(0);
  });

  it('a change that ends after executing (done, failed) or verifying (contested, unconfirmed) gets the TTL too', async () => {
    const ends = ['done', 'failed', 'contested', 'unconfirmed'] as const;
    for (const [i, end] of ends.entries()) {
      const op = makeOperation({ prefix: `198.51.100.${i * 16}/28` });
      await store.create(op, [card], requested(op));
      await store.ackOutbox(op.id, 1);
      await store.update(op.id, (cur) => ({ op: approveAs(cur, APPROVER, T0 + 1).op }));
      await store.update(op.id, (cur) => ({ op: transition(cur, 'executing', T0 + 2) }));
      if (end !== 'failed') await store.update(op.id, (cur) => ({ op: transition(cur, 'verifying', T0 + 3) }));
      expect(await pttl('op', op.id), end).toBe(-1);
      await store.update(op.id, (cur) => ({ op: transition(cur, end, T0 + 4), notify: [ev({ type: 'verdict', verdict: end, step: 'x', facts: {} })] }));
      for (const k of ['op', 'outbox', 'outbox-seq', 'delivered']) expect(await pttl(k, op.id), `${end} ${k}`).toBeGreaterThan(0);
    }
  });

  it('uses the retention the store was given', async () => {
    const short = new OperationStore(redis, prefix, () => clock, { operationMs: 60_000, auditMs: 300_000 });
    const op = makeOperation();
    await short.create(op, [card], requested(op));
    await short.ackOutbox(op.id, 1);
    await short.update(op.id, (cur) => ({ op: transition(cur, 'rejected', T0 + 1), notify: [card] }));
    for (const k of ['op', 'outbox', 'outbox-seq', 'delivered']) {
      const ttl = await pttl(k, op.id);
      expect(ttl, k).toBeGreaterThan(50_000);
      expect(ttl, k).toBeLessThanOrEqual(60_000);
    }
  });

  it('a late write to a finished record (a break-glass review) keeps its TTL', async () => {
    const op = makeOperation({ state: 'approved', breakGlass: true });
    await store.create(op, [card], requested(op));
    await store.update(op.id, (cur) => ({ op: transition(cur, 'failed', T0 + 1) }));
    await store.update(op.id, (cur) => ({ op: { ...cur, reviewedBy: APPROVER }, notify: [ev({ type: 'reviewed', by: APPROVER })] }));
    expect(await pttl('op', op.id)).toBeGreaterThan(0);
    expect(await pttl('outbox-seq', op.id)).toBeGreaterThan(0);
    expect((await store.get(op.id))!.reviewedBy).toBe(APPROVER);
  });

  // Regression: a delivered marker first written after the terminal update must still expire with the record.
  it('a delivered marker first written after the request finished also expires', async () => {
    const op = makeOperation();
    await store.create(op, [card], requested(op));
    await store.update(op.id, (cur) => ({ op: transition(cur, 'rejected', T0 + 1), notify: [card] }));
    for (let head = await store.outboxHead(op.id); head; head = await store.outboxHead(op.id)) await store.ackOutbox(op.id, head.seq);
    expect(await pttl('delivered', op.id)).toBeGreaterThan(0);
  });
});

describe('OperationStore.create with a break-glass use', () => {
  const USE = { maxUses: 1, windowMs: 60_000 };
  const breakGlassOp = (extra: Partial<Operation> = {}) => makeOperation({ state: 'approved', breakGlass: true, requestedBy: 'UONC0001', approvalsRequired: 0, ...extra });
  const uses = () => redis.zcard(store.breakGlassUsesKey());

  it('takes one use per created operation; with none left it says so and spends nothing', async () => {
    const a = breakGlassOp({ prefix: '203.0.113.0/24' });
    const b = breakGlassOp({ prefix: '198.51.100.0/24' });
    expect(await store.create(a, [card], requested(a), { breakGlassUse: USE })).toEqual({ created: true });
    expect(await uses()).toBe(1);
    const pt = await redis.pttl(store.breakGlassUsesKey());
    expect(pt).toBeGreaterThan(0);
    expect(pt).toBeLessThanOrEqual(USE.windowMs);

    clock = T0 + 1000;
    const res = await store.create(b, [card], requested(b), { breakGlassUse: USE });
    expect(res).toEqual({ created: false, noUseLeft: { used: 1, nextFreeAt: T0 + USE.windowMs } });
    expect(await uses()).toBe(1);
    expect(await store.breakGlassUses(USE.windowMs)).toBe(1);
    // Nothing of the refused operation was written.
    expect(await store.get(b.id)).toBeNull();
    expect(await store.lockHolder(b.prefix)).toBeNull();
    expect(await store.outboxHead(b.id)).toBeNull();
    expect(await store.auditTrail(b.id)).toEqual([]);
    expect((await store.active()).map((o) => o.id)).toEqual([a.id]);
  });

  it('a use frees up once the window has passed', async () => {
    const a = breakGlassOp({ prefix: '203.0.113.0/24' });
    const b = breakGlassOp({ prefix: '198.51.100.0/24' });
    await store.create(a, [], requested(a), { breakGlassUse: USE });
    clock = T0 + USE.windowMs + 1;
    expect(await store.create(b, [], requested(b), { breakGlassUse: USE })).toEqual({ created: true });
    expect(await uses()).toBe(1); // the old use was dropped, the new one taken
    expect(await store.breakGlassUses(USE.windowMs)).toBe(1);
  });

  it('a create that loses the lock race spends no use', async () => {
    const holder = makeOperation();
    await store.create(holder, [card], requested(holder));
    const bg = breakGlassOp();
    expect(await store.create(bg, [card], requested(bg), { breakGlassUse: USE })).toEqual({ created: false, lockedBy: holder.id });
    expect(await uses()).toBe(0);
    expect(await store.get(bg.id)).toBeNull();
  });

  it('of 10 simultaneous break-glass changes on different prefixes with 3 uses left, exactly 3 go through', async () => {
    const ops = Array.from({ length: 10 }, (_, i) => breakGlassOp({ prefix: `192.0.2.${i * 16}/28` }));
    const results = await Promise.all(ops.map((op) => store.create(op, [], requested(op), { breakGlassUse: { maxUses: 3, windowMs: 60_000 } })));
    expect(results.filter((r) => r.created).length).toBe(3);
    expect(results.filter((r) => 'noUseLeft' in r).length).toBe(7);
    expect(await uses()).toBe(3);
  });
});

describe('OperationStore.create superseding the lock holder', () => {
  const ONCALL = 'UONC0001';
  const bgFor = (holder: Operation) => makeOperation({ prefix: holder.prefix, state: 'approved', breakGlass: true, requestedBy: ONCALL, approvalsRequired: 0 });
  const supersedeOpt = (holder: Operation, version: string, bg: Operation) => ({
    id: holder.id,
    version,
    op: supersede(holder, ONCALL, bg.id, T0 + 5),
    notify: [card, ev({ type: 'superseded', by: ONCALL, opId: bg.id })],
    audit: { type: 'superseded', opId: holder.id, actor: ONCALL, data: { by: bg.id } },
  });

  it('replaces the holder atomically: the holder is superseded and leaves the active set, the lock names the new op', async () => {
    const holder = makeOperation({ expiresAt: T0 + 1000 });
    await store.create(holder, [card], requested(holder));
    const held = (await store.getVersioned(holder.id))!;
    expect(held.version).toBe('1');
    const bg = bgFor(holder);
    const res = await store.create(bg, [card, ev({ type: 'break_glass', by: ONCALL, reason: bg.reason, supersedes: holder.id })], requested(bg), {
      breakGlassUse: { maxUses: 1, windowMs: 60_000 },
      supersede: supersedeOpt(held.op, held.version, bg),
    });
    expect(res).toEqual({ created: true });

    const after = (await store.getVersioned(holder.id))!;
    expect(after.version).toBe('2');
    expect(after.op.state).toBe('superseded');
    expect(after.op.supersededBy).toBe(bg.id);
    expect(after.op.decidedBy).toBe(ONCALL);
    expect(after.op.final).toMatchObject({ type: 'verdict', step: 'superseded' });
    expect(await store.lockHolder(holder.prefix)).toBe(bg.id);
    expect((await store.active()).map((o) => o.id)).toEqual([bg.id]);
    // No longer waiting for approval, so it will not be expired later.
    expect(await store.dueForExpiry(T0 + 10_000)).toEqual([]);
    expect(await store.get(bg.id)).toEqual(bg);
    expect(await redis.zcard(store.breakGlassUsesKey())).toBe(1);

    // The holder's thread hears about it after what it already had queued; its audit records it.
    const heads: string[] = [];
    for (let head = await store.outboxHead(holder.id); head; head = await store.outboxHead(holder.id)) {
      heads.push(`${head.seq}:${head.item.kind === 'event' ? head.item.event.type : head.item.kind}`);
      await store.ackOutbox(holder.id, head.seq);
    }
    expect(heads).toEqual(['1:card', '2:card', '3:superseded']);
    expect(await store.pendingOutboxes()).toContain(bg.id);
    expect((await store.auditTrail(holder.id)).map((a) => a.type)).toEqual(['requested', 'superseded']);
    // The superseded record is finished: it expires with its bookkeeping.
    expect(await redis.pttl(store.key('op', holder.id))).toBeGreaterThan(0);
    expect(await redis.pttl(store.key('outbox-seq', holder.id))).toBeGreaterThan(0);
  });

  it('with a version that is no longer current it returns created:false and changes nothing', async () => {
    const holder = makeOperation({ approvalsRequired: 2 });
    await store.create(holder, [card], requested(holder));
    const stale = (await store.getVersioned(holder.id))!;
    // The holder moves on (a first approval) after the version was read.
    await store.update(holder.id, (cur) => ({ op: approveAs(cur, APPROVER, T0 + 1).op, notify: [card] }));
    const before = (await store.getVersioned(holder.id))!;
    const bg = bgFor(holder);
    const res = await store.create(bg, [card], requested(bg), { breakGlassUse: { maxUses: 1, windowMs: 60_000 }, supersede: supersedeOpt(stale.op, stale.version, bg) });
    expect(res.created).toBe(false);
    expect(await store.getVersioned(holder.id)).toEqual(before);
    expect(before.op.state).toBe('awaiting_approval');
    expect(await store.lockHolder(holder.prefix)).toBe(holder.id);
    expect(await store.get(bg.id)).toBeNull();
    expect(await store.outboxHead(bg.id)).toBeNull();
    expect(await redis.zcard(store.breakGlassUsesKey())).toBe(0);
    expect((await store.auditTrail(holder.id)).map((a) => a.type)).toEqual(['requested']);
    expect(await redis.llen(store.key('outbox', holder.id))).toBe(2);
    expect((await store.active()).map((o) => o.id)).toEqual([holder.id]);
  });

  it('when the lock is now held by another request than the one read, it names that one and changes nothing', async () => {
    const holder = makeOperation();
    await store.create(holder, [], requested(holder));
    const held = (await store.getVersioned(holder.id))!;
    await store.update(holder.id, (cur) => ({ op: transition(cur, 'cancelled', T0 + 1) }));
    const next = makeOperation();
    await store.create(next, [], requested(next));
    const bg = bgFor(holder);
    expect(await store.create(bg, [], requested(bg), { supersede: supersedeOpt(held.op, held.version, bg) })).toEqual({ created: false, lockedBy: next.id });
    expect((await store.get(holder.id))!.state).toBe('cancelled');
    expect((await store.get(next.id))!.state).toBe('awaiting_approval');
    expect(await store.get(bg.id)).toBeNull();
  });
});

describe('OperationStore scripts', () => {
  it('are defined once per connection, however many stores share it', async () => {
    const fresh = newRedis();
    const define = fresh.defineCommand.bind(fresh);
    const defined: string[] = [];
    fresh.defineCommand = ((name: string, def: Parameters<typeof define>[1]) => {
      defined.push(name);
      return define(name, def);
    }) as typeof fresh.defineCommand;
    try {
      const first = new OperationStore(fresh, prefix, () => clock);
      new OperationStore(fresh, uniquePrefix());
      new OperationStore(fresh, prefix);
      expect(defined.sort()).toEqual(['byoipAckOutbox', 'byoipCas', 'byoipCreate', 'byoipCreateBatch']);
      const op = makeOperation();
      expect(await first.create(op, [card], requested(op))).toEqual({ created: true });
    } finally {
      await fresh.quit();
    }
  });

  it('keep working after SCRIPT FLUSH (the client falls back to sending the script on NOSCRIPT)', async () => {
    const op = makeOperation({ approvalsRequired: 2 });
    await store.create(op, [card], requested(op));
    await store.update(op.id, (cur) => ({ op: approveAs(cur, APPROVER, T0 + 1).op, notify: [card] }));
    await redis.script('FLUSH');
    // Every script, right after the flush: compare-and-set, ack, create.
    await store.update(op.id, (cur) => ({ op: approveAs(cur, 'UAPP0002', T0 + 2).op, notify: [sample('after flush')] }));
    expect((await store.get(op.id))!.state).toBe('approved');
    await store.ackOutbox(op.id, 1);
    expect(await store.lastDelivered(op.id)).toBe(1);
    await redis.script('FLUSH');
    const other = makeOperation({ prefix: '198.51.100.0/24' });
    expect(await store.create(other, [card], requested(other))).toEqual({ created: true });
    expect((await store.outboxHead(op.id))!.seq).toBe(2);
  });
});
