import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHANNEL, testStack } from '../helpers/stack.js';

type TestStack = Awaited<ReturnType<typeof testStack>>;

/** `/byoip <text>` as alice; the ephemerals that came back (after "Running pre-flight checks…" for a preflight). */
async function ask(stack: TestStack, text: string, replies = 1): Promise<string[]> {
  const before = stack.slack.ephemerals('U0ALICE').length;
  await stack.sender!.command('U0ALICE', text, { channel: CHANNEL });
  await stack.slack.waitFor(() => stack.slack.ephemerals('U0ALICE').length >= before + replies, 10_000);
  return stack.slack.ephemerals('U0ALICE').slice(before).map((e) => `${e.text}\n${JSON.stringify(e.blocks ?? [])}`);
}

const lookups = (stack: TestStack) => stack.cloudflare.state.calls.length;

describe('address space nobody can bring to Cloudflare is refused, with the reason (sandbox: documentation space allowed)', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await testStack({ scenario: 'fresh' });
  });
  afterAll(async () => {
    await stack.cleanup();
  });

  it.each([
    ['0.0.0.0/0', /0\.0\.0\.0\/0 is the IPv4 default route: it is every address there is/],
    ['::/0', /::\/0 is the IPv6 default route/],
    ['10.0.0.0/24', /10\.0\.0\.0\/24 is inside 10\.0\.0\.0\/8, private-use \(RFC 1918\)/],
    ['fd00:ab::/48', /inside fc00::\/7, unique local \(ULA\) \(RFC 4193\)/],
    ['224.0.1.0/24', /multicast/],
    ['127.0.0.0/24', /loopback/],
    ['169.254.0.0/24', /link-local/],
    ['240.0.0.0/24', /reserved for future use/],
  ])('/byoip preflight %s is refused before any look-up', async (cidr, why) => {
    const calls = lookups(stack);
    const replies = await ask(stack, `preflight ${cidr}`, 2);
    expect(replies.join('\n')).toMatch(why);
    expect(replies.join('\n')).toContain('No preflight was run');
    expect(replies.join('\n')).not.toMatch(/can be announced/);
    expect(lookups(stack)).toBe(calls);
  });

  it('/byoip onboard of private space is refused at the command, before any form opens', async () => {
    const [reply] = await ask(stack, 'onboard 192.168.10.0/24 64500');
    expect(reply).toMatch(/192\.168\.10\.0\/24 is inside 192\.168\.0\.0\/16, private-use \(RFC 1918\).*Nothing was filed/);
    expect(stack.slack.openModal('U0ALICE')).toBeUndefined();
    expect(stack.cloudflare.state.calls.filter((c) => c.method === 'POST')).toHaveLength(0);
  });

  it('a preflight of a prefix not on Cloudflare yet says why the ownership token was not checked', async () => {
    const replies = await ask(stack, 'preflight 192.0.2.0/24 13335', 2);
    const report = replies.find((r) => r.includes('Preflight 192.0.2.0/24'))!;
    expect(report).toBeDefined();
    expect(report).toContain('can be announced');
    expect(report).toMatch(/Ownership token\*: not checked/);
    expect(report).toMatch(/192\.0\.2\.0\/24 is not on Cloudflare yet, so it has no ownership token to look for/);
  });
});

describe('outside the sandbox, documentation prefixes are refused too', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await testStack({ scenario: 'fresh', allowDocumentationPrefixes: false });
  });
  afterAll(async () => {
    await stack.cleanup();
  });

  it('preflight and onboard of 192.0.2.0/24 and 2001:db8::/48 say it is documentation space', async () => {
    const before = stack.cloudflare.state.calls.length; // the start-up token check made one read
    expect((await ask(stack, 'preflight 192.0.2.0/24', 2)).join('\n')).toMatch(/192\.0\.2\.0\/24 is documentation \(TEST-NET-1\) \(RFC 5737\): documentation space is for examples only/);
    expect((await ask(stack, 'preflight 2001:db8::/48', 2)).join('\n')).toMatch(/inside 2001:db8::\/32, documentation \(RFC 3849\)/);
    expect((await ask(stack, 'onboard 198.51.100.0/24 64500')).join('\n')).toMatch(/198\.51\.100\.0\/24 is documentation \(TEST-NET-2\).*Nothing was filed/);
    expect(stack.slack.openModal('U0ALICE')).toBeUndefined();
    expect(stack.cloudflare.state.calls.slice(before)).toHaveLength(0);
  });
});
