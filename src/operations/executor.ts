import type { Logger } from 'pino';
import { transition, type CloudflareCallRecord, type Operation } from '../domain/operation.js';
import { reverseZones } from '../domain/reverse-zones.js';
import { isBotError, userMessageOf } from '../errors.js';
import type { AddressingApi, Dispatcher } from './ports.js';
import type { OperationStore } from './store.js';

export interface ExecutorDeps {
  store: OperationStore;
  cloudflare: AddressingApi;
  dispatcher: Dispatcher;
  logger: Logger;
  firstWatchDelayMs: number;
  now?: () => number;
}

/**
 * Executes an approved operation: reads Cloudflare first, skips what is already true, then makes the one call.
 * Safe to run again after a crash at any point: a retry re-reads and never sends a mutation that already took effect.
 */
export class Executor {
  private now: () => number;

  constructor(private deps: ExecutorDeps) {
    this.now = deps.now ?? Date.now;
  }

  async execute(opId: string): Promise<void> {
    const { store, cloudflare, logger } = this.deps;
    let op = await store.require(opId);
    if (op.state === 'approved') {
      op = (
        await store.update(opId, (o) =>
          o.state === 'approved' ? { op: transition(o, 'executing', this.now()), audit: [{ type: 'executing', opId, actor: 'system' }], notify: [{ kind: 'card' }] } : { op: o },
        )
      ).op;
      await this.deps.dispatcher.deliver(opId);
    }
    if (op.state === 'propagating') {
      await this.deps.dispatcher.watch(opId, this.deps.firstWatchDelayMs); // a retry after the last step: make sure the watch runs
      return;
    }
    if (op.state !== 'executing') return;
    if (op.kind === 'validate') return this.executeValidate(op);
    if (op.kind === 'onboard') return this.executeOnboard(op);
    if (!op.bgpPrefixId) return this.fail(op, 'This request names no BGP prefix, so there is nothing to change.');
    const bgpPrefixId = op.bgpPrefixId;

    const target = op.kind === 'advertise';
    const log = logger.child({ operationId: opId, prefix: op.prefix });
    const request = `PATCH /accounts/${op.accountId}/addressing/prefixes/${op.prefixId}/bgp/prefixes/${bgpPrefixId} {"on_demand":{"advertised":${target}}}`;

    let current;
    try {
      current = await cloudflare.getBgpPrefix(op.accountId, op.prefixId, bgpPrefixId);
    } catch (err) {
      return this.failOrRetry(op, err, 'reading the BGP prefix before the change');
    }
    await store.audit({ type: 'cloudflare_read', opId, actor: 'system', data: { advertised: current.onDemand.advertised, locked: current.onDemand.locked } });

    let outcome: 'called' | 'skipped';
    let result = current;
    if (current.onDemand.advertised === target) {
      // Already true: either someone else did it, or our own earlier attempt went through before a crash.
      outcome = op.cloudflare ? 'called' : 'skipped';
    } else {
      if (current.onDemand.locked) {
        return this.fail(op, `Cloudflare has this BGP prefix locked (on_demand_locked), so it cannot be ${target ? 'advertised' : 'withdrawn'}. Ask your Cloudflare account team to unlock it.`);
      }
      const sent = await this.sendOnce(op, request, `asking Cloudflare to ${op.kind}`, (o) => cloudflare.setBgpPrefixAdvertised(o.accountId, o.prefixId, bgpPrefixId, target));
      if (!sent) return;
      ({ op, result } = sent);
      outcome = 'called';
    }
    await store.audit({ type: 'cloudflare_result', opId, actor: 'system', data: { outcome, advertised: result.onDemand.advertised, modifiedAt: result.onDemand.advertisedModifiedAt } });
    log.info({ outcome, advertised: result.onDemand.advertised }, 'cloudflare change applied');

    const eta = op.kind === 'advertise' ? 'Cloudflare takes about 2-7 minutes to advertise' : 'Cloudflare takes about 15 minutes to withdraw';
    const said =
      outcome === 'skipped'
        ? `:information_source: Cloudflare already had ${op.prefix} ${target ? 'advertised' : 'withdrawn'}; no call was needed. Following it on the looking glass.`
        : `:cloud: Cloudflare accepted the ${op.kind} of ${op.prefix} (on_demand.advertised=${String(result.onDemand.advertised)}${result.onDemand.advertisedModifiedAt ? ` at ${result.onDemand.advertisedModifiedAt}` : ''}). ${eta}; following it until the Internet sees it.`;
    await this.startWatching(op, { request, outcome, advertised: result.onDemand.advertised, modifiedAt: result.onDemand.advertisedModifiedAt }, said);
  }

