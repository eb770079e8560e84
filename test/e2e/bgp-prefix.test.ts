/** `/byoip bgp create|delete`: BGP prefixes from Slack, their rules checked at the command, approved, one call each. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_SCENARIO } from '../../world/simulator/cloudflare/scenarios.js';
import { ActionId } from '../../src/slack/ids.js';
import { CHANNEL, cardFor, checklist, reason, testStack } from '../helpers/stack.js';

type TestStack = Awaited<ReturnType<typeof testStack>>;
const A = DEFAULT_SCENARIO.prefixes.advertised; // 203.0.113.0/24, its BGP prefix advertised
const W = DEFAULT_SCENARIO.prefixes.withdrawn; // 198.51.100.0/24, its BGP prefix withdrawn
const BIG = { id: 'b16b16b16b16b16b16b16b16b16b16b1', cidr: '198.18.0.0/23', bindingId: 'b1dd1b1dd1b1dd1b1dd1b1dd1b1dd1b1' };

let stack: TestStack;
beforeEach(async () => {
  stack = await testStack();
  // A /23 (approved, default binding active) so that a more specific /24 can be announced.
  const base = stack.cloudflare.state.prefixes.get(W.id)!;
  stack.cloudflare.state.prefixes.set(BIG.id, { ...base, id: BIG.id, cidr: BIG.cidr });
  const binding = stack.cloudflare.state.bindings.get(W.bindingId)!;
  stack.cloudflare.state.bindings.set(BIG.bindingId, { ...binding, id: BIG.bindingId, prefixId: BIG.id, cidr: BIG.cidr });
});
afterEach(async () => {
  await stack.cleanup();
});

const calls = (method: string) => stack.cloudflare.state.calls.filter((c) => c.method === method && /\/bgp\/prefixes/.test(c.path));
const bgpCidrs = () => [...stack.cloudflare.state.bgpPrefixes.values()].map((b) => b.cidr);

async function file(text: string, cidr: string) {
  const previous = cardFor(stack, cidr)?.ts;
  await stack.sender!.command('U0ALICE', text, { channel: CHANNEL });
  const modal = await stack.slack.waitFor(() => stack.slack.openModal('U0ALICE'), 5000).catch((err: unknown) => {
    throw new Error(`no form: ${stack.slack.ephemerals('U0ALICE').at(-1)?.text ?? String(err)}`);
  });
  await stack.sender!.submitView('U0ALICE', modal.id, { ...reason('CHG-77 more specifics'), ...checklist });
  return stack.slack.waitFor(() => {
    const card = cardFor(stack, cidr);
    return card && card.ts !== previous ? card : undefined;
  }, 20_000);
}

async function approve(cardTs: string, ending: string) {
  await stack.sender!.clickButton('U0ALICE', { channel: CHANNEL, messageTs: cardTs, actionId: ActionId.Approve }); // her own: refused
  await stack.sender!.clickButton('U0BOB', { channel: CHANNEL, messageTs: cardTs, actionId: ActionId.Approve });
  return stack.slack.waitFor(() => stack.slack.thread(CHANNEL, cardTs).find((m) => m.text.startsWith(ending)), 20_000);
}

async function ask(text: string) {
  const before = stack.slack.ephemerals('U0ALICE').length;
  await stack.sender!.command('U0ALICE', text, { channel: CHANNEL });
  return (await stack.slack.waitFor(() => stack.slack.ephemerals('U0ALICE').at(before), 5000)).text;
}

describe('/byoip bgp create', () => {
  it('creates a more specific /24 of a /23, approved by a second person, one POST, listed withdrawn: Done', async () => {
    const card = await file(`bgp create ${BIG.cidr} 198.18.1.0/24`, '198.18.1.0/24');
    expect(JSON.stringify(card.blocks)).toContain('*withdrawn*');
    const done = await approve(card.ts, 'Done:');
    expect(done.text).toContain('198.18.1.0/24 is listed on 198.18.0.0/23');
    expect(calls('POST')).toHaveLength(1);
    expect(calls('POST')[0]!.body).toMatchObject({ cidr: '198.18.1.0/24' });
    const made = [...stack.cloudflare.state.bgpPrefixes.values()].find((b) => b.cidr === '198.18.1.0/24')!;
    expect(made.advertised).toBe(false);
    expect(stack.slack.thread(CHANNEL, card.ts).map((m) => m.text).join('\n')).toMatch(/Approved by/);
  });

  it("explains each of Cloudflare's three create errors in plain words with the fix", async () => {
    const cases: [() => void, RegExp][] = [
      [() => (stack.cloudflare.state.prefixes.get(BIG.id)!.approved = 'P'), /not validated and approved yet.*\/byoip validate 198\.18\.0\.0\/23/],
      [() => stack.cloudflare.state.bindings.delete(BIG.bindingId), /no default service binding.*\/byoip bind 198\.18\.0\.0\/23/],
      [() => (stack.cloudflare.state.bindings.get(BIG.bindingId)!.activeAt = Number.MAX_SAFE_INTEGER), /still being deployed.*4 to 6 hours/],
    ];
    let n = 0;
    for (const [breakIt, why] of cases) {
      const card = await file(`bgp create ${BIG.cidr} 198.18.0.0/24`, '198.18.0.0/24');
      const restore = structuredClone({ p: stack.cloudflare.state.prefixes.get(BIG.id)!, b: stack.cloudflare.state.bindings.get(BIG.bindingId)! });
      breakIt();
      const failed = await approve(card.ts, 'Failed:');
      expect(failed.text).toMatch(why);
      expect(failed.text).toContain('Nothing was changed');
      expect(calls('POST')).toHaveLength(++n); // one refused POST each, no resend
      stack.cloudflare.state.prefixes.set(BIG.id, restore.p);
      stack.cloudflare.state.bindings.set(BIG.bindingId, restore.b);
    }
    expect(bgpCidrs()).not.toContain('198.18.0.0/24');
  });

  it('a create that landed but answered 500 is not sent again: the retry reads the list, finds it, Done', async () => {
    await stack.cleanup();
    stack = await testStack({ executeAttempts: 2 });
    const base = stack.cloudflare.state.prefixes.get(W.id)!;
    stack.cloudflare.state.prefixes.set(BIG.id, { ...base, id: BIG.id, cidr: BIG.cidr });
    const binding = stack.cloudflare.state.bindings.get(W.bindingId)!;
    stack.cloudflare.state.bindings.set(BIG.bindingId, { ...binding, id: BIG.bindingId, prefixId: BIG.id, cidr: BIG.cidr });
    stack.cloudflare.addFault({ path: '/bgp/prefixes$', method: 'POST', kind: 'error', status: 500, applied: 'after', times: 1 });
    const card = await file(`bgp create ${BIG.cidr} 198.18.1.0/24`, '198.18.1.0/24');
    await approve(card.ts, 'Done:');
    expect(calls('POST')).toHaveLength(1);
    expect(bgpCidrs().filter((c) => c === '198.18.1.0/24')).toHaveLength(1);
  }, 40_000);

  it('refuses at the command what breaks the rules, no form, nothing sent', async () => {
    expect(await ask(`bgp create ${BIG.cidr} 203.0.113.0/24`)).toMatch(/not inside 198\.18\.0\.0\/23/);
    expect(await ask(`bgp create ${BIG.cidr} 198.18.0.0/25`)).toMatch(/too small to announce.*\/24 or shorter/);
    expect(await ask(`bgp create ${A.cidr} ${A.cidr}`)).toMatch(/already a BGP prefix/);
    expect(await ask('bgp create 192.0.2.0/24 192.0.2.0/24')).toMatch(/not a prefix on the Cloudflare accounts/);
    expect(await ask('bgp create 198.18.0.0/23')).toMatch(/bgp create <prefix> <bgp-prefix>/);
    expect(stack.slack.openModal('U0ALICE')).toBeUndefined();
    expect(calls('POST')).toHaveLength(0);
    expect(await stack.bot!.store.recent(5)).toHaveLength(0);
  });
});

describe('/byoip bgp delete', () => {
  it('deletes a withdrawn BGP prefix, approved by a second person, one DELETE: Done; an advertised one is refused with the fix', async () => {
    expect(await ask(`bgp delete ${A.cidr} ${A.cidr}`)).toMatch(/is advertised.*Withdraw it first with `\/byoip withdraw 203\.0\.113\.0\/24`/);
    expect(await ask(`bgp delete ${W.cidr} 198.51.100.0/25`)).toMatch(/is not a BGP prefix of 198\.51\.100\.0\/24/);
    expect(calls('DELETE')).toHaveLength(0);
    const card = await file(`bgp delete ${W.cidr} ${W.cidr}`, W.cidr);
    const done = await approve(card.ts, 'Done:');
    expect(done.text).toContain(`BGP prefix ${W.cidr} is gone`);
    expect(calls('DELETE')).toHaveLength(1);
    expect(stack.cloudflare.state.bgpPrefixes.has(W.bgpPrefixId)).toBe(false);
  });

  it('advertised between filing and approval: the guard closes it before the DELETE, with the fix', async () => {
    const card = await file(`bgp delete ${W.cidr} ${W.cidr}`, W.cidr);
    stack.cloudflare.state.bgpPrefixes.get(W.bgpPrefixId)!.advertised = true;
    const failed = await approve(card.ts, 'Failed:');
    expect(failed.text).toMatch(/withdraw/i);
    expect(calls('DELETE')).toHaveLength(0);
  });
});
