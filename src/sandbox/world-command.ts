import { parseCidr } from '../domain/cidr.js';
import { userMessageOf } from '../errors.js';
import type { World } from '../simulator/world.js';

export const WORLD_USAGE =
  'world show <cidr> | world announce <cidr> <asn> | world withdraw <cidr> <asn> | world hijack <cidr> <asn>   (change the simulated Internet)';

/**
 * The sandbox's hand on the simulated Internet: make another AS announce a prefix (a hijack or a leak), make the
 * team's own data centre announce or withdraw, or see what route collectors see now.
 */
export function worldCommand(world: World): { usage: string; run: (args: string) => string } {
  return {
    usage: WORLD_USAGE,
    run(args: string): string {
      const [verb = '', cidrText = '', asnText = ''] = args.trim().split(/\s+/);
      try {
        if (verb === 'show') {
          const cidr = parseCidr(cidrText).text;
          const routes = world.visibleRoutes(cidr);
          const byOrigin = new Map<number, number>();
          routes.forEach((r) => byOrigin.set(r.origin, (byOrigin.get(r.origin) ?? 0) + 1));
          const origins = [...byOrigin].map(([asn, n]) => `AS${asn}: ${n} peers`).join(', ');
          return `${cidr}: seen by ${routes.length}/${world.totalPeers} collector peers${origins ? ` (${origins})` : ''}`;
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
