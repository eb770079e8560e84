import { parseCidr } from '../domain/cidr.js';
import { checkAsn, coveringPrefix } from '../domain/routing-prefixes.js';
import { BotError, ErrorCode } from '../errors.js';
import type { LookingGlassClient, VisibilitySample } from './looking-glass.js';
import type { RoutingStatusClient } from './routing-status.js';

export interface OwnAnnouncement {
  /**
   * announced: the team's AS is seen originating the prefix itself; covering: it originates a covering prefix;
   * not_seen: neither (withdrawing from Cloudflare leaves the addresses unreachable); unknown: the looking glass failed.
   */
  status: 'announced' | 'covering' | 'not_seen' | 'unknown';
  detail: string;
  /** The prefix the team's AS is seen announcing (the prefix itself or the covering one). */
  seenPrefix?: string;
  peers?: number;
}

export interface OwnAnnouncementOptions {
  /** Adds RIPEstat's less_specifics (up to 8 h old) as further covering prefixes to check live. */
  routingStatus?: Pick<RoutingStatusClient, 'status'>;
  /** Peers that must see the team's route for it to count (default 10, RIPEstat's low-visibility line). */
  minPeers?: number;
  /** How many shorter lengths to check for a covering prefix (default 8: a /24 is checked up to its /16). */
  coveringLevels?: number;
}

/**
 * Before a withdraw: is the team's own AS seen announcing the prefix, or a prefix covering it? The looking glass
 * matches prefixes exactly, so every covering length is asked for live, plus RIPEstat's less-specifics when given.
 */
export async function checkOwnAnnouncement(
  prefix: string,
  ownAsn: number,
  lg: Pick<LookingGlassClient, 'sample'>,
  opts: OwnAnnouncementOptions = {},
): Promise<OwnAnnouncement> {
  const cidr = parseCidr(prefix);
  checkAsn(ownAsn);
  const minPeers = opts.minPeers ?? 10;
  const floor = cidr.version === 4 ? 8 : 16;
  const shortest = Math.max(floor, cidr.length - (opts.coveringLevels ?? 8));
  const candidates = [cidr.text];
  for (let l = cidr.length - 1; l >= shortest; l--) candidates.push(coveringPrefix(cidr, l));

  const errors: string[] = [];
  if (opts.routingStatus) {
    try {
      const rs = await opts.routingStatus.status(cidr.text);
      for (const ls of rs.lessSpecifics) if (ls.origin === ownAsn && !candidates.includes(ls.prefix)) candidates.push(ls.prefix);
    } catch (err) {
      errors.push(routingMessage(err));
    }
  }

  const samples = await Promise.all(
    candidates.map((p) =>
      lg.sample(p).then(
        (s): VisibilitySample | undefined => s,
        (err: unknown) => {
          errors.push(routingMessage(err));
          return undefined;
        },
      ),
    ),
  );
  const seen = (i: number) => samples[i]?.byOrigin[ownAsn] ?? 0;

  if (seen(0) >= minPeers) {
    return {
      status: 'announced',
      seenPrefix: cidr.text,
      peers: seen(0),
      detail: `AS${ownAsn} is seen announcing ${cidr.text} itself by ${seen(0)} peers, so the addresses stay reachable after Cloudflare withdraws.`,
    };
  }
  // Most specific covering prefix first: it is the one traffic will follow.
  const covering = candidates
    .map((p, i) => ({ p, i, len: parseCidr(p).length }))
    .filter((c) => c.i > 0 && seen(c.i) >= minPeers)
    .sort((a, b) => b.len - a.len)[0];
  if (covering) {
    return {
      status: 'covering',
      seenPrefix: covering.p,
      peers: seen(covering.i),
      detail: `AS${ownAsn} is seen announcing the covering ${covering.p} by ${seen(covering.i)} peers, so traffic for ${cidr.text} falls back to it after Cloudflare withdraws.`,
    };
  }
  if (errors.length > 0) {
    return { status: 'unknown', detail: `Could not tell whether AS${ownAsn} announces ${cidr.text} or a covering prefix: ${errors[0]}` };
  }
  const weak = candidates.map((p, i) => ({ p, n: seen(i) })).filter((c) => c.n > 0);
  const weakText = weak.length > 0 ? ` Only ${weak.map((c) => `${c.n} peers for ${c.p}`).join(', ')}, below ${minPeers}.` : '';
  return {
    status: 'not_seen',
    detail: `No route collector sees AS${ownAsn} announcing ${cidr.text} or a covering prefix up to /${shortest}: after the withdraw the addresses will be unreachable unless you announce them first.${weakText}`,
  };
}

function routingMessage(err: unknown): string {
  if (err instanceof BotError && (err.code === ErrorCode.RoutingUnavailable || err.code === ErrorCode.RoutingBadResponse)) return err.userMessage;
  throw err;
}
