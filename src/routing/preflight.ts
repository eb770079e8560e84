import { MAX_ANNOUNCE_LENGTH, isAnnounceable, parseCidr, type Cidr } from '../domain/cidr.js';
import { reverseZones, validationRecordName } from '../domain/reverse-zones.js';
import { checkAnnounceLengths, checkAsn, coveringPrefix, subPrefixes } from '../domain/routing-prefixes.js';
import { BotError, ErrorCode } from '../errors.js';
import { mapLimit } from '../limit.js';
import { DnsTxtClient, type TxtAnswer, type TxtResolver } from './dns.js';
import { IrrClient, validationTokens, type IrrLookup } from './irr.js';
import { LookingGlassClient } from './looking-glass.js';
import { RoutingStatusClient } from './routing-status.js';
import { FallbackRpkiValidator, RipestatRpkiClient, RoutinatorClient, type RpkiValidator, type RpkiValidity } from './rpki.js';
import { DEFAULT_ROUTING_TIMEOUT_MS } from './http.js';

export const CLOUDFLARE_ASN = 13335;
/** Most sub-prefixes per announced length we query (a /20 announced as /24s is 16). */
export const MAX_PREFIXES_PER_LENGTH = 16;
const DNS_CONCURRENCY = 16;

export type PreflightStatus = 'pass' | 'fail' | 'unknown';

export interface PreflightLine {
  check: string;
  status: PreflightStatus;
  detail: string;
  fix?: string;
}

export interface PreflightReport {
  cidr: string;
  asn: number;
  /** fail if any line fails, else unknown if any is unknown, else pass. */
  status: PreflightStatus;
  lines: PreflightLine[];
  checkedAt: Date;
  /**
   * Why there is no ownership-token line: the prefix is not on Cloudflare yet (no token issued), Cloudflare could
   * not be read just now (`detail` says why), or Cloudflare shows no token for it.
   */
  tokenSkipped?: { why: 'not_on_cloudflare' | 'cloudflare_unreadable' | 'no_token'; detail?: string };
}

export interface PreflightInput {
  cidr: string;
  /** The ASN that will announce the prefix; AS13335 when Cloudflare does. */
  asn?: number;
  ownershipToken?: string;
  /** Lengths that will be announced (the whole prefix and/or BGP prefixes inside it); defaults to the prefix's own. */
  announceLengths?: number[];
}

/** The routing-view adapters. */
export interface RoutingDeps {
  rpki: RpkiValidator;
  irr: Pick<IrrClient, 'routeObjects'>;
  dns: TxtResolver;
  lookingGlass: LookingGlassClient;
  routingStatus: RoutingStatusClient;
  now?: () => Date;
}

export interface RoutingSettings {
  /** RIPESTAT_URL, `https://stat.ripe.net`. */
  ripestatUrl: string;
  /** RPKI_VALIDATOR_URL, a Routinator (or rpki.cloudflare.com); RIPEstat rpki-validation is the fallback. */
  routinatorUrl?: string;
  /** IRR_WHOIS_HOST / IRR_WHOIS_PORT, an IRRd (whois.radb.net:43). */
  irrHost: string;
  irrPort: number;
  /** DNS_SERVER `host:port`; empty means the system's resolvers. */
  dnsServer?: string;
  timeoutMs?: number;
  /** RIPESTAT_SOURCEAPP. */
  sourceApp?: string;
  now?: () => Date;
}

export function createRoutingDeps(config: RoutingSettings): RoutingDeps {
  const timeoutMs = config.timeoutMs ?? DEFAULT_ROUTING_TIMEOUT_MS;
  const ripe = { baseUrl: config.ripestatUrl, timeoutMs, ...(config.sourceApp ? { sourceApp: config.sourceApp } : {}) };
  const ripeRpki = new RipestatRpkiClient(ripe);
  return {
    rpki: config.routinatorUrl ? new FallbackRpkiValidator([new RoutinatorClient({ baseUrl: config.routinatorUrl, timeoutMs }), ripeRpki]) : ripeRpki,
    irr: new IrrClient({ host: config.irrHost, port: config.irrPort, timeoutMs }),
    dns: new DnsTxtClient({ ...(config.dnsServer ? { server: config.dnsServer } : {}), timeoutMs }),
    lookingGlass: new LookingGlassClient({ ...ripe, ...(config.now ? { now: config.now } : {}) }),
    routingStatus: new RoutingStatusClient(ripe),
    ...(config.now ? { now: config.now } : {}),
  };
}

