import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { AlertStore } from '../../src/monitors/alert-store.js';
import type { Finding } from '../../src/monitors/findings.js';
import { ActionId } from '../../src/slack/ids.js';
import { DEFAULT_SCENARIO } from '../../world/simulator/cloudflare/scenarios.js';
import { CHANNEL, checklist, patchCalls, reason, redisModes, testStack } from '../helpers/stack.js';

type TestStack = Awaited<ReturnType<typeof testStack>>;
const CAROL = 'U0CAROL'; // on call
const ALICE = 'U0ALICE'; // requester
const BOB = 'U0BOB'; // approver

const ADV = DEFAULT_SCENARIO.prefixes.advertised;

/** The alert cards in the alerts channel (top-level bot messages with alert buttons or an alert id). */
function alertCards(stack: TestStack) {
  return stack.slack.messages(CHANNEL).filter((m) => !m.threadTs && JSON.stringify(m.blocks).includes('alert `'));
}

const leakCard = (stack: TestStack) => alertCards(stack).find((m) => JSON.stringify(m.blocks).includes('seen from AS64666'));

const leak = (over: Partial<Finding> = {}): Finding => ({
  key: 'test:leak-1',
  source: 'cloudflare',
  type: 'bgp_hijack_notification',
  prefix: ADV.cidr,
  title: `Route leak: ${ADV.cidr} seen from AS64666`,
  facts: [{ label: 'Seen from', value: 'AS64666' }],
  observedAt: Date.now(),
  actions: ['emergency_withdraw', 'acknowledge'],
  ...over,
});

