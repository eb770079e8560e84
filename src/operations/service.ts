import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { withRequestClass } from '../cloudflare/request-class.js';
import type { BgpPrefix, Delegation, Prefix } from '../domain/addressing.js';
import { parseCidr } from '../domain/cidr.js';
import type { OpEvent } from '../domain/events.js';
import { hardBlocks, type Guard } from '../domain/guards.js';
import {
  applyApproval,
  applyRejection,
  applyReview,
  approvalIsFresh,
  describeState,
  isTerminal,
  lapseApproval,
  newOperation,
  supersede,
  transition,
  type Operation,
  type OperationKind,
} from '../domain/operation.js';
import { cardChannel, type EnginePolicy } from '../domain/policy.js';
import { BotError, ErrorCode, GuardBlockedError, InvalidInputError, isBotError, userMessageOf } from '../errors.js';
import { kindOf, type KindDeps } from '../kinds/index.js';
import { covers, listBgpPrefixes, listPrefixes, resolveBgpPrefix } from '../kinds/lookup.js';
import { MAX_BATCH_PREFIXES, type BatchSkip, type EmergencyBatch } from '../domain/batch.js';
import { addressMapReport, locateMap, type MapShape } from '../kinds/address-map.js';
import { readBlastRadius } from '../kinds/blast-radius.js';
import type { BlastRadius, Plan, Target } from '../kinds/types.js';
import type { Dispatcher, GroupDirectory } from './ports.js';
import { CARD, eventItem, type AuditRecord, type OperationStore, type OutboxItem } from './store.js';

/** A request; its card goes to the policy's channel for the kind (`cardChannel`), wherever it was typed. */
export interface RequestInput {
  kind: OperationKind;
  cidr: string;
  userId: string;
  reason: string;
  /** Onboard: the ASN the prefix is announced under. */
  asn?: number;
  /** What the kind's form collected (bind: service and targets). */
  form?: Record<string, string>;
}

export interface BreakGlassInput {
  kind: 'advertise' | 'withdraw';
  cidr: string;
  userId: string;
  reason: string;
  /** The guards the on-call engineer saw in the confirm step (empty when the look-ups had not finished). */
  guards?: Guard[];
  guardsAt?: number | null;
  /**
   * A system actor (the DDoS detector under policy `auto_advertise`), not a person: no on-call membership to check;
   * everything else (the cap, the lock, the audit, the review afterwards) is the same.
   */
  system?: boolean;
}

export interface ServiceDeps {
  store: OperationStore;
  kinds: KindDeps;
  groups: GroupDirectory;
  dispatcher: Dispatcher;
  logger: Logger;
  now?: () => number;
}

export interface StatusReport {
  prefixes: { account: string; prefix: Prefix; bgp: BgpPrefix[]; blast?: BlastRadius }[];
  open: Operation[];
  /** Break-glass changes still waiting for an approver's review. */
  reviews?: Operation[];
}

/** `/byoip delegations <prefix>`: who may use which part of a prefix. */
export interface DelegationsReport {
  account: string;
  accountId: string;
  prefix: Prefix;
  delegations: Delegation[];
}

/** `/byoip emergency withdraw|advertise a,b,c|--all <reason>`: which prefixes. */
export type BatchSelection = { cidrs: string[] } | { all: true };

/** One prefix the batch will change: the target intake found and, for the confirm step, its blast radius. */
export interface BatchItem {
  cidr: string;
  target: Target;
  blast?: BlastRadius;
}

export interface BatchInput {
  kind: 'advertise' | 'withdraw';
  selection: BatchSelection;
  userId: string;
  reason: string;
  /** What the confirm step listed as skipped (kept on the card). */
  skipped?: BatchSkip[];
}

export interface BatchIntake {
  items: BatchItem[];
  skipped: BatchSkip[];
}

/** `viewer`: read-only commands (status, preflight); `requester`: file requests; `approver`; `break_glass`: on call. */
export type Role = 'viewer' | 'requester' | 'approver' | 'break_glass';

const newId = () => randomBytes(8).toString('hex');

/**
 * The checks before a request form opens are look-ups (`interactive`) and must be quick: Slack's trigger to open the
 * form lasts 3 s. When the budget has no slot that soon, the form opens anyway and the checks run at filing.
 */
export const FORM_INTAKE_MAX_WAIT_MS = 1000;
/** Status and preflight: someone waits in Slack; past this the answer is "try again in about N s". */
export const LOOKUP_MAX_WAIT_MS = 10_000;

/** The fields of a new operation that come from what intake found. */
const fromTarget = (kind: OperationKind, prefix: string, t: Target) => ({ kind, prefix, accountId: t.accountId, prefixId: t.prefixId, bgpPrefixId: t.bgpPrefixId, params: t.params });

/**
 * Files, approves, rejects, expires and recovers operations of any kind, generic over the kind table: the kind
 * checks the target (intake) and says what guards the change (plan). Execution and watching: executor.ts, watcher.ts.
 */
export class OperationService {
  private now: () => number;

  constructor(private deps: ServiceDeps) {
    this.now = deps.now ?? Date.now;
  }

  get policy(): EnginePolicy {
    return this.deps.kinds.policy;
  }

  get store(): OperationStore {
    return this.deps.store;
  }

  private groupsFor(role: Role): string[] {
    const g = this.policy.groups;
    if (role === 'approver') return g.approvers;
    if (role === 'break_glass') return g.break_glass;
    if (role === 'viewer') return g.viewers;
    return [...g.requesters, ...g.approvers, ...g.break_glass];
  }

