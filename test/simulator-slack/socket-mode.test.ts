import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { App, LogLevel, SocketModeReceiver } from '@slack/bolt';
import { startSlackSimulator } from '../../world/simulator/slack/server.js';
import { SocketModeSender, startSocketModeSimulator, type SocketModeSimulator } from '../../world/simulator/slack/socket-mode.js';
import type { Json, SlackSimulator } from '../../world/simulator/slack/types.js';

const TOKEN = 'xoxb-socket-test';
const APP_TOKEN = 'xapp-1-A0SIMAPP01-socket-test';
const CHANNEL = 'C0NETOPS';

let sim: SlackSimulator;
let socket: SocketModeSimulator;
let app: App;
let receiver: SocketModeReceiver;
let sender: SocketModeSender;
/** Every message the bot's Socket Mode client received, parsed. */
const received: Json[] = [];

const modal = {
  type: 'modal' as const,
  callback_id: 'request',
  title: { type: 'plain_text' as const, text: 'Request' },
  submit: { type: 'plain_text' as const, text: 'Send' },
  blocks: [{ type: 'input' as const, block_id: 'prefix', label: { type: 'plain_text' as const, text: 'Prefix' }, element: { type: 'plain_text_input' as const, action_id: 'v' } }],
};

async function connectionsOpen(token?: string): Promise<Json> {
  const res = await fetch(`${sim.apiUrl}apps.connections.open`, { method: 'POST', headers: token ? { authorization: `Bearer ${token}` } : {} });
  return (await res.json()) as Json;
}

/** Tries a WebSocket upgrade and reports the HTTP status the server answered. */
function upgradeStatus(url: string): Promise<number> {
  const u = new URL(url.replace(/^ws:/, 'http:'));
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: u.hostname,
      port: u.port,
      path: `${u.pathname}${u.search}`,
      headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' },
    });
    req.on('upgrade', (res, s) => {
      s.destroy();
      resolve(res.statusCode ?? 0);
    });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  sim = await startSlackSimulator({
    botToken: TOKEN,
    users: [
      { id: 'U0ALICE', name: 'alice' },
      { id: 'U0BOB', name: 'bob' },
    ],
    usergroups: [],
    channels: [{ id: CHANNEL, name: 'netops' }],
    postMessageRateLimit: false,
  });
  socket = await startSocketModeSimulator(sim, { appToken: APP_TOKEN, ackTimeoutMs: 500, retries: { slash_commands: 2 }, retryDelaysMs: [0] });
  // clientPingTimeout also sets the client's reconnect back-off (1 s instead of 5 s)
  receiver = new SocketModeReceiver({ appToken: APP_TOKEN, logLevel: LogLevel.ERROR, clientPingTimeout: 1000, installerOptions: { clientOptions: { slackApiUrl: sim.apiUrl } } });
  receiver.client.on('ws_message', (data: unknown) => {
    received.push(JSON.parse(typeof data === 'string' ? data : new TextDecoder().decode(data as ArrayBuffer)) as Json);
  });
  app = new App({ token: TOKEN, receiver, clientOptions: { slackApiUrl: sim.apiUrl }, logLevel: LogLevel.ERROR });
  app.command('/byoip', async ({ ack, command, client }) => {
    if (command.text === 'silent') return; // never acks
    if (command.text === 'usage') return void (await ack('Usage: /byoip ...'));
    await ack();
    if (command.text === 'modal') await client.views.open({ trigger_id: command.trigger_id, view: modal });
    else if (command.text === 'slow-card') {
      const blocks = [{ type: 'actions', elements: [{ type: 'button', action_id: 'slow', text: { type: 'plain_text', text: 'Slow' } }] }];
      await client.chat.postMessage({ channel: command.channel_id, text: 'slow', blocks });
    }
    else await client.chat.postMessage({ channel: command.channel_id, text: `got ${command.text}` });
  });
  app.action('slow', async ({ ack }) => {
    await new Promise((r) => setTimeout(r, 800));
    await ack();
  });
  app.view('request', async ({ ack, view }) => {
    const prefix = view.state.values.prefix?.v?.value ?? '';
    if (!prefix.includes('/')) await ack({ response_action: 'errors', errors: { prefix: `"${prefix}" is not a prefix` } });
    else await ack();
  });
  app.event('app_home_opened', async ({ event, client }) => {
    await client.views.publish({ user_id: event.user, view: { type: 'home', blocks: [{ type: 'section', text: { type: 'mrkdwn', text: `Hello <@${event.user}>` } }] } });
  });
  await app.start();
  sender = new SocketModeSender({ socket, sim, defaultChannel: CHANNEL });
});

