import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { ActionKind, Policy } from '../config.js';
import type { BgpPrefix, Prefix } from '../domain/addressing.js';
import { cidrContains, isAnnounceable, parseCidr } from '../domain/cidr.js';
import {
  applyApproval,
  applyRejection,
  applyReview,
  describeState,
  newOperation,
  transition,
  type Operation,
  type OperationKind,
} from '../domain/operation.js';
import { BotError, ErrorCode, InvalidInputError, isBotError, userMessageOf } from '../errors.js';
import type { OwnAnnouncement } from '../routing/pre-withdraw.js';
import type { CoalescedReader } from './coalesce.js';
import type { AddressingApi, Dispatcher, GroupDirectory } from './ports.js';
import type { OperationStore } from './store.js';

export interface RequestInput {
  kind: OperationKind;
  cidr: string;
  userId: string;
  channel: string;
  reason: string;
  /** Onboard: the ASN the prefix is announced under. */
  asn?: number;
}

export interface ServiceDeps {
  store: OperationStore;
  cloudflare: AddressingApi;
  groups: GroupDirectory;
  dispatcher: Dispatcher;
  policy: Policy;
  logger: Logger;
  now?: () => number;
  /** Shares Cloudflare reads of `/byoip status` between users and replicas for a few seconds (budget relief). */
  reader?: CoalescedReader;
  /** How long a status read is shared; 5 s. */
  statusCacheMs?: number;
  /** Before a validate: the pre-flight report as card lines (routing view). */
  preflightNotes?: (cidr: string, asn: number | undefined, ownershipToken: string | undefined) => Promise<string[]>;
  /** Before a withdraw: is the team's own AS seen announcing the prefix or a covering one? */
  ownAnnouncement?: (prefix: string, ownAsn: number) => Promise<OwnAnnouncement>;
}

export interface ResolvedBgpPrefix {
  accountId: string;
  prefix: Prefix;
  bgp: BgpPrefix;
}

interface RequestTarget {
  accountId: string;
  prefixId: string;
  bgpPrefixId: string | null;
  notes: string[];
  /** Cloudflare's state before the change, for the audit. */
  before: Record<string, unknown>;
}

export interface StatusReport {
  prefixes: { account: string; prefix: Prefix; bgp: BgpPrefix[] }[];
  open: Operation[];
}

const newId = () => randomBytes(8).toString('hex');

/** Requests, approvals, rejections and expiry of operations. Execution and watching live in executor.ts / watcher.ts. */
export class OperationService {
  private now: () => number;

  constructor(private deps: ServiceDeps) {
    this.now = deps.now ?? Date.now;
  }

  get policy(): Policy {
    return this.deps.policy;
  }

  /** Finds the BGP prefix with exactly this CIDR on one of the policy's accounts. */
  async resolveBgpPrefix(cidrText: string): Promise<ResolvedBgpPrefix> {
    const cidr = parseCidr(cidrText).text;
    const accounts = this.deps.policy.cloudflare.accounts;
    for (const account of accounts) {
      const prefixes = await this.deps.cloudflare.listPrefixes(account.id);
      for (const prefix of prefixes) {
        if (!prefixCovers(prefix.cidr, cidr)) continue;
        const bgps = await this.deps.cloudflare.listBgpPrefixes(account.id, prefix.id);
        const bgp = bgps.find((b) => safeCanonical(b.cidr) === cidr);
        if (bgp) return { accountId: account.id, prefix, bgp };
        if (prefix.cidr === cidr || safeCanonical(prefix.cidr) === cidr) {
          throw new InvalidInputError(
            `${cidr} is on Cloudflare account ${account.name} but has no BGP prefix yet (it needs an approved prefix and an active default service binding first). Check it with \`/byoip status\`.`,
          );
        }
      }
    }
    const names = accounts.map((a) => a.name).join(', ');
    throw new InvalidInputError(
      `${cidr} is not a BGP prefix on the Cloudflare account${accounts.length > 1 ? 's' : ''} this bot manages (${names}). Check the CIDR, or see what is there with \`/byoip status\`.`,
    );
  }

