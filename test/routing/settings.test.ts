import { describe, expect, it } from 'vitest';
import { routingSettingsFromEnv } from '../../src/routing/settings.js';
import { ErrorCode } from '../../src/errors.js';

describe('routingSettingsFromEnv', () => {
  it('defaults to the public services', () => {
    expect(routingSettingsFromEnv({})).toEqual({
      ripestatUrl: 'https://stat.ripe.net',
      sourceApp: 'byoip-bot',
      irrHost: 'whois.radb.net',
      irrPort: 43,
      timeoutMs: 5000,
    });
  });

  it('reads every setting', () => {
    expect(
      routingSettingsFromEnv({
        RIPESTAT_URL: 'http://127.0.0.1:1',
        RPKI_VALIDATOR_URL: 'http://127.0.0.1:2',
        IRR_WHOIS_HOST: '127.0.0.1',
        IRR_WHOIS_PORT: '4343',
        DNS_SERVER: '127.0.0.1:5353',
        ROUTING_TIMEOUT_MS: '800',
      }),
    ).toMatchObject({ routinatorUrl: 'http://127.0.0.1:2', irrPort: 4343, dnsServer: '127.0.0.1:5353', timeoutMs: 800 });
  });

  it('refuses a bad setting with a sentence', () => {
    expect(() => routingSettingsFromEnv({ IRR_WHOIS_PORT: 'forty-three' })).toThrow(expect.objectContaining({ code: ErrorCode.ConfigInvalid }));
  });
});
