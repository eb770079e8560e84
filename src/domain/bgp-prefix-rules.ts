/**
 * BGP prefixes (the announceable pieces of an account prefix): which CIDR may be created, and Cloudflare's three
 * create errors in plain words with the fix. Pure: no I/O.
 */
import { MAX_ANNOUNCE_LENGTH, cidrContains, parseCidr } from './cidr.js';

/** Why `bgpCidr` cannot be a BGP prefix of `prefixCidr`, or null when it can. */
export function bgpPrefixCidrProblem(prefixCidr: string, bgpCidr: string): string | null {
  const outer = parseCidr(prefixCidr);
  const inner = parseCidr(bgpCidr);
  if (outer.version !== inner.version) return `${inner.text} is IPv${inner.version} and ${outer.text} is IPv${outer.version}: a BGP prefix must lie inside its prefix.`;
  if (!cidrContains(outer.text, inner.text)) return `${inner.text} is not inside ${outer.text}: a BGP prefix is the prefix itself or a more specific part of it.`;
  const max = MAX_ANNOUNCE_LENGTH[inner.version];
  if (inner.length > max) {
    return `${inner.text} is too small to announce: Cloudflare announces IPv${inner.version} BGP prefixes of /${max} or shorter. Choose a /${max} or shorter inside ${outer.text}.`;
  }
  return null;
}

/** Cloudflare's error markers for a BGP prefix create, and what they mean for the team. */
export const BGP_CREATE_ERRORS = ['prefix_not_valid_and_approved', 'incomplete_bgp_deployment', 'advertise_state_locked'] as const;
export type BgpCreateError = (typeof BGP_CREATE_ERRORS)[number];

/** The marker Cloudflare's messages carry, if any. */
export function bgpCreateErrorOf(messages: readonly string[]): BgpCreateError | null {
  const text = messages.join(' ');
  return BGP_CREATE_ERRORS.find((m) => text.includes(m)) ?? null;
}

/** A plain sentence for each of the three: what is missing and the command that fixes it. */
export function explainBgpCreateError(code: BgpCreateError, prefixCidr: string, bgpCidr: string): string {
  switch (code) {
    case 'prefix_not_valid_and_approved':
      return `Cloudflare did not create BGP prefix ${bgpCidr} (\`prefix_not_valid_and_approved\`): ${prefixCidr} is not validated and approved yet, and BGP prefixes come after validation. Fix: run \`/byoip validate ${prefixCidr}\` and wait until it is approved (\`V\`), then ask again.`;
    case 'incomplete_bgp_deployment':
      return `Cloudflare did not create BGP prefix ${bgpCidr} (\`incomplete_bgp_deployment\`): ${prefixCidr} has no default service binding, and a BGP prefix needs one. Fix: bind the whole prefix first with \`/byoip bind ${prefixCidr}\`, wait until it is active, then ask again.`;
    case 'advertise_state_locked':
      return `Cloudflare did not create BGP prefix ${bgpCidr} (\`advertise_state_locked\`): the default service binding of ${prefixCidr} is still being deployed (Cloudflare takes 4 to 6 hours). Fix: wait until \`/byoip status ${prefixCidr}\` shows the binding active, then ask again.`;
  }
}
