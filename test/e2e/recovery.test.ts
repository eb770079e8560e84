import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBot, type RunningBot } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { DEFAULT_SCENARIO } from '../../world/simulator/cloudflare/scenarios.js';
import { queueNames } from '../../src/jobs/queues.js';
import { createRedis } from '../../src/redis.js';
import { CHANNEL, REDIS_URL, patchCalls, testStack } from '../helpers/stack.js';

type TestStack = Awaited<ReturnType<typeof testStack>>;

describe('an approved request whose job was lost', () => {
  let stack: TestStack;
  let worker: RunningBot | null = null;
  beforeAll(async () => {
    stack = await testStack({ role: 'web' }); // no workers yet: the approval's execute job waits in the queue
  });
  afterAll(async () => {
    await worker?.stop();
    await stack.cleanup();
  });

  it('is found by the maintenance sweep and carried out once', async () => {
    const p = DEFAULT_SCENARIO.prefixes.advertised;
    // No worker runs yet, so drive the service directly: request, then approve (which enqueues the execute job).
    const op = await stack.bot!.service.request({ kind: 'withdraw', cidr: p.cidr, userId: 'U0ALICE', reason: 'lost job drill' });
    await stack.bot!.service.approve(op.id, 'U0BOB');
    expect((await stack.bot!.store.get(op.id))!.state).toBe('approved');
    // The crash: the record says approved, but the job is gone.
    const queue = stack.bot!.dispatcher.queues.execute;
    expect(await queue.getJob(`execute-${op.id}-0`)).toBeDefined();
    await queue.remove(`execute-${op.id}-0`);
    expect(await queue.getJob(`execute-${op.id}-0`)).toBeUndefined();

    worker = await startBot({ config: loadConfig(stack.env), logger: createLogger({ level: 'silent' }), role: 'worker' });
    const card = await stack.slack.waitFor(() => stack.slack.messages(CHANNEL).find((m) => !m.threadTs && m.text.includes(p.cidr)), 10_000);
    await stack.slack.waitFor(() => stack.slack.thread(CHANNEL, card.ts).find((m) => m.text.includes('Done:')), 30_000);
    const patches = patchCalls(stack, p.bgpPrefixId);
    expect(patches).toHaveLength(1);
    expect(await stack.bot!.store.active()).toHaveLength(0);
    const audit = (await stack.bot!.store.auditTrail(op.id)).map((a) => a.type);
    expect(audit.filter((t) => t === 'cloudflare_call')).toHaveLength(1);
  });
});

/** A stand-in for a process that handled a job and then died before acting on the operation. */
async function settleJob(stack: TestStack, queueName: 'execute', outcome: 'fail' | 'complete'): Promise<void> {
  const { Worker, UnrecoverableError } = await import('bullmq');
  const names = queueNames(stack.prefix);
  const connection = createRedis({ url: REDIS_URL, maxRetriesPerRequest: null });
  const done = new Promise<void>((resolve) => {
    const w = new Worker(
      names[queueName],
      async () => {
        if (outcome === 'fail') throw new UnrecoverableError('simulated crash after the last attempt');
      },
      { connection: connection as never, prefix: names.prefix },
    );
    w.on(outcome === 'fail' ? 'failed' : 'completed', () => {
      void w.close().then(() => connection.quit().then(() => resolve()));
    });
  });
  await done;
}