  /**
   * Whether the user may act in `role`. Approvals and break glass read Slack live; viewers and requesters use the
   * cached membership, which a `subteam_members_changed` event invalidates.
   */
  async isAllowed(userId: string, role: Role): Promise<boolean> {
    const groups = this.groupsFor(role);
    if (groups.length === 0) return false;
    return this.deps.groups.isMember(userId, groups, { fresh: role === 'approver' || role === 'break_glass' });
  }

  /**
   * A read-only command (`status`, `preflight`) by `userId`: refused, and audited as `request_refused`, unless the
   * user is a viewer. Called before anything is read from Cloudflare or the routing view.
   */
  /**
   * The audit trail of one request (its id) or one prefix (every request on it and refusals naming it), newest
   * first, `pageSize` lines per page. Reads the stream backwards in bounded batches: a long stream is never read whole.
   */
  async auditPage(target: { opId: string } | { prefix: string }, page: number, pageSize = 20): Promise<{ lines: AuditRecord[]; more: boolean; found: boolean }> {
    const want = page * pageSize + 1;
    const matches: AuditRecord[] = [];
    const prefixOf = new Map<string, string | null>();
    const belongs = async (r: AuditRecord): Promise<boolean> => {
      if ('opId' in target) return r.opId === target.opId;
      if (r.data?.prefix === target.prefix) return true;
      if (!r.opId || r.opId === '-') return false;
      if (!prefixOf.has(r.opId)) prefixOf.set(r.opId, (await this.deps.store.get(r.opId))?.prefix ?? null);
      return prefixOf.get(r.opId) === target.prefix;
    };
    let end = '+';
    for (let batch = 0; batch < 50 && matches.length < want; batch++) {
      const rows = await this.deps.store.auditBefore(end, 500);
      for (const r of rows) if (await belongs(r)) matches.push(r);
      if (rows.length < 500) break;
      end = `(${rows.at(-1)!.id}`;
    }
    const start = (page - 1) * pageSize;
    return { lines: matches.slice(start, start + pageSize), more: matches.length > start + pageSize, found: matches.length > 0 };
  }

  /** A refusal at the door that no other check records (a command or click over the rate limit): into the audit. */
  async auditRefusal(userId: string, data: { kind: string; why: string; message: string } & Record<string, unknown>): Promise<void> {
    await this.deps.store.audit({ type: 'request_refused', opId: '-', actor: userId, data: { prefix: null, ...data } });
  }

  async authorizeRead(userId: string, command: 'status' | 'preflight' | 'audit' | 'home' | 'address-map show' | 'delegations' | 'loa', prefix?: string): Promise<void> {
    if (await this.isAllowed(userId, 'viewer')) return;
    const err = new BotError(
      ErrorCode.NotAuthorized,
      `You are not in a group allowed to see BYOIP state, so nothing was read for ${command === 'home' ? 'the Home tab' : `/byoip ${command}`}. Ask to be added to the viewer group (requesters, approvers and on call may view too).`,
    );
    await this.deps.store.audit({ type: 'request_refused', opId: '-', actor: userId, data: { kind: command, prefix: prefix ?? null, why: 'not a viewer', message: userMessageOf(err) } });
    throw err;
  }

  /**
   * Checks a request before any form opens: the requester's group, the prefix lock, and the kind's target checks
   * (on the account, not already in the wanted state, big enough...). Refusals are audited and thrown as sentences.
   * Its Cloudflare look-ups are `interactive`; when the budget cannot serve them at once the answer is null: the form
   * opens and the same checks run when it is submitted (as part of the change).
   */
  async intake(kind: OperationKind, cidrText: string, userId: string, extra: { asn?: number; form?: Record<string, string> } = {}): Promise<Target | null> {
    return withRequestClass('interactive', () => this.checkRequest(kind, cidrText, userId, extra, true), { maxWaitMs: FORM_INTAKE_MAX_WAIT_MS });
  }

  private async checkRequest(kind: OperationKind, cidrText: string, userId: string, extra: { asn?: number; form?: Record<string, string> }, deferOnRateLimit: true): Promise<Target | null>;
  private async checkRequest(kind: OperationKind, cidrText: string, userId: string, extra: { asn?: number; form?: Record<string, string> }, deferOnRateLimit: false): Promise<Target>;
  private async checkRequest(kind: OperationKind, cidrText: string, userId: string, extra: { asn?: number; form?: Record<string, string> }, deferOnRateLimit: boolean): Promise<Target | null> {
    const cidr = parseCidr(cidrText).text;
    const refuse = async (why: string, err: unknown): Promise<never> => {
      await this.deps.store.audit({ type: 'request_refused', opId: '-', actor: userId, data: { kind, prefix: cidr, why, message: userMessageOf(err) } });
      throw err;
    };
    if (!(await this.isAllowed(userId, 'requester'))) {
      await refuse('not a requester', new BotError(ErrorCode.NotAuthorized, 'You are not in a group allowed to request BGP changes, so nothing was filed. Ask to be added to the requester group, or ask a teammate who is.'));
    }
    const holder = await this.deps.store.lockHolder(cidr);
    if (holder) await refuse('locked', await this.lockedError(cidr, holder));
    try {
      return await kindOf(kind).intake(this.deps.kinds, { cidr, userId, breakGlass: false, ...(extra.asn ? { asn: extra.asn } : {}), ...(extra.form ? { form: extra.form } : {}) });
    } catch (err) {
      if (deferOnRateLimit && isBotError(err) && err.code === ErrorCode.CloudflareRateLimited) {
        await this.deps.store.audit({ type: 'intake_deferred', opId: '-', actor: userId, data: { kind, prefix: cidr, why: err.userMessage } });
        this.deps.logger.info({ user: userId, prefix: cidr, kind }, 'intake look-ups deferred to filing (request budget)');
        return null;
      }
      if (isBotError(err)) await refuse('target', err);
      throw err;
    }
  }

