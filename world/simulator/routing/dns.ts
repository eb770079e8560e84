import dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';
import * as packet from 'dns-packet';
import type { World } from '../world.js';

/**
 * Authoritative-style DNS over UDP for the World's TXT records: NOERROR with TXT answers, NODATA for other
 * types at a known name, NXDOMAIN for unknown names, SERVFAIL for names in `world.dnsFailures`.
 */
export type DnsFault = { kind: 'none' } | { kind: 'silent' } | { kind: 'garbage' } | { kind: 'slow'; delayMs: number };

export interface DnsSimulator {
  host: string;
  port: number;
  /** `host:port` for a Resolver's setServers / the DNS_SERVER setting. */
  server: string;
  close(): Promise<void>;
  setFault(fault: DnsFault): void;
  /** Names asked, in order. */
  queries: string[];
}

const TXT_CHUNK = 255;

export async function startDnsSimulator(opts: { world: World; port?: number }): Promise<DnsSimulator> {
  const { world } = opts;
  const socket = dgram.createSocket('udp4');
  let fault: DnsFault = { kind: 'none' };
  const queries: string[] = [];

  socket.on('message', (msg, rinfo) => {
    const f = fault;
    if (f.kind === 'silent') return;
    if (f.kind === 'garbage') return void socket.send(Buffer.from([msg[0] ?? 0, msg[1] ?? 0, 0xff, 0xff, 0xde, 0xad]), rinfo.port, rinfo.address);
    let query: packet.Packet;
    try {
      query = packet.decode(msg);
    } catch {
      return;
    }
    const reply = answer(world, query, queries);
    const send = () => socket.send(reply, rinfo.port, rinfo.address);
    if (f.kind === 'slow') setTimeout(send, f.delayMs).unref();
    else send();
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  socket.on('error', () => undefined); // a failed send to a client that went away is not the simulator's problem
  const port = (socket.address() as AddressInfo).port;
  return {
    host: '127.0.0.1',
    port,
    server: `127.0.0.1:${port}`,
    queries,
    setFault: (f) => (fault = f),
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3 } as const;

function answer(world: World, query: packet.Packet, log: string[]): Buffer {
  const q = query.questions?.[0];
  const rd = (query.flags ?? 0) & packet.RECURSION_DESIRED;
  // dns-packet takes the rcode in the low four bits of `flags`.
  const reply = (rcode: keyof typeof RCODE, answers: packet.Answer[] = []) =>
    packet.encode({
      id: query.id ?? 0,
      type: 'response',
      flags: packet.AUTHORITATIVE_ANSWER | rd | RCODE[rcode],
      questions: query.questions ?? [],
      answers,
    });
  if (!q) return reply('FORMERR');
  const name = q.name.toLowerCase().replace(/\.$/, '');
  log.push(name);
  if (world.dnsFailures.has(name)) return reply('SERVFAIL');
  const values = world.txt.get(name);
  if (!values) {
    // An empty non-terminal (a zone apex with only cf-validation below it) exists: NODATA, not NXDOMAIN.
    const exists = [...world.txt.keys()].some((k) => k.endsWith(`.${name}`));
    return reply(exists ? 'NOERROR' : 'NXDOMAIN');
  }
  if (q.type !== 'TXT') return reply('NOERROR');
  return reply(
    'NOERROR',
    values.map((v) => ({ type: 'TXT', name: q.name, ttl: 300, class: 'IN', data: chunk(v) })),
  );
}

/** TXT character strings are at most 255 bytes each. */
function chunk(value: string): Buffer[] {
  const buf = Buffer.from(value, 'utf8');
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length; i += TXT_CHUNK) out.push(buf.subarray(i, i + TXT_CHUNK));
  return out.length > 0 ? out : [Buffer.alloc(0)];
}
