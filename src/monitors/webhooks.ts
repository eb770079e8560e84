/**
 * Incoming alert webhooks: `POST /webhooks/cloudflare` (Cloudflare notifications, `cf-webhook-auth`) and
 * `POST /webhooks/detector` (an on-prem FastNetMon-style DDoS detector, `Authorization: Bearer …`). Each turns what
 * it got into a Finding for the AlertSink; nothing is ever sent to Cloudflare by a Cloudflare webhook. The detector
 * may advertise a prefix whose policy says `auto_advertise: true`, through the break-glass path under its cap.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type http from 'node:http';
import type { Logger } from 'pino';
import { z } from 'zod';
import { autoAdvertises } from '../domain/policy.js';
import { isBotError, userMessageOf } from '../errors.js';
import type { KindDeps } from '../kinds/types.js';
import type { OperationService } from '../operations/service.js';
import type { AlertStore } from './alert-store.js';
import type { AlertAction, Finding, FindingType } from './findings.js';
import { withRequestClass } from '../cloudflare/request-class.js';
import { covers } from '../kinds/lookup.js';
import { asCidr, coveringManaged, type ManagedPrefix } from './managed.js';
import { MAX_BATCH_PREFIXES } from '../domain/batch.js';

/** Bodies larger than this are refused with 413 (Cloudflare's notifications are a few KiB). */
export const WEBHOOK_MAX_BYTES = 64 * 1024;
/** A body seen before within this window is acknowledged and dropped (a replay or a redelivery). */
export const WEBHOOK_REPLAY_WINDOW_MS = 24 * 3_600_000;

// ---- Cloudflare's envelope (../shared/reference/cloudflare-addressing-api.md §9) ----

const text = (max: number) => z.string().max(max);
/** The envelope; `data` varies with the alert type and is kept open (unknown fields are fine). */
export const cloudflareEnvelope = z
  .object({
    name: text(500).optional(),
    text: text(20_000).optional(),
    data: z.record(z.string(), z.unknown()).nullish(),
    ts: z.number().optional(),
    account_id: text(100).nullish(),
    policy_id: text(100).nullish(),
    policy_name: text(500).nullish(),
    alert_type: text(200),
    alert_correlation_id: text(200).nullish(),
    alert_event: text(100).nullish(),
  })
  .passthrough();
export type CloudflareEnvelope = z.infer<typeof cloudflareEnvelope>;

/** Cloudflare's "Save and Test": `{"text": "Hello World! …"}` and nothing else that names an alert. */
export function isTestMessage(body: unknown): boolean {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return false;
  const b = body as Record<string, unknown>;
  return b.alert_type === undefined && typeof b.text === 'string' && /^hello world!/i.test(b.text.trim());
}

export type ParsedCloudflare = { kind: 'test' } | { kind: 'alert'; envelope: CloudflareEnvelope } | { kind: 'invalid'; why: string };

/** The body as Cloudflare sends it, or a sentence saying what is wrong with it. */
export function parseCloudflare(body: unknown): ParsedCloudflare {
  if (isTestMessage(body)) return { kind: 'test' };
  if (!body || typeof body !== 'object' || Array.isArray(body)) return { kind: 'invalid', why: 'The body is not a JSON object; a Cloudflare notification is one.' };
  if (typeof (body as Record<string, unknown>).alert_type !== 'string' || !(body as Record<string, string>).alert_type) {
    return { kind: 'invalid', why: 'The notification has no alert_type, so it cannot be told what happened; nothing was raised.' };
  }
  const r = cloudflareEnvelope.safeParse(body);
  if (!r.success) return { kind: 'invalid', why: `The notification is not in Cloudflare's shape: ${r.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ')}.` };
  return { kind: 'alert', envelope: r.data };
}