  /**
   * Onboard: look for the prefix first (our own earlier attempt may have added it before a crash), else add it once.
   * Done as soon as Cloudflare has it: the thread says what to publish next.
   */
  private async executeOnboard(op: Operation): Promise<void> {
    const { store, cloudflare } = this.deps;
    const request = `POST /accounts/${op.accountId}/addressing/prefixes {"cidr":"${op.prefix}","asn":${op.asn ?? 'null'}}`;
    let existing;
    try {
      existing = (await cloudflare.listPrefixes(op.accountId)).find((p) => p.cidr === op.prefix);
    } catch (err) {
      return this.failOrRetry(op, err, 'listing the prefixes before adding one');
    }
    if (existing && !op.cloudflare) return this.fail(op, `${op.prefix} is already on the account (added by someone else meanwhile); nothing was added.`);
    let prefix = existing;
    if (!prefix) {
      const sent = await this.sendOnce(op, request, `adding ${op.prefix}`, (o) => cloudflare.createPrefix(o.accountId, { cidr: o.prefix, asn: o.asn ?? 0, description: o.reason.slice(0, 1000) }));
      if (!sent) return;
      ({ op, result: prefix } = sent);
    }
    const p = prefix;
    await store.audit({ type: 'cloudflare_result', opId: op.id, actor: 'system', data: { outcome: 'called', prefixId: p.id, approved: p.approved, token: p.ownershipValidationToken } });
    const zones = reverseZones(op.prefix);
    const token = p.ownershipValidationToken ?? '(see the dashboard)';
    const text =
      `:tada: Done: Cloudflare added ${op.prefix} (prefix \`${p.id}\`, ${p.approved === 'V' ? 'approved' : 'pending validation'}). ` +
      `Next, publish the ownership token \`${token}\`: either \`remarks: cf-validation: ${token}\` on the IRR route object, ` +
      `or \`cf-validation.<zone> TXT "${token}"\` in every reverse zone (${zones.slice(0, 4).join(', ')}${zones.length > 4 ? ', …' : ''}). ` +
      `Make sure the ROA lets the ASN originate every length you will announce, upload the LOA, then run \`/byoip validate ${op.prefix}\`.`;
    await store.update(op.id, (o) =>
      o.state !== 'executing'
        ? { op: o }
        : {
            op: transition(o, 'done', this.now(), { prefixId: p.id, outcome: `Added to Cloudflare as ${p.id} (pending validation).` }),
            notify: [{ kind: 'reply', text }, { kind: 'card' }],
            audit: [{ type: 'done', opId: op.id, actor: 'system', data: { prefixId: p.id } }],
          },
    );
    await this.deps.dispatcher.deliver(op.id);
  }

  /**
   * Validate: read the prefix first (already approved means nothing to do), then POST .../validate once. Cloudflare
   * answers at once and checks asynchronously; the watch follows the validation states.
   */
  private async executeValidate(op: Operation): Promise<void> {
    const { store, cloudflare } = this.deps;
    const request = `POST /accounts/${op.accountId}/addressing/prefixes/${op.prefixId}/validate`;
    let current;
    try {
      current = await cloudflare.getPrefix(op.accountId, op.prefixId);
    } catch (err) {
      return this.failOrRetry(op, err, 'reading the prefix before validating it');
    }
    await store.audit({ type: 'cloudflare_read', opId: op.id, actor: 'system', data: { approved: current.approved, irr: current.irrValidationState, rpki: current.rpkiValidationState, ownership: current.ownershipValidationState } });
    let outcome: 'called' | 'skipped' = 'skipped';
    if (current.approved !== 'V') {
      const sent = await this.sendOnce(op, request, 'asking Cloudflare to validate the prefix', (o) => cloudflare.validatePrefix(o.accountId, o.prefixId));
      if (!sent) return;
      ({ op, result: current } = sent);
      outcome = 'called';
    } else if (op.cloudflare) {
      outcome = 'called'; // our own earlier attempt went through before a crash
    }
    await store.audit({ type: 'cloudflare_result', opId: op.id, actor: 'system', data: { outcome, approved: current.approved, irr: current.irrValidationState, rpki: current.rpkiValidationState, ownership: current.ownershipValidationState } });
    const said =
      outcome === 'skipped'
        ? `:information_source: Cloudflare already has ${op.prefix} validated and approved; no call was needed.`
        : `:cloud: Cloudflare accepted the validation of ${op.prefix} (IRR ${current.irrValidationState}, RPKI ${current.rpkiValidationState}, ownership ${current.ownershipValidationState}). Following the checks until they settle.`;
    await this.startWatching(op, { request, outcome, advertised: null, modifiedAt: current.modifiedAt }, said);
  }

