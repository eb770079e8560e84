/**
 * Address maps: which BYOIP addresses Cloudflare's DNS answers with for proxied hostnames of the member zones (or of
 * the whole account). One kind, one mutation per request, chosen by `params.action`: create (a form: description,
 * IPs, zones, account membership, enabled, default SNI), add-ip / remove-ip, add-zone / remove-zone, add-account /
 * remove-account, enable / disable, delete. Cloudflare-managed maps are explained, never attempted: IPs of a map with
 * `can_modify_ips: false`, and deleting a map with `can_delete: false`. The card says whose DNS answers change (a zone
 * membership outranks an account membership). Apply reads the map first and skips what is already true; a create is
 * never sent again without a read that shows the first did not land. Verify: one read shows the change.
 */
import type { AddressMap } from '../domain/addressing.js';
import { ipInCidr, parseIp, parseIpList } from '../domain/address-space.js';
import { checkAddressMapIps } from '../domain/binding-rules.js';
import { BotError, ErrorCode, InvalidInputError } from '../errors.js';
import { listPrefixes } from './lookup.js';
import type { ChangeKind, KindDeps, Target } from './types.js';

export const ADDRESS_MAP_ACTIONS = ['create', 'add-ip', 'remove-ip', 'add-zone', 'remove-zone', 'add-account', 'remove-account', 'enable', 'disable', 'delete'] as const;
export type AddressMapAction = (typeof ADDRESS_MAP_ACTIONS)[number];
export const isAddressMapAction = (v: string): v is AddressMapAction => (ADDRESS_MAP_ACTIONS as readonly string[]).includes(v);

const HEX32 = /^[0-9a-f]{32}$/;

/** What a map looks like to the rules: its IPs and memberships (get answers carry them). */
export interface MapShape {
  id: string;
  description: string | null;
  enabled: boolean;
  defaultSni: string | null;
  canDelete: boolean;
  canModifyIps: boolean;
  ips: string[];
  zones: string[];
  accounts: string[];
}

export function shapeOf(m: AddressMap): MapShape {
  const ms = m.memberships ?? [];
  return {
    id: m.id,
    description: m.description,
    enabled: m.enabled === true,
    defaultSni: m.defaultSni,
    canDelete: m.canDelete,
    canModifyIps: m.canModifyIps,
    ips: (m.ips ?? []).map((i) => i.ip),
    zones: ms.filter((x) => x.kind === 'zone').map((x) => x.identifier),
    accounts: ms.filter((x) => x.kind === 'account').map((x) => x.identifier),
  };
}

/** Whose DNS answers the change moves: none (a disabled map, no members), some zones, or the whole account. */
export interface DnsEffect {
  changes: boolean;
  zones: string[];
  accountWide: boolean;
  /** The map has both zone and account memberships: the zones' own membership wins for them. */
  precedence: boolean;
}

/** The map as it will be after `action` with `value` (pure). */
export function afterChange(m: MapShape, action: AddressMapAction, value: string): MapShape {
  const without = (xs: string[]) => xs.filter((x) => x !== value);
  const withIt = (xs: string[]) => (xs.includes(value) ? xs : [...xs, value]);
  switch (action) {
    case 'add-ip':
      return { ...m, ips: withIt(m.ips) };
    case 'remove-ip':
      return { ...m, ips: without(m.ips) };
    case 'add-zone':
      return { ...m, zones: withIt(m.zones) };
    case 'remove-zone':
      return { ...m, zones: without(m.zones) };
    case 'add-account':
      return { ...m, accounts: withIt(m.accounts) };
    case 'remove-account':
      return { ...m, accounts: without(m.accounts) };
    case 'enable':
      return { ...m, enabled: true };
    case 'disable':
      return { ...m, enabled: false };
    default:
      return m;
  }
}