  /**
   * An address map edit names a map, not a prefix: the prefix it is filed (and locked) under is the one holding the IP
   * named, else the map's first IP, else the account's first prefix. Look-ups, like intake's.
   */
  async locateAddressMap(mapId: string, value?: string): Promise<{ cidr: string; accountId: string }> {
    return withRequestClass('interactive', () => locateMap(this.deps.kinds, mapId, value), { maxWaitMs: FORM_INTAKE_MAX_WAIT_MS });
  }

  /** `/byoip address-map show <id|prefix>` (read only; the caller checked the viewer role). */
  async addressMaps(target: { mapId: string } | { cidr: string }): Promise<{ maps: MapShape[]; cidr: string | null }> {
    return withRequestClass('interactive', () => addressMapReport(this.deps.kinds, target), { maxWaitMs: LOOKUP_MAX_WAIT_MS });
  }

  /** Files a request: intake again, the plan's guards (a hard block refuses it), the record and lock, the card. */
  async request(input: RequestInput): Promise<Operation> {
    // Filing is part of the change: its look-ups count as `change` in the request budget.
    return withRequestClass('change', () => this.file(input));
  }

  private async file(input: RequestInput): Promise<Operation> {
    const reason = input.reason.trim();
    if (reason.length < 3) throw new InvalidInputError('Give a reason (a few words: ticket, incident or why) so approvers know what they approve.');
    if (reason.length > 500) throw new InvalidInputError('The reason is longer than 500 characters; shorten it and link the ticket instead.');
    const target = await this.checkRequest(input.kind, input.cidr, input.userId, { ...(input.asn ? { asn: input.asn } : {}), ...(input.form ? { form: input.form } : {}) }, false);
    const cidr = parseCidr(input.cidr).text;
    const now = this.now();
    const policy = this.policy;
    const action = policy.actions[input.kind];
    let op = newOperation(
      {
        ...fromTarget(input.kind, cidr, target),
        id: newId(),
        requestedBy: input.userId,
        reason,
        channel: cardChannel(policy, input.kind),
        state: 'awaiting_approval',
        expiresAt: now + action.expires_after,
        approvalsRequired: action.approvals,
        approvalValidForMs: action.approval_valid_for,
      },
      now,
    );
    const plan = await kindOf(input.kind).plan(this.deps.kinds, op);
    op = { ...op, guards: plan.guards, guardsAt: this.now(), checks: plan.checks, blast: plan.blast ?? null };
    const blocked = hardBlocks(plan.guards);
    if (blocked.length > 0) {
      await this.deps.store.audit({ type: 'request_refused', opId: '-', actor: input.userId, data: { kind: input.kind, prefix: cidr, why: 'guard', guards: blocked.map((g) => g.id) } });
      throw new GuardBlockedError(`Refused: ${blocked.map((g) => g.id).join(', ')} blocks this ${input.kind} of ${cidr}; nothing was filed.`, blocked);
    }
    const res = await this.deps.store.create(op, [CARD], {
      type: 'requested',
      opId: op.id,
      actor: input.userId,
      data: { kind: op.kind, prefix: op.prefix, reason, accountId: op.accountId, prefixId: op.prefixId, bgpPrefixId: op.bgpPrefixId, before: target.before, guards: op.guards.map((g) => ({ id: g.id, status: g.status })) },
    });
    if (!res.created) throw 'lockedBy' in res ? await this.lockedError(cidr, res.lockedBy) : new BotError(ErrorCode.PrefixLocked, 'Could not file the request; try again.');
    this.deps.logger.info({ operationId: op.id, prefix: op.prefix, user: input.userId, kind: op.kind }, 'operation requested');
    await this.deps.dispatcher.deliver(op.id);
    return op;
  }

  async get(opId: string): Promise<Operation | null> {
    return this.deps.store.get(opId);
  }

  private async lockedError(prefix: string, holderId: string): Promise<BotError> {
    const holder = await this.deps.store.get(holderId);
    const what = holder ? `a ${holder.kind} request by {holder} that is ${describeState(holder.state)}` : 'another request';
    return new BotError(ErrorCode.PrefixLocked, `${prefix} already has an open request (${what}). Wait for it to finish, or reject/cancel it first; nothing new was filed.`, false, {
      people: holder ? { holder: holder.requestedBy } : {},
    });
  }

  /**
   * One Approve click, authorized live against the approver groups. A plan with warnings needs `override` (from
   * the confirm dialog: the guards acknowledged and a reason); `clickedAt` older than the approval validity is stale.
   */
  async approve(opId: string, userId: string, opts: { override?: { reason: string; guards: string[] }; clickedAt?: number } = {}): Promise<{ op: Operation; approved: boolean }> {
    return withRequestClass('change', () => this.approveOnce(opId, userId, opts));
  }

