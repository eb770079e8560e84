/** Onboarding with the LOA: Cloudflare generates it (default), or we bring our own from the template; to the right account. */
import { afterEach, describe, expect, it } from 'vitest';
import { OTHER_ACCOUNT_ID, SANDBOX_CLOUDFLARE_TOKEN } from '../../world/simulator/cloudflare/scenarios.js';
import { ActionId } from '../../src/slack/ids.js';
import { CHANNEL, cardFor, checklist, reason, testStack } from '../helpers/stack.js';

type TestStack = Awaited<ReturnType<typeof testStack>>;
const CIDR = '192.0.2.0/24';
let stack: TestStack;
afterEach(async () => {
  await stack.cleanup();
});

const prefixCreates = () => stack.cloudflare.state.calls.filter((c) => c.method === 'POST' && /\/addressing\/prefixes$/.test(c.path));
const loaUploads = () => stack.cloudflare.state.calls.filter((c) => c.method === 'POST' && /\/loa_documents$/.test(c.path));
const text = (blockId: string, value: string) => ({ [blockId]: { [`${blockId}_input`]: { type: 'plain_text_input', value } } });
const choice = (blockId: string, value: string) => ({ [blockId]: { [`${blockId}_input`]: { type: 'radio_buttons', selected_option: { text: { type: 'plain_text', text: value }, value } } } });
const select = (blockId: string, value: string) => ({ [blockId]: { [`${blockId}_input`]: { type: 'static_select', selected_option: { text: { type: 'plain_text', text: value }, value } } } });
const ownLoa = (signerName: string) => ({
  ...choice('onboard_loa', 'own'),
  ...text('onboard_loa_company', 'Example Networks Ltd'),
  ...text('onboard_loa_signer_name', signerName),
  ...text('onboard_loa_signer_title', 'Head of Network'),
});

async function submitOnboard(asn: string, values: Record<string, unknown>) {
  await stack.sender!.command('U0ALICE', `onboard ${CIDR} ${asn}`, { channel: CHANNEL });
  const modal = await stack.slack.waitFor(() => stack.slack.openModal('U0ALICE'), 5000);
  const res = await stack.sender!.submitView('U0ALICE', modal.id, { ...reason('new anycast block'), ...checklist, ...values });
  return { modal, res: res.json as { response_action?: string; errors?: Record<string, string> } | undefined };
}

async function approve(cardTs: string) {
  await stack.sender!.clickButton('U0ALICE', { channel: CHANNEL, messageTs: cardTs, actionId: ActionId.Approve }); // her own: refused
  await stack.sender!.clickButton('U0BOB', { channel: CHANNEL, messageTs: cardTs, actionId: ActionId.Approve });
  return stack.slack.waitFor(() => stack.slack.thread(CHANNEL, cardTs).find((m) => m.text.startsWith('Done:')), 20_000);
}

