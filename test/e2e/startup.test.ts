import { spawn } from 'node:child_process';
import net from 'node:net';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Readiness } from '../../src/health.js';
import { freePort } from '../helpers/redis-server.js';
import { testStack } from '../helpers/stack.js';

type TestStack = Awaited<ReturnType<typeof testStack>>;

/** `npm start` with `env`; killed after 20 s (a bot that starts never exits by itself). */
function runBot(env: Record<string, string>): Promise<{ code: number | null; out: string; stderr: string; ms: number }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      out += d.toString();
      stderr += d.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out, stderr, ms: Date.now() - started });
    });
  });
}

/** Exactly one line on stderr: the sentence, nothing else (no stack traces). */
function oneLine(stderr: string): string {
  const lines = stderr.split('\n').filter((l) => l.trim() !== '');
  expect(lines).toHaveLength(1);
  return lines[0]!;
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

  it('refuses a policy with no approver group, in one line on stderr', async () => {
    const { code, out, stderr } = await runBot(withPolicy((p) => (p.groups.approvers = [])));
    expect(code).toBe(1);
    expect(out).toContain('name at least one approver user group');
    expect(oneLine(stderr)).toMatch(/^byoip-bot cannot start: The policy file is not valid/);
  });

  it('exits at once, in one line, when the policy file is not YAML', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'byoip-policy-')), 'policy.yml');
    writeFileSync(path, 'groups: [unclosed\n');
    const { code, stderr } = await runBot({ ...stack.env, BYOIP_CONFIG: path });
    expect(code).toBe(1);
    expect(oneLine(stderr)).toContain(`The policy file ${path} is not valid YAML`);
  });

  it('exits within seconds, in one line, when Redis does not answer', async () => {
    const port = await freePort();
    const { code, stderr, ms } = await runBot({ ...stack.env, REDIS_URL: `redis://127.0.0.1:${port}` });
    expect(code).toBe(1);
    expect(oneLine(stderr)).toMatch(new RegExp(`^byoip-bot cannot start: Redis at redis://127\\.0\\.0\\.1:${port}/? does not answer \\(.*ECONNREFUSED.*\\), so start it or point REDIS_URL at one that runs\\.$`));
    expect(ms).toBeLessThan(15_000);
  });

  it('exits in one line when Slack refuses the bot token (auth.test), without printing it', async () => {
    const { code, stderr, out } = await runBot({ ...stack.env, SLACK_BOT_TOKEN: 'xoxb-0000-not-the-token' });
    expect(code).toBe(1);
    expect(oneLine(stderr)).toBe("byoip-bot cannot start: Slack refused SLACK_BOT_TOKEN (auth.test said invalid_auth), so copy the app's Bot User OAuth Token (xoxb-...) from its OAuth & Permissions page.");
    expect(out).not.toContain('xoxb-0000-not-the-token');
  });

  it('exits in one line when Cloudflare refuses the API token (one read: the prefixes of the first account)', async () => {
    const { code, stderr, out } = await runBot({ ...stack.env, CLOUDFLARE_API_TOKEN: 'not-a-cloudflare-token' });
    expect(code).toBe(1);
    expect(oneLine(stderr)).toMatch(/^byoip-bot cannot start: Cloudflare refused CLOUDFLARE_API_TOKEN when the bot listed the prefixes of account sandbox \([0-9a-f]{32}; HTTP 401, code 9109\), so give it a token that can read that account's IP prefixes\.$/);
    expect(out).not.toContain('not-a-cloudflare-token');
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

  it('exits in one line when its PORT is taken (a second process on the host)', async () => {
    const holder = net.createServer();
    await new Promise<void>((resolve) => holder.listen(0, resolve));
    const port = (holder.address() as net.AddressInfo).port;
    try {
      const { code, stderr } = await runBot({ ...stack.env, PORT: String(port) });
      expect(code).toBe(1);
      expect(oneLine(stderr)).toBe(`byoip-bot cannot start: Port ${port} is already in use (another bot or worker on this host?), so set PORT to a free one for each process.`);
    } finally {
      holder.close();
    }
  });

  it('answers /healthz once started', async () => {
    const res = await fetch(`${stack.bot!.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true, role: 'all' });
  });

  it('answers /readyz with every check, as JSON', async () => {
    const res = await fetch(`${stack.bot!.url}/readyz`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as Readiness;
    expect(body).toMatchObject({ ready: true, role: 'all', degraded: [], checks: { redis: { ok: true }, workers: { ok: true, live: 1 }, budget: { ok: true, pausedForMs: 0 }, routing: { ok: true } } });
    expect(body.checks.workers.workers[0]!.id).toBe(stack.bot!.heartbeatId);
    expect(Object.keys(body.checks.routing.services).sort()).toEqual(['dns', 'irr', 'ripestat', 'rpki']);
    expect(body.checks.budget.readLeft).toBeGreaterThan(0);
  });
});