/** Which answers change between `before` (null: the map does not exist yet) and `after` (null: deleted). */
export function dnsEffect(before: MapShape | null, after: MapShape | null): DnsEffect {
  const live = (m: MapShape | null) => (m && m.enabled ? m : null);
  const b = live(before);
  const a = live(after);
  const zones = new Set<string>();
  let accountWide = false;
  const answersDiffer = JSON.stringify([...(b?.ips ?? [])].sort()) !== JSON.stringify([...(a?.ips ?? [])].sort());
  for (const z of new Set([...(b?.zones ?? []), ...(a?.zones ?? [])])) {
    const was = b?.zones.includes(z) ?? false;
    const is = a?.zones.includes(z) ?? false;
    if (was !== is || (was && answersDiffer)) zones.add(z);
  }
  const accWas = (b?.accounts.length ?? 0) > 0;
  const accIs = (a?.accounts.length ?? 0) > 0;
  if (accWas !== accIs || (accIs && answersDiffer)) accountWide = true;
  const shape = a ?? b;
  return { changes: zones.size > 0 || accountWide, zones: [...zones], accountWide, precedence: !!shape && shape.zones.length > 0 && shape.accounts.length > 0 };
}

const notFound = (err: unknown) => err instanceof BotError && err.code === ErrorCode.CloudflareNotFound;

/** The map `mapId` on one of the policy's accounts, read in full; null when no account has it. */
export async function findMap(deps: KindDeps, mapId: string): Promise<{ accountId: string; map: AddressMap } | null> {
  for (const account of deps.policy.cloudflare.accounts) {
    const maps = await deps.cloudflare.listAddressMaps(account.id);
    if (!maps.some((m) => m.id === mapId)) continue;
    return { accountId: account.id, map: await deps.cloudflare.getAddressMap(account.id, mapId) };
  }
  return null;
}

/**
 * Which account prefix an edit of `mapId` is filed under (the engine holds one open request per prefix): the prefix
 * holding the IP named, else the map's first IP, else the account's first prefix.
 */
export async function locateMap(deps: KindDeps, mapId: string, value?: string): Promise<{ cidr: string; accountId: string }> {
  const id = mapId.toLowerCase();
  if (!HEX32.test(id)) throw new InvalidInputError('`{word}` is not an address map id: it is 32 hexadecimal characters (see /byoip address-map show <prefix>).', { word: mapId.slice(0, 40) });
  const found = await findMap(deps, id);
  if (!found) {
    const names = deps.policy.cloudflare.accounts.map((a) => a.name).join(', ');
    throw new InvalidInputError(`There is no address map ${id} on the Cloudflare accounts this bot manages (${names}). See the maps with /byoip address-map show <prefix>.`);
  }
  const prefixes = await listPrefixes(deps, found.accountId);
  const ips = [...(value && isIpText(value) ? [value] : []), ...(found.map.ips ?? []).map((i) => i.ip)];
  for (const ip of ips) {
    const p = prefixes.find((x) => safeIn(ip, x.cidr));
    if (p) return { cidr: p.cidr, accountId: found.accountId };
  }
  if (!prefixes[0]) throw new InvalidInputError(`The account of address map ${id} has no BYOIP prefix, so this bot cannot change it.`);
  return { cidr: prefixes[0].cidr, accountId: found.accountId };
}

function isIpText(v: string): boolean {
  try {
    parseIp(v);
    return true;
  } catch {
    return false;
  }
}

function safeIn(ip: string, cidr: string): boolean {
  try {
    return ipInCidr(ip, cidr);
  } catch {
    return false;
  }
}

const yes = (v: string | undefined) => /^(yes|true|on|enabled?)$/i.test((v ?? '').trim());
const list = (v: string | undefined) => (v ?? '').split(/[\s,;]+/).map((x) => x.trim().toLowerCase()).filter(Boolean);