const KNOWN: Record<string, FindingType> = {
  bgp_hijack_notification: 'bgp_hijack_notification',
  fbm_volumetric_attack: 'fbm_volumetric_attack',
  fbm_dosd_attack: 'fbm_dosd_attack',
  fbm_auto_advertisement: 'fbm_auto_advertisement',
};

const str = (v: unknown): string | null => (typeof v === 'string' && v.trim() ? v.trim() : typeof v === 'number' ? String(v) : null);
const show = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v) ?? String(v)).slice(0, 300);

/** The prefixes a notification names, first the most telling field. */
export function prefixesOf(type: FindingType, data: Record<string, unknown>): string[] {
  const out: string[] = [];
  const add = (v: unknown) => {
    if (Array.isArray(v)) v.forEach(add);
    else if (v && typeof v === 'object') add((v as Record<string, unknown>).prefix ?? (v as Record<string, unknown>).cidr);
    else {
      const s = str(v);
      if (s) out.push(s);
    }
  };
  if (type === 'bgp_hijack_notification') ['prefix_configured', 'prefix', 'prefix_hijacked', 'prefixes'].forEach((k) => add(data[k]));
  else if (type === 'fbm_auto_advertisement') ['prefixes', 'prefix', 'advertised_prefixes'].forEach((k) => add(data[k]));
  else ['prefix', 'prefixes', 'cidr', 'destination_prefix', 'target_prefix', 'ip', 'destination_ip', 'target_ip', 'dst_ip'].forEach((k) => add(data[k]));
  return out;
}

/** `fbm_auto_advertisement`'s per-prefix statuses (`Advertised`, `Already Advertised`, `Delayed`, `Locked`, `Could not Advertise`, `Error`). */
export function autoAdvertisementStatuses(data: Record<string, unknown>): { prefix: string; status: string }[] {
  const list = Array.isArray(data.prefixes) ? data.prefixes : Array.isArray(data.advertised_prefixes) ? data.advertised_prefixes : [];
  const out: { prefix: string; status: string }[] = [];
  for (const p of list) {
    if (p && typeof p === 'object') {
      const o = p as Record<string, unknown>;
      const prefix = str(o.prefix) ?? str(o.cidr);
      if (prefix) out.push({ prefix, status: str(o.status) ?? str(o.state) ?? 'unknown' });
    } else if (str(p)) out.push({ prefix: str(p)!, status: str(data.status) ?? 'unknown' });
  }
  if (!out.length && str(data.prefix)) out.push({ prefix: str(data.prefix)!, status: str(data.status) ?? 'unknown' });
  return out.slice(0, 50);
}

/** `a`, `a and b`, `a, b and c`, `a, b, c and 2 more`: several prefixes in a title. */
export function prefixList(cidrs: string[]): string {
  if (cidrs.length <= 1) return cidrs[0] ?? '';
  if (cidrs.length > 3) return `${cidrs.slice(0, 3).join(', ')} and ${cidrs.length - 3} more`;
  return `${cidrs.slice(0, -1).join(', ')} and ${cidrs.at(-1)!}`;
}

const TITLE: Record<string, (p: string) => string> = {
  bgp_hijack_notification: (p) => `Cloudflare saw a route leak of ${p}`,
  fbm_volumetric_attack: (p) => `Cloudflare: volumetric attack on ${p}`,
  fbm_dosd_attack: (p) => `Cloudflare: DoS attack on ${p}`,
  fbm_auto_advertisement: (p) => `Cloudflare auto-advertised ${p}`,
};

/**
 * A Cloudflare notification as a finding (`prefix` is the managed one covering what it names, or null). `also`: the
 * other managed prefixes it names (each the one of ours covering what was named), for a notification about several:
 * the finding then lists them all in `prefixes`, and its Emergency buttons act on all of them. `notOurs`: what it
 * also named that is none of ours (shown, never acted on).
 */