afterAll(async () => {
  await app.stop();
  await socket.close();
  await sim.close();
});

describe('the connection', () => {
  it('Bolt connects with the app token and is greeted with hello', () => {
    expect(received[0]).toMatchObject({ type: 'hello', num_connections: 1, connection_info: { app_id: 'A0SIMAPP01' } });
    expect(received[0]!.debug_info).toMatchObject({ host: expect.any(String) });
    expect(socket.hellos).toBe(1);
  });

  it('answers the client’s pings (the client drops a connection whose pongs stop)', async () => {
    // @slack/socket-mode pings every clientPingTimeout/3 and reconnects when 3 go unanswered
    await new Promise((r) => setTimeout(r, 1500));
    expect(socket.hellos).toBe(1);
    expect(socket.connections.filter((c) => c.open)).toHaveLength(1);
  });
});

describe('apps.connections.open', () => {
  it('wants the app-level token', async () => {
    expect(await connectionsOpen()).toEqual({ ok: false, error: 'not_authed' });
    expect(await connectionsOpen(TOKEN)).toEqual({ ok: false, error: 'not_allowed_token_type' });
    expect(await connectionsOpen('xapp-1-A0OTHER-wrong')).toEqual({ ok: false, error: 'invalid_auth' });
    const ok = await connectionsOpen(APP_TOKEN);
    expect(ok.ok).toBe(true);
    expect(ok.url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/link\/\?ticket=[0-9a-f-]+&app_id=A0SIMAPP01$/);
    expect(sim.callsOf('apps.connections.open').map((c) => c.error ?? 'ok')).toEqual(expect.arrayContaining(['not_authed', 'not_allowed_token_type', 'invalid_auth', 'ok']));
  });

  it('a ticket opens one connection; unknown tickets and plain HTTP are refused', async () => {
    const { url } = (await connectionsOpen(APP_TOKEN)) as { url: string };
    expect(await upgradeStatus(url)).toBe(101);
    expect(await upgradeStatus(url)).toBe(401);
    expect(await upgradeStatus(`${socket.url}/link/?ticket=nope`)).toBe(401);
    expect((await fetch(`${socket.url.replace('ws:', 'http:')}/link/`)).status).toBe(426);
  });
});

