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

  it('a non-idempotent create (onboard: POST /prefixes) is sent once; the second run sends nothing and says why in the audit', async () => {
    const creates = () => stack.cloudflare.state.calls.filter((c) => c.method === 'POST' && /\/addressing\/prefixes$/.test(c.path));
    await stack.sender!.command('U0ALICE', `onboard ${CIDR} 13335`, { channel: CHANNEL });
    const modal = await stack.slack.waitFor(() => stack.slack.openModal('U0ALICE'), 5000);
    await stack.sender!.submitView('U0ALICE', modal.id, { ...reason('new anycast block'), ...checklist });
    const card = await stack.slack.waitFor(() => cardFor(stack, CIDR), 20_000);
    const op = (await stack.bot!.store.active()).find((o) => o.prefix === CIDR)!;
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
  });
});
