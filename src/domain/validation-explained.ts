/**
 * Cloudflare's prefix validation states explained: for each failing check (IRR, RPKI, ownership) in each failing
 * state (`missing`, `invalid`, `mismatch_asn`), the cause in plain words, the fix, and the exact record to publish,
 * after the docs' "Troubleshoot prefix validation" page and its prerequisites (a route / route6 object for exactly
 * the prefix with the right origin; an accurate ROA; the ownership token in the IRR record or in every reverse zone,
 * with a matching ROA). Pure: no I/O, no markup.
 */
import { parseCidr } from './cidr.js';
import { reverseZones, validationRecordName } from './reverse-zones.js';

export type ValidationCheck = 'irr' | 'rpki' | 'ownership';

export interface ValidationContext {
  cidr: string;
  /** The ASN the prefix was added with (the docs' self-serve flow: 13335). */
  asn: number | null;
  /** The prefix's ownership validation token. */
  token: string | null;
}

export interface ValidationExplanation {
  check: ValidationCheck;
  state: string;
  cause: string;
  fix: string;
  /** What to publish, line by line, exactly. */
  record: string[];
}

export const CHECK_NAME: Record<ValidationCheck, string> = { irr: 'IRR', rpki: 'RPKI', ownership: 'Ownership' };

/** Cloudflare's states for a check that did not pass. */
export const FAILED_VALIDATION_STATES = new Set(['missing', 'invalid', 'mismatch_asn', 'failed']);

function routeObject(ctx: ValidationContext, withToken: boolean): string[] {
  const v6 = parseCidr(ctx.cidr).version === 6;
  return [
    `${v6 ? 'route6' : 'route'}: ${ctx.cidr}`,
    `origin: AS${ctx.asn ?? '<ASN>'}`,
    ...(withToken ? [`remarks: cf-validation: ${ctx.token ?? '<OWNERSHIP_VALIDATION_TOKEN>'}`] : []),
    'mnt-by: <YOUR-MAINTAINER>',
    'source: <YOUR-IRR, e.g. RADB or RIPE>',
  ];
}

const roa = (ctx: ValidationContext) => [`ROA: prefix ${ctx.cidr}, origin AS${ctx.asn ?? '<ASN>'}, max length /${parseCidr(ctx.cidr).length} (or longer if you will announce more specifics)`];

function tokenRecords(ctx: ValidationContext): string[] {
  const token = ctx.token ?? '<OWNERSHIP_VALIDATION_TOKEN>';
  const zones = reverseZones(ctx.cidr);
  return [
    `remarks: cf-validation: ${token}   (on the IRR route object of ${ctx.cidr}), or in every reverse zone:`,
    ...zones.slice(0, 8).map((z) => `${validationRecordName(z)} IN TXT "${token}"`),
    ...(zones.length > 8 ? [`… and the same TXT in the other ${zones.length - 8} reverse zones`] : []),
  ];
}

/** The cause, fix and record for one failing check, or null when the state is not a failure. */
export function explainValidation(check: ValidationCheck, state: string, ctx: ValidationContext): ValidationExplanation | null {
  if (!FAILED_VALIDATION_STATES.has(state)) return null;
  const asn = `AS${ctx.asn ?? '<ASN>'}`;
  const obj = parseCidr(ctx.cidr).version === 6 ? 'route6' : 'route';
  const e = (cause: string, fix: string, record: string[]): ValidationExplanation => ({ check, state, cause, fix, record });
  switch (check) {
    case 'irr':
      if (state === 'mismatch_asn') return e(`the IRR has a ${obj} object for ${ctx.cidr}, but its origin is not ${asn}.`, `Change the object's origin to ${asn} (or add a second object with that origin).`, routeObject(ctx, false));
      if (state === 'invalid') return e(`the IRR's ${obj} object does not match ${ctx.cidr} exactly (a covering or different prefix does not count).`, `Publish a ${obj} object for exactly ${ctx.cidr} with origin ${asn}.`, routeObject(ctx, false));
      return e(`no ${obj} object for exactly ${ctx.cidr} is found in the IRR (a covering prefix's object does not count).`, `Create a ${obj} object for ${ctx.cidr} with origin ${asn} in your registry's IRR.`, routeObject(ctx, false));
    case 'rpki':
      if (state === 'mismatch_asn') return e(`a ROA covers ${ctx.cidr}, but it authorises another ASN, not ${asn}.`, `Create a ROA at your RIR authorising ${asn} for ${ctx.cidr}.`, roa(ctx));
      if (state === 'invalid') return e(`a ROA for ${asn} covers ${ctx.cidr}, but its max length is shorter than /${parseCidr(ctx.cidr).length}, so the announcement would be RPKI-invalid.`, `Raise the ROA's max length to at least /${parseCidr(ctx.cidr).length}.`, roa(ctx));
      return e(`no ROA covers ${ctx.cidr}.`, `Create a ROA at your RIR for ${ctx.cidr} with origin ${asn}.`, roa(ctx));
    case 'ownership':
      if (state === 'mismatch_asn') return e(`ownership validation needs a matching ROA, and the ROA does not name ${asn}.`, `Fix the ROA for ${asn}, and keep the token published.`, [...roa(ctx), ...tokenRecords(ctx)]);
      if (state === 'invalid') return e(`a token was found but does not prove ownership: it is another or mistyped token, it is missing from some reverse zones, or the ROA does not match (ownership needs a matching ROA too).`, `Publish this prefix's token exactly, in the IRR record or in every reverse zone, and make sure the ROA is valid.`, tokenRecords(ctx));
      return e(`the ownership token is not found: neither in the IRR record (remarks or descr) nor in the cf-validation TXT of every reverse zone.`, `Publish the token in one of these places.`, tokenRecords(ctx));
  }
}

/** Every failing check of a prefix's states, explained (in IRR, RPKI, ownership order). */
export function explainFailingChecks(states: Partial<Record<ValidationCheck, string>>, ctx: ValidationContext): ValidationExplanation[] {
  return (['irr', 'rpki', 'ownership'] as const).flatMap((c) => {
    const x = explainValidation(c, states[c] ?? '', ctx);
    return x ? [x] : [];
  });
}
