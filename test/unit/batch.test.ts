import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { batchOutcome, batchPrefixState, batchThreadWorthy, MAX_BATCH_PREFIXES, type EmergencyBatch } from '../../src/domain/batch.js';
import { isThreadWorthy } from '../../src/domain/events.js';
import type { Operation } from '../../src/domain/operation.js';
import { OperationStore } from '../../src/operations/store.js';
import { parseCommand } from '../../src/slack/command-parser.js';
import { batchCard, batchLineText, batchModal } from '../../src/slack/views/batch-card.js';
import { T0, makeOperation } from './helpers.js';
import { countKeys, deleteKeys, newRedis, uniquePrefix } from './redis.js';

const CAROL = 'U0CAROL';
const cidrs = ['198.18.0.0/24', '198.18.1.0/24', '198.18.2.0/24'];
const child = (i: number, o: Partial<Operation> = {}) => makeOperation({ prefix: cidrs[i]!, breakGlass: true, batch: 'b1', state: 'approved', requestedBy: CAROL, ...o });
const batchOf = (ops: Operation[]): EmergencyBatch => ({ id: 'b1', kind: 'withdraw', requestedBy: CAROL, reason: 'DC1 <!channel> failover', channel: 'C0OPS0001', cardTs: null, createdAt: T0, all: false, children: ops.map((o) => ({ opId: o.id, prefix: o.prefix })), skipped: [{ cidr: '198.51.100.0/24', why: 'already' }] });
const routing = { startedAt: T0, samples: 1, latest: 'Withdrawing: 40/96 peers still see it', readFailures: 0, lastError: null, escalated: false, data: { phase: 'routing' } };
const done = (o: Operation): Operation => ({ ...o, state: 'done', final: { type: 'verdict', verdict: 'done', step: 'withdrawn', facts: { peers: 2, usual: 96 } } });
const failed = (o: Operation): Operation => ({ ...o, state: 'failed', final: { type: 'verdict', verdict: 'failed', step: 'cloudflare_refused', facts: { why: 'Internal server error (code 10001)' } } });

describe('parseCommand: several prefixes at once', () => {
  it('a comma list, and --all', () => {
    expect(parseCommand('emergency withdraw 198.18.0.0/24,198.18.1.0/24 DC1 down')).toEqual({ kind: 'emergency-batch', action: 'withdraw', cidrs: ['198.18.0.0/24', '198.18.1.0/24'], reason: 'DC1 down' });
    expect(parseCommand('emergency advertise --all attack on every prefix')).toEqual({ kind: 'emergency-batch', action: 'advertise', cidrs: 'all', reason: 'attack on every prefix' });
    // one prefix stays the single break glass of today
    expect(parseCommand('emergency withdraw 198.18.0.0/24 DC1 down')).toEqual({ kind: 'emergency', action: 'withdraw', cidr: '198.18.0.0/24', reason: 'DC1 down' });
  });

  it('a bad item is named by its place, the text it had, and nothing else is looked at', () => {
    expect(() => parseCommand('emergency withdraw 198.18.0.0/24,198.18.1.7/24x,198.18.2.0/24 r')).toThrow(/Item 2 of the list: `198\.18\.1\.7\/24x` is not a valid prefix/);
    expect(() => parseCommand('emergency withdraw 198.18.0.0/24,,198.18.2.0/24 r')).toThrow(/Item 2 of the list .* is empty/);
    expect(() => parseCommand('emergency withdraw 198.18.0.0/24,banana r')).toThrow(/Item 2 of the list: `banana` has no prefix length/);
  });
});