  private async approveOnce(opId: string, userId: string, opts: { override?: { reason: string; guards: string[] }; clickedAt?: number }): Promise<{ op: Operation; approved: boolean }> {
    let approved = false;
    const op = await this.decide(opId, userId, 'approval_refused', (current, isApprover, now) => {
      if (opts.clickedAt !== undefined && now - opts.clickedAt > current.approvalValidForMs) {
        throw new BotError(ErrorCode.OperationExpired, 'That approval click is older than the approval validity, so it was not counted; click Approve on the card again if you still approve.');
      }
      const override = opts.override ? { by: userId, at: now, reason: opts.override.reason.trim(), guards: opts.override.guards } : null;
      const d = applyApproval(current, { userId, isApprover, at: now, override });
      approved = d.kind === 'approved';
      const event: OpEvent = { type: 'approval', by: userId, count: d.op.approvals.length, required: current.approvalsRequired, quorum: approved, override: override && override.guards.length ? override : null };
      const audit = [{ type: approved ? 'approved' : 'approval_recorded', data: { approvals: d.op.approvals.length, required: current.approvalsRequired } }];
      if (event.override) audit.push({ type: 'guard_override', data: { guards: event.override.guards, reason: event.override.reason, seen: current.guards.filter((g) => event.override!.guards.includes(g.id)) } as never });
      return { op: d.op, event, audit };
    });
    this.deps.logger.info({ operationId: opId, user: userId, approved }, 'approval applied');
    if (approved) await this.deps.dispatcher.execute(opId, op.jobs.execute);
    return { op, approved };
  }

  /** A Reject click: an approver rejects, the requester cancels their own request. */
  async reject(opId: string, userId: string): Promise<Operation> {
    return this.decide(opId, userId, 'reject_refused', (current, isApprover, now) => {
      const next = applyRejection(current, userId, isApprover, now);
      const event: OpEvent = next.state === 'cancelled' ? { type: 'cancelled', by: userId } : { type: 'rejected', by: userId };
      return { op: next, event, audit: [{ type: next.state }] };
    });
  }

  /** An approver reviews a break-glass change after the fact. */
  async review(opId: string, userId: string): Promise<Operation> {
    return this.decide(opId, userId, 'review_refused', (current, isApprover, now) => ({ op: applyReview(current, userId, isApprover, now), event: { type: 'reviewed', by: userId }, audit: [{ type: 'reviewed' }] }));
  }

  /**
   * Mark reviewed on a multi-prefix emergency's card: reviews every prefix of it (one decision), with the same rules
   * as one break-glass change (an approver, never the person who broke the glass). The first refusal stops it.
   */
  async reviewBatch(batchId: string, userId: string): Promise<Operation[]> {
    const batch = await this.deps.store.getBatch(batchId);
    if (!batch) throw new BotError(ErrorCode.OperationNotFound, 'That emergency no longer exists (it may have been cleaned up); nothing was changed.');
    const out: Operation[] = [];
    for (const c of batch.children) {
      const op = await this.deps.store.get(c.opId);
      if (!op || op.reviewedBy) continue;
      out.push(await this.review(c.opId, userId));
    }
    if (out.length === 0) throw new BotError(ErrorCode.OperationFinished, 'This emergency was already reviewed; nothing was changed.');
    return out;
  }

  /**
   * A click by `userId` on a card, authorized live against the approver groups: applies `decision` atomically with its
   * thread reply, card update and audit line; a refusal is audited as `refusedType` and rethrown for the ephemeral.
   */
  private async decide(
    opId: string,
    userId: string,
    refusedType: string,
    decision: (op: Operation, isApprover: boolean, now: number) => { op: Operation; event: OpEvent; audit: { type: string; data?: Record<string, unknown> }[] },
  ): Promise<Operation> {
    try {
      const isApprover = await this.isAllowed(userId, 'approver');
      const now = this.now();
      const res = await this.deps.store.update(opId, (current) => {
        const d = decision(current, isApprover, now);
        return { op: d.op, notify: [eventItem(d.event), CARD], audit: d.audit.map((a) => ({ ...a, opId, actor: userId })) };
      });
      await this.deps.dispatcher.deliver(opId);
      return res.op;
    } catch (err) {
      if (!(isBotError(err) && err.code === ErrorCode.ConfirmationRequired)) {
        await this.deps.store.audit({ type: refusedType, opId, actor: userId, data: { code: isBotError(err) ? err.code : 'error', why: userMessageOf(err) } });
      }
      throw err;
    }
  }

  /**
   * Break glass, step 1 (the command): the on-call check (live) and the target, before the confirm step opens. The
   * open request it would supersede is named. Nothing is spent or locked yet.
   */
  async breakGlassIntake(kind: 'advertise' | 'withdraw', cidrText: string, userId: string): Promise<{ target: Target; holder: Operation | null }> {
    return withRequestClass('emergency', () => this.breakGlassTarget(kind, cidrText, userId));
  }

  private async breakGlassTarget(kind: 'advertise' | 'withdraw', cidrText: string, userId: string, system = false): Promise<{ target: Target; holder: Operation | null }> {
    const cidr = parseCidr(cidrText).text;
    const refuse = async (why: string, err: BotError): Promise<never> => {
      await this.deps.store.audit({ type: 'break_glass_refused', opId: '-', actor: userId, data: { kind, prefix: cidr, why, message: err.userMessage } });
      throw err;
    };
    if (!system && !(await this.isAllowed(userId, 'break_glass'))) {
      await refuse('not on call', new BotError(ErrorCode.NotAuthorized, `Only the on-call (break-glass) group can act without approval. File a normal request with /byoip ${kind} ${cidr}, or page the on-call engineer.`));
    }
    let target: Target;
    try {
      target = await kindOf(kind).intake(this.deps.kinds, { cidr, userId, breakGlass: true });
    } catch (err) {
      if (isBotError(err)) await refuse('target', err);
      throw err;
    }
    const holderId = await this.deps.store.lockHolder(cidr);
    const holder = holderId ? await this.deps.store.get(holderId) : null;
    return { target, holder };
  }

  /** The guards a break-glass change would have, for the confirm step (look-ups run while the dialog is open). */
  async breakGlassGuards(kind: 'advertise' | 'withdraw', cidr: string, target: Target): Promise<Guard[]> {
    return (await this.breakGlassPlan(kind, cidr, target)).guards;
  }