  /** What `/byoip status` shows: every prefix with its BGP prefixes, and the open requests. */
  async statusReport(filter?: string): Promise<StatusReport> {
    const rows: StatusReport['prefixes'] = [];
    const cf = this.deps.cloudflare;
    const ttl = this.deps.statusCacheMs ?? 5000;
    const shared = <T>(key: string, fetch: () => Promise<T>): Promise<T> => (this.deps.reader ? this.deps.reader.read(`status:${key}`, ttl, fetch) : fetch());
    for (const account of this.deps.policy.cloudflare.accounts) {
      const prefixes = await shared(`prefixes:${account.id}`, () => cf.listPrefixes(account.id));
      const shown = prefixes.filter((prefix) => !filter || prefixCovers(prefix.cidr, filter) || prefixCovers(filter, prefix.cidr));
      const bgps = await Promise.all(shown.map((prefix) => (prefix.approved === 'V' ? shared(`bgp:${prefix.id}`, () => cf.listBgpPrefixes(account.id, prefix.id)) : Promise.resolve([]))));
      shown.forEach((prefix, i) => rows.push({ account: account.name, prefix, bgp: bgps[i] ?? [] }));
    }
    const open = (await this.deps.store.active()).sort((a, b) => b.createdAt - a.createdAt);
    return { prefixes: rows, open: filter ? open.filter((o) => prefixCovers(filter, o.prefix) || prefixCovers(o.prefix, filter)) : open };
  }

  /** Files a request: checks the requester, the prefix and its current state, takes the prefix lock and posts the card. */
  async request(input: RequestInput): Promise<Operation> {
    const cidr = parseCidr(input.cidr);
    const reason = input.reason.trim();
    if (reason.length < 3) throw new InvalidInputError('Give a reason (a few words: ticket, incident or why) so approvers know what they approve.');
    if (reason.length > 500) throw new InvalidInputError('The reason is longer than 500 characters; shorten it and link the ticket instead.');
    const groups = this.deps.policy.groups;
    const allowed = await this.deps.groups.isMember(input.userId, [...groups.requesters, ...groups.approvers, ...groups.break_glass]);
    if (!allowed) {
      await this.deps.store.audit({ type: 'request_refused', opId: '-', actor: input.userId, data: { kind: input.kind, prefix: cidr.text, why: 'not a requester' } });
      throw new BotError(ErrorCode.NotAuthorized, `You are not in a group allowed to request BGP changes, so nothing was filed. Ask to be added to the requester group, or ask a teammate who is.`);
    }
    const holder = await this.deps.store.lockHolder(cidr.text);
    if (holder) await this.refuseLocked(cidr.text, holder);

    const target =
      input.kind === 'validate'
        ? await this.validateTarget(cidr.text)
        : input.kind === 'onboard'
          ? await this.onboardTarget(cidr.text, input.asn)
          : await this.bgpTarget(input.kind, cidr.text);

    const now = this.now();
    const action = this.deps.policy.actions[input.kind as ActionKind];
    const op = newOperation(
      {
        id: newId(),
        kind: input.kind,
        prefix: cidr.text,
        accountId: target.accountId,
        prefixId: target.prefixId,
        bgpPrefixId: target.bgpPrefixId,
        requestedBy: input.userId,
        reason,
        channel: input.channel,
        state: 'awaiting_approval',
        expiresAt: now + action.expires_after,
        approvalsRequired: action.approvals,
        notes: target.notes,
        ...(input.kind === 'onboard' && input.asn ? { asn: input.asn } : {}),
      },
      now,
    );
    const res = await this.deps.store.create(op, [{ kind: 'card' }], {
      type: 'requested',
      opId: op.id,
      actor: input.userId,
      data: { kind: op.kind, prefix: op.prefix, reason, accountId: op.accountId, prefixId: op.prefixId, bgpPrefixId: op.bgpPrefixId, before: target.before },
    });
    if (!res.created) await this.refuseLocked(cidr.text, res.lockedBy);
    this.deps.logger.info({ operationId: op.id, prefix: op.prefix, user: input.userId, kind: op.kind }, 'operation requested');
    await this.deps.dispatcher.deliver(op.id);
    return op;
  }

