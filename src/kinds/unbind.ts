/**
 * Unbind: remove one service binding of a prefix (`DELETE .../bindings/{id}`). Refused at the command when the prefix
 * has no binding on exactly that CIDR, and for the default (whole-prefix) binding while other bindings exist or any
 * BGP prefix of it is advertised. One DELETE (read first: a binding already gone is skipped), then followed until
 * Cloudflare no longer lists it; like a create, a deletion takes Cloudflare 4-6 hours.
 */
import type { BgpPrefix, ServiceBinding } from '../domain/addressing.js';
import { parseCidr } from '../domain/cidr.js';
import { InvalidInputError } from '../errors.js';
import { readBlastRadius } from './blast-radius.js';
import { canonical, exactAccountPrefix, listBgpPrefixes, sinceChange } from './lookup.js';
import type { ChangeKind, Target } from './types.js';

const DEFAULT_BINDING_WATCH = { pollIntervalMs: 5 * 60_000, timeoutMs: 8 * 3_600_000 };

/** The account prefix with exactly this CIDR, or a sentence saying it is not there. */
/** The CIDR named after the prefix (the form's `target`), or a sentence saying how to name it. */
export function targetCidr(req: { form?: Record<string, string> }, usage: string): string {
  const text = (req.form?.target ?? '').trim();
  if (!text) throw new InvalidInputError(`Say which CIDR of the prefix: \`${usage}\`.`);
  return parseCidr(text).text;
}

const listed = (bindings: readonly Pick<ServiceBinding, 'cidr' | 'serviceName'>[]) => bindings.map((b) => `${b.cidr} (${b.serviceName})`).join(', ');

/** Why this binding may not be removed now, or null: the default goes last, and never while the prefix is advertised. */
export function unbindProblem(prefixCidr: string, bindings: readonly ServiceBinding[], bgp: readonly BgpPrefix[], cidr: string): string | null {
  const p = parseCidr(prefixCidr).text;
  if (cidr !== p) return null;
  const others = bindings.filter((b) => canonical(b.cidr) !== p);
  if (others.length) {
    return `${p} is the default binding of the prefix, and Cloudflare keeps it while other bindings exist (${listed(others)}): unbind those first (each deletion takes 4-6 hours), then the default.`;
  }
  const advertised = bgp.filter((b) => b.onDemand.advertised);
  if (advertised.length) {
    return `${p} is the default binding of the prefix, and it cannot be removed while ${advertised.map((b) => b.cidr).join(', ')} ${advertised.length > 1 ? 'are' : 'is'} advertised: run /byoip withdraw ${advertised[0]!.cidr} first, then unbind.`;
  }
  return null;
}

const cidrOf = (op: { params: Record<string, unknown> }) => String(op.params.cidr ?? '');