describe.each(redisModes())('alert cards on $name: one per alert, updated in place, buttons through the break-glass path', (mode) => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await testStack({ breakGlassMaxUses: 5, ...(mode.redisClusterNodes ? { redisClusterNodes: mode.redisClusterNodes } : {}) });
  });
  afterAll(async () => {
    await stack.cleanup();
  });

  it('a raised finding makes one card with its blast radius and routing view; raising it again does not post again', async () => {
    const alerts = stack.bot!.alerts;
    await Promise.all(Array.from({ length: 5 }, () => alerts.raise(leak())));
    const card = await stack.slack.waitFor(() => alertCards(stack).find((m) => JSON.stringify(m.blocks).includes('Routing now')), 10_000);
    expect(JSON.stringify(card.blocks)).toContain('Blast radius');
    await new Promise((r) => setTimeout(r, 300));
    expect(alertCards(stack)).toHaveLength(1);
  });

  it('an alert recorded without its delivery job (a crash in between) is delivered by the maintenance sweep', async () => {
    const bare = new AlertStore({ store: stack.bot!.store, policy: loadConfig(stack.env).policy, logger: createLogger({ level: 'silent' }) }); // no dispatch: as if the process died after recording
    const { alertId } = await bare.raise(leak({ key: 'test:crash-1', title: 'Recorded before a crash' }));
    const card = await stack.slack.waitFor(() => alertCards(stack).find((m) => JSON.stringify(m.blocks).includes('Recorded before a crash')), 10_000);
    expect(JSON.stringify(card.blocks)).toContain(alertId);
    await bare.resolve('test:crash-1', 'done', Date.now());
  });

  it('Acknowledge: refused for alice, taken for bob, and the card shows who', async () => {
    const card = leakCard(stack)!;
    const before = stack.slack.ephemerals(ALICE).length;
    await stack.sender!.clickButton(ALICE, { channel: CHANNEL, messageTs: card.ts, actionId: ActionId.AlertAcknowledge });
    expect((await stack.slack.waitFor(() => stack.slack.ephemerals(ALICE).at(before), 5000)).text).toMatch(/Only approvers and the on-call/);
    await stack.sender!.clickButton(BOB, { channel: CHANNEL, messageTs: card.ts, actionId: ActionId.AlertAcknowledge });
    await stack.slack.waitFor(() => (JSON.stringify(stack.slack.message(CHANNEL, card.ts)?.blocks).includes('Acknowledged* by <@U0BOB>') ? true : undefined), 5000);
  });

  it('Emergency withdraw: refused for alice (a sentence, nothing sent), opens the confirm step for carol, Send now PATCHes once', async () => {
    const card = leakCard(stack)!;
    const before = stack.slack.ephemerals(ALICE).length;
    await stack.sender!.clickButton(ALICE, { channel: CHANNEL, messageTs: card.ts, actionId: ActionId.AlertWithdraw });
    expect((await stack.slack.waitFor(() => stack.slack.ephemerals(ALICE).at(before), 5000)).text).toMatch(/Only the on-call \(break-glass\) group/);
    expect(stack.slack.openModal(ALICE)).toBeUndefined();
    await stack.sender!.clickButton(CAROL, { channel: CHANNEL, messageTs: card.ts, actionId: ActionId.AlertWithdraw });
    const modal = await stack.slack.waitFor(() => stack.slack.openModal(CAROL), 5000);
    expect(JSON.stringify(modal.view.blocks)).toContain(`Break glass: withdraw ${ADV.cidr}`);
    const res = await stack.sender!.submitView(CAROL, modal.id);
    expect((res.json as { errors?: unknown } | undefined)?.errors).toBeUndefined();
    await stack.slack.waitFor(() => (patchCalls(stack, ADV.bgpPrefixId).length ? true : undefined), 10_000);
    await new Promise((r) => setTimeout(r, 300));
    const patches = patchCalls(stack, ADV.bgpPrefixId);
    expect(patches).toHaveLength(1);
    expect(JSON.stringify(patches[0]!.body)).toContain('"advertised":false');
  });

  it('an Emergency click on a prefix that has moved on gets a clear answer, nothing sent', async () => {
    const card = leakCard(stack)!;
    const calls = stack.cloudflare.state.calls.filter((c) => c.method === 'PATCH').length;
    const before = stack.slack.ephemerals(CAROL).length;
    await stack.sender!.clickButton(CAROL, { channel: CHANNEL, messageTs: card.ts, actionId: ActionId.AlertWithdraw });
    const answer = (await stack.slack.waitFor(() => stack.slack.ephemerals(CAROL).at(before), 5000)).text;
    expect(answer).toMatch(/already running|already withdrawn/);
    expect(answer).toMatch(/nothing (was sent|to do)/);
    expect(stack.cloudflare.state.calls.filter((c) => c.method === 'PATCH')).toHaveLength(calls);
  });

  it('resolve updates the same card: resolved, no buttons', async () => {
    const card = leakCard(stack)!;
    await stack.bot!.alerts.resolve('test:leak-1', 'the leak is gone', Date.now());
    await stack.slack.waitFor(() => (JSON.stringify(stack.slack.message(CHANNEL, card.ts)?.blocks).includes('RESOLVED') ? true : undefined), 5000);
    expect(JSON.stringify(stack.slack.message(CHANNEL, card.ts)?.blocks)).not.toContain(ActionId.AlertWithdraw);
    expect(alertCards(stack).filter((m) => JSON.stringify(m.blocks).includes('seen from AS64666'))).toHaveLength(1);
  });

  it('drift: Put back opens the normal request form (with approval); submitted, it files the request', async () => {
    for (let i = 0; i < 300 && (await stack.bot!.store.lockHolder(ADV.cidr)); i++) await new Promise((r) => setTimeout(r, 50));
    await stack.bot!.alerts.raise({
      key: `drift:${ADV.id}:advertised`,
      source: 'drift',
      type: 'drift',
      prefix: ADV.cidr,
      title: `${ADV.cidr} was withdrawn outside the bot`,
      facts: [{ label: 'Bot last set', value: 'advertised' }],
      observedAt: Date.now(),
      actions: ['put_back', 'acknowledge'],
      putBack: { kind: 'advertise', cidr: ADV.cidr },
    });
    const card = await stack.slack.waitFor(() => alertCards(stack).find((m) => JSON.stringify(m.blocks).includes(ActionId.AlertPutBack)), 5000);
    await stack.sender!.clickButton(ALICE, { channel: CHANNEL, messageTs: card.ts, actionId: ActionId.AlertPutBack });
    const modal = await stack.slack.waitFor(() => stack.slack.openModal(ALICE), 5000);
    expect(JSON.stringify(modal.view.blocks)).toContain(`Advertise ${ADV.cidr}`);
    const res = await stack.sender!.submitView(ALICE, modal.id, { ...reason('put back after drift'), ...checklist });
    expect((res.json as { errors?: unknown } | undefined)?.errors).toBeUndefined();
    const request = await stack.slack.waitFor(() => stack.slack.messages(CHANNEL).find((m) => !m.threadTs && JSON.stringify(m.blocks).includes(ActionId.Approve) && JSON.stringify(m.blocks).includes(ADV.cidr)), 20_000);
    expect(JSON.stringify(request.blocks)).toContain('put back after drift');
  });
});

