import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { cidrContains, parseCidr } from '../../../src/domain/cidr.js';
import { validateRouteOrigin } from '../../../src/domain/route-origin-validation.js';
import type { RouteObject, World } from '../world.js';

/**
 * IRRd whois simulator (TCP, IRRd-style `!` queries) over the World's route objects. Like an RPKI-aware IRRd it
 * publishes every ROA as a pseudo route object with source RPKI, and hides RPKI-invalid route objects from `!r`
 * until the client sends `!fno-rpki-filter`.
 */
export type IrrFault = { kind: 'none' } | { kind: 'silent' } | { kind: 'garbage' } | { kind: 'hangup' } | { kind: 'slow'; delayMs: number };

export interface IrrdSimulator {
  host: string;
  port: number;
  close(): Promise<void>;
  setFault(fault: IrrFault): void;
  /** Every command received, for tests. */
  commands: string[];
}

export async function startIrrdSimulator(opts: { world: World; port?: number }): Promise<IrrdSimulator> {
  const { world } = opts;
  let fault: IrrFault = { kind: 'none' };
  const commands: string[] = [];
  const sockets = new Set<net.Socket>();

  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    const f = fault;
    if (f.kind === 'hangup') return void socket.destroy();
    if (f.kind === 'garbage') return void socket.end('HTTP/1.1 400 Bad Request\r\n\r\n<html>nope</html>\n');
    if (f.kind === 'silent') return;
    const session = { multi: false, rpkiFilter: true, sources: null as string[] | null };
    let pending = '';
    socket.on('data', (chunk: Buffer) => {
      pending += chunk.toString('utf8');
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl).replace(/\r$/, '').trim();
        pending = pending.slice(nl + 1);
        if (!line) continue;
        commands.push(line);
        if (line === '!q') return void socket.end();
        const reply = handle(world, session, line);
        const write = () => {
          if (reply !== null && !socket.destroyed) socket.write(reply);
          if (!session.multi && line !== '!!' && !socket.destroyed) socket.end();
        };
        if (f.kind === 'slow') setTimeout(write, f.delayMs).unref();
        else write();
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    host: '127.0.0.1',
    port,
    commands,
    setFault: (f) => (fault = f),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

interface Session {
  multi: boolean;
  rpkiFilter: boolean;
  sources: string[] | null;
}

/** IRRd's framing; like IRRd (Python `len`) the length counts characters, not bytes. */
function framed(text: string): string {
  return text ? `A${Array.from(text).length + 1}\n${text}\nC\n` : 'C\n';
}

function allSources(world: World): string[] {
  return [...new Set([...world.routeObjects.map((o) => o.source.toUpperCase()), 'RPKI'])].sort();
}

function handle(world: World, s: Session, line: string): string | null {
  if (line === '!!') {
    s.multi = true;
    return null;
  }
  if (line.startsWith('!n')) return 'C\n';
  if (line === '!v') return framed('IRRd -- version 4.4.4 (simulated)');
  if (line.startsWith('!f')) {
    const what = line.slice(2);
    if (what === 'no-rpki-filter') {
      s.rpkiFilter = false;
      return framed('Filtering out RPKI invalids is disabled for !r and RIPE style queries for the rest of this connection.');
    }
    return `F Unknown filter: ${what}\n`;
  }
  if (line === '!s-lc') return framed((s.sources ?? allSources(world)).join(','));
  if (line.startsWith('!s')) {
    const wanted = line.slice(2).toUpperCase().split(',');
    if (!wanted.every((w) => allSources(world).includes(w))) return 'F One or more selected sources are unavailable.\n';
    s.sources = wanted;
    return 'C\n';
  }
  if (line.startsWith('!r')) {
    const [address = '', option] = line.slice(2).split(',');
    let prefix: string;
    try {
      prefix = parseCidr(address).text;
    } catch {
      return `F Invalid input for route search: ${line.slice(2)}\n`;
    }
    if (option !== undefined && option !== 'o' && option !== 'L' && option !== 'l') return `F Invalid route search option: ${option}\n`;
    const objects = routeObjects(world, s, prefix, option === 'L' ? 'L' : option === 'l' ? 'l' : 'exact');
    if (option === 'o') return framed([...new Set(objects.map((o) => `AS${o.obj.origin}`))].join(' '));
    return framed(objects.map((o) => rpsl(o.obj, o.state)).join('\n\n'));
  }
  return `F Unrecognised command: ${line.slice(0, 40)}\n`;
}

/** exact: the prefix only; L: every less specific including exact; l: the one-level less specific, not exact. */
function routeObjects(world: World, s: Session, prefix: string, mode: 'exact' | 'L' | 'l'): { obj: RouteObject; state: string | null }[] {
  const less = (p: string) => !sameCidr(p, prefix) && safeContains(p, prefix);
  let match: (p: string) => boolean;
  if (mode === 'exact') match = (p) => sameCidr(p, prefix);
  else if (mode === 'L') match = (p) => sameCidr(p, prefix) || less(p);
  else {
    const lengths = [...world.routeObjects.map((o) => o.prefix), ...world.roas.map((r) => r.prefix)].filter(less).map((p) => parseCidr(p).length);
    const longest = Math.max(-1, ...lengths);
    match = (p) => less(p) && parseCidr(p).length === longest;
  }
  const fromRoas: RouteObject[] = world.roas
    .filter((r) => match(r.prefix))
    .map((r) => ({
      prefix: r.prefix,
      origin: r.asn,
      source: 'RPKI',
      descr: [`RPKI ROA for ${r.prefix} / AS${r.asn}`],
      remarks: [
        `This AS${r.asn} route object represents routing data retrieved from the RPKI. This route object is the result of an automated RPKI-to-IRR conversion process performed by IRRd.`,
      ],
    }));
  const all = [...world.routeObjects.filter((o) => match(o.prefix)), ...fromRoas];
  const out: { obj: RouteObject; state: string | null }[] = [];
  for (const obj of all) {
    if (s.sources && !s.sources.includes(obj.source.toUpperCase())) continue;
    if (obj.source.toUpperCase() === 'RPKI') {
      out.push({ obj, state: null });
      continue;
    }
    const rov = validateRouteOrigin(world.roas, obj.prefix, obj.origin).state;
    const state = rov === 'not-found' ? 'not_found' : rov;
    if (s.rpkiFilter && state === 'invalid') continue;
    out.push({ obj, state });
  }
  return out;
}

function safeContains(outer: string, inner: string): boolean {
  try {
    return cidrContains(outer, inner);
  } catch {
    return false;
  }
}

function sameCidr(a: string, b: string): boolean {
  try {
    return parseCidr(a).text === b;
  } catch {
    return false;
  }
}

function rpsl(o: RouteObject, state: string | null): string {
  const cls = o.prefix.includes(':') ? 'route6' : 'route';
  const pad = (k: string) => `${k}:`.padEnd(16);
  const lines = [`${pad(cls)}${o.prefix}`];
  for (const d of o.descr) lines.push(`${pad('descr')}${d}`);
  lines.push(`${pad('origin')}AS${o.origin}`);
  if (o.mntBy) lines.push(`${pad('mnt-by')}${o.mntBy}`);
  for (const r of o.remarks) lines.push(`${pad('remarks')}${r}`);
  lines.push(`${pad('source')}${o.source.toUpperCase()}${o.source.toUpperCase() === 'RPKI' ? '  # Trust Anchor: simulated' : ''}`);
  if (state) lines.push(`${pad('rpki-ov-state')}${state}${state === 'not_found' ? ' # No ROAs found, or RPKI validation not enabled for source' : ''}`);
  return lines.join('\n');
}