describe('onboard: the LOA', () => {
  it('by default Cloudflare generates it (delegate_loa_creation: true); the thread names the document', async () => {
    stack = await testStack({ scenario: 'fresh' });
    const { modal } = await submitOnboard('13335', {});
    expect(JSON.stringify(modal.view.blocks)).toContain('Cloudflare generates it (recommended)');
    expect(JSON.stringify(modal.view.blocks)).not.toContain('onboard_account'); // one account: no choice
    const card = await stack.slack.waitFor(() => cardFor(stack, CIDR), 20_000);
    expect(JSON.stringify(card.blocks)).toContain('LOA: Cloudflare generates it');
    const done = await approve(card.ts);
    expect(prefixCreates()).toHaveLength(1);
    expect(prefixCreates()[0]!.body).toMatchObject({ cidr: CIDR, asn: 13335, delegate_loa_creation: true });
    expect(loaUploads()).toHaveLength(0);
    const added = [...stack.cloudflare.state.prefixes.values()].find((p) => p.cidr === CIDR)!;
    expect(added.loaDocumentId).toBeTruthy();
    expect(done.text).toContain(`Cloudflare generated the LOA (document \`${added.loaDocumentId}\`)`);
  });

  it('our own: filled from the template into a PDF, uploaded, named by the prefix, linked in the thread, shown again by /byoip loa', async () => {
    stack = await testStack({ scenario: 'fresh' });
    const { res } = await submitOnboard('13335', ownLoa('Dana Scully'));
    expect(res?.response_action).toBeUndefined();
    const card = await stack.slack.waitFor(() => cardFor(stack, CIDR), 20_000);
    expect(JSON.stringify(card.blocks)).toMatch(/LOA: ours, filled from Cloudflare's template for Example Networks Ltd \(signed by Dana Scully\)/);
    const done = await approve(card.ts);
    expect(loaUploads()).toHaveLength(1);
    expect(prefixCreates()).toHaveLength(1);
    const doc = [...stack.cloudflare.state.loaDocuments.values()].at(-1)!;
    expect(doc.content.subarray(0, 5).toString('latin1')).toBe('%PDF-');
    expect(prefixCreates()[0]!.body).toMatchObject({ cidr: CIDR, loa_document_id: doc.id, delegate_loa_creation: false });
    expect(done.text).toContain(`Our LOA is uploaded as document \`${doc.id}\``);
    expect(done.text).toMatch(/PATCH once it is approved/);
    expect(done.text).toMatch(/account team/);

    const before = stack.slack.ephemerals('U0CAROL').length;
    await stack.sender!.command('U0CAROL', `loa ${CIDR}`, { channel: CHANNEL });
    const shown = await stack.slack.waitFor(() => stack.slack.ephemerals('U0CAROL').at(before), 5000);
    expect(shown.text).toContain(`document \`${doc.id}\`, our own`);
  });

  it('our own without a signer is refused in the form, nothing filed or sent', async () => {
    stack = await testStack({ scenario: 'fresh' });
    const { res } = await submitOnboard('13335', ownLoa(''));
    expect(res?.response_action).toBe('errors');
    expect(Object.values(res?.errors ?? {}).join(' ')).toMatch(/signer's name/);
    expect(await stack.bot!.store.recent(5)).toHaveLength(0);
    expect(loaUploads()).toHaveLength(0);
    expect(prefixCreates()).toHaveLength(0);
  });
});

describe('onboard: to the right account', () => {
  it('with several accounts the form asks which; the prefix lands there; another ASN gets the AS13335-only note', async () => {
    stack = await testStack({ scenario: 'fresh', extraAccounts: [{ name: 'other', id: OTHER_ACCOUNT_ID }] });
    stack.cloudflare.state.tokens.get(SANDBOX_CLOUDFLARE_TOKEN)!.accounts.push(OTHER_ACCOUNT_ID);
    const { modal } = await submitOnboard('64500', select('onboard_account', 'other'));
    const form = JSON.stringify(modal.view.blocks);
    expect(form).toContain('onboard_account');
    expect(form).toContain('supports AS13335 only');
    const card = await stack.slack.waitFor(() => cardFor(stack, CIDR), 20_000);
    const onCard = JSON.stringify(card.blocks);
    expect(onCard).toContain('account *other*');
    expect(onCard).toContain("Cloudflare's self-serve onboarding supports AS13335 only");
    await approve(card.ts);
    expect(prefixCreates()).toHaveLength(1);
    expect(prefixCreates()[0]!.path).toContain(`/accounts/${OTHER_ACCOUNT_ID}/`);
  });
});

type ViewBlock = { type: string; block_id?: string; label?: { text: string }; element?: { type: string; action_id: string; options?: { text: { text: string }; value: string }[] } };

/** Fills an input of the form as a user would: found by its label in the view as rendered, by the ids it carries. */
function fill(viewId: string, blocks: ViewBlock[], label: RegExp, answer: string) {
  const b = blocks.find((x) => x.type === 'input' && label.test(x.label?.text ?? ''));
  if (!b?.block_id || !b.element) throw new Error(`the form has no input labelled ${label}`);
  const el = b.element;
  if (el.type === 'plain_text_input') return stack.slack.setViewValue(viewId, b.block_id, el.action_id, { type: el.type, value: answer });
  const option = el.options?.find((o) => o.value === answer || o.text.text === answer);
  if (!option) throw new Error(`no option ${answer} in ${label}`);
  stack.slack.setViewValue(viewId, b.block_id, el.action_id, { type: el.type, selected_option: option });
}

describe('onboard with our own LOA to another account, end to end through the form as rendered', () => {
  it('account and LOA chosen in the form, the letter uploaded there, then "Validate" on the card, and the PATCH the docs ask for once approved', async () => {
    stack = await testStack({ scenario: 'fresh', extraAccounts: [{ name: 'other', id: OTHER_ACCOUNT_ID }] });
    stack.cloudflare.state.tokens.get(SANDBOX_CLOUDFLARE_TOKEN)!.accounts.push(OTHER_ACCOUNT_ID);
    await stack.sender!.command('U0ALICE', `onboard ${CIDR} 13335`, { channel: CHANNEL });
    const modal = await stack.slack.waitFor(() => stack.slack.openModal('U0ALICE'), 5000);
    const blocks = modal.view.blocks as ViewBlock[];
    fill(modal.id, blocks, /^Cloudflare account$/, 'other');
    fill(modal.id, blocks, /^Letter of Agency$/, 'own');
    fill(modal.id, blocks, /^Company/, 'Example Networks Ltd');
    fill(modal.id, blocks, /^Signer's name/, 'Dana Scully');
    fill(modal.id, blocks, /^Signer's title/, 'Head of Network');
    fill(modal.id, blocks, /^Reason|Why/i, 'new anycast block, CHG-9');
    const checklistBlock = blocks.find((b) => b.block_id === 'checklist')!;
    stack.slack.setViewValue(modal.id, 'checklist', checklistBlock.element!.action_id, { type: 'checkboxes', selected_options: checklistBlock.element!.options!.slice(0, 1) });
    const submitted = await stack.sender!.submitView('U0ALICE', modal.id);
    expect((submitted.json as { response_action?: string } | undefined)?.response_action).toBeUndefined();
    const card = await stack.slack.waitFor(() => cardFor(stack, CIDR), 20_000);
    expect(JSON.stringify(card.blocks)).toContain('account *other*');
    const added = await approve(card.ts);
    expect(added.text).toMatch(/PATCH once it is approved/);
    const prefix = [...stack.cloudflare.state.prefixes.values()].find((p) => p.cidr === CIDR)!;
    expect(prefix.accountId).toBe(OTHER_ACCOUNT_ID);
    expect(prefix.delegateLoaCreation).toBe(false);
    expect(loaUploads()[0]!.path).toContain(`/accounts/${OTHER_ACCOUNT_ID}/`);

    // the world is put right (ROA, route object with the token), then "Validate" on the onboard card
    stack.world.addRoa({ prefix: CIDR, asn: 13335, maxLength: 24 });
    stack.world.addRouteObject({ prefix: CIDR, origin: 13335, source: 'RADB', remarks: [`cf-validation: ${prefix.ownershipValidationToken}`], descr: [] });
    const onboardCard = await stack.slack.waitFor(() => {
      const m = stack.slack.message(CHANNEL, card.ts);
      return m && JSON.stringify(m.blocks).includes('"Validate"') ? m : undefined;
    }, 10_000);
    await stack.slack.waitFor(() => (JSON.stringify(stack.slack.messages(CHANNEL).find((m) => m.ts === onboardCard.ts)?.blocks ?? []).includes('"Validate"') ? true : undefined), 10_000);
    await stack.sender!.clickButtonByText('U0ALICE', { channel: CHANNEL, messageTs: onboardCard.ts }, 'Validate');
    const form = await stack.slack.waitFor(() => stack.slack.openModal('U0ALICE'), 5000);
    await stack.sender!.submitView('U0ALICE', form.id, { ...reason('ROA, route and token published'), ...checklist });
    const validateCard = await stack.slack.waitFor(() => {
      const c = cardFor(stack, CIDR);
      return c && c.ts !== card.ts ? c : undefined;
    }, 20_000);
    const done = await approve(validateCard.ts);
    expect(done.text).toContain(`validated and approved ${CIDR}`);
    expect(done.text).toContain('sent the PATCH the docs ask for once the prefix is approved');
    const patches = stack.cloudflare.state.calls.filter((c) => c.method === 'PATCH' && c.path.endsWith(`/prefixes/${prefix.id}`));
    expect(patches).toHaveLength(1);
    expect(patches[0]!.path).toContain(`/accounts/${OTHER_ACCOUNT_ID}/`);
    expect(patches[0]!.body).toEqual({ description: prefix.description });
  }, 60_000);

  it('Cloudflare-generated LOA: validation sends no PATCH', async () => {
    stack = await testStack({ scenario: 'fresh' });
    const { modal } = await submitOnboard('13335', {});
    expect(modal.id).toBeTruthy();
    const card = await stack.slack.waitFor(() => cardFor(stack, CIDR), 20_000);
    await approve(card.ts);
    const prefix = [...stack.cloudflare.state.prefixes.values()].find((p) => p.cidr === CIDR)!;
    stack.world.addRoa({ prefix: CIDR, asn: 13335, maxLength: 24 });
    stack.world.addRouteObject({ prefix: CIDR, origin: 13335, source: 'RADB', remarks: [`cf-validation: ${prefix.ownershipValidationToken}`], descr: [] });
    // The card's update (with its Validate button) may land a moment after the thread's Done: line.
    await stack.slack.waitFor(() => (JSON.stringify(stack.slack.messages(CHANNEL).find((m) => m.ts === card.ts)?.blocks ?? []).includes('"Validate"') ? true : undefined), 10_000);
    await stack.sender!.clickButtonByText('U0ALICE', { channel: CHANNEL, messageTs: card.ts }, 'Validate');
    const form = await stack.slack.waitFor(() => stack.slack.openModal('U0ALICE'), 5000);
    await stack.sender!.submitView('U0ALICE', form.id, { ...reason('ROA, route and token published'), ...checklist });
    const validateCard = await stack.slack.waitFor(() => {
      const c = cardFor(stack, CIDR);
      return c && c.ts !== card.ts ? c : undefined;
    }, 20_000);
    const done = await approve(validateCard.ts);
    expect(done.text).toContain(`validated and approved ${CIDR}`);
    expect(done.text).not.toContain('PATCH');
    expect(stack.cloudflare.state.calls.filter((c) => c.method === 'PATCH' && c.path.endsWith(`/prefixes/${prefix.id}`))).toHaveLength(0);
  }, 60_000);
});
