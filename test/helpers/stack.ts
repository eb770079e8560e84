import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createLogger } from '../../src/logger.js';
import { expect } from 'vitest';
import { ActionId } from '../../src/slack/ids.js';
import { deleteStackKeys, FAST_STACK, startStack, SANDBOX_CHANNEL, type Stack, type StackOptions } from '../../world/sandbox/stack.js';
import type { SimMessage } from '../../world/simulator/slack/types.js';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
/** Set by .ci/run (a real 3-master Redis Cluster on loopback): the stories marked with `redisModes()` run on it too. */
export const REDIS_CLUSTER_NODES = process.env.REDIS_CLUSTER_NODES ?? '';

/** The Redis set-ups a story runs against: always the single Redis, and the Cluster when one is configured. */
export function redisModes(): { name: string; redisClusterNodes?: string }[] {
  return [{ name: 'single Redis' }, ...(REDIS_CLUSTER_NODES ? [{ name: 'Redis Cluster', redisClusterNodes: REDIS_CLUSTER_NODES }] : [])];
}
export const CHANNEL = SANDBOX_CHANNEL.id;

/** A full stack for one test file: fast simulated time, its own Redis key prefix and queues. */
export async function testStack(overrides: Partial<StackOptions> = {}): Promise<Stack & { prefix: string; cleanup(): Promise<void> }> {
  const prefix = `t${randomUUID().slice(0, 8)}`;
  const stack = await startStack({
    redisUrl: REDIS_URL,
    redisPrefix: prefix,
    ...FAST_STACK,
    logger: createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    ...overrides,
  });
  return Object.assign(stack, {
    prefix,
    async cleanup() {
      await stack.stop();
      await deleteStackKeys(REDIS_URL, prefix, overrides.redisClusterNodes);
    },
  });
}

/** Removes every key of a test's prefix (operation records and BullMQ queues). */
export async function deleteKeys(prefix: string): Promise<void> {
  await deleteStackKeys(REDIS_URL, prefix);
}

export const checklist = { checklist: { checklist_input: { type: 'checkboxes', selected_options: [{ value: 'confirmed', text: { type: 'mrkdwn', text: 'ok' } }] } } };

export function reason(text: string) {
  return { reason: { reason_input: { type: 'plain_text_input', value: text } } };
}

/** The status card: the newest top-level bot message in the channel whose header names the prefix. */
export function cardFor(stack: Stack, prefix: string): SimMessage | undefined {
  return stack.slack
    .messages(CHANNEL)
    .filter((m) => !m.threadTs && JSON.stringify(m.blocks).includes(prefix))
    .at(-1);
}

export const texts = (msgs: { text: string }[]) => msgs.map((m) => m.text);

/** `/byoip <kind> <cidr>` as `user`, fills the modal (reason + checklist), submits, and returns the status card. */
export async function fileRequest(stack: Stack, user: string, kind: 'withdraw' | 'advertise' | 'validate' | 'onboard', cidr: string, why = 'test drill', extra = ''): Promise<SimMessage> {
  const previous = cardFor(stack, cidr)?.ts;
  const res = await stack.sender!.command(user, `${kind} ${cidr}${extra ? ` ${extra}` : ''}`, { channel: CHANNEL });
  if (res.status !== 200) throw new Error(`/byoip ${kind} answered HTTP ${res.status}`);
  const modal = await stack.slack.waitFor(() => stack.slack.openModal(user), 5000);
  const submit = await stack.sender!.submitView(user, modal.id, { ...reason(why), ...checklist });
  if (submit.status !== 200) throw new Error(`the modal submit answered HTTP ${submit.status}`);
  return stack.slack.waitFor(() => {
    const card = cardFor(stack, cidr);
    return card && card.ts !== previous ? card : undefined;
  }, 20_000); // filing runs the plan's look-ups (routing timeouts of 2 s each) before the card: room for a loaded machine
}

/** Cloudflare PATCHes of one BGP prefix the simulator received. */
export function patchCalls(stack: Stack, bgpPrefixId: string) {
  return stack.cloudflare.state.calls.filter((c) => c.method === 'PATCH' && c.path.endsWith(`/bgp/prefixes/${bgpPrefixId}`));
}

