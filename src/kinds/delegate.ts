/**
 * Delegate / undelegate: let another Cloudflare account use a CIDR of a prefix (`POST .../delegations`), or take that
 * back (`DELETE .../delegations/{id}`). The docs' rules (inside the prefix, never to the owning account, no overlap
 * with another delegation) are checked at the command, before any form opens. Service bindings stay on the parent
 * account. Each is one call, read first; a delegation is listed at once, so the watch is one read.
 */
import type { Delegation } from '../domain/addressing.js';
import type { Operation } from '../domain/operation.js';
import { checkDelegation } from '../domain/binding-rules.js';
import { InvalidInputError } from '../errors.js';
import { canonical, exactAccountPrefix, sinceChange } from './lookup.js';
import type { ChangeKind, KindDeps, Target } from './types.js';
import { targetCidr } from './unbind.js';

const cidrOf = (op: { params: Record<string, unknown> }) => String(op.params.cidr ?? '');
const accountOf = (op: { params: Record<string, unknown> }) => String(op.params.delegatedAccountId ?? '').toLowerCase();
const sameAs = (cidr: string, account: string) => (d: Delegation) => canonical(d.cidr) === cidr && d.delegatedAccountId.toLowerCase() === account;
const listed = (ds: readonly Delegation[]) => ds.map((d) => `${d.cidr} (to ${d.delegatedAccountId})`).join(', ');

/** The watch's read: not shared with the card's 10 s blast-radius read, and never one made before the change. */
const readDelegations = (deps: KindDeps, op: Operation) =>
  deps.reader.read(`delegations-watch:${op.prefixId}`, 1000, () => deps.cloudflare.listDelegations(op.accountId, op.prefixId), undefined, sinceChange(op));

export const delegate: ChangeKind = {
  kind: 'delegate',
  breakGlass: false,
  async intake(deps, req): Promise<Target> {
    const cidr = targetCidr(req, `/byoip delegate ${req.cidr} <cidr> <account-id>`);
    const account = (req.form?.account ?? '').trim().toLowerCase();
    const { accountId, prefix } = await exactAccountPrefix(deps, req.cidr, 'Delegate: name the whole prefix first, then the CIDR inside it; see the prefixes with /byoip status.');
    const delegations = await deps.cloudflare.listDelegations(accountId, prefix.id);
    const problems = checkDelegation(prefix, delegations, { cidr, delegatedAccountId: account }, accountId);
    if (problems.length) throw new InvalidInputError(problems.slice(0, 3).map((p) => p.message).join(' '));
    return {
      accountId,
      prefixId: prefix.id,
      bgpPrefixId: null,
      params: { cidr, delegatedAccountId: account, accountPrefix: prefix.cidr },
      before: { delegations: delegations.map((d) => ({ cidr: d.cidr, account: d.delegatedAccountId })) },
    };
  },
  async plan(deps, op) {
    // The rules again, against the delegations as they are now; the same one already there is not a problem.
    const delegations = await deps.cloudflare.listDelegations(op.accountId, op.prefixId);
    const problems = checkDelegation({ cidr: String(op.params.accountPrefix ?? op.prefix) }, delegations, { cidr: cidrOf(op), delegatedAccountId: accountOf(op) }, op.accountId).filter(
      (v) => v.code !== 'already_delegated',
    );
    const now = deps.now();
    return {
      guards: [{ id: 'delegation-rules', status: problems.length ? ('block' as const) : ('pass' as const), overridable: false, facts: { problems: problems.map((p) => p.message) }, checkedAt: now }],
      checks: [{ id: 'delegate:bindings-stay', result: 'pass' as const, facts: { cidr: cidrOf(op) } }],
    };
  },
  async apply(deps, op, tools) {
    const cidr = cidrOf(op);
    const account = accountOf(op);
    const existing = await deps.cloudflare.listDelegations(op.accountId, op.prefixId);
    await tools.audit('cloudflare_read', { delegations: existing.map((d) => ({ cidr: d.cidr, account: d.delegatedAccountId })) });
    const facts = { cidr, account };
    // A create: never sent again without a read that shows the first did not land.
    const there = existing.find(sameAs(cidr, account));
    if (there) return { outcome: tools.calledBefore ? 'called' : 'skipped', request: `POST .../delegations (${cidr} already delegated)`, result: { ...facts, delegationId: there.id }, facts };
    const request = `POST /accounts/${op.accountId}/addressing/prefixes/${op.prefixId}/delegations {"cidr":"${cidr}","delegated_account_id":"${account}"}`;
    const d = await tools.send(request, () => deps.cloudflare.createDelegation(op.accountId, op.prefixId, { cidr, delegatedAccountId: account }));
    await deps.reader.invalidate(`delegations:${op.prefixId}`);
    return { outcome: 'called', request, result: { ...facts, delegationId: d.id }, facts };
  },
  async verify(deps, op) {
    const cidr = cidrOf(op);
    const there = (await readDelegations(deps, op)).find(sameAs(cidr, accountOf(op)));
    if (there) return { events: [], latest: `${cidr} delegated`, verdict: { verdict: 'done', step: 'delegated', facts: { cidr, account: accountOf(op) } } };
    return { events: [], verdict: { verdict: 'failed', step: 'delegation_missing', facts: { cidr, account: accountOf(op) } } };
  },
};