export function cloudflareFinding(
  env: CloudflareEnvelope,
  managed: ManagedPrefix | null,
  named: string | null,
  now: number,
  several: { also?: { managed: ManagedPrefix; named: string }[]; notOurs?: string[] } = {},
): Finding {
  const type: FindingType = KNOWN[env.alert_type] ?? 'cloudflare_other';
  const data = env.data ?? {};
  const also = managed ? (several.also ?? []).filter((x, i, all) => x.managed.cidr !== managed.cidr && all.findIndex((y) => y.managed.cidr === x.managed.cidr) === i) : [];
  const ours = managed ? [managed.cidr, ...also.map((x) => x.managed.cidr)] : [];
  const what = ours.length > 1 ? prefixList(ours) : (named ?? 'a prefix');
  const title = TITLE[env.alert_type]?.(what) ?? `Cloudflare notification ${env.alert_type}${ours.length > 1 ? ` about ${what}` : named ? ` about ${named}` : ''}`;
  const facts: Finding['facts'] = [];
  if (named && managed && managed.cidr !== named) facts.push({ label: 'Reported prefix', value: named });
  if (named && !managed) facts.push({ label: 'Reported prefix', value: `${named} (not one of ours)` });
  for (const x of also) if (x.managed.cidr !== x.named) facts.push({ label: 'Reported prefix', value: `${x.named} (ours: ${x.managed.cidr})` });
  if (managed && several.notOurs?.length) facts.push({ label: 'Also named', value: `${prefixList(several.notOurs)} (not ours: never acted on)` });
  if (env.text) facts.push({ label: 'Cloudflare says', value: env.text.slice(0, 500) });
  if (type === 'fbm_auto_advertisement') for (const s of autoAdvertisementStatuses(data)) facts.push({ label: s.prefix, value: s.status });
  const skip = new Set(['prefix', 'prefixes', 'advertised_prefixes', 'prefix_configured']);
  for (const [k, v] of Object.entries(data).slice(0, 15)) if (!skip.has(k) && v !== null && v !== undefined) facts.push({ label: k, value: show(v) });
  if (env.policy_name) facts.push({ label: 'Notification policy', value: env.policy_name });
  if (env.alert_event) facts.push({ label: 'Event', value: env.alert_event === 'ALERT_STATE_EVENT_END' ? 'ended' : env.alert_event === 'ALERT_STATE_EVENT_START' ? 'started' : env.alert_event });
  let actions: AlertAction[] = ['acknowledge'];
  if (managed) {
    if (type === 'bgp_hijack_notification') actions = ['emergency_withdraw', 'emergency_advertise', 'acknowledge'];
    else if (type === 'fbm_volumetric_attack' || type === 'fbm_dosd_attack') actions = ['emergency_advertise', 'acknowledge'];
    else if (type === 'fbm_auto_advertisement') {
      const failed = autoAdvertisementStatuses(data).some((s) => !/^(already )?advertised$/i.test(s.status));
      actions = failed ? ['emergency_advertise', 'acknowledge'] : ['emergency_withdraw', 'acknowledge'];
    } else actions = ['emergency_withdraw', 'emergency_advertise', 'acknowledge'];
  }
  const key = `cloudflare:${env.alert_correlation_id ?? createHash('sha1').update(`${env.alert_type}|${env.policy_id ?? ''}|${named ?? ''}|${env.ts ?? ''}`).digest('hex')}`;
  return {
    key,
    source: 'cloudflare',
    type,
    prefix: managed?.cidr ?? null,
    ...(ours.length > 1 ? { prefixes: ours } : {}),
    ...(managed ? { accountId: managed.accountId } : {}),
    title,
    facts,
    observedAt: env.ts ? env.ts * 1000 : now,
    actions,
    raw: env,
  };
}

// ---- the detector's body ----

/**
 * The on-prem detector's notification (FastNetMon's JSON callback field names where natural):
 * `{ "ip": "203.0.113.7" | "prefix": "203.0.113.0/24", "action": "ban" | "unban" | "partial_block" | "start" | "end",
 *    "attack_details": { "attack_uuid", "attack_type", "attack_protocol", "attack_severity",
 *    "total_incoming_traffic" (bits/s), "total_incoming_pps", ... } }` — unknown fields are kept in the audit.
 */
