import { z } from 'zod';
import { parseCidr } from '../domain/cidr.js';
import { DEFAULT_ROUTING_TIMEOUT_MS, getJson } from './http.js';
import { DEFAULT_SOURCE_APP, asnField, ripestatEnvelope, ripestatUrl } from './ripestat.js';
import { BotError, ErrorCode } from '../errors.js';

export interface RpkiVrp {
  prefix: string;
  maxLength: number;
  asn: number;
  /** How this VRP relates to the route: it matches, names another AS, or is too short (maxLength). */
  relation: 'matched' | 'as' | 'length';
}

export interface RpkiValidity {
  prefix: string;
  asn: number;
  state: 'valid' | 'invalid' | 'not-found';
  reason?: 'as' | 'length';
  vrps: RpkiVrp[];
  /** Which validator answered. */
  source: string;
}

/** Anything that can tell whether `asn` may originate `prefix`. */
export interface RpkiValidator {
  validity(asn: number, prefix: string): Promise<RpkiValidity>;
}

const routinatorVrp = z.object({ asn: asnField, prefix: z.string(), max_length: z.union([z.string(), z.number()]) });

export const routinatorValidityResponse = z.object({
  validated_route: z.object({
    route: z.object({ origin_asn: asnField, prefix: z.string() }),
    validity: z.object({
      state: z.enum(['valid', 'invalid', 'not-found']),
      reason: z.string().nullable().optional(),
      description: z.string().optional(),
      VRPs: z
        .object({
          matched: z.array(routinatorVrp).default([]),
          unmatched_as: z.array(routinatorVrp).default([]),
          unmatched_length: z.array(routinatorVrp).default([]),
        })
        .optional(),
    }),
  }),
  generatedTime: z.string().optional(),
});

function maxLen(v: string | number): number {
  const n = typeof v === 'number' ? v : Number(v);
  return Number.isInteger(n) ? n : -1;
}

/** Routinator's `GET /api/v1/validity/AS<asn>/<prefix>` (also Cloudflare's rpki.cloudflare.com in the same shape). */
export class RoutinatorClient implements RpkiValidator {
  constructor(private readonly opts: { baseUrl: string; timeoutMs?: number }) {}

  async validity(asn: number, prefix: string): Promise<RpkiValidity> {
    const cidr = parseCidr(prefix);
    const base = this.opts.baseUrl.replace(/\/+$/, '');
    const body = await getJson(`${base}/api/v1/validity/AS${asn}/${cidr.text}`, routinatorValidityResponse, {
      timeoutMs: this.opts.timeoutMs ?? DEFAULT_ROUTING_TIMEOUT_MS,
      label: { service: 'The RPKI validator (Routinator)', doing: `checking AS${asn} ${cidr.text}` },
    });
    const v = body.validated_route.validity;
    const vrps: RpkiVrp[] = [
      ...(v.VRPs?.matched ?? []).map((x) => ({ ...x, relation: 'matched' as const })),
      ...(v.VRPs?.unmatched_as ?? []).map((x) => ({ ...x, relation: 'as' as const })),
      ...(v.VRPs?.unmatched_length ?? []).map((x) => ({ ...x, relation: 'length' as const })),
    ].map(({ asn: a, prefix: p, max_length, relation }) => ({ asn: a, prefix: p, maxLength: maxLen(max_length), relation }));
    const reason = v.state === 'invalid' ? (v.reason === 'as' ? 'as' : v.reason === 'length' ? 'length' : inferReason(vrps)) : undefined;
    return { prefix: cidr.text, asn, state: v.state, ...(reason ? { reason } : {}), vrps, source: 'Routinator' };
  }
}

const ripestatRoa = z.object({ origin: asnField, prefix: z.string(), max_length: z.union([z.number(), z.string()]), validity: z.string() });
export const ripestatRpkiResponse = ripestatEnvelope(
  z.object({ status: z.string(), validating_roas: z.array(ripestatRoa).default([]), prefix: z.string().optional(), resource: z.union([z.string(), z.number()]).optional() }),
);

/** RIPEstat `rpki-validation`. Any status starting with `invalid` is invalid (the top-level spelling varies). */
export class RipestatRpkiClient implements RpkiValidator {
  constructor(private readonly opts: { baseUrl: string; timeoutMs?: number; sourceApp?: string }) {}

  async validity(asn: number, prefix: string): Promise<RpkiValidity> {
    const cidr = parseCidr(prefix);
    const label = { service: 'RIPEstat rpki-validation', doing: `checking AS${asn} ${cidr.text}` };
    const body = await getJson(
      ripestatUrl(this.opts.baseUrl, 'rpki-validation', { resource: `AS${asn}`, prefix: cidr.text }, this.opts.sourceApp ?? DEFAULT_SOURCE_APP),
      ripestatRpkiResponse,
      { timeoutMs: this.opts.timeoutMs ?? DEFAULT_ROUTING_TIMEOUT_MS, label },
    );
    const vrps: RpkiVrp[] = body.data.validating_roas.map((r) => ({
      prefix: r.prefix,
      asn: r.origin,
      maxLength: maxLen(r.max_length),
      relation: r.validity.startsWith('invalid') ? (r.validity.includes('length') ? 'length' : 'as') : 'matched',
    }));
    const status = body.data.status.toLowerCase();
    let state: RpkiValidity['state'];
    if (status.startsWith('invalid')) state = 'invalid';
    else if (status === 'valid') state = 'valid';
    else if (status === 'unknown' || status === 'not-found' || status === 'not_found') state = 'not-found';
    else throw new BotError(ErrorCode.RoutingBadResponse, `RIPEstat rpki-validation answered an unknown status \`${body.data.status}\` while ${label.doing}; try again later.`, true);
    const reason = state === 'invalid' ? (status.includes('length') ? 'length' : status.includes('as') ? 'as' : inferReason(vrps)) : undefined;
    return { prefix: cidr.text, asn, state, ...(reason ? { reason } : {}), vrps, source: 'RIPEstat' };
  }
}

/** Routinator's rule: `as` whenever a covering VRP names another AS, else `length`. */
function inferReason(vrps: RpkiVrp[]): 'as' | 'length' {
  return vrps.some((v) => v.relation === 'as') ? 'as' : 'length';
}

/** Tries validators in order, moving on only when one is unreachable or answers garbage. */
export class FallbackRpkiValidator implements RpkiValidator {
  constructor(private readonly validators: RpkiValidator[]) {}

  async validity(asn: number, prefix: string): Promise<RpkiValidity> {
    let last: unknown;
    for (const v of this.validators) {
      try {
        return await v.validity(asn, prefix);
      } catch (err) {
        if (!(err instanceof BotError) || (err.code !== ErrorCode.RoutingUnavailable && err.code !== ErrorCode.RoutingBadResponse)) throw err;
        last = err;
      }
    }
    throw last ?? new BotError(ErrorCode.RoutingUnavailable, 'No RPKI validator is configured; set RPKI_VALIDATOR_URL or RIPESTAT_URL.', false);
  }
}