  /** Advertise / withdraw: the BGP prefix, refused when locked or already in the wanted state; notes for the card. */
  private async bgpTarget(kind: 'advertise' | 'withdraw', cidr: string): Promise<RequestTarget> {
    const resolved = await this.resolveBgpPrefix(cidr);
    const wanted = kind === 'advertise';
    if (resolved.bgp.onDemand.locked) {
      throw new BotError(
        ErrorCode.CloudflareConflict,
        `${cidr} is locked for on-demand changes at Cloudflare (on_demand_locked), so it cannot be ${wanted ? 'advertised' : 'withdrawn'} from here. Ask your Cloudflare account team to unlock it.`,
      );
    }
    if (resolved.bgp.onDemand.advertised === wanted) {
      throw new InvalidInputError(`${cidr} is already ${wanted ? 'advertised' : 'withdrawn'} at Cloudflare; nothing to do.`);
    }
    const own = this.deps.policy.prefixes.find((p) => p.cidr === cidr);
    const notes =
      kind === 'withdraw'
        ? [await this.preWithdrawNote(cidr, own?.own_asn)]
        : ['After it is advertised: remove the announcement from your own data centre, or some traffic will keep bypassing Cloudflare.'];
    return { accountId: resolved.accountId, prefixId: resolved.prefix.id, bgpPrefixId: resolved.bgp.id, notes, before: { advertised: resolved.bgp.onDemand.advertised } };
  }

  /** Onboard: a prefix Cloudflare can take (/24 or shorter, /48 for IPv6) that no managed account has yet; pre-flight on the card. */
  private async onboardTarget(cidr: string, asn: number | undefined): Promise<RequestTarget> {
    if (!asn) throw new InvalidInputError('Say the ASN the prefix is announced under: `/byoip onboard <cidr> <asn>`.');
    const parsed = parseCidr(cidr);
    if (!isAnnounceable(parsed)) {
      throw new InvalidInputError(`${cidr} is too small for BYOIP: Cloudflare announces IPv4 prefixes of /24 or shorter and IPv6 of /48 or shorter. Onboard the covering /${parsed.version === 4 ? 24 : 48} instead.`);
    }
    const account = this.deps.policy.cloudflare.accounts[0]!;
    const clash = await this.findAccountPrefix((p) => prefixCovers(p.cidr, cidr) || prefixCovers(cidr, p.cidr));
    if (clash) {
      const p = clash.prefix;
      throw new InvalidInputError(`${p.cidr} is already on Cloudflare account ${clash.account.name} (${p.approved === 'V' ? 'approved' : 'pending validation'}), and it overlaps ${cidr}; nothing to add. See it with \`/byoip status ${p.cidr}\`.`);
    }
    const notes = this.deps.preflightNotes
      ? await this.deps.preflightNotes(cidr, asn, undefined).catch((err: unknown) => [`:grey_question: The pre-flight checks could not run: ${userMessageOf(err)}`])
      : [];
    notes.push(`Cloudflare account ${account.name}. After it is added: publish the ownership token Cloudflare returns, upload the LOA, then \`/byoip validate ${cidr}\`.`);
    return { accountId: account.id, prefixId: '', bgpPrefixId: null, notes, before: { onAccount: false } };
  }

