import { describe, expect, it } from 'vitest';
import { reverseZones, validationRecordName } from '../../src/domain/reverse-zones.js';

describe('reverseZones', () => {
  it.each([
    ['1.1.0.0/23', ['0.1.1.in-addr.arpa', '1.1.1.in-addr.arpa']],
    ['198.51.100.0/22', ['100.51.198.in-addr.arpa', '101.51.198.in-addr.arpa', '102.51.198.in-addr.arpa', '103.51.198.in-addr.arpa']],
    ['203.0.113.0/24', ['113.0.203.in-addr.arpa']],
    ['10.0.0.0/16', ['0.10.in-addr.arpa']],
    ['2001:db8::/32', ['8.b.d.0.1.0.0.2.ip6.arpa']],
    ['2001:db8::/48', ['0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa']],
    [
      '2001:db8::/34',
      ['0.8.b.d.0.1.0.0.2.ip6.arpa', '1.8.b.d.0.1.0.0.2.ip6.arpa', '2.8.b.d.0.1.0.0.2.ip6.arpa', '3.8.b.d.0.1.0.0.2.ip6.arpa'],
    ],
  ])('%s', (prefix, zones) => {
    expect(reverseZones(prefix)).toEqual(zones);
  });

  it('names the validation record', () => {
    expect(validationRecordName('113.0.203.in-addr.arpa')).toBe('cf-validation.113.0.203.in-addr.arpa');
  });
});
