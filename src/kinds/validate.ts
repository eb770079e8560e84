/**
 * Validate: ask Cloudflare to run its IRR / RPKI / ownership checks (POST .../validate) and follow them to the end.
 *
 * The own-LOA path (`delegate_loa_creation: false`): the docs say it "also needs a PATCH request once the prefix is
 * approved" and link Edit Prefix (`PATCH .../prefixes/{id}`, whose only field is the description). Approval happens
 * at the end of this watch, so the PATCH is its last step: sent by the engine when the watch reads `approved: V`,
 * with the prefix's current description (nothing else is editable, nothing else changes; no traffic is touched),
 * so it needs no approval of its own: the onboard and validate requests it finishes were approved. Read before
 * write: the bot remembers (observations) that it sent it, so a later tick or request does not send it again; a
 * crash between the PATCH and that note re-sends the same description, which changes nothing.
 */
import type { Prefix } from '../domain/addressing.js';
import { explainFailingChecks, FAILED_VALIDATION_STATES } from '../domain/validation-explained.js';
import { InvalidInputError } from '../errors.js';
import { canonical, findAccountPrefix } from './lookup.js';
import { preflightChecks } from './preflight-checks.js';
import type { ChangeKind, KindDeps } from './types.js';

const FAILED_VALIDATION = FAILED_VALIDATION_STATES;

const statesOf = (p: Prefix) => ({ irr: p.irrValidationState, rpki: p.rpkiValidationState, ownership: p.ownershipValidationState });

/** The own-LOA path's PATCH once approved (see above); what was sent, or when it was sent before. */
async function ownLoaPatch(deps: KindDeps, accountId: string, p: Prefix): Promise<{ request: string; sent: 'now' | 'before'; loaDocumentId: string | null }> {
  const request = `PATCH /accounts/${accountId}/addressing/prefixes/${p.id}`;
  const key = `loa-patch:${accountId}:${p.id}`;
  if (await deps.observations?.get(key)) return { request, sent: 'before', loaDocumentId: p.loaDocumentId };
  await deps.cloudflare.updatePrefixDescription(accountId, p.id, p.description);
  await deps.observations?.setOnce(key, String(deps.now()));
  return { request, sent: 'now', loaDocumentId: p.loaDocumentId };
}

export const validate: ChangeKind = {
  kind: 'validate',
  breakGlass: false,
  async intake(deps, req) {
    const found = await findAccountPrefix(deps, (p) => canonical(p.cidr) === req.cidr);
    if (!found) {
      const names = deps.policy.cloudflare.accounts.map((a) => a.name).join(', ');
      throw new InvalidInputError(`${req.cidr} is not a prefix on the Cloudflare accounts this bot manages (${names}); add it to Cloudflare first. See what is there with /byoip status.`);
    }
    const { account, prefix } = found;
    if (prefix.approved === 'V') throw new InvalidInputError(`${req.cidr} is already validated and approved at Cloudflare; nothing to do. Next is its default service binding.`);
    return {
      accountId: account.id,
      prefixId: prefix.id,
      bgpPrefixId: null,
      params: { asn: prefix.asn ?? null, token: prefix.ownershipValidationToken ?? null },
      before: statesOf(prefix),
    };
  },
  async plan(deps, op) {
    const asn = typeof op.params.asn === 'number' ? op.params.asn : undefined;
    const token = typeof op.params.token === 'string' ? op.params.token : undefined;
    return { guards: [], checks: await preflightChecks(deps, op.prefix, asn, token) };
  },
  async apply(deps, op, tools) {
    const request = `POST /accounts/${op.accountId}/addressing/prefixes/${op.prefixId}/validate`;
    const current = await deps.cloudflare.getPrefix(op.accountId, op.prefixId);
    await tools.audit('cloudflare_read', { approved: current.approved, ...statesOf(current) });
    if (current.approved === 'V') {
      const facts = { approved: current.approved, ...statesOf(current) };
      return { outcome: tools.calledBefore ? 'called' : 'skipped', request, result: facts, facts };
    }
    const after = await tools.send(request, () => deps.cloudflare.validatePrefix(op.accountId, op.prefixId));
    const facts = { approved: after.approved, ...statesOf(after) };
    return { outcome: 'called', request, result: facts, facts };
  },
  async verify(deps, op) {
    const ttl = Math.max(1, Math.floor(deps.watch.pollIntervalMs * 0.8));
    const p = await deps.reader.read<Prefix>(`cf-prefix:${op.prefixId}`, ttl, () => deps.cloudflare.getPrefix(op.accountId, op.prefixId));
    const states = statesOf(p);
    const summary = `IRR ${states.irr}, RPKI ${states.rpki}, ownership ${states.ownership}`;
    if (p.approved === 'V') {
      const loaPatch = p.delegateLoaCreation || !p.loaDocumentId ? null : await ownLoaPatch(deps, op.accountId, p);
      return { events: [], latest: summary, verdict: { verdict: 'done', step: 'validated', facts: { summary, ...(loaPatch ? { loaPatch } : {}) } } };
    }
    const failing = Object.entries(states).filter(([, v]) => FAILED_VALIDATION.has(v));
    const pending = Object.values(states).some((v) => v === 'pending' || v === '');
    if (failing.length && !pending) {
      const asn = typeof op.params.asn === 'number' ? op.params.asn : (p.asn ?? null);
      const token = p.ownershipValidationToken ?? (typeof op.params.token === 'string' ? op.params.token : null);
      const explained = explainFailingChecks(states, { cidr: op.prefix, asn, token });
      return { events: [], latest: summary, verdict: { verdict: 'failed', step: 'checks_failed', facts: { summary, failing: Object.fromEntries(failing), explained } } };
    }
    if (summary === op.watch?.latest) return { events: [] };
    return { events: [{ type: 'progress', step: 'checks', facts: { summary } }], latest: summary, sampled: true };
  },
};
