import { newOperation, newWatch, type Operation } from '../src/domain/operation.js';
import type { VisibilitySample } from '../src/routing/looking-glass.js';
import { evaluatePropagation, type PropagationInput } from '../src/routing/propagation.js';
import { statusCard } from '../src/slack/views/status-card.js';
import { memory, nowMs, type Row } from './lib.js';

const ITERATIONS = 100_000;
const WARMUP = 10_000;

const sample: VisibilitySample = {
  prefix: '203.0.113.0/24',
  at: new Date('2026-07-13T10:00:00Z'),
  peersSeeing: 104,
  collectors: 8,
  byOrigin: { 13335: 71, 64500: 30, 64666: 3 },
  byCollector: { RRC00: 13, RRC01: 14, RRC03: 13, RRC04: 12, RRC05: 13, RRC06: 13, RRC07: 13, RRC10: 13 },
};

// A withdraw half-way: still seen, an unexpected origin flagged, past the escalation time (every branch that builds text).
const input: PropagationInput = { action: 'withdraw', sample, ownOrigins: [64500], usualPeerCount: 96, elapsedMs: 31 * 60_000 };

const at = Date.parse('2026-07-13T10:00:00Z');
const operation: Operation = newOperation(
  {
    id: 'op-0123456789abcdef',
    kind: 'withdraw',
    prefix: '203.0.113.0/24',
    accountId: '258def64c72dae45f3e4c8516e2111f2',
    prefixId: '2af39739cc4e3b5910c918468bb89828',
    bgpPrefixId: '7009ba364c7a5760798ceb430e603b74',
    requestedBy: 'U0ALICE',
    reason: 'move traffic back to our DC for maintenance CHG-1234',
    channel: 'C0NETOPS',
    cardTs: '1700000000.000100',
    state: 'verifying',
    updatedAt: at + 120_000,
    expiresAt: at + 30 * 60_000,
    approvalsRequired: 2,
    approvals: [
      { userId: 'U0BOB', at: at + 60_000 },
      { userId: 'U0CAROL', at: at + 70_000 },
    ],
    decidedBy: 'U0CAROL',
    approvedAt: at + 70_000,
    guards: [
      { id: 'own-announcement', status: 'pass', overridable: true, facts: { status: 'covering', ownAsn: 64500, prefix: '203.0.113.0/24', seenPrefix: '203.0.112.0/23', peers: 212 }, checkedAt: at + 75_000 },
      { id: 'preflight:rpki', status: 'warn', overridable: false, facts: { detail: 'ROA for AS13335 is valid, but maxLength is /23' }, checkedAt: at + 75_000 },
    ],
    guardsAt: at + 75_000,
    override: { by: 'U0CAROL', at: at + 70_000, reason: 'maxLength is fine for this /24, checked with the RIR', guards: ['preflight:rpki'] },
    cloudflare: {
      at: at + 80_000,
      request: 'PATCH .../bgp/prefixes/7009ba364c7a5760798ceb430e603b74 {"on_demand":{"advertised":false}}',
      outcome: 'called',
      result: { advertised: false, modifiedAt: '2026-07-13T10:01:20Z' },
    },
    watch: {
      ...newWatch(at + 80_000, { phase: 'routing', lastVerdict: 'withdrawing', lastPostedPeers: 71, flaggedOrigins: [] }),
      samples: 4,
      latest: 'Withdrawing: 71/96 peers still see 203.0.113.0/24 from AS13335 (74%); withdrawn below 10',
    },
  },
  at,
);

/** `fn` 100k times after a warm-up; the sink keeps the optimiser from dropping the work. */
function measure(name: string, fn: () => number): Row {
  let sink = 0;
  for (let i = 0; i < WARMUP; i++) sink += fn();
  const memBefore = memory();
  const t0 = nowMs();
  for (let i = 0; i < ITERATIONS; i++) sink += fn();
  const ms = nowMs() - t0;
  const memAfter = memory();
  const nsPerOp = (ms * 1e6) / ITERATIONS;
  return {
    bench: 'pure',
    case: name,
    count: ITERATIONS,
    perSec: ITERATIONS / (ms / 1000),
    memBefore,
    memAfter,
    note: `${nsPerOp.toFixed(0)} ns/op (${WARMUP} warm-up calls first; sink ${sink > 0 ? 'used' : 'empty'})`,
  };
}

/** The pure functions on the watch and Slack paths, timed in a tight loop. */
export async function run(): Promise<Row[]> {
  return [
    measure('evaluatePropagation (withdraw, escalating, hijack flag)', () => evaluatePropagation(input).summary.length),
    measure('statusCard (verifying, 2 approvals, 2 guards, override)', () => statusCard(operation).blocks.length),
  ];
}
