import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import { loadConfig, loadPolicyFile, parseDuration, parsePolicy, type Policy } from '../../src/config.js';
import { catchBotError, expectStartupError } from './helpers.js';

const ACCOUNT_ID = '0123456789abcdef0123456789abcdef';

/** A complete, valid policy document as it would come out of the YAML parser. */
function goodPolicyDoc(): Record<string, unknown> {
  return {
    cloudflare: { accounts: [{ name: 'production', id: ACCOUNT_ID }] },
    slack: { channel: 'C0123ABCD' },
    groups: { requesters: ['S0REQ0001'], approvers: ['S0APP0001', 'S0APP0002'], break_glass: ['S0BRK0001'] },
    actions: { advertise: { approvals: 1, expires_after: '30m' }, withdraw: { approvals: 2, expires_after: '2h' } },
    prefixes: [{ cidr: '203.0.113.0/24', own_asn: 64500 }, { cidr: '2001:DB8::/32' }],
  };
}

/** The good policy with one part replaced. */
function withPolicy(patch: (doc: Record<string, unknown>) => void): Record<string, unknown> {
  const doc = structuredClone(goodPolicyDoc());
  patch(doc);
  return doc;
}

const groups = (doc: Record<string, unknown>) => doc.groups as Record<string, unknown>;

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['90s', 90_000],
    ['30m', 1_800_000],
    ['2h', 7_200_000],
    ['1d', 86_400_000],
    ['1.5s', 1500],
    [' 2 h ', 7_200_000],
    ['250', 250],
  ] as const)('%s is %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it('a number is already milliseconds', () => {
    expect(parseDuration(1234)).toBe(1234);
  });

  it.each(['', 'soon', '10 minutes', '5w', '-5s', '1h30m', 'm'])('"%s" is refused with an example of what to write', (text) => {
    expect(() => parseDuration(text)).toThrow(/not a duration.*90s/);
  });
});

