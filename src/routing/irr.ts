import net from 'node:net';
import { parseCidr } from '../domain/cidr.js';
import { BotError } from '../errors.js';
import { DEFAULT_ROUTING_TIMEOUT_MS, badResponse, unavailable, type ServiceLabel } from './http.js';
import { parseAsn } from './ripestat.js';

/** IRRd's pseudo source for route objects made from ROAs; they are not IRR route objects. */
export const RPKI_PSEUDO_SOURCE = 'RPKI';

/** One route/route6 object as read from RPSL text. */
export interface IrrRouteObject {
  prefix: string;
  origin: number;
  source: string;
  descr: string[];
  remarks: string[];
  /** IRRd's `rpki-ov-state` annotation when the server is RPKI-aware (`valid`, `invalid`, `not_found`). */
  rpkiState?: string;
}

export interface IrrLookup {
  prefix: string;
  /** Real IRR route objects for exactly `prefix` (pseudo objects with source RPKI left out). */
  routeObjects: IrrRouteObject[];
  /** IRRd's RPKI pseudo objects for the prefix, kept apart so a report can say why they do not count. */
  rpkiPseudoObjects: IrrRouteObject[];
  /** `!r<prefix>,o` as the server answered it (includes pseudo objects' origins). */
  rawOrigins: number[];
  /** Real route objects for less-specific prefixes covering `prefix` (Cloudflare wants exact ones, but they explain a gap). */
  coveringObjects: IrrRouteObject[];
}

/** One framed IRRd answer: `A<len>\n<data>\nC`, `C`, `D` or `F <message>`. */
export type IrrdAnswer = { kind: 'data'; text: string } | { kind: 'empty' } | { kind: 'not-found' } | { kind: 'error'; message: string };

/**
 * IRRd whois over TCP (port 43): one connection per look-up in multiple-command mode (`!!`), with the RPKI filter
 * off (`!fno-rpki-filter`) because RPKI-aware IRRd hides RPKI-invalid route objects by default, which would make a
 * wrong-origin object look missing.
 */
export class IrrClient {
  private readonly host: string;
  private readonly port: number;
  private readonly timeoutMs: number;
  private readonly clientId: string;

  constructor(opts: { host: string; port?: number; timeoutMs?: number; clientId?: string }) {
    this.host = opts.host;
    this.port = opts.port ?? 43;
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_ROUTING_TIMEOUT_MS;
    this.clientId = opts.clientId ?? 'byoip-bot';
  }

  /** Route objects for exactly `prefix` (`!r<prefix>,L` gives them together with the covering ones). */
  async routeObjects(prefix: string): Promise<IrrLookup> {
    const cidr = parseCidr(prefix);
    const label: ServiceLabel = { service: `IRR (${this.host}:${this.port})`, doing: `looking up route objects for ${cidr.text}` };
    const [, , origins, objects] = await this.query([`!n${this.clientId}`, '!fno-rpki-filter', `!r${cidr.text},o`, `!r${cidr.text},L`], label);
    const rawOrigins = origins!.kind === 'data' ? origins!.text.split(/\s+/).flatMap((t) => parseAsn(t) ?? []) : [];
    if (origins!.kind === 'error') throw badResponse(label, `error: ${origins!.message}`);
    if (objects!.kind === 'error') throw badResponse(label, `error: ${objects!.message}`);
    const all = objects!.kind === 'data' ? parseRpslRoutes(objects!.text) : [];
    const exact = all.filter((o) => samePrefix(o.prefix, cidr.text));
    const real = (o: IrrRouteObject) => o.source.toUpperCase() !== RPKI_PSEUDO_SOURCE;
    return {
      coveringObjects: all.filter((o) => real(o) && !samePrefix(o.prefix, cidr.text)),
      prefix: cidr.text,
      routeObjects: exact.filter((o) => o.source.toUpperCase() !== RPKI_PSEUDO_SOURCE),
      rpkiPseudoObjects: exact.filter((o) => o.source.toUpperCase() === RPKI_PSEUDO_SOURCE),
      rawOrigins,
    };
  }

  /** Sends `commands` in multiple-command mode and reads one framed answer per command. */
  async query(commands: string[], label: ServiceLabel): Promise<IrrdAnswer[]> {
    return new Promise<IrrdAnswer[]>((resolve, reject) => {
      const socket = net.connect({ host: this.host, port: this.port });
      let buffer = Buffer.alloc(0);
      const answers: IrrdAnswer[] = [];
      let settled = false;
      const finish = (err: BotError | undefined) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.destroy();
        if (err) reject(err);
        else resolve(answers);
      };
      const timer = setTimeout(() => finish(unavailable(label, `did not answer within ${this.timeoutMs} ms`)), this.timeoutMs);
      socket.on('connect', () => socket.write(['!!', ...commands].join('\n') + '\n'));
      socket.on('error', (err) => finish(unavailable(label, 'could not be reached', err)));
      socket.on('close', () => finish(unavailable(label, `closed the connection after ${answers.length} of ${commands.length} answers`)));
      socket.on('data', (chunk: Buffer) => {
        buffer = Buffer.concat([buffer, chunk]);
        try {
          for (;;) {
            const parsed = readAnswer(buffer);
            if (!parsed) break;
            answers.push(parsed.answer);
            buffer = buffer.subarray(parsed.used);
            if (answers.length === commands.length) {
              socket.end('!q\n');
              return finish(undefined);
            }
          }
        } catch (err) {
          finish(err instanceof BotError ? err : badResponse(label, err instanceof Error ? err.message : 'unreadable answer', err));
        }
      });
    });
  }
}

