import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testStack } from '../helpers/stack.js';

type TestStack = Awaited<ReturnType<typeof testStack>>;

function runBot(env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

describe('start-up fails closed', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await testStack();
  });
  afterAll(async () => {
    await stack.cleanup();
  });

  type PolicyDoc = { groups: { approvers: string[] } } & Record<string, unknown>;
  function withPolicy(edit: (p: PolicyDoc) => void): Record<string, string> {
    const policy = parse(readFileSync(stack.policyPath, 'utf8')) as PolicyDoc;
    edit(policy);
    const path = join(mkdtempSync(join(tmpdir(), 'byoip-policy-')), 'policy.yml');
    writeFileSync(path, stringify(policy));
    return { ...stack.env, BYOIP_CONFIG: path };
  }

  it('refuses a policy with no approver group', async () => {
    const { code, out } = await runBot(withPolicy((p) => (p.groups.approvers = [])));
    expect(code).toBe(1);
    expect(out).toContain('name at least one approver user group');
  });

  it('refuses a policy that lets a wildcard approve', async () => {
    const { code, out } = await runBot(withPolicy((p) => (p.groups.approvers = ['*'])));
    expect(code).toBe(1);
    expect(out).toMatch(/approvers.*user group id|wildcard/);
  });

  it('refuses a policy naming a Slack user group that does not exist', async () => {
    const { code, out } = await runBot(withPolicy((p) => (p.groups.approvers = ['S0NOSUCHGROUP'])));
    expect(code).toBe(1);
    expect(out).toContain('S0NOSUCHGROUP cannot be read');
  });

  it('refuses to start without a signing secret, and never prints the tokens', async () => {
    const env = { ...stack.env, SLACK_SIGNING_SECRET: '' };
    const { code, out } = await runBot(env);
    expect(code).toBe(1);
    expect(out).toContain('SLACK_SIGNING_SECRET is required');
    expect(out).not.toContain(stack.env.SLACK_BOT_TOKEN);
    expect(out).not.toContain(stack.env.CLOUDFLARE_API_TOKEN);
  });

  it('answers /healthz once started', async () => {
    const res = await fetch(`${stack.bot!.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true, role: 'all' });
  });
});