export const unbind: ChangeKind = {
  kind: 'unbind',
  breakGlass: false,
  async intake(deps, req): Promise<Target> {
    const cidr = targetCidr(req, `/byoip unbind ${req.cidr} <cidr>`);
    const { accountId, prefix } = await exactAccountPrefix(deps, req.cidr, 'Unbind: name the whole prefix first, then the CIDR inside it; see the prefixes with /byoip status.');
    const bindings = await deps.cloudflare.listServiceBindings(accountId, prefix.id);
    const binding = bindings.find((b) => canonical(b.cidr) === cidr);
    if (!binding) {
      throw new InvalidInputError(
        bindings.length
          ? `${req.cidr} has no service binding on ${cidr}; its bindings are ${listed(bindings)}. Unbind one of those CIDRs exactly.`
          : `${req.cidr} has no service bindings at all, so there is nothing to unbind.`,
      );
    }
    const bgp = cidr === canonical(prefix.cidr) ? await listBgpPrefixes(deps, accountId, prefix.id) : [];
    const problem = unbindProblem(prefix.cidr, bindings, bgp, cidr);
    if (problem) throw new InvalidInputError(problem);
    return {
      accountId,
      prefixId: prefix.id,
      bgpPrefixId: null,
      params: { cidr, bindingId: binding.id, serviceId: binding.serviceId, service: binding.serviceName, accountPrefix: prefix.cidr, isDefault: cidr === canonical(prefix.cidr) },
      before: { bindings: bindings.map((b) => ({ cidr: b.cidr, service: b.serviceName, state: b.provisioningState })) },
    };
  },
  async plan(deps, op) {
    const cidr = cidrOf(op);
    const { blast, services } = await readBlastRadius(deps, op.accountId, op.prefixId, cidr, null);
    const now = deps.now();
    // The rules again, as things are now (someone may have bound or advertised meanwhile).
    const problem = services ? unbindProblem(String(op.params.accountPrefix ?? op.prefix), services.bindings, services.bgp, cidr) : null;
    const guards = [
      services
        ? { id: 'unbind-rules', status: problem ? ('block' as const) : ('pass' as const), overridable: false, facts: { problem, cidr, isDefault: op.params.isDefault === true }, checkedAt: now }
        : { id: 'unbind-rules', status: 'warn' as const, overridable: false, facts: { problem: null, cidr, unreadable: blast.error }, checkedAt: now },
    ];
    const checks = [{ id: 'unbind:deletion', result: 'pass' as const, facts: { cidr, service: op.params.service } }];
    return { guards, checks, blast };
  },
  async apply(deps, op, tools) {
    const cidr = cidrOf(op);
    const existing = await deps.cloudflare.listServiceBindings(op.accountId, op.prefixId);
    await tools.audit('cloudflare_read', { bindings: existing.map((b) => ({ cidr: b.cidr, service: b.serviceName, state: b.provisioningState })) });
    const there = existing.find((b) => b.id === op.params.bindingId) ?? existing.find((b) => canonical(b.cidr) === cidr && b.serviceId === op.params.serviceId);
    const facts = { cidr, service: op.params.service };
    if (!there) return { outcome: 'skipped', request: `DELETE .../bindings (${cidr} already gone)`, result: facts, facts };
    // A DELETE of a binding already being deleted changes nothing at Cloudflare: safe to send after a read.
    const request = `DELETE /accounts/${op.accountId}/addressing/prefixes/${op.prefixId}/bindings/${there.id}`;
    await tools.send(request, () => deps.cloudflare.deleteServiceBinding(op.accountId, op.prefixId, there.id));
    await deps.reader.invalidate(`bindings:${op.prefixId}`);
    return { outcome: 'called', request, result: { ...facts, bindingId: there.id }, facts };
  },
  async verify(deps, op) {
    const poll = deps.bindingWatch?.pollIntervalMs ?? DEFAULT_BINDING_WATCH.pollIntervalMs;
    const cidr = cidrOf(op);
    const bindings = await deps.reader.read(`bindings:${op.prefixId}`, Math.max(1, Math.floor(poll * 0.8)), () => deps.cloudflare.listServiceBindings(op.accountId, op.prefixId), undefined, sinceChange(op));
    const still = bindings.find((b) => b.id === op.params.bindingId) ?? bindings.find((b) => canonical(b.cidr) === cidr && b.serviceId === op.params.serviceId);
    if (!still) return { events: [], latest: `${cidr} gone`, verdict: { verdict: 'done', step: 'unbound', facts: { cidr, service: op.params.service } } };
    const summary = `${cidr} ${String(op.params.service ?? '')} still listed (${still.provisioningState})`;
    if (summary === op.watch?.latest) return { events: [], nextDelayMs: poll };
    return { events: [{ type: 'progress', step: 'deleting', facts: { summary } }], latest: summary, sampled: true, nextDelayMs: poll };
  },
  watchTimeoutMs: (deps) => deps.bindingWatch?.timeoutMs ?? DEFAULT_BINDING_WATCH.timeoutMs,
};
