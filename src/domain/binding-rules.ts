import { BotError } from '../errors.js';
import type { Delegation, Prefix, ServiceBinding } from './addressing.js';
import { exclude, ipInCidr, MAX_LIST_IPS, parseIp, type Ip } from './address-space.js';
import { cidrContains, cidrOverlaps, isAnnounceable, MAX_ANNOUNCE_LENGTH, parseCidr, type Cidr } from './cidr.js';
import { coveringPrefix } from './routing-prefixes.js';

/**
 * Cloudflare's BYOIP rules for service bindings, delegations, address maps and onboarding (developers.cloudflare.com
 * /byoip: get-started, service-bindings, prefix-delegations, address-maps), checked before anything is sent. Each
 * function returns every rule the proposal breaks; an empty list means Cloudflare should accept it. Pure: no I/O,
 * no Slack markup; every message is a plain sentence that says what is wrong and how to fix it.
 */

export type ViolationCode =
  // shared
  | 'invalid_cidr'
  | 'family_mismatch'
  | 'outside_prefix'
  // onboarding
  | 'prefix_too_small'
  | 'prefix_overlaps_prefix'
  // bindings
  | 'prefix_not_approved'
  | 'default_binding_first'
  | 'magic_transit_not_default'
  | 'already_bound'
  | 'cidr_already_bound'
  | 'cdn_and_spectrum'
  | 'cdn_ingress_and_egress'
  // delegations
  | 'invalid_account_id'
  | 'delegation_to_owner'
  | 'already_delegated'
  | 'delegation_overlap'
  // address maps
  | 'no_ips'
  | 'too_many_ips'
  | 'invalid_ip'
  | 'duplicate_ip'
  | 'ip_outside_prefixes';

export interface Violation {
  /** Stable: callers and tests branch on it, never on the wording. */
  code: ViolationCode;
  /** What the rule was checked on: the proposed CIDR, or one address. */
  subject: string;
  /** One plain sentence (no markup): what is wrong, then the fix. */
  message: string;
}

/** Which Cloudflare pipeline a service is, read from its name (services are looked up by name; ids differ per account). */
export type ServiceKind = 'magic_transit' | 'cdn' | 'cdn_egress' | 'spectrum' | 'other';

/** `Magic Transit`, `CDN`, `Spectrum`; CDN egress is Dedicated CDN Egress IPs, formerly Aegis. */
export function serviceKind(name: string): ServiceKind {
  const n = name.trim().toLowerCase();
  if (/magic\s*transit/.test(n)) return 'magic_transit';
  if (/egress|aegis/.test(n)) return 'cdn_egress';
  if (/spectrum/.test(n)) return 'spectrum';
  if (/^cdn\b|cache/.test(n)) return 'cdn';
  return 'other';
}

