import { parseCidr } from '../domain/cidr.js';
import { InvalidInputError } from '../errors.js';

export type ParsedCommand =
  | { kind: 'help' }
  | { kind: 'status'; cidr?: string }
  | { kind: 'advertise' | 'withdraw' | 'validate' | 'bind'; cidr: string; reason: string }
  | { kind: 'onboard'; cidr: string; asn: number; reason: string }
  | { kind: 'bgp_create' | 'bgp_delete'; prefix: string; cidr: string; reason: string }
  | { kind: 'emergency'; action: 'advertise' | 'withdraw'; cidr: string; reason: string }
  | { kind: 'preflight'; cidr: string; asn?: number }
  | { kind: 'loa'; cidr: string }
  | { kind: 'audit'; target: { opId: string } | { prefix: string }; page: number };

export const USAGE = [
  '`/byoip help` — this list',
  '`/byoip status [cidr]` — prefixes, their BGP state and open requests',
  '`/byoip advertise <cidr> [reason]` — ask to advertise a BGP prefix through Cloudflare (needs approval)',
  '`/byoip withdraw <cidr> [reason]` — ask to withdraw it from Cloudflare (needs approval)',
  '`/byoip onboard <cidr> <asn>` — add a prefix to Cloudflare (the card shows the pre-flight first; needs approval)',
  '`/byoip validate <cidr>` — run the preflight, then ask Cloudflare to validate a prefix waiting for approval (needs approval)',
  '`/byoip bind <prefix>` — bind a CIDR or a list of IPs of a prefix to Magic Transit, CDN or Spectrum (needs approval; 4-6 h to provision)',
  '`/byoip bgp create <prefix> <bgp-prefix>` — create a BGP prefix (the prefix or a more specific part, /24 or /48 at most; created withdrawn; needs approval)',
  '`/byoip bgp delete <prefix> <bgp-prefix>` — delete a withdrawn BGP prefix (needs approval)',
  '`/byoip emergency withdraw|advertise <cidr> <reason>` — on call only: act now without approval (limited uses, reviewed afterwards)',
  '`/byoip audit <prefix|request id> [page]` — the audit trail, newest first',
  '`/byoip loa <prefix>` — the prefix\'s Letter of Agency: its document id and how it was made',
  '`/byoip preflight <cidr> [asn]` — check ROA, IRR route object and ownership token before onboarding',
].join('\n');

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
      return { kind: 'emergency', action, cidr: parseCidr(rest[1]).text, reason: rest.slice(2).join(' ') };
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
