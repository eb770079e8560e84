import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { deleteStackKeys } from '../../world/sandbox/stack.js';
import { freePort } from '../helpers/redis-server.js';
import { REDIS_URL } from '../helpers/stack.js';

const PORT_NAMES = ['cloudflare', 'slack', 'ripestat', 'rpki', 'irr', 'dns', 'bot', 'chat'] as const;

function run(args: string[], env: Record<string, string> = {}, stdin?: string) {
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  if (stdin !== undefined) child.stdin.end(stdin);
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const until = async (text: string, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    while (!out.includes(text)) {
      if (Date.now() > deadline) throw new Error(`no "${text}" in:\n${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  return { child, exited, until, out: () => out };
}

describe('npm run simulator + a bot started on its own + npm run chat', () => {
  const children: ChildProcess[] = [];
  const prefix = `simchat${process.pid}`;
  afterAll(async () => {
    for (const c of children) c.kill('SIGKILL');
    await deleteStackKeys(REDIS_URL, prefix);
  });

  it('prints a complete environment on the ports asked for; the bot started from it takes a withdraw typed in the chat to Done', async () => {
    const ports = Object.fromEntries(await Promise.all(PORT_NAMES.map(async (n) => [n, await freePort()] as const)));
    const dir = mkdtempSync(join(tmpdir(), 'byoip-sim-'));
    const portArgs = PORT_NAMES.flatMap((n) => [`--${n}-port`, String(ports[n])]);
    const sim = run(['world/simulator/main.ts', ...portArgs, '--time-scale', '600', '--dir', dir, '--redis-url', REDIS_URL, '--redis-prefix', prefix]);
    children.push(sim.child);
    await sim.until('Ctrl-C stops the simulators.', 20_000);

    const env = Object.fromEntries(
      readFileSync(join(dir, 'simulator.env'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    for (const [k, v] of Object.entries(env)) expect(sim.out()).toContain(`export ${k}=${v}`);
    expect(env).toMatchObject({
      PORT: String(ports.bot),
      SLACK_API_URL: `http://127.0.0.1:${ports.slack}/api/`,
      CLOUDFLARE_API_BASE_URL: `http://127.0.0.1:${ports.cloudflare}/client/v4`,
      RIPESTAT_URL: `http://127.0.0.1:${ports.ripestat}`,
      RPKI_VALIDATOR_URL: `http://127.0.0.1:${ports.rpki}`,
      IRR_WHOIS_PORT: String(ports.irr),
      DNS_SERVER: `127.0.0.1:${ports.dns}`,
      BYOIP_CONFIG: join(dir, 'policy.yml'),
      REDIS_URL,
      BYOIP_REDIS_PREFIX: prefix,
    });
    expect(readFileSync(env.BYOIP_CONFIG!, 'utf8')).toContain('approvers');

    // The bot, configured only by that file (what `set -a; . simulator.env; set +a; npm start` does).
    const bot = run(['src/main.ts'], { ...env, LOG_PRETTY: '0' });
    children.push(bot.child);
    await bot.until('byoip-bot started', 20_000);

    const script = [
      '/byoip withdraw 203.0.113.0/24',
      'wait until Withdraw 203.0.113.0/24',
      'fill Reason=Maintenance on the scrubbing path, CHG-1234',
      'fill Checklist=Our own data centre already announces this prefix (or a covering one)',
      'submit',
      'wait until Approve',
      'as bob',
      'click Approve',
      'wait until Done: 203.0.113.0/24 is withdrawn',
      'quit',
      '',
    ].join('\n');
    const chat = run(['world/sandbox/chat-main.ts', '--chat-port', String(ports.chat)], {}, script);
    children.push(chat.child);
    expect(await chat.exited).toBe(0);
    expect(chat.out()).toContain('Attached to the simulated world');
    expect(chat.out()).not.toContain('No bot answers');
    expect(chat.out()).toContain('Approved by @bob');
    expect(chat.out()).toContain('Done: 203.0.113.0/24 is withdrawn');
  }, 90_000);
});
