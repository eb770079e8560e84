/**
 * Bind: a service binding (Magic Transit, CDN, Spectrum) on a CIDR of a prefix, or on the CIDRs that cover a list of
 * IPs exactly (aggregated: 203.0.113.16-23 is one /29). Checked against the docs' rules before anything is filed;
 * one POST per CIDR, each read first (a binding is a create: never sent again without a read that shows it is
 * missing); then followed from provisioning to active, which takes Cloudflare 4-6 hours.
 */
import type { Prefix, ServiceBinding } from '../domain/addressing.js';
import { aggregate, parseIpList } from '../domain/address-space.js';
import { checkBinding, serviceKind } from '../domain/binding-rules.js';
import { parseCidr } from '../domain/cidr.js';
import { InvalidInputError } from '../errors.js';
import { canonical, exactAccountPrefix, sinceChange } from './lookup.js';
import type { ChangeKind, KindDeps, Target } from './types.js';

const DEFAULT_BINDING_WATCH = { pollIntervalMs: 5 * 60_000, timeoutMs: 8 * 3_600_000 };

async function accountPrefix(deps: KindDeps, cidr: string): Promise<{ accountId: string; prefix: Prefix }> {
  const found = await exactAccountPrefix(deps, cidr, 'Bind addresses of a prefix you onboarded; see them with /byoip status.');
  if (found.prefix.approved !== 'V') {
    throw new InvalidInputError(`${cidr} is not validated and approved at Cloudflare yet, and bindings come after validation: run /byoip validate ${cidr} first.`);
  }
  return found;
}

/** The CIDRs a form asks for: one CIDR as typed, or the fewest CIDRs covering a list of IPs exactly. */
export function targetCidrs(prefixCidr: string, text: string): string[] {
  const t = text.trim();
  if (!t) throw new InvalidInputError('Give a CIDR inside the prefix (e.g. 203.0.113.16/29), or a list of IPs to bind.');
  if (/^[^\s,;]+\/\d+$/.test(t)) return [parseCidr(t).text];
  return aggregate(parseIpList(t), { parent: prefixCidr });
}

const bindingsOf = (op: { params: Record<string, unknown> }) => (Array.isArray(op.params.cidrs) ? (op.params.cidrs as string[]) : []);