/** Refusals of an edit against the map as it is (immutable maps, can_delete false, nothing to do...). */
export function editProblems(m: MapShape, action: AddressMapAction, value: string, accountPrefixes: string[]): string[] {
  const id = m.id;
  switch (action) {
    case 'add-ip':
    case 'remove-ip': {
      if (!m.canModifyIps) {
        return [
          `Address map ${id} is managed by Cloudflare (can_modify_ips is false: an immutable map, e.g. the account-wide fallback or a static-IP map), so its IPs cannot be changed through the API. Nothing was sent. To answer some zones with other addresses, create a zone-level map (/byoip address-map create <prefix>); a zone membership outranks the account-wide map.`,
        ];
      }
      if (action === 'remove-ip') return m.ips.includes(value) ? [] : [`The address ${value} is not on address map ${id} (it has ${m.ips.join(', ') || 'no IPs'}); nothing to remove.`];
      if (m.ips.includes(value)) return [`The address ${value} is already on address map ${id}; nothing to add.`];
      return checkAddressMapIps(accountPrefixes, [value]).map((v) => v.message);
    }
    case 'add-zone':
      return m.zones.includes(value) ? [`Zone ${value} is already a member of address map ${id}; nothing to add.`] : [];
    case 'remove-zone':
      return m.zones.includes(value) ? [] : [`Zone ${value} is not a member of address map ${id}; nothing to remove.`];
    case 'add-account':
      return m.accounts.includes(value) ? [`Account ${value} is already a member of address map ${id}; nothing to add.`] : [];
    case 'remove-account':
      return m.accounts.includes(value) ? [] : [`Account ${value} is not a member of address map ${id}; nothing to remove.`];
    case 'enable':
      return m.enabled ? [`Address map ${id} is already enabled; nothing to change.`] : [];
    case 'disable':
      return m.enabled ? [] : [`Address map ${id} is already disabled; nothing to change.`];
    case 'delete':
      if (!m.canDelete) {
        return [
          `Address map ${id} cannot be deleted: Cloudflare manages it (can_delete is false; immutable maps such as the account-wide fallback are never deleted). Nothing was sent. Disable it or change its members instead, or ask your Cloudflare account team.`,
        ];
      }
      if (m.enabled) return [`Address map ${id} is enabled, and Cloudflare deletes only disabled maps: run /byoip address-map disable ${id} first, then delete it.`];
      return [];
    default:
      return [];
  }
}

/** The value an edit names, checked and canonical (an IP, a zone id, an account id). */
export function editValue(action: AddressMapAction, raw: string | undefined, accountId: string): string {
  const v = (raw ?? '').trim();
  if (action === 'add-ip' || action === 'remove-ip') {
    if (!v) throw new InvalidInputError(`Say which address: /byoip address-map ${action} <map-id> <ip>, e.g. 203.0.113.2.`);
    try {
      return parseIp(v).text;
    } catch {
      throw new InvalidInputError('`{word}` is not an IP address: give one address, IPv4 as 203.0.113.16 or IPv6 as 2001:db8::10.', { word: v.slice(0, 45) });
    }
  }
  if (action === 'add-zone' || action === 'remove-zone') {
    if (!HEX32.test(v.toLowerCase())) throw new InvalidInputError(`Say which zone by its id (32 hexadecimal characters, on the zone's overview page): /byoip address-map ${action} <map-id> <zone-id>.`);
    return v.toLowerCase();
  }
  if (action === 'add-account' || action === 'remove-account') {
    const a = (v || accountId).toLowerCase();
    if (a !== accountId) throw new InvalidInputError(`An account membership names the map's own account (${accountId}); leave the account out.`);
    return a;
  }
  return '';
}

async function accountCidrs(deps: KindDeps, accountId: string): Promise<string[]> {
  return (await listPrefixes(deps, accountId)).map((p) => p.cidr);
}

const str = (v: unknown) => (typeof v === 'string' ? v : '');
const strs = (v: unknown) => (Array.isArray(v) ? (v as unknown[]).map(String) : []);

/** The map the create will make, as the rules see it. */
function createdShape(params: Record<string, unknown>): MapShape {
  return {
    id: '(new)',
    description: str(params.description) || null,
    enabled: params.enabled === true,
    defaultSni: str(params.defaultSni) || null,
    canDelete: true,
    canModifyIps: true,
    ips: strs(params.ips),
    zones: strs(params.zones),
    accounts: params.account === true ? [str(params.accountId)] : [],
  };
}

