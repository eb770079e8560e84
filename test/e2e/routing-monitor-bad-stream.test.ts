import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { createLogger } from '../../src/logger.js';
import { worldCommand } from '../../world/sandbox/world-command.js';
import type { SimMessage } from '../../world/simulator/slack/types.js';
import { CHANNEL, testStack } from '../helpers/stack.js';

/**
 * What stands between the bot and RIS Live may be anything: a proxy answering HTML, a server sending frames of the
 * wrong shape, one that accepts and says nothing, one that hangs up at once. The bot is pointed at such a server
 * (RIS_LIVE_URL) from the start. It must log what it got, never take the feed for up, keep watching by polling
 * RIPEstat (an alert card per hijack, resolved when it ends), and come back to the stream once a real one answers;
 * nothing of it may reach Cloudflare as a change.
 *
 * Covered elsewhere, against the RIS Live simulator itself (test/e2e/routing-monitor.test.ts): garbage on an up
 * stream keeps it up with no false alert; a stall mid-stream is a dead feed and reconnected; a closed stream is
 * reconnected; with the stream refused, one poll tick finds a hijack.
 */

type Mode = 'garbage' | 'stall' | 'close' | 'relay';

/** Frames that are not RIS Live messages, each of another kind of wrong. */
const GARBAGE: { frame: string | Buffer; binary?: boolean }[] = [
  { frame: '<html><body>502 Bad Gateway</body></html>' },
  { frame: 'null' },
  { frame: '[]' },
  { frame: '{"type":"ris_message"}' },
  { frame: JSON.stringify({ type: 'ris_message', data: { peer: 42, announcements: 'nope' } }) },
  // An UPDATE whose prefixes are none (nothing readable left in it).
  { frame: JSON.stringify({ type: 'ris_message', data: { timestamp: 1, peer: '198.18.0.10', peer_asn: '174', host: 'rrc00', type: 'UPDATE', path: [174, 64666], announcements: [{ prefixes: ['not-a-cidr', '203.0.113.0/33'] }], withdrawals: ['999.0.0.0/8'] } }) },
  // A path hop that is an object.
  { frame: JSON.stringify({ type: 'ris_message', data: { timestamp: 1, peer: '198.18.0.10', peer_asn: '174', host: 'rrc00', type: 'UPDATE', path: [174, { asn: 64666 }], announcements: [{ prefixes: ['203.0.113.0/24'] }] } }) },
  { frame: Buffer.from([0xde, 0xad, 0xbe, 0xef]), binary: true },
  { frame: `{"type":"ris_message","data":"${'x'.repeat(256 * 1024)}"}` },
];

