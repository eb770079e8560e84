/** `/byoip unbind <prefix> <cidr>`: a service binding removed from Slack, its rules checked at the command, approved, one DELETE, followed until gone. */
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_SCENARIO, SERVICES_SCENARIO } from '../../world/simulator/cloudflare/scenarios.js';
import { ActionId } from '../../src/slack/ids.js';
import { CHANNEL, cardFor, checklist, reason, testStack } from '../helpers/stack.js';

type TestStack = Awaited<ReturnType<typeof testStack>>;
const S = SERVICES_SCENARIO.prefix; // 203.0.113.0/24: default CDN binding, Spectrum on 203.0.113.10/32, 203.0.113.128/25 delegated
let stack: TestStack | null = null;
afterEach(async () => {
  await stack?.cleanup();
  stack = null;
});
const mutations = (s: TestStack) => s.cloudflare.state.calls.filter((c) => c.method !== 'GET');

/** Sends a command and returns the ephemeral answer the user sees. */
async function answer(s: TestStack, user: string, text: string): Promise<string> {
  const before = s.slack.ephemerals(user).length;
  const res = await s.sender!.command(user, text, { channel: CHANNEL });
  expect(res.status).toBe(200);
  return (await s.slack.waitFor(() => s.slack.ephemerals(user).at(before), 5000)).text;
}

describe('/byoip unbind', () => {
  it('the Spectrum binding: blast radius and the 4-6 h deletion on the card, approved by a second person, one DELETE, followed until gone', async () => {
    stack = await testStack({ scenario: 'services', timeScale: 3600 }); // 4-6 simulated hours of deletion take 4-6 s
    await stack.sender!.command('U0ALICE', `unbind ${S.cidr} ${S.spectrumCidr}`, { channel: CHANNEL });
    const modal = await stack.slack.waitFor(() => stack!.slack.openModal('U0ALICE'), 5000);
    expect(JSON.stringify(modal.view.blocks)).toContain('4-6 h');
    const res = await stack.sender!.submitView('U0ALICE', modal.id, { ...reason('retire the game servers, CHG-40'), ...checklist });
    expect((res.json as { response_action?: string } | undefined)?.response_action).toBeUndefined();
    const card = await stack.slack.waitFor(() => cardFor(stack!, S.cidr), 10_000);
    const text = JSON.stringify(card.blocks);
    expect(text).toContain('`203.0.113.10/32`');
    expect(text).toContain('Spectrum');
    expect(text).toContain('4-6 hours');
    expect(text).toContain('no longer served by');
    expect(text).toMatch(/Service bindings: .*203\.0\.113\.0\/24 CDN/); // the blast radius
    expect(text).toContain('203.0.113.128/25'); // the delegation, in the blast radius
    await stack.sender!.clickButton('U0ALICE', { channel: CHANNEL, messageTs: card.ts, actionId: ActionId.Approve }); // not her own
    await stack.sender!.clickButton('U0BOB', { channel: CHANNEL, messageTs: card.ts, actionId: ActionId.Approve });
    await stack.slack.waitFor(() => stack!.slack.thread(CHANNEL, card.ts).find((m) => m.text.includes('Cloudflare accepted the removal')), 10_000);
    const done = await stack.slack.waitFor(() => stack!.slack.thread(CHANNEL, card.ts).find((m) => m.text.startsWith('Done:')), 30_000);
    expect(done.text).toContain('203.0.113.10/32');
    expect(done.text).toContain('is gone');
    const thread = stack.slack.thread(CHANNEL, card.ts).map((m) => m.text);
    expect(thread.at(-1)).toMatch(/^Done:/);
    expect(thread.filter((t) => t.includes('still listed')).length).toBeLessThanOrEqual(2); // updates on change only
    expect(mutations(stack)).toHaveLength(1);
    expect(mutations(stack)[0]!.method).toBe('DELETE');
    expect(mutations(stack)[0]!.path).toContain(`/bindings/${S.spectrumBindingId}`);
    expect(stack.cloudflare.state.bindings.has(S.spectrumBindingId)).toBe(false);
  }, 60_000);

  it('a CIDR with no binding, and the default binding while others exist or while advertised, are refused at the command; nothing filed or sent', async () => {
    stack = await testStack({ scenario: 'services' });
    const none = await answer(stack, 'U0ALICE', `unbind ${S.cidr} 203.0.113.16/29`);
    expect(none).toContain('has no service binding on 203.0.113.16/29');
    expect(none).toContain('203.0.113.10/32 (Spectrum)'); // lists the bindings there are
    const others = await answer(stack, 'U0ALICE', `unbind ${S.cidr} ${S.cidr}`);
    expect(others).toContain('default binding');
    expect(others).toContain('unbind those first');
    expect(others).toContain('203.0.113.10/32');
    expect(stack.slack.openModal('U0ALICE')).toBeUndefined();
    expect(await stack.bot!.store.recent(5)).toHaveLength(0);
    expect(mutations(stack)).toHaveLength(0);
  }, 60_000);

  it('the default binding of an advertised prefix: withdraw first', async () => {
    stack = await testStack();
    const P = DEFAULT_SCENARIO.prefixes.advertised;
    const text = await answer(stack, 'U0ALICE', `unbind ${P.cidr} ${P.cidr}`);
    expect(text).toContain('advertised');
    expect(text).toContain(`/byoip withdraw ${P.cidr}`);
    expect(stack.slack.openModal('U0ALICE')).toBeUndefined();
    expect(mutations(stack)).toHaveLength(0);
  }, 60_000);
});