export const detectorBody = z
  .object({
    ip: text(60).optional(),
    prefix: text(60).optional(),
    action: z.enum(['ban', 'unban', 'partial_block', 'start', 'end']),
    alert_scope: text(40).optional(),
    attack_details: z.record(z.string(), z.unknown()).optional(),
  })
  .passthrough()
  .refine((b) => b.ip !== undefined || b.prefix !== undefined, { message: 'name the attacked address as "ip" or "prefix"' });
export type DetectorBody = z.infer<typeof detectorBody>;

export function parseDetector(body: unknown): { ok: true; body: DetectorBody; cidr: string } | { ok: false; why: string } {
  const r = detectorBody.safeParse(body);
  if (!r.success) return { ok: false, why: `The detector's notification is not in the expected shape: ${r.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ')}.` };
  try {
    return { ok: true, body: r.data, cidr: asCidr(r.data.prefix ?? r.data.ip!) };
  } catch (err) {
    return { ok: false, why: `The detector named ${JSON.stringify((r.data.prefix ?? r.data.ip)!.slice(0, 60))}, which is not an IP address or prefix (${userMessageOf(err)}).` };
  }
}

export const isAttackStart = (b: DetectorBody) => b.action === 'ban' || b.action === 'partial_block' || b.action === 'start';

export function detectorFinding(b: DetectorBody, cidr: string, managed: ManagedPrefix | null, now: number): Finding {
  const d = b.attack_details ?? {};
  const facts: Finding['facts'] = [{ label: 'Attacked', value: b.ip ?? b.prefix ?? cidr }];
  if (!managed) facts.push({ label: 'Covering prefix', value: 'none of ours' });
  const bps = typeof d.total_incoming_traffic === 'number' ? d.total_incoming_traffic : null;
  if (bps !== null) facts.push({ label: 'Incoming', value: `${(bps / 1e6).toFixed(1)} Mbit/s` });
  for (const k of ['attack_type', 'attack_protocol', 'attack_severity', 'total_incoming_pps', 'attack_uuid', 'attack_detection_source']) {
    if (d[k] !== undefined && d[k] !== null) facts.push({ label: k, value: show(d[k]) });
  }
  return {
    key: `detector:${managed?.cidr ?? cidr}`,
    source: 'detector',
    type: 'detector_attack',
    prefix: managed?.cidr ?? null,
    ...(managed ? { accountId: managed.accountId } : {}),
    title: `DDoS detector: attack on ${b.ip ?? b.prefix ?? cidr}${managed ? `; advertising ${managed.cidr} through Cloudflare would draw it into scrubbing` : ''}`,
    facts,
    observedAt: now,
    actions: managed ? ['emergency_advertise', 'acknowledge'] : ['acknowledge'],
    raw: b,
  };
}

// ---- HTTP ----

