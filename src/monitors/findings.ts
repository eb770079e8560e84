/**
 * The contract between what watches (Cloudflare and detector webhooks, the standing routing monitor, drift) and what
 * tells people (alert cards). Pure types: a monitor turns what it saw into a `Finding` and hands it to an `AlertSink`;
 * the sink (src/monitors/alert-store.ts) keeps one alert per `key`, posts one alert card per alert in the policy's
 * alerts channel, updates it when the finding changes or clears, and audits every step.
 *
 * Findings carry plain text only: Slack rendering (escaping, emoji, buttons) happens in src/slack/.
 */

/** Where a finding came from. */
export type FindingSource = 'cloudflare' | 'detector' | 'routing' | 'drift';

/**
 * What kind of trouble. Cloudflare notification types keep their own names; the routing monitor's and drift's are
 * ours. Any other Cloudflare type is shown generically under its own name.
 */
export type FindingType =
  // Cloudflare notifications (../shared/reference/cloudflare-addressing-api.md §9)
  | 'bgp_hijack_notification'
  | 'fbm_volumetric_attack'
  | 'fbm_dosd_attack'
  | 'fbm_auto_advertisement'
  | 'cloudflare_other'
  // On-premise DDoS detector
  | 'detector_attack'
  // Standing routing monitor
  | 'foreign_origin'
  | 'more_specific'
  | 'rpki_invalid'
  | 'low_visibility'
  | 'seen_while_withdrawn'
  // Drift: Cloudflare changed outside the bot
  | 'drift';

/** A button an alert card may offer. Emergency ones run the break-glass path (on call only, with its confirm step). */
export type AlertAction = 'emergency_withdraw' | 'emergency_advertise' | 'acknowledge' | 'put_back';

export interface Finding {
  /**
   * One open alert per key: raising the same key again updates that alert (and its card) instead of making a new one.
   * E.g. `cloudflare:<alert_correlation_id>`, `routing:203.0.113.0/24:foreign_origin:64666`, `drift:<prefixId>:advertised`.
   */
  key: string;
  source: FindingSource;
  type: FindingType;
  /** The managed prefix it concerns (the covering one for a more-specific or a single IP), or null when none of ours. */
  prefix: string | null;
  /**
   * When the finding names SEVERAL of our managed prefixes (an auto-advertisement's per-prefix statuses, a leak or an
   * attack listing more than one): all of them, distinct, `prefix` first. The card's Emergency buttons then act on all
   * of them through the multi-prefix confirm step. Absent (or one) for a finding about one prefix. Never a prefix
   * that is not ours.
   */
  prefixes?: string[];
  /** The account of that prefix, when known. */
  accountId?: string;
  /** One plain sentence: what happened. Plain text (it is escaped when rendered). */
  title: string;
  /** Label / value lines shown on the card, in order (plain text). */
  facts: { label: string; value: string }[];
  /** When it was observed (ms since epoch). */
  observedAt: number;
  /** The buttons to offer. */
  actions: AlertAction[];
  /**
   * Drift: the normal request (with approval) that puts Cloudflare back as the bot last set it: the kind, the prefix
   * and what the command names after it (unbind / undelegate: `target`; delegate: `target`, `account`).
   */
  putBack?: { kind: 'advertise' | 'withdraw' | 'bind' | 'unbind' | 'delegate' | 'undelegate'; cidr: string; args?: Record<string, string> };
  /** The source's own payload, kept in the audit (never rendered). */
  raw?: unknown;
}

export type AlertState = 'open' | 'acknowledged' | 'resolved';

export interface AlertSink {
  /** Opens an alert for `finding.key`, or updates the open one. `created` is false for a duplicate / update. */
  raise(finding: Finding): Promise<{ alertId: string; created: boolean }>;
  /** The finding cleared (an END event, the hijack gone, drift put back): the card says so; a new raise opens anew. */
  resolve(key: string, why: string, at: number): Promise<{ alertId: string } | null>;
}
