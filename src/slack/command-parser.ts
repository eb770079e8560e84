import { parseCidr } from '../domain/cidr.js';
import { BotError, InvalidInputError } from '../errors.js';
import { ADDRESS_MAP_ACTIONS, isAddressMapAction, type AddressMapAction } from '../kinds/address-map.js';

export type ParsedCommand =
  | { kind: 'help' }
  | { kind: 'status'; cidr?: string }
  | { kind: 'advertise' | 'withdraw' | 'validate' | 'bind'; cidr: string; reason: string }
  | { kind: 'onboard'; cidr: string; asn: number; reason: string }
  | { kind: 'unbind' | 'undelegate'; cidr: string; target: string; reason: string }
  | { kind: 'delegate'; cidr: string; target: string; account: string; reason: string }
  | { kind: 'delegations'; cidr: string }
  | { kind: 'bgp_create' | 'bgp_delete'; prefix: string; cidr: string; reason: string }
  | { kind: 'emergency'; action: 'advertise' | 'withdraw'; cidr: string; reason: string }
  /** Several prefixes at once (`a,b,c`) or `--all`: one confirm step, one card, one break-glass use. */
  | { kind: 'emergency-batch'; action: 'advertise' | 'withdraw'; cidrs: string[] | 'all'; reason: string }
  | { kind: 'preflight'; cidr: string; asn?: number }
  | { kind: 'address-map'; action: 'create'; cidr: string; reason: string }
  | { kind: 'address-map'; action: Exclude<AddressMapAction, 'create'>; mapId: string; value: string; reason: string }
  | { kind: 'address-map-show'; target: { mapId: string } | { cidr: string } }
  | { kind: 'loa'; cidr: string }
  | { kind: 'audit'; target: { opId: string } | { prefix: string }; page: number };

export const USAGE = [
  '`/byoip help` — this list',
  '`/byoip status [cidr]` — prefixes, their services and open requests',
  '`/byoip advertise <cidr>` · `/byoip withdraw <cidr>` — through Cloudflare (needs approval)',
  '`/byoip onboard <cidr> <asn>` — add a prefix to Cloudflare (needs approval)',
  '`/byoip validate <cidr>` — ask Cloudflare to validate it (needs approval)',
  '`/byoip bind <prefix>` · `unbind <prefix> <cidr>` — service bindings (needs approval; 4-6 h)',
  '`/byoip delegate <prefix> <cidr> <account-id>` · `undelegate <prefix> <cidr>` · `delegations <prefix>`',
  '`/byoip address-map create <prefix>` · `<action> <map-id> [value]` · `show <map-id|prefix>`',
  '`/byoip bgp create|delete <prefix> <bgp-prefix>` — more-specific BGP prefixes (created withdrawn; needs approval)',
  '`/byoip emergency withdraw|advertise <cidr>[,<cidr>…]|--all <reason>` — on call only, no approval, reviewed afterwards',
  '`/byoip audit <prefix|request id> [page]` — the audit trail · `/byoip loa <prefix>` — its LOA',
  '`/byoip preflight <cidr> [asn]` — ROA, IRR and ownership token before onboarding',
].join('\n');

/** `a,b,c` (no spaces): each a CIDR; a bad one is named by its place in the list, and nothing else is looked at. */
function parseCidrList(text: string): string[] {
  const items = text.split(',');
  return items.map((item, i) => {
    if (!item.trim()) throw new InvalidInputError(`Item ${i + 1} of the list \`{list}\` is empty: separate the prefixes with single commas and no spaces, e.g. \`203.0.113.0/24,198.51.100.0/24\`. Nothing was sent.`, { list: text.slice(0, 200) });
    try {
      return parseCidr(item).text;
    } catch (err) {
      if (err instanceof BotError) throw new BotError(err.code, `Item ${i + 1} of the list: ${err.template} Nothing was sent for any prefix of the list.`, false, { texts: err.texts, people: err.people });
      throw err;
    }
  });
}

