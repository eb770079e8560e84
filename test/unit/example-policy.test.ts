import { describe, expect, it } from 'vitest';
import { loadPolicyFile } from '../../src/config.js';

describe('config/policy.example.yml', () => {
  it('is a valid policy, so copying it is a working start', () => {
    const p = loadPolicyFile('config/policy.example.yml');
    expect(p.groups.approvers).toEqual(['S0APPROVERS']);
    expect(p.actions.onboard.expires_after).toBe(86_400_000);
    expect(p.break_glass).toEqual({ max_uses: 2, window: 3_600_000 });
    expect(p.prefixes[0]).toEqual({ cidr: '203.0.113.0/24', own_asn: 64500 });
  });
});