const CF_SECRET = 'sandbox-cf-webhook-secret';
const DETECTOR_TOKEN = 'sandbox-detector-token';

async function post(stack: TestStack, path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${stack.bot!.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const t = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(t) as Record<string, unknown>;
  } catch {
    json = { text: t };
  }
  return { status: res.status, json };
}
const cf = (stack: TestStack, body: unknown, secret: string | null = CF_SECRET) => post(stack, '/webhooks/cloudflare', body, secret === null ? {} : { 'cf-webhook-auth': secret });
const cardsWith = (stack: TestStack, text: string) => alertCards(stack).filter((m) => JSON.stringify(m.blocks).includes(text));
const settle = () => new Promise((r) => setTimeout(r, 400));

describe('POST /webhooks/cloudflare and /webhooks/detector', () => {
  let stack: TestStack;
  const WD = DEFAULT_SCENARIO.prefixes.withdrawn;
  beforeAll(async () => {
    stack = await testStack({ breakGlassMaxUses: 1, autoAdvertise: [WD.cidr] });
  });
  afterAll(async () => {
    await stack.cleanup();
  });

  it('a wrong or missing cf-webhook-auth is refused with 401 and nothing is posted', async () => {
    const before = stack.slack.messages(CHANNEL).length;
    const body = { alert_type: 'bgp_hijack_notification', alert_correlation_id: 'x1', data: { prefix_configured: ADV.cidr } };
    expect((await cf(stack, body, null)).status).toBe(401);
    expect((await cf(stack, body, 'wrong-secret')).status).toBe(401);
    expect((await cf(stack, body, `${CF_SECRET}x`)).status).toBe(401);
    const r = await stack.cloudflare.notify({ kind: 'route-leak', prefix: ADV.cidr }, { signed: false });
    expect(r.status).toBe(401);
    await settle();
    expect(stack.slack.messages(CHANNEL).length).toBe(before);
  });

  it("Cloudflare's test message: 200 and one 'webhook connected' card, even when sent twice", async () => {
    const t1 = await stack.cloudflare.notify({ kind: 'test' });
    const t2 = await stack.cloudflare.notify({ kind: 'test' });
    expect([t1.status, t2.status]).toEqual([200, 200]);
    await stack.slack.waitFor(() => cardsWith(stack, 'webhook connected')[0], 5000);
    await settle();
    expect(cardsWith(stack, 'webhook connected')).toHaveLength(1);
  });

  it('a route leak delivered 5 times (and updated twice under one correlation id) is one card; END resolves that card', async () => {
    const body = (await stack.cloudflare.notify({ kind: 'route-leak', prefix: ADV.cidr, correlationId: 'leak-corr-1' })).payload;
    for (let i = 0; i < 4; i++) expect((await cf(stack, body)).status).toBe(200);
    expect((await cf(stack, body)).json.duplicate).toBe(true);
    await stack.cloudflare.notify({ kind: 'route-leak', prefix: ADV.cidr, correlationId: 'leak-corr-1', asn: 64777 });
    const card = await stack.slack.waitFor(() => cardsWith(stack, 'route leak of 203.0.113.0/24')[0], 5000);
    await stack.slack.waitFor(() => (JSON.stringify(stack.slack.message(CHANNEL, card.ts)?.blocks).includes('64777') ? true : undefined), 5000);
    expect(cardsWith(stack, 'route leak of 203.0.113.0/24')).toHaveLength(1);
    expect(JSON.stringify(card.blocks)).toContain(ActionId.AlertWithdraw);
    const end = await stack.cloudflare.notify({ kind: 'route-leak', prefix: ADV.cidr, correlationId: 'leak-corr-1', event: 'end' });
    expect(end.status).toBe(200);
    await stack.slack.waitFor(() => (JSON.stringify(stack.slack.message(CHANNEL, card.ts)?.blocks).includes('RESOLVED') ? true : undefined), 5000);
    await settle();
    expect(cardsWith(stack, 'route leak of 203.0.113.0/24')).toHaveLength(1);
    const audit = (await stack.bot!.store.auditTrail()).filter((a) => a.type.startsWith('alert_') && a.data?.key === 'cloudflare:leak-corr-1').map((a) => a.type);
    expect(audit).toEqual(['alert_raised', 'alert_updated', 'alert_resolved']);
    expect(stack.cloudflare.state.calls.filter((c) => c.method !== 'GET')).toHaveLength(0); // a webhook never sends anything to Cloudflare
  });

  it('an auto-advertisement notification makes a card with its per-prefix status', async () => {
    const r = await stack.cloudflare.notify({ kind: 'auto-advertisement', prefix: WD.cidr, status: 'Could not Advertise' });
    expect(r.status).toBe(200);
    const card = await stack.slack.waitFor(() => cardsWith(stack, `auto-advertised ${WD.cidr}`)[0], 5000);
    expect(JSON.stringify(card.blocks)).toContain('Could not Advertise');
    expect(JSON.stringify(card.blocks)).toContain(ActionId.AlertAdvertise);
  });

  it('bad bodies get a sentence: not JSON 400, 1 MB 413, no alert_type 400; unknown type and not-ours 200 with a card that says so', async () => {
    const notJson = await cf(stack, '{"alert_type": ');
    expect(notJson.status).toBe(400);
    expect(notJson.json.error).toMatch(/not JSON/);
    const big = await cf(stack, JSON.stringify({ alert_type: 'bgp_hijack_notification', text: 'x'.repeat(1024 * 1024) }));
    expect(big.status).toBe(413);
    const noType = await cf(stack, { text: 'something happened', data: {} });
    expect(noType.status).toBe(400);
    expect(noType.json.error).toMatch(/no alert_type/);
    const array = await cf(stack, [1, 2]);
    expect(array.status).toBe(400);
    const other = await cf(stack, { alert_type: 'brand_new_type', alert_correlation_id: 'other-1', text: 'New <!channel> thing', data: { prefix: ADV.cidr, whatever: { nested: true } } });
    expect(other.status).toBe(200);
    const otherCard = await stack.slack.waitFor(() => cardsWith(stack, 'brand_new_type')[0], 5000);
    expect(JSON.stringify(otherCard.blocks)).not.toContain('<!channel>');
    const notOurs = await cf(stack, { alert_type: 'bgp_hijack_notification', alert_correlation_id: 'far-1', data: { prefix_configured: '192.0.2.0/24' } });
    expect(notOurs.status).toBe(200);
    expect(notOurs.json.ours).toBe(false);
    const card = await stack.slack.waitFor(() => cardsWith(stack, '192.0.2.0/24 (not one of ours)')[0], 5000);
    expect(JSON.stringify(card.blocks)).not.toContain(ActionId.AlertWithdraw);
    const replay = await cf(stack, { alert_type: 'bgp_hijack_notification', alert_correlation_id: 'far-1', data: { prefix_configured: '192.0.2.0/24' } });
    expect(replay.json.duplicate).toBe(true);
    await settle();
    expect(cardsWith(stack, '192.0.2.0/24 (not one of ours)')).toHaveLength(1);
  });

  it('Cloudflare unreadable: a prefix the policy lists is still ours (with its buttons); any other is "could not tell", never "not ours"', async () => {
    stack.cloudflare.addFault({ path: '/addressing/prefixes$', method: 'GET', kind: 'error', status: 503 });
    await stack.bot!.reader.invalidate(`prefixes:${DEFAULT_SCENARIO.accountId}`);
    try {
      const listed = await cf(stack, { alert_type: 'bgp_hijack_notification', alert_correlation_id: 'down-1', data: { prefix_configured: WD.cidr } });
      expect(listed.status).toBe(200);
      const far = await cf(stack, { alert_type: 'bgp_hijack_notification', alert_correlation_id: 'down-2', data: { prefix_configured: '192.0.2.0/24' } });
      expect(far.status).toBe(200);
      const farCard = await stack.slack.waitFor(() => cardsWith(stack, '192.0.2.0/24 (could not tell whether it is ours)')[0], 10_000);
      expect(JSON.stringify(farCard.blocks)).toContain('unknown: Cloudflare could not be read');
      const listedCard = await stack.slack.waitFor(() => alertCards(stack).find((m) => JSON.stringify(m.blocks).includes(`route leak of ${WD.cidr}`)), 10_000);
      expect(JSON.stringify(listedCard.blocks)).toContain(ActionId.AlertWithdraw);
    } finally {
      stack.cloudflare.clearFaults();
      await stack.bot!.reader.invalidate(`prefixes:${DEFAULT_SCENARIO.accountId}`);
    }
  });

  it('the detector: bad token 401, bad body 400; an attack on an auto_advertise prefix advertises once within the break-glass cap', async () => {
    const det = (body: unknown, token: string | null = DETECTOR_TOKEN) => post(stack, '/webhooks/detector', body, token === null ? {} : { authorization: `Bearer ${token}` });
    expect((await det({ ip: '198.51.100.7', action: 'ban' }, null)).status).toBe(401);
    expect((await det({ ip: '198.51.100.7', action: 'ban' }, 'nope')).status).toBe(401);
    const bad = await det({ ip: 'not-an-ip', action: 'ban' });
    expect(bad.status).toBe(400);
    expect(bad.json.error).toMatch(/not an IP address or prefix/);
    expect((await det({ action: 'ban' })).status).toBe(400);
    const attack = { ip: '198.51.100.7', action: 'ban', alert_scope: 'host', attack_details: { attack_uuid: 'u-1', attack_type: 'syn_flood', total_incoming_traffic: 4_000_000_000, total_incoming_pps: 900_000 } };
    const first = await det(attack);
    expect(first.status).toBe(200);
    expect(String(first.json.advertise)).toMatch(/^sent/);
    // the same attack again (another IP of the prefix, then a replay): folded into the alert, nothing sent again
    expect((await det({ ...attack, ip: '198.51.100.9' })).json.created).toBe(false);
    expect((await det(attack)).json.duplicate).toBe(true);
    await stack.slack.waitFor(() => (patchCalls(stack, WD.bgpPrefixId).length ? true : undefined), 10_000);
    const card = await stack.slack.waitFor(() => cardsWith(stack, 'Advertised automatically')[0], 5000);
    expect(JSON.stringify(card.blocks)).toContain(WD.cidr);
    await settle();
    const patches = patchCalls(stack, WD.bgpPrefixId);
    expect(patches).toHaveLength(1);
    expect(JSON.stringify(patches[0]!.body)).toContain('"advertised":true');
    const bg = (await stack.bot!.store.auditTrail()).filter((a) => a.type === 'break_glass');
    expect(bg.map((a) => a.actor)).toEqual(['detector']);
    // the attack ends: the card resolves
    expect((await det({ ip: '198.51.100.7', action: 'unban' })).json.resolved).toBe(true);
    await stack.slack.waitFor(() => (JSON.stringify(stack.slack.message(CHANNEL, card.ts)?.blocks).includes('RESOLVED') ? true : undefined), 5000);
    // someone withdraws it in the dashboard once the advertise has finished; a new attack opens a new alert, but the
    // cap (1 per hour) is spent: the card says so and nothing is sent
    const opId = String(first.json.advertise).match(/request ([0-9a-f]+)/)![1]!;
    await stack.slack.waitFor(async () => {
      const op = await stack.bot!.store.get(opId);
      return op && ['done', 'contested', 'unconfirmed', 'failed'].includes(op.state) ? true : undefined;
    }, 30_000);
    stack.cloudflare.state.bgpPrefixes.get(WD.bgpPrefixId)!.advertised = false;
    await stack.bot!.reader.invalidate(`bgp-prefixes:${WD.id}`); // the bot's shared 2 s copy of the list
    const second = await det({ ...attack, attack_details: { attack_uuid: 'u-2' } });
    expect(second.json.created).toBe(true);
    expect(String(second.json.advertise)).toMatch(/not sent: Break glass has been used 1 time/);
    await stack.slack.waitFor(() => cardsWith(stack, 'Automatic advertise NOT sent: Break glass has been used')[0], 5000);
    expect(patchCalls(stack, WD.bgpPrefixId)).toHaveLength(1);
  });
});