describe('parsePolicy', () => {
  it('accepts a good policy and normalises it', () => {
    const p = parsePolicy(goodPolicyDoc());
    expect(p.cloudflare.accounts).toEqual([{ name: 'production', id: ACCOUNT_ID }]);
    expect(p.groups.approvers).toEqual(['S0APP0001', 'S0APP0002']);
    expect(p.actions.advertise).toEqual({ approvals: 1, expires_after: 1_800_000, approval_valid_for: 900_000 });
    expect(p.actions.withdraw).toEqual({ approvals: 2, expires_after: 7_200_000, approval_valid_for: 900_000 });
    expect(p.prefixes).toEqual([{ cidr: '203.0.113.0/24', own_asn: 64500 }, { cidr: '2001:db8::/32' }]);
  });

  it('fills defaults: one approval and 30 minutes for each action, no break-glass group, no prefixes', () => {
    const p = parsePolicy(
      withPolicy((d) => {
        delete d.actions;
        delete d.prefixes;
        delete groups(d).break_glass;
      }),
    );
    expect(p.actions.advertise).toEqual({ approvals: 1, expires_after: 1_800_000, approval_valid_for: 900_000 });
    expect(p.actions.withdraw).toEqual({ approvals: 1, expires_after: 1_800_000, approval_valid_for: 900_000 });
    expect(p.groups.break_glass).toEqual([]);
    expect(p.prefixes).toEqual([]);
  });

  it('fills the other action when only one is configured', () => {
    const p = parsePolicy(withPolicy((d) => (d.actions = { withdraw: { approvals: 3 } })));
    expect(p.actions.withdraw).toEqual({ approvals: 3, expires_after: 1_800_000, approval_valid_for: 900_000 });
    expect(p.actions.advertise).toEqual({ approvals: 1, expires_after: 1_800_000, approval_valid_for: 900_000 });
  });

  const refusals: [string, (d: Record<string, unknown>) => void, string][] = [
    ['an empty approvers list', (d) => (groups(d).approvers = []), 'groups.approvers'],
    ['an empty requesters list', (d) => (groups(d).requesters = []), 'groups.requesters'],
    ['approvals: 0', (d) => (d.actions = { withdraw: { approvals: 0 } }), 'actions.withdraw.approvals'],
    ['approvals: 1.5', (d) => (d.actions = { advertise: { approvals: 1.5 } }), 'actions.advertise.approvals'],
    ['a wildcard approver group', (d) => (groups(d).approvers = ['*']), 'groups.approvers'],
    ['an EVERYONE requester group', (d) => (groups(d).requesters = ['EVERYONE']), 'groups.requesters'],
    ['a @handle instead of a group id', (d) => (groups(d).approvers = ['@netops']), 'groups.approvers.0'],
    ['a non-hex account id', (d) => (d.cloudflare = { accounts: [{ name: 'prod', id: 'z'.repeat(32) }] }), 'cloudflare.accounts.0.id'],
    ['a short account id', (d) => (d.cloudflare = { accounts: [{ name: 'prod', id: 'abc123' }] }), 'cloudflare.accounts.0.id'],
    ['no accounts', (d) => (d.cloudflare = { accounts: [] }), 'cloudflare.accounts'],
    ['a channel name instead of an id', (d) => (d.slack = { channel: '#netops' }), 'slack.channel'],
    ['a bad prefix', (d) => (d.prefixes = [{ cidr: '203.0.113.5/24' }]), 'prefixes.0.cidr'],
    ['a prefix that is not an IP', (d) => (d.prefixes = [{ cidr: 'office-lan' }]), 'prefixes.0.cidr'],
    ['an own_asn of 0', (d) => (d.prefixes = [{ cidr: '203.0.113.0/24', own_asn: 0 }]), 'prefixes.0.own_asn'],
    ['an unreadable expires_after', (d) => (d.actions = { withdraw: { expires_after: 'later' } }), 'actions.withdraw.expires_after'],
    ['an unreadable approval_valid_for', (d) => (d.actions = { withdraw: { approval_valid_for: 'a while' } }), 'actions.withdraw.approval_valid_for'],
  ];

  it.each(refusals)('refuses %s, naming the field', (_what, patch, field) => {
    const err = expectStartupError(() => parsePolicy(withPolicy(patch), 'policy.yaml'), ErrorCode.PolicyInvalid, 'will not start', `policy.yaml ${field}`);
    expect(err.retryable).toBe(false);
  });

  it('a wildcard group is refused even though it is not shaped like a group id', () => {
    const err = catchBotError(() => parsePolicy(withPolicy((d) => (groups(d).approvers = ['ALL']))));
    expect(err.code).toBe(ErrorCode.PolicyInvalid);
  });

  it('a bad prefix repeats the CIDR problem so the operator can fix it', () => {
    expectStartupError(() => parsePolicy(withPolicy((d) => (d.prefixes = [{ cidr: '203.0.113.5/24' }]))), ErrorCode.PolicyInvalid, '203.0.113.0/24');
  });

  it('names every problem at once', () => {
    const err = catchBotError(() =>
      parsePolicy(
        withPolicy((d) => {
          groups(d).approvers = [];
          d.slack = { channel: 'netops' };
        }),
      ),
    );
    expect(err.userMessage).toContain('groups.approvers');
    expect(err.userMessage).toContain('slack.channel');
  });

  it('refuses something that is not a policy at all', () => {
    expect(catchBotError(() => parsePolicy(null)).code).toBe(ErrorCode.PolicyInvalid);
    expect(catchBotError(() => parsePolicy('just a string')).code).toBe(ErrorCode.PolicyInvalid);
  });

  // Was a bug (fixed): expires_after accepts 0 and negative values (a number is passed through unchecked), so every request
  // would expire the moment it is filed and nobody could ever approve one; the bot starts without complaint.
  it('refuses a zero or negative expires_after', () => {
    expectStartupError(() => parsePolicy(withPolicy((d) => (d.actions = { withdraw: { expires_after: 0 } }))), ErrorCode.PolicyInvalid, 'expires_after');
    expectStartupError(() => parsePolicy(withPolicy((d) => (d.actions = { withdraw: { expires_after: -60000 } }))), ErrorCode.PolicyInvalid, 'expires_after');
  });

  it('reads approval_valid_for as a duration, per action', () => {
    const p = parsePolicy(withPolicy((d) => (d.actions = { withdraw: { approvals: 2, approval_valid_for: '5m' } })));
    expect(p.actions.withdraw).toEqual({ approvals: 2, expires_after: 1_800_000, approval_valid_for: 300_000 });
    expect(p.actions.advertise.approval_valid_for).toBe(900_000);
  });

  it('viewers default to requesters, approvers and break glass together; named, they are exactly those groups', () => {
    expect(parsePolicy(goodPolicyDoc()).groups.viewers).toEqual(['S0REQ0001', 'S0APP0001', 'S0APP0002', 'S0BRK0001']);
    expect(parsePolicy(withPolicy((d) => (groups(d).viewers = ['S0VIEW0001']))).groups.viewers).toEqual(['S0VIEW0001']);
    expectStartupError(() => parsePolicy(withPolicy((d) => (groups(d).viewers = []))), ErrorCode.PolicyInvalid, 'groups.viewers', 'leave viewers out');
    expectStartupError(() => parsePolicy(withPolicy((d) => (groups(d).viewers = ['@netops']))), ErrorCode.PolicyInvalid, 'groups.viewers.0');
  });

  it('an action may send its cards to its own channel; the rest use slack.channel', () => {
    const p = parsePolicy(withPolicy((d) => (d.actions = { advertise: { channel: 'C0ADVERTS' } })));
    expect(p.actions.advertise.channel).toBe('C0ADVERTS');
    expect(p.actions.withdraw.channel).toBeUndefined();
    expectStartupError(() => parsePolicy(withPolicy((d) => (d.actions = { advertise: { channel: '#adverts' } }))), ErrorCode.PolicyInvalid, 'actions.advertise.channel', 'channel id');
  });

  it('refuses an approval_valid_for under a second (an approval could never be executed)', () => {
    expectStartupError(() => parsePolicy(withPolicy((d) => (d.actions = { withdraw: { approval_valid_for: 0 } }))), ErrorCode.PolicyInvalid, 'approval_valid_for');
    expectStartupError(() => parsePolicy(withPolicy((d) => (d.actions = { withdraw: { approval_valid_for: 500 } }))), ErrorCode.PolicyInvalid, 'approval_valid_for');
  });
});

