import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SCENARIO } from '../../world/simulator/cloudflare/scenarios.js';
import { ActionId } from '../../src/slack/ids.js';
import { pausableRedisProxy } from '../helpers/redis-proxy.js';
import { CHANNEL, cardFor, checklist, expectWithdrawDone, patchCalls, reason, testStack } from '../helpers/stack.js';

type TestStack = Awaited<ReturnType<typeof testStack>>;

const ALICE = 'U0ALICE';
const BOB = 'U0BOB';

/** alice files a request through the socket: command, modal, submit; returns the status card. */
async function requestChange(stack: TestStack, kind: 'withdraw' | 'advertise', cidr: string, why: string) {
  const sender = stack.socketSender!;
  const res = await sender.command(ALICE, `${kind} ${cidr}`, { channel: CHANNEL });
  expect(res).toMatchObject({ status: 200, acked: true, attempts: 1 });
  const modal = await stack.slack.waitFor(() => stack.slack.openModal(ALICE), 5000);
  const submit = await sender.submitView(ALICE, modal.id, { ...reason(why), ...checklist });
  expect(submit).toMatchObject({ status: 200, acked: true });
  expect(stack.slack.view(modal.id)?.closed).toBe(true); // an empty ack closes the modal, as over HTTP
  return stack.slack.waitFor(() => cardFor(stack, cidr), 5000);
}

