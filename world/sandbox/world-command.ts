import { parseCidr } from '../../src/domain/cidr.js';
import { userMessageOf } from '../../src/errors.js';
import { randomUUID } from 'node:crypto';
import type { DirectChange } from '../simulator/cloudflare/direct.js';
import { NOTIFICATION_KINDS, type NotificationKind } from '../simulator/cloudflare/notifications.js';
import type { CloudflareSimulator } from '../simulator/cloudflare/server.js';
import type { World } from '../simulator/world.js';

export const WORLD_USAGE =
  'world show <cidr> | world announce|withdraw|hijack <cidr> <asn> | world roa <cidr> <asn> [maxLength] | world route <cidr> <asn> [token] | world publish-token <cidr> | world txt <name> <value> | world zombie <cidr> <peers> | world notify route-leak|volumetric|dosd|auto-advertisement|other|test <cidr>[,<cidr>…] [end] [unsigned] | world cf advertise|withdraw|bind|unbind|delegate|undelegate <cidr> [service|account]   (change the simulated Internet; notify: a Cloudflare notification; cf: a Cloudflare change outside the bot)';

/**
 * The sandbox's hand on the simulated Internet: make another AS announce a prefix (a hijack or a leak), make the
 * team's own data centre announce or withdraw, or see what route collectors see now.
 */