  /** The plan of a break-glass change (guards and blast radius), for the confirm step. */
  async breakGlassPlan(kind: 'advertise' | 'withdraw', cidr: string, target: Target): Promise<Plan> {
    const probe = newOperation({ ...fromTarget(kind, cidr, target), id: '-', requestedBy: '-', reason: '-', channel: '-', state: 'approved', expiresAt: 0, approvalsRequired: 0 }, this.now());
    return withRequestClass('emergency', () => kindOf(kind).plan(this.deps.kinds, probe));
  }

  /**
   * Break glass, step 2 ("Send now"): the on-call engineer acts at once, without approval, within the policy's limit
   * of uses per window. In one atomic step: an open request on the prefix is superseded, one use is taken, the
   * operation is created. No look-up runs before the mutation; stale ones are refreshed after it.
   */
  async breakGlass(input: BreakGlassInput): Promise<Operation> {
    return withRequestClass('emergency', () => this.sendBreakGlass(input));
  }

  private async sendBreakGlass(input: BreakGlassInput): Promise<Operation> {
    const reason = input.reason.trim();
    const cidr = parseCidr(input.cidr).text;
    if (reason.length < 3) throw new InvalidInputError(`Say why in the same line: /byoip emergency ${input.kind} ${cidr} <reason> (the incident, in a few words).`);
    if (reason.length > 500) throw new InvalidInputError('The reason is longer than 500 characters; shorten it and link the incident instead.');
    const { target } = await this.breakGlassTarget(input.kind, cidr, input.userId, input.system === true);
    const policy = this.policy;
    const id = newId();
    const now = this.now();
    const op = newOperation(
      {
        ...fromTarget(input.kind, cidr, target),
        id,
        requestedBy: input.userId,
        reason,
        channel: cardChannel(policy, input.kind),
        state: 'approved',
        expiresAt: now,
        approvalsRequired: 0,
        decidedBy: input.userId,
        approvedAt: now,
        breakGlass: true,
        guards: input.guards ?? [],
        guardsAt: input.guards?.length ? (input.guardsAt ?? null) : null,
      },
      now,
    );
    for (let attempt = 0; attempt < 5; attempt++) {
      const holderId = await this.deps.store.lockHolder(cidr);
      const held = holderId ? await this.deps.store.getVersioned(holderId) : null;
      if (holderId && (!held || isTerminal(held.op.state))) continue; // the holder just finished: try again
      if (held?.op.breakGlass) {
        await this.deps.store.audit({ type: 'break_glass_refused', opId: '-', actor: input.userId, data: { kind: input.kind, prefix: cidr, why: 'another break glass', holder: held.op.id } });
        throw new BotError(ErrorCode.PrefixLocked, `Another break-glass change on ${cidr} by {holder} is already running (request ${held.op.id}); nothing was sent and no use was spent. Follow it in its thread, and act again once it has finished.`, false, { people: { holder: held.op.requestedBy } });
      }
      const supersedeOpt = held
        ? {
            id: held.op.id,
            version: held.version,
            op: supersede(held.op, input.userId, id, now),
            notify: [eventItem({ type: 'superseded', by: input.userId, opId: id }), CARD],
            audit: { type: 'superseded', opId: held.op.id, actor: input.userId, data: { by: id } },
          }
        : undefined;
      const res = await this.deps.store.create(
        op,
        [CARD, eventItem({ type: 'break_glass', by: input.userId, reason, supersedes: held?.op.id ?? null })],
        { type: 'break_glass', opId: id, actor: input.userId, data: { kind: input.kind, prefix: cidr, reason, before: target.before, supersedes: held?.op.id ?? null, guards: op.guards.map((g) => ({ id: g.id, status: g.status })) } },
        { breakGlassUse: { maxUses: policy.break_glass.max_uses, windowMs: policy.break_glass.window }, ...(supersedeOpt ? { supersede: supersedeOpt } : {}) },
      );
      if (res.created) {
        this.deps.logger.warn({ operationId: id, prefix: cidr, user: input.userId, kind: input.kind, supersedes: held?.op.id }, 'break glass');
        await this.deps.dispatcher.execute(id, 0);
        await this.deps.dispatcher.deliver(id);
        if (held) await this.deps.dispatcher.deliver(held.op.id);
        return op;
      }
      if ('noUseLeft' in res) {
        await this.deps.store.audit({ type: 'break_glass_refused', opId: '-', actor: input.userId, data: { kind: input.kind, prefix: cidr, why: 'limit reached', used: res.noUseLeft.used } });
        const when = new Date(res.noUseLeft.nextFreeAt).toISOString().replace(/\.\d+Z$/, 'Z');
        throw new BotError(
          ErrorCode.NotAuthorized,
          `Break glass has been used ${res.noUseLeft.used} time(s) in the last ${Math.round(policy.break_glass.window / 60_000)} minutes, the policy's limit; the next use frees up at ${when}. Nothing was sent. File a normal request with /byoip ${input.kind} ${cidr} and ask an approver.`,
        );
      }
      // Lost a race with a new request or a state change of the holder: read again and supersede that.
    }
    throw new BotError(ErrorCode.PrefixLocked, `${cidr} is changing too fast to take over right now; nothing was sent and no use was spent. Try again in a moment.`, true);
  }

  /**
   * A multi-prefix emergency, step 1 (the command): on call (live membership), then every prefix named (or, with
   * `--all`, every BGP prefix of every account in the opposite state). A prefix not on the accounts refuses the whole
   * command with a sentence naming it (nothing is sent); one already in the wanted state, locked at Cloudflare or held
   * by another request is listed as skipped. Look-ups are `emergency`. See src/domain/batch.ts for the rules.
   */
  async breakGlassBatchIntake(kind: 'advertise' | 'withdraw', selection: BatchSelection, userId: string): Promise<BatchIntake> {
    return withRequestClass('emergency', () => this.batchTargets(kind, selection, userId));
  }