/**
 * The end of a withdraw story, whatever carried it: Cloudflare withdrew with exactly one PATCH, the thread reads
 * Approved -> Cloudflare accepted -> ... -> Done: (last), and the card ends at "done" with no buttons. Returns the thread.
 */
export async function expectWithdrawDone(stack: Stack, cardTs: string, p: { cidr: string; bgpPrefixId: string }): Promise<string[]> {
  const done = await stack.slack.waitFor(() => stack.slack.thread(CHANNEL, cardTs).find((m) => m.text.includes('Done:')), 20_000);
  expect(done.text).toContain('withdrawn');
  expect(stack.cloudflare.state.bgpPrefixes.get(p.bgpPrefixId)!.advertised).toBe(false);
  expect(patchCalls(stack, p.bgpPrefixId)).toHaveLength(1);
  const thread = texts(stack.slack.thread(CHANNEL, cardTs));
  const idx = (re: RegExp) => thread.findIndex((t) => re.test(t));
  expect(idx(/Approved by/)).toBeGreaterThanOrEqual(0);
  expect(idx(/Cloudflare accepted the withdraw/)).toBeGreaterThan(idx(/Approved by/));
  expect(idx(/Done:/)).toBe(thread.length - 1);
  const finalCard = await stack.slack.waitFor(() => {
    const m = stack.slack.message(CHANNEL, cardTs);
    return m && /done/.test(m.text) ? m : undefined;
  }, 5000);
  expect(finalCard.text).toBe(`Withdraw ${p.cidr}: done`);
  expect(JSON.stringify(finalCard.blocks)).not.toContain(ActionId.Approve);
  return thread;
}

/**
 * A click from a client still showing an old copy of the card (Slack does not stop those), sent as Slack would:
 * signed, with its own `action_ts` (seconds; default now).
 */
export async function staleClick(stack: Stack, user: string, messageTs: string, actionId: string, value: string, actionTsMs = Date.now()) {
  const { url } = stack.slack.createResponseUrl({ channel: CHANNEL, user, messageTs });
  return stack.sender!.sendInteraction({
    type: 'block_actions',
    user: { id: user, username: user.toLowerCase(), team_id: stack.slack.teamId },
    team: { id: stack.slack.teamId, domain: 'sim' },
    api_app_id: 'A0SIM',
    token: 'legacy',
    trigger_id: stack.slack.createTriggerId(user),
    response_url: url,
    channel: { id: CHANNEL, name: 'netops' },
    container: { type: 'message', message_ts: messageTs, channel_id: CHANNEL, is_ephemeral: false },
    message: { type: 'message', ts: messageTs, text: 'old card', blocks: [] },
    actions: [{ type: 'button', action_id: actionId, block_id: 'card_actions', value, action_ts: `${actionTsMs / 1000}`, text: { type: 'plain_text', text: 'Approve' } }],
  });
}

/** How much the bot has read so far from Cloudflare and the routing view, counted at the simulators. */
export function upstreamReads(stack: Stack): { cloudflare: number; routing: number } {
  const r = stack.routing.sims;
  const ripestat = Object.values(r.ripestat.calls).reduce((a, b) => a + b, 0);
  return { cloudflare: stack.cloudflare.state.calls.length, routing: ripestat + r.routinator.requests + r.irrd.commands.length + r.dns.queries.length };
}

/** `/byoip <text>` as `user` over whichever transport the stack has; resolves with the first ephemeral it gets. */
export async function commandAnswer(stack: Stack, user: string, text: string, opts: { channel?: string; timeoutMs?: number } = {}): Promise<string> {
  const before = stack.slack.ephemerals(user).length;
  const sender = stack.sender ?? stack.socketSender!;
  const res = await sender.command(user, text, { channel: opts.channel ?? CHANNEL });
  if (res.status !== 200) throw new Error(`/byoip ${text} answered HTTP ${res.status}`);
  return (await stack.slack.waitFor(() => stack.slack.ephemerals(user).at(before), opts.timeoutMs ?? 5000)).text;
}

/** A worker in its own process (`npm run worker`), configured only through the environment; resolves once started. */
export function startWorkerProcess(env: Record<string, string>): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', '--role', 'worker'], { env: { ...process.env, ...env, LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const timer = setTimeout(() => reject(new Error(`worker did not start: ${out}`)), 20_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('byoip-bot started')) {
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code) => reject(new Error(`worker exited with ${code}: ${out}`)));
  });
}
