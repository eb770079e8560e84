/** Advertise a BGP prefix through Cloudflare (on_demand.advertised -> true), followed until the Internet sees it. */
import { applyAdvertisement, intakeBgpPrefix, verifyAdvertisement } from './bgp-advertisement.js';
import type { ChangeKind } from './types.js';

export const advertise: ChangeKind = {
  kind: 'advertise',
  breakGlass: true,
  intake: (deps, req) => intakeBgpPrefix(deps, 'advertise', req),
  // No gate yet: the life-cycle work adds the default-binding and address-map guards.
  plan: async () => ({ guards: [], checks: [] }),
  apply: (deps, op, tools) => applyAdvertisement(deps, 'advertise', op, tools),
  verify: (deps, op) => verifyAdvertisement(deps, 'advertise', op),
};
