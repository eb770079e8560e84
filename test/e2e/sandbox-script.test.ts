import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/** Runs `npm run sandbox -- --script FILE` the way a person would, and returns its exit code and output. */
function runSandbox(script: string, timeScale = '600', extra: string[] = []): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const log = join(mkdtempSync(join(tmpdir(), 'byoip-sbx-')), 'bot.log');
    const child = spawn('npm', ['run', '--silent', 'sandbox', '--', '--script', script, '--time-scale', timeScale, '--log', log, ...extra], {
      cwd: process.cwd(),
      env: { ...process.env, LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('close', (code) => resolve({ code, out }));
  });
}

describe('npm run sandbox -- --script', () => {
  it('runs the withdraw story to the end and exits 0', async () => {
    const { code, out } = await runSandbox('examples/withdraw.txt');
    expect(out).toContain('Done: 203.0.113.0/24 is withdrawn');
    expect(out).toContain('you cannot approve it');
    // staged: the withdraw went out only after our own /24 had been seen for the convergence time
    expect(out.indexOf('Gate 1 passed')).toBeGreaterThan(-1);
    expect(out.indexOf('Cloudflare accepted the withdraw')).toBeGreaterThan(out.indexOf('Gate 1 passed'));
    expect(code).toBe(0);
  }, 240_000);

  it('runs the multi-prefix emergency: one command, one confirm step, one card for four prefixes, one review', async () => {
    const { code, out } = await runSandbox('examples/multi-emergency.txt', '600', ['--scenario', 'fleet']);
    expect(out).toContain('Only the on-call');
    expect(out).toContain('Skipped: `198.51.100.0/24` is already withdrawn');
    expect(out).toContain('Done: all 4 prefixes withdrawn');
    expect(out).toContain('Reviewed by @bob');
    expect(code).toBe(0);
  }, 240_000);

  it('runs the multi-prefix alert: one notification about two prefixes, one confirm step from its card, one card, Done for both', async () => {
    const { code, out } = await runSandbox('examples/multi-alert.txt', '600', ['--scenario', 'fleet']);
    expect(out).toContain('Auto-advertisement · 2 of our prefixes');
    expect(out).toContain('Only the on-call');
    expect(out).toContain('Break glass: withdraw 2 prefixes now');
    expect(out).toContain('Done: all 2 prefixes withdrawn');
    expect(out).not.toMatch(/:[a-z_]+:(?!\d)/); // every emoji rendered, no raw shortcode
    expect(code).toBe(0);
  }, 240_000);

  it('runs the alert story: world notify route-leak makes a card, Emergency withdraw on it runs break glass to Done, END resolves the card', async () => {
    const { code, out } = await runSandbox('examples/alert.txt');
    expect(out).toContain('Only the on-call (break-glass) group');
    expect(out).toContain('Done: 203.0.113.0/24 is withdrawn');
    expect(out).toContain('RESOLVED: Route leak · 203.0.113.0/24');
    // The bot's own withdraw is no routing finding: no "low visibility" card beside it.
    expect(out).not.toContain('Low visibility');
    expect(code).toBe(0);
  }, 240_000);

  it('runs the incident drill: a route-leak webhook (sent twice, one card), Emergency withdraw from the card, a zombie found, Contested, reviewed, resolved', async () => {
    const { code, out } = await runSandbox('examples/incident-drill.txt');
    expect(out.match(/^bot: == .*Route leak · 203\.0\.113\.0\/24 ==/gm) ?? []).toHaveLength(1);
    expect(out).toContain('"created":false');
    expect(out).toContain('Only the on-call (break-glass) group');
    expect(out).toMatch(/Acknowledged by @carol/);
    expect(out).toContain("the staged withdraw's gates (drain) are skipped");
    expect(out).toMatch(/Stuck routes: 3 peer\(s\) still route 203\.0\.113\.0\/24 via AS13335/);
    expect(out).toContain('Contested: Cloudflare withdrew 203.0.113.0/24');
    expect(out).not.toContain('Done: 203.0.113.0/24 is withdrawn');
    expect(out).toContain('Reviewed by @bob');
    expect(out).toContain('RESOLVED: Route leak · 203.0.113.0/24');
    expect(code).toBe(0);
  }, 240_000);

  it('runs the hijack story: the advertise thread flags the other origin loudly and ends Contested, never Done', async () => {
    const { code, out } = await runSandbox('examples/hijack.txt', '300');
    expect(out).toMatch(/Unexpected origin for 198\.51\.100\.0\/24: AS64666/);
    expect(out).toContain("Contested: Cloudflare's route for 198.51.100.0/24 is up");
    expect(out).not.toContain('Done:');
    expect(out).not.toContain('Remove the announcement from your own data centre now');
    expect(code).toBe(0);
  }, 240_000);

  it('runs the life cycle from an empty account: onboard, validate, default Magic Transit binding, a CDN /29 of eight IPs, an address map with a zone, a delegation, advertised and propagated, each step approved', async () => {
    const { code, out } = await runSandbox('examples/lifecycle.txt', '3600', ['--scenario', 'fresh', '--wait-timeout', '60s']);
    expect(out).toContain('Done: Cloudflare validated');
    expect(out).toContain('the fewest CIDRs covering the IPs given exactly: 1');
    expect(out).toMatch(/Done: every binding is active \(192\.0\.2\.16\/29 active\)/);
    expect(out).toMatch(/Done: address map `[0-9a-f]{32}` shows the change \(create\): enabled, 192\.0\.2\.16, 1 zone\(s\)/);
    expect(out).toContain('Done: 192.0.2.128/25 of 192.0.2.0/24 is delegated');
    expect(out).toContain('Done: 192.0.2.0/24 is propagated');
    expect(code).toBe(0);
  }, 150_000);

  it('runs the drift story: a withdraw made outside the bot is a card, Put back files an advertise, approved, the card resolves', async () => {
    const { code, out } = await runSandbox('examples/drift.txt');
    expect(out).toContain('withdrawn at Cloudflare outside the bot');
    expect(out).toContain('Drift · 203.0.113.0/24');
    expect(out).toContain('Done: 203.0.113.0/24 is propagated');
    expect(out).toMatch(/RESOLVED: Drift · 203\.0\.113\.0\/24/);
    expect(code).toBe(0);
  }, 240_000);

  it('runs the onboarding story from an empty account to a validated prefix', async () => {
    const { code, out } = await runSandbox('examples/onboard.txt', '300', ['--scenario', 'fresh', '--wait-timeout', '60s']);
    expect(out).toContain('Next, publish the ownership token');
    expect(out).toContain('Done: Cloudflare validated and approved 192.0.2.0/24');
    expect(code).toBe(0);
  }, 240_000);

  it('exits non-zero when a "wait until" times out', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'byoip-sbx-'));
    const script = join(dir, 'never.txt');
    writeFileSync(script, 'as alice\n/byoip bogus\nwait until this text never appears\n');
    const { code, out } = await runSandbox(script, '600', ['--wait-timeout', '2s']);
    expect(out).toContain('is not a /byoip command');
    expect(code).not.toBe(0);
  }, 60_000);
});

