/** The staged withdraw's gates (src/kinds/drain.ts), its policy, the gate override, and the world's zombies. */
import { describe, expect, it } from 'vitest';
import { parsePolicy } from '../../src/config.js';
import type { BgpPrefix } from '../../src/domain/addressing.js';
import { applyApproval, type Operation } from '../../src/domain/operation.js';
import { DEFAULT_WITHDRAW_POLICY, type EnginePolicy, type WithdrawPolicy } from '../../src/domain/policy.js';
import { drainStage } from '../../src/kinds/drain.js';
import type { AddressingApi, KindDeps, StageStep } from '../../src/kinds/types.js';
import { peerRoutes, type VisibilitySample } from '../../src/routing/looking-glass.js';
import { SimClock } from '../../world/simulator/clock.js';
import { World } from '../../world/simulator/world.js';
import { ActionId } from '../../src/slack/ids.js';
import { confirmApproveModal } from '../../src/slack/views/confirm-modals.js';
import { cardGates, statusCard } from '../../src/slack/views/status-card.js';
import { APPROVER, catchBotError, makeOperation, T0 } from './helpers.js';

const OWN = 64500;
const MIN = 60_000;
const DRAIN = { convergenceMs: 10 * MIN, maxWaitMs: 60 * MIN, prependPauseMs: 2 * MIN, zombieAfterMs: 15 * MIN, zombieSettleMs: 5 * MIN };

/** Fake deps: a looking glass that shows `seen` peers of our AS out of 60, a BGP prefix that records its PATCHes. */
function fakeDeps(opts: { withdraw?: Partial<WithdrawPolicy>; prepend?: boolean; ownAsn?: number | null } = {}) {
  const world = { seen: 0, now: T0, prependCount: 0, patches: [] as number[], reads: 0 };
  const policy: EnginePolicy = {
    cloudflare: { accounts: [{ name: 'a', id: '0123456789abcdef0123456789abcdef' }] },
    slack: { channel: 'C0OPS0001' },
    groups: { requesters: ['S1'], approvers: ['S2'], break_glass: [], viewers: ['S1'] },
    actions: {} as EnginePolicy['actions'],
    break_glass: { max_uses: 2, window: 3_600_000 },
    prefixes: [{ cidr: '203.0.113.0/24', ...(opts.ownAsn === null ? {} : { own_asn: opts.ownAsn ?? OWN }), ...(opts.prepend ? { withdraw_prepend: true } : {}) }],
    withdraw: { ...DEFAULT_WITHDRAW_POLICY, ...(opts.withdraw ?? {}) },
  };
  const bgp = (): BgpPrefix =>
    ({ id: 'b', cidr: '203.0.113.0/24', asn: null, asnPrependCount: world.prependCount, autoAdvertiseWithdraw: false, bgpSignalEnabled: false, onDemand: { advertised: true, locked: false, enabled: true } }) as unknown as BgpPrefix;
  const cloudflare = {
    getBgpPrefix: async () => {
      world.reads++;
      return bgp();
    },
    setBgpPrefixPrepend: async (_a: string, _p: string, _b: string, n: number) => {
      world.patches.push(n);
      world.prependCount = n;
      return bgp();
    },
  } as unknown as AddressingApi;
  const deps: KindDeps = {
    cloudflare,
    policy,
    reader: { read: (_k, _t, fetch) => fetch(), invalidate: async () => undefined },
    routing: {
      sample: async (prefix): Promise<VisibilitySample> => ({ prefix, at: new Date(world.now), peersSeeing: world.seen, collectors: 5, byOrigin: world.seen ? { [OWN]: world.seen } : {} }),
      usualPeerCount: async () => 60,
    },
    now: () => world.now,
    watch: { pollIntervalMs: 30_000, escalateAfterMs: { advertise: 20 * MIN, withdraw: 30 * MIN } },
    drain: DRAIN,
  };
  const audits: { type: string; data: Record<string, unknown> }[] = [];
  const calls: string[] = [];
  const tools = {
    audit: async (type: string, data: Record<string, unknown>) => void audits.push({ type, data }),
    call: async <T,>(request: string, call: () => Promise<T>) => {
      calls.push(request);
      return call();
    },
  };
  return { world, deps, tools, audits, calls };
}

/** Runs the stage as the executor does: stores what it returns on the operation between looks. */
async function look(f: ReturnType<typeof fakeDeps>, op: Operation): Promise<{ step: StageStep; op: Operation }> {
  const step = await drainStage(f.deps, op, f.tools);
  if (step.outcome === 'failed') return { step, op };
  const stage = { startedAt: op.stage?.startedAt ?? f.world.now, latest: step.outcome === 'wait' ? step.latest : (step.latest ?? null), data: { ...(op.stage?.data ?? {}), ...(step.data ?? {}) } };
  return { step, op: { ...op, stage } };
}