describe('Socket Mode: the bot connects with its app token and the withdraw story runs through the WebSocket', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await testStack({ socketMode: true });
  });
  afterAll(async () => {
    await stack.cleanup();
  });

  it('opens one connection with the app token, gets hello, and serves /healthz over plain HTTP', async () => {
    expect(stack.sender).toBeNull(); // no HTTP receiver to sign requests for
    expect(stack.env.SLACK_APP_TOKEN).toMatch(/^xapp-/);
    const opens = stack.slack.callsOf('apps.connections.open');
    expect(opens.length).toBeGreaterThanOrEqual(1);
    expect(opens.every((c) => c.ok)).toBe(true);
    expect(stack.socket!.hellos).toBe(1);
    expect(stack.socket!.openConnections()).toBe(1);
    // the bot token still goes to the Web API (auth.test at start, group checks)
    expect(stack.slack.callsOf('auth.test').length).toBeGreaterThanOrEqual(1);

    expect(stack.bot!.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const health = await fetch(`${stack.bot!.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ ok: true, role: 'all' });
    expect((await fetch(`${stack.bot!.url}/slack/events`, { method: 'POST' })).status).toBe(404);
  });

  it('withdraw: the modal, the card, self-approval refused, a refresh mid-story, bob approves, one PATCH, Done', async () => {
    const socket = stack.socket!;
    const sender = stack.socketSender!;
    const p = DEFAULT_SCENARIO.prefixes.advertised;
    const card = await requestChange(stack, 'withdraw', p.cidr, 'move traffic back to our DC for maintenance CHG-1234');
    expect(JSON.stringify(card.blocks)).toContain('Approve');

    // alice cannot approve her own request: the refusal comes back as an ephemeral
    const self = await sender.clickButton(ALICE, { channel: CHANNEL, messageTs: card.ts, actionId: ActionId.Approve });
    expect(self.acked).toBe(true);
    const refusal = await stack.slack.waitFor(() => stack.slack.ephemerals(ALICE).find((e) => e.text.includes('cannot approve')), 5000);
    expect(refusal.text).toMatch(/you asked for this change/i);
    expect(patchCalls(stack, p.bgpPrefixId)).toHaveLength(0);

    // Slack recycles the connection: the bot closes it and opens a new one. bob clicks while it is away;
    // the click waits for the new connection and is delivered there.
    const connectsBefore = stack.slack.callsOf('apps.connections.open').length;
    expect(socket.requestRefresh('refresh_requested')).toBe(1);
    await stack.slack.waitFor(() => socket.openConnections() === 0 || undefined, 5000);
    const approve = await sender.clickButton(BOB, { channel: CHANNEL, messageTs: card.ts, actionId: ActionId.Approve });
    expect(approve).toMatchObject({ status: 200, acked: true, attempts: 1 });
    expect(socket.hellos).toBe(2);
    expect(stack.slack.callsOf('apps.connections.open').length).toBe(connectsBefore + 1);
    const [first, second] = socket.connections;
    expect(first).toMatchObject({ open: false, disconnectReason: 'refresh_requested', closeCode: 1000 });
    expect(second).toMatchObject({ open: true });
    expect(socket.deliveries.find((d) => d.envelopeId === approve.envelopeId)?.connectionId).toBe(second!.id);

    await expectWithdrawDone(stack, card.ts, p);

    const op = (await stack.bot!.store.recent(5)).find((o) => o.prefix === p.cidr)!;
    expect(op.state).toBe('done');
    const audit = (await stack.bot!.store.auditTrail(op.id)).map((a) => `${a.type}:${a.actor}`);
    expect(audit).toEqual(expect.arrayContaining(['requested:U0ALICE', 'approval_refused:U0ALICE', 'approved:U0BOB', 'done:system']));

    // every envelope was acked once, in time, and never resent
    expect(socket.deliveries.map((d) => d.type)).toEqual(['slash_commands', 'interactive', 'interactive', 'interactive']);
    expect(socket.deliveries.every((d) => d.attempt === 0)).toBe(true);
    expect(socket.acks.map((a) => a.envelopeId)).toEqual(socket.deliveries.map((d) => d.envelopeId));
    expect(socket.acks.some((a) => a.late)).toBe(false);
  });

  it('advertise survives a dropped connection (no close handshake): the bot reconnects and the story completes', async () => {
    const socket = stack.socket!;
    const sender = stack.socketSender!;
    const p = DEFAULT_SCENARIO.prefixes.withdrawn;
    const hellos = socket.hellos;
    socket.dropConnections();
    // The bot notices (close code 1006) and reconnects after @slack/socket-mode's back-off (5 s). alice types
    // her command once it is back: a command held that long would carry an expired trigger_id (3 s), so the
    // modal could not open, as with Slack.
    await socket.waitForHellos(hellos + 1, 15_000);
    expect(socket.connections.at(-2)).toMatchObject({ open: false, closeCode: 1006 });
    const card = await requestChange(stack, 'advertise', p.cidr, 'DDoS mitigation drill INC-42');
    await sender.clickButton(BOB, { channel: CHANNEL, messageTs: card.ts, actionId: ActionId.Approve });
    const done = await stack.slack.waitFor(() => stack.slack.thread(CHANNEL, card.ts).find((m) => m.text.includes('Done:')), 20_000);
    expect(done.text).toContain('propagated');
    expect(patchCalls(stack, p.bgpPrefixId)).toHaveLength(1);
    expect(stack.cloudflare.state.bgpPrefixes.get(p.bgpPrefixId)!.advertised).toBe(true);
  });
});

describe('Socket Mode /readyz follows Redis, /healthz is liveness only', () => {
  it('readyz answers 503 within 2 s of Redis going silent and 200 again once it answers; healthz stays 200', async () => {
    const proxy = await pausableRedisProxy();
    const stack = await testStack({ socketMode: true, redisUrl: proxy.url });
    try {
      const base = stack.bot!.url!;
      const ready = await fetch(`${base}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toMatchObject({ ready: true, role: 'all', checks: { redis: { ok: true }, workers: { ok: true, live: 1 } } });
      proxy.pause();
      const started = Date.now();
      const down = await fetch(`${base}/readyz`);
      const turned = Date.now() - started;
      expect(down.status).toBe(503);
      expect(await down.json()).toMatchObject({ ready: false, checks: { redis: { ok: false } } });
      expect(turned).toBeLessThan(2000);
      const live = await fetch(`${base}/healthz`);
      expect(live.status).toBe(200); // the process is alive; restarting it would not bring Redis back
      expect(await live.json()).toEqual({ ok: true, role: 'all' });
      proxy.resume();
      const up = await fetch(`${base}/readyz`);
      expect(up.status).toBe(200);
    } finally {
      proxy.resume();
      await stack.cleanup();
      await proxy.close();
    }
  });
});