/** Parses the text after `/byoip`. Throws InvalidInputError with a sentence saying what to type instead. */
export function parseCommand(text: string): ParsedCommand {
  const words = text.trim().split(/\s+/).filter(Boolean);
  const sub = (words[0] ?? 'help').toLowerCase();
  const rest = words.slice(1);
  switch (sub) {
    case 'help':
    case '?':
      return { kind: 'help' };
    case 'status':
      return rest[0] ? { kind: 'status', cidr: parseCidr(rest[0]).text } : { kind: 'status' };
    case 'advertise':
    case 'withdraw':
    case 'validate':
    case 'bind': {
      if (!rest[0]) throw new InvalidInputError(`Say which prefix: \`/byoip ${sub} <cidr>\`, e.g. \`/byoip ${sub} 203.0.113.0/24\`.`);
      return { kind: sub, cidr: parseCidr(rest[0]).text, reason: rest.slice(1).join(' ') };
    }
    case 'unbind':
    case 'undelegate': {
      if (!rest[0] || !rest[1]) throw new InvalidInputError(`Say which prefix and which CIDR of it: \`/byoip ${sub} <prefix> <cidr>\`, e.g. \`/byoip ${sub} 203.0.113.0/24 203.0.113.16/29\`.`);
      return { kind: sub, cidr: parseCidr(rest[0]).text, target: parseCidr(rest[1]).text, reason: rest.slice(2).join(' ') };
    }
    case 'delegate': {
      if (!rest[0] || !rest[1] || !rest[2]) {
        throw new InvalidInputError('Say which prefix, which CIDR of it and the account to delegate to: `/byoip delegate <prefix> <cidr> <account-id>`, e.g. `/byoip delegate 203.0.113.0/24 203.0.113.128/25 <32-hex account id>`.');
      }
      const account = rest[2].toLowerCase();
      if (!/^[0-9a-f]{32}$/.test(account)) {
        throw new InvalidInputError('`{word}` is not a Cloudflare account id (32 hexadecimal characters): copy the id of the account that should use the addresses from its dashboard.', { word: rest[2].slice(0, 40) });
      }
      return { kind: 'delegate', cidr: parseCidr(rest[0]).text, target: parseCidr(rest[1]).text, account, reason: rest.slice(3).join(' ') };
    }
    case 'delegations': {
      if (!rest[0]) throw new InvalidInputError('Say which prefix: `/byoip delegations <prefix>`, e.g. `/byoip delegations 203.0.113.0/24`.');
      return { kind: 'delegations', cidr: parseCidr(rest[0]).text };
    }
    case 'bgp': {
      const action = (rest[0] ?? '').toLowerCase();
      if ((action !== 'create' && action !== 'delete') || !rest[1] || !rest[2]) {
        throw new InvalidInputError('Say what to do, the prefix and the BGP prefix: `/byoip bgp create <prefix> <bgp-prefix>` or `/byoip bgp delete <prefix> <bgp-prefix>`, e.g. `/byoip bgp create 203.0.113.0/24 203.0.113.0/25`.');
      }
      return { kind: action === 'create' ? 'bgp_create' : 'bgp_delete', prefix: parseCidr(rest[1]).text, cidr: parseCidr(rest[2]).text, reason: rest.slice(3).join(' ') };
    }
    case 'emergency':
    case 'break-glass': {
      const action = (rest[0] ?? '').toLowerCase();
      if ((action !== 'withdraw' && action !== 'advertise') || !rest[1]) {
        throw new InvalidInputError('Break glass takes the action, the prefix and the reason in one line: `/byoip emergency withdraw <cidr> <reason>` (on-call group only).');
      }
      const reason = rest.slice(2).join(' ');
      if (rest[1].toLowerCase() === '--all') return { kind: 'emergency-batch', action, cidrs: 'all', reason };
      if (rest[1].includes(',')) return { kind: 'emergency-batch', action, cidrs: parseCidrList(rest[1]), reason };
      return { kind: 'emergency', action, cidr: parseCidr(rest[1]).text, reason };
    }
    case 'onboard': {
      if (!rest[0] || !rest[1]) throw new InvalidInputError('Say which prefix and the ASN it is announced under: `/byoip onboard <cidr> <asn>`, e.g. `/byoip onboard 192.0.2.0/24 13335`.');
      return { kind: 'onboard', cidr: parseCidr(rest[0]).text, asn: parseAsnWord(rest[1]), reason: rest.slice(2).join(' ') };
    }
    case 'audit': {
      const what = rest[0];
      if (!what) throw new InvalidInputError('Say what to show: `/byoip audit <prefix>` or `/byoip audit <request id>` (the id is on every card), then a page number for older lines.');
      const pageWord = rest[1];
      const page = pageWord === undefined ? 1 : Number(pageWord);
      if (!Number.isInteger(page) || page < 1 || page > 1000) throw new InvalidInputError('The page is a whole number from 1 (newest) up, e.g. `/byoip audit 203.0.113.0/24 2`.');
      if (/^[0-9a-f]{16}$/.test(what)) return { kind: 'audit', target: { opId: what }, page };
      return { kind: 'audit', target: { prefix: parseCidr(what).text }, page };
    }
    case 'address-map':
    case 'address-maps':
      return parseAddressMap(rest);
    case 'loa': {
      if (!rest[0]) throw new InvalidInputError('Say which prefix: `/byoip loa <prefix>`, e.g. `/byoip loa 203.0.113.0/24`.');
      return { kind: 'loa', cidr: parseCidr(rest[0]).text };
    }
    case 'preflight': {
      if (!rest[0]) throw new InvalidInputError('Say which prefix: `/byoip preflight <cidr> [asn]`, e.g. `/byoip preflight 203.0.113.0/24 13335`.');
      const cidr = parseCidr(rest[0]).text;
      if (rest[1] === undefined) return { kind: 'preflight', cidr };
      return { kind: 'preflight', cidr, asn: parseAsnWord(rest[1]) };
    }
    default:
      throw new InvalidInputError(`\`{word}\` is not a /byoip command. Try one of these:\n${USAGE}`, { word: sub });
  }
}

