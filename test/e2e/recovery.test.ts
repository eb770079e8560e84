import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBot, type RunningBot } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { DEFAULT_SCENARIO } from '../../world/simulator/cloudflare/scenarios.js';
import { CHANNEL, patchCalls, testStack } from '../helpers/stack.js';

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
    const op = await stack.bot!.service.request({ kind: 'withdraw', cidr: p.cidr, userId: 'U0ALICE', channel: CHANNEL, reason: 'lost job drill' });
    await stack.bot!.service.approve(op.id, 'U0BOB');
    expect((await stack.bot!.store.get(op.id))!.state).toBe('approved');
    // The crash: the record says approved, but the job is gone.
    const queue = stack.bot!.dispatcher.queues.execute;
    expect(await queue.getJob(`execute-${op.id}`)).toBeDefined();
    await queue.remove(`execute-${op.id}`);
    expect(await queue.getJob(`execute-${op.id}`)).toBeUndefined();

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