const executing = (extra: Partial<Operation> = {}) => makeOperation({ state: 'executing', approvedAt: T0, ...extra });

describe('gate 1: our own same-length announcement, seen on enough peers for the convergence time', () => {
  it('waits (nothing sent) while it is missing, and says so once', async () => {
    const f = fakeDeps();
    let op = executing();
    const first = await look(f, op);
    expect(first.step).toMatchObject({ outcome: 'wait', untilMs: T0 + 30_000 });
    expect(first.step.outcome === 'wait' && first.step.latest).toMatch(/seen on 0% of usual peers \(0\/60\); needs 80% \(48\) for 10 min/);
    expect(first.step.outcome === 'wait' && first.step.events.map((e) => e.type === 'progress' && e.step)).toEqual(['drain_waiting']);
    op = first.op;
    f.world.now += 30_000;
    const second = await look(f, op);
    expect(second.step.outcome).toBe('wait');
    expect(second.step.outcome === 'wait' && second.step.events).toEqual([]); // the picture did not change
    expect(f.calls).toEqual([]);
    expect(f.audits.map((a) => a.type)).toEqual(['gate_waiting']);
  });

  it('counts the convergence time from when enough peers see it, resets when it drops, passes after 10 min', async () => {
    const f = fakeDeps();
    let op = executing();
    f.world.seen = 30; // below 80% of 60
    ({ op } = await look(f, op));
    expect(op.stage!.data.metSince).toBeNull();
    f.world.seen = 50;
    f.world.now += 60_000;
    let r = await look(f, op);
    expect(r.step).toMatchObject({ outcome: 'wait', untilMs: f.world.now + 30_000 });
    expect(r.op.stage!.data.metSince).toBe(f.world.now);
    const metAt = f.world.now;
    op = r.op;
    f.world.now = metAt + 9 * MIN + 50_000;
    r = await look(f, op);
    expect(r.step).toMatchObject({ outcome: 'wait', untilMs: metAt + 10 * MIN }); // exactly at the end of the convergence time
    expect(r.step.outcome === 'wait' && r.step.latest).toMatch(/for 9 min 50 s of 10 min/);
    // it drops below the share: the clock starts over
    f.world.seen = 40;
    f.world.now = metAt + 9 * MIN + 55_000;
    r = await look(f, r.op);
    expect(r.op.stage!.data.metSince).toBeNull();
    f.world.seen = 55;
    f.world.now += 1000;
    r = await look(f, r.op);
    const again = f.world.now;
    f.world.now = again + 10 * MIN;
    r = await look(f, r.op);
    expect(r.step.outcome).toBe('ready');
    expect(f.audits.find((a) => a.type === 'gate_passed')?.data).toMatchObject({ forMs: 10 * MIN, seen: 55, usual: 60 });
  });

  it('gives up after the maximum wait, nothing sent', async () => {
    const f = fakeDeps();
    let { op } = await look(f, executing());
    f.world.now += 61 * MIN;
    const r = await look(f, op);
    expect(r.step).toMatchObject({ outcome: 'failed', step: 'drain_timeout', facts: { sent: false, maxWaitMs: 60 * MIN } });
    op = r.op;
    expect(f.calls).toEqual([]);
  });

  it('with drain: when_announced, a prefix our AS does not announce at the same length goes ahead undrained, said once', async () => {
    const f = fakeDeps({ withdraw: { drain: 'when_announced' } });
    const r = await look(f, executing());
    expect(r.step.outcome).toBe('ready');
    expect(r.step.outcome === 'ready' && r.step.events.map((e) => e.type === 'progress' && e.step)).toEqual(['drain_not_staged']);
    expect(f.audits.map((a) => a.type)).toEqual(['gate_not_applicable']);
  });

  it('an approver\'s override naming the gate skips it, audited with who and why', async () => {
    const f = fakeDeps();
    const r = await look(f, executing({ override: { by: APPROVER, at: T0, reason: 'DC announces a /22 the collectors miss', guards: ['drain'] } }));
    expect(r.step.outcome).toBe('ready');
    expect(f.audits).toEqual([{ type: 'gate_skipped', data: { gate: 'drain', by: APPROVER, reason: 'DC announces a /22 the collectors miss' } }]);
    expect(r.step.outcome === 'ready' && r.step.latest).toMatch(/gate 1 \(own announcement\) skipped/);
  });

  it('no own AS on record: no gate 1 (the own-announcement guard already warned)', async () => {
    const f = fakeDeps({ ownAsn: null });
    expect((await look(f, executing())).step.outcome).toBe('ready');
  });
});