  private async batchTargets(kind: 'advertise' | 'withdraw', selection: BatchSelection, userId: string): Promise<BatchIntake> {
    const what = 'all' in selection ? '--all' : selection.cidrs.join(',');
    const refuse = async (why: string, err: BotError): Promise<never> => {
      await this.deps.store.audit({ type: 'break_glass_refused', opId: '-', actor: userId, data: { kind, prefix: null, prefixes: what.slice(0, 2000), why, message: err.userMessage } });
      throw err;
    };
    if (!(await this.isAllowed(userId, 'break_glass'))) {
      await refuse('not on call', new BotError(ErrorCode.NotAuthorized, `Only the on-call (break-glass) group can act without approval, so nothing was sent. File normal requests with /byoip ${kind} <cidr>, or page the on-call engineer.`));
    }
    const want = kind === 'advertise';
    const deps = this.deps.kinds;
    let cidrs: string[];
    if ('all' in selection) {
      cidrs = [];
      for (const account of this.policy.cloudflare.accounts) {
        const prefixes = (await listPrefixes(deps, account.id)).filter((p) => p.approved === 'V');
        const lists = await Promise.all(prefixes.map((p) => listBgpPrefixes(deps, account.id, p.id)));
        for (const list of lists) for (const b of list) if (b.onDemand.advertised !== want && !b.onDemand.locked) cidrs.push(parseCidr(b.cidr).text);
      }
      if (cidrs.length === 0) {
        await refuse('nothing to do', new InvalidInputError(`No BGP prefix on the accounts this bot manages is ${want ? 'withdrawn' : 'advertised'} (and unlocked) right now, so there is nothing to ${kind}; nothing was sent.`));
      }
    } else {
      cidrs = [...new Set(selection.cidrs.map((c) => parseCidr(c).text))];
    }
    if (cidrs.length > MAX_BATCH_PREFIXES) {
      await refuse('too many', new InvalidInputError(`That is ${cidrs.length} prefixes; one emergency takes at most ${MAX_BATCH_PREFIXES} (what one confirm step and one card can list). Split it into several commands; nothing was sent.`));
    }
    const items: BatchItem[] = [];
    const skipped: BatchSkip[] = [];
    const resolved = await Promise.all(cidrs.map((cidr) => resolveBgpPrefix(deps, cidr).then((r) => ({ ok: true as const, r }), (err: unknown) => ({ ok: false as const, err }))));
    for (const [i, cidr] of cidrs.entries()) {
      const res = resolved[i]!;
      if (!res.ok) {
        if (isBotError(res.err) && res.err.code !== ErrorCode.InvalidInput) await refuse('target', res.err);
        if (isBotError(res.err)) await refuse('target', new BotError(ErrorCode.InvalidInput, `${res.err.template} (${cidr} was one of the prefixes listed.) Nothing was sent for any of them; fix the list and run the command again.`, false, { texts: res.err.texts, people: res.err.people }));
        throw res.err;
      }
      const { r } = res;
      if (r.bgp.onDemand.advertised === want) {
        skipped.push({ cidr, why: 'already' });
        continue;
      }
      if (r.bgp.onDemand.locked) {
        skipped.push({ cidr, why: 'cloudflare_locked' });
        continue;
      }
      const holder = await this.deps.store.lockHolder(cidr);
      if (holder) {
        skipped.push({ cidr, why: 'locked', holder });
        continue;
      }
      items.push({ cidr, target: { accountId: r.accountId, prefixId: r.prefix.id, bgpPrefixId: r.bgp.id, params: { accountPrefix: r.prefix.cidr }, before: { advertised: r.bgp.onDemand.advertised } } });
    }
    return { items, skipped };
  }

  /** The blast radius of each prefix of a batch, for the one confirm step (shared reads, in parallel). */
  async breakGlassBatchBlast(items: BatchItem[]): Promise<BatchItem[]> {
    return withRequestClass('emergency', () =>
      Promise.all(items.map(async (it) => ({ ...it, blast: (await readBlastRadius(this.deps.kinds, it.target.accountId, it.target.prefixId, it.cidr, it.target.bgpPrefixId)).blast }))),
    );
  }

  /**
   * A multi-prefix emergency, step 2 ("Send now"): intake again (the picture may have moved while the dialog was
   * open), then every operation, every lock and ONE break-glass use in one atomic step, then every execute job at
   * once: the PATCHes go out in parallel in the budget's `emergency` class, and nothing here waits on Slack.
   */
  async breakGlassBatch(input: BatchInput): Promise<{ batch: EmergencyBatch; ops: Operation[] }> {
    return withRequestClass('emergency', () => this.sendBatch(input));
  }

