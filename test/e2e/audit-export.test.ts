import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SCENARIO } from '../../world/simulator/cloudflare/scenarios.js';
import { ActionId } from '../../src/slack/ids.js';
import { CHANNEL, REDIS_URL, fileRequest, testStack } from '../helpers/stack.js';

const run = promisify(execFile);
type TestStack = Awaited<ReturnType<typeof testStack>>;

async function audit(stack: TestStack, args: string[]): Promise<{ code: number; lines: string[]; stderr: string }> {
  const env = { ...process.env, REDIS_URL, BYOIP_REDIS_PREFIX: stack.prefix, REDIS_CLUSTER_NODES: '' };
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', 'src/cli/audit.ts', ...args], { env });
    return { code: 0, lines: stdout.split('\n').filter(Boolean), stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, lines: e.stdout.split('\n').filter(Boolean), stderr: e.stderr };
  }
}

describe('npm run audit: the audit stream as JSON lines for a SIEM', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await testStack();
  });
  afterAll(async () => {
    await stack.cleanup();
  });

  it('exports every step of a withdraw, with deliveries (their ts), samples and the Cloudflare call; bad options get a sentence and exit 2', async () => {
    const p = DEFAULT_SCENARIO.prefixes.advertised;
    const card = await fileRequest(stack, 'U0ALICE', 'withdraw', p.cidr, 'audit export drill');
    await stack.sender!.clickButton('U0BOB', { channel: CHANNEL, messageTs: card.ts, actionId: ActionId.Approve });
    await stack.slack.waitFor(() => stack.slack.thread(CHANNEL, card.ts).find((m) => m.text.startsWith('Done:')), 20_000);
    await new Promise((r) => setTimeout(r, 500)); // the last deliveries
    const op = (await stack.bot!.store.recent(1))[0]!;

    const { code, lines, stderr } = await audit(stack, ['--since', '1h', '--op', op.id]);
    expect(code).toBe(0);
    expect(stderr).toMatch(/\d+ audit line\(s\)/);
    const rows = lines.map((l) => JSON.parse(l) as { id: string; at: string; type: string; op: string; actor: string; data: Record<string, unknown> });
    const types = rows.map((r) => r.type);
    for (const t of ['requested', 'approved', 'executing', 'cloudflare_read', 'cloudflare_call', 'cloudflare_result', 'verifying', 'sample', 'delivered', 'done']) expect(types).toContain(t);
    expect(rows.every((r) => r.op === op.id && !Number.isNaN(Date.parse(r.at)))).toBe(true);
    const deliveries = rows.filter((r) => r.type === 'delivered');
    expect(deliveries.length).toBeGreaterThanOrEqual(stack.slack.thread(CHANNEL, card.ts).length);
    expect(deliveries.every((d) => typeof d.data.ts === 'string' && d.data.ts.length > 0)).toBe(true);
    expect(lines.join('\n')).not.toContain('sandbox-cloudflare-token');

    const byPrefix = await audit(stack, ['--prefix', p.cidr]);
    expect(byPrefix.lines.length).toBeGreaterThanOrEqual(lines.length);

    // the same trail in Slack, paged, newest first; viewers only
    const before = stack.slack.responsePosts().length;
    await stack.sender!.command('U0ALICE', `audit ${p.cidr}`, { channel: CHANNEL });
    const page1 = await stack.slack.waitFor(() => stack.slack.responsePosts().slice(before).find((r) => JSON.stringify(r.blocks ?? []).includes('Audit:')), 5000);
    const shown = JSON.stringify(page1.blocks);
    expect(shown).toContain('*done*');
    expect(shown).toContain(`/byoip audit ${p.cidr} 2`);
    const b2 = stack.slack.responsePosts().length;
    await stack.sender!.command('U0ALICE', `audit ${op.id} 2`, { channel: CHANNEL });
    const page2 = await stack.slack.waitFor(() => stack.slack.responsePosts().slice(b2).find((r) => JSON.stringify(r.blocks ?? []).includes('Audit:')), 5000);
    expect(JSON.stringify(page2.blocks)).toContain('*requested*'); // the oldest lines are on the later pages
    const refused = stack.slack.ephemerals('U0MALLORY').length;
    await stack.sender!.command('U0MALLORY', `audit ${p.cidr}`, { channel: CHANNEL });
    expect((await stack.slack.waitFor(() => stack.slack.ephemerals('U0MALLORY').at(refused), 5000)).text).toMatch(/not in a group allowed to see BYOIP state/);

    const bad = await audit(stack, ['--since', 'banana']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--since "banana" is neither a duration/);
    const unknown = await audit(stack, ['--frobnicate']);
    expect(unknown.code).toBe(2);
  }, 60_000);
});