/**
 * Checks what Cloudflare will check at validation, before it fails hours later with one word: the prefix size,
 * RPKI for every length that will be announced, IRR route objects with the right origin, and the ownership token
 * in the IRR or in every reverse zone. A service that does not answer makes its line `unknown`, never a crash.
 * Throws InvalidInputError for a bad prefix, ASN, or length.
 */
export async function runPreflight(input: PreflightInput, deps: RoutingDeps): Promise<PreflightReport> {
  const cidr = parseCidr(input.cidr);
  const asn = checkAsn(input.asn ?? CLOUDFLARE_ASN);
  const token = input.ownershipToken?.trim() || undefined;
  const checkedAt = deps.now?.() ?? new Date();
  const max = MAX_ANNOUNCE_LENGTH[cidr.version];

  if (!isAnnounceable(cidr)) {
    const lines: PreflightLine[] = [
      {
        check: 'Prefix size',
        status: 'fail',
        detail: `${cidr.text} is longer than /${max}: Cloudflare only onboards and announces IPv${cidr.version} prefixes of /${max} or shorter, and longer ones are filtered on the Internet.`,
        fix: `Onboard the covering /${max} (${coveringPrefix(cidr, max)}) instead.`,
      },
    ];
    return { cidr: cidr.text, asn, status: 'fail', lines, checkedAt };
  }
  const lengths = checkAnnounceLengths(cidr, input.announceLengths);

  const sizeLine: PreflightLine = {
    check: 'Prefix size',
    status: 'pass',
    detail: `${cidr.text} can be announced (IPv${cidr.version} /${max} or shorter)${lengths.length > 1 || lengths[0] !== cidr.length ? `; announced as ${lengths.map((l) => `/${l}`).join(', ')}` : ''}.`,
  };

  const irrExact = settle(deps.irr.routeObjects(cidr.text));
  const rpkiLines = Promise.all(lengths.map((l) => rpkiLine(cidr, l, asn, deps.rpki, lengths[lengths.length - 1]!)));
  const irrLines = Promise.all(lengths.map((l) => irrLine(cidr, l, asn, deps.irr, l === cidr.length ? irrExact : undefined)));
  const tokenLine = token ? ownershipLine(cidr, token, irrExact, deps.dns) : Promise.resolve(undefined);

  const [rpki, irr, tokenResult] = await Promise.all([rpkiLines, irrLines, tokenLine]);
  const lines = [sizeLine, ...rpki, ...irr, ...(tokenResult ? [tokenResult] : [])];
  const status: PreflightStatus = lines.some((l) => l.status === 'fail') ? 'fail' : lines.some((l) => l.status === 'unknown') ? 'unknown' : 'pass';
  return { cidr: cidr.text, asn, status, lines, checkedAt };
}

type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

function settle<T>(p: Promise<T>): Promise<Settled<T>> {
  return p.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
}

/** The user-facing sentence of a routing failure; anything that is not a routing BotError is a bug and is rethrown. */
function unknownDetail(error: unknown): string {
  if (error instanceof BotError && (error.code === ErrorCode.RoutingUnavailable || error.code === ErrorCode.RoutingBadResponse)) return error.userMessage;
  throw error;
}

function lengthLabel(cidr: Cidr, length: number): string {
  return length === cidr.length ? cidr.text : `/${length}s in ${cidr.text}`;
}

function list(items: string[], max = 4): string {
  return items.length <= max ? items.join(', ') : `${items.slice(0, max).join(', ')} and ${items.length - max} more`;
}

