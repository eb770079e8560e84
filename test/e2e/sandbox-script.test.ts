import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
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
    expect(code).toBe(0);
  }, 120_000);

  it('runs the hijack story: the advertise thread flags the other origin loudly and ends Contested, never Done', async () => {
    const { code, out } = await runSandbox('examples/hijack.txt', '300');
    expect(out).toMatch(/Unexpected origin for 198\.51\.100\.0\/24: AS64666/);
    expect(out).toContain("Contested: Cloudflare's route for 198.51.100.0/24 is up");
    expect(out).not.toContain('Done:');
    expect(out).not.toContain('Remove the announcement from your own data centre now');
    expect(code).toBe(0);
  }, 120_000);

  it('runs the onboarding story from an empty account to a validated prefix', async () => {
    const { code, out } = await runSandbox('examples/onboard.txt', '300', ['--scenario', 'fresh', '--wait-timeout', '60s']);
    expect(out).toContain('Next, publish the ownership token');
    expect(out).toContain('Done: Cloudflare validated and approved 192.0.2.0/24');
    expect(code).toBe(0);
  }, 120_000);

  it('exits non-zero when a "wait until" times out', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'byoip-sbx-'));
    const script = join(dir, 'never.txt');
    writeFileSync(script, 'as alice\n/byoip bogus\nwait until this text never appears\n');
    const { code, out } = await runSandbox(script, '600', ['--wait-timeout', '2s']);
    expect(out).toContain('is not a /byoip command');
    expect(code).not.toBe(0);
  }, 60_000);
});