export interface WebhookDeps {
  alerts: AlertStore;
  kinds: KindDeps;
  service: OperationService;
  logger: Logger;
  cloudflareSecret?: string | undefined;
  detectorSecret?: string | undefined;
  now?: () => number;
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

/** Constant time whatever the lengths: both sides hashed first. */
export function secretMatches(given: string | undefined, secret: string): boolean {
  if (given === undefined) return false;
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(secret).digest();
  return timingSafeEqual(a, b);
}

function answer(res: http.ServerResponse, status: number, body: Record<string, unknown>): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

/** The body, or null when it is larger than `max` (then the rest is read and dropped, so the 413 reaches the sender). */
function readBody(req: http.IncomingMessage, max: number): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    const chunks: Buffer[] = [];
    let size = 0;
    let over = declared > max;
    const timer = setTimeout(() => req.destroy(), 10_000);
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) over = true;
      if (!over) chunks.push(c);
    });
    req.on('end', () => {
      clearTimeout(timer);
      resolve(over ? null : Buffer.concat(chunks));
    });
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/** The two webhook routes, for Bolt's HTTPReceiver `customRoutes` and the ops server. */
export function webhookRoutes(deps: WebhookDeps): { path: string; method: string[]; handler: Handler }[] {
  const now = deps.now ?? Date.now;
  const said = new Set<string>();
  const sayOnce = (what: string, msg: string) => {
    if (said.has(what)) return;
    said.add(what);
    deps.logger.warn(msg);
  };
  const store = deps.service.store;

  /** Shared steps: secret, size, JSON, replay. Resolves with the parsed body, or null once it has answered. */
  const intake = async (req: http.IncomingMessage, res: http.ServerResponse, source: 'cloudflare' | 'detector', secret: string | undefined, given: string | undefined): Promise<{ body: unknown; seenKey: string } | null> => {
    if (!secret) {
      const env = source === 'cloudflare' ? 'CLOUDFLARE_WEBHOOK_SECRET' : 'DETECTOR_WEBHOOK_SECRET';
      sayOnce(source, `POST /webhooks/${source} is off: ${env} is not set, so every request to it is answered 503 (set it to turn the endpoint on)`);
      req.resume();
      answer(res, 503, { ok: false, error: `This endpoint is off: the bot has no ${env}.` });
      return null;
    }
    if (!secretMatches(given, secret)) {
      deps.logger.info({ source, remote: req.socket.remoteAddress, present: given !== undefined }, 'webhook refused: wrong or missing secret');
      req.resume();
      answer(res, 401, { ok: false, error: source === 'cloudflare' ? 'Missing or wrong cf-webhook-auth header.' : 'Missing or wrong bearer token.' });
      return null;
    }
    const raw = await readBody(req, WEBHOOK_MAX_BYTES);
    if (raw === null) {
      answer(res, 413, { ok: false, error: `The body is larger than ${WEBHOOK_MAX_BYTES / 1024} KiB; nothing was raised.` });
      return null;
    }
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      answer(res, 400, { ok: false, error: 'The body is not JSON; nothing was raised.' });
      return null;
    }
    const seenKey = store.key('webhook-seen', source, createHash('sha256').update(raw).digest('hex'));
    if ((await store.redis.set(seenKey, '1', 'PX', WEBHOOK_REPLAY_WINDOW_MS, 'NX')) !== 'OK') {
      deps.logger.info({ source }, 'webhook body seen before (a replay or a redelivery); acknowledged, nothing raised');
      answer(res, 200, { ok: true, duplicate: true });
      return null;
    }
    return { body, seenKey };
  };

  const fail = async (res: http.ServerResponse, seenKey: string | null, err: unknown, source: string) => {
    if (seenKey) await store.redis.del(seenKey).catch(() => undefined); // the sender's retry must get through
    deps.logger.error({ err, source }, 'webhook could not be handled');
    answer(res, 500, { ok: false, error: 'The bot could not record this notification; send it again.' });
  };

  const cloudflare: Handler = (req, res) => {
    let seenKey: string | null = null;
    void (async () => {
      const got = await intake(req, res, 'cloudflare', deps.cloudflareSecret, header(req, 'cf-webhook-auth'));
      if (!got) return;
      seenKey = got.seenKey;
      const parsed = parseCloudflare(got.body);
      if (parsed.kind === 'invalid') {
        await store.redis.del(got.seenKey);
        await store.audit({ type: 'webhook_refused', opId: '-', actor: 'cloudflare', data: { why: parsed.why } });
        answer(res, 400, { ok: false, error: parsed.why });
        return;
      }
      if (parsed.kind === 'test') {
        const t = now();
        const { alertId } = await deps.alerts.raise({ key: 'cloudflare:webhook-test', source: 'cloudflare', type: 'cloudflare_other', prefix: null, title: 'Cloudflare webhook connected: its test message arrived', facts: [], observedAt: t, actions: [] });
        await deps.alerts.resolve('cloudflare:webhook-test', 'test message: webhook connected, nothing to do', t);
        answer(res, 200, { ok: true, test: true, alert: alertId });
        return;
      }
      const env = parsed.envelope;
      const type: FindingType = KNOWN[env.alert_type] ?? 'cloudflare_other';
      const named = prefixesOf(type, env.data ?? {});
      const found = await findManaged(deps.kinds, named);
      const managed = found && 'managed' in found ? found : null;
      const finding = cloudflareFinding(env, managed?.managed ?? null, managed?.named ?? named[0] ?? null, now(), managed ? { also: managed.all, notOurs: managed.notOurs } : {});
      if (found && 'unreadable' in found) unknownOwner(finding, found.unreadable);
      if (!found && named.length) deps.logger.info({ alertType: env.alert_type, prefixes: named.slice(0, 5) }, 'Cloudflare notification about a prefix that is not one of ours');
      if (env.alert_event === 'ALERT_STATE_EVENT_END') {
        const done = await deps.alerts.resolve(finding.key, 'Cloudflare: the event ended', finding.observedAt);
        if (done) {
          answer(res, 200, { ok: true, alert: done.alertId, resolved: true });
          return;
        }
        // The end of an event we never saw start: one card that says it happened and is over.
        const { alertId } = await deps.alerts.raise(finding);
        await deps.alerts.resolve(finding.key, 'Cloudflare: the event ended (its start was not received)', finding.observedAt);
        answer(res, 200, { ok: true, alert: alertId, resolved: true });
        return;
      }
      const { alertId, created } = await deps.alerts.raise(finding);
      answer(res, 200, { ok: true, alert: alertId, created, ours: managed !== null });
    })().catch((err: unknown) => fail(res, seenKey, err, 'cloudflare'));
  };

  const detector: Handler = (req, res) => {
    let seenKey: string | null = null;
    void (async () => {
      const auth = header(req, 'authorization');
      const token = auth?.match(/^Bearer\s+(.+)$/i)?.[1];
      const got = await intake(req, res, 'detector', deps.detectorSecret, token);
      if (!got) return;
      seenKey = got.seenKey;
      const parsed = parseDetector(got.body);
      if (!parsed.ok) {
        await store.redis.del(got.seenKey);
        await store.audit({ type: 'webhook_refused', opId: '-', actor: 'detector', data: { why: parsed.why } });
        answer(res, 400, { ok: false, error: parsed.why });
        return;
      }
      const found = await findManaged(deps.kinds, [parsed.cidr]);
      const managed = found && 'managed' in found ? found.managed : null;
      const finding = detectorFinding(parsed.body, parsed.cidr, managed, now());
      if (found && 'unreadable' in found) unknownOwner(finding, found.unreadable);
      if (!isAttackStart(parsed.body)) {
        const done = await deps.alerts.resolve(finding.key, 'the detector says the attack ended', now());
        answer(res, 200, { ok: true, resolved: done !== null, ...(done ? { alert: done.alertId } : {}) });
        return;
      }
      const { alertId, created } = await deps.alerts.raise(finding);
      let advertise: string | null = null;
      if (managed && created && autoAdvertises(deps.kinds.policy, managed.cidr)) advertise = await autoAdvertise(deps, alertId, managed.cidr, finding.title);
      answer(res, 200, { ok: true, alert: alertId, created, ours: managed !== null, ...(advertise ? { advertise } : {}) });
    })().catch((err: unknown) => fail(res, seenKey, err, 'detector'));
  };

  return [
    { path: '/webhooks/cloudflare', method: ['POST'], handler: cloudflare },
    { path: '/webhooks/detector', method: ['POST'], handler: detector },
  ];
}

