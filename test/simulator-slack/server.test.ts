import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { webApi } from '@slack/bolt';
import { startSlackSimulator, type SlackSimulator, type SlackSimEvent } from '../../world/simulator/slack/server.js';

const TOKEN = 'xoxb-sim-test';

let sim: SlackSimulator;

async function call(method: string, args: Record<string, unknown>, opts: { token?: string | null; json?: boolean } = {}) {
  const headers: Record<string, string> = {};
  const token = opts.token === undefined ? TOKEN : opts.token;
  if (token) headers.authorization = `Bearer ${token}`;
  let body: string;
  if (opts.json) {
    headers['content-type'] = 'application/json; charset=utf-8';
    body = JSON.stringify(args);
  } else {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    const form = new URLSearchParams();
    for (const [k, v] of Object.entries(args)) form.set(k, typeof v === 'string' ? v : JSON.stringify(v));
    body = form.toString();
  }
  const res = await fetch(`${sim.apiUrl}${method}`, { method: 'POST', headers, body });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

beforeEach(async () => {
  sim = await startSlackSimulator({
    botToken: TOKEN,
    users: [
      { id: 'U0ALICE', name: 'alice', realName: 'Alice Example' },
      { id: 'U0BOB', name: 'bob' },
    ],
    usergroups: [{ id: 'S0APPROVERS', handle: 'net-approvers', users: ['U0BOB'] }],
    channels: [{ id: 'C0NETOPS', name: 'netops' }],
  });
});

afterEach(async () => {
  await sim.close();
});

describe('auth', () => {
  it('answers not_authed without a token and invalid_auth with a wrong one', async () => {
    expect((await call('auth.test', {}, { token: null })).body).toEqual({ ok: false, error: 'not_authed' });
    expect((await call('auth.test', {}, { token: 'xoxb-wrong' })).body).toEqual({ ok: false, error: 'invalid_auth' });
  });

  it('auth.test names the bot, and the token may also come in the body', async () => {
    const r = await call('auth.test', { token: TOKEN }, { token: null });
    expect(r.body).toMatchObject({ ok: true, user_id: sim.botUserId, bot_id: sim.botId, team_id: sim.teamId });
    expect(sim.apiUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/api\/$/);
  });
});

describe('chat.postMessage / chat.update', () => {
  it('posts with unique increasing ts, parses form-encoded blocks and records the call', async () => {
    const blocks = [{ type: 'section', text: { type: 'mrkdwn', text: 'hello' } }];
    const a = await call('chat.postMessage', { channel: 'C0NETOPS', text: 'hi', blocks });
    const b = await call('chat.postMessage', { channel: 'C0NETOPS', text: 'again' }, { json: true });
    expect(a.body.ok).toBe(true);
    expect(String(a.body.ts)).toMatch(/^\d{10}\.\d{6}$/);
    expect(Number(b.body.ts)).toBeGreaterThan(Number(a.body.ts));
    expect(sim.messages('C0NETOPS').map((m) => m.text)).toEqual(['hi', 'again']);
    expect(sim.calls[0]).toMatchObject({ method: 'chat.postMessage', ok: true, status: 200, args: { channel: 'C0NETOPS', blocks } });
  });

  it('honours thread_ts and answers thread replies in order', async () => {
    const parent = await call('chat.postMessage', { channel: 'C0NETOPS', text: 'card' });
    const ts = String(parent.body.ts);
    await call('chat.postMessage', { channel: 'C0NETOPS', text: 'one', thread_ts: ts });
    await call('chat.postMessage', { channel: 'C0NETOPS', text: 'two', thread_ts: ts });
    expect(sim.thread('C0NETOPS', ts).map((m) => m.text)).toEqual(['one', 'two']);
    expect(sim.thread('C0NETOPS', ts)[0]?.threadTs).toBe(ts);
    const replies = await call('conversations.replies', { channel: 'C0NETOPS', ts });
    expect((replies.body.messages as unknown[]).length).toBe(3);
    expect((await call('chat.postMessage', { channel: 'C0NETOPS', text: 'x', thread_ts: '1.000001' })).body.error).toBe('thread_not_found');
  });

  it('edits by channel+ts and keeps the edit history; unknown ts is message_not_found', async () => {
    const p = await call('chat.postMessage', { channel: 'C0NETOPS', text: 'v1', blocks: [{ type: 'divider' }] });
    const ts = String(p.body.ts);
    const u = await call('chat.update', { channel: 'C0NETOPS', ts, text: 'v2' });
    expect(u.body).toMatchObject({ ok: true, channel: 'C0NETOPS', ts });
    const m = sim.message('C0NETOPS', ts);
    expect(m?.text).toBe('v2');
    expect(m?.blocks).toEqual([{ type: 'divider' }]); // Slack keeps blocks when they are left out
    expect(m?.edits.map((e) => e.text)).toEqual(['v2']);
    expect((await call('chat.update', { channel: 'C0NETOPS', ts: '1.000001', text: 'x' })).body.error).toBe('message_not_found');
  });

  it('refuses unknown channels and empty messages', async () => {
    expect((await call('chat.postMessage', { channel: 'C0NOPE', text: 'x' })).body.error).toBe('channel_not_found');
    expect((await call('chat.postMessage', { channel: 'C0NETOPS' })).body.error).toBe('no_text');
    expect(sim.calls.at(-1)).toMatchObject({ ok: false, error: 'no_text' });
  });

  it('posts ephemerals to one user', async () => {
    const r = await call('chat.postEphemeral', { channel: 'C0NETOPS', user: 'U0ALICE', text: 'psst' });
    expect(r.body.ok).toBe(true);
    expect(sim.ephemerals('U0ALICE')).toMatchObject([{ text: 'psst', ts: r.body.message_ts, channel: 'C0NETOPS' }]);
    expect(sim.ephemerals('U0BOB')).toEqual([]);
    expect((await call('chat.postEphemeral', { channel: 'C0NETOPS', user: 'U0NOBODY', text: 'x' })).body.error).toBe('user_not_found');
  });
});

describe('Block Kit limits', () => {
  const section = (n: number) => ({ type: 'section', text: { type: 'mrkdwn', text: 'x'.repeat(n) } });

  it('accepts 50 blocks and refuses 51', async () => {
    expect((await call('chat.postMessage', { channel: 'C0NETOPS', text: 't', blocks: Array.from({ length: 50 }, () => ({ type: 'divider' })) })).body.ok).toBe(true);
    const r = await call('chat.postMessage', { channel: 'C0NETOPS', text: 't', blocks: Array.from({ length: 51 }, () => ({ type: 'divider' })) });
    expect(r.body.error).toBe('invalid_blocks');
    expect(sim.messages()).toHaveLength(1);
  });

  it('refuses section text over 3000 characters with a json-pointer message', async () => {
    expect((await call('chat.postMessage', { channel: 'C0NETOPS', text: 't', blocks: [section(3000)] })).body.ok).toBe(true);
    const r = await call('chat.postMessage', { channel: 'C0NETOPS', text: 't', blocks: [section(3001)] });
    expect(r.body).toMatchObject({ ok: false, error: 'invalid_blocks' });
    expect((r.body.response_metadata as { messages: string[] }).messages[0]).toContain('[json-pointer:/blocks/0/text/text]');
  });

  it('refuses a button value over 2000 characters, also on chat.update', async () => {
    const button = (value: string) => ({ type: 'actions', elements: [{ type: 'button', action_id: 'a', text: { type: 'plain_text', text: 'Go' }, value }] });
    const p = await call('chat.postMessage', { channel: 'C0NETOPS', text: 't', blocks: [button('v'.repeat(2000))] });
    expect(p.body.ok).toBe(true);
    const u = await call('chat.update', { channel: 'C0NETOPS', ts: p.body.ts, blocks: [button('v'.repeat(2001))] });
    expect(u.body.error).toBe('invalid_blocks');
  });

  it('refuses unknown block types, duplicate block ids and mrkdwn in a header', async () => {
    for (const blocks of [
      [{ type: 'sectionn', text: { type: 'mrkdwn', text: 'x' } }],
      [{ type: 'divider', block_id: 'a' }, { type: 'divider', block_id: 'a' }],
      [{ type: 'header', text: { type: 'mrkdwn', text: 'x' } }],
    ]) {
      expect((await call('chat.postMessage', { channel: 'C0NETOPS', text: 't', blocks })).body.error).toBe('invalid_blocks');
    }
  });
});

describe('rate limits and injected failures', () => {
  it('answers 429 with Retry-After once a channel has used its burst', async () => {
    sim.setPostMessageRateLimit({ perSecond: 0.1, burst: 2 }); // slow refill so a loaded CI machine cannot refill in between
    expect((await call('chat.postMessage', { channel: 'C0NETOPS', text: '1' })).status).toBe(200);
    expect((await call('chat.postMessage', { channel: 'C0NETOPS', text: '2' })).status).toBe(200);
    const r = await call('chat.postMessage', { channel: 'C0NETOPS', text: '3' });
    expect(r.status).toBe(429);
    expect(r.headers.get('retry-after')).toBe('10');
    expect(r.body).toEqual({ ok: false, error: 'ratelimited' });
    expect(sim.messages()).toHaveLength(2);
    // another channel has its own bucket
    expect((await call('chat.postMessage', { channel: 'U0ALICE', text: 'dm' })).status).toBe(200);
  });

  it('limits other methods per workspace when asked (Slack tiers)', async () => {
    sim.setMethodRateLimits({ 'usergroups.users.list': { perMinute: 6, burst: 2 } });
    expect((await call('usergroups.users.list', { usergroup: 'S0APPROVERS' })).status).toBe(200);
    expect((await call('usergroups.users.list', { usergroup: 'S0APPROVERS' })).status).toBe(200);
    const r = await call('usergroups.users.list', { usergroup: 'S0APPROVERS' });
    expect(r.status).toBe(429);
    expect(r.headers.get('retry-after')).toBe('10');
    expect((await call('users.info', { user: 'U0BOB' })).status).toBe(200);
  });

  it('can be turned off', async () => {
    sim.setPostMessageRateLimit(false);
    for (let i = 0; i < 10; i++) expect((await call('chat.postMessage', { channel: 'C0NETOPS', text: String(i) })).status).toBe(200);
  });

  it('failNext injects errors, statuses and 429s for a number of calls', async () => {
    sim.failNext('chat.update', { error: 'cant_update_message' });
    sim.failNext('chat.postMessage', { status: 503, count: 2 });
    sim.failNext('users.info', { retryAfterSec: 7 });
    const p = await call('chat.postMessage', { channel: 'C0NETOPS', text: 'x' });
    expect(p.status).toBe(503);
    expect((await call('chat.postMessage', { channel: 'C0NETOPS', text: 'x' })).status).toBe(503);
    const ok = await call('chat.postMessage', { channel: 'C0NETOPS', text: 'x' });
    expect(ok.status).toBe(200);
    expect((await call('chat.update', { channel: 'C0NETOPS', ts: ok.body.ts, text: 'y' })).body.error).toBe('cant_update_message');
    const u = await call('users.info', { user: 'U0BOB' });
    expect(u.status).toBe(429);
    expect(u.headers.get('retry-after')).toBe('7');
    expect((await call('users.info', { user: 'U0BOB' })).body.ok).toBe(true);
  });

  it('works with @slack/web-api: platform errors and rate-limit errors', async () => {
    const client = new webApi.WebClient(TOKEN, { slackApiUrl: sim.apiUrl, retryConfig: { retries: 0 }, rejectRateLimitedCalls: true });
    const res = await client.chat.postMessage({ channel: 'C0NETOPS', text: 'via client', blocks: [{ type: 'divider' }] });
    expect(res.ok).toBe(true);
    expect(sim.messages()[0]?.blocks).toEqual([{ type: 'divider' }]);
    await expect(client.chat.update({ channel: 'C0NETOPS', ts: '1.000001', text: 'x' })).rejects.toMatchObject({ data: { error: 'message_not_found' } });
    sim.failNext('chat.postMessage', { retryAfterSec: 3 });
    await expect(client.chat.postMessage({ channel: 'C0NETOPS', text: 'x' })).rejects.toMatchObject({ retryAfter: 3 });
  });
});

describe('users and user groups', () => {
  it('users.info and usergroups.users.list answer from the directory and follow changes', async () => {
    const u = await call('users.info', { user: 'U0ALICE' });
    expect(u.body.user).toMatchObject({ id: 'U0ALICE', name: 'alice', real_name: 'Alice Example', profile: { real_name: 'Alice Example' } });
    expect((await call('users.info', { user: 'U0X' })).body.error).toBe('user_not_found');
    expect(((await call('users.lookupByEmail', { email: 'bob@example.net' })).body.user as { id: string }).id).toBe('U0BOB');
    expect((await call('usergroups.users.list', { usergroup: 'S0APPROVERS' })).body.users).toEqual(['U0BOB']);
    sim.setUsergroupUsers('S0APPROVERS', ['U0ALICE']);
    expect((await call('usergroups.users.list', { usergroup: 'S0APPROVERS' })).body.users).toEqual(['U0ALICE']);
    expect((await call('usergroups.users.list', { usergroup: 'S0NOPE' })).body.error).toBe('no_such_subteam');
    expect(sim.usergroup('net-approvers')?.id).toBe('S0APPROVERS');
    expect(sim.user('U0BOB')?.name).toBe('bob');
  });
});

describe('views', () => {
  const modal = (title = 'Request', extra: Record<string, unknown> = {}) => ({
    type: 'modal',
    callback_id: 'req',
    title: { type: 'plain_text', text: title },
    submit: { type: 'plain_text', text: 'Send' },
    blocks: [{ type: 'input', block_id: 'prefix', label: { type: 'plain_text', text: 'Prefix' }, element: { type: 'plain_text_input', action_id: 'v' } }],
    ...extra,
  });

  it('views.open needs a fresh trigger_id, used once', async () => {
    expect((await call('views.open', { trigger_id: 'bogus', view: modal() })).body.error).toBe('invalid_trigger_id');
    const trigger = sim.createTriggerId('U0ALICE');
    const r = await call('views.open', { trigger_id: trigger, view: modal() });
    expect(r.body.ok).toBe(true);
    const view = r.body.view as { id: string; hash: string; callback_id: string };
    expect(view.callback_id).toBe('req');
    expect(sim.openModal('U0ALICE')?.id).toBe(view.id);
    expect(sim.views('U0ALICE')[0]).toMatchObject({ id: view.id, hash: view.hash, stack: [view.id] });
    expect((await call('views.open', { trigger_id: trigger, view: modal() })).body.error).toBe('exchanged_trigger_id');
  });

  it('expired trigger ids are refused', async () => {
    const short = await startSlackSimulator({ botToken: TOKEN, users: [{ id: 'U1', name: 'u' }], usergroups: [], triggerTtlMs: 10 });
    try {
      const trigger = short.createTriggerId('U1');
      await new Promise((r) => setTimeout(r, 30));
      const res = await fetch(`${short.apiUrl}views.open`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ trigger_id: trigger, view: modal() }),
      });
      expect(((await res.json()) as { error: string }).error).toBe('expired_trigger_id');
    } finally {
      await short.close();
    }
  });

  it('refuses a modal title over 24 characters and more than 100 blocks', async () => {
    const r = await call('views.open', { trigger_id: sim.createTriggerId('U0ALICE'), view: modal('x'.repeat(25)) });
    expect(r.body.error).toBe('invalid_blocks');
    const many = { ...modal(), blocks: Array.from({ length: 101 }, () => ({ type: 'divider' })) };
    expect((await call('views.open', { trigger_id: sim.createTriggerId('U0ALICE'), view: many })).body.error).toBe('invalid_blocks');
  });

  it('views.update by view_id or external_id honours hash', async () => {
    const r = await call('views.open', { trigger_id: sim.createTriggerId('U0ALICE'), view: modal('One', { external_id: 'ext-1' }) });
    const view = r.body.view as { id: string; hash: string };
    const stale = await call('views.update', { view_id: view.id, hash: 'old', view: modal('Two') });
    expect(stale.body.error).toBe('hash_conflict');
    const u1 = await call('views.update', { view_id: view.id, hash: view.hash, view: modal('Two') });
    expect(u1.body.ok).toBe(true);
    expect((sim.view(view.id)?.view.title as { text: string }).text).toBe('Two');
    const u2 = await call('views.update', { external_id: 'ext-1', view: modal('Three') });
    expect(u2.body.ok).toBe(true);
    expect((sim.openModal('U0ALICE')?.view.title as { text: string }).text).toBe('Three');
    expect((await call('views.update', { view_id: 'V0NOPE', view: modal() })).body.error).toBe('not_found');
  });

  it('views.push stacks up to three views; submission answers pop, clear and show errors', async () => {
    const root = (await call('views.open', { trigger_id: sim.createTriggerId('U0ALICE'), view: modal('Root') })).body.view as { id: string };
    const pushed = (await call('views.push', { trigger_id: sim.createTriggerId('U0ALICE', root.id), view: modal('Second') })).body.view as { id: string };
    expect(sim.openModal('U0ALICE')?.stack).toEqual([root.id, pushed.id]);
    sim.applyViewSubmissionResponse(pushed.id, { response_action: 'errors', errors: { prefix: 'Not a prefix' } });
    expect(sim.openModal('U0ALICE')?.errors).toEqual({ prefix: 'Not a prefix' });
    sim.applyViewSubmissionResponse(pushed.id, {});
    expect(sim.openModal('U0ALICE')?.id).toBe(root.id);
    sim.applyViewSubmissionResponse(root.id, { response_action: 'clear' });
    expect(sim.openModal('U0ALICE')).toBeUndefined();
  });

  it('refuses errors keyed by anything but an input block_id, as Slack does', async () => {
    const root = (await call('views.open', { trigger_id: sim.createTriggerId('U0ALICE'), view: modal() })).body.view as { id: string };
    sim.applyViewSubmissionResponse(root.id, { response_action: 'errors', errors: { prefix_input: 'wrong key' } });
    expect(sim.openModal('U0ALICE')?.errors).toBeUndefined();
    expect(sim.calls.at(-1)).toMatchObject({ method: 'view_submission.response', ok: false, error: 'errors name no input block: prefix_input' });
  });

  it('views.publish keeps one home tab per user', async () => {
    const home = { type: 'home', blocks: [{ type: 'section', text: { type: 'mrkdwn', text: 'Home' } }] };
    const r = await call('views.publish', { user_id: 'U0BOB', view: home });
    expect(r.body.ok).toBe(true);
    const again = await call('views.publish', { user_id: 'U0BOB', view: home });
    expect((again.body.view as { id: string }).id).toBe((r.body.view as { id: string }).id);
    expect(sim.views('U0BOB').filter((v) => v.type === 'home')).toHaveLength(1);
  });
});