  private async sendBatch(input: BatchInput): Promise<{ batch: EmergencyBatch; ops: Operation[] }> {
    const reason = input.reason.trim();
    if (reason.length < 3) throw new InvalidInputError(`Say why in the same line: /byoip emergency ${input.kind} <cidr>,<cidr>… <reason> (the incident, in a few words).`);
    if (reason.length > 500) throw new InvalidInputError('The reason is longer than 500 characters; shorten it and link the incident instead.');
    const policy = this.policy;
    for (let attempt = 0; attempt < 3; attempt++) {
      const found = await this.batchTargets(input.kind, input.selection, input.userId);
      const { items } = found;
      // What the confirm step already showed as skipped stays on the card (its prefixes are not in the selection).
      const skipped = [...(input.skipped ?? []).filter((x) => !found.skipped.some((y) => y.cidr === x.cidr) && !items.some((i) => i.cidr === x.cidr)), ...found.skipped];
      if (items.length === 0) {
        await this.deps.store.audit({ type: 'break_glass_refused', opId: '-', actor: input.userId, data: { kind: input.kind, prefix: null, why: 'nothing to do', skipped } });
        throw new InvalidInputError(`Every prefix listed is skipped (${skipped.map((s) => `${s.cidr}: ${s.why === 'already' ? `already ${input.kind === 'advertise' ? 'advertised' : 'withdrawn'}` : s.why === 'locked' ? `request ${s.holder ?? '?'} holds it` : 'locked at Cloudflare'}`).join('; ')}); nothing was sent and no use was spent.`);
      }
      const now = this.now();
      const batch: EmergencyBatch = { id: newId(), kind: input.kind, requestedBy: input.userId, reason, channel: cardChannel(policy, input.kind), cardTs: null, createdAt: now, all: 'all' in input.selection, children: [], skipped };
      const ops = items.map((it) =>
        newOperation(
          { ...fromTarget(input.kind, it.cidr, it.target), id: newId(), requestedBy: input.userId, reason, channel: batch.channel, state: 'approved', expiresAt: now, approvalsRequired: 0, decidedBy: input.userId, approvedAt: now, breakGlass: true, batch: batch.id },
          now,
        ),
      );
      batch.children = ops.map((o) => ({ opId: o.id, prefix: o.prefix }));
      const children = ops.map((op, i) => ({
        op,
        // The batch's card and its one alarm line: the first child carries the alarm for all of them.
        notify: i === 0 ? [CARD, eventItem({ type: 'break_glass', by: input.userId, reason, supersedes: null })] : [CARD],
        audit: { type: 'break_glass', opId: op.id, actor: input.userId, data: { kind: input.kind, prefix: op.prefix, reason, before: items[i]!.target.before, supersedes: null, batch: batch.id, batchSize: ops.length, guards: [] } },
      }));
      const res = await this.deps.store.createBatch(batch, children, { maxUses: policy.break_glass.max_uses, windowMs: policy.break_glass.window });
      if (res.created) {
        this.deps.logger.warn({ batch: batch.id, prefixes: batch.children.map((c) => c.prefix), user: input.userId, kind: input.kind, skipped: skipped.length }, 'break glass (batch)');
        // Every execute job first (the PATCHes), then the deliveries: Slack never stands in front of Cloudflare.
        await Promise.all(ops.map((o) => this.deps.dispatcher.execute(o.id, 0)));
        await Promise.all(ops.map((o) => this.deps.dispatcher.deliver(o.id)));
        return { batch, ops };
      }
      if ('noUseLeft' in res) {
        await this.deps.store.audit({ type: 'break_glass_refused', opId: '-', actor: input.userId, data: { kind: input.kind, prefix: null, why: 'limit reached', used: res.noUseLeft.used, batch: true } });
        const when = new Date(res.noUseLeft.nextFreeAt).toISOString().replace(/\.\d+Z$/, 'Z');
        throw new BotError(
          ErrorCode.NotAuthorized,
          `Break glass has been used ${res.noUseLeft.used} time(s) in the last ${Math.round(policy.break_glass.window / 60_000)} minutes, the policy's limit (a multi-prefix emergency counts as one use); the next use frees up at ${when}. Nothing was sent. File normal requests and ask an approver.`,
        );
      }
      // A lock was taken between the intake and the atomic step: nothing was created; read again (it is skipped now).
      this.deps.logger.info({ prefix: res.prefix, holder: res.lockedBy }, 'batch lost a lock race; reading again');
    }
    throw new BotError(ErrorCode.PrefixLocked, 'These prefixes are changing too fast to take over right now; nothing was sent and no use was spent. Try again in a moment.', true);
  }

  /** What `/byoip status` shows: every prefix with its BGP prefixes, and the open requests. */
  async statusReport(filter?: string, opts: { details?: boolean } = {}): Promise<StatusReport> {
    return withRequestClass('interactive', () => this.status(filter, opts.details === true), { maxWaitMs: LOOKUP_MAX_WAIT_MS });
  }

  private async status(filter: string | undefined, allDetails: boolean): Promise<StatusReport> {
    const rows: StatusReport['prefixes'] = [];
    const deps = this.deps.kinds;
    for (const account of this.policy.cloudflare.accounts) {
      const prefixes = await listPrefixes(deps, account.id);
      const shown = prefixes.filter((prefix) => !filter || covers(prefix.cidr, filter) || covers(filter, prefix.cidr));
      const bgps = await Promise.all(shown.map((prefix) => (prefix.approved === 'V' ? listBgpPrefixes(deps, account.id, prefix.id) : Promise.resolve([]))));
      // One prefix asked for: its bindings, delegations and address maps too (a few shared reads).
      const details = (filter && shown.length <= 3) || allDetails ? await Promise.all(shown.map((prefix) => (prefix.approved === 'V' ? readBlastRadius(deps, account.id, prefix.id, prefix.cidr, null) : Promise.resolve(null)))) : [];
      shown.forEach((prefix, i) => rows.push({ account: account.name, prefix, bgp: bgps[i] ?? [], ...(details[i] ? { blast: details[i]!.blast } : {}) }));
    }
    const open = (await this.deps.store.active()).sort((a, b) => b.createdAt - a.createdAt);
    const mine = (o: Operation) => !filter || covers(filter, o.prefix) || covers(o.prefix, filter);
    const reviews = (await this.deps.store.recent(200)).filter((o) => o.breakGlass && !o.reviewedBy && mine(o));
    return { prefixes: rows, open: open.filter(mine), reviews };
  }

