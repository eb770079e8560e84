/**
 * BGP prefixes: create one (the prefix itself or a more specific, announceable part of it; Cloudflare creates it
 * withdrawn) or delete a withdrawn one. The op's prefix is the BGP prefix's CIDR (its lock); `params.accountPrefix`
 * is the account prefix it belongs to. A create is never sent again without a read that shows it is missing; an
 * advertised BGP prefix is never deleted (the fix: withdraw it first).
 */
import type { BgpPrefix, Prefix } from '../domain/addressing.js';
import { bgpCreateErrorOf, bgpPrefixCidrProblem, explainBgpCreateError } from '../domain/bgp-prefix-rules.js';
import { parseCidr } from '../domain/cidr.js';
import type { Guard } from '../domain/guards.js';
import type { Operation } from '../domain/operation.js';
import { BotError, ErrorCode, InvalidInputError } from '../errors.js';
import { canonical, findAccountPrefix } from './lookup.js';
import type { ChangeKind, IntakeRequest, KindDeps } from './types.js';

async function accountPrefixOf(deps: KindDeps, req: IntakeRequest): Promise<{ accountId: string; prefix: Prefix }> {
  const parentText = req.form?.prefix;
  if (!parentText) throw new InvalidInputError('Say the prefix and the BGP prefix: `/byoip bgp create <prefix> <bgp-prefix>`, e.g. `/byoip bgp create 203.0.113.0/24 203.0.113.0/25`.');
  const parent = parseCidr(parentText).text;
  const found = await findAccountPrefix(deps, (p) => canonical(p.cidr) === parent);
  if (!found) {
    const names = deps.policy.cloudflare.accounts.map((a) => a.name).join(', ');
    throw new InvalidInputError(`${parent} is not a prefix on the Cloudflare accounts this bot manages (${names}). See them with /byoip status.`);
  }
  return { accountId: found.account.id, prefix: found.prefix };
}

const bgpCidrs = (list: BgpPrefix[]) => list.map((b) => ({ cidr: b.cidr, advertised: b.onDemand.advertised }));
const accountPrefix = (op: Operation) => String(op.params.accountPrefix ?? op.prefix);
const findBgp = (list: BgpPrefix[], cidr: string) => list.find((b) => canonical(b.cidr) === cidr);

/** Cloudflare's marker in a definite refusal (an answer, not a lost one), if it is one of the three create errors. */
function answeredErrors(err: unknown) {
  const e = err as { errors?: { message?: unknown }[]; outcomeUnknown?: boolean } | null;
  if (!e || typeof e !== 'object' || e.outcomeUnknown || !Array.isArray(e.errors)) return null;
  return bgpCreateErrorOf(e.errors.map((x) => String(x.message ?? '')));
}

export const bgpCreate: ChangeKind = {
  kind: 'bgp_create',
  breakGlass: false,
  async intake(deps, req) {
    const { accountId, prefix } = await accountPrefixOf(deps, req);
    const problem = bgpPrefixCidrProblem(prefix.cidr, req.cidr);
    if (problem) throw new InvalidInputError(`${problem} Nothing was filed.`);
    const existing = await deps.cloudflare.listBgpPrefixes(accountId, prefix.id);
    const there = findBgp(existing, req.cidr);
    if (there) throw new InvalidInputError(`${req.cidr} is already a BGP prefix of ${prefix.cidr} (\`${there.id}\`, ${there.onDemand.advertised ? 'advertised' : 'withdrawn'}); nothing to create.`);
    return { accountId, prefixId: prefix.id, bgpPrefixId: null, params: { accountPrefix: prefix.cidr }, before: { bgpPrefixes: bgpCidrs(existing) } };
  },
  async plan() {
    return { guards: [], checks: [] };
  },
  async apply(deps, op, tools) {
    const request = `POST /accounts/${op.accountId}/addressing/prefixes/${op.prefixId}/bgp/prefixes {"cidr":"${op.prefix}"}`;
    // Read first: a create is sent again only when this read shows the first did not land.
    const existing = await deps.cloudflare.listBgpPrefixes(op.accountId, op.prefixId);
    await tools.audit('cloudflare_read', { bgpPrefixes: bgpCidrs(existing) });
    const there = findBgp(existing, op.prefix);
    if (there) {
      const facts = { bgpPrefixId: there.id, advertised: there.onDemand.advertised };
      return { outcome: tools.calledBefore ? 'called' : 'skipped', request, result: facts, facts, patch: { params: { ...op.params, bgpPrefixId: there.id } } };
    }
    let created: BgpPrefix;
    try {
      created = await tools.send(request, () => deps.cloudflare.createBgpPrefix(op.accountId, op.prefixId, op.prefix));
    } catch (err) {
      const code = answeredErrors(err);
      if (code) throw new BotError(ErrorCode.CloudflareConflict, explainBgpCreateError(code, accountPrefix(op), op.prefix), false, { cause: err });
      throw err;
    }
    const facts = { bgpPrefixId: created.id, advertised: created.onDemand.advertised };
    return { outcome: 'called', request, result: facts, facts, patch: { params: { ...op.params, bgpPrefixId: created.id } } };
  },
  async verify(deps, op) {
    const list = await deps.cloudflare.listBgpPrefixes(op.accountId, op.prefixId);
    const b = findBgp(list, op.prefix);
    if (!b) return { events: [], verdict: { verdict: 'failed', step: 'bgp_not_listed', facts: {} } };
    return {
      events: [],
      latest: `BGP prefix ${op.prefix} listed (${b.onDemand.advertised ? 'advertised' : 'withdrawn'}).`,
      verdict: { verdict: 'done', step: 'bgp_created', facts: { bgpPrefixId: b.id, advertised: b.onDemand.advertised, accountPrefix: accountPrefix(op) } },
    };
  },
};