async function rpkiLine(cidr: Cidr, length: number, asn: number, rpki: RpkiValidator, longest: number): Promise<PreflightLine> {
  const { prefixes, total } = subPrefixes(cidr, length, MAX_PREFIXES_PER_LENGTH);
  const check = `RPKI for ${lengthLabel(cidr, length)}`;
  const results = await Promise.all(prefixes.map((p) => settle(rpki.validity(asn, p))));
  const partial = total > prefixes.length ? ` (checked the first ${prefixes.length} of ${total})` : '';
  const ok: RpkiValidity[] = [];
  const failures: string[] = [];
  for (const r of results) {
    if (r.ok) ok.push(r.value);
    else failures.push(unknownDetail(r.error));
  }
  // Invalid before not-found: an invalid route is dropped by filtering networks, a not-found one only fails validation.
  const invalid = ok.filter((v) => v.state !== 'valid').sort((a, b) => Number(a.state === 'not-found') - Number(b.state === 'not-found'));
  if (invalid.length > 0) {
    const first = invalid[0]!;
    const prefixesText = list(invalid.map((v) => v.prefix));
    if (first.state === 'not-found') {
      return {
        check,
        status: 'fail',
        detail: `No ROA covers ${prefixesText}, so it is RPKI not-found for AS${asn}; Cloudflare requires a ROA that lets AS${asn} originate it${partial}.`,
        fix: `Create a ROA for ${cidr.text} with origin AS${asn} and maxLength ${longest} at your RIR.`,
      };
    }
    if (first.reason === 'length') {
      const short = first.vrps.filter((v) => v.relation === 'length');
      const ours = short.find((v) => v.asn === asn);
      const roaText = short.map((v) => `${v.prefix} AS${v.asn} maxLength ${v.maxLength}`).join('; ');
      return {
        check,
        status: 'fail',
        detail: `RPKI invalid (length): the ROA ${roaText} does not allow /${length}, so ${prefixesText} announced by AS${asn} would be dropped by networks that filter RPKI invalids${partial}.`,
        fix: ours
          ? `Raise the maxLength of the ROA ${ours.prefix} AS${asn} to ${longest}, or add a ROA for ${cidr.text} with origin AS${asn} and maxLength ${longest}.`
          : `Add a ROA for ${cidr.text} with origin AS${asn} and maxLength ${longest}.`,
      };
    }
    const others = [...new Set(first.vrps.filter((v) => v.relation === 'as').map((v) => `AS${v.asn}`))];
    const ownShort = first.vrps.find((v) => v.relation === 'length' && v.asn === asn);
    const shortNote = ownShort ? ` The AS${asn} ROA ${ownShort.prefix} allows only up to /${ownShort.maxLength}.` : '';
    return {
      check,
      status: 'fail',
      detail: `RPKI invalid (origin): the ROAs covering ${prefixesText} name ${list(others)}, not AS${asn}${partial}.${shortNote}`,
      fix: `Add a ROA for ${cidr.text} with origin AS${asn} and maxLength ${longest}; keep the ${list(others)} ROA only while that network still announces the prefix.`,
    };
  }
  if (failures.length > 0) {
    return { check, status: 'unknown', detail: failures[0]!, fix: 'Run the preflight again once the RPKI validator answers.' };
  }
  const roas = [...new Set(ok.flatMap((v) => v.vrps.filter((x) => x.relation === 'matched').map((x) => `${x.prefix} maxLength ${x.maxLength}`)))];
  return {
    check,
    status: 'pass',
    detail: `RPKI valid: AS${asn} may originate ${list(ok.map((v) => v.prefix))} (ROA ${list(roas, 2)}; ${ok[0]?.source ?? 'validator'})${partial}.`,
  };
}

async function irrLine(
  cidr: Cidr,
  length: number,
  asn: number,
  irr: Pick<IrrClient, 'routeObjects'>,
  exact: Promise<Settled<IrrLookup>> | undefined,
): Promise<PreflightLine> {
  const { prefixes, total } = subPrefixes(cidr, length, MAX_PREFIXES_PER_LENGTH);
  const check = `IRR route object for ${lengthLabel(cidr, length)}`;
  const partial = total > prefixes.length ? ` (checked the first ${prefixes.length} of ${total})` : '';
  const results = await Promise.all(prefixes.map((p, i) => (i === 0 && exact ? exact : settle(irr.routeObjects(p)))));
  const good: string[] = [];
  const wrongOrigin: { prefix: string; objects: string[] }[] = [];
  const pseudoOnly: string[] = [];
  const missing: string[] = [];
  const errors: string[] = [];
  const coveringNotes = new Set<string>();
  results.forEach((r, i) => {
    const prefix = prefixes[i]!;
    if (!r.ok) return void errors.push(unknownDetail(r.error));
    const real = r.value.routeObjects;
    for (const c of r.value.coveringObjects) if (c.origin === asn) coveringNotes.add(`${c.prefix} AS${c.origin} (${c.source})`);
    if (real.some((o) => o.origin === asn)) good.push(`${prefix} (${list([...new Set(real.filter((o) => o.origin === asn).map((o) => o.source))])})`);
    else if (real.length > 0) wrongOrigin.push({ prefix, objects: real.map((o) => `AS${o.origin} in ${o.source}`) });
    else if (r.value.rpkiPseudoObjects.length > 0) pseudoOnly.push(prefix);
    else missing.push(prefix);
  });
  const covering =
    coveringNotes.size > 0
      ? ` A covering route object exists (${list([...coveringNotes], 2)}), but Cloudflare wants one for the exact prefix it announces.`
      : '';
  const create = (p: string) => `\`route${p.includes(':') ? '6' : ''}: ${p}\` with \`origin: AS${asn}\``;
  if (wrongOrigin.length > 0) {
    const w = wrongOrigin[0]!;
    return {
      check,
      status: 'fail',
      detail: `Wrong origin: the route object for ${w.prefix} has ${list(w.objects)}, not AS${asn}${wrongOrigin.length > 1 ? ` (and ${wrongOrigin.length - 1} more prefixes)` : ''}${partial}.${covering}`,
      fix: `Create ${create(w.prefix)} in your RIR's IRR database (or RADB) for each announced prefix; keep the other object only while that network still announces it.`,
    };
  }
  if (pseudoOnly.length > 0) {
    return {
      check,
      status: 'fail',
      detail: `Only an RPKI pseudo route object (source RPKI, generated by IRRd from the ROA) exists for ${list(pseudoOnly)}; it is not an IRR route object and Cloudflare does not count it${partial}.${covering}`,
      fix: `Create ${create(pseudoOnly[0]!)} in your RIR's IRR database (or RADB).`,
    };
  }
  if (missing.length > 0) {
    return {
      check,
      status: 'fail',
      detail: `No IRR route object for ${list(missing)}${partial}.${covering}`,
      fix: `Create ${create(missing[0]!)} in your RIR's IRR database (or RADB) for each announced prefix.`,
    };
  }
  if (errors.length > 0) return { check, status: 'unknown', detail: errors[0]!, fix: 'Run the preflight again once the IRR server answers.' };
  return { check, status: 'pass', detail: `Route object with origin AS${asn}: ${list(good, 3)}${partial}.` };
}

