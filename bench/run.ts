/**
 * `npm run bench [-- name ...]`: runs the benchmarks in order (or only the named ones) and prints one table.
 * A benchmark is not a test: it prints numbers and never fails on a timing. The exit code is non-zero only
 * when a benchmark could not run at all (e.g. Redis is down).
 */
import { cpus } from 'node:os';
import { memory, type Row } from './lib.js';

type Bench = { name: string; about: string; load: () => Promise<{ run(): Promise<Row[]> }> };

const BENCHES: Bench[] = [
  { name: 'commands', about: 'slash command ack latency (Bolt HTTP receiver)', load: () => import('./commands.js') },
  { name: 'ack-floor', about: 'the bot\'s ack beside a bare Bolt app, and a 2,000-command burst at 400/s', load: () => import('./ack-floor.js') },
  { name: 'approve', about: '50 approvers clicking Approve at once', load: () => import('./approve.js') },
  { name: 'withdraw', about: 'end-to-end withdraw at time scale 600', load: () => import('./withdraw.js') },
  { name: 'break-glass', about: 'emergency command -> confirm step -> Send now -> PATCH, 100 runs', load: () => import('./break-glass.js') },
  { name: 'multi-emergency', about: 'a 10-prefix emergency: command -> one confirm step -> Send now -> last PATCH, 12 runs', load: () => import('./multi-emergency.js') },
  { name: 'alerts', about: 'Cloudflare webhook in -> alert card posted, 120 runs', load: () => import('./alerts.js') },
  { name: 'ris-live', about: 'RIS Live message -> alert card / thread reply, beside the polling paths', load: () => import('./ris-live.js') },
  { name: 'store', about: 'OperationStore create + 10 updates', load: () => import('./store.js') },
  { name: 'poll-scale', about: 'routing monitor polling with the stream down (by default 2,000 prefixes, 3 worker replicas, 4 ticks of 4 s)', load: () => import('./poll-scale.js') },
  { name: 'coalesce', about: '500 watchers of one prefix through CoalescedReader', load: () => import('./coalesce.js') },
  { name: 'budget', about: 'CloudflareClient reads under a shared RequestBudget', load: () => import('./budget.js') },
  { name: 'pure', about: 'evaluatePropagation and statusCard', load: () => import('./pure.js') },
];

const HARD_LIMIT_MS = 170_000;

async function main(): Promise<void> {
  const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  const unknown = wanted.filter((w) => !BENCHES.some((b) => b.name === w));
  if (unknown.length) {
    console.error(`Unknown benchmark ${unknown.join(', ')}; choose from ${BENCHES.map((b) => b.name).join(', ')}.`);
    process.exitCode = 2;
    return;
  }
  const selected = wanted.length ? BENCHES.filter((b) => wanted.includes(b.name)) : BENCHES;
  console.log(`byoip-bot benchmarks: node ${process.version}, ${cpus().length} CPUs (${cpus()[0]?.model.trim() ?? 'unknown'}), ${new Date().toISOString()}`);

  // Bounded in time: a benchmark that hangs must not hang CI.
  const guard = setTimeout(() => {
    console.error(`Benchmarks still running after ${HARD_LIMIT_MS / 1000} s; giving up.`);
    process.exit(3);
  }, HARD_LIMIT_MS);
  guard.unref();

  const rows: Row[] = [];
  let failed = 0;
  for (const b of selected) {
    process.stderr.write(`- ${b.name}: ${b.about} ... `);
    const started = Date.now();
    const before = memory();
    try {
      const { run } = await b.load();
      const got = await run();
      const after = memory();
      for (const r of got) rows.push({ ...r, memBefore: r.memBefore ?? before, memAfter: r.memAfter ?? after });
      process.stderr.write(`${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    } catch (err) {
      failed++;
      process.stderr.write('failed\n');
      console.error(`  ${b.name} could not run: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    }
  }
  clearTimeout(guard);
  printTable(rows);
  if (failed) process.exitCode = 1;
}

const fmt = (n: number | undefined, digits = 1) => (n === undefined || Number.isNaN(n) ? '-' : n >= 1000 ? Math.round(n).toString() : n.toFixed(digits));
const mb = (n: number | undefined) => (n === undefined ? '-' : n.toFixed(0));

function printTable(rows: Row[]): void {
  const head = ['benchmark', 'case', 'n', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms', 'per s', 'RSS MB', 'heap MB', 'note'];
  let noteNo = 0;
  const noteIds = rows.map((r) => (r.note ? ++noteNo : 0));
  const body = rows.map((r, i) => [
    r.bench,
    r.case,
    String(r.count),
    fmt(r.p50, 2),
    fmt(r.p95, 2),
    fmt(r.p99, 2),
    fmt(r.max, 2),
    fmt(r.perSec, 1),
    `${mb(r.memBefore?.rssMb)} -> ${mb(r.memAfter?.rssMb)}`,
    `${mb(r.memBefore?.heapMb)} -> ${mb(r.memAfter?.heapMb)}`,
    r.note ? `[${noteIds[i]}]` : '',
  ]);
  const widths = head.map((h, c) => Math.max(h.length, ...body.map((row) => row[c]!.length)));
  const numeric = new Set([2, 3, 4, 5, 6, 7]);
  const line = (cells: string[]) => cells.map((cell, c) => (numeric.has(c) ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join('  ');
  console.log('');
  console.log(line(head));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of body) console.log(line(row));
  const notes = rows.map((r, i) => (r.note ? `[${noteIds[i]}] ${r.bench} / ${r.case}: ${r.note}` : '')).filter(Boolean);
  if (notes.length) {
    console.log('');
    for (const n of notes) console.log(n);
  }
}

main().then(
  () => process.exit(),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
