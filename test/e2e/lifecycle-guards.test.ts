/**
 * What a routing change touches, and what must be true before an advertise (issue 9: blast radius on the card,
 * guards before advertise, re-checked at execution).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_SCENARIO, SERVICES_SCENARIO } from '../../world/simulator/cloudflare/scenarios.js';
import { ActionId, BlockId, InputActionId } from '../../src/slack/ids.js';
import { CHANNEL, fileRequest, patchCalls, testStack } from '../helpers/stack.js';

type TestStack = Awaited<ReturnType<typeof testStack>>;
const HOUR = 3_600_000;
let stack: TestStack | null = null;
afterEach(async () => {
  await stack?.cleanup();
  stack = null;
});
const cardText = (s: TestStack, ts: string) => JSON.stringify(s.slack.message(CHANNEL, ts)?.blocks ?? []);

describe('blast radius on the card', () => {
  it('a withdraw of a prefix with CDN, Spectrum, a delegation and an address map shows all of them', async () => {
    stack = await testStack({ scenario: 'services' });
    const card = await fileRequest(stack, 'U0ALICE', 'withdraw', SERVICES_SCENARIO.prefix.cidr, 'blast radius');
    const text = JSON.stringify(card.blocks);
    expect(text).toContain('Also touches');
    expect(text).toMatch(/203\.0\.113\.0\/24 CDN/);
    expect(text).toContain(`${SERVICES_SCENARIO.prefix.spectrumCidr} Spectrum`);
    expect(text).toContain(`${SERVICES_SCENARIO.delegation.cidr} → account`);
    expect(text).toMatch(/Address maps: .*enabled; 1 IP\(s\); DNS answers of 1 zone\(s\)/);
  });
});

describe('/byoip status for one prefix', () => {
  it('shows its bindings, delegation, address map, BGP settings and LOA', async () => {
    stack = await testStack({ scenario: 'services' });
    const before = stack.slack.responsePosts().length;
    await stack.sender!.command('U0ALICE', `status ${SERVICES_SCENARIO.prefix.cidr}`, { channel: CHANNEL });
    const post = await stack.slack.waitFor(() => stack!.slack.responsePosts().slice(before).find((r) => JSON.stringify(r.blocks ?? []).includes("Service bindings")), 5000);
    const text = JSON.stringify(post.blocks);
    expect(text).toContain(`${SERVICES_SCENARIO.prefix.spectrumCidr} Spectrum`);
    expect(text).toContain(`${SERVICES_SCENARIO.delegation.cidr} → account`);
    expect(text).toMatch(/Address maps: /);
    expect(text).toContain('prepend');
  });
});

describe('guards before an advertise', () => {
  /** 198.51.100.0/24's default Magic Transit binding, made to finish provisioning `inMs` from now (simulated). */
  function provisioning(s: TestStack, inMs: number) {
    const b = [...s.cloudflare.state.bindings.values()].find((x) => x.cidr === DEFAULT_SCENARIO.prefixes.withdrawn.cidr)!;
    b.activeAt = s.clock.now() + inMs;
    return b;
  }
  const p = DEFAULT_SCENARIO.prefixes.withdrawn;
  // Time x3600: a simulated hour is a real second, so the bot's five hours (ADVERTISE_AFTER_BINDING_MS, scaled by the
  // stack like every duration) are 5 s. The bot shares binding reads for 10 s: the test drops that answer after a wait.
  const wait = async (s: TestStack, simMs: number) => {
    await new Promise((r) => setTimeout(r, simMs / 3600));
    await s.bot!.reader.invalidate(`bindings:${p.id}`);
  };
  const file = (s: TestStack, why: string) => fileRequest(s, 'U0ALICE', 'advertise', p.cidr, why);
  const close = async (s: TestStack, ts: string) => {
    await s.sender!.clickButton('U0ALICE', { channel: CHANNEL, messageTs: ts, actionId: ActionId.Reject }); // alice cancels her own
    await s.slack.waitFor(() => (/cancelled/.test(s.slack.message(CHANNEL, ts)?.text ?? '') ? true : undefined), 5000);
  };

  it('refuses while the default binding provisions, blocks until five hours after it became active, and lets it through at 5 h 1 min', async () => {
    stack = await testStack({ timeScale: 3600 });
    provisioning(stack, HOUR);
    // provisioning: refused at filing, with the fix, nothing filed
    const before = stack.slack.ephemerals('U0ALICE').length;
    await stack.sender!.command('U0ALICE', `advertise ${p.cidr}`, { channel: CHANNEL });
    const modal = await stack.slack.waitFor(() => stack!.slack.openModal('U0ALICE'), 5000);
    await stack.sender!.submitView('U0ALICE', modal.id, {
      reason: { reason_input: { type: 'plain_text_input', value: 'too early' } },
      checklist: { checklist_input: { type: 'checkboxes', selected_options: [{ value: 'confirmed' }] } },
    });
    const refused = await stack.slack.waitFor(() => stack!.slack.ephemerals('U0ALICE').at(before), 5000);
    expect(refused.text).toMatch(/still provisioning \(Cloudflare takes 4-6 hours\)/);
    expect(await stack.bot!.store.recent(5)).toHaveLength(0);

    // it becomes active: the bot sees that happen, and an advertise now is blocked (overridable) with until when
    await wait(stack, HOUR + 100_000);
    const early = await file(stack, 'just active');
    expect(JSON.stringify(early.blocks)).toMatch(/became active only/);
    await close(stack, early.ts);

    await wait(stack, 4 * HOUR - 200_000); // about 4 h after it became active
    const at4h = await file(stack, 'at 4 h');
    expect(cardText(stack, at4h.ts)).toMatch(/became active only \d+ s ago/);
    expect(cardText(stack, at4h.ts)).toContain('Approve…');
    await stack.sender!.clickButton('U0BOB', { channel: CHANNEL, messageTs: at4h.ts, actionId: ActionId.Approve });
    const dialog = await stack.slack.waitFor(() => stack!.slack.openModal('U0BOB'), 5000); // the override dialog, not an approval
    expect(patchCalls(stack, p.bgpPrefixId)).toHaveLength(0);
    await stack.sender!.closeView('U0BOB', dialog.id);
    await close(stack, at4h.ts);

    await wait(stack, HOUR + 60_000); // 5 h 1 min after it became active
    const at5h = await file(stack, 'at 5 h 1 min');
    expect(cardText(stack, at5h.ts)).toMatch(/binding of 198\.51\.100\.0\/24 is active/);
    expect(cardText(stack, at5h.ts)).not.toContain('Approve…');
    await stack.sender!.clickButton('U0BOB', { channel: CHANNEL, messageTs: at5h.ts, actionId: ActionId.Approve });
    await stack.slack.waitFor(() => (patchCalls(stack!, p.bgpPrefixId).length ? true : undefined), 10_000);
    expect(patchCalls(stack, p.bgpPrefixId)).toHaveLength(1);
  }, 60_000);

  it('an override of the five-hour guard is explicit and audited, and the advertise then goes out', async () => {
    stack = await testStack({ timeScale: 3600 });
    provisioning(stack, HOUR);
    // the bot sees it provisioning (a refused request), then active
    await stack.bot!.service.request({ kind: 'advertise', cidr: p.cidr, userId: 'U0ALICE', reason: 'seen provisioning' }).catch(() => undefined);
    await wait(stack, HOUR + 100_000);
    const card = await file(stack, 'customer launch, override');
    expect(cardText(stack, card.ts)).toMatch(/became active only/);
    await stack.sender!.clickButton('U0BOB', { channel: CHANNEL, messageTs: card.ts, actionId: ActionId.Approve });
    const dialog = await stack.slack.waitFor(() => stack!.slack.openModal('U0BOB'), 5000);
    await stack.sender!.submitView('U0BOB', dialog.id, { [BlockId.Reason]: { [InputActionId.Reason]: { type: 'plain_text_input', value: 'Cloudflare account team confirmed the edge is ready, CASE-7' } } });
    await stack.slack.waitFor(() => (patchCalls(stack!, p.bgpPrefixId).length ? true : undefined), 10_000);
    const op = (await stack.bot!.store.recent(1))[0]!;
    const override = (await stack.bot!.store.auditTrail(op.id)).find((a) => a.type === 'guard_override');
    expect(override?.data).toMatchObject({ guards: ['default-binding'] });
  }, 60_000);
});