async function intakeCreate(deps: KindDeps, cidr: string, form: Record<string, string> | undefined): Promise<Target> {
  let found: { accountId: string; prefixId: string } | null = null;
  for (const account of deps.policy.cloudflare.accounts) {
    const p = (await listPrefixes(deps, account.id)).find((x) => x.cidr === cidr);
    if (p) {
      found = { accountId: account.id, prefixId: p.id };
      break;
    }
  }
  if (!found) {
    const names = deps.policy.cloudflare.accounts.map((a) => a.name).join(', ');
    throw new InvalidInputError(`${cidr} is not a prefix on the Cloudflare accounts this bot manages (${names}). An address map uses addresses of a prefix you onboarded; see them with /byoip status.`);
  }
  const base = { accountId: found.accountId, prefixId: found.prefixId, bgpPrefixId: null };
  if (!form) return { ...base, params: { action: 'create' }, before: {} };
  const problems: string[] = [];
  let ips: string[] = [];
  try {
    ips = parseIpList(form.ips ?? '');
  } catch (err) {
    problems.push(err instanceof BotError ? err.userMessage : 'The IP list could not be read: list addresses separated by spaces or commas.');
  }
  if (!problems.length) problems.push(...checkAddressMapIps(await accountCidrs(deps, found.accountId), ips).map((v) => v.message));
  const zones = list(form.zones);
  const badZone = zones.find((z) => !HEX32.test(z));
  if (badZone) problems.push(`"${badZone.slice(0, 40)}" is not a zone id: zone ids are 32 hexadecimal characters (on the zone's overview page).`);
  if (new Set(zones).size !== zones.length) problems.push('A zone is listed more than once; list each zone once.');
  const sni = (form.sni ?? '').trim();
  if (sni && !/^(\*\.)?([a-z0-9-]+\.)+[a-z]{2,}$/i.test(sni)) problems.push(`"${sni.slice(0, 60)}" is not a host name for the default SNI (e.g. *.example.com).`);
  const description = (form.description ?? '').trim();
  if (description.length > 200) problems.push('Keep the description under 200 characters.');
  if (problems.length) throw new InvalidInputError(problems.slice(0, 3).join(' '));
  return {
    ...base,
    params: { action: 'create', accountId: found.accountId, description, ips, zones, account: yes(form.account), enabled: yes(form.enabled), defaultSni: sni || null, accountPrefix: cidr },
    before: {},
  };
}