describe('recovery looks at the job\'s real state and decides from the record', () => {
  let stack: TestStack;
  let worker: RunningBot | null = null;
  beforeAll(async () => {
    stack = await testStack({ role: 'web', approvalValidFor: '2s' });
  });
  afterAll(async () => {
    await worker?.stop();
    await stack.cleanup();
  });

  it('an execute that failed for good while its process died closes honestly: Failed, a call may have reached Cloudflare, unlocked', async () => {
    const p = DEFAULT_SCENARIO.prefixes.advertised;
    const op = await stack.bot!.service.request({ kind: 'withdraw', cidr: p.cidr, userId: 'U0ALICE', reason: 'retained failed job' });
    await stack.bot!.service.approve(op.id, 'U0BOB');
    // the record says executing with a call in flight; its job ended failed and nobody closed the request
    await stack.bot!.store.update(op.id, (o) => ({ op: { ...o, state: 'executing', cloudflare: { at: Date.now(), request: 'PATCH ...', outcome: 'called', result: {} } } }));
    await settleJob(stack, 'execute', 'fail');
    expect(await stack.bot!.dispatcher.jobState('execute', op.id, 0)).toBe('failed');
    const res = await stack.bot!.service.recoverStranded();
    expect(res.closed).toBe(1);
    const closed = (await stack.bot!.store.get(op.id))!;
    expect(closed.state).toBe('failed');
    expect(closed.final).toMatchObject({ verdict: 'failed', step: 'gave_up', facts: { mayHaveReached: true } });
    expect(await stack.bot!.store.lockHolder(p.cidr)).toBeNull();
    // a second sweep (a week later, after BullMQ pruned the job) finds nothing to replay
    await stack.bot!.dispatcher.queues.execute.remove(`execute-${op.id}-0`);
    expect(await stack.bot!.service.recoverStranded()).toEqual({ rearmed: 0, closed: 0, lapsed: 0 });
    expect(patchCalls(stack, p.bgpPrefixId)).toHaveLength(0);
  });

  it('an approved request whose job completed without acting is re-armed under a fresh job id and carried out once', async () => {
    const p = DEFAULT_SCENARIO.prefixes.withdrawn;
    const op = await stack.bot!.service.request({ kind: 'advertise', cidr: p.cidr, userId: 'U0ALICE', reason: 'retained completed job' });
    await stack.bot!.service.approve(op.id, 'U0BOB');
    await settleJob(stack, 'execute', 'complete');
    expect(await stack.bot!.dispatcher.jobState('execute', op.id, 0)).toBe('completed');
    expect((await stack.bot!.service.recoverStranded()).rearmed).toBe(1);
    expect((await stack.bot!.store.get(op.id))!.jobs.execute).toBe(1);
    worker = await startBot({ config: loadConfig(stack.env), logger: createLogger({ level: 'silent' }), role: 'worker' });
    const card = await stack.slack.waitFor(() => stack.slack.messages(CHANNEL).find((m) => !m.threadTs && m.text.includes(p.cidr)), 10_000);
    await stack.slack.waitFor(() => stack.slack.thread(CHANNEL, card.ts).find((m) => m.text.startsWith('Done:')), 30_000);
    expect(patchCalls(stack, p.bgpPrefixId)).toHaveLength(1);
    await worker.stop();
    worker = null;
  });

  it('a lost job found after the approval went stale is not executed: back to waiting for approval', async () => {
    const p = DEFAULT_SCENARIO.prefixes.advertised;
    const op = await stack.bot!.service.request({ kind: 'withdraw', cidr: p.cidr, userId: 'U0ALICE', reason: 'stale lost job' });
    await stack.bot!.service.approve(op.id, 'U0BOB');
    await stack.bot!.dispatcher.queues.execute.remove(`execute-${op.id}-0`);
    await new Promise((r) => setTimeout(r, 2200)); // approval_valid_for is 2 s here
    expect((await stack.bot!.service.recoverStranded()).lapsed).toBe(1);
    const back = (await stack.bot!.store.get(op.id))!;
    expect(back.state).toBe('awaiting_approval');
    expect(back.approvals).toHaveLength(0);
    expect(patchCalls(stack, p.bgpPrefixId)).toHaveLength(0);
  });
});

describe('the maintenance queue', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await testStack({ sweepIntervalMs: 5 });
  });
  afterAll(async () => {
    await stack.cleanup();
  });

  it('holds a bounded number of jobs after 1,000 sweeps', async () => {
    const { QueueEvents } = await import('bullmq');
    const names = queueNames(stack.prefix);
    const connection = createRedis({ url: REDIS_URL, maxRetriesPerRequest: null });
    const events = new QueueEvents(names.maintenance, { connection: connection as never, prefix: names.prefix });
    await events.waitUntilReady();
    let completed = 0;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${completed} sweeps in 90 s`)), 90_000);
      events.on('completed', () => {
        if (++completed === 1000) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    await events.close();
    await connection.quit();
    const counts = await stack.bot!.dispatcher.queues.maintenance.getJobCounts('completed', 'failed', 'wait', 'delayed');
    expect(counts.completed).toBeLessThanOrEqual(10);
    expect(counts.failed).toBeLessThanOrEqual(50);
    expect((counts.wait ?? 0) + (counts.delayed ?? 0)).toBeLessThanOrEqual(2);
  }, 120_000);
});