describe('response URLs', () => {
  it('ephemeral by default, in_channel posts a message, replace_original edits the message', async () => {
    const p = await call('chat.postMessage', { channel: 'C0NETOPS', text: 'card' });
    const ts = String(p.body.ts);
    const { url, id } = sim.createResponseUrl({ channel: 'C0NETOPS', user: 'U0ALICE', messageTs: ts });
    const post = (body: unknown) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect((await post({ text: 'only you' })).status).toBe(200);
    expect(sim.ephemerals('U0ALICE').map((e) => e.text)).toEqual(['only you']);
    await post({ text: 'everyone', response_type: 'in_channel' });
    expect(sim.messages('C0NETOPS').map((m) => m.text)).toEqual(['card', 'everyone']);
    await post({ text: 'card v2', replace_original: true });
    expect(sim.message('C0NETOPS', ts)?.text).toBe('card v2');
    expect(sim.responsePosts(id).map((r) => r.effect)).toEqual(['ephemeral', 'message', 'replaced']);
    expect(sim.responseUrlFor(id)).toBe(url);
  });

  it('allows five uses, then answers 404 used_url', async () => {
    const { url } = sim.createResponseUrl({ channel: 'C0NETOPS', user: 'U0ALICE' });
    for (let i = 0; i < 5; i++) expect((await fetch(url, { method: 'POST', body: JSON.stringify({ text: String(i) }) })).status).toBe(200);
    const sixth = await fetch(url, { method: 'POST', body: JSON.stringify({ text: '6' }) });
    expect(sixth.status).toBe(404);
    expect(await sixth.text()).toBe('used_url');
  });
});

describe('events and waitFor', () => {
  it('emits messages, updates and ephemerals to subscribers; waitFor resolves on them', async () => {
    const events: SlackSimEvent['type'][] = [];
    const off = sim.subscribe((e) => events.push(e.type));
    const waiting = sim.waitFor(() => sim.messages().find((m) => m.text === 'later'), 2000);
    const p = await call('chat.postMessage', { channel: 'C0NETOPS', text: 'later' });
    await call('chat.update', { channel: 'C0NETOPS', ts: p.body.ts, text: 'edited' });
    await call('chat.postEphemeral', { channel: 'C0NETOPS', user: 'U0BOB', text: 'e' });
    await call('chat.postMessage', { channel: 'C0NOPE', text: 'x' });
    expect((await waiting).ts).toBe(p.body.ts);
    off();
    await call('chat.postMessage', { channel: 'C0NETOPS', text: 'unheard' });
    expect(events).toEqual(['message', 'message_updated', 'ephemeral', 'api_error']);
  });

  it('waitFor rejects after the timeout', async () => {
    await expect(sim.waitFor(() => undefined, 50)).rejects.toThrow(/within 50 ms/);
  });
});
