import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CUSTOMER_ASN, DEFAULT_SCENARIO } from '../../world/simulator/cloudflare/scenarios.js';
import { ActionId } from '../../src/slack/ids.js';
import { CHANNEL, fileRequest, testStack } from '../helpers/stack.js';

type TestStack = Awaited<ReturnType<typeof testStack>>;
const ALICE = 'U0ALICE';

async function ask(stack: TestStack, text: string, done: RegExp): Promise<string> {
  const before = stack.slack.ephemerals(ALICE).length;
  await stack.sender!.command(ALICE, text, { channel: CHANNEL });
  const e = await stack.slack.waitFor(() => stack.slack.ephemerals(ALICE).slice(before).find((x) => done.test(x.text + JSON.stringify(x.blocks))), 10_000);
  return e.text + '\n' + JSON.stringify(e.blocks);
}

const request = (stack: TestStack, kind: 'withdraw' | 'advertise', cidr: string) => fileRequest(stack, ALICE, kind, cidr, 'routing view drill');

describe('the routing view in Slack', () => {
  let stack: TestStack;
  beforeEach(async () => {
    stack = await testStack();
  });
  afterEach(async () => {
    await stack.cleanup();
  });

  it('/byoip preflight reports each check with pass / fail and what to fix', async () => {
    const good = await ask(stack, 'preflight 203.0.113.0/24', /Preflight 203\.0\.113\.0\/24/);
    expect(good).toMatch(/RPKI/);
    expect(good).toMatch(/IRR/);
    const bad = await ask(stack, 'preflight 192.0.2.0/24', /Preflight 192\.0\.2\.0\/24/);
    expect(bad).toMatch(/fail/i);
    expect(await ask(stack, 'preflight 203.0.113.0/24 AS99999999999', /not an AS number/)).toContain('1 to 4294967295');
  });

  it('the withdraw card says the team\'s own AS is announcing a covering prefix', async () => {
    const card = await request(stack, 'withdraw', DEFAULT_SCENARIO.prefixes.advertised.cidr);
    expect(JSON.stringify(card.blocks)).toContain(`AS${CUSTOMER_ASN} (yours) is seen announcing ${DEFAULT_SCENARIO.customerAggregate}`);
  });

  it('the withdraw card warns when the team\'s own AS is not seen: withdrawing would leave the prefix unreachable', async () => {
    stack.world.withdraw(DEFAULT_SCENARIO.customerAggregate, CUSTOMER_ASN, { delayMs: 0, decayMs: 0 });
    const card = await request(stack, 'withdraw', DEFAULT_SCENARIO.prefixes.advertised.cidr);
    expect(JSON.stringify(card.blocks)).toContain(`AS${CUSTOMER_ASN} (yours) is not seen announcing`);
    expect(JSON.stringify(card.blocks)).toContain('unreachable');
  });

  it('flags a hijack: another origin announcing the prefix while Cloudflare advertises it', async () => {
    const cidr = DEFAULT_SCENARIO.prefixes.withdrawn.cidr;
    stack.world.announce(cidr, 64666, { delayMs: 0, rampMs: 0, reach: 0.3 });
    const card = await request(stack, 'advertise', cidr);
    await stack.sender!.clickButton('U0BOB', { channel: CHANNEL, messageTs: card.ts, actionId: ActionId.Approve });
    const alarm = await stack.slack.waitFor(() => stack.slack.messages(CHANNEL).find((m) => m.text.includes('Unexpected origin')), 20_000);
    expect(alarm.text).toContain('AS64666');
    expect(alarm.threadTs).toBe(card.ts);
    const op = (await stack.bot!.store.recent(1))[0]!;
    const audit = await stack.bot!.store.auditTrail(op.id);
    expect(audit.map((a) => a.type)).toContain('cloudflare_call');
  });
});

describe('a prefix half-way through onboarding', () => {
  let stack: TestStack;
  beforeEach(async () => {
    stack = await testStack({ scenario: 'onboarding' });
  });
  afterEach(async () => {
    await stack.cleanup();
  });

  it('/byoip status <cidr> runs the preflight with the prefix\'s own ownership token and says what to fix', async () => {
    const out = await ask(stack, 'status 192.0.2.0/24', /Preflight 192\.0\.2\.0\/24/);
    expect(out).toMatch(/ownership|token/i);
    expect(out).toMatch(/fail/i);
    expect(out).toContain('cf-validation');
  });
});