/** The withdrawn-first rule as a guard, read at filing and again right before the DELETE. */
async function withdrawnGuard(deps: KindDeps, op: Operation): Promise<Guard> {
  const list = await deps.cloudflare.listBgpPrefixes(op.accountId, op.prefixId);
  const b = op.bgpPrefixId ? list.find((x) => x.id === op.bgpPrefixId) : undefined;
  const status = b?.onDemand.advertised ? 'block' : 'pass';
  return { id: 'bgp-withdrawn', status, overridable: false, facts: { prefix: op.prefix, advertised: Boolean(b?.onDemand.advertised), gone: !b }, checkedAt: deps.now() };
}

export const bgpDelete: ChangeKind = {
  kind: 'bgp_delete',
  breakGlass: false,
  async intake(deps, req) {
    const { accountId, prefix } = await accountPrefixOf(deps, req);
    const existing = await deps.cloudflare.listBgpPrefixes(accountId, prefix.id);
    const b = findBgp(existing, req.cidr);
    if (!b) {
      const list = existing.map((x) => x.cidr).join(', ') || 'none';
      throw new InvalidInputError(`${req.cidr} is not a BGP prefix of ${prefix.cidr} (its BGP prefixes: ${list}); nothing to delete.`);
    }
    if (b.onDemand.locked) {
      throw new BotError(ErrorCode.CloudflareConflict, `${req.cidr} is locked at Cloudflare (on_demand_locked), so it cannot be deleted from here. Ask your Cloudflare account team to unlock it. Nothing was filed.`);
    }
    if (b.onDemand.advertised) {
      throw new InvalidInputError(`${req.cidr} is advertised, and Cloudflare deletes only a withdrawn BGP prefix. Withdraw it first with \`/byoip withdraw ${req.cidr}\` (make sure your own data centre announces it), then ask again. Nothing was filed.`);
    }
    return { accountId, prefixId: prefix.id, bgpPrefixId: b.id, params: { accountPrefix: prefix.cidr }, before: { advertised: b.onDemand.advertised } };
  },
  async plan(deps, op) {
    return { guards: [await withdrawnGuard(deps, op)], checks: [] };
  },
  async apply(deps, op, tools) {
    const id = op.bgpPrefixId;
    if (!id) return { outcome: 'refused', step: 'no_bgp_prefix', facts: {} };
    const request = `DELETE /accounts/${op.accountId}/addressing/prefixes/${op.prefixId}/bgp/prefixes/${id}`;
    const list = await deps.cloudflare.listBgpPrefixes(op.accountId, op.prefixId);
    await tools.audit('cloudflare_read', { bgpPrefixes: bgpCidrs(list) });
    const b = list.find((x) => x.id === id);
    if (!b) return { outcome: tools.calledBefore ? 'called' : 'skipped', request, result: { gone: true }, facts: { gone: true } };
    if (b.onDemand.advertised) return { outcome: 'refused', step: 'still_advertised', facts: {} };
    if (b.onDemand.locked) return { outcome: 'refused', step: 'locked', facts: {} };
    await tools.send(request, () => deps.cloudflare.deleteBgpPrefix(op.accountId, op.prefixId, id));
    return { outcome: 'called', request, result: { deleted: id }, facts: { deleted: id } };
  },
  async verify(deps, op) {
    const list = await deps.cloudflare.listBgpPrefixes(op.accountId, op.prefixId);
    if (list.some((x) => x.id === op.bgpPrefixId)) return { events: [], verdict: { verdict: 'failed', step: 'bgp_still_listed', facts: {} } };
    return { events: [], latest: `BGP prefix ${op.prefix} is gone.`, verdict: { verdict: 'done', step: 'bgp_deleted', facts: { accountPrefix: accountPrefix(op) } } };
  },
};
