import { cidrContains, parseCidr } from '../../../src/domain/cidr.js';
import { InvalidInputError } from '../../../src/errors.js';
import { CLOUDFLARE_ASN, type World } from '../world.js';
import { newId, type CloudflareState } from './state.js';

/**
 * Changes made at Cloudflare outside the bot: the dashboard, auto-advertisement, the account team. They bypass the
 * API (no token, no rate limit, no call recorded), so only the bot's drift monitor can notice them. Used by the
 * control API (`POST /__control/direct`) and the sandbox's `world cf ...` command.
 */
export type DirectChange =
  | { op: 'advertise'; cidr: string; advertised: boolean }
  | { op: 'prepend'; cidr: string; count: number }
  | { op: 'add-binding'; cidr: string; service: string }
  | { op: 'remove-binding'; cidr: string; service?: string }
  | { op: 'add-delegation'; cidr: string; account: string }
  | { op: 'remove-delegation'; cidr: string };

const MINUTE = 60_000;

/** Applies one outside change; returns one plain sentence of what changed, or throws one saying why not. */
export function applyDirectChange(state: CloudflareState, world: World, change: DirectChange): string {
  const cidr = parseCidr(String(change.cidr ?? '')).text;
  const now = world.clock.now();
  const covering = () => {
    const p = [...state.prefixes.values()].find((x) => cidrContains(x.cidr, cidr));
    if (!p) throw new InvalidInputError(`no prefix on the simulated Cloudflare covers ${cidr}`);
    return p;
  };
  switch (change.op) {
    case 'advertise':
    case 'prepend': {
      const b = [...state.bgpPrefixes.values()].find((x) => parseCidr(x.cidr).text === cidr);
      if (!b) throw new InvalidInputError(`${cidr} is not a BGP prefix on the simulated Cloudflare`);
      if (change.op === 'prepend') {
        if (!Number.isInteger(change.count) || change.count < 0 || change.count > 3) throw new InvalidInputError('asn_prepend_count is 0 to 3');
        b.asnPrependCount = change.count;
        b.modifiedAt = now;
        return `${cidr}: asn_prepend_count ${change.count} (set outside the bot)`;
      }
      if (typeof change.advertised !== 'boolean') throw new InvalidInputError('advertised must be true or false');
      if (b.advertised === change.advertised) return `${cidr} is already ${change.advertised ? 'advertised' : 'withdrawn'}`;
      if (change.advertised) world.announce(b.cidr, CLOUDFLARE_ASN, { delayMs: 2 * MINUTE, rampMs: 60_000 });
      else world.withdraw(b.cidr, CLOUDFLARE_ASN, { delayMs: 14 * MINUTE, decayMs: 120_000 });
      b.advertised = change.advertised;
      b.advertisedModifiedAt = now;
      b.modifiedAt = now;
      return `${cidr} ${change.advertised ? 'advertised' : 'withdrawn'} at Cloudflare outside the bot`;
    }
    case 'add-binding': {
      const p = covering();
      const service = state.services.find((s) => s.name.toLowerCase() === String(change.service ?? '').toLowerCase());
      if (!service) throw new InvalidInputError(`no service named ${String(change.service)} (${state.services.map((s) => s.name).join(', ')})`);
      const id = newId(world);
      state.bindings.set(id, { id, prefixId: p.id, cidr, serviceId: service.id, createdAt: now, activeAt: now });
      return `${service.name} bound to ${cidr} outside the bot (active at once)`;
    }
    case 'remove-binding': {
      const service = change.service ? state.services.find((s) => s.name.toLowerCase() === change.service!.toLowerCase()) : undefined;
      const b = [...state.bindings.values()].find((x) => parseCidr(x.cidr).text === cidr && (!service || x.serviceId === service.id));
      if (!b) throw new InvalidInputError(`no service binding on ${cidr}`);
      state.bindings.delete(b.id);
      return `binding on ${cidr} removed outside the bot (gone at once)`;
    }
    case 'add-delegation': {
      const p = covering();
      const account = String(change.account ?? '').toLowerCase();
      if (!/^[0-9a-f]{32}$/.test(account)) throw new InvalidInputError('account must be a 32-character account id');
      const id = newId(world);
      state.delegations.set(id, { id, prefixId: p.id, cidr, delegatedAccountId: account, createdAt: now, modifiedAt: now });
      return `${cidr} delegated to ${account} outside the bot`;
    }
    case 'remove-delegation': {
      const d = [...state.delegations.values()].find((x) => parseCidr(x.cidr).text === cidr);
      if (!d) throw new InvalidInputError(`no delegation of ${cidr}`);
      state.delegations.delete(d.id);
      return `delegation of ${cidr} removed outside the bot`;
    }
    default:
      throw new InvalidInputError(`unknown change ${String((change as { op?: unknown }).op)}: advertise, prepend, add-binding, remove-binding, add-delegation, remove-delegation`);
  }
}
