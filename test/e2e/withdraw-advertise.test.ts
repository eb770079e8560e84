import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SCENARIO } from '../../world/simulator/cloudflare/scenarios.js';
import { isCluster } from '../../src/redis.js';
import { ActionId } from '../../src/slack/ids.js';
import { CHANNEL, expectWithdrawDone, fileRequest, patchCalls, testStack, texts, redisModes } from '../helpers/stack.js';

type TestStack = Awaited<ReturnType<typeof testStack>>;

const ALICE = 'U0ALICE';
const BOB = 'U0BOB';
const MALLORY = 'U0MALLORY';

const requestChange = (stack: TestStack, kind: 'withdraw' | 'advertise', cidr: string, why: string) => fileRequest(stack, ALICE, kind, cidr, why);

describe.each(redisModes())('withdraw and advertise, end to end through signed Slack requests ($name)', ({ redisClusterNodes }) => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await testStack(redisClusterNodes ? { redisClusterNodes } : {});
    // On the Cluster run, the bot really talks to the Cluster (store, queues, budget).
    expect(isCluster(stack.bot!.store.redis)).toBe(Boolean(redisClusterNodes));
  });
  afterAll(async () => {
    await stack.cleanup();
  });

  it('withdraw: self-approval and outsiders refused, bob approves, Cloudflare withdraws, the thread follows the looking glass to done', async () => {
    const p = DEFAULT_SCENARIO.prefixes.advertised;
    const card = await requestChange(stack, 'withdraw', p.cidr, 'move traffic back to our DC for maintenance CHG-1234');
    expect(JSON.stringify(card.blocks)).toContain('Approve');

    // alice cannot approve her own request
    await stack.sender!.clickButton(ALICE, { channel: CHANNEL, messageTs: card.ts, actionId: ActionId.Approve });
    const selfRefusal = await stack.slack.waitFor(() => stack.slack.ephemerals(ALICE).find((e) => e.text.includes('cannot approve')), 5000);
    expect(selfRefusal.text).toMatch(/you asked for this change/i);
    // mallory is in no approver group
    await stack.sender!.clickButton(MALLORY, { channel: CHANNEL, messageTs: card.ts, actionId: ActionId.Approve });
    const outsider = await stack.slack.waitFor(() => stack.slack.ephemerals(MALLORY).find((e) => e.text.includes('approver group')), 5000);
    expect(outsider.text).toMatch(/not in an approver group/);
    expect(patchCalls(stack, p.bgpPrefixId)).toHaveLength(0);

    await stack.sender!.clickButton(BOB, { channel: CHANNEL, messageTs: card.ts, actionId: ActionId.Approve });
    const thread = await expectWithdrawDone(stack, card.ts, p);
    const idx = (re: RegExp) => thread.findIndex((t) => re.test(t));
    // Progress is on the card only: the thread is the approval, the call sent, the verdict (nothing in between).
    expect(idx(/Done:/)).toBe(idx(/Cloudflare accepted/) + 1);
    expect(thread.filter((t) => t.includes('📡') || /Cloudflare reports/.test(t))).toHaveLength(0);

    const ops = await stack.bot!.store.recent(5);
    const op = ops.find((o) => o.prefix === p.cidr)!;
    // The looking glass losing peers, sample by sample (the card's Latest line followed them; the audit has each).
    const samples = (await stack.bot!.store.auditTrail(op.id)).filter((a) => a.type === 'sample').map((a) => Number(/(\d+)\/\d+ peers/.exec(String(a.data?.latest))?.[1] ?? NaN));
    expect(samples.length).toBeGreaterThanOrEqual(1);
    expect(samples[0]).toBeGreaterThan(Number(op.final!.facts.peers)); // down to the verdict's own sample
    expect(op.state).toBe('done');
    const audit = (await stack.bot!.store.auditTrail(op.id)).map((a) => `${a.type}:${a.actor}`);
    expect(audit).toEqual(
      expect.arrayContaining(['requested:U0ALICE', 'approval_refused:U0ALICE', 'approval_refused:U0MALLORY', 'approved:U0BOB', 'cloudflare_call:system', 'cloudflare_result:system', 'done:system']),
    );
    expect(audit.indexOf('approved:U0BOB')).toBeLessThan(audit.indexOf('cloudflare_call:system'));
    expect(await stack.bot!.store.lockHolder(p.cidr)).toBeNull();
  });

  it('advertise: bob approves, Cloudflare advertises, peers climb until propagated', async () => {
    const p = DEFAULT_SCENARIO.prefixes.withdrawn;
    const card = await requestChange(stack, 'advertise', p.cidr, 'DDoS mitigation drill INC-42');
    await stack.sender!.clickButton(ALICE, { channel: CHANNEL, messageTs: card.ts, actionId: ActionId.Approve });
    await stack.slack.waitFor(() => stack.slack.ephemerals(ALICE).filter((e) => e.text.includes('cannot approve')).at(1), 5000);
    await stack.sender!.clickButton(BOB, { channel: CHANNEL, messageTs: card.ts, actionId: ActionId.Approve });
    const done = await stack.slack.waitFor(() => stack.slack.thread(CHANNEL, card.ts).find((m) => m.text.includes('Done:')), 20_000);
    expect(done.text).toContain('propagated');
    expect(stack.cloudflare.state.bgpPrefixes.get(p.bgpPrefixId)!.advertised).toBe(true);
    expect(patchCalls(stack, p.bgpPrefixId)).toHaveLength(1);
    const thread = texts(stack.slack.thread(CHANNEL, card.ts));
    expect(thread.filter((t) => t.includes('📡'))).toHaveLength(0); // samples: on the card only
    const op = (await stack.bot!.store.recent(5)).find((o) => o.prefix === p.cidr && o.kind === 'advertise')!;
    const samples = (await stack.bot!.store.auditTrail(op.id)).filter((a) => a.type === 'sample').map((a) => Number(/(\d+)\/\d+ peers/.exec(String(a.data?.latest))?.[1] ?? NaN));
    // the samples the watch saw (audit), then the verdict's own sample: peers climbed
    const final = (await stack.bot!.store.get(op.id))!.final!;
    expect(samples.length).toBeGreaterThanOrEqual(1);
    expect(Number(final.facts.peers)).toBeGreaterThan(samples[0]!);
    await stack.slack.waitFor(() => /done/.test(stack.slack.message(CHANNEL, card.ts)?.text ?? '') || undefined, 5000);
    expect(stack.slack.message(CHANNEL, card.ts)!.text).toBe(`Advertise ${p.cidr}: done`);
  });
});
