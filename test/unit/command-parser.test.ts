import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import { USAGE, parseCommand } from '../../src/slack/command-parser.js';
import { expectError } from './helpers.js';

describe('parseCommand', () => {
  it.each(['', '   ', 'help', 'HELP', '?', ' help extra words '])('"%s" shows help', (text) => {
    expect(parseCommand(text)).toEqual({ kind: 'help' });
  });

  it('status without a prefix lists everything', () => {
    expect(parseCommand('status')).toEqual({ kind: 'status' });
  });

  it('status with a prefix canonicalises it', () => {
    expect(parseCommand('status 2001:DB8::/32')).toEqual({ kind: 'status', cidr: '2001:db8::/32' });
    expect(parseCommand('Status   203.0.113.0/24')).toEqual({ kind: 'status', cidr: '203.0.113.0/24' });
  });

  it('status with a malformed prefix is refused with the prefix problem', () => {
    expectError(() => parseCommand('status 203.0.113.9/24'), ErrorCode.InvalidInput, 'host bits', '203.0.113.0/24');
  });

  it.each(['advertise', 'withdraw'] as const)('%s takes a prefix and the rest of the line as the reason', (sub) => {
    expect(parseCommand(`${sub} 203.0.113.0/24 INC-42 move back to DC`)).toEqual({ kind: sub, cidr: '203.0.113.0/24', reason: 'INC-42 move back to DC' });
  });

  it.each(['advertise', 'withdraw'] as const)('%s without a reason gives an empty reason (the modal asks for one)', (sub) => {
    expect(parseCommand(`${sub} 2001:db8:1::/48`)).toEqual({ kind: sub, cidr: '2001:db8:1::/48', reason: '' });
  });

  it('subcommands are case-insensitive', () => {
    expect(parseCommand('WITHDRAW 203.0.113.0/24')).toMatchObject({ kind: 'withdraw' });
  });

  it.each(['advertise', 'withdraw', 'preflight'])('%s without a prefix says which prefix to give, with an example', (sub) => {
    expectError(() => parseCommand(sub), ErrorCode.InvalidInput, 'which prefix', `/byoip ${sub}`, '203.0.113.0/24');
  });

  it.each(['advertise', 'withdraw', 'preflight'])('%s with a malformed prefix is refused', (sub) => {
    expectError(() => parseCommand(`${sub} 203.0.113.0`), ErrorCode.InvalidInput, 'no prefix length');
    expectError(() => parseCommand(`${sub} banana/24`), ErrorCode.InvalidInput, 'not an IP prefix');
    expectError(() => parseCommand(`${sub} 203.0.113.0/40`), ErrorCode.InvalidInput, 'at most 32');
  });

  it('preflight without an ASN', () => {
    expect(parseCommand('preflight 203.0.113.0/24')).toEqual({ kind: 'preflight', cidr: '203.0.113.0/24' });
  });

  it.each([
    ['13335', 13335],
    ['AS64500', 64500],
    ['as64500', 64500],
    ['1', 1],
    ['4294967295', 4294967295],
  ])('preflight reads the ASN %s', (asn, expected) => {
    expect(parseCommand(`preflight 203.0.113.0/24 ${asn}`)).toEqual({ kind: 'preflight', cidr: '203.0.113.0/24', asn: expected });
  });

  it.each(['0', 'AS0', '4294967296', '-5', 'AS', 'cloudflare', '13335.5', '1e5', 'ASAS1', '0x10'])('preflight refuses the ASN %s and says what an AS number looks like', (asn) => {
    expectError(() => parseCommand(`preflight 203.0.113.0/24 ${asn}`), ErrorCode.InvalidInput, 'not an AS number', '4294967295', 'AS64500');
  });

  it('an unknown subcommand is refused with the usage list', () => {
    const err = expectError(() => parseCommand('annouce 203.0.113.0/24'), ErrorCode.InvalidInput, 'annouce', 'not a /byoip command');
    for (const sub of ['help', 'status', 'advertise', 'withdraw', 'preflight']) expect(err.userMessage).toContain(`/byoip ${sub}`);
    expect(err.userMessage).toContain(USAGE);
  });
});

describe('echoed input is escaped by the Slack layer', () => {
  it('an unknown subcommand and a bad prefix keep the raw word for logs and render it inert for Slack', async () => {
    const { slackMessageOf } = await import('../../src/slack/render/errors.js');
    const { parseCommand } = await import('../../src/slack/command-parser.js');
    const err = (text: string) => {
      try {
        parseCommand(text);
      } catch (e) {
        return e;
      }
      throw new Error('expected a refusal');
    };
    const unknown = err('<!channel>`x` 203.0.113.0/24') as Error & { userMessage: string };
    expect(unknown.userMessage).toContain('`<!channel>`x``');
    expect(slackMessageOf(unknown)).toMatch(/^`&lt;!channel&gt;ˋxˋ` is not a \/byoip command\./);
    expect(slackMessageOf(err('withdraw <@U0EVIL>/24'))).toMatch(/^`&lt;@U0EVIL&gt;\/24` is not an IP prefix/);
    expect(slackMessageOf(err(`status ${'1'.repeat(5000)}`)).length).toBeLessThan(300);
    // a placeholder typed by the user is text, never filled in
    expect(slackMessageOf(err('withdraw {holder}/24'))).toContain('`{holder}/24`');
  });
});

describe('bgp and loa commands', () => {
  it('parses bgp create / delete with the prefix and the BGP prefix, and loa', () => {
    expect(parseCommand('bgp create 198.18.0.0/23 198.18.1.0/24 CHG-1')).toEqual({ kind: 'bgp_create', prefix: '198.18.0.0/23', cidr: '198.18.1.0/24', reason: 'CHG-1' });
    expect(parseCommand('bgp delete 198.51.100.0/24 198.51.100.0/24')).toEqual({ kind: 'bgp_delete', prefix: '198.51.100.0/24', cidr: '198.51.100.0/24', reason: '' });
    expect(parseCommand('loa 192.0.2.0/24')).toEqual({ kind: 'loa', cidr: '192.0.2.0/24' });
  });
  it('says what to type when a word is missing', () => {
    expect(() => parseCommand('bgp create 198.18.0.0/23')).toThrow(/bgp create <prefix> <bgp-prefix>/);
    expect(() => parseCommand('bgp move 1.0.0.0/24 1.0.0.0/24')).toThrow(/bgp create <prefix> <bgp-prefix>/);
    expect(() => parseCommand('loa')).toThrow(/\/byoip loa <prefix>/);
  });
});
