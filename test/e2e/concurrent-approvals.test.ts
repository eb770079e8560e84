import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SCENARIO } from '../../world/simulator/cloudflare/scenarios.js';
import { ActionId } from '../../src/slack/ids.js';
import { SANDBOX_GROUPS } from '../../world/sandbox/stack.js';
import { CHANNEL, fileRequest, patchCalls, testStack, redisModes } from '../helpers/stack.js';

type TestStack = Awaited<ReturnType<typeof testStack>>;

describe.each(redisModes())('20 approvers clicking Approve at once ($name)', ({ redisClusterNodes }) => {
  let stack: TestStack;
  const approvers = Array.from({ length: 20 }, (_, i) => `U0APPR${String(i).padStart(2, '0')}`);
  beforeAll(async () => {
    stack = await testStack({ ...(redisClusterNodes ? { redisClusterNodes } : {}), extraUsers: approvers.map((id) => ({ id, name: id.toLowerCase() })) });
  });
  afterAll(async () => {
    await stack.cleanup();
  });

  it('makes exactly one Cloudflare call and one approval', async () => {
    stack.slack.setUsergroupUsers(SANDBOX_GROUPS.approvers.id, approvers);
    await new Promise((r) => setTimeout(r, 1100)); // past the bot's 1 s group cache

    const p = DEFAULT_SCENARIO.prefixes.advertised;
    const card = await fileRequest(stack, 'U0ALICE', 'withdraw', p.cidr, 'race drill');

    const results = await Promise.all(approvers.map((u) => stack.sender!.clickButton(u, { channel: CHANNEL, messageTs: card.ts, actionId: ActionId.Approve })));
    expect(results.every((r) => r.status === 200)).toBe(true);
    await stack.slack.waitFor(() => stack.slack.thread(CHANNEL, card.ts).find((m) => m.text.includes('Done:')), 20_000);

    const patches = patchCalls(stack, p.bgpPrefixId);
    expect(patches).toHaveLength(1);
    const op = (await stack.bot!.store.recent(1))[0]!;
    expect(op.approvals).toHaveLength(1);
    const audit = await stack.bot!.store.auditTrail(op.id);
    expect(audit.filter((a) => a.type === 'approved')).toHaveLength(1);
    expect(audit.filter((a) => a.type === 'approval_refused')).toHaveLength(19);
    expect(stack.slack.thread(CHANNEL, card.ts).filter((m) => m.text.includes('Approved by'))).toHaveLength(1);
    // the 19 late clickers are told, privately, who got there first
    await stack.slack.waitFor(() => (stack.slack.ephemerals().filter((e) => e.text.includes('already approved by <@') && e.text.includes('changed nothing')).length === 19 ? true : undefined), 5000);
  });
});
