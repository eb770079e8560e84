/**
 * Cloudflare's notifications (../shared/reference/cloudflare-addressing-api.md §9), as the simulated Cloudflare sends
 * them to a webhook destination: the envelope (`name`, `text`, `data`, `ts`, `account_id`, `policy_id`, `policy_name`,
 * `alert_type`, `alert_correlation_id`, `alert_event`) with `cf-webhook-auth: <secret>` when the destination has one.
 */
import { randomUUID } from 'node:crypto';

export type NotificationKind = 'route-leak' | 'volumetric' | 'dosd' | 'auto-advertisement' | 'other' | 'test';

export const NOTIFICATION_KINDS: NotificationKind[] = ['route-leak', 'volumetric', 'dosd', 'auto-advertisement', 'other', 'test'];

export interface NotificationSpec {
  kind: NotificationKind;
  prefix?: string;
  /**
   * Several prefixes in one notification (`prefix` then is the first): an auto-advertisement's per-prefix list, an
   * attack's or a leak's `prefixes`.
   */
  prefixes?: string[];
  /** `end` sends ALERT_STATE_EVENT_END (for the same correlation id when given). */
  event?: 'start' | 'end';
  correlationId?: string;
  /** Auto-advertisement: the per-prefix status (default `Advertised`). */
  status?: string;
  /** The other AS (route leak). */
  asn?: number;
  accountId?: string;
  /** Seconds since the epoch (default now). */
  ts?: number;
}

export interface WebhookDestination {
  url: string;
  secret?: string;
}

const POLICY: Record<Exclude<NotificationKind, 'test'>, { type: string; name: string }> = {
  'route-leak': { type: 'bgp_hijack_notification', name: 'Route Leak Detection' },
  volumetric: { type: 'fbm_volumetric_attack', name: 'MNM volumetric attack' },
  dosd: { type: 'fbm_dosd_attack', name: 'MNM DoS attack' },
  'auto-advertisement': { type: 'fbm_auto_advertisement', name: 'MNM auto-advertisement' },
  other: { type: 'magic_tunnel_health_check_event', name: 'Tunnel health' },
};

/** The body Cloudflare would send for `spec`. */
export function notificationBody(spec: NotificationSpec): Record<string, unknown> {
  if (spec.kind === 'test') return { text: 'Hello World! This is a test message sent from https://cloudflare.com. If you can see this, your webhook is configured properly.' };
  const p = POLICY[spec.kind];
  const list = spec.prefixes?.length ? spec.prefixes : [spec.prefix ?? '203.0.113.0/24'];
  const prefix = list[0]!;
  const several = list.length > 1 ? { prefixes: list } : {};
  const end = spec.event === 'end';
  const ts = spec.ts ?? Math.floor(Date.now() / 1000);
  const data: Record<string, unknown> =
    spec.kind === 'route-leak'
      ? { prefix_configured: prefix, prefix_hijacked: prefix, ...several, hijack_as: spec.asn ?? 64666, ASNs_seen: [spec.asn ?? 64666], alert_start_time: new Date(ts * 1000).toISOString(), dashboard_link: 'https://dash.cloudflare.com/' }
      : spec.kind === 'auto-advertisement'
        ? { prefixes: list.map((p) => ({ prefix: p, status: spec.status ?? 'Advertised' })) }
        : spec.kind === 'other'
          ? { tunnel_name: 'tunnel-1', prefix }
          : { prefix, ...several, attack_vector: spec.kind === 'volumetric' ? 'UDP flood' : 'SYN flood', max_bits_per_second: 42_000_000_000, max_packets_per_second: 9_000_000 };
  return {
    name: p.name,
    text: `${p.name}: ${list.join(', ')}${end ? ' (ended)' : ''}`,
    data,
    ts,
    account_id: spec.accountId ?? null,
    policy_id: randomUUID().replace(/-/g, ''),
    policy_name: p.name,
    alert_type: p.type,
    alert_correlation_id: spec.correlationId ?? randomUUID().replace(/-/g, ''),
    alert_event: end ? 'ALERT_STATE_EVENT_END' : 'ALERT_STATE_EVENT_START',
  };
}

/** Sends `body` to the destination; `signed: false` leaves the secret header out. Answers what the receiver said. */
export async function sendNotification(dest: WebhookDestination, body: unknown, opts: { signed?: boolean; secret?: string } = {}): Promise<{ status: number; body: string }> {
  const secret = opts.secret ?? dest.secret;
  const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'Cloudflare-Notifications (simulated)' };
  if (opts.signed !== false && secret) headers['cf-webhook-auth'] = secret;
  const res = await fetch(dest.url, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: res.status, body: await res.text() };
}
