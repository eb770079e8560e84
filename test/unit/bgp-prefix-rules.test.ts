import { describe, expect, it } from 'vitest';
import { BGP_CREATE_ERRORS, bgpCreateErrorOf, bgpPrefixCidrProblem, explainBgpCreateError } from '../../src/domain/bgp-prefix-rules.js';

describe('BGP prefix rules', () => {
  it('accepts the prefix itself and announceable more specifics', () => {
    expect(bgpPrefixCidrProblem('198.18.0.0/23', '198.18.0.0/23')).toBeNull();
    expect(bgpPrefixCidrProblem('198.18.0.0/23', '198.18.1.0/24')).toBeNull();
    expect(bgpPrefixCidrProblem('2001:db8::/32', '2001:db8:1::/48')).toBeNull();
  });
  it('refuses outside, too long and the other family, with the reason', () => {
    expect(bgpPrefixCidrProblem('198.18.0.0/23', '198.18.2.0/24')).toMatch(/not inside/);
    expect(bgpPrefixCidrProblem('198.18.0.0/23', '198.18.0.0/22')).toMatch(/not inside/);
    expect(bgpPrefixCidrProblem('198.18.0.0/23', '198.18.0.0/25')).toMatch(/too small to announce.*\/24/);
    expect(bgpPrefixCidrProblem('2001:db8::/32', '2001:db8::/49')).toMatch(/\/48 or shorter/);
    expect(bgpPrefixCidrProblem('198.18.0.0/23', '2001:db8::/48')).toMatch(/IPv6 and 198\.18\.0\.0\/23 is IPv4/);
  });
  it("finds Cloudflare's marker and explains each of the three with its fix", () => {
    expect(bgpCreateErrorOf(['incomplete_bgp_deployment: prefix 1 has no default service binding'])).toBe('incomplete_bgp_deployment');
    expect(bgpCreateErrorOf(['something else'])).toBeNull();
    const fixes = { prefix_not_valid_and_approved: /\/byoip validate/, incomplete_bgp_deployment: /\/byoip bind/, advertise_state_locked: /4 to 6 hours/ };
    for (const code of BGP_CREATE_ERRORS) expect(explainBgpCreateError(code, '198.18.0.0/23', '198.18.1.0/24')).toMatch(fixes[code]);
  });
});