function parseAsnWord(word: string): number {
  const asnText = word.replace(/^AS/i, '');
  const asn = Number(asnText);
  if (!/^\d+$/.test(asnText) || !Number.isInteger(asn) || asn < 1 || asn > 4_294_967_295) {
    throw new InvalidInputError('`{word}` is not an AS number: use a whole number from 1 to 4294967295, e.g. `13335` or `AS64500`.', { word });
  }
  return asn;
}

const NEEDS_VALUE: ReadonlySet<string> = new Set(['add-ip', 'remove-ip', 'add-zone', 'remove-zone']);
const MAP_ID = /^[0-9a-f]{32}$/i;

function parseAddressMap(rest: string[]): ParsedCommand {
  const action = (rest[0] ?? '').toLowerCase();
  if (action === 'show' || action === 'list') {
    const what = rest[1];
    if (!what) throw new InvalidInputError('Say which map or prefix: `/byoip address-map show <map-id>` or `/byoip address-map show 203.0.113.0/24`.');
    return { kind: 'address-map-show', target: MAP_ID.test(what) ? { mapId: what.toLowerCase() } : { cidr: parseCidr(what).text } };
  }
  if (!isAddressMapAction(action)) {
    throw new InvalidInputError(`\`{word}\` is not an address map action. Use \`show\`, or one of ${ADDRESS_MAP_ACTIONS.map((a) => `\`${a}\``).join(', ')}: e.g. \`/byoip address-map add-ip <map-id> 203.0.113.2\`.`, { word: action || '(none)' });
  }
  if (action === 'create') {
    if (!rest[1]) throw new InvalidInputError('Say whose addresses the map uses: `/byoip address-map create <prefix>`, e.g. `/byoip address-map create 203.0.113.0/24`.');
    return { kind: 'address-map', action, cidr: parseCidr(rest[1]).text, reason: rest.slice(2).join(' ') };
  }
  const mapId = rest[1];
  if (!mapId || !MAP_ID.test(mapId)) throw new InvalidInputError(`Say which map by its id (32 hexadecimal characters; see \`/byoip address-map show <prefix>\`): \`/byoip address-map ${action} <map-id>${NEEDS_VALUE.has(action) ? ' <value>' : ''}\`.`);
  const takesValue = NEEDS_VALUE.has(action) || action === 'add-account' || action === 'remove-account';
  const value = takesValue && rest[2] && (NEEDS_VALUE.has(action) || MAP_ID.test(rest[2])) ? rest[2] : '';
  if (NEEDS_VALUE.has(action) && !value) {
    throw new InvalidInputError(`Say ${action.endsWith('ip') ? 'which address' : 'which zone id'}: \`/byoip address-map ${action} <map-id> ${action.endsWith('ip') ? '<ip>' : '<zone-id>'}\`.`);
  }
  return { kind: 'address-map', action, mapId: mapId.toLowerCase(), value, reason: rest.slice(value ? 3 : 2).join(' ') };
}