describe('gate 2: asn_prepend_count raised 1..3 with a pause each', () => {
  it('one read-before-write PATCH per step, in order, pausing between them, then ready', async () => {
    const f = fakeDeps({ prepend: true });
    f.world.seen = 57;
    let r = await look(f, executing());
    f.world.now += 10 * MIN;
    r = await look(f, r.op); // gate 1 passes, step 1 at once
    expect(f.world.patches).toEqual([1]);
    expect(r.step).toMatchObject({ outcome: 'wait', untilMs: f.world.now + 2 * MIN });
    f.world.now += MIN; // still pausing: nothing sent
    r = await look(f, r.op);
    expect(f.world.patches).toEqual([1]);
    f.world.now += MIN; // the pause is over: step 2
    r = await look(f, r.op);
    expect(f.world.patches).toEqual([1, 2]);
    f.world.now += 2 * MIN; // step 3
    r = await look(f, r.op);
    expect(f.world.patches).toEqual([1, 2, 3]);
    expect(f.calls).toEqual([1, 2, 3].map((n) => expect.stringContaining(`{"asn_prepend_count":${n}}`)));
    f.world.now += 2 * MIN;
    r = await look(f, r.op);
    expect(r.step.outcome).toBe('ready');
    expect(r.step.outcome === 'ready' && r.step.latest).toMatch(/AS13335 prepended 3 times/);
  });

  it('a step Cloudflare already has (a retry after a crash) is not sent again', async () => {
    const f = fakeDeps({ prepend: true, withdraw: { drain: 'when_announced' } });
    f.world.prependCount = 2;
    let r = await look(f, executing()); // undrained, then step 1: already 2 at Cloudflare
    expect(f.world.patches).toEqual([]);
    f.world.now += 2 * MIN;
    r = await look(f, r.op); // step 2: already there
    expect(f.world.patches).toEqual([]);
    f.world.now += 2 * MIN;
    await look(f, r.op); // step 3: sent
    expect(f.world.patches).toEqual([3]);
  });
});

describe('skipping a gate at approval is an explicit override', () => {
  it('is kept on the record even with no warning to acknowledge, and needs a reason', () => {
    const op = makeOperation({ guards: [] });
    const d = applyApproval(op, { userId: APPROVER, isApprover: true, at: T0 + 1000, override: { by: APPROVER, at: T0 + 1000, reason: 'change window is short', guards: ['drain'] } });
    expect(d.kind).toBe('approved');
    expect(d.op.override).toMatchObject({ guards: ['drain'], by: APPROVER });
    const e = catchBotError(() => applyApproval(op, { userId: APPROVER, isApprover: true, at: T0 + 1000, override: { by: APPROVER, at: T0, reason: ' ', guards: ['drain'] } }));
    expect(e.userMessage).toMatch(/Say why you skip the gates/);
    // a plain approval keeps no override
    expect(applyApproval(op, { userId: APPROVER, isApprover: true, at: T0 + 1000 }).op.override).toBeNull();
  });
});

describe('the withdraw policy', () => {
  const doc = (withdraw?: unknown) => ({
    cloudflare: { accounts: [{ name: 'p', id: '0123456789abcdef0123456789abcdef' }] },
    slack: { channel: 'C0123ABCD' },
    groups: { requesters: ['S0REQ0001'], approvers: ['S0APP0001'] },
    prefixes: [{ cidr: '203.0.113.0/24', own_asn: 64500, withdraw_prepend: true }],
    ...(withdraw !== undefined ? { withdraw } : {}),
  });
  it('defaults to the full drain: 80% of the usual peers, same length required, no prepend unless asked per prefix', () => {
    const p = parsePolicy(doc());
    expect(p.withdraw).toEqual({ own_announcement_min_share: 0.8, drain: 'required', prepend: false });
    expect(p.prefixes[0]!.withdraw_prepend).toBe(true);
  });
  it('refuses a share of 0 or above 1, and an unknown drain mode, with the key named', () => {
    expect(() => parsePolicy(doc({ own_announcement_min_share: 0 }))).toThrow(/withdraw\.own_announcement_min_share/);
    expect(() => parsePolicy(doc({ own_announcement_min_share: 1.5 }))).toThrow(/withdraw\.own_announcement_min_share/);
    expect(() => parsePolicy(doc({ drain: 'sometimes' }))).toThrow(/withdraw\.drain/);
  });
});

