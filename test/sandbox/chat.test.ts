import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough, Readable } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startSlackSimulator, type SlackSimulator } from '../../world/simulator/slack/server.js';
import { SlackRequestSender, slackSignature } from '../../world/simulator/slack/sender.js';
import { markChanges, parseDuration, runChat, type ChatUser } from '../../world/sandbox/chat.js';

const TOKEN = 'xoxb-chat-test';
const SECRET = 'chat-test-secret';
const CHANNEL = 'C0NETOPS';

const users: ChatUser[] = [
  { id: 'U0ALICE', name: 'alice', role: 'requester' },
  { id: 'U0BOB', name: 'bob', role: 'approver' },
  { id: 'U0CAROL', name: 'carol', role: 'on call' },
  { id: 'U0MALLORY', name: 'mallory', role: 'no group' },
];

let sim: SlackSimulator;
let bot: http.Server;
let sender: SlackRequestSender;

async function api(method: string, args: Record<string, unknown>): Promise<Record<string, unknown>> {
  const res = await fetch(`${sim.apiUrl}${method}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(args),
  });
  return (await res.json()) as Record<string, unknown>;
}

const card = (prefix: string, status: string, buttons: boolean) => [
  { type: 'header', text: { type: 'plain_text', text: `Withdraw ${prefix}` } },
  { type: 'section', text: { type: 'mrkdwn', text: status } },
  ...(buttons
    ? [
        {
          type: 'actions',
          block_id: 'decide',
          elements: [
            { type: 'button', action_id: 'approve', text: { type: 'plain_text', text: 'Approve' }, value: prefix },
            { type: 'button', action_id: 'reject', text: { type: 'plain_text', text: 'Reject' }, value: prefix },
          ],
        },
      ]
    : []),
];

const form = {
  type: 'modal',
  callback_id: 'withdraw',
  title: { type: 'plain_text', text: 'Withdraw' },
  submit: { type: 'plain_text', text: 'Request' },
  blocks: [
    { type: 'input', block_id: 'prefix', label: { type: 'plain_text', text: 'Prefix' }, element: { type: 'plain_text_input', action_id: 'v' } },
    {
      type: 'input',
      block_id: 'account',
      label: { type: 'plain_text', text: 'Account' },
      element: { type: 'static_select', action_id: 'v', options: [{ text: { type: 'plain_text', text: 'Production' }, value: 'acc-prod' }, { text: { type: 'plain_text', text: 'Lab' }, value: 'acc-lab' }] },
    },
    {
      type: 'input',
      block_id: 'checks',
      optional: true,
      label: { type: 'plain_text', text: 'Checks' },
      element: { type: 'checkboxes', action_id: 'v', options: [{ text: { type: 'plain_text', text: 'RPKI' }, value: 'rpki' }, { text: { type: 'plain_text', text: 'IRR' }, value: 'irr' }] },
    },
  ],
};

/** A tiny bot: checks signatures, answers /byoip and clicks through the simulator's Web API. */
async function handleBot(body: string, headers: http.IncomingHttpHeaders): Promise<{ status: number; body: string }> {
  const ts = Number(headers['x-slack-request-timestamp']);
  if (headers['x-slack-signature'] !== slackSignature(SECRET, ts, body)) return { status: 401, body: '' };
  const fields = new URLSearchParams(body);
  if (fields.get('command')) {
    const text = fields.get('text') ?? '';
    const user = fields.get('user_id') ?? '';
    const [verb, prefix = ''] = text.split(/\s+/);
    if (verb === 'withdraw') {
      void api('chat.postMessage', { channel: fields.get('channel_id'), text: `Withdraw ${prefix}`, blocks: card(prefix, `Requested by <@${user}>`, true) });
      return { status: 200, body: '' };
    }
    if (verb === 'form') {
      void api('views.open', { trigger_id: fields.get('trigger_id'), view: form });
      return { status: 200, body: '' };
    }
    if (verb === 'crash') return { status: 500, body: 'boom' };
    return { status: 200, body: 'Usage: /byoip withdraw <prefix>' };
  }
  const payload = JSON.parse(fields.get('payload') ?? '{}') as {
    type: string;
    user: { id: string };
    channel?: { id: string };
    message?: { ts: string };
    actions?: { action_id: string; value: string }[];
    response_url?: string;
    view?: { state: { values: Record<string, Record<string, { value?: string; selected_option?: { value: string }; selected_options?: { value: string }[] }>> } };
  };
  if (payload.type === 'block_actions') {
    const action = payload.actions?.[0];
    if (payload.user.id === 'U0MALLORY') {
      void fetch(payload.response_url ?? '', { method: 'POST', body: JSON.stringify({ text: 'You are not in an approver group.' }) });
      return { status: 200, body: '' };
    }
    if (action?.action_id === 'approve' && payload.channel && payload.message) {
      const { channel, message } = payload;
      void (async () => {
        await api('chat.update', { channel: channel.id, ts: message.ts, text: 'approved', blocks: card(action.value, `Approved by <@${payload.user.id}>`, false) });
        await api('chat.postMessage', { channel: channel.id, thread_ts: message.ts, text: `Withdrawal of ${action.value} done` });
      })();
    }
    return { status: 200, body: '' };
  }
  if (payload.type === 'view_submission') {
    const values = payload.view?.state.values ?? {};
    const prefix = values.prefix?.v?.value ?? '';
    if (!prefix.includes('/')) return { status: 200, body: JSON.stringify({ response_action: 'errors', errors: { prefix: 'Give a prefix like 203.0.113.0/24' } }) };
    const account = values.account?.v?.selected_option?.value ?? '?';
    const checks = (values.checks?.v?.selected_options ?? []).map((o) => o.value).join('+');
    void api('chat.postMessage', { channel: CHANNEL, text: `form: ${prefix} on ${account} checks ${checks}` });
    return { status: 200, body: '' };
  }
  return { status: 200, body: '' };
}

beforeAll(async () => {
  sim = await startSlackSimulator({
    botToken: TOKEN,
    users: users.map((u) => ({ id: u.id, name: u.name })),
    usergroups: [],
    channels: [{ id: CHANNEL, name: 'netops' }],
    postMessageRateLimit: false,
  });
  bot = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void handleBot(Buffer.concat(chunks).toString('utf8'), req.headers).then((r) => {
        res.writeHead(r.status, r.body.startsWith('{') ? { 'content-type': 'application/json' } : {});
        res.end(r.body);
      });
    });
  });
  await new Promise<void>((resolve) => bot.listen(0, '127.0.0.1', resolve));
  sender = new SlackRequestSender({ eventsUrl: `http://127.0.0.1:${(bot.address() as AddressInfo).port}/slack/events`, signingSecret: SECRET, sim });
});