describe('envelopes and acks', () => {
  it('a slash command is a slash_commands envelope; the ack text becomes an ephemeral', async () => {
    const res = await sender.command('U0ALICE', 'usage');
    expect(res).toMatchObject({ status: 200, acked: true, attempts: 1, json: { text: 'Usage: /byoip ...' } });
    const msg = received.find((m) => m.envelope_id === res.envelopeId)!;
    expect(msg).toMatchObject({ type: 'slash_commands', accepts_response_payload: true, payload: { command: '/byoip', text: 'usage', user_id: 'U0ALICE', channel_id: CHANNEL } });
    expect(msg).not.toHaveProperty('retry_attempt');
    expect(sim.ephemerals('U0ALICE').map((e) => e.text)).toContain('Usage: /byoip ...');
    expect(socket.acks.find((a) => a.envelopeId === res.envelopeId)).toMatchObject({ type: 'slash_commands', late: false, payload: { text: 'Usage: /byoip ...' } });
  });

  it('a view_submission’s response_action errors stays on the modal; an empty ack closes it', async () => {
    await sender.command('U0ALICE', 'modal');
    const view = await sim.waitFor(() => sim.openModal('U0ALICE'), 3000);
    const bad = await sender.submitView('U0ALICE', view.id, { prefix: { v: { type: 'plain_text_input', value: 'nope' } } });
    expect(bad, JSON.stringify(bad)).toMatchObject({ acked: true });
    expect(bad.json).toEqual({ response_action: 'errors', errors: { prefix: '"nope" is not a prefix' } });
    expect(sim.view(view.id)?.errors).toEqual({ prefix: '"nope" is not a prefix' });
    expect(sim.view(view.id)?.closed).toBe(false);
    expect(received.find((m) => m.envelope_id === bad.envelopeId)).toMatchObject({ type: 'interactive', accepts_response_payload: true, payload: { type: 'view_submission' } });
    const good = await sender.submitView('U0ALICE', view.id, { prefix: { v: { type: 'plain_text_input', value: '203.0.113.0/24' } } });
    expect(good).toMatchObject({ status: 200, json: {} });
    expect(sim.view(view.id)?.closed).toBe(true);
  });

  it('an Events API callback is an events_api envelope with retry_attempt 0', async () => {
    const res = await sender.appHomeOpened('U0BOB');
    expect(res.acked).toBe(true);
    expect(received.find((m) => m.envelope_id === res.envelopeId)).toMatchObject({
      type: 'events_api',
      accepts_response_payload: false,
      retry_attempt: 0,
      retry_reason: '',
      payload: { type: 'event_callback', event: { type: 'app_home_opened', user: 'U0BOB' } },
    });
    await sim.waitFor(() => sim.views('U0BOB').find((v) => v.type === 'home'), 3000);
  });

  it('an envelope nobody acks is sent again with retry_attempt / retry_reason, then given up', async () => {
    const res = await sender.command('U0ALICE', 'silent');
    expect(res).toMatchObject({ status: 0, acked: false, attempts: 3, error: 'operation_timeout' });
    const sent = socket.deliveries.filter((d) => d.envelopeId === res.envelopeId);
    expect(sent.map((d) => [d.attempt, d.message.retry_attempt, d.message.retry_reason])).toEqual([
      [0, undefined, undefined],
      [1, 1, 'timeout'],
      [2, 2, 'timeout'],
    ]);
    expect(socket.acks.filter((a) => a.envelopeId === res.envelopeId)).toEqual([]);
  });

  it('an interaction acked too late is not resent (Slack shows the user an error) and the late ack is recorded', async () => {
    // a message with a 'slow' button: the bot acks after 800 ms, Slack waits 500 here
    await sender.command('U0BOB', 'slow-card');
    const slow = await sim.waitFor(() => sim.messages(CHANNEL).find((m) => m.text === 'slow'), 3000);
    const res = await sender.clickButton('U0BOB', { channel: CHANNEL, messageTs: slow.ts, actionId: 'slow' });
    expect(res).toMatchObject({ acked: false, attempts: 1, error: 'operation_timeout' });
    const late = await sim.waitFor(() => socket.acks.find((a) => a.envelopeId === res.envelopeId), 3000);
    expect(late).toMatchObject({ late: true, type: 'interactive' });
    expect(late.latencyMs).toBeGreaterThanOrEqual(700);
  });
});

describe('disconnects', () => {
  it('refresh_requested: the client closes the connection, opens a new one, and envelopes keep flowing', async () => {
    const hellos = socket.hellos;
    const opens = sim.callsOf('apps.connections.open').length;
    expect(socket.requestRefresh()).toBe(1);
    // a command sent while the bot is away waits for the new connection
    const res = await sender.command('U0ALICE', 'after-refresh');
    expect(res).toMatchObject({ acked: true, attempts: 1 });
    expect(socket.hellos).toBe(hellos + 1);
    expect(sim.callsOf('apps.connections.open').length).toBe(opens + 1);
    expect(received.filter((m) => m.type === 'disconnect')).toEqual([{ type: 'disconnect', reason: 'refresh_requested', debug_info: { host: expect.any(String) } }]);
    const old = socket.connections.find((c) => c.disconnectReason === 'refresh_requested')!;
    expect(old).toMatchObject({ open: false, closeCode: 1000 });
    expect(socket.deliveries.find((d) => d.envelopeId === res.envelopeId)!.connectionId).not.toBe(old.id);
    await sim.waitFor(() => sim.messages(CHANNEL).find((m) => m.text === 'got after-refresh'), 3000);
  });

  it('a dropped connection (no close handshake) is reopened too', async () => {
    const hellos = socket.hellos;
    socket.dropConnections();
    await socket.waitForHellos(hellos + 1, 10_000);
    expect(socket.connections.at(-2)).toMatchObject({ open: false, closeCode: 1006 });
    expect((await sender.command('U0ALICE', 'after-drop')).acked).toBe(true);
  });
});