  /** `/byoip delegations <prefix>`: the prefix's delegations (read-only; the caller authorizes the viewer). */
  async delegationsReport(cidrText: string): Promise<DelegationsReport> {
    const cidr = parseCidr(cidrText).text;
    return withRequestClass(
      'interactive',
      async () => {
        for (const account of this.policy.cloudflare.accounts) {
          const prefix = (await listPrefixes(this.deps.kinds, account.id)).find((x) => parseCidr(x.cidr).text === cidr);
          if (prefix) return { account: account.name, accountId: account.id, prefix, delegations: await this.deps.kinds.cloudflare.listDelegations(account.id, prefix.id) };
        }
        const names = this.policy.cloudflare.accounts.map((a) => a.name).join(', ');
        throw new InvalidInputError(`${cidr} is not a prefix on the Cloudflare accounts this bot manages (${names}). Name a whole prefix; see them with /byoip status.`);
      },
      { maxWaitMs: LOOKUP_MAX_WAIT_MS },
    );
  }

  /** The account prefix covering `cidr`, if any (for preflight's ownership token). */
  async findPrefix(cidrText: string): Promise<Prefix | null> {
    const cidr = parseCidr(cidrText).text;
    return withRequestClass(
      'interactive',
      async () => {
        for (const account of this.policy.cloudflare.accounts) {
          const p = (await listPrefixes(this.deps.kinds, account.id)).find((x) => covers(x.cidr, cidr));
          if (p) return p;
        }
        return null;
      },
      { maxWaitMs: LOOKUP_MAX_WAIT_MS },
    );
  }

  /**
   * Recovery: for every unfinished operation, looks at its job's real state. A job still coming is left alone. A
   * job that is over (completed, failed, pruned) while the operation is not: a stale approval goes back to waiting;
   * an execute that failed for good closes honestly (whether a call may have reached Cloudflare); anything else is
   * re-armed under a fresh job id (a retained job id would make the re-add a silent no-op).
   */
  async recoverStranded(): Promise<{ rearmed: number; closed: number; lapsed: number }> {
    const counts = { rearmed: 0, closed: 0, lapsed: 0 };
    const now = this.now();
    for (const op of await this.deps.store.active()) {
      try {
        if (op.state === 'approved' || op.state === 'executing') {
          const st = await this.deps.dispatcher.jobState('execute', op.id, op.jobs.execute);
          if (st === 'pending') continue;
          if (op.state === 'approved' && !approvalIsFresh(op, now)) {
            await this.rearmOrClose(op, (o) => ({
              op: lapseApproval(o, now, this.policy.actions[o.kind].expires_after),
              notify: [eventItem({ type: 'approval_lapsed', approvedAt: o.approvedAt ?? 0, validForMs: o.approvalValidForMs }), CARD],
              audit: [{ type: 'approval_lapsed', opId: o.id, actor: 'system', data: { recovered: true } }],
            }));
            counts.lapsed++;
          } else if (st === 'failed') {
            await this.rearmOrClose(op, (o) => {
              const verdict = { type: 'verdict', verdict: 'failed', step: 'gave_up', facts: { why: 'the execute job failed for good', mayHaveReached: o.cloudflare !== null } } as const;
              return { op: transition(o, 'failed', now, { final: verdict }), notify: [eventItem(verdict), CARD], audit: [{ type: 'failed', opId: o.id, actor: 'system', data: { step: 'gave_up', recovered: true, mayHaveReached: o.cloudflare !== null } }] };
            });
            counts.closed++;
          } else {
            const next = await this.rearmOrClose(op, (o) => ({ op: { ...o, jobs: { ...o.jobs, execute: o.jobs.execute + 1 } }, audit: [{ type: 'rearmed', opId: o.id, actor: 'system', data: { job: 'execute', was: st } }] }));
            if (next) await this.deps.dispatcher.execute(op.id, next.jobs.execute);
            counts.rearmed++;
          }
        } else if (op.state === 'verifying') {
          const st = await this.deps.dispatcher.jobState('watch', op.id, op.jobs.watch);
          if (st === 'pending') continue;
          const next = await this.rearmOrClose(op, (o) => ({ op: { ...o, jobs: { ...o.jobs, watch: o.jobs.watch + 1 } }, audit: [{ type: 'rearmed', opId: o.id, actor: 'system', data: { job: 'watch', was: st } }] }));
          if (next) await this.deps.dispatcher.watch(op.id, 0, next.jobs.watch);
          counts.rearmed++;
        }
      } catch (err) {
        this.deps.logger.warn({ operationId: op.id, err }, 'recovery failed for one operation');
      }
    }
    return counts;
  }

  /** Applies a recovery step only if the operation is still in the state recovery saw (compare-and-set). */
  private async rearmOrClose(seen: Operation, fn: (o: Operation) => { op: Operation; notify?: OutboxItem[]; audit?: { type: string; opId: string; actor: string; data?: Record<string, unknown> }[] }): Promise<Operation | null> {
    let applied = false;
    const res = await this.deps.store.update(seen.id, (o) => {
      if (o.state !== seen.state || o.jobs.execute !== seen.jobs.execute || o.jobs.watch !== seen.jobs.watch) return { op: o };
      applied = true;
      return fn(o);
    });
    if (applied && res.notify?.length) await this.deps.dispatcher.deliver(seen.id);
    return applied ? res.op : null;
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
            op: transition(op, 'expired', now, { final: { type: 'verdict', verdict: 'failed', step: 'expired', facts: {} } }),
            notify: [eventItem({ type: 'expired' }), CARD],
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