export const addressMap: ChangeKind = {
  kind: 'address-map',
  breakGlass: false,
  async intake(deps, req): Promise<Target> {
    const action = req.form?.action ?? 'create';
    if (!isAddressMapAction(action)) throw new InvalidInputError(`Unknown address map action; use one of ${ADDRESS_MAP_ACTIONS.join(', ')}.`);
    if (action === 'create') return intakeCreate(deps, req.cidr, req.form && Object.keys(req.form).some((k) => k !== 'action') ? req.form : undefined);
    const mapId = (req.form?.mapId ?? '').toLowerCase();
    const found = HEX32.test(mapId) ? await findMap(deps, mapId) : null;
    if (!found) throw new InvalidInputError(`There is no address map ${mapId.slice(0, 40)} on the accounts this bot manages; see the maps with /byoip address-map show <prefix>.`);
    const prefixes = await listPrefixes(deps, found.accountId);
    const owner = prefixes.find((p) => p.cidr === req.cidr);
    const value = editValue(action, req.form?.value, found.accountId);
    const before = shapeOf(found.map);
    const problems = editProblems(before, action, value, prefixes.map((p) => p.cidr));
    if (problems.length) throw new InvalidInputError(problems.slice(0, 3).join(' '));
    const effect = dnsEffect(before, action === 'delete' ? null : afterChange(before, action, value));
    return {
      accountId: found.accountId,
      prefixId: owner?.id ?? '',
      bgpPrefixId: null,
      params: { action, mapId, value, accountId: found.accountId, description: before.description, map: before, dns: effect },
      before: { map: before },
    };
  },
  async plan(deps, op) {
    const action = str(op.params.action) as AddressMapAction;
    const now = deps.now();
    let problems: string[] = [];
    let effect: DnsEffect;
    let shape: MapShape | null = null;
    if (action === 'create') {
      shape = createdShape(op.params);
      problems = shape.ips.length ? checkAddressMapIps(await accountCidrs(deps, op.accountId), shape.ips).map((v) => v.message) : [];
      effect = dnsEffect(null, shape);
    } else {
      const m = shapeOf(await deps.cloudflare.getAddressMap(op.accountId, str(op.params.mapId)));
      shape = m;
      // Against the map as it is now; "already true" is not a block (apply skips it).
      problems = editProblems(m, action, str(op.params.value), await accountCidrs(deps, op.accountId)).filter((p) => !/already|nothing to|is not on|is not a member/.test(p));
      effect = dnsEffect(m, action === 'delete' ? null : afterChange(m, action, str(op.params.value)));
    }
    const guards = [{ id: 'address-map-rules', status: problems.length ? ('block' as const) : ('pass' as const), overridable: false, facts: { problems }, checkedAt: now }];
    const checks = [{ id: 'address-map:dns', result: 'pass' as const, facts: { ...effect, enabled: shape?.enabled ?? false, members: (shape?.zones.length ?? 0) + (shape?.accounts.length ?? 0) } }];
    return { guards, checks };
  },
  async apply(deps, op, tools) {
    const action = str(op.params.action) as AddressMapAction;
    const a = op.accountId;
    if (action === 'create') return applyCreate(deps, op, tools);
    const mapId = str(op.params.mapId);
    const value = str(op.params.value);
    let current: MapShape | null = null;
    try {
      current = shapeOf(await deps.cloudflare.getAddressMap(a, mapId));
    } catch (err) {
      if (!(notFound(err) && action === 'delete')) throw err;
    }
    await tools.audit('cloudflare_read', { addressMap: current });
    const base = `/accounts/${a}/addressing/address_maps/${mapId}`;
    if (!current) return { outcome: tools.calledBefore ? 'called' : 'skipped', request: `DELETE ${base}`, result: { deleted: true }, facts: { action, mapId } };
    const wanted = action === 'delete' ? null : afterChange(current, action, value);
    if (wanted && JSON.stringify(wanted) === JSON.stringify(current)) {
      return { outcome: tools.calledBefore ? 'called' : 'skipped', request: `${action} ${mapId}`, result: { already: true }, facts: { action, mapId, value } };
    }
    // Cloudflare-managed maps: explained, never attempted.
    const hard = editProblems(current, action, value, await accountCidrs(deps, a)).filter((p) => /can_modify_ips|can_delete|is enabled, and Cloudflare/.test(p));
    if (hard.length) return { outcome: 'refused', step: 'address_map_refused', facts: { action, mapId, problems: hard } };
    const calls: Record<Exclude<AddressMapAction, 'create'>, [string, () => Promise<unknown>]> = {
      'add-ip': [`PUT ${base}/ips/${value}`, () => deps.cloudflare.addAddressMapIp(a, mapId, value)],
      'remove-ip': [`DELETE ${base}/ips/${value}`, () => deps.cloudflare.removeAddressMapIp(a, mapId, value)],
      'add-zone': [`PUT ${base}/zones/${value}`, () => deps.cloudflare.addAddressMapZone(a, mapId, value)],
      'remove-zone': [`DELETE ${base}/zones/${value}`, () => deps.cloudflare.removeAddressMapZone(a, mapId, value)],
      'add-account': [`PUT ${base}/accounts/${value}`, () => deps.cloudflare.addAddressMapAccount(a, mapId)],
      'remove-account': [`DELETE ${base}/accounts/${value}`, () => deps.cloudflare.removeAddressMapAccount(a, mapId)],
      enable: [`PATCH ${base} {"enabled":true}`, () => deps.cloudflare.updateAddressMap(a, mapId, { enabled: true })],
      disable: [`PATCH ${base} {"enabled":false}`, () => deps.cloudflare.updateAddressMap(a, mapId, { enabled: false })],
      delete: [`DELETE ${base}`, () => deps.cloudflare.deleteAddressMap(a, mapId)],
    };
    const [request, call] = calls[action];
    await tools.send(request, call);
    return { outcome: 'called', request, result: { action, mapId, value }, facts: { action, mapId, value } };
  },
  async verify(deps, op) {
    const action = str(op.params.action) as AddressMapAction;
    const mapId = str(op.params.mapId);
    if (action === 'delete') {
      try {
        await deps.cloudflare.getAddressMap(op.accountId, mapId);
      } catch (err) {
        if (notFound(err)) return { events: [], verdict: { verdict: 'done', step: 'address_map_changed', facts: { action, mapId } } };
        throw err;
      }
      return { events: [], verdict: { verdict: 'failed', step: 'address_map_not_shown', facts: { action, mapId } } };
    }
    const m = shapeOf(await deps.cloudflare.getAddressMap(op.accountId, mapId));
    const value = str(op.params.value);
    const want = action === 'create' ? createdShape({ ...op.params, accountId: op.accountId }) : null;
    const holds =
      action === 'create'
        ? want!.ips.every((ip) => m.ips.includes(ip)) && want!.zones.every((z) => m.zones.includes(z)) && m.enabled === want!.enabled && (!want!.defaultSni || m.defaultSni === want!.defaultSni) && (want!.accounts.length === 0 || m.accounts.length > 0)
        : JSON.stringify(afterChange(m, action, value)) === JSON.stringify(m);
    const facts = { action, mapId, value, enabled: m.enabled, ips: m.ips, zones: m.zones, accounts: m.accounts };
    return { events: [], verdict: holds ? { verdict: 'done', step: 'address_map_changed', facts } : { verdict: 'failed', step: 'address_map_not_shown', facts } };
  },
};

