/** What an alert card shows of the prefix's surroundings: its blast radius and the looking glass, read through the shared reader. */
import { withRequestClass } from '../cloudflare/request-class.js';
import { userMessageOf } from '../errors.js';
import { readBlastRadius } from '../kinds/blast-radius.js';
import type { KindDeps } from '../kinds/types.js';
import type { Alert, AlertContext } from './alert-store.js';
import { coveringManaged } from './managed.js';

/** Reads the context for `alert` (never throws: each part says why it could not be read). Emergency class: incident time first. */
export async function readAlertContext(deps: KindDeps, alert: Alert): Promise<AlertContext> {
  const cidr = alert.finding.prefix;
  const readAt = Date.now();
  if (!cidr) return { blast: null, routing: null, readAt };
  return withRequestClass('emergency', async () => {
    const [blast, routing] = await Promise.all([
      coveringManaged(deps, cidr)
        .then(async (m) => (m ? (await readBlastRadius(deps, m.accountId, m.prefixId, m.accountPrefix, null)).blast : { bindings: [], delegations: [], addressMaps: [], bgpPrefixes: [], error: 'the prefix is not on the Cloudflare accounts this bot manages' }))
        .catch((err: unknown) => ({ bindings: [], delegations: [], addressMaps: [], bgpPrefixes: [], error: userMessageOf(err) })),
      deps.routing
        .sample(cidr)
        .then((s) => ({ peersSeeing: s.peersSeeing, origins: Object.keys(s.byOrigin).map(Number).filter((o) => o > 0), error: null }))
        .catch((err: unknown) => ({ peersSeeing: 0, origins: [], error: userMessageOf(err) })),
    ]);
    return { blast, routing, readAt };
  });
}