export const undelegate: ChangeKind = {
  kind: 'undelegate',
  breakGlass: false,
  async intake(deps, req): Promise<Target> {
    const cidr = targetCidr(req, `/byoip undelegate ${req.cidr} <cidr>`);
    const { accountId, prefix } = await exactAccountPrefix(deps, req.cidr, 'Undelegate: name the whole prefix first, then the CIDR inside it; see the prefixes with /byoip status.');
    const delegations = await deps.cloudflare.listDelegations(accountId, prefix.id);
    const there = delegations.find((d) => canonical(d.cidr) === cidr);
    if (!there) {
      throw new InvalidInputError(
        delegations.length
          ? `${req.cidr} has no delegation of ${cidr}; its delegations are ${listed(delegations)}. Name one of those CIDRs exactly.`
          : `${req.cidr} has no delegations, so there is nothing to take back.`,
      );
    }
    return {
      accountId,
      prefixId: prefix.id,
      bgpPrefixId: null,
      params: { cidr, delegationId: there.id, delegatedAccountId: there.delegatedAccountId.toLowerCase(), accountPrefix: prefix.cidr },
      before: { delegations: delegations.map((d) => ({ cidr: d.cidr, account: d.delegatedAccountId })) },
    };
  },
  async plan(deps, op) {
    return { guards: [], checks: [{ id: 'undelegate:account-loses', result: 'pass' as const, facts: { cidr: cidrOf(op), account: accountOf(op) } }] };
  },
  async apply(deps, op, tools) {
    const cidr = cidrOf(op);
    const existing = await deps.cloudflare.listDelegations(op.accountId, op.prefixId);
    await tools.audit('cloudflare_read', { delegations: existing.map((d) => ({ cidr: d.cidr, account: d.delegatedAccountId })) });
    const facts = { cidr, account: accountOf(op) };
    const there = existing.find((d) => d.id === op.params.delegationId) ?? existing.find(sameAs(cidr, accountOf(op)));
    if (!there) return { outcome: tools.calledBefore ? 'called' : 'skipped', request: `DELETE .../delegations (${cidr} already gone)`, result: facts, facts };
    const request = `DELETE /accounts/${op.accountId}/addressing/prefixes/${op.prefixId}/delegations/${there.id}`;
    await tools.send(request, () => deps.cloudflare.deleteDelegation(op.accountId, op.prefixId, there.id));
    await deps.reader.invalidate(`delegations:${op.prefixId}`);
    return { outcome: 'called', request, result: { ...facts, delegationId: there.id }, facts };
  },
  async verify(deps, op) {
    const cidr = cidrOf(op);
    const still = (await readDelegations(deps, op)).find((d) => d.id === op.params.delegationId || sameAs(cidr, accountOf(op))(d));
    if (!still) return { events: [], latest: `${cidr} not delegated`, verdict: { verdict: 'done', step: 'undelegated', facts: { cidr, account: accountOf(op) } } };
    // Cloudflare lists a deletion at once; while it does not, keep reading until the watch's timeout.
    return { events: [], latest: `${cidr} still delegated`, sampled: true };
  },
};