describe('the world plants zombies', () => {
  it('chosen peers keep the AS13335 route after it is withdrawn, the others drop it; 0 clears them', () => {
    const clock = new SimClock(1);
    const world = new World({ clock, seed: 7 });
    world.announce('203.0.113.0/24', 13335, { delayMs: 0, rampMs: 0 });
    const peers = world.plantZombie('203.0.113.0/24', 3);
    expect(peers).toHaveLength(3);
    world.withdraw('203.0.113.0/24', 13335, { delayMs: 0, decayMs: 0 });
    const now = clock.now() + 1;
    const seen = world.visibleRoutes('203.0.113.0/24', now);
    const ips = (xs: { ip: string }[]) => xs.map((x) => x.ip).sort();
    expect(ips(seen.map((r) => r.peer))).toEqual(ips(peers));
    expect(seen.every((r) => r.asPath.at(-1) === 13335)).toBe(true);
    world.plantZombie('203.0.113.0/24', 0);
    expect(world.visibleRoutes('203.0.113.0/24', now)).toEqual([]);
  });

  it('shows Cloudflare\'s prepends on the AS path', () => {
    const world = new World({ clock: new SimClock(1), seed: 7 });
    world.announce('203.0.113.0/24', 13335, { delayMs: 0, rampMs: 0 });
    world.setPrepend('203.0.113.0/24', 13335, 3);
    const path = world.visibleRoutes('203.0.113.0/24')[0]!.asPath;
    expect(path.slice(-4)).toEqual([13335, 13335, 13335, 13335]);
  });
});

describe('peer routes from a looking-glass answer', () => {
  it('names collector, peer, peer AS and path; an AS_SET origin is null, not a crash', () => {
    const body = {
      status: 'ok',
      data: { rrcs: [{ rrc: 'RRC00', peers: [{ peer: '198.18.0.10', as_path: '174 3356 13335', asn_origin: '13335' }, { peer: '198.18.0.11', as_path: '174 {64500,64501}' }] }] },
    };
    const routes = peerRoutes(body as never);
    expect(routes[0]).toEqual({ collector: 'RRC00', peer: '198.18.0.10', peerAsn: 174, origin: 13335, asPath: [174, 3356, 13335] });
    expect(routes[1]).toMatchObject({ collector: 'RRC00', peer: '198.18.0.11', peerAsn: 174, origin: null });
  });
});

describe('the card and the confirm dialog of a staged withdraw', () => {
  const planned = () =>
    makeOperation({
      checks: [{ id: 'withdraw:drain', result: 'fail', facts: { prefix: '203.0.113.0/24', ownAsn: OWN, prepend: true, gates: ['drain', 'prepend'], minPct: 80, convergenceMs: 10 * MIN, prependPauseMs: 2 * MIN, zombieAfterMs: 15 * MIN, mode: 'required', seen: 0, usual: 60, pct: 0 } }],
    });
  it('says what the gates wait for, offers "Approve, skip gates…", and the dialog names each gate it would skip', () => {
    const op = planned();
    const card = statusCard(op);
    const text = JSON.stringify(card.blocks);
    expect(text).toContain("Staged withdraw (Cloudflare's drain):* once approved, nothing is sent until AS64500 announcing 203.0.113.0/24 itself (same length) is seen on 80% of the usual peers for 10 min, then raises AS13335's AS-path prepend 1 → 3 with 2 min between steps. Now: seen on 0% (0/60).");
    expect(cardGates(op)).toEqual(['drain', 'prepend']);
    const actions = card.blocks.find((b) => (b as { type: string }).type === 'actions') as { elements: { action_id: string }[] };
    expect(actions.elements.map((e) => e.action_id)).toEqual([ActionId.Approve, ActionId.Reject, ActionId.ApproveSkipGates]);
    const modal = confirmApproveModal(op, 'C1', cardGates(op));
    expect(JSON.parse(String(modal.private_metadata))).toMatchObject({ guards: ['drain', 'prepend'] });
    expect(JSON.stringify(modal.blocks)).toContain('Skip gate `drain`');
  });
  it('shows the wait (countdown) while executing, and no skip button once approved', () => {
    const op = { ...planned(), state: 'executing' as const, stage: { startedAt: T0, latest: 'Waiting to withdraw (Cloudflare\'s drain): AS64500 announcing 203.0.113.0/24 seen on 62% of usual peers (37/60); needs 80% (48) for 10 min.', data: { phase: 'own' } } };
    const text = JSON.stringify(statusCard(op).blocks);
    expect(text).toContain('⏳ Waiting to withdraw');
    expect(text).not.toContain(ActionId.ApproveSkipGates);
  });
});