afterAll(async () => {
  bot.closeAllConnections();
  await new Promise((r) => bot.close(r));
  await sim.close();
});

beforeEach(() => sim.reset());

async function runScript(lines: string[], waitUntilTimeoutMs = 10_000): Promise<{ code: number; out: string }> {
  const output = new PassThrough();
  let out = '';
  output.on('data', (d: Buffer) => (out += d.toString('utf8')));
  const code = await runChat({
    sim,
    sender,
    users,
    defaultUser: 'alice',
    channel: CHANNEL,
    input: Readable.from(lines.map((l) => `${l}\n`)),
    output,
    script: true,
    waitUntilTimeoutMs,
  });
  return { code, out };
}

describe('script mode', () => {
  it('runs a request / approve round trip and exits 0', async () => {
    const { code, out } = await runScript([
      '# a comment',
      '',
      '/byoip withdraw 203.0.113.0/24',
      'wait until Requested by @alice',
      'as bob',
      'click approve',
      'wait until done',
      'quit',
      '/byoip never reached',
    ]);
    expect(code).toBe(0);
    expect(out).toContain('alice> /byoip withdraw 203.0.113.0/24');
    expect(out).toContain('bot: == Withdraw 203.0.113.0/24 ==');
    expect(out).toContain('[ Approve ] [ Reject ]');
    expect(out).toContain('You are now bob (approver).');
    expect(out).toContain('~ card updated:');
    expect(out).toContain('  › Approved by @bob');
    expect(out).toContain('    == Withdraw 203.0.113.0/24 ==');
    expect(out).toContain('  ↳ bot: Withdrawal of 203.0.113.0/24 done');
    expect(out).not.toContain('never reached');
  });

  it('exits 1 with the reason when a wait until times out', async () => {
    const { code, out } = await runScript(['/byoip withdraw 198.51.100.0/24', 'wait until propagated everywhere', 'as bob'], 300);
    expect(code).toBe(1);
    expect(out).toMatch(/waited 0\.3 s and no message, reply, card or ephemeral contains "propagated everywhere"/);
    expect(out).toContain('Latest messages:');
    expect(out).not.toContain('bob>');
  });

  it('shows ephemerals as "(only you)", the ack text, and HTTP errors from the bot', async () => {
    const { code, out } = await runScript([
      '/byoip',
      '/byoip crash',
      '/byoip withdraw 192.0.2.0/24',
      'wait until Requested',
      'as mallory',
      'click Approve',
      'wait until not in an approver group',
    ]);
    expect(code).toBe(0);
    expect(out).toContain('(only you) bot: Usage: /byoip withdraw <prefix>');
    expect(out).toContain('! the bot answered /byoip with HTTP 500: boom');
    expect(out).toContain('(only you) bot: You are not in an approver group.');
  });

  it('fills and submits a modal, showing the bot errors first', async () => {
    const { code, out } = await runScript([
      '/byoip form',
      'wait until Withdraw',
      'fill prefix=nope',
      'fill acc=lab',
      'fill checks=RPKI, irr',
      'submit',
      'wait 100ms',
      'fill Prefix=203.0.113.0/24',
      'submit',
      'wait until form: 203.0.113.0/24 on acc-lab checks rpki+irr',
    ]);
    expect(code).toBe(0);
    expect(out).toContain('[modal opened for you]');
    expect(out).toContain('┌─ Withdraw');
    expect(out).toContain('  Account = lab');
    expect(out).toContain('[the bot refused the form]');
    expect(out).toContain('! Prefix: Give a prefix like 203.0.113.0/24');
    expect(out).toContain('[your modal closed]');
  });

  it('never crashes on unknown or malformed lines', async () => {
    const { code, out } = await runScript(['frobnicate', 'byoip withdraw x', 'click', 'click Nothing', 'fill x', 'fill a=b', 'submit', 'wait soon', 'as nobody', 'help']);
    expect(code).toBe(0);
    expect(out).toContain('? unknown command "frobnicate"');
    expect(out).toContain('? did you mean /byoip withdraw x?');
    expect(out).toContain('? no button "Nothing" visible to alice');
    expect(out).toContain('? alice has no open modal');
    expect(out).toContain('? no user "nobody"');
    expect(out).toContain('wait until <text>');
  });
});