/** The proposal could not even be read (not a CIDR): the one violation, with parseCidr's sentence. */
function unreadable(subject: string, err: Error): Violation[] {
  const message = `Not a usable CIDR: ${err instanceof BotError ? err.userMessage.replace(/`/g, '') : `${subject} is not a CIDR.`}`;
  return [{ code: 'invalid_cidr', subject, message }];
}

function tryCidr(text: string): Cidr | Error {
  try {
    return parseCidr(text);
  } catch (err) {
    return err as Error;
  }
}

/** The proposal must lie inside the prefix: same family, contained. */
function insidePrefix(prefix: Cidr, c: Cidr, what: string): Violation[] {
  if (c.version !== prefix.version) {
    return [
      {
        code: 'family_mismatch',
        subject: c.text,
        message: `The IPv${c.version} range ${c.text} cannot be in the IPv${prefix.version} prefix ${prefix.text}: ${what} must lie inside ${prefix.text}.`,
      },
    ];
  }
  if (!cidrContains(prefix.text, c.text)) {
    return [
      {
        code: 'outside_prefix',
        subject: c.text,
        message: `The range ${c.text} is outside the prefix ${prefix.text}: ${what} must lie inside ${prefix.text}. Pick addresses of ${prefix.text}, or make it on the prefix that holds ${c.text}.`,
      },
    ];
  }
  return [];
}

function few(items: string[], shown = 4): string {
  if (items.length <= shown) return items.join(', ');
  return `${items.slice(0, shown).join(', ')} and ${items.length - shown} more`;
}

/**
 * A prefix to add to Cloudflare (`POST /prefixes`): short enough to be announced (/24 for IPv4, /48 for IPv6;
 * a /25 or an IPv6 /56 is too small) and not overlapping a prefix already on the account.
 */
export function checkPrefixToOnboard(cidr: string, accountPrefixes: readonly Pick<Prefix, 'cidr'>[] = []): Violation[] {
  const c = tryCidr(cidr);
  if (c instanceof Error) return unreadable(cidr.trim(), c);
  const out: Violation[] = [];
  if (!isAnnounceable(c)) {
    const max = MAX_ANNOUNCE_LENGTH[c.version];
    out.push({
      code: 'prefix_too_small',
      subject: c.text,
      message: `The prefix ${c.text} is too small to onboard: networks drop IPv${c.version} routes longer than /${max}, so Cloudflare cannot announce it. Onboard ${coveringPrefix(c, max)} (or a shorter prefix that holds it) instead.`,
    });
  }
  const clash = accountPrefixes.find((p) => sameFamily(p.cidr, c) && cidrOverlaps(p.cidr, c.text));
  if (clash) {
    out.push({
      code: 'prefix_overlaps_prefix',
      subject: c.text,
      message: `The prefix ${c.text} overlaps ${clash.cidr}, which is already on the account: a prefix is onboarded once. Work on ${clash.cidr} instead.`,
    });
  }
  return out;
}

function sameFamily(cidr: string, c: Cidr): boolean {
  const o = tryCidr(cidr);
  return !(o instanceof Error) && o.version === c.version;
}

export interface ProposedBinding {
  cidr: string;
  /** The service's name as Cloudflare lists it (`Magic Transit`, `CDN`, `Spectrum`). */
  serviceName: string;
}

/**
 * A service binding to create on `prefix` (`POST /prefixes/{id}/bindings`), given the prefix's bindings now:
 * - inside the prefix (the parent account's prefix: delegated addresses are still bound there);
 * - the prefix is validated and approved (`V`), when `approved` is given;
 * - the first (default) binding spans the whole prefix;
 * - Magic Transit only as that default binding, never on part of the prefix;
 * - one binding per CIDR (the same service again is `already_bound`: nothing to do);
 * - an address is CDN or Spectrum, not both (a more specific binding may override the default, not another one);
 * - a prefix serves CDN ingress or CDN egress, not both.
 */
export function checkBinding(
  prefix: Pick<Prefix, 'cidr'> & Partial<Pick<Prefix, 'approved'>>,
  existing: readonly Pick<ServiceBinding, 'cidr' | 'serviceName'>[],
  proposed: ProposedBinding,
): Violation[] {
  const p = parseCidr(prefix.cidr);
  const c = tryCidr(proposed.cidr);
  if (c instanceof Error) return unreadable(proposed.cidr.trim(), c);
  const placed = insidePrefix(p, c, 'a service binding');
  if (placed.length) return placed;

  const out: Violation[] = [];
  const kind = serviceKind(proposed.serviceName);
  const service = proposed.serviceName;
  const isDefault = c.text === p.text;
  const bindings = existing.map((b) => ({ ...b, cidr: canonicalOr(b.cidr) }));
  const hasDefault = bindings.some((b) => b.cidr === p.text);

  if (prefix.approved !== undefined && prefix.approved !== 'V') {
    out.push({
      code: 'prefix_not_approved',
      subject: p.text,
      message: `The prefix ${p.text} is not validated and approved at Cloudflare yet (state ${prefix.approved}): bindings come after validation. Finish validation first (the ROA, the IRR route object and the ownership token), then bind.`,
    });
  }
  if (!hasDefault && !isDefault) {
    out.push({
      code: 'default_binding_first',
      subject: c.text,
      message: `The prefix ${p.text} has no binding yet, and the first one (the default) must span the whole prefix: bind ${p.text} first, then ${c.text}.`,
    });
  }
  if (kind === 'magic_transit' && !isDefault) {
    out.push({
      code: 'magic_transit_not_default',
      subject: c.text,
      message: `Magic Transit can only be the default binding spanning the whole prefix ${p.text}, never part of it like ${c.text}: bind ${c.text} to CDN or Spectrum instead, or bind Magic Transit on ${p.text}.`,
    });
  }
  const same = bindings.find((b) => b.cidr === c.text);
  if (same) {
    const sameService = kind === 'other' ? same.serviceName === service : serviceKind(same.serviceName) === kind;
    if (sameService) {
      out.push({ code: 'already_bound', subject: c.text, message: `The range ${c.text} is already bound to ${same.serviceName}: nothing to do.` });
    } else {
      out.push({
        code: 'cidr_already_bound',
        subject: c.text,
        message: `The range ${c.text} is already bound to ${same.serviceName}, and a CIDR takes one binding: unbind ${same.serviceName} from ${c.text} first (it takes 4 to 6 hours), then bind ${service}.`,
      });
    }
  }
  if (!isDefault && (kind === 'cdn' || kind === 'spectrum')) {
    const rivals = bindings.filter((b) => {
      const k = serviceKind(b.serviceName);
      return b.cidr !== p.text && b.cidr !== c.text && (k === 'cdn' || k === 'spectrum') && k !== kind && cidrOverlaps(b.cidr, c.text);
    });
    if (rivals.length > 0) {
      const rest = exclude(c.text, rivals.map((r) => r.cidr));
      const names = rivals.map((r) => `${r.serviceName} ${r.cidr}`);
      const fix =
        rest.length > 0
          ? `Bind only the rest (${few(rest)}), or unbind ${rivals.length === 1 ? rivals[0]!.cidr : 'those'} first.`
          : `Unbind ${rivals.length === 1 ? rivals[0]!.cidr : 'those'} first.`;
      out.push({
        code: 'cdn_and_spectrum',
        subject: c.text,
        message: `The range ${c.text} overlaps the ${few(names)} binding${rivals.length === 1 ? '' : 's'}: an address is CDN or Spectrum, not both. ${fix}`,
      });
    }
  }
  if (kind === 'cdn' || kind === 'cdn_egress') {
    const other = kind === 'cdn' ? 'cdn_egress' : 'cdn';
    const clash = bindings.find((b) => serviceKind(b.serviceName) === other);
    if (clash) {
      const [have, want] = kind === 'cdn' ? ['CDN egress', 'CDN ingress'] : ['CDN ingress', 'CDN egress'];
      out.push({
        code: 'cdn_ingress_and_egress',
        subject: c.text,
        message: `The prefix ${p.text} already serves ${have} (the ${clash.serviceName} binding on ${clash.cidr}), and a prefix is used for CDN ingress or CDN egress, not both: use another prefix for ${want}.`,
      });
    }
  }
  return out;
}

function canonicalOr(text: string): string {
  const c = tryCidr(text);
  return c instanceof Error ? text : c.text;
}

export interface ProposedDelegation {
  cidr: string;
  delegatedAccountId: string;
}

const ACCOUNT_ID = /^[0-9a-f]{32}$/;

/**
 * A delegation of part (or all) of `prefix` to another account (`POST /prefixes/{id}/delegations`): inside the
 * prefix, to a 32-hex account id that is not the owner's, and not overlapping another delegation of the prefix
 * (the same CIDR to the same account again is `already_delegated`: nothing to do).
 */
export function checkDelegation(
  prefix: Pick<Prefix, 'cidr'>,
  delegations: readonly Pick<Delegation, 'cidr' | 'delegatedAccountId'>[],
  proposed: ProposedDelegation,
  ownAccountId: string,
): Violation[] {
  const p = parseCidr(prefix.cidr);
  const c = tryCidr(proposed.cidr);
  if (c instanceof Error) return unreadable(proposed.cidr.trim(), c);
  const placed = insidePrefix(p, c, 'a delegation');
  if (placed.length) return placed;
  const out: Violation[] = [];
  const target = proposed.delegatedAccountId.trim().toLowerCase();
  if (!ACCOUNT_ID.test(target)) {
    out.push({
      code: 'invalid_account_id',
      subject: c.text,
      message: `The account id "${proposed.delegatedAccountId.trim().slice(0, 40)}" is not a Cloudflare account id (32 hexadecimal characters): copy the id of the account that should use ${c.text} from its dashboard.`,
    });
  } else if (target === ownAccountId.trim().toLowerCase()) {
    out.push({
      code: 'delegation_to_owner',
      subject: c.text,
      message: `Account ${target} owns ${p.text}, and a prefix cannot be delegated to its owner: name the other account that should use ${c.text}.`,
    });
  }
  const current = delegations.map((d) => ({ ...d, cidr: canonicalOr(d.cidr) }));
  const same = current.find((d) => d.cidr === c.text && d.delegatedAccountId.toLowerCase() === target);
  if (same) {
    out.push({ code: 'already_delegated', subject: c.text, message: `The range ${c.text} is already delegated to ${same.delegatedAccountId}: nothing to do.` });
    return out;
  }
  const clashes = current.filter((d) => cidrOverlaps(d.cidr, c.text));
  if (clashes.length > 0) {
    const rest = exclude(c.text, clashes.map((d) => d.cidr));
    const names = clashes.map((d) => `${d.cidr} (to ${d.delegatedAccountId})`);
    out.push({
      code: 'delegation_overlap',
      subject: c.text,
      message:
        `The range ${c.text} overlaps the delegation${clashes.length === 1 ? '' : 's'} of ${few(names, 3)}, and delegations of a prefix may not overlap: ` +
        (rest.length > 0 ? `delegate only the rest (${few(rest)}), or remove the old delegation first.` : 'remove the old delegation first.'),
    });
  }
  return out;
}

/**
 * Addresses to put on an address map: each one an address, listed once, inside one of the account's prefixes
 * (its own, or delegated to it), and of that prefix's family (no IPv6 address in an IPv4 prefix). At most
 * MAX_LIST_IPS in one request. Maps may be set up before the prefix is advertised (the docs advertise last).
 */
export function checkAddressMapIps(prefixes: readonly (string | Pick<Prefix, 'cidr'>)[], ips: readonly string[], opts: { maxIps?: number } = {}): Violation[] {
  const max = opts.maxIps ?? MAX_LIST_IPS;
  if (ips.length === 0) return [{ code: 'no_ips', subject: '', message: 'No IP addresses were given: list the addresses the address map should answer with.' }];
  if (ips.length > max) {
    return [
      {
        code: 'too_many_ips',
        subject: `${ips.length} addresses`,
        message: `The list has ${ips.length} addresses; one request takes at most ${max}. Split it into several requests.`,
      },
    ];
  }
  const owned = prefixes.map((x) => parseCidr(typeof x === 'string' ? x : x.cidr));
  const families = new Set(owned.map((c) => c.version));
  const out: Violation[] = [];
  const seen = new Set<string>();
  for (const raw of ips) {
    let ip: Ip;
    try {
      ip = parseIp(raw);
    } catch (err) {
      const subject = raw.trim().slice(0, 45);
      const why = err instanceof BotError && err.userMessage.includes('is a prefix') ? 'is a prefix, not an address' : 'is not an IP address';
      out.push({ code: 'invalid_ip', subject, message: `"${subject}" ${why}: list single addresses, IPv4 as 203.0.113.16 and IPv6 as 2001:db8::10.` });
      continue;
    }
    const key = `${ip.version}:${ip.value}`;
    if (seen.has(key)) {
      out.push({ code: 'duplicate_ip', subject: ip.text, message: `The address ${ip.text} is listed more than once; list each address once.` });
      continue;
    }
    seen.add(key);
    if (owned.some((c) => ipInCidr(ip, c))) continue;
    const list = few(owned.map((c) => c.text), 3) || 'none';
    if (!families.has(ip.version)) {
      out.push({
        code: 'family_mismatch',
        subject: ip.text,
        message: `The address ${ip.text} is IPv${ip.version}, but the account's prefixes (${list}) are IPv${ip.version === 4 ? 6 : 4}: an address map can only use addresses of the account's own prefixes. Onboard an IPv${ip.version} prefix first, or use an address of ${owned[0]?.text ?? 'one of them'}.`,
      });
    } else {
      out.push({
        code: 'ip_outside_prefixes',
        subject: ip.text,
        message: `The address ${ip.text} is not inside any prefix of the account (${list}): an address map can only use the account's own BYOIP addresses, or addresses delegated to it. Use an address of one of those prefixes.`,
      });
    }
  }
  return out;
}
