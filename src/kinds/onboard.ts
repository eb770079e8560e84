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
import { buildLoaPdf, type LoaFields } from '../loa/letter.js';
import type { ChangeKind, IntakeRequest, KindDeps } from './types.js';

const asnOf = (params: Record<string, unknown>) => (typeof params.asn === 'number' ? params.asn : undefined);

/** Which account: the form's choice when the policy has several, else the only one. */
function accountOf(deps: KindDeps, req: IntakeRequest) {
  const accounts = deps.policy.cloudflare.accounts;
  const chosen = req.form?.account;
  if (!chosen) return accounts[0]!;
  const account = accounts.find((a) => a.name === chosen);
  if (!account) throw new InvalidInputError(`Choose one of the accounts this bot manages (${accounts.map((a) => a.name).join(', ')}).`);
  return account;
}

/**
 * The LOA: Cloudflare generates it (`delegate_loa_creation: true`, the docs' recommended path, the default), or we
 * bring our own, filled from the docs' template; then the company and the signer's name and title are required.
 */
function loaOf(deps: KindDeps, req: IntakeRequest, asn: number): { loa: 'cloudflare' } | { loa: 'own'; loaFields: LoaFields } {
  if (req.form?.loa !== 'own') return { loa: 'cloudflare' };
  const company = (req.form.loa_company ?? '').trim();
  const signerName = (req.form.loa_signer_name ?? '').trim();
  const signerTitle = (req.form.loa_signer_title ?? '').trim();
  const missing = [!company && 'the company', !signerName && "the signer's name", !signerTitle && "the signer's title"].filter(Boolean);
  if (missing.length) {
    throw new InvalidInputError(`Our own LOA needs ${missing.join(', ')}: Cloudflare and its transit providers must see who signs it. Fill them in, or let Cloudflare generate the LOA.`);
  }
  if ([company, signerName, signerTitle].some((v) => v.length > 120)) throw new InvalidInputError('Keep the company, name and title under 120 characters each.');
  const date = new Date(deps.now()).toISOString().slice(0, 10);
  return { loa: 'own', loaFields: { company, prefixes: [req.cidr], asn, signerName, signerTitle, date } };
}

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
    const account = accountOf(deps, req);
    const accounts = deps.policy.cloudflare.accounts.map((a) => a.name);
    return { accountId: account.id, prefixId: '', bgpPrefixId: null, params: { asn: req.asn, account: account.name, accounts, ...loaOf(deps, req, req.asn) }, before: { onAccount: false } };
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
    let prefix = existing;
    if (!prefix) {
      const description = op.reason.slice(0, 1000);
      const fields = op.params.loa === 'own' ? (op.params.loaFields as LoaFields | undefined) : undefined;
      if (fields) {
        // Our own LOA: uploaded first, then named by the prefix (a retry whose create was lost uploads it again;
        // an unused LOA document is harmless).
        const content = await buildLoaPdf(fields);
        const loa = await tools.send(`POST /accounts/${op.accountId}/addressing/loa_documents (LOA for ${op.prefix}, ${content.length} bytes)`, () =>
          deps.cloudflare.uploadLoaDocument(op.accountId, { filename: `loa-${op.prefix.replace(/[/:]/g, '_')}.pdf`, content }),
        );
        const withLoa = `POST /accounts/${op.accountId}/addressing/prefixes {"cidr":"${op.prefix}","asn":${asn},"loa_document_id":"${loa.id}","delegate_loa_creation":false}`;
        prefix = await tools.send(withLoa, () => deps.cloudflare.createPrefix(op.accountId, { cidr: op.prefix, asn, description, loaDocumentId: loa.id, delegateLoaCreation: false }));
      } else {
        const delegated = `POST /accounts/${op.accountId}/addressing/prefixes {"cidr":"${op.prefix}","asn":${asn},"delegate_loa_creation":true}`;
        prefix = await tools.send(delegated, () => deps.cloudflare.createPrefix(op.accountId, { cidr: op.prefix, asn, description, delegateLoaCreation: true }));
      }
    }
    const facts = { prefixId: prefix.id, approved: prefix.approved, token: prefix.ownershipValidationToken ?? null, loaDocumentId: prefix.loaDocumentId ?? null, loa: op.params.loa ?? 'cloudflare' };
    return { outcome: 'called', request, result: facts, facts, patch: { prefixId: prefix.id } };
  },
  async verify(deps, op) {
    const p = await deps.cloudflare.getPrefix(op.accountId, op.prefixId);
    return {
      events: [],
      latest: `On Cloudflare as ${p.id} (${p.approved === 'V' ? 'approved' : 'pending validation'}).`,
      verdict: {
        verdict: 'done',
        step: 'added',
        facts: { prefixId: p.id, approved: p.approved, token: p.ownershipValidationToken ?? null, zones: reverseZones(op.prefix), loaDocumentId: p.loaDocumentId ?? null, loa: op.params.loa ?? 'cloudflare' },
      },
    };
  },
};