export const bind: ChangeKind = {
  kind: 'bind',
  breakGlass: false,
  async intake(deps, req): Promise<Target> {
    const { accountId, prefix } = await accountPrefix(deps, req.cidr);
    const services = await deps.reader.read(`services:${accountId}`, 60_000, () => deps.cloudflare.listServices(accountId));
    if (!req.form) {
      // At the command: the form needs the services to choose from.
      return { accountId, prefixId: prefix.id, bgpPrefixId: null, params: { services: services.map((s) => s.name) }, before: {} };
    }
    const service = services.find((s) => s.name === req.form!.service);
    if (!service) throw new InvalidInputError(`Choose a service from the list (${services.map((s) => s.name).join(', ')}).`);
    const cidrs = targetCidrs(prefix.cidr, req.form.targets ?? '');
    const existing = await deps.cloudflare.listServiceBindings(accountId, prefix.id);
    const planned: Pick<ServiceBinding, 'cidr' | 'serviceName'>[] = [...existing];
    const problems: string[] = [];
    for (const cidr of cidrs) {
      const violations = checkBinding(prefix, planned, { cidr, serviceName: service.name });
      problems.push(...violations.map((v) => v.message));
      planned.push({ cidr, serviceName: service.name });
    }
    if (problems.length) throw new InvalidInputError(problems.slice(0, 3).join(' '));
    return {
      accountId,
      prefixId: prefix.id,
      bgpPrefixId: null,
      params: { service: service.name, serviceId: service.id, cidrs, accountPrefix: prefix.cidr, ipsGiven: !/^[^\s,;]+\/\d+$/.test((req.form.targets ?? '').trim()) },
      before: { bindings: existing.map((b) => ({ cidr: b.cidr, service: b.serviceName })) },
    };
  },
  async plan(deps, op) {
    // The rules again, against the bindings as they are now (someone may have bound meanwhile).
    const existing = await deps.cloudflare.listServiceBindings(op.accountId, op.prefixId);
    const prefix = { cidr: String(op.params.accountPrefix ?? op.prefix) };
    const planned: Pick<ServiceBinding, 'cidr' | 'serviceName'>[] = [...existing];
    const problems = [];
    for (const cidr of bindingsOf(op)) {
      const v = checkBinding(prefix, planned, { cidr, serviceName: String(op.params.service) }).filter((x) => x.code !== 'already_bound');
      problems.push(...v);
      planned.push({ cidr, serviceName: String(op.params.service) });
    }
    const now = deps.now();
    const guards = [{ id: 'binding-rules', status: problems.length ? ('block' as const) : ('pass' as const), overridable: false, facts: { problems: problems.map((p) => p.message) }, checkedAt: now }];
    const kind = serviceKind(String(op.params.service));
    const checks = [
      { id: 'bind:propagation', result: 'pass' as const, facts: { kind } },
      ...(kind === 'magic_transit' ? [{ id: 'bind:magic-transit', result: 'pass' as const, facts: {} }] : []),
    ];
    return { guards, checks };
  },
  async apply(deps, op, tools) {
    const serviceId = String(op.params.serviceId);
    const existing = await deps.cloudflare.listServiceBindings(op.accountId, op.prefixId);
    await tools.audit('cloudflare_read', { bindings: existing.map((b) => ({ cidr: b.cidr, service: b.serviceName, state: b.provisioningState })) });
    const created: { id: string; cidr: string }[] = [];
    const already: string[] = [];
    for (const cidr of bindingsOf(op)) {
      const there = existing.find((b) => canonical(b.cidr) === cidr && b.serviceId === serviceId);
      if (there) {
        already.push(cidr);
        continue;
      }
      const b = await tools.send(`POST /accounts/${op.accountId}/addressing/prefixes/${op.prefixId}/bindings {"cidr":"${cidr}","service_id":"${serviceId}"}`, () =>
        deps.cloudflare.createServiceBinding(op.accountId, op.prefixId, { cidr, serviceId }),
      );
      created.push({ id: b.id, cidr: b.cidr });
    }
    const facts = { service: op.params.service, created: created.map((c) => c.cidr), already };
    return { outcome: created.length || tools.calledBefore ? 'called' : 'skipped', request: `POST .../bindings ×${created.length}`, result: facts, facts };
  },
  async verify(deps, op) {
    const poll = deps.bindingWatch?.pollIntervalMs ?? DEFAULT_BINDING_WATCH.pollIntervalMs;
    const bindings = await deps.reader.read(`bindings:${op.prefixId}`, Math.max(1, Math.floor(poll * 0.8)), () => deps.cloudflare.listServiceBindings(op.accountId, op.prefixId), undefined, sinceChange(op));
    const mine = bindingsOf(op).map((cidr) => ({ cidr, b: bindings.find((x) => canonical(x.cidr) === cidr && x.serviceId === op.params.serviceId) }));
    const missing = mine.filter((m) => !m.b).map((m) => m.cidr);
    if (missing.length) return { events: [], verdict: { verdict: 'failed', step: 'binding_missing', facts: { missing } } };
    for (const m of mine) {
      // What the advertise guard needs: when the bot saw a binding provisioning, and when it saw it active.
      if (m.b!.provisioningState === 'active') await deps.observations?.setOnce(`binding-active:${m.b!.id}`, String(deps.now()));
      else await deps.observations?.setOnce(`binding-seen-provisioning:${m.b!.id}`, String(deps.now()));
    }
    const summary = mine.map((m) => `${m.cidr} ${m.b!.provisioningState}`).join(', ');
    if (mine.every((m) => m.b!.provisioningState === 'active')) return { events: [], latest: summary, verdict: { verdict: 'done', step: 'bound', facts: { summary, service: op.params.service } } };
    if (summary === op.watch?.latest) return { events: [], nextDelayMs: poll };
    return { events: [{ type: 'progress', step: 'provisioning', facts: { summary } }], latest: summary, sampled: true, nextDelayMs: poll };
  },
  watchTimeoutMs: (deps) => deps.bindingWatch?.timeoutMs ?? DEFAULT_BINDING_WATCH.timeoutMs,
};