async function ownershipLine(cidr: Cidr, token: string, irrExact: Promise<Settled<IrrLookup>>, dns: TxtResolver): Promise<PreflightLine> {
  const check = 'Ownership token';
  const irr = await irrExact;
  let irrNote = '';
  if (irr.ok) {
    const withToken = irr.value.routeObjects.find((o) => validationTokens(o).includes(token));
    if (withToken) {
      return { check, status: 'pass', detail: `Found \`cf-validation: ${token}\` in the route object for ${cidr.text} in ${withToken.source}.` };
    }
    const stale = irr.value.routeObjects.flatMap((o) => validationTokens(o)).filter((t) => t !== token);
    const inCovering = irr.value.coveringObjects.find((o) => validationTokens(o).includes(token));
    irrNote =
      stale.length > 0
        ? `The IRR route object carries a different token (${stale[0]}). `
        : inCovering
          ? `Only the covering route object ${inCovering.prefix} (${inCovering.source}) carries the token; put it on the route object for ${cidr.text}. `
          : 'Not in the IRR route object. ';
  } else {
    irrNote = `IRR not checked: ${unknownDetail(irr.error)} `;
  }

  const zones = reverseZones(cidr);
  const answers = await mapLimit(zones, DNS_CONCURRENCY, (z) => settle(dns.txt(validationRecordName(z))));
  const present: string[] = [];
  const absent: { zone: string; why: string }[] = [];
  const errors: string[] = [];
  answers.forEach((a, i) => {
    const zone = zones[i]!;
    if (!a.ok) return void errors.push(unknownDetail(a.error));
    const values = (a.value as TxtAnswer).values.map((v) => v.trim());
    if (values.includes(token)) present.push(zone);
    else absent.push({ zone, why: values.length > 0 ? `has ${values.map((v) => `"${v}"`).join(', ')}` : 'no TXT record' });
  });
  if (absent.length === 0 && errors.length === 0) {
    return { check, status: 'pass', detail: `${irrNote}Found in ${zones.length === 1 ? 'the reverse zone' : `all ${zones.length} reverse zones`}: ${list(present.map(validationRecordName), 3)}.` };
  }
  const fix =
    `Add \`${absent.map((a) => `${validationRecordName(a.zone)}. IN TXT "${token}"`).slice(0, 4).join('`, `')}\`` +
    `${absent.length > 4 ? ` and ${absent.length - 4} more` : ''} (the zone must be delegated from your RIR), or add \`remarks: cf-validation: ${token}\` to the route object for ${cidr.text}.`;
  if (absent.length > 0) {
    // Without the IRR answer the token may still be there, so a DNS gap is only certain when the IRR answered.
    return {
      check,
      status: irr.ok ? 'fail' : 'unknown',
      detail: `${irrNote}${present.length === 0 ? 'Not in the reverse DNS either' : `Found in ${present.length} of ${zones.length} reverse zones`}; missing in ${list(absent.map((a) => `${a.zone} (${a.why})`), 3)}. Cloudflare needs it in every reverse zone.`,
      fix,
    };
  }
  return { check, status: 'unknown', detail: `${irrNote}${errors[0]}`, fix: 'Run the preflight again once DNS answers.' };
}