  /** Validate: the account prefix with exactly this CIDR, not yet approved; the pre-flight report goes on the card. */
  private async validateTarget(cidr: string): Promise<RequestTarget> {
    const found = await this.findAccountPrefix((p) => safeCanonical(p.cidr) === cidr);
    if (found) {
      const { account, prefix } = found;
      if (prefix.approved === 'V') throw new InvalidInputError(`${cidr} is already validated and approved at Cloudflare; nothing to do. Next is its default service binding.`);
      const notes = this.deps.preflightNotes ? await this.deps.preflightNotes(cidr, prefix.asn ?? undefined, prefix.ownershipValidationToken ?? undefined).catch((err: unknown) => [`:grey_question: The pre-flight checks could not run: ${userMessageOf(err)}`]) : [];
      const states = { irr: prefix.irrValidationState, rpki: prefix.rpkiValidationState, ownership: prefix.ownershipValidationState };
      return { accountId: account.id, prefixId: prefix.id, bgpPrefixId: null, notes, before: states };
    }
    const names = this.deps.policy.cloudflare.accounts.map((a) => a.name).join(', ');
    throw new InvalidInputError(`${cidr} is not a prefix on the Cloudflare accounts this bot manages (${names}); add it to Cloudflare first. See what is there with \`/byoip status\`.`);
  }

  /** The card's pre-withdraw line: is our own AS already announcing the prefix (Cloudflare's "add it to your data center first")? */
  private async preWithdrawNote(prefix: string, ownAsn: number | undefined): Promise<string> {
    if (!ownAsn || !this.deps.ownAnnouncement) {
      return 'Before approving: your own data centre must already announce this prefix (or a covering one), or it becomes unreachable once Cloudflare withdraws it. (No own AS is on record for this prefix in the policy, so the bot cannot check.)';
    }
    let seen: OwnAnnouncement;
    try {
      seen = await this.deps.ownAnnouncement(prefix, ownAsn);
    } catch (err) {
      seen = { status: 'unknown', detail: userMessageOf(err) };
    }
    switch (seen.status) {
      case 'announced':
      case 'covering':
        return `:white_check_mark: AS${ownAsn} (yours) is seen announcing ${seen.seenPrefix ?? prefix}${seen.peers !== undefined ? ` by ${seen.peers} peers` : ''}: traffic keeps a path once Cloudflare withdraws.`;
      case 'not_seen':
        return `:warning: *AS${ownAsn} (yours) is not seen announcing ${prefix} or a covering prefix.* Withdrawing now would leave the prefix unreachable. Add the advertisement to your data centre first, then approve.`;
      default:
        return `:grey_question: Could not check whether AS${ownAsn} announces ${prefix} (${seen.detail}). Check a looking glass before approving.`;
    }
  }

  /** The account prefix covering `cidr`, if any (for preflight's ownership token). */
  async findPrefix(cidrText: string): Promise<Prefix | null> {
    const cidr = parseCidr(cidrText).text;
    return (await this.findAccountPrefix((p) => prefixCovers(p.cidr, cidr)))?.prefix ?? null;
  }

  /** The first prefix on the policy's accounts, in order, that `match` accepts. */
  private async findAccountPrefix(match: (p: Prefix) => boolean): Promise<{ account: Policy['cloudflare']['accounts'][number]; prefix: Prefix } | null> {
    for (const account of this.deps.policy.cloudflare.accounts) {
      const prefix = (await this.deps.cloudflare.listPrefixes(account.id)).find(match);
      if (prefix) return { account, prefix };
    }
    return null;
  }

  private async refuseLocked(prefix: string, holderId: string): Promise<never> {
    const holder = await this.deps.store.get(holderId);
    const what = holder ? `a ${holder.kind} request by <@${holder.requestedBy}> that is ${describeState(holder.state)}` : 'another request';
    throw new BotError(ErrorCode.PrefixLocked, `${prefix} already has an open request (${what}). Wait for it to finish, or reject/cancel it first; nothing new was filed.`);
  }

  /** One Approve click, authorized live against the approver groups. */
  async approve(opId: string, userId: string): Promise<{ op: Operation; approved: boolean }> {
    let approved = false;
    const op = await this.decide(opId, userId, 'approval_refused', (current, isApprover, now) => {
      const d = applyApproval(current, userId, isApprover, now);
      approved = d.kind === 'approved';
      const noun = { advertise: 'advertise', withdraw: 'withdraw', onboard: 'new prefix', validate: 'validation request' }[current.kind];
      const text = approved
        ? `:white_check_mark: Approved by <@${userId}>. Sending the ${noun} to Cloudflare.`
        : `:ballot_box_with_check: <@${userId}> approved (${d.op.approvals.length} of ${current.approvalsRequired}).`;
      return { op: d.op, text, audit: { type: approved ? 'approved' : 'approval_recorded', data: { approvals: d.op.approvals.length, required: current.approvalsRequired } } };
    });
    this.deps.logger.info({ operationId: opId, user: userId, approved }, 'approval applied');
    if (approved) await this.deps.dispatcher.execute(opId);
    return { op, approved };
  }

