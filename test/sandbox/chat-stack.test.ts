import { PassThrough, Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runChat } from '../../world/sandbox/chat.js';
import { SANDBOX_CHANNEL, SANDBOX_USERS } from '../../world/sandbox/stack.js';
import { DEFAULT_SCENARIO } from '../../world/simulator/cloudflare/scenarios.js';
import { testStack } from '../helpers/stack.js';

type TestStack = Awaited<ReturnType<typeof testStack>>;

/** The chat in script mode against the real bot, Redis and simulators: what `npm run sandbox -- --script` runs. */
describe('sandbox chat against the whole stack', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await testStack();
  });
  afterAll(async () => {
    await stack.cleanup();
  });

  async function script(lines: string[]): Promise<{ code: number; out: string }> {
    const output = new PassThrough();
    let out = '';
    output.on('data', (d: Buffer) => (out += d.toString('utf8')));
    const code = await runChat({
      sim: stack.slack,
      sender: stack.sender!,
      users: SANDBOX_USERS.map((u) => ({ id: u.id, name: u.name, role: u.role })),
      defaultUser: 'alice',
      channel: SANDBOX_CHANNEL.id,
      input: Readable.from(lines.map((l) => `${l}\n`)),
      output,
      script: true,
      waitUntilTimeoutMs: 20_000,
    });
    return { code, out };
  }

  it('alice requests a withdraw through the modal, bob approves, the thread reaches done', async () => {
    const cidr = DEFAULT_SCENARIO.prefixes.advertised.cidr;
    const { code, out } = await script([
      `/byoip withdraw ${cidr}`,
      'wait until Request approval',
      'fill reason=maintenance window CHG-42',
      'fill checklist=confirmed',
      'submit',
      'wait until [ Approve ]',
      'as bob',
      'click Approve',
      'wait until Done:',
    ]);
    expect(out).toContain('[modal opened for you]');
    expect(out).toContain('[your modal closed]');
    expect(out).toContain(`bot: == Withdraw ${cidr} ==`);
    expect(out).toContain('~ card updated:');
    expect(out).toMatch(/ {2}↳ bot: .*Done:/);
    expect(code).toBe(0);
  });
});