/** Reads one framed answer from the start of `buf`; null when more bytes are needed. Throws on garbage. */
export function readAnswer(buf: Buffer): { answer: IrrdAnswer; used: number } | null {
  const nl = buf.indexOf(0x0a);
  if (nl < 0) {
    if (buf.length > 64) throw new Error('not an IRRd answer');
    return null;
  }
  const head = buf.subarray(0, nl).toString('utf8').replace(/\r$/, '');
  if (head === 'C') return { answer: { kind: 'empty' }, used: nl + 1 };
  if (head === 'D') return { answer: { kind: 'not-found' }, used: nl + 1 };
  if (head.startsWith('F')) return { answer: { kind: 'error', message: head.slice(1).trim() }, used: nl + 1 };
  const m = /^A(\d{1,9})$/.exec(head);
  if (!m) throw new Error(`not an IRRd answer: ${JSON.stringify(head.slice(0, 40))}`);
  const len = Number(m[1]);
  const start = nl + 1;
  // The length counts the data plus its final newline, then "C\n" follows. IRRd counts characters, not bytes,
  // so data with non-ASCII text (a descr with accents) is longer in bytes than announced.
  for (const dataBytes of [codePointBytes(buf.subarray(start), len), len]) {
    if (dataBytes === undefined || buf.length < start + dataBytes + 1) continue;
    if (buf[start + dataBytes] !== 0x43 /* C */) continue;
    if (buf.length < start + dataBytes + 2) return null;
    const text = buf.subarray(start, start + dataBytes).toString('utf8');
    const used = start + dataBytes + (buf[start + dataBytes + 1] === 0x0a ? 2 : 1);
    return { answer: { kind: 'data', text: text.replace(/\n$/, '') }, used };
  }
  // Not complete yet, unless even the longest UTF-8 reading of the length is already in the buffer.
  if (buf.length < start + len * 4 + 2) return null;
  throw new Error('IRRd answer not terminated by C');
}

/** Bytes taken by the first `count` code points of `buf`, or undefined when the buffer holds fewer. */
function codePointBytes(buf: Buffer, count: number): number | undefined {
  let bytes = 0;
  for (let i = 0; i < count; i++) {
    const b = buf[bytes];
    if (b === undefined) return undefined;
    bytes += b < 0x80 ? 1 : b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2;
  }
  return bytes <= buf.length ? bytes : undefined;
}

/** Parses RPSL text with route/route6 objects separated by blank lines; other classes are skipped. */
export function parseRpslRoutes(text: string): IrrRouteObject[] {
  const out: IrrRouteObject[] = [];
  for (const block of text.split(/\r?\n\s*\r?\n/)) {
    const attrs: [string, string][] = [];
    for (const line of block.split(/\r?\n/)) {
      if (line.startsWith('%') || line.startsWith('#') || line.trim() === '') continue;
      if (/^[ \t+]/.test(line) && attrs.length > 0) {
        const last = attrs[attrs.length - 1]!;
        last[1] = `${last[1]} ${line.replace(/^\+/, '').trim()}`.trim();
        continue;
      }
      const m = /^([A-Za-z0-9-]+):\s*(.*)$/.exec(line);
      if (m) attrs.push([m[1]!.toLowerCase(), m[2]!.trim()]);
    }
    const cls = attrs[0]?.[0];
    if (cls !== 'route' && cls !== 'route6') continue;
    const get = (k: string) => attrs.filter(([a]) => a === k).map(([, v]) => stripComment(v));
    const origin = parseAsn(get('origin')[0]);
    if (origin === undefined) continue;
    const rpkiState = get('rpki-ov-state')[0];
    out.push({
      prefix: attrs[0]![1],
      origin,
      source: get('source')[0] ?? '',
      descr: attrs.filter(([a]) => a === 'descr').map(([, v]) => v),
      remarks: attrs.filter(([a]) => a === 'remarks').map(([, v]) => v),
      ...(rpkiState ? { rpkiState } : {}),
    });
  }
  return out;
}

function stripComment(v: string): string {
  return v.replace(/\s+#.*$/, '').trim();
}

function samePrefix(a: string, b: string): boolean {
  try {
    return parseCidr(a).text === b;
  } catch {
    return false;
  }
}

/** The `cf-validation:` tokens written in an object's descr and remarks lines. */
export function validationTokens(obj: IrrRouteObject): string[] {
  const out: string[] = [];
  for (const line of [...obj.descr, ...obj.remarks]) {
    const m = /cf-validation\s*:\s*(\S+)/i.exec(line);
    if (m) out.push(m[1]!);
  }
  return out;
}
