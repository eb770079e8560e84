import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { App, LogLevel } from '@slack/bolt';
import { startSlackSimulator, type SlackSimulator } from '../../world/simulator/slack/server.js';
import { SlackRequestSender, buttonsIn, findButton, slackSignature } from '../../world/simulator/slack/sender.js';

const TOKEN = 'xoxb-sender-test';
const SECRET = 'sender-test-signing-secret';
const CHANNEL = 'C0NETOPS';

let sim: SlackSimulator;
let app: App;
let sender: SlackRequestSender;

const card = (text: string) => [
  { type: 'section', block_id: 'summary', text: { type: 'mrkdwn', text } },
  {
    type: 'actions',
    block_id: 'decide',
    elements: [
      { type: 'button', action_id: 'approve', text: { type: 'plain_text', text: 'Approve' }, value: 'op-1', style: 'primary' },
      { type: 'button', action_id: 'reject', text: { type: 'plain_text', text: 'Reject' }, value: 'op-1', style: 'danger' },
    ],
  },
];

const requestModal = {
  type: 'modal' as const,
  callback_id: 'request',
  notify_on_close: true,
  private_metadata: 'ctx-42',
  title: { type: 'plain_text' as const, text: 'Request' },
  submit: { type: 'plain_text' as const, text: 'Send' },
  blocks: [
    { type: 'input' as const, block_id: 'prefix', label: { type: 'plain_text' as const, text: 'Prefix' }, element: { type: 'plain_text_input' as const, action_id: 'v' } },
    { type: 'actions' as const, block_id: 'more', elements: [{ type: 'button' as const, action_id: 'help', text: { type: 'plain_text' as const, text: 'Help' } }] },
  ],
};

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
  app = new App({ token: TOKEN, signingSecret: SECRET, clientOptions: { slackApiUrl: sim.apiUrl }, logLevel: LogLevel.ERROR });
  app.command('/byoip', async ({ ack, command, client, respond }) => {
    if (command.text === 'ack-text') return void (await ack('Usage: /byoip ...'));
    await ack();
    if (command.text === 'modal') await client.views.open({ trigger_id: command.trigger_id, view: requestModal });
    else if (command.text === 'respond') await respond({ text: 'just for you', blocks: card('ephemeral card') });
    else await client.chat.postMessage({ channel: command.channel_id, text: `request by <@${command.user_id}>: ${command.text}`, blocks: card(command.text) });
  });
  app.action('approve', async ({ ack, body, client, respond }) => {
    await ack();
    if (body.type !== 'block_actions') return;
    const value = body.actions[0]?.type === 'button' ? body.actions[0].value : undefined;
    if (body.container.is_ephemeral) await respond({ replace_original: true, text: `approved ${value} (ephemeral)` });
    else if (body.message && body.channel) await client.chat.update({ channel: body.channel.id, ts: body.message.ts, text: `approved ${value} by ${body.user.id}`, blocks: [] });
  });
  app.action('help', async ({ ack, body, client }) => {
    await ack();
    if (body.type === 'block_actions' && body.view) await client.views.push({ trigger_id: body.trigger_id, view: { ...requestModal, title: { type: 'plain_text', text: 'Help' }, blocks: [] , submit: undefined } });
  });
  app.view('request', async ({ ack, view }) => {
    const prefix = view.state.values.prefix?.v?.value ?? '';
    if (!prefix.includes('/')) await ack({ response_action: 'errors', errors: { prefix: `"${prefix}" is not a prefix` } });
    else await ack();
  });
  app.event('app_home_opened', async ({ event, client }) => {
    await client.views.publish({ user_id: event.user, view: { type: 'home', blocks: [{ type: 'section', text: { type: 'mrkdwn', text: `Hello <@${event.user}>` } }] } });
  });
  app.view({ type: 'view_closed', callback_id: 'request' }, async ({ ack, body, client }) => {
    await ack();
    await client.chat.postEphemeral({ channel: CHANNEL, user: body.user.id, text: 'request cancelled' });
  });
  const server = (await app.start(0)) as unknown as Server;
  const port = (server.address() as AddressInfo).port;
  sender = new SlackRequestSender({ eventsUrl: `http://127.0.0.1:${port}/slack/events`, signingSecret: SECRET, sim, defaultChannel: CHANNEL });
});

afterAll(async () => {
  await app.stop();
  await sim.close();
});

beforeEach(() => sim.reset());

describe('signing', () => {
  it('matches the HMAC Bolt expects', () => {
    expect(slackSignature('8f742231b10e8888abcd99yyyzzz85a5', 1531420618, 'token=x')).toMatch(/^v0=[0-9a-f]{64}$/);
  });

  it('a bad signature and a stale timestamp are refused with 401', async () => {
    const body = new URLSearchParams({ command: '/byoip', text: 'x', user_id: 'U0ALICE', channel_id: CHANNEL }).toString();
    expect((await sender.raw(body, sender.badSignatureHeaders(body))).status).toBe(401);
    expect((await sender.raw(body, sender.staleHeaders(body))).status).toBe(401);
    expect(sim.messages()).toEqual([]);
  });
});