/** The sandbox without npm in between, so a signal reaches it as Ctrl-C would. */
function startSandbox(args: string[]) {
  const log = join(mkdtempSync(join(tmpdir(), 'byoip-sbx-')), 'bot.log');
  const child = spawn(process.execPath, ['--import', 'tsx', 'world/sandbox/main.ts', '--log', log, ...args], { cwd: process.cwd(), env: { ...process.env, LOG_LEVEL: 'info' }, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const until = async (text: string, timeoutMs = 30_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!out.includes(text)) {
      if (Date.now() > deadline) throw new Error(`no "${text}" in:\n${out}\n${err}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  return { child, exited, until, out: () => out, err: () => err, log };
}

describe('npm run sandbox: options are checked first, Ctrl-C stops a wait', () => {
  it.each([
    [['--bogus'], /^Unknown option --bogus; see npm run sandbox -- --help\.$/],
    [['--time-scale', '0'], /^--time-scale must be a number above 0 and at most 100000 \(got "0"\)\.$/],
    [['--script', 'examples/no-such-story.txt'], /^--script examples\/no-such-story\.txt cannot be read \(no such file\)\.$/],
  ])('%j: one sentence, exit 2, nothing started', async (args, sentence) => {
    const s = startSandbox(args);
    expect(await s.exited).toBe(2);
    const lines = s.err().split('\n').filter((l) => l.trim());
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(sentence);
    expect(s.out()).toBe(''); // no "Starting simulators", no Redis started
    expect(existsSync(s.log)).toBe(false);
  });

  it('Ctrl-C (SIGINT) during "wait until" cancels the wait, and the chat goes on', async () => {
    const s = startSandbox(['--time-scale', '600']);
    try {
      await s.until('Type "help"');
      s.child.stdin.write('wait until this text never appears\n');
      await new Promise((r) => setTimeout(r, 500));
      s.child.kill('SIGINT');
      await s.until('(wait cancelled)', 5000);
      s.child.stdin.write('whoami\n');
      await s.until('You are alice', 5000);
      s.child.stdin.write('quit\n');
      expect(await s.exited).toBe(0);
    } finally {
      s.child.kill('SIGKILL');
    }
  }, 60_000);
});