describe('loadConfig', () => {
  const policy: Policy = parsePolicy(goodPolicyDoc());
  const env = (): NodeJS.ProcessEnv => ({
    SLACK_BOT_TOKEN: 'xoxb-test-token',
    SLACK_SIGNING_SECRET: 'signing-secret',
    CLOUDFLARE_API_TOKEN: 'cf-token',
    BYOIP_CONFIG: '/etc/byoip/policy.yaml',
  });

  it('applies defaults and uses the policy given', () => {
    const c = loadConfig(env(), policy);
    expect(c.slack).toEqual({ botToken: 'xoxb-test-token', signingSecret: 'signing-secret', appToken: undefined, apiUrl: undefined, port: 3000 });
    expect(c.cloudflare).toEqual({
      apiToken: 'cf-token',
      baseUrl: 'https://api.cloudflare.com/client/v4',
      timeoutMs: 30_000,
      budget: { limit: 1200, windowMs: 300_000, perSecond: 100 },
      rateLimitNoticeMs: 20_000,
    });
    expect(c.allowDocumentationPrefixes).toBe(false);
    expect(c.redis).toEqual({ url: 'redis://127.0.0.1:6379', prefix: 'byoip' });
    expect(c.routing.ripestatUrl).toBe('https://stat.ripe.net');
    expect(c.watch).toEqual({ pollIntervalMs: 30_000, timeoutMs: 3_600_000, maxReadFailures: 20, escalateAdvertiseAfterMs: 1_200_000, escalateWithdrawAfterMs: 1_800_000 });
    expect(c.usergroupCacheTtlMs).toBe(30_000);
    expect(c.expirySweepIntervalMs).toBe(15_000);
    expect(c.channelIntervalMs).toBe(1000);
    expect(c.jobLockDurationMs).toBe(30_000);
    expect(c.logLevel).toBe('info');
    expect(c.commands).toEqual({ perUser: 20, perWorkspace: 300, windowMs: 60_000, concurrency: 16, maxWaiting: 200, interactionsPerUser: 60 });
    expect(c.policy).toBe(policy);
  });

  it('reads numbers from strings', () => {
    const c = loadConfig({ ...env(), PORT: '8080', WATCH_POLL_INTERVAL_MS: '500', REDIS_URL: 'redis://redis:6379', BYOIP_REDIS_PREFIX: 'byoip-staging' }, policy);
    expect(c.slack.port).toBe(8080);
    expect(c.watch.pollIntervalMs).toBe(500);
    expect(loadConfig({ ...env(), WATCH_MAX_READ_FAILURES: '5' }, policy).watch.maxReadFailures).toBe(5);
    expect(c.redis).toEqual({ url: 'redis://redis:6379', prefix: 'byoip-staging' });
  });

  it('reads the Cloudflare request timeout, budget and rate-limit notice, and the documentation-prefix switch', () => {
    const c = loadConfig(
      {
        ...env(),
        CLOUDFLARE_TIMEOUT_MS: '5000',
        CLOUDFLARE_BUDGET_LIMIT: '600',
        CLOUDFLARE_BUDGET_WINDOW_MS: '1000',
        CLOUDFLARE_BUDGET_PER_SECOND: '0',
        RATE_LIMIT_NOTICE_AFTER_MS: '1500',
        ALLOW_DOCUMENTATION_PREFIXES: 'true',
      },
      policy,
    );
    expect(c.cloudflare).toMatchObject({ timeoutMs: 5000, budget: { limit: 600, windowMs: 1000, perSecond: 0 }, rateLimitNoticeMs: 1500 });
    expect(c.allowDocumentationPrefixes).toBe(true);
    expect(loadConfig({ ...env(), ALLOW_DOCUMENTATION_PREFIXES: 'false' }, policy).allowDocumentationPrefixes).toBe(false);
    expectStartupError(() => loadConfig({ ...env(), ALLOW_DOCUMENTATION_PREFIXES: 'yes please' }, policy), ErrorCode.ConfigInvalid, 'ALLOW_DOCUMENTATION_PREFIXES');
    expectStartupError(() => loadConfig({ ...env(), CLOUDFLARE_TIMEOUT_MS: '0' }, policy), ErrorCode.ConfigInvalid, 'CLOUDFLARE_TIMEOUT_MS');
  });

  it.each(['SLACK_BOT_TOKEN', 'SLACK_SIGNING_SECRET', 'CLOUDFLARE_API_TOKEN', 'BYOIP_CONFIG'])('refuses a missing %s with a sentence naming it', (name) => {
    const e = env();
    delete e[name];
    expectStartupError(() => loadConfig(e, policy), ErrorCode.ConfigInvalid, 'environment is not valid', name);
  });

  it.each(['SLACK_BOT_TOKEN', 'SLACK_SIGNING_SECRET', 'CLOUDFLARE_API_TOKEN', 'BYOIP_CONFIG'])('refuses an empty %s, saying it is required', (name) => {
    expectStartupError(() => loadConfig({ ...env(), [name]: '' }, policy), ErrorCode.ConfigInvalid, name, /required|must name/);
  });

  // Was a bug (fixed): when the variable is unset (the usual case) zod reports its generic "Invalid input: expected string,
  // received undefined" instead of the schema's own "SLACK_BOT_TOKEN is required (xoxb-...)": the custom message
  // is only used for an empty string, so the operator is not told what the variable should hold.
  it('a missing SLACK_BOT_TOKEN is explained as required, not as a type error', () => {
    const e = env();
    delete e.SLACK_BOT_TOKEN;
    const err = expectStartupError(() => loadConfig(e, policy), ErrorCode.ConfigInvalid, 'SLACK_BOT_TOKEN is required');
    expect(err.userMessage).not.toMatch(/received undefined/);
  });

  it('names every missing variable at once', () => {
    const err = catchBotError(() => loadConfig({}, policy));
    for (const name of ['SLACK_BOT_TOKEN', 'SLACK_SIGNING_SECRET', 'CLOUDFLARE_API_TOKEN', 'BYOIP_CONFIG']) expect(err.userMessage).toContain(name);
  });

  it('refuses a port out of range and a malformed URL', () => {
    expectStartupError(() => loadConfig({ ...env(), PORT: '70000' }, policy), ErrorCode.ConfigInvalid, 'PORT');
    expectStartupError(() => loadConfig({ ...env(), CLOUDFLARE_API_BASE_URL: 'not a url' }, policy), ErrorCode.ConfigInvalid, 'CLOUDFLARE_API_BASE_URL');
  });

  it('refuses a WATCH_MAX_READ_FAILURES of 0 (the watch would close unconfirmed on the first failed read)', () => {
    expectStartupError(() => loadConfig({ ...env(), WATCH_MAX_READ_FAILURES: '0' }, policy), ErrorCode.ConfigInvalid, 'WATCH_MAX_READ_FAILURES');
  });

  it('does not echo secret values in its complaint', () => {
    const err = catchBotError(() => loadConfig({ ...env(), PORT: 'eighty' }, policy));
    expect(err.userMessage).not.toContain('xoxb-test-token');
    expect(err.userMessage).not.toContain('signing-secret');
    expect(err.userMessage).not.toContain('cf-token');
  });

  it('without a policy override, reads the file BYOIP_CONFIG names', () => {
    const dir = mkdtempSync(join(tmpdir(), 'byoip-unit-cfg-'));
    try {
      const path = join(dir, 'policy.json');
      writeFileSync(path, JSON.stringify(goodPolicyDoc()));
      expect(loadConfig({ ...env(), BYOIP_CONFIG: path }).policy.actions.withdraw.approvals).toBe(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('loadPolicyFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'byoip-unit-policy-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a good YAML policy', () => {
    const path = join(dir, 'good.yaml');
    writeFileSync(
      path,
      [
        'cloudflare:',
        '  accounts:',
        `    - { name: production, id: "${ACCOUNT_ID}" }`,
        'slack:',
        '  channel: C0123ABCD',
        'groups:',
        '  requesters: [S0REQ0001]',
        '  approvers: [S0APP0001]',
        'actions:',
        '  withdraw: { approvals: 2, expires_after: 45m }',
        'prefixes:',
        '  - cidr: 203.0.113.0/24',
        '',
      ].join('\n'),
    );
    const p = loadPolicyFile(path);
    expect(p.actions.withdraw).toEqual({ approvals: 2, expires_after: 2_700_000, approval_valid_for: 900_000 });
    expect(p.prefixes).toEqual([{ cidr: '203.0.113.0/24' }]);
  });

  it('a missing file names the path and says to set BYOIP_CONFIG', () => {
    const path = join(dir, 'nope.yaml');
    expectStartupError(() => loadPolicyFile(path), ErrorCode.PolicyInvalid, path, 'BYOIP_CONFIG');
  });

  it('invalid YAML names the file and says it is not valid YAML', () => {
    const path = join(dir, 'broken.yaml');
    writeFileSync(path, 'groups:\n  approvers: [S0APP0001\n  requesters: : :\n');
    expectStartupError(() => loadPolicyFile(path), ErrorCode.PolicyInvalid, path, 'not valid YAML');
  });

  it('valid YAML with a bad policy names the file and the field', () => {
    const path = join(dir, 'bad-policy.yaml');
    writeFileSync(path, `cloudflare:\n  accounts: [{ name: p, id: "${ACCOUNT_ID}" }]\nslack:\n  channel: "#ops"\ngroups:\n  requesters: [S1]\n  approvers: []\n`);
    const err = expectStartupError(() => loadPolicyFile(path), ErrorCode.PolicyInvalid, `${path} groups.approvers`, `${path} slack.channel`);
    expect(err.userMessage).toContain('will not start');
  });

  it('an empty file is refused', () => {
    const path = join(dir, 'empty.yaml');
    writeFileSync(path, '');
    expect(catchBotError(() => loadPolicyFile(path)).code).toBe(ErrorCode.PolicyInvalid);
  });
});