/** Cloudflare could not be read and the policy does not list it: the card says we could not tell, not "not ours". */
function unknownOwner(f: Finding, why: string): void {
  f.facts = f.facts.map((x) => (x.value.endsWith('(not one of ours)') ? { ...x, value: x.value.replace('(not one of ours)', '(could not tell whether it is ours)') } : x.label === 'Covering prefix' ? { ...x, value: 'could not tell' } : x));
  f.facts.unshift({ label: 'Cloudflare unreadable', value: `whether this prefix is ours could not be checked: ${why}` });
}

const header = (req: http.IncomingMessage, name: string): string | undefined => {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
};

/** How many prefixes of one notification are looked up (what one multi-prefix confirm step can list). */
const MAX_NAMED = MAX_BATCH_PREFIXES;

type Match = { managed: ManagedPrefix; named: string };

/**
 * The named prefixes that one of ours covers (or contains), read from Cloudflare (emergency class: incident time),
 * looked up in parallel through the shared reader: `managed` / `named` the first in the notification's order, `all`
 * every match in that order (a notification about several of our prefixes), `notOurs` what is none of ours. When
 * Cloudflare cannot be read, the policy's own prefix list answers instead, and `unreadable` says why: "not one of
 * ours" is never said on a guess.
 */
async function findManaged(kinds: KindDeps, named: string[]): Promise<(Match & { all: Match[]; notOurs: string[] }) | { unreadable: string } | null> {
  let unreadable: string | null = null;
  const looked = await Promise.all(
    [...new Set(named)].slice(0, MAX_NAMED).map(async (n): Promise<Match | 'not_ours' | null> => {
      let cidr: string;
      try {
        cidr = asCidr(n);
      } catch {
        return null; // not a prefix: shown as reported, never acted on
      }
      try {
        const m = await withRequestClass('emergency', () => coveringManaged(kinds, cidr));
        return m ? { managed: m, named: n } : 'not_ours';
      } catch (err) {
        unreadable = userMessageOf(err);
        const p = kinds.policy.prefixes.find((x) => covers(x.cidr, cidr));
        return p ? { managed: { cidr: p.cidr, accountId: '', prefixId: '', accountPrefix: p.cidr, advertised: null }, named: n } : null;
      }
    }),
  );
  const all = looked.filter((m): m is Match => m !== null && m !== 'not_ours');
  if (all.length) {
    const notOurs = [...new Set(named)].slice(0, MAX_NAMED).filter((_, i) => looked[i] === 'not_ours');
    return { ...all[0]!, all, notOurs };
  }
  return unreadable ? { unreadable } : null;
}

/**
 * `auto_advertise: true`: the detector's attack start advertises the covering prefix at once through break glass
 * (actor "detector", under the break-glass cap, reviewed afterwards like any break glass), once per attack: the alert
 * is new, and a marker per alert guards against a second send. The card says what happened either way.
 */
async function autoAdvertise(deps: WebhookDeps, alertId: string, cidr: string, title: string): Promise<string> {
  const store = deps.service.store;
  if ((await store.redis.set(store.key('detector-advertised', alertId), '1', 'PX', 7 * 86_400_000, 'NX')) !== 'OK') return 'already handled';
  try {
    const op = await deps.service.breakGlass({ kind: 'advertise', cidr, userId: 'detector', reason: `Detector: ${title}`.slice(0, 500), system: true });
    await deps.alerts.note(alertId, `Advertised automatically through break glass (policy auto_advertise): request ${op.id}; an approver reviews it afterwards.`, 'detector');
    return `sent (request ${op.id})`;
  } catch (err) {
    const why = userMessageOf(err);
    if (!isBotError(err)) deps.logger.error({ err, alertId }, 'automatic advertise failed');
    await deps.alerts.note(alertId, `Automatic advertise NOT sent: ${why}`, 'detector');
    return `not sent: ${why}`;
  }
}
