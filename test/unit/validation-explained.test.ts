import { describe, expect, it } from 'vitest';
import { explainFailingChecks, explainValidation } from '../../src/domain/validation-explained.js';

const ctx = { cidr: '192.0.2.0/24', asn: 13335, token: 'a3d9e4f6c7b8203a4b5c6d7e8f9a0b12' };

describe('validation states explained (the docs troubleshooting page)', () => {
  it('maps every failing state of every check to a cause, a fix and a record', () => {
    for (const check of ['irr', 'rpki', 'ownership'] as const) {
      for (const state of ['missing', 'invalid', 'mismatch_asn']) {
        const x = explainValidation(check, state, ctx)!;
        expect(x, `${check} ${state}`).not.toBeNull();
        expect(x.cause.length).toBeGreaterThan(10);
        expect(x.fix.length).toBeGreaterThan(10);
        expect(x.record.length).toBeGreaterThan(0);
      }
    }
    expect(explainValidation('irr', 'valid', ctx)).toBeNull();
    expect(explainValidation('rpki', 'pending', ctx)).toBeNull();
  });

  it('gives the exact records: route object lines, ROA, the token as remarks line and TXT per reverse zone', () => {
    expect(explainValidation('irr', 'missing', ctx)!.record).toEqual(expect.arrayContaining(['route: 192.0.2.0/24', 'origin: AS13335']));
    expect(explainValidation('irr', 'mismatch_asn', ctx)!.cause).toMatch(/origin is not AS13335/);
    expect(explainValidation('irr', 'missing', { ...ctx, cidr: '2001:db8::/48' })!.record[0]).toBe('route6: 2001:db8::/48');
    expect(explainValidation('rpki', 'missing', ctx)!.record[0]).toMatch(/ROA: prefix 192\.0\.2\.0\/24, origin AS13335, max length \/24/);
    expect(explainValidation('rpki', 'invalid', ctx)!.cause).toMatch(/max length/);
    const own = explainValidation('ownership', 'missing', ctx)!;
    expect(own.record.join('\n')).toContain(`remarks: cf-validation: ${ctx.token}`);
    expect(own.record.join('\n')).toContain(`cf-validation.2.0.192.in-addr.arpa IN TXT "${ctx.token}"`);
    expect(explainValidation('ownership', 'invalid', ctx)!.cause).toMatch(/matching ROA/);
  });

  it('lists only the failing checks, in order', () => {
    const xs = explainFailingChecks({ irr: 'valid', rpki: 'missing', ownership: 'invalid' }, ctx);
    expect(xs.map((x) => `${x.check} ${x.state}`)).toEqual(['rpki missing', 'ownership invalid']);
  });
});
