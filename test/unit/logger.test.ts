import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, scrubSecrets } from '../../src/logger.js';

const BOT_TOKEN = 'xoxb-1111111111-2222222222-AbCdEfGhIjKlMnOpQrStUvWx';
const USER_TOKEN = 'xoxp-3333-4444-5555-abcdef';
const APP_TOKEN = 'xapp-1-A0123-4567-deadbeefcafe';
const SIGNING_SECRET = '8f14e45fceea167a5a36dedd4bea2543';
const CF_TOKEN = 'cfTok_9Zq8Yw7Xv6Ut5Sr4Qp3On2Ml1Kj0';
const BEARER = `Bearer ${CF_TOKEN}`;
const SECRETS = [BOT_TOKEN, USER_TOKEN, APP_TOKEN, SIGNING_SECRET, CF_TOKEN];

/** A logger writing into a string, with a helper to read back each JSON line. */
function capture() {
  let out = '';
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      out += chunk.toString();
      cb();
    },
  });
  const log = createLogger({ destination, level: 'trace', name: 'unit' });
  return {
    log,
    text: () => out,
    lines: () =>
      out
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

function expectNoSecrets(text: string): void {
  for (const s of SECRETS) expect(text).not.toContain(s);
}

describe('logger redaction', () => {
  it('blanks top-level secret fields and keeps the rest', () => {
    const c = capture();
    c.log.info({ token: BOT_TOKEN, botToken: BOT_TOKEN, signingSecret: SIGNING_SECRET, apiToken: CF_TOKEN, appToken: APP_TOKEN, operationId: 'op1', prefix: '203.0.113.0/24' }, 'starting');
    expectNoSecrets(c.text());
    const [line] = c.lines();
    expect(line).toMatchObject({ botToken: '[REDACTED]', signingSecret: '[REDACTED]', apiToken: '[REDACTED]', operationId: 'op1', prefix: '203.0.113.0/24', msg: 'starting' });
  });

  it('blanks secret fields one level down (e.g. a logged slack or cloudflare config section)', () => {
    const c = capture();
    c.log.info({ slack: { botToken: BOT_TOKEN, signingSecret: SIGNING_SECRET, appToken: APP_TOKEN }, cloudflare: { apiToken: CF_TOKEN, baseUrl: 'https://api.cloudflare.com' } });
    expectNoSecrets(c.text());
    expect(c.lines()[0]).toMatchObject({ cloudflare: { baseUrl: 'https://api.cloudflare.com' } });
  });

  it('blanks authorization headers and the Slack signature header', () => {
    const c = capture();
    c.log.info({ headers: { authorization: BEARER, 'x-slack-signature': `v0=${SIGNING_SECRET}` } }, 'inbound');
    c.log.info({ req: { headers: { authorization: BEARER, 'content-type': 'application/json' } } }, 'outbound');
    c.log.info({ authorization: BEARER });
    expectNoSecrets(c.text());
    expect(c.lines()[1]).toMatchObject({ req: { headers: { 'content-type': 'application/json' } } });
  });

  it('scrubs tokens from a plain string message, including format arguments', () => {
    const c = capture();
    c.log.warn(`Slack said invalid_auth for ${BOT_TOKEN}; Cloudflare header was ${BEARER}`);
    c.log.info('retrying with %s and %s', USER_TOKEN, APP_TOKEN);
    expectNoSecrets(c.text());
    expect(c.lines()[0]!.msg).toContain('[REDACTED]');
    expect(c.lines()[0]!.msg).toContain('Slack said invalid_auth');
  });

  it('scrubs tokens from an Error logged under err, in its message and its stack', () => {
    const c = capture();
    c.log.error({ err: new Error(`request failed: authorization=${BEARER} token=${BOT_TOKEN}`), operationId: 'op2' }, 'cloudflare call failed');
    expectNoSecrets(c.text());
    const line = c.lines()[0]!;
    expect(line.operationId).toBe('op2');
    expect((line.err as { message: string }).message).toContain('request failed');
  });

  it('scrubs tokens from an Error cause', () => {
    const c = capture();
    const err = new Error('delivery failed', { cause: new Error(`upstream said ${BEARER} / ${BOT_TOKEN}`) });
    c.log.error({ err }, 'slack delivery');
    expectNoSecrets(c.text());
  });

  // Was a bug (fixed): logging an Error as the first argument, `log.error(err)` (a common pino idiom), copies err.message into
  // the top-level `msg` field without scrubbing: the err serializer cleans `err.message` and `err.stack`, but the
  // Bearer token and xoxb- token appear verbatim in `msg`.
  it('scrubs tokens when an Error is logged on its own: log.error(err)', () => {
    const c = capture();
    c.log.error(new Error(`call failed with ${BOT_TOKEN} and ${BEARER}`));
    expectNoSecrets(c.text());
  });

  // Was a bug (fixed): redaction paths reach only one level deep (`*.botToken`), so logging the loaded AppConfig under a key,
  // `log.info({ config })`, writes config.slack.botToken and config.cloudflare.apiToken in clear text.
  it('blanks secrets nested two levels down, e.g. log.info({ config })', () => {
    const c = capture();
    c.log.info({ config: { slack: { botToken: BOT_TOKEN, signingSecret: SIGNING_SECRET }, cloudflare: { apiToken: CF_TOKEN } } }, 'config loaded');
    expectNoSecrets(c.text());
  });

  // Was a bug (fixed): the header path is case-sensitive (`headers.authorization`) and object values are never scrubbed, so a
  // fetch init written the usual way, `{ headers: { Authorization: 'Bearer …' } }`, is logged with the token.
  it('blanks an Authorization header written with a capital A', () => {
    const c = capture();
    c.log.debug({ headers: { Authorization: BEARER } }, 'cloudflare request');
    expectNoSecrets(c.text());
  });
});

describe('scrubSecrets', () => {
  it.each([BOT_TOKEN, USER_TOKEN, APP_TOKEN, 'xoxa-2-abc', 'xoxr-refresh-1', 'xoxs-legacy-9', BEARER])('masks %s', (secret) => {
    const out = scrubSecrets(`before ${secret} after`);
    expect(out).toBe('before [REDACTED] after');
  });

  it('leaves ordinary text alone', () => {
    const text = 'Withdraw 203.0.113.0/24 approved by <@U123>; bearer of bad news';
    expect(scrubSecrets(text)).toBe(text);
  });
});
