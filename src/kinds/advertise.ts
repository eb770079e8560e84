/**
 * Advertise a BGP prefix through Cloudflare (on_demand.advertised -> true), followed until the Internet sees it.
 * Guarded by the default service binding (active, and for five hours: the docs' "allow five hours before you
 * advertise"), CDN bindings without an enabled address map, and delegations whose bindings this account cannot see.
 */
import type { Guard } from '../domain/guards.js';
import type { Operation } from '../domain/operation.js';
import { humanDuration } from '../domain/time.js';
import { applyAdvertisement, intakeBgpPrefix, verifyAdvertisement } from './bgp-advertisement.js';
import { readBlastRadius, type PrefixServices } from './blast-radius.js';
import type { ChangeKind, KindDeps } from './types.js';

/** The docs: allow five hours between the default binding becoming active and the first advertise. */
export const BINDING_SETTLE_MS = 5 * 3_600_000;

/**
 * When did the default binding become active? The API gives no timestamp, so the bot remembers what it saw: a
 * binding seen provisioning and later active became active at that later sight (or when a bind request watched it);
 * one first seen already active became active before the bot knew it (age unknown, taken as settled).
 */
async function activeSince(deps: KindDeps, bindingId: string, state: string): Promise<number | null> {
  const obs = deps.observations;
  if (!obs) return null;
  if (state !== 'active') {
    await obs.setOnce(`binding-seen-provisioning:${bindingId}`, String(deps.now()));
    return null;
  }
  const sawProvisioning = await obs.get(`binding-seen-provisioning:${bindingId}`);
  if (!sawProvisioning) {
    await obs.setOnce(`binding-active:${bindingId}`, 'before');
  }
  const since = await obs.setOnce(`binding-active:${bindingId}`, String(deps.now()));
  return since === 'before' ? null : Number(since);
}

export async function advertiseGuards(deps: KindDeps, op: Operation, services: PrefixServices | null, readError: string | null): Promise<Guard[]> {
  const checkedAt = deps.now();
  const accountPrefix = typeof op.params.accountPrefix === 'string' ? op.params.accountPrefix : op.prefix;
  if (!services) {
    return [{ id: 'default-binding', status: 'warn', overridable: true, facts: { status: 'unknown', prefix: accountPrefix, detail: readError ?? 'not read' }, checkedAt }];
  }
  const guards: Guard[] = [];
  const def = services.bindings.find((b) => b.cidr === accountPrefix);
  if (!def) {
    guards.push({ id: 'default-binding', status: 'block', overridable: false, facts: { status: 'missing', prefix: accountPrefix }, checkedAt });
  } else if (def.provisioningState !== 'active') {
    await activeSince(deps, def.id, def.provisioningState);
    guards.push({ id: 'default-binding', status: 'block', overridable: false, facts: { status: 'provisioning', prefix: accountPrefix, service: def.serviceName }, checkedAt });
  } else {
    const since = await activeSince(deps, def.id, 'active');
    const age = since === null ? null : checkedAt - since;
    const settle = deps.bindingSettleMs ?? BINDING_SETTLE_MS;
    if (age !== null && age < settle) {
      guards.push({
        id: 'default-binding',
        status: 'block',
        overridable: true,
        facts: { status: 'settling', prefix: accountPrefix, service: def.serviceName, activeFor: humanDuration(age), waitUntil: since! + settle, settleMs: settle },
        checkedAt,
      });
    } else {
      guards.push({ id: 'default-binding', status: 'pass', overridable: false, facts: { status: 'active', prefix: accountPrefix, service: def.serviceName, since }, checkedAt });
    }
  }
  const cdn = services.bindings.filter((b) => /cdn/i.test(b.serviceName));
  if (cdn.length > 0) {
    const mapped = services.maps.filter((m) => m.enabled && (m.ips ?? []).length > 0);
    if (mapped.length === 0) guards.push({ id: 'cdn-address-map', status: 'warn', overridable: true, facts: { bindings: cdn.map((b) => b.cidr) }, checkedAt });
  }
  if (services.delegations.length > 0) {
    guards.push({ id: 'delegated', status: 'warn', overridable: true, facts: { delegations: services.delegations.map((d) => ({ cidr: d.cidr, account: d.delegatedAccountId })) }, checkedAt });
  }
  return guards;
}

export const advertise: ChangeKind = {
  kind: 'advertise',
  breakGlass: true,
  intake: (deps, req) => intakeBgpPrefix(deps, 'advertise', req),
  async plan(deps, op) {
    const { blast, services } = await readBlastRadius(deps, op.accountId, op.prefixId, op.prefix, op.bgpPrefixId);
    return { guards: await advertiseGuards(deps, op, services, blast.error), checks: [], blast };
  },
  apply: (deps, op, tools) => applyAdvertisement(deps, 'advertise', op, tools),
  verify: (deps, op) => verifyAdvertisement(deps, 'advertise', op),
};
