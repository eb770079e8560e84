/** `/byoip bind`: a service binding from Slack, its rules checked in the form, approved, sent once per CIDR, followed to active. */
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_SCENARIO } from '../../world/simulator/cloudflare/scenarios.js';
import { ActionId } from '../../src/slack/ids.js';
import { CHANNEL, cardFor, checklist, reason, testStack } from '../helpers/stack.js';

type TestStack = Awaited<ReturnType<typeof testStack>>;
const P = DEFAULT_SCENARIO.prefixes.advertised; // 203.0.113.0/24, default Magic Transit binding active
let stack: TestStack | null = null;
afterEach(async () => {
  await stack?.cleanup();
  stack = null;
});

const form = (service: string, targets: string) => ({
  bind_service: { bind_service_input: { type: 'static_select', selected_option: { text: { type: 'plain_text', text: service }, value: service } } },
  bind_targets: { bind_targets_input: { type: 'plain_text_input', value: targets } },
  ...reason('edge web tier, CHG-31'),
  ...checklist,
});
const creates = (s: TestStack) => s.cloudflare.state.calls.filter((c) => c.method === 'POST' && c.path.endsWith('/bindings'));

/** Opens the bind form and submits it; returns the submission's answer (errors stay in the form). */
async function submitBind(s: TestStack, service: string, targets: string) {
  await s.sender!.command('U0ALICE', `bind ${P.cidr}`, { channel: CHANNEL });
  const modal = await s.slack.waitFor(() => s.slack.openModal('U0ALICE'), 5000);
  const res = await s.sender!.submitView('U0ALICE', modal.id, form(service, targets));
  return { modal, res };
}

describe('/byoip bind', () => {
  it('eight IPs become one CDN /29 (shown on the card), approved by a second person, one POST, followed to active', async () => {
    stack = await testStack({ timeScale: 3600 }); // 4-6 simulated hours of provisioning take 4-6 s
    const { modal, res } = await submitBind(stack, 'CDN', '203.0.113.16-203.0.113.23');
    const options = JSON.stringify(modal.view.blocks);
    expect(options).toContain('Magic Transit');
    expect(options).toContain('Spectrum');
    expect((res.json as { response_action?: string } | undefined)?.response_action).toBeUndefined();
    const card = await stack.slack.waitFor(() => cardFor(stack!, P.cidr), 10_000);
    const text = JSON.stringify(card.blocks);
    expect(text).toContain('`203.0.113.16/29`');
    expect(text).toContain('the fewest CIDRs covering the IPs given exactly: 1');
    expect(text).toContain('4-6 hours');
    await stack.sender!.clickButton('U0ALICE', { channel: CHANNEL, messageTs: card.ts, actionId: ActionId.Approve }); // not her own
    await stack.sender!.clickButton('U0BOB', { channel: CHANNEL, messageTs: card.ts, actionId: ActionId.Approve });
    await stack.slack.waitFor(() => stack!.slack.thread(CHANNEL, card.ts).find((m) => m.text.includes('Cloudflare accepted 1 binding')), 10_000);
    const done = await stack.slack.waitFor(() => stack!.slack.thread(CHANNEL, card.ts).find((m) => m.text.startsWith('Done:')), 30_000);
    expect(done.text).toContain('203.0.113.16/29 active');
    expect(creates(stack)).toHaveLength(1);
    expect(creates(stack)[0]!.body).toMatchObject({ cidr: '203.0.113.16/29' });
    const thread = stack.slack.thread(CHANNEL, card.ts).map((m) => m.text);
    expect(thread.filter((t) => t.includes('provisioning')).length).toBeLessThanOrEqual(2); // updates on change only
  }, 60_000);

  it('breaks of the rules are refused in the form with the reason, nothing filed or sent', async () => {
    stack = await testStack();
    const cases: [string, string, RegExp][] = [
      ['Magic Transit', '203.0.113.64/26', /Magic Transit can only be the default binding/],
      ['CDN', '198.51.100.0/29', /outside|not inside|inside the prefix/i],
      ['CDN', '2001:db8::1', /IPv6|family/i],
      ['CDN', Array.from({ length: 300 }, (_, i) => `203.0.113.${i % 250}`).join(' '), /300 addresses|at most/],
      ['CDN', '203.0.113.5 203.0.113.5', /listed more than once/],
      ['Magic Transit', '203.0.113.0/24', /already bound to Magic Transit/],
    ];
    for (const [service, targets, why] of cases) {
      const { modal, res } = await submitBind(stack, service, targets);
      const answer = res.json as { response_action?: string; errors?: Record<string, string> };
      expect(answer.response_action, `${service} ${targets.slice(0, 40)}`).toBe('errors');
      expect(Object.values(answer.errors ?? {}).join(' ')).toMatch(why);
      await stack.sender!.closeView('U0ALICE', modal.id);
    }
    expect(await stack.bot!.store.recent(5)).toHaveLength(0);
    expect(creates(stack)).toHaveLength(0);
  }, 60_000);

  it('on a CDN prefix with a Spectrum /32 (the services scenario): CDN over the Spectrum IP, a second binding on a bound CIDR, and CDN egress on the CDN ingress prefix are refused in the form, nothing sent', async () => {
    stack = await testStack({ scenario: 'services' });
    // An Enterprise account lists Dedicated CDN Egress IPs (formerly Aegis) among its services.
    stack.cloudflare.state.services.push({ id: 'f1e2d3c4b5a6978812345678abcdef01', name: 'Dedicated CDN Egress IPs' });
    const cases: [string, string, RegExp][] = [
      ['CDN', '203.0.113.8/29', /overlaps the Spectrum 203\.0\.113\.10\/32 binding: an address is CDN or Spectrum, not both\. Bind only the rest/],
      ['CDN', '203.0.113.10', /already bound to Spectrum, and a CIDR takes one binding: unbind Spectrum from 203\.0\.113\.10\/32 first/],
      ['Dedicated CDN Egress IPs', '203.0.113.32/29', /already serves CDN ingress .*a prefix is used for CDN ingress or CDN egress, not both/],
    ];
    for (const [service, targets, why] of cases) {
      const { modal, res } = await submitBind(stack, service, targets);
      const answer = res.json as { response_action?: string; errors?: Record<string, string> };
      expect(answer.response_action, `${service} ${targets}`).toBe('errors');
      expect(Object.values(answer.errors ?? {}).join(' ')).toMatch(why);
      await stack.sender!.closeView('U0ALICE', modal.id);
    }
    expect(await stack.bot!.store.recent(5)).toHaveLength(0);
    expect(creates(stack)).toHaveLength(0);
  }, 60_000);
});