  /**
   * Sends the one mutation. First records that a call may be in flight, so that a retry after a crash knows the
   * change could be ours; an error is audited, then either retried by the job (it re-reads first) or closes the
   * request. Returns null when the request was closed.
   */
  private async sendOnce<T>(op: Operation, request: string, doing: string, call: (op: Operation) => Promise<T>): Promise<{ op: Operation; result: T } | null> {
    const { store } = this.deps;
    const recorded = (
      await store.update(op.id, (o) => ({
        op: { ...o, cloudflare: { at: this.now(), request, outcome: 'called', advertised: null, modifiedAt: null } },
        audit: [{ type: 'cloudflare_call', opId: op.id, actor: 'system', data: { request } }],
      }))
    ).op;
    try {
      return { op: recorded, result: await call(recorded) };
    } catch (err) {
      await store.audit({ type: 'cloudflare_error', opId: op.id, actor: 'system', data: { request, code: isBotError(err) ? err.code : 'error', message: userMessageOf(err) } });
      await this.failOrRetry(recorded, err, doing);
      return null;
    }
  }

  /** Cloudflare has the change: executing -> propagating, say so in the thread, and start the watch. */
  private async startWatching(op: Operation, call: Omit<CloudflareCallRecord, 'at'>, said: string): Promise<void> {
    const now = this.now();
    await this.deps.store.update(op.id, (o) =>
      o.state !== 'executing'
        ? { op: o }
        : {
            op: transition(o, 'propagating', now, {
              cloudflare: { at: now, ...call },
              watch: { startedAt: now, phase: 'cloudflare', lastSummary: null, verdict: null, escalated: false, samples: 0, flaggedOrigins: [], routingError: null },
            }),
            notify: [{ kind: 'reply', text: said }, { kind: 'card' }],
            audit: [{ type: 'propagating', opId: op.id, actor: 'system' }],
          },
    );
    await this.deps.dispatcher.deliver(op.id);
    await this.deps.dispatcher.watch(op.id, this.deps.firstWatchDelayMs);
  }

  /**
   * The execute job ran out of attempts (Cloudflare unreachable for a long time). Closes the request honestly:
   * the change may or may not have reached Cloudflare, so say so and release the prefix.
   */
  async giveUp(opId: string, why: string): Promise<void> {
    const op = await this.deps.store.get(opId);
    if (!op || (op.state !== 'executing' && op.state !== 'approved')) return;
    const maybe = op.cloudflare ? ' A call may have reached Cloudflare: check `/byoip status` before filing again.' : ' Nothing was sent to Cloudflare.';
    await this.deps.store.update(opId, (o) =>
      o.state !== 'executing' && o.state !== 'approved'
        ? { op: o }
        : {
            op: transition(o, 'failed', this.now(), { outcome: `Gave up after repeated errors: ${why}` }),
            notify: [{ kind: 'reply', text: `:x: Gave up after repeated errors talking to Cloudflare (${why}).${maybe}` }, { kind: 'card' }],
            audit: [{ type: 'failed', opId, actor: 'system', data: { why, gaveUp: true } }],
          },
    );
    await this.deps.dispatcher.deliver(opId);
  }

  private async failOrRetry(op: Operation, err: unknown, doing: string): Promise<void> {
    if (isBotError(err) && err.retryable) throw err; // the job retries; the next attempt reads before writing
    if (!isBotError(err)) throw err;
    return this.fail(op, `Cloudflare refused while ${doing}: ${err.userMessage}`);
  }

  private async fail(op: Operation, why: string): Promise<void> {
    await this.deps.store.update(op.id, (o) =>
      o.state !== 'executing'
        ? { op: o }
        : {
            op: transition(o, 'failed', this.now(), { outcome: why }),
            notify: [{ kind: 'reply', text: `:x: ${why} The request is closed and the prefix unlocked.` }, { kind: 'card' }],
            audit: [{ type: 'failed', opId: op.id, actor: 'system', data: { why } }],
          },
    );
    await this.deps.dispatcher.deliver(op.id);
  }
}
