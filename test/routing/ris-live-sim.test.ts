import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createLogger } from '../../src/logger.js';
import { RisLiveClient, type RisUpdate, type StreamState } from '../../src/routing/ris-live.js';
import { SimClock } from '../../world/simulator/clock.js';
import { startRisLiveSimulator, type RisLiveSimulator } from '../../world/simulator/routing/ris-live.js';
import { World } from '../../world/simulator/world.js';

/** The RIS Live simulator speaks the protocol of ris-live.ripe.net/manual, and the bot's client copes with its faults. */
describe('RIS Live simulator: protocol contract', () => {
  let world: World;
  let sim: RisLiveSimulator;
  beforeAll(async () => {
    world = new World({ clock: new SimClock(600), seed: 3 });
    sim = await startRisLiveSimulator({ world, tickMs: 20 });
  });
  afterAll(async () => {
    await sim.close();
  });

  /** A raw WebSocket with its received frames. */
  async function open(): Promise<{ ws: WebSocket; got: Record<string, unknown>[]; next(pred: (m: Record<string, unknown>) => boolean, ms?: number): Promise<Record<string, unknown>> }> {
    const ws = new WebSocket(sim.url);
    const got: Record<string, unknown>[] = [];
    ws.on('message', (d) => got.push(JSON.parse(d.toString()) as Record<string, unknown>));
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const next = async (pred: (m: Record<string, unknown>) => boolean, ms = 3000) => {
      const until = Date.now() + ms;
      while (Date.now() < until) {
        const hit = got.find(pred);
        if (hit) return hit;
        await new Promise((r) => setTimeout(r, 10));
      }
      throw new Error(`no such message; got ${JSON.stringify(got).slice(0, 500)}`);
    };
    return { ws, got, next };
  }
  const data = (m: Record<string, unknown>) => m.data as Record<string, unknown>;

  it('ping -> pong; ris_subscribe with acknowledge -> ris_subscribe_ok; nonsense -> ris_error', async () => {
    const c = await open();
    c.ws.send(JSON.stringify({ type: 'ping' }));
    await c.next((m) => m.type === 'pong');
    c.ws.send(JSON.stringify({ type: 'ris_subscribe', data: { prefix: '203.0.113.0/24', moreSpecific: true, socketOptions: { acknowledge: true } } }));
    const ok = await c.next((m) => m.type === 'ris_subscribe_ok');
    expect(data(ok).subscription).toEqual({ prefix: '203.0.113.0/24', moreSpecific: true });
    c.ws.send('{not json');
    expect(data(await c.next((m) => m.type === 'ris_error')).message).toMatch(/JSON/);
    c.ws.send(JSON.stringify({ type: 'ris_subscribe', data: { prefix: '203.0.113.0/33' } }));
    await c.next((m) => m.type === 'ris_error' && String(data(m).message).includes('Invalid prefix'));
    c.ws.send(JSON.stringify({ type: 'hello' }));
    await c.next((m) => m.type === 'ris_error' && String(data(m).message).includes('Unknown message type'));
    c.ws.close();
  });

  it('an announcement reaches each peer as it ramps up: one UPDATE per peer, with path, peer_asn (a string), host rrcNN; more-specifics only when asked', async () => {
    const all = await open();
    const exact = await open();
    const rrc00 = await open();
    all.ws.send(JSON.stringify({ type: 'ris_subscribe', data: { prefix: '192.0.2.0/24', moreSpecific: true, type: 'UPDATE' } }));
    exact.ws.send(JSON.stringify({ type: 'ris_subscribe', data: { prefix: '192.0.2.0/24', moreSpecific: false } }));
    rrc00.ws.send(JSON.stringify({ type: 'ris_subscribe', data: { prefix: '192.0.2.0/24', host: 'rrc00' } }));
    await new Promise((r) => setTimeout(r, 100));
    world.announce('192.0.2.128/25', 64666, { rampMs: 30_000, reach: 0.5 });
    const first = data(await all.next((m) => m.type === 'ris_message'));
    expect(first).toMatchObject({ type: 'UPDATE', host: expect.stringMatching(/^rrc\d\d$/), peer_asn: expect.any(String), withdrawals: [] });
    expect((first.path as number[]).at(-1)).toBe(64666);
    expect(first.announcements).toEqual([{ next_hop: first.peer, prefixes: ['192.0.2.128/25'] }]);
    expect(typeof first.timestamp).toBe('number');
    // The ramp: 30 simulated s at x600 is 50 real ms; half of the 60 peers.
    await new Promise((r) => setTimeout(r, 400));
    const peers = new Set(all.got.filter((m) => m.type === 'ris_message').map((m) => data(m).peer));
    expect(peers.size).toBe(30);
    expect(exact.got.filter((m) => m.type === 'ris_message')).toEqual([]);
    expect(rrc00.got.filter((m) => m.type === 'ris_message').every((m) => data(m).host === 'rrc00')).toBe(true);
    world.withdraw('192.0.2.128/25', 64666, { decayMs: 60_000 });
    await all.next((m) => m.type === 'ris_message' && (data(m).withdrawals as string[]).includes('192.0.2.128/25'));
    await new Promise((r) => setTimeout(r, 400));
    const withdrawn = new Set(all.got.filter((m) => m.type === 'ris_message' && (data(m).withdrawals as string[]).length).map((m) => data(m).peer));
    expect(withdrawn.size).toBe(30);
    for (const c of [all, exact, rrc00]) c.ws.close();
  });

  it('lessSpecific: a covering announcement reaches a subscription of a more-specific', async () => {
    const c = await open();
    c.ws.send(JSON.stringify({ type: 'ris_subscribe', data: { prefix: '198.51.100.0/25', lessSpecific: true, moreSpecific: false } }));
    await new Promise((r) => setTimeout(r, 60));
    world.announce('198.51.100.0/24', 64999, { rampMs: 0, reach: 0.2 });
    const m = data(await c.next((x) => x.type === 'ris_message'));
    expect((m.announcements as { prefixes: string[] }[])[0]!.prefixes).toEqual(['198.51.100.0/24']);
    c.ws.close();
  });

  it('refuses new connections with HTTP 503 while refusing', async () => {
    sim.refuse(true);
    const ws = new WebSocket(sim.url);
    const status = await new Promise<number>((resolve) => {
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('error', () => undefined);
    });
    expect(status).toBe(503);
    sim.refuse(false);
  });

  describe('the bot client against the simulator', () => {
    const logger = createLogger({ level: 'silent' });
    function client(extra: Partial<ConstructorParameters<typeof RisLiveClient>[0]> = {}) {
      const updates: RisUpdate[] = [];
      const states: StreamState[] = [];
      const c = new RisLiveClient({ url: sim.url, logger, onUpdate: (u) => updates.push(u), onState: (s) => states.push(s), pingIntervalMs: 50, deadAfterMs: 300, backoff: { baseMs: 20, maxMs: 200 }, ...extra });
      return { c, updates, states };
    }
    const until = async (fn: () => boolean, ms = 3000) => {
      const end = Date.now() + ms;
      while (!fn()) {
        if (Date.now() > end) throw new Error('condition not met');
        await new Promise((r) => setTimeout(r, 10));
      }
    };

    it('subscribes every prefix with its more-specifics on one connection and follows updates; setPrefixes adds and drops', async () => {
      const { c, updates, states } = client();
      c.setPrefixes(['203.0.113.0/24']);
      c.start();
      await until(() => c.isUp);
      expect(states).toEqual([{ up: true }]);
      world.announce('203.0.113.0/25', 64666, { rampMs: 0, reach: 0.1 });
      await until(() => updates.some((u) => u.announced.includes('203.0.113.0/25')));
      expect(updates.find((u) => u.announced.includes('203.0.113.0/25'))!.origin).toBe(64666);
      c.setPrefixes(['203.0.113.0/24', '192.0.2.0/24']);
      world.announce('192.0.2.0/24', 64777, { rampMs: 0, reach: 0.1 });
      await until(() => updates.some((u) => u.announced.includes('192.0.2.0/24')));
      expect(sim.stats.open).toBe(1);
      c.stop();
      await until(() => sim.stats.open === 0);
    });

    it('garbage is counted and skipped; a stall is a dead feed; a close or a refusal is retried with backoff, and the stream comes back', async () => {
      const { c, states } = client();
      c.setPrefixes(['203.0.113.0/24']);
      c.start();
      await until(() => c.isUp);
      sim.sendGarbage('text');
      sim.sendGarbage('shape');
      await until(() => c.stats.garbage >= 2);
      expect(c.isUp).toBe(true);
      sim.stall(true);
      await until(() => c.stats.deadFeeds >= 1);
      expect(states.at(-1)).toMatchObject({ up: false, why: expect.stringContaining('sent nothing') });
      sim.stall(false);
      await until(() => c.isUp);
      sim.refuse(true);
      sim.closeAll();
      await until(() => c.stats.reconnects >= 3);
      expect(c.lastDownWhy).toContain('HTTP 503');
      expect(states.filter((s) => !s.up)).toHaveLength(2); // down once per outage, not once per attempt
      sim.refuse(false);
      await until(() => c.isUp, 5000);
      c.stop();
    });
  });
});
