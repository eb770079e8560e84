/** `/byoip address-map`: create (a form), edits (one change per request), refusals at the command, show. */
import { afterEach, describe, expect, it } from 'vitest';
import { SERVICES_SCENARIO } from '../../world/simulator/cloudflare/scenarios.js';
import { ActionId } from '../../src/slack/ids.js';
import { CHANNEL, cardFor, checklist, reason, testStack } from '../helpers/stack.js';

type TestStack = Awaited<ReturnType<typeof testStack>>;
const S = SERVICES_SCENARIO;
const MAP = S.addressMap.id; // enabled, 203.0.113.1, one zone
const ZONE = 'f1e2d3c4b5a697887766554433221100';
let stack: TestStack | null = null;
afterEach(async () => {
  await stack?.cleanup();
  stack = null;
});

const mutations = (s: TestStack) => s.cloudflare.state.calls.filter((c) => c.method !== 'GET' && c.path.includes('/address_maps'));
const select = (v: string) => ({ type: 'static_select', selected_option: { text: { type: 'plain_text', text: v }, value: v } });
const text = (v: string) => ({ type: 'plain_text_input', value: v });

/** `/byoip address-map …` as Alice; the form is filled (create: its inputs too) and submitted; Bob approves. */
async function fileAndApprove(s: TestStack, command: string, inputs: Record<string, unknown> = {}) {
  await s.sender!.command('U0ALICE', command, { channel: CHANNEL });
  const modal = await s.slack.waitFor(() => s.slack.openModal('U0ALICE'), 5000);
  const before = s.slack.messages(CHANNEL).filter((m) => !m.threadTs).length;
  const res = await s.sender!.submitView('U0ALICE', modal.id, { ...inputs, ...reason('CDN ingress, CHG-77'), ...checklist });
  expect((res.json as { response_action?: string; errors?: unknown } | undefined)?.errors).toBeUndefined();
  const card = await s.slack.waitFor(() => s.slack.messages(CHANNEL).filter((m) => !m.threadTs).at(before), 10_000);
  await s.sender!.clickButton('U0BOB', { channel: CHANNEL, messageTs: card.ts, actionId: ActionId.Approve });
  const done = await s.slack.waitFor(() => s.slack.thread(CHANNEL, card.ts).find((m) => /^(Done|Failed):/.test(m.text)), 20_000);
  return { modal, card, done };
}

/** A command refused before any form opens: its sentence; nothing filed, nothing sent. */
async function refusedAtCommand(s: TestStack, command: string): Promise<string> {
  const before = s.slack.ephemerals('U0ALICE').length;
  await s.sender!.command('U0ALICE', command, { channel: CHANNEL });
  const answer = await s.slack.waitFor(() => s.slack.ephemerals('U0ALICE').at(before), 5000);
  expect(s.slack.openModal('U0ALICE')).toBeUndefined();
  return answer.text;
}