  /** A Reject click: an approver rejects, the requester cancels their own request. */
  async reject(opId: string, userId: string): Promise<Operation> {
    return this.decide(opId, userId, 'reject_refused', (current, isApprover, now) => {
      const next = applyRejection(current, userId, isApprover, now);
      const verb = next.state === 'cancelled' ? 'Cancelled by the requester' : `Rejected by <@${userId}>`;
      return { op: next, text: `:no_entry: ${verb}. Nothing was sent to Cloudflare.`, audit: { type: next.state } };
    });
  }

  /** An approver reviews a break-glass change after the fact. */
  async review(opId: string, userId: string): Promise<Operation> {
    return this.decide(opId, userId, 'review_refused', (current, isApprover, now) => ({
      op: applyReview(current, userId, isApprover, now),
      text: `:mag: Break-glass change reviewed by <@${userId}>.`,
      audit: { type: 'reviewed' },
    }));
  }

  /**
   * A click by `userId` on a card, authorized live against the approver groups: applies `decision` atomically with its
   * thread reply, card update and audit line; a refusal is audited as `refusedType` and rethrown for the ephemeral.
   */
  private async decide(
    opId: string,
    userId: string,
    refusedType: string,
    decision: (op: Operation, isApprover: boolean, now: number) => { op: Operation; text: string; audit: { type: string; data?: Record<string, unknown> } },
  ): Promise<Operation> {
    const isApprover = await this.deps.groups.isMember(userId, this.deps.policy.groups.approvers);
    const now = this.now();
    try {
      const res = await this.deps.store.update(opId, (current) => {
        const d = decision(current, isApprover, now);
        return { op: d.op, notify: [{ kind: 'reply', text: d.text }, { kind: 'card' }], audit: [{ ...d.audit, opId, actor: userId }] };
      });
      await this.deps.dispatcher.deliver(opId);
      return res.op;
    } catch (err) {
      await this.deps.store.audit({ type: refusedType, opId, actor: userId, data: { code: isBotError(err) ? err.code : 'error', why: userMessageOf(err) } });
      throw err;
    }
  }

  /**
   * Re-arms the job of every unfinished operation whose job may have been lost (a crash between recording a state and
   * enqueueing its job). Safe to run any time: job ids make a second enqueue a no-op, and execution reads Cloudflare
   * before it writes.
   */
  async recoverStranded(): Promise<number> {
    let n = 0;
    for (const op of await this.deps.store.active()) {
      if (op.state === 'approved' || op.state === 'executing') {
        await this.deps.dispatcher.execute(op.id);
        n++;
      } else if (op.state === 'propagating') {
        await this.deps.dispatcher.watch(op.id, 0);
        n++;
      }
    }
    return n;
  }