/** A WebSocket server the bot takes for RIS Live; what it does with a connection depends on the mode at connect. */
async function startHostileStream(upstream: () => string) {
  let mode: Mode = 'garbage';
  const stats = { accepted: 0, garbageSent: 0 };
  const relays = new Set<WebSocket>();
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  const sendGarbage = (ws: WebSocket) => {
    for (const g of GARBAGE) {
      if (ws.readyState !== WebSocket.OPEN) return;
      ws.send(g.frame, { binary: g.binary === true });
      stats.garbageSent++;
    }
  };
  wss.on('connection', (ws) => {
    stats.accepted++;
    ws.on('error', () => undefined);
    const at = mode;
    if (at === 'garbage') {
      sendGarbage(ws);
      // Every subscribe and ping is answered, with garbage only.
      ws.on('message', () => sendGarbage(ws));
    } else if (at === 'close') {
      ws.on('message', () => ws.close(1011, 'upstream went away'));
    } else if (at === 'relay') {
      // A healthy proxy to the RIS Live simulator.
      const up = new WebSocket(upstream());
      const queued: string[] = [];
      up.on('error', () => ws.terminate());
      up.on('open', () => queued.splice(0).forEach((q) => up.send(q)));
      up.on('message', (data) => ws.readyState === WebSocket.OPEN && ws.send(data.toString()));
      up.on('close', () => ws.terminate());
      ws.on('message', (data) => (up.readyState === WebSocket.OPEN ? up.send(data.toString()) : queued.push(data.toString())));
      ws.on('close', () => {
        relays.delete(ws);
        up.terminate();
      });
      relays.add(ws);
    }
    // stall: accepted, and nothing ever again.
  });
  return {
    url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/v1/ws/?client=byoip-bot`,
    stats,
    /** New connections get `m`; the open ones are dropped, so the bot's next one does. */
    setMode(m: Mode) {
      mode = m;
      for (const c of wss.clients) c.terminate();
    },
    /** Garbage into every relayed (up) connection. */
    injectGarbage() {
      for (const ws of relays) sendGarbage(ws);
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => resolve());
      }),
  };
}

describe('standing routing monitor behind a hostile RIS Live endpoint', () => {
  let stack: Awaited<ReturnType<typeof testStack>>;
  let hostile: Awaited<ReturnType<typeof startHostileStream>>;
  const logs: { level: string; msg: string; why?: string }[] = [];
  const logged = (re: RegExp) => logs.filter((l) => re.test(`${l.msg} ${l.why ?? ''}`));
  const wait = <T>(fn: () => T | undefined | null | false, ms = 15_000) => stack.slack.waitFor(fn, ms);
  const monitor = () => stack.bot!.routingMonitor!;
  const client = () => monitor().jobs.client()!;
  const world = () => worldCommand(stack.world);
  const cloudflareChanges = () => stack.cloudflare.state.calls.filter((c) => c.method !== 'GET');
  const alertCards = (): SimMessage[] => stack.slack.messages(CHANNEL).filter((m) => !m.threadTs && JSON.stringify(m.blocks).includes('alert `'));
  const blocks = (m: SimMessage) => JSON.stringify(stack.slack.message(CHANNEL, m.ts)?.blocks ?? []);
  const hijackCards = (asn: number) => alertCards().filter((m) => blocks(m).includes(`AS${asn} is announcing our 203.0.113.0/24`));

  /** A hijack of our /24 while the stream is useless: one card from a poll, resolved when the hijack ends. */
  const hijackFoundByPolling = async (asn: number) => {
    world().run(`hijack 203.0.113.0/24 ${asn}`);
    const card = await wait(() => hijackCards(asn)[0]);
    expect(blocks(card)).toContain('*Source:* RIPEstat bgp-state');
    // Polls go on: still one card.
    const p = monitor().monitor.stats.polls;
    await wait(() => monitor().monitor.stats.polls >= p + 3);
    await monitor().monitor.idle();
    expect(hijackCards(asn)).toHaveLength(1);
    world().run(`withdraw 203.0.113.0/24 ${asn}`);
    await wait(() => /RESOLVED: Foreign origin/.test(blocks(card)) || undefined);
    expect(hijackCards(asn)).toHaveLength(1);
  };

  beforeAll(async () => {
    hostile = await startHostileStream(() => stack.routing.risLiveUrl);
    stack = await testStack({
      routingMonitor: true,
      env: { RIS_LIVE_URL: hostile.url },
      logger: createLogger({
        level: 'info',
        destination: {
          write: (line: string) => {
            try {
              const j = JSON.parse(line) as { level: string; msg: string; why?: unknown };
              logs.push({ level: j.level, msg: j.msg, ...(typeof j.why === 'string' ? { why: j.why } : {}) });
            } catch {
              logs.push({ level: '?', msg: line });
            }
          },
        },
      }),
    });
    // Polling stands in from the start: the stream never came up.
    await wait(() => monitor().monitor.stats.polls >= 2);
    await monitor().monitor.idle();
  }, 40_000);
  afterAll(async () => {
    await stack?.cleanup();
    await hostile?.close();
  });

  it('only garbage, never a RIS Live message: logged and skipped, the feed is never taken for up and is dropped as dead; polling finds a hijack', async () => {
    await wait(() => client().stats.deadFeeds >= 1 && client().stats.garbage >= 2 * GARBAGE.length);
    expect(monitor().jobs.streamUp()).toBe(false);
    expect(logged(/RIS Live sent a message we could not read; skipped/).length).toBeGreaterThanOrEqual(GARBAGE.length);
    for (const why of [/not JSON/, /a binary frame/, /an UPDATE with no readable prefix/]) expect(logged(why).length, String(why)).toBeGreaterThanOrEqual(1);
    expect(logged(/RIS Live stream down; reconnecting/).some((l) => /sent nothing \(no message, no pong\)/.test(l.why ?? ''))).toBe(true);
    expect(logged(/RIS Live stream up/)).toEqual([]);
    await hijackFoundByPolling(64601);
    expect(monitor().jobs.streamUp()).toBe(false);
    expect(alertCards()).toHaveLength(1);
  });

  it('a server that accepts and then says nothing: dropped as dead, reconnected, never up; polling finds a hijack', async () => {
    const dead = client().stats.deadFeeds;
    const accepted = hostile.stats.accepted;
    hostile.setMode('stall');
    await wait(() => hostile.stats.accepted > accepted && client().stats.deadFeeds > dead);
    expect(monitor().jobs.streamUp()).toBe(false);
    expect(logged(/RIS Live stream up/)).toEqual([]);
    await hijackFoundByPolling(64602);
  });

  it('a server that hangs up on every connection: logged, retried with backoff, never up; polling finds a hijack', async () => {
    const accepted = hostile.stats.accepted;
    hostile.setMode('close');
    await wait(() => hostile.stats.accepted >= accepted + 2 && logged(/RIS Live stream down; reconnecting/).some((l) => /closed \(code 1011, upstream went away\)/.test(l.why ?? '')));
    expect(monitor().jobs.streamUp()).toBe(false);
    expect(logged(/RIS Live stream up/)).toEqual([]);
    await hijackFoundByPolling(64603);
  });

  it('once a real RIS Live answers, the stream is up; garbage in it is skipped, and a hijack still makes its card from the stream', async () => {
    hostile.setMode('relay');
    await wait(() => monitor().jobs.streamUp(), 20_000);
    expect(logged(/RIS Live stream up/).length).toBeGreaterThanOrEqual(1);
    await monitor().monitor.idle();
    const garbage = client().stats.garbage;
    hostile.injectGarbage();
    await wait(() => client().stats.garbage >= garbage + GARBAGE.length);
    expect(monitor().jobs.streamUp()).toBe(true);
    world().run('hijack 203.0.113.0/24 64604');
    const card = await wait(() => hijackCards(64604)[0]);
    expect(blocks(card)).toContain('*Source:* RIS Live'); // from the stream, not a poll
    world().run('withdraw 203.0.113.0/24 64604');
    await wait(() => /RESOLVED: Foreign origin/.test(blocks(card)) || undefined);
    expect(hijackCards(64604)).toHaveLength(1);
    expect(alertCards()).toHaveLength(4);
  });

  it('through all of it the bot stayed alive and sent Cloudflare nothing but reads', async () => {
    const res = await fetch(`${stack.bot!.url}/healthz`);
    expect(res.status).toBe(200);
    expect(cloudflareChanges()).toEqual([]);
    expect(stack.cloudflare.state.bgpPrefixes.get('7009ba364c7a5760798ceb430e603b74')!.advertised).toBe(true);
    expect(logs.filter((l) => l.level === 'error' || l.level === 'fatal')).toEqual([]);
  });
});
