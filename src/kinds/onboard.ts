/**
 * Onboard: add a prefix to Cloudflare (POST .../prefixes). Never added twice: the apply looks for it first, and a
 * prefix found without our own recorded call is someone else's (refused, nothing sent). A POST whose answer never
 * came is not sent again before this read can prove it did not land: the engine waits out the call's in-flight
 * window before the next attempt reads. Intake refuses special-purpose space (private, documentation, multicast...).
 */
import { isAnnounceable, parseCidr } from '../domain/cidr.js';
import { reverseZones } from '../domain/reverse-zones.js';
import { addressSpaceProblem } from '../domain/special-prefixes.js';
import { InvalidInputError } from '../errors.js';
import { covers, findAccountPrefix } from './lookup.js';
import { preflightChecks } from './preflight-checks.js';
import type { ChangeKind } from './types.js';

const asnOf = (params: Record<string, unknown>) => (typeof params.asn === 'number' ? params.asn : undefined);

export const onboard: ChangeKind = {
  kind: 'onboard',
  breakGlass: false,
  async intake(deps, req) {
    if (!req.asn) throw new InvalidInputError('Say the ASN the prefix is announced under: /byoip onboard <cidr> <asn>.');
    const parsed = parseCidr(req.cidr);
    const space = addressSpaceProblem(parsed, deps.addressSpace);
    if (space) throw new InvalidInputError(`${space} Nothing was filed.`);
    if (!isAnnounceable(parsed)) {
      throw new InvalidInputError(
        `${parsed.text} is too small for BYOIP: Cloudflare announces IPv4 prefixes of /24 or shorter and IPv6 of /48 or shorter. Onboard the covering /${parsed.version === 4 ? 24 : 48} instead.`,
      );
    }
    const clash = await findAccountPrefix(deps, (p) => covers(p.cidr, parsed.text) || covers(parsed.text, p.cidr));
    if (clash) {
      const p = clash.prefix;
      throw new InvalidInputError(
        `${p.cidr} is already on Cloudflare account ${clash.account.name} (${p.approved === 'V' ? 'approved' : 'pending validation'}), and it overlaps ${parsed.text}; nothing to add. See it with /byoip status ${p.cidr}.`,
      );
    }
    const account = deps.policy.cloudflare.accounts[0]!;
    return { accountId: account.id, prefixId: '', bgpPrefixId: null, params: { asn: req.asn, account: account.name }, before: { onAccount: false } };
  },
  async plan(deps, op) {
    return { guards: [], checks: await preflightChecks(deps, op.prefix, asnOf(op.params), undefined) };
  },
  async apply(deps, op, tools) {
    const asn = asnOf(op.params) ?? 0;
    const request = `POST /accounts/${op.accountId}/addressing/prefixes {"cidr":"${op.prefix}","asn":${asn}}`;
    const existing = (await deps.cloudflare.listPrefixes(op.accountId)).find((p) => p.cidr === op.prefix);
    await tools.audit('cloudflare_read', { onAccount: Boolean(existing) });
    if (existing && !tools.calledBefore) return { outcome: 'refused', step: 'already_added', facts: { prefixId: existing.id } };
    const prefix = existing ?? (await tools.send(request, () => deps.cloudflare.createPrefix(op.accountId, { cidr: op.prefix, asn, description: op.reason.slice(0, 1000) })));
    const facts = { prefixId: prefix.id, approved: prefix.approved, token: prefix.ownershipValidationToken ?? null };
    return { outcome: 'called', request, result: facts, facts, patch: { prefixId: prefix.id } };
  },
  async verify(deps, op) {
    const p = await deps.cloudflare.getPrefix(op.accountId, op.prefixId);
    return {
      events: [],
      latest: `On Cloudflare as ${p.id} (${p.approved === 'V' ? 'approved' : 'pending validation'}).`,
      verdict: { verdict: 'done', step: 'added', facts: { prefixId: p.id, approved: p.approved, token: p.ownershipValidationToken ?? null, zones: reverseZones(op.prefix) } },
    };
  },
};