describe('slash commands', () => {
  it('a signed command reaches the bot, which posts a card through the fake Web API', async () => {
    const res = await sender.command('U0ALICE', 'withdraw 203.0.113.0/24');
    expect(res.status).toBe(200);
    const msg = await sim.waitFor(() => sim.messages(CHANNEL)[0], 3000);
    expect(msg.text).toBe('request by <@U0ALICE>: withdraw 203.0.113.0/24');
    expect(buttonsIn(msg).map((b) => b.text)).toEqual(['Approve', 'Reject']);
  });

  it('shows the ack text to the user as an ephemeral, like Slack', async () => {
    await sender.command('U0ALICE', 'ack-text');
    expect(sim.ephemerals('U0ALICE').map((e) => e.text)).toEqual(['Usage: /byoip ...']);
  });

  it('respond() goes to the response_url and becomes an ephemeral with buttons', async () => {
    await sender.command('U0BOB', 'respond');
    const e = await sim.waitFor(() => sim.ephemerals('U0BOB')[0], 3000);
    expect(e.text).toBe('just for you');
    // a button in the ephemeral: the bot replaces it through the response_url
    const b = findButton(e, 'approve');
    expect(b).toBeDefined();
    await sender.clickButton('U0BOB', { channel: CHANNEL, messageTs: e.ts, actionId: 'approve' });
    await sim.waitFor(() => sim.ephemeral(e.ts)?.text === 'approved op-1 (ephemeral)', 3000);
  });
});

describe('buttons', () => {
  it('a block_actions click carries the message, value and block_id; the bot edits the card', async () => {
    await sender.command('U0ALICE', 'advertise 198.51.100.0/24');
    const msg = await sim.waitFor(() => sim.messages(CHANNEL)[0], 3000);
    const res = await sender.clickButtonByText('U0BOB', { channel: CHANNEL, messageTs: msg.ts }, 'approve');
    expect(res.status).toBe(200);
    await sim.waitFor(() => sim.message(CHANNEL, msg.ts)?.edits.length, 3000);
    expect(sim.message(CHANNEL, msg.ts)?.text).toBe('approved op-1 by U0BOB');
  });
});

describe('modals', () => {
  it('opens with the command trigger_id, shows errors, and closes on a good submission', async () => {
    await sender.command('U0ALICE', 'modal');
    const view = await sim.waitFor(() => sim.openModal('U0ALICE'), 3000);
    expect(view.callbackId).toBe('request');
    const bad = await sender.submitView('U0ALICE', view.id, { prefix: { v: { type: 'plain_text_input', value: 'nope' } } });
    expect(bad.json).toEqual({ response_action: 'errors', errors: { prefix: '"nope" is not a prefix' } });
    expect(sim.openModal('U0ALICE')?.errors).toEqual({ prefix: '"nope" is not a prefix' });
    sim.setViewValue(view.id, 'prefix', 'v', { type: 'plain_text_input', value: '203.0.113.0/24' });
    const good = await sender.submitView('U0ALICE', view.id);
    expect(good.status).toBe(200);
    expect(sim.openModal('U0ALICE')).toBeUndefined();
  });

  it('a button in a modal gives a trigger_id that views.push accepts', async () => {
    await sender.command('U0ALICE', 'modal');
    const view = await sim.waitFor(() => sim.openModal('U0ALICE'), 3000);
    await sender.clickButton('U0ALICE', { viewId: view.id, actionId: 'help' });
    const top = await sim.waitFor(() => (sim.openModal('U0ALICE')?.id !== view.id ? sim.openModal('U0ALICE') : undefined), 3000);
    expect(top.stack).toEqual([view.id, top.id]);
  });
});

describe('events and closing', () => {
  it('app_home_opened arrives as a signed Events API callback and the bot publishes a home tab', async () => {
    const res = await sender.appHomeOpened('U0BOB');
    expect(res.status).toBe(200);
    const home = await sim.waitFor(() => sim.views('U0BOB').find((v) => v.type === 'home'), 3000);
    expect(JSON.stringify(home.view.blocks)).toContain('Hello <@U0BOB>');
  });

  it('closing a modal with notify_on_close sends view_closed', async () => {
    await sender.command('U0ALICE', 'modal');
    const view = await sim.waitFor(() => sim.openModal('U0ALICE'), 3000);
    const res = await sender.closeView('U0ALICE', view.id);
    expect(res?.status).toBe(200);
    expect(sim.openModal('U0ALICE')).toBeUndefined();
    await sim.waitFor(() => sim.ephemerals('U0ALICE').find((e) => e.text === 'request cancelled'), 3000);
  });
});