describe('a batch, pure: per-prefix states, the verdict true for each, what reaches the thread', () => {
  it('follows each prefix: sending, sent, withdrawing, withdrawn, failed', () => {
    expect(batchPrefixState(child(0))).toBe('sending');
    expect(batchPrefixState(child(0, { state: 'verifying' }))).toBe('sent');
    expect(batchPrefixState(child(0, { state: 'verifying', watch: routing }))).toBe('withdrawing');
    expect(batchPrefixState(done(child(0)))).toBe('withdrawn');
    expect(batchPrefixState(done(child(0, { kind: 'advertise' })))).toBe('advertised');
    expect(batchPrefixState(failed(child(0)))).toBe('failed');
    expect(batchPrefixState(child(0, { state: 'contested' }))).toBe('contested');
  });

  it('done only when every prefix is done; otherwise the worst, naming which', () => {
    const all = [done(child(0)), done(child(1)), done(child(2))];
    expect(batchOutcome(all)).toMatchObject({ finished: true, allSent: true, verdict: 'done', done: cidrs });
    const mixed = [done(child(0)), failed(child(1)), done(child(2))];
    expect(batchOutcome(mixed)).toMatchObject({ finished: true, verdict: 'failed', failed: ['198.18.1.0/24'], done: ['198.18.0.0/24', '198.18.2.0/24'] });
    const running = [done(child(0)), child(1, { state: 'verifying' }), child(2)];
    expect(batchOutcome(running)).toMatchObject({ finished: false, allSent: false });
    const b = batchOf(mixed);
    expect(batchLineText(b, mixed, 'verdict').text).toBe('Failed: 2 of 3 withdrawn (`198.18.0.0/24`, `198.18.2.0/24`); failed: `198.18.1.0/24`. Each prefix\'s line on the card says why.');
    expect(batchLineText(b, all, 'verdict').text).toMatch(/^Done: all 3 prefixes withdrawn/);
  });

  it('progress folds into the card; warnings and bad endings reach the thread', () => {
    expect(batchThreadWorthy({ type: 'progress', step: 'accepted', facts: {} })).toBe(false);
    expect(batchThreadWorthy({ type: 'progress', step: 'sample', facts: {} })).toBe(false);
    expect(batchThreadWorthy({ type: 'verdict', verdict: 'done', step: 'withdrawn', facts: {} })).toBe(false);
    expect(batchThreadWorthy({ type: 'verdict', verdict: 'failed', step: 'cloudflare_refused', facts: {} })).toBe(true);
    expect(batchThreadWorthy({ type: 'unexpected_origin', origins: [{ asn: 64666, peers: 9 }], summary: '' })).toBe(true);
    const pass = { id: 'own-announcement', status: 'pass' as const, overridable: true, facts: {}, checkedAt: T0 };
    expect(batchThreadWorthy({ type: 'guards_refreshed', guards: [pass] })).toBe(false);
    expect(batchThreadWorthy({ type: 'guards_refreshed', guards: [{ ...pass, status: 'warn' }] })).toBe(true);
    // a single request: only progress-only steps fold; the call sent stays
    expect(isThreadWorthy({ type: 'progress', step: 'sample', facts: {} })).toBe(false);
    expect(isThreadWorthy({ type: 'progress', step: 'cloudflare_confirmed', facts: {} })).toBe(false);
    expect(isThreadWorthy({ type: 'progress', step: 'accepted', facts: {} })).toBe(true);
  });

  it('the card and the confirm step stay inside Slack limits at 50 prefixes; user text stays inert', () => {
    const many = Array.from({ length: MAX_BATCH_PREFIXES }, (_, i) => makeOperation({ prefix: `2001:db8:${i.toString(16)}::/48`, breakGlass: true, batch: 'b1', state: 'verifying', watch: { ...routing, latest: 'x'.repeat(400) } }));
    const card = batchCard(batchOf(many), many);
    expect(card.blocks.length).toBeLessThanOrEqual(50);
    for (const b of card.blocks) expect(JSON.stringify(b).length).toBeLessThan(3500);
    expect(JSON.stringify(card.blocks)).not.toContain('<!channel>');
    const modal = batchModal({ kind: 'withdraw', cidrs: many.map((m) => m.prefix), channel: 'C0OPS0001', responseUrl: `https://hooks.slack.test/${'a'.repeat(150)}` }, 'r', many.map((m) => ({ cidr: m.prefix, blast: { bindings: [{ cidr: m.prefix, service: 'Magic Transit', state: 'active' }], delegations: [], addressMaps: [], bgpPrefixes: [], error: null } })), [], { checking: false });
    expect((modal.blocks as unknown[]).length).toBeLessThanOrEqual(100);
    expect(String(modal.private_metadata).length).toBeLessThanOrEqual(3000);
    expect(JSON.parse(String(modal.private_metadata)).cidrs).toHaveLength(MAX_BATCH_PREFIXES);
  });
});

describe('OperationStore.createBatch: all locks and one use, atomically', () => {
  let redis: Redis;
  let prefix: string;
  let store: OperationStore;
  beforeAll(() => {
    redis = newRedis();
  });
  afterAll(async () => {
    await redis.quit();
  });
  beforeEach(() => {
    prefix = uniquePrefix();
    store = new OperationStore(redis, prefix, () => T0);
  });
  afterEach(async () => {
    await deleteKeys(redis, `{${prefix}}:*`);
    expect(await countKeys(redis, `{${prefix}}:*`)).toBe(0);
  });
  const entries = (ops: Operation[]) => ops.map((op) => ({ op, notify: [{ kind: 'card' as const }], audit: { type: 'break_glass', opId: op.id, actor: CAROL } }));
  const use = { maxUses: 2, windowMs: 3_600_000 };

  it('creates every operation and lock with ONE use; a second batch over a held prefix creates nothing, spends nothing', async () => {
    const ops = [child(0), child(1), child(2)];
    expect(await store.createBatch(batchOf(ops), entries(ops), use)).toEqual({ created: true });
    expect(await store.breakGlassUses(use.windowMs)).toBe(1);
    for (const o of ops) expect(await store.lockHolder(o.prefix)).toBe(o.id);
    expect((await store.getBatch('b1'))?.children.map((c) => c.prefix)).toEqual(cidrs);

    const other = [makeOperation({ prefix: '198.18.9.0/24', batch: 'b2' }), makeOperation({ prefix: cidrs[1]!, batch: 'b2' })];
    const res = await store.createBatch({ ...batchOf(other), id: 'b2' }, entries(other), use);
    expect(res).toEqual({ created: false, lockedBy: ops[1]!.id, prefix: cidrs[1] });
    expect(await store.lockHolder('198.18.9.0/24')).toBeNull();
    expect(await store.get(other[0]!.id)).toBeNull();
    expect(await store.breakGlassUses(use.windowMs)).toBe(1);
  });

  it('no use left: nothing created, no lock taken', async () => {
    const a = [makeOperation({ prefix: '198.18.5.0/24' })];
    const b = [makeOperation({ prefix: '198.18.6.0/24' })];
    const c = [makeOperation({ prefix: '198.18.7.0/24' }), makeOperation({ prefix: '198.18.8.0/24' })];
    await store.createBatch({ ...batchOf(a), id: 'x1' }, entries(a), use);
    await store.createBatch({ ...batchOf(b), id: 'x2' }, entries(b), use);
    const res = await store.createBatch({ ...batchOf(c), id: 'x3' }, entries(c), use);
    expect(res).toMatchObject({ created: false, noUseLeft: { used: 2 } });
    for (const o of c) expect(await store.lockHolder(o.prefix)).toBeNull();
    expect(await store.getBatch('x3')).toBeNull();
  });
});