export function worldCommand(
  world: World,
  cloudflareTokens: (cidr: string) => string | undefined = () => undefined,
  /** The simulated Cloudflare's notifications to the bot's webhook (`world notify …`). */
  notify?: CloudflareSimulator['notify'],
  /** A change at the simulated Cloudflare outside the bot (`world cf …`). */
  cloudflareDirect?: (change: DirectChange) => string,
): { usage: string; run: (args: string) => string | Promise<string> } {
  const correlation = new Map<string, string>();
  return {
    usage: WORLD_USAGE,
    run(args: string): string | Promise<string> {
      const [verb = '', cidrText = '', asnText = '', extra = ''] = args.trim().split(/\s+/);
      try {
        if (verb === 'cf') {
          // A change at Cloudflare nobody makes through the bot (the dashboard, the account team): drift.
          const [, what = '', cidr = '', arg = ''] = args.trim().split(/\s+/);
          if (!cloudflareDirect) return '? This world has no simulated Cloudflare to change.';
          const change: DirectChange | null =
            what === 'advertise' || what === 'withdraw'
              ? { op: 'advertise', cidr, advertised: what === 'advertise' }
              : what === 'bind' && arg
                ? { op: 'add-binding', cidr, service: args.trim().split(/\s+/).slice(3).join(' ') }
                : what === 'unbind'
                  ? { op: 'remove-binding', cidr }
                  : what === 'delegate' && arg
                    ? { op: 'add-delegation', cidr, account: arg }
                    : what === 'undelegate'
                      ? { op: 'remove-delegation', cidr }
                      : null;
          if (!change || !cidr) return `? ${WORLD_USAGE}`;
          return `Cloudflare: ${cloudflareDirect(change)}.`;
        }
        if (verb === 'notify') {
          if (!notify) return '? Notifications need the simulated Cloudflare of this sandbox.';
          const kind = cidrText as NotificationKind;
          if (!NOTIFICATION_KINDS.includes(kind)) return `? world notify ${NOTIFICATION_KINDS.join('|')} <cidr> [end] [unsigned]`;
          const flags = args.trim().split(/\s+/).slice(2);
          const prefix = kind === 'test' ? undefined : flags.find((f) => /[./:]/.test(f));
          if (kind !== 'test' && !prefix) return `? Which prefix? e.g. world notify ${kind} 203.0.113.0/24`;
          const cidrs = prefix ? prefix.split(',').filter(Boolean).map((c) => parseCidr(c).text) : [];
          const cidr = cidrs.join(',');
          const id = `${kind}:${cidr}`;
          const end = flags.includes('end');
          const correlationId = correlation.get(id) ?? randomUUID().replace(/-/g, '');
          if (end) correlation.delete(id);
          else correlation.set(id, correlationId);
          return notify({ kind, ...(cidrs.length ? { prefix: cidrs[0]! } : {}), ...(cidrs.length > 1 ? { prefixes: cidrs } : {}), event: end ? 'end' : 'start', correlationId }, { signed: !flags.includes('unsigned') }).then(
            (r) => `Cloudflare sent ${kind}${cidr ? ` ${cidr}` : ''}${end ? ' (end)' : ''}${flags.includes('unsigned') ? ' unsigned' : ''}: the bot answered HTTP ${r.status} ${r.body.slice(0, 200)}`,
            (err: unknown) => `? ${(err as Error).message}`,
          );
        }
        if (verb === 'txt') {
          const value = args.trim().split(/\s+/).slice(2).join(' ').replace(/^"|"$/g, '');
          if (!cidrText || !value) return `? ${WORLD_USAGE}`;
          world.setTxt(cidrText, [value]);
          return `DNS: ${cidrText.replace(/\.$/, '')} TXT "${value}" published.`;
        }
        if (verb === 'publish-token') {
          // Stands in for copying the token from the thread into the IRR: adds it as a remark on the route object.
          const cidr = parseCidr(cidrText).text;
          const token = cloudflareTokens(cidr);
          if (!token) return `? Cloudflare has no ownership token for ${cidr}; onboard it first.`;
          const route = world.routeObjects.find((r) => r.prefix === cidr && r.source !== 'RPKI');
          if (!route) return `? No route object for ${cidr} yet; publish one with: world route ${cidr} <asn>`;
          route.remarks.push(`cf-validation: ${token}`);
          return `IRR: remarks: cf-validation: ${token} added to route ${cidr}.`;
        }
        if (verb === 'roa' || verb === 'route') {
          const cidr = parseCidr(cidrText).text;
          const asn = Number(asnText.replace(/^AS/i, ''));
          if (!Number.isInteger(asn) || asn < 1 || asn > 4_294_967_295) return `? "${asnText}" is not an AS number`;
          if (verb === 'roa') {
            const maxLength = extra ? Number(extra) : parseCidr(cidr).length;
            world.addRoa({ prefix: cidr, asn, maxLength });
            return `RPKI: ROA ${cidr} AS${asn} maxLength ${maxLength} published.`;
          }
          world.addRouteObject({ prefix: cidr, origin: asn, source: 'RADB', remarks: extra ? [`cf-validation: ${extra}`] : [], descr: [] });
          return `IRR: route ${cidr} origin AS${asn} (RADB)${extra ? ` with remarks: cf-validation: ${extra}` : ''} published.`;
        }
        if (verb === 'zombie') {
          // Routers that miss Cloudflare's withdrawal: some peers keep the AS13335 route after it is withdrawn.
          const cidr = parseCidr(cidrText).text;
          const n = Number(asnText);
          if (!Number.isInteger(n) || n < 0 || n > world.totalPeersFor(parseCidr(cidr).version)) return `? "${asnText}" is not a number of peers (0 to ${world.totalPeersFor(parseCidr(cidr).version)}); e.g. world zombie ${cidr} 3`;
          const peers = world.plantZombie(cidr, n);
          if (peers.length === 0) return `No stuck routes for ${cidr} any more.`;
          return `${peers.length} peer(s) (${peers.map((p) => `${p.rrc} ${p.ip}`).join(', ')}) will keep the AS13335 route for ${cidr} after Cloudflare withdraws it (a simulated BGP zombie).`;
        }
        if (verb === 'show') {
          const cidr = parseCidr(cidrText).text;
          const routes = world.visibleRoutes(cidr);
          const byOrigin = new Map<number, number>();
          routes.forEach((r) => byOrigin.set(r.origin, (byOrigin.get(r.origin) ?? 0) + 1));
          const origins = [...byOrigin].map(([asn, n]) => `AS${asn}: ${n} peers`).join(', ');
          return `${cidr}: seen by ${routes.length}/${world.totalPeersFor(parseCidr(cidr).version)} collector peers${origins ? ` (${origins})` : ''}`;
        }
        if (!['announce', 'withdraw', 'hijack'].includes(verb)) return `? ${WORLD_USAGE}`;
        const cidr = parseCidr(cidrText).text;
        const asn = Number(asnText.replace(/^AS/i, ''));
        if (!Number.isInteger(asn) || asn < 1 || asn > 4_294_967_295) return `? "${asnText}" is not an AS number; e.g. world ${verb} ${cidr} 64666`;
        if (verb === 'withdraw') {
          return world.withdraw(cidr, asn, { delayMs: 0 }) ? `AS${asn} stops announcing ${cidr}; peers lose it over ~2 simulated minutes.` : `AS${asn} was not announcing ${cidr}.`;
        }
        world.announce(cidr, asn, { delayMs: 0, rampMs: 30_000, reach: verb === 'hijack' ? 0.4 : 0.95 });
        return verb === 'hijack'
          ? `AS${asn} now announces ${cidr} too (a simulated hijack reaching ~40% of peers within 30 simulated seconds).`
          : `AS${asn} now announces ${cidr}.`;
      } catch (err) {
        return `? ${userMessageOf(err)}`;
      }
    },
  };
}
