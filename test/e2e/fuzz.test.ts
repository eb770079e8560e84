import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.js';
import { CHANNEL, commandAnswer, testStack } from '../helpers/stack.js';

type TestStack = Awaited<ReturnType<typeof testStack>>;
const ALICE = 'U0ALICE';

/** A small seeded PRNG (mulberry32): the corpus is the same on every run. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Markup that must never come back live: channel pings, mentions of the input's users, links, channel links. */
const MARKUP = ['<!channel>', '<!here>', '<!everyone>', '<!subteam^S0APPROVERS>', '<@U0FUZZ01>', '<@W0FUZZ02|x>', '<http://evil.example|click here>', '<https://x.example>', '<#C0NETOPS>', '<mailto:a@b.example|mail>'];
const LIVE = [/<!/, /<@[UW]0FUZZ/, /<https?:/i, /<#C/, /<mailto:/];

function corpus(): string[] {
  const r = rng(8);
  const pick = <T,>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)]!;
  const token = () => Array.from({ length: 1 + Math.floor(r() * 12) }, () => String.fromCharCode(33 + Math.floor(r() * 94))).join('');
  const lines = [
    // Slack markup, alone and where the bot echoes words
    ...MARKUP,
    ...MARKUP.map((m) => `${m} withdraw 203.0.113.0/24`),
    ...MARKUP.map((m) => `withdraw ${m}`),
    ...MARKUP.map((m) => `status ${m}`),
    ...MARKUP.map((m) => `preflight 203.0.113.0/24 ${m}`),
    ...MARKUP.map((m) => `onboard ${m} 13335`),
    `emergency withdraw <!channel> now`,
    `emergency <!here> 203.0.113.0/24 x`,
    '`<!channel>`',
    '```<!here>``` status',
    '`a`<!channel>`b`',
    'withdraw `203.0.113.0/24`<!channel>`',
    '&lt;!channel&gt;',
    'withdraw &lt;@U0FUZZ01&gt;/24',
    // 10 kB lines
    'x'.repeat(10_000),
    `status ${'9'.repeat(10_000)}`,
    `withdraw ${'<!channel>'.repeat(1000)}`,
    `${'<@U0FUZZ01>'.repeat(900)}`,
    `preflight 203.0.113.0/24 ${'1'.repeat(10_000)}`,
    // control characters
    'status\u0000203.0.113.0/24',
    '\u0007\u0008\u001b[31mwithdraw\u001b[0m',
    'withdraw\u000b203.0.113.0/24\u000c',
    '\u007f\u0085\u2028\u2029',
    // unicode
    'статус',
    'ｗｉｔｈｄｒａｗ 203.0.113.0/24',
    '\u202ewithdraw 203.0.113.0/24',
    'with\u200bdraw 203.0.113.0/24',
    '🚀🔥 <!channel> 🔥🚀',
    'withdraw 203.0.113.0/２４',
    'é'.repeat(3000),
    // JSON
    '{"type":"block_actions","actions":[{"action_id":"byoip_approve"}]}',
    '[1,2,3]',
    '{"text":"<!channel>","blocks":[{"type":"section"}]}',
    'status {"cidr":"203.0.113.0/24"}',
    // near misses
    'withdraw 203.0.113.0/24/24',
    'withdraw 999.1.1.1/24',
    'withdraw 203.0.113.7/24',
    'withdraw ::/129',
    'preflight 203.0.113.0/24 AS0',
    'preflight 203.0.113.0/24 4294967296',
    'onboard 192.0.2.0/24',
    'emergency',
    'emergency reboot 203.0.113.0/24 x',
  ];
  for (let i = 0; i < 40; i++) lines.push(Array.from({ length: 1 + Math.floor(r() * 5) }, () => (r() < 0.2 ? pick(MARKUP) : token())).join(' '));
  return lines;
}

describe('bad input fuzz: every answer is a short sentence with no live markup from the input', () => {
  let stack: TestStack;
  const errors: string[] = [];
  beforeAll(async () => {
    stack = await testStack({
      env: { COMMAND_RATE_LIMIT_PER_USER: '100000' },
      logger: createLogger({ level: 'error', destination: { write: (line: string) => void errors.push(line) } }),
    });
  });
  afterAll(async () => {
    await stack.cleanup();
  });

  it('answers each line of the corpus once, clipped, escaped, and nothing crashes', { timeout: 60_000 }, async () => {
    const lines = corpus();
    expect(lines.length).toBeGreaterThan(100);
    for (const line of lines) {
      const before = stack.slack.ephemerals(ALICE).length;
      const res = await stack.sender!.command(ALICE, line, { channel: CHANNEL });
      expect(res.status, line.slice(0, 80)).toBe(200);
      const got = await stack.slack.waitFor(() => stack.slack.ephemerals(ALICE).at(before) ?? stack.slack.openModal(ALICE), 5000);
      if ('callbackId' in got) {
        // a request form opened: the typed reason sits in a plain_text input, never rendered as markup
        await stack.sender!.closeView(ALICE, got.id);
        stack.slack.closeView(got.id);
        continue;
      }
      const shown = `${got.text}\n${JSON.stringify(got.blocks)}`;
      expect(got.text.length, line.slice(0, 80)).toBeLessThanOrEqual(3000);
      expect(got.text, line.slice(0, 80)).toMatch(/^(:[a-z_]+: )?\S[^\n]*[.?!:…]($|\n)/);
      for (const live of LIVE) expect(shown, `${line.slice(0, 80)} -> ${got.text.slice(0, 200)}`).not.toMatch(live);
    }
    // still healthy, still answering, and no listener error logged
    expect((await fetch(`${stack.bot!.url}/healthz`)).status).toBe(200);
    expect(await commandAnswer(stack, ALICE, 'help')).toContain('/byoip status');
    expect(errors.filter((l) => /"level":(50|60)/.test(l))).toEqual([]);
  });

  it('the unknown-subcommand answer echoes the word escaped and clipped', async () => {
    const t = await commandAnswer(stack, ALICE, `<!channel>${'y'.repeat(500)} 203.0.113.0/24`);
    expect(t).toMatch(/^⚠️ `&lt;!channel&gt;y+…` is not a \/byoip command\./);
    expect(t).not.toContain('<!channel>');
    expect(t.length).toBeLessThan(1500);
  });
});
