/**
 * One mutation, once, even when BullMQ runs one execute job twice at the same time (a job whose lock renewal was
 * late is taken for stalled and run again while its first run still goes on). Both runs read before they write; the
 * call record is what decides: the run that finds another's record where it expected none sends nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHANNEL, cardFor, checklist, reason, testStack } from '../helpers/stack.js';
import { ActionId } from '../../src/slack/ids.js';

type TestStack = Awaited<ReturnType<typeof testStack>>;
const CIDR = '192.0.2.0/24';

describe('an execute job run twice at once', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await testStack({ scenario: 'fresh' });
  });
  afterAll(async () => {
    await stack?.cleanup();
  });
  /** alice asks to onboard `cidr` through the modal; returns the request's card and record, not yet approved. */
  async function requestOnboard(cidr: string, why: string) {
    await stack.sender!.command('U0ALICE', `onboard ${cidr} 13335`, { channel: CHANNEL });
    const modal = await stack.slack.waitFor(() => stack.slack.openModal('U0ALICE'), 5000);
    await stack.sender!.submitView('U0ALICE', modal.id, { ...reason(why), ...checklist });
    const card = await stack.slack.waitFor(() => cardFor(stack, cidr), 20_000);
    const op = (await stack.bot!.store.active()).find((o) => o.prefix === cidr)!;
    return { card, op };
  }

  it('a non-idempotent create (onboard: POST /prefixes) is sent once; the second run sends nothing and says why in the audit', async () => {
    const creates = () => stack.cloudflare.state.calls.filter((c) => c.method === 'POST' && /\/addressing\/prefixes$/.test(c.path));
    const { card, op } = await requestOnboard(CIDR, 'new anycast block');
    // Every prefix-list read held 600 ms: both runs are inside their read-before-write at the same time.
    stack.cloudflare.addFault({ path: '/addressing/prefixes$', method: 'GET', kind: 'latency', ms: 600 });
    await stack.sender!.clickButton('U0BOB', { channel: CHANNEL, messageTs: card.ts, actionId: ActionId.Approve });
    await stack.slack.waitFor(async () => (await stack.bot!.store.get(op.id))?.state === 'executing' || undefined, 10_000);
    // The same job again (same generation), as BullMQ's stalled-job check would run it.
    await stack.bot!.dispatcher.queues.execute.add('execute', { opId: op.id, gen: 0 }, { jobId: `execute-${op.id}-0-stalled-rerun` });
    const done = await stack.slack.waitFor(() => stack.slack.thread(CHANNEL, card.ts).find((m) => m.text.startsWith('Done:')), 30_000);
    expect(done.text).toContain(CIDR);
    expect(creates()).toHaveLength(1);
    expect([...stack.cloudflare.state.prefixes.values()].filter((p) => p.cidr === CIDR)).toHaveLength(1);
    const audit = await stack.bot!.store.auditTrail(op.id);
    expect(audit.filter((a) => a.type === 'cloudflare_call')).toHaveLength(1);
    expect(audit.filter((a) => a.type === 'send_refused')).toHaveLength(1);
    expect(stack.slack.thread(CHANNEL, card.ts).some((m) => /^Failed:/.test(m.text))).toBe(false);
  }, 60_000);

  it('a second run that reads only after the first one created the prefix does not call it "already added" (nothing sent, nothing failed)', async () => {
    const cidr = '198.51.100.0/24';
    const creates = () => stack.cloudflare.state.calls.filter((c) => c.method === 'POST' && /\/addressing\/prefixes$/.test(c.path) && JSON.stringify(c.body).includes(cidr));
    stack.cloudflare.faults.length = 0;
    const { card, op } = await requestOnboard(cidr, 'second anycast block');
    // The first run's read of the prefix list is held 1 s; the second run starts 0.5 s into it, so it loads the
    // request before the first run records its call. The first run's POST is applied at once and answered 2 s later:
    // the second run's own read ends while the first run still waits for that answer (still executing), sees the new
    // prefix, and would call it "already added" and close the request as failed.
    const held = stack.cloudflare.addFault({ path: '/addressing/prefixes$', method: 'GET', kind: 'latency', ms: 1000 });
    stack.cloudflare.addFault({ path: '/addressing/prefixes$', method: 'POST', kind: 'timeout', applied: 'after', ms: 2000 });
    await stack.sender!.clickButton('U0BOB', { channel: CHANNEL, messageTs: card.ts, actionId: ActionId.Approve });
    await stack.slack.waitFor(() => held.hits > 0 || undefined, 10_000);
    await new Promise((r) => setTimeout(r, 500));
    await stack.bot!.dispatcher.queues.execute.add('execute', { opId: op.id, gen: 0 }, { jobId: `execute-${op.id}-0-late-rerun` });
    const done = await stack.slack.waitFor(() => stack.slack.thread(CHANNEL, card.ts).find((m) => /^(Done|Failed):/.test(m.text)), 30_000);
    expect(done.text).toMatch(/^Done:/);
    expect(creates()).toHaveLength(1);
    const audit = await stack.bot!.store.auditTrail(op.id);
    expect(audit.filter((a) => a.type === 'cloudflare_call')).toHaveLength(1);
    expect(audit.filter((a) => a.type === 'send_refused')).toHaveLength(1);
    expect(audit.find((a) => a.type === 'send_refused')?.data).toMatchObject({ refused: 'already_added' });
    expect((await stack.bot!.store.get(op.id))?.state).toBe('done');
    expect(stack.slack.thread(CHANNEL, card.ts).some((m) => /^Failed:/.test(m.text))).toBe(false);
  }, 60_000);
});
