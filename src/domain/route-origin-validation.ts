import { cidrContains, parseCidr } from './cidr.js';

/** A validated ROA payload: this ASN may originate `prefix` and more-specifics up to `maxLength`. */
export interface Vrp {
  prefix: string;
  maxLength: number;
  asn: number;
}

export type RovState = 'valid' | 'invalid' | 'not-found';

export interface RovResult {
  state: RovState;
  /** Only when invalid: `as` whenever a covering VRP has another ASN, else `length`. */
  reason?: 'as' | 'length';
  matched: Vrp[];
  unmatchedAs: Vrp[];
  unmatchedLength: Vrp[];
}

/**
 * RFC 6811 route origin validation, classified the way Routinator does it: for each VRP covering the route,
 * a route longer than maxLength is `unmatchedLength`, else another ASN is `unmatchedAs`, else `matched`.
 */
export function validateRouteOrigin(vrps: readonly Vrp[], prefix: string, asn: number): RovResult {
  const route = parseCidr(prefix);
  const matched: Vrp[] = [];
  const unmatchedAs: Vrp[] = [];
  const unmatchedLength: Vrp[] = [];
  for (const vrp of vrps) {
    let covers: boolean;
    try {
      covers = cidrContains(vrp.prefix, route.text);
    } catch {
      continue; // a malformed VRP covers nothing
    }
    if (!covers) continue;
    if (route.length > vrp.maxLength) unmatchedLength.push(vrp);
    else if (vrp.asn !== asn) unmatchedAs.push(vrp);
    else matched.push(vrp);
  }
  if (matched.length > 0) return { state: 'valid', matched, unmatchedAs, unmatchedLength };
  if (unmatchedAs.length + unmatchedLength.length > 0) {
    return { state: 'invalid', reason: unmatchedAs.length > 0 ? 'as' : 'length', matched, unmatchedAs, unmatchedLength };
  }
  return { state: 'not-found', matched, unmatchedAs, unmatchedLength };
}