describe('when the bot is down', () => {
  it('prints why and carries on', async () => {
    const probe = http.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((r) => probe.close(r));
    const dead = new SlackRequestSender({ eventsUrl: `http://127.0.0.1:${port}/slack/events`, signingSecret: SECRET, sim });
    const output = new PassThrough();
    let out = '';
    output.on('data', (d: Buffer) => (out += d.toString('utf8')));
    const code = await runChat({ sim, sender: dead, users, defaultUser: 'alice', channel: CHANNEL, input: Readable.from(['/byoip withdraw x\n', 'whoami\n']), output, script: true });
    expect(code).toBe(0);
    expect(out).toMatch(/! fetch failed \(ECONNREFUSED\)/);
    expect(out).toContain('You are alice (requester).');
  });
});

describe('interactive mode', () => {
  it('prompts with the current user and prints the bot as it posts', async () => {
    const input = new PassThrough();
    const output = new PassThrough();
    let out = '';
    output.on('data', (d: Buffer) => (out += d.toString('utf8')));
    const done = runChat({ sim, sender, users, defaultUser: 'U0CAROL', channel: CHANNEL, input, output });
    input.write('/byoip withdraw 203.0.113.0/24\n');
    await sim.waitFor(() => out.includes('Requested by @carol'), 2000);
    input.write('as alice\n');
    await sim.waitFor(() => out.includes('alice> '), 2000);
    input.end();
    expect(await done).toBe(0);
    expect(out).toContain('You are carol (on call)');
    expect(out).toContain('carol> ');
  });
});

describe('parseDuration', () => {
  it('reads ms, s and m', () => {
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('2s')).toBe(2000);
    expect(parseDuration('1.5 s')).toBe(1500);
    expect(parseDuration('1m')).toBe(60_000);
    expect(parseDuration('3')).toBe(3000);
    expect(parseDuration('soon')).toBeUndefined();
  });
});

describe('markChanges', () => {
  it('marks the lines an update added', () => {
    expect(markChanges('== A ==\nState: waiting\n[ Approve ]', '== A ==\nState: done')).toBe('    == A ==\n  › State: done');
    expect(markChanges(undefined, 'x')).toBe('    x');
  });
});