async function applyCreate(deps: KindDeps, op: Parameters<ChangeKind['apply']>[1], tools: Parameters<ChangeKind['apply']>[2]) {
  const a = op.accountId;
  const want = createdShape({ ...op.params, accountId: a });
  let mapId = str(op.params.mapId);
  if (!mapId && tools.calledBefore) {
    // A create is never sent twice: an earlier attempt may have landed; find a map exactly like ours.
    for (const m of await deps.cloudflare.listAddressMaps(a)) {
      if ((m.description ?? '') !== (want.description ?? '')) continue;
      const full = shapeOf(await deps.cloudflare.getAddressMap(a, m.id));
      if (JSON.stringify([...full.ips].sort()) === JSON.stringify([...want.ips].sort()) && want.zones.every((z) => full.zones.includes(z))) {
        mapId = m.id;
        break;
      }
    }
    await tools.audit('cloudflare_read', { lookedFor: 'an earlier create', found: mapId || null });
  }
  let outcome: 'called' | 'skipped' = tools.calledBefore ? 'called' : 'skipped';
  if (!mapId) {
    const memberships = [...want.zones.map((z) => ({ kind: 'zone' as const, identifier: z })), ...(want.accounts.length ? [{ kind: 'account' as const, identifier: a }] : [])];
    const body = { description: want.description, enabled: want.enabled, ips: want.ips, memberships };
    const created = await tools.send(`POST /accounts/${a}/addressing/address_maps ${JSON.stringify(body)}`, () => deps.cloudflare.createAddressMap(a, body));
    mapId = created.id;
    outcome = 'called';
  }
  // Cloudflare's create takes no default SNI: it is set by an edit of the new map (skipped when already set).
  if (want.defaultSni) {
    const now = await deps.cloudflare.getAddressMap(a, mapId);
    if (now.defaultSni !== want.defaultSni) {
      await tools.send(`PATCH /accounts/${a}/addressing/address_maps/${mapId} {"default_sni":"${want.defaultSni}"}`, () => deps.cloudflare.updateAddressMap(a, mapId, { defaultSni: want.defaultSni }));
      outcome = 'called';
    }
  }
  const facts = { action: 'create', mapId, ips: want.ips, zones: want.zones };
  return { outcome, request: `POST .../address_maps`, result: facts, facts, patch: { params: { ...op.params, mapId } } };
}

/** `/byoip address-map show <id|prefix>`: the maps (one by id, or every map with an IP inside the prefix), read only. */
export async function addressMapReport(deps: KindDeps, target: { mapId: string } | { cidr: string }): Promise<{ maps: MapShape[]; cidr: string | null }> {
  if ('mapId' in target) {
    const found = await findMap(deps, target.mapId.toLowerCase());
    return { maps: found ? [shapeOf(found.map)] : [], cidr: null };
  }
  const out: MapShape[] = [];
  for (const account of deps.policy.cloudflare.accounts) {
    for (const m of await deps.cloudflare.listAddressMaps(account.id)) {
      const full = shapeOf(await deps.cloudflare.getAddressMap(account.id, m.id));
      if (full.ips.some((ip) => safeIn(ip, target.cidr))) out.push(full);
      if (out.length >= 20) break;
    }
  }
  return { maps: out, cidr: target.cidr };
}