describe('webhooks without their secrets: off, and say why', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await testStack({ env: { CLOUDFLARE_WEBHOOK_SECRET: '', DETECTOR_WEBHOOK_SECRET: '' } });
  });
  afterAll(async () => {
    await stack.cleanup();
  });

  it('answers 503 with the variable to set, and posts nothing', async () => {
    const r = await cf(stack, { alert_type: 'bgp_hijack_notification' }, 'anything');
    expect(r.status).toBe(503);
    expect(r.json.error).toMatch(/CLOUDFLARE_WEBHOOK_SECRET/);
    const d = await post(stack, '/webhooks/detector', { ip: '198.51.100.7', action: 'ban' }, { authorization: 'Bearer x' });
    expect(d.status).toBe(503);
    expect(d.json.error).toMatch(/DETECTOR_WEBHOOK_SECRET/);
    expect(alertCards(stack)).toHaveLength(0);
  });
});

describe('Socket Mode: the webhooks are on the ops server of the same port', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await testStack({ socketMode: true });
  });
  afterAll(async () => {
    await stack.cleanup();
  });

  it('a signed notification makes a card; the probes still answer; GET on a webhook is 404', async () => {
    const r = await cf(stack, { alert_type: 'fbm_volumetric_attack', alert_correlation_id: 'sm-1', data: { prefix: ADV.cidr, attack_vector: 'UDP flood' } });
    expect(r.status).toBe(200);
    const card = await stack.slack.waitFor(() => cardsWith(stack, 'volumetric attack on 203.0.113.0/24')[0], 5000);
    expect(JSON.stringify(card.blocks)).toContain(ActionId.AlertAdvertise);
    expect((await cf(stack, { alert_type: 'x' }, 'wrong')).status).toBe(401);
    expect((await fetch(`${stack.bot!.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${stack.bot!.url}/webhooks/cloudflare`)).status).toBe(404);
  });

  it("the simulator's control API sends a notification to the bot (what the sandbox drives)", async () => {
    const res = await fetch(`${stack.cloudflare.controlUrl}/notifications`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ kind: 'dosd', prefix: ADV.cidr }) });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { status: number }).status).toBe(200);
    await stack.slack.waitFor(() => cardsWith(stack, 'DoS attack on 203.0.113.0/24')[0], 5000);
    const bad = await fetch(`${stack.cloudflare.controlUrl}/notifications`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ kind: 'nope' }) });
    expect(bad.status).toBe(400);
  });
});