  /**
   * Break glass: an on-call engineer withdraws (or advertises) at once, without approval, within the policy's limit
   * of uses per window. Loud in the channel, in the audit, and left for an approver to review afterwards.
   */
  async breakGlass(input: { kind: 'advertise' | 'withdraw'; cidr: string; userId: string; channel: string; reason: string }): Promise<Operation> {
    const cidr = parseCidr(input.cidr).text;
    const reason = input.reason.trim();
    if (reason.length < 3) throw new InvalidInputError(`Say why in the same line: \`/byoip emergency ${input.kind} ${cidr} <reason>\` (the incident, in a few words).`);
    const policy = this.deps.policy;
    if (policy.groups.break_glass.length === 0 || !(await this.deps.groups.isMember(input.userId, policy.groups.break_glass))) {
      await this.deps.store.audit({ type: 'break_glass_refused', opId: '-', actor: input.userId, data: { kind: input.kind, prefix: cidr, why: 'not on call' } });
      throw new BotError(ErrorCode.NotAuthorized, `Only the on-call (break-glass) group can act without approval. File a normal request with \`/byoip ${input.kind} ${cidr}\`, or page the on-call engineer.`);
    }
    const holder = await this.deps.store.lockHolder(cidr);
    if (holder) await this.refuseLocked(cidr, holder);
    const target = await this.bgpTarget(input.kind, cidr);
    const id = newId();
    const use = await this.deps.store.takeBreakGlassUse(id, policy.break_glass.max_uses, policy.break_glass.window);
    if (!use.ok) {
      await this.deps.store.audit({ type: 'break_glass_refused', opId: '-', actor: input.userId, data: { kind: input.kind, prefix: cidr, why: 'limit reached', used: use.used } });
      const when = use.nextFreeAt ? new Date(use.nextFreeAt).toISOString().replace(/\.\d+Z$/, 'Z') : 'later';
      throw new BotError(
        ErrorCode.NotAuthorized,
        `Break glass has been used ${use.used} time(s) in the last ${Math.round(policy.break_glass.window / 60_000)} minutes, the policy's limit; the next use frees up at ${when}. File a normal request with \`/byoip ${input.kind} ${cidr}\` and ask an approver.`,
      );
    }
    const now = this.now();
    const op = newOperation(
      {
        id,
        kind: input.kind,
        prefix: cidr,
        accountId: target.accountId,
        prefixId: target.prefixId,
        bgpPrefixId: target.bgpPrefixId,
        requestedBy: input.userId,
        reason,
        channel: input.channel,
        state: 'approved',
        expiresAt: now,
        approvalsRequired: 0,
        decidedBy: input.userId,
        notes: [':rotating_light: Break glass: executed without approval by the on-call engineer. An approver must review it afterwards.', ...target.notes],
        breakGlass: true,
        reviewedBy: null,
      },
      now,
    );
    const res = await this.deps.store.create(
      op,
      [{ kind: 'card' }, { kind: 'reply', broadcast: true, text: `:rotating_light: *Break glass* by <@${input.userId}>: ${input.kind} ${cidr} now, without approval. Reason: ${reason}. Approvers: review it with the button on the card.` }],
      { type: 'break_glass', opId: id, actor: input.userId, data: { kind: input.kind, prefix: cidr, reason, used: use.used, limit: policy.break_glass.max_uses, before: target.before } },
    );
    if (!res.created) await this.refuseLocked(cidr, res.lockedBy);
    this.deps.logger.warn({ operationId: id, prefix: cidr, user: input.userId, kind: input.kind }, 'break glass');
    await this.deps.dispatcher.deliver(id);
    await this.deps.dispatcher.execute(id);
    return op;
  }

  /** Expires every request whose approval window has passed; returns how many. */
  async expireDue(): Promise<number> {
    const now = this.now();
    const ids = await this.deps.store.dueForExpiry(now);
    let n = 0;
    for (const id of ids) {
      try {
        await this.deps.store.update(id, (op) => {
          if (op.state !== 'awaiting_approval') return { op }; // already decided: the CAS just drops it from the open set
          return {
            op: transition(op, 'expired', now, { outcome: 'Expired: not approved in time.' }),
            notify: [{ kind: 'reply', text: ':hourglass: This request expired before it was approved. Nothing was sent to Cloudflare; file a new one if it is still needed.' }, { kind: 'card' }],
            audit: [{ type: 'expired', opId: id, actor: 'system' }],
          };
        });
        await this.deps.dispatcher.deliver(id);
        n++;
      } catch (err) {
        this.deps.logger.warn({ operationId: id, err }, 'expiry failed');
      }
    }
    return n;
  }
}

function safeCanonical(cidr: string): string | null {
  try {
    return parseCidr(cidr).text;
  } catch {
    return null;
  }
}

function prefixCovers(outer: string, inner: string): boolean {
  try {
    return cidrContains(outer, inner);
  } catch {
    return false;
  }
}