describe('/byoip address-map', () => {
  it('create with an IP and a zone: the card says which zone answers change, a second person approves, one POST, Done', async () => {
    stack = await testStack({ scenario: 'services' });
    const { modal, card, done } = await fileAndApprove(stack, `address-map create ${S.prefix.cidr}`, {
      map_description: { map_description_input: text('www ingress') },
      map_ips: { map_ips_input: text('203.0.113.2') },
      map_zones: { map_zones_input: text(ZONE) },
      map_account: { map_account_input: select('no') },
      map_enabled: { map_enabled_input: select('yes') },
    });
    expect(JSON.stringify(modal.view.blocks)).toContain('Default SNI');
    const cardText = JSON.stringify(card.blocks);
    expect(cardText).toContain('DNS answers change');
    expect(cardText).toContain(ZONE);
    expect(done.text).toMatch(/^Done:/);
    expect(done.text).toContain('203.0.113.2');
    const sent = mutations(stack);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.method).toBe('POST');
    expect(sent[0]!.body).toMatchObject({ ips: ['203.0.113.2'], enabled: true, memberships: [{ kind: 'zone', identifier: ZONE }] });
    const made = [...stack.cloudflare.state.addressMaps.values()].find((m) => m.description === 'www ingress');
    expect(made?.ips.map((i) => i.ip)).toEqual(['203.0.113.2']);
  }, 60_000);

  it('add an IP to the enabled map (the member zone changes), then disable it: one call each, Done', async () => {
    stack = await testStack({ scenario: 'services' });
    const add = await fileAndApprove(stack, `address-map add-ip ${MAP} 203.0.113.3`);
    expect(JSON.stringify(add.card.blocks)).toContain(S.addressMap.zoneId);
    expect(add.done.text).toMatch(/^Done:/);
    expect(stack.cloudflare.state.addressMaps.get(MAP)!.ips.map((i) => i.ip)).toEqual(['203.0.113.1', '203.0.113.3']);
    const off = await fileAndApprove(stack, `address-map disable ${MAP}`);
    expect(JSON.stringify(off.card.blocks)).toContain('DNS answers change');
    expect(off.done.text).toMatch(/^Done:.*disabled/);
    expect(stack.cloudflare.state.addressMaps.get(MAP)!.enabled).toBe(false);
    expect(mutations(stack).map((c) => c.method)).toEqual(['PUT', 'PATCH']);
  }, 60_000);

  it('every other edit, one change per request, each approved by a second person: remove-ip, add-zone, remove-zone, add-account, remove-account, enable, delete', async () => {
    stack = await testStack({ scenario: 'services' });
    const s = stack;
    const map = () => s.cloudflare.state.addressMaps.get(MAP);
    const memberships = () => (map()?.memberships ?? []).map((m) => `${m.kind}:${m.identifier}`).sort();
    const last = () => mutations(s).at(-1)!;

    const removeIp = await fileAndApprove(s, `address-map remove-ip ${MAP} ${S.addressMap.ip}`);
    expect(JSON.stringify(removeIp.card.blocks)).toContain(S.addressMap.zoneId); // the member zone's answers change
    expect(removeIp.done.text).toMatch(/^Done:/);
    expect(last()).toMatchObject({ method: 'DELETE' });
    expect(last().path).toContain(`/address_maps/${MAP}/ips/${S.addressMap.ip}`);
    expect(map()!.ips).toHaveLength(0);

    const addZone = await fileAndApprove(s, `address-map add-zone ${MAP} ${ZONE}`);
    expect(JSON.stringify(addZone.card.blocks)).toContain(ZONE);
    expect(addZone.done.text).toMatch(/^Done:/);
    expect(last()).toMatchObject({ method: 'PUT' });
    expect(last().path).toContain(`/address_maps/${MAP}/zones/${ZONE}`);
    expect(memberships()).toEqual([`zone:${S.addressMap.zoneId}`, `zone:${ZONE}`].sort());

    const removeZone = await fileAndApprove(s, `address-map remove-zone ${MAP} ${S.addressMap.zoneId}`);
    expect(removeZone.done.text).toMatch(/^Done:/);
    expect(last()).toMatchObject({ method: 'DELETE' });
    expect(last().path).toContain(`/address_maps/${MAP}/zones/${S.addressMap.zoneId}`);
    expect(memberships()).toEqual([`zone:${ZONE}`]);

    const addAccount = await fileAndApprove(s, `address-map add-account ${MAP}`);
    expect(JSON.stringify(addAccount.card.blocks)).toMatch(/outrank|zone membership/); // a zone membership outranks the account's
    expect(addAccount.done.text).toMatch(/^Done:/);
    expect(last()).toMatchObject({ method: 'PUT' });
    expect(last().path).toContain(`/address_maps/${MAP}/accounts/${S.accountId}`);
    expect(memberships()).toEqual([`account:${S.accountId}`, `zone:${ZONE}`].sort());

    const removeAccount = await fileAndApprove(s, `address-map remove-account ${MAP}`);
    expect(removeAccount.done.text).toMatch(/^Done:/);
    expect(last()).toMatchObject({ method: 'DELETE' });
    expect(last().path).toContain(`/address_maps/${MAP}/accounts/${S.accountId}`);
    expect(memberships()).toEqual([`zone:${ZONE}`]);

    // enabled maps are refused a delete at the command: disable, enable again (both change DNS answers), disable, delete
    expect(await refusedAtCommand(s, `address-map delete ${MAP}`)).toMatch(/disable/i);
    await fileAndApprove(s, `address-map disable ${MAP}`);
    expect(map()!.enabled).toBe(false);
    const enable = await fileAndApprove(s, `address-map enable ${MAP}`);
    expect(JSON.stringify(enable.card.blocks)).toContain('DNS answers change');
    expect(enable.done.text).toMatch(/^Done:/);
    expect(last()).toMatchObject({ method: 'PATCH', body: { enabled: true } });
    expect(map()!.enabled).toBe(true);
    await fileAndApprove(s, `address-map disable ${MAP}`);
    const del = await fileAndApprove(s, `address-map delete ${MAP}`);
    expect(del.done.text).toMatch(/^Done:/);
    expect(last()).toMatchObject({ method: 'DELETE' });
    expect(last().path).toMatch(new RegExp(`/address_maps/${MAP}$`));
    expect(map()).toBeUndefined();
    // one mutation per request, nothing else
    expect(mutations(s).map((c) => c.method)).toEqual(['DELETE', 'PUT', 'DELETE', 'PUT', 'DELETE', 'PATCH', 'PATCH', 'PATCH', 'DELETE']);
  }, 120_000);

  it('refusals at the command, each a sentence, nothing filed or sent: an IP outside every prefix, an immutable map, a can_delete:false delete', async () => {
    stack = await testStack({ scenario: 'services' });
    expect(await refusedAtCommand(stack, `address-map add-ip ${MAP} 198.51.100.7`)).toMatch(/not inside any prefix of the account/);
    const map = stack.cloudflare.state.addressMaps.get(MAP)!;
    map.canModifyIps = false;
    expect(await refusedAtCommand(stack, `address-map add-ip ${MAP} 203.0.113.3`)).toMatch(/can_modify_ips is false.*Nothing was sent/);
    map.canDelete = false;
    map.enabled = false;
    expect(await refusedAtCommand(stack, `address-map delete ${MAP}`)).toMatch(/cannot be deleted.*can_delete is false/);
    expect(await refusedAtCommand(stack, `address-map add-ip 0123456789abcdef0123456789abcdef 203.0.113.3`)).toMatch(/no address map/);
    expect(await stack.bot!.store.recent(5)).toHaveLength(0);
    expect(mutations(stack)).toHaveLength(0);
  }, 60_000);

  it('show: the map by id or by prefix, for viewers, read only', async () => {
    stack = await testStack({ scenario: 'services' });
    const before = stack.slack.ephemerals('U0ALICE').length;
    await stack.sender!.command('U0ALICE', `address-map show ${S.prefix.cidr}`, { channel: CHANNEL });
    const shown = await stack.slack.waitFor(() => stack!.slack.ephemerals('U0ALICE').at(before), 5000);
    expect(shown.text).toContain(MAP);
    expect(shown.text).toContain('enabled');
    expect(shown.text).toContain(S.addressMap.zoneId);
    expect(cardFor(stack, S.prefix.cidr)).toBeUndefined();
    expect(mutations(stack)).toHaveLength(0);
  }, 30_000);
});
