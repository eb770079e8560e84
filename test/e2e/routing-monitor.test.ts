import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { worldCommand } from '../../world/sandbox/world-command.js';
import { RecordingAlertSink } from '../helpers/recording-sink.js';
import { ActionId } from '../../src/slack/ids.js';
import { DEFAULT_SCENARIO } from '../../world/simulator/cloudflare/scenarios.js';
import { CHANNEL, expectWithdrawDone, fileRequest, testStack } from '../helpers/stack.js';

/**
 * The standing routing monitor with no request open: `world ...` changes reach the bot as RIS Live messages and
 * become one finding each; with the stream down, one poll finds them; a stream that sends garbage, stalls or closes
 * is reconnected without a crash or a false alert.
 */
describe('standing routing monitor (RIS Live, polling fallback)', () => {
  let stack: Awaited<ReturnType<typeof testStack>>;
  const sink = new RecordingAlertSink();
  const wait = <T>(fn: () => T | undefined | null | false, ms = 10_000) => stack.slack.waitFor(fn, ms);
  const bgpStateReads = () => stack.routing.sims.ripestat.calls['bgp-state'] ?? 0;
  const monitor = () => stack.bot!.routingMonitor!;
  const world = () => worldCommand(stack.world);

  beforeAll(async () => {
    stack = await testStack({ routingMonitor: true, alertSink: sink });
    await wait(() => monitor().jobs.streamUp(), 15_000);
    // The bootstrap read after the stream came up, and its evaluation.
    await wait(() => monitor().monitor.stats.evaluations >= 2);
    await monitor().monitor.idle();
  }, 30_000);
  afterAll(async () => {
    await stack?.cleanup();
  });

  it('the default world is quiet: no finding for an advertised, fully visible prefix', async () => {
    await monitor().monitor.idle();
    expect(sink.raised).toEqual([]);
    expect(stack.routing.sims.risLive.stats.open).toBe(1);
    expect(stack.routing.sims.risLive.stats.subscriptions).toBeGreaterThanOrEqual(2);
  });

  it('a hijack of our exact prefix: one foreign-origin finding from the stream, resolved when it goes', async () => {
    const reads = bgpStateReads();
    expect(world().run('hijack 203.0.113.0/24 64666')).toContain('AS64666');
    const f = await wait(() => sink.of('foreign_origin')[0]);
    expect(f.key).toBe('routing:203.0.113.0/24:foreign_origin:203.0.113.0/24:64666');
    expect(f.prefix).toBe('203.0.113.0/24');
    expect(f.facts.find((x) => x.label === 'Source')?.value).toBe('RIS Live');
    expect(f.facts.find((x) => x.label === 'RPKI')?.value).toMatch(/invalid/);
    expect(f.actions).toContain('emergency_withdraw');
    expect(bgpStateReads()).toBe(reads); // seen on the stream, not by a poll
    // More peers pick the hijack up as it ramps: still one alert.
    await new Promise((r) => setTimeout(r, 300));
    expect(sink.openKeys().filter((k) => k.includes('foreign_origin'))).toHaveLength(1);
    expect(sink.raised.filter((x) => x.key === f.key)).toHaveLength(1);
    // No rpki_invalid card of its own: the hijack's card says it.
    expect(sink.of('rpki_invalid')).toEqual([]);
    world().run('withdraw 203.0.113.0/24 64666');
    await wait(() => sink.resolved.find((r) => r.key === f.key));
    expect(sink.openKeys()).toEqual([]);
  });

  it('a more-specific of our prefix: one more-specific finding', async () => {
    world().run('hijack 203.0.113.0/25 64666');
    const f = await wait(() => sink.of('more_specific')[0]);
    expect(f.key).toBe('routing:203.0.113.0/24:more_specific:203.0.113.0/25:64666');
    expect(f.title).toContain('203.0.113.0/25');
    await new Promise((r) => setTimeout(r, 300));
    expect(sink.of('more_specific')).toHaveLength(1);
    expect(f.facts.find((x) => x.label === 'Source')?.value).toBe('RIS Live');
    world().run('withdraw 203.0.113.0/25 64666');
    await wait(() => sink.resolved.find((r) => r.key === f.key));
  });

  it('raised on the first stream message: a slow ramp reaches one peer at a time, the alert comes with the first', async () => {
    const sim = stack.routing.sims.risLive;
    let sent = 0;
    sim.onMessage = (m) => {
      if (JSON.stringify(m.data.announcements).includes('203.0.113.64/26')) sent++;
    };
    let sentAtRaise = -1;
    sink.onRaise = (f) => {
      if (f.key.includes('203.0.113.64/26')) sentAtRaise = sent;
    };
    // 24 peers over about 4 real seconds: one message every ~170 ms.
    stack.world.announce('203.0.113.64/26', 64666, { rampMs: 6_000_000, reach: 0.4 });
    await wait(() => sentAtRaise >= 0);
    expect(sentAtRaise).toBe(1);
    sim.onMessage = null;
    sink.onRaise = null;
    stack.world.withdraw('203.0.113.64/26', 64666, { decayMs: 0 });
    await wait(() => sink.resolved.find((r) => r.key.includes('203.0.113.64/26')));
  });

  it('an RPKI-invalid announcement by our own AS: one rpki-invalid finding', async () => {
    // AS64500 is our own AS; the ROA of 198.51.100.0/24 names AS13335 only.
    world().run('announce 198.51.100.0/24 64500');
    const f = await wait(() => sink.of('rpki_invalid')[0]);
    expect(f.key).toBe('routing:198.51.100.0/24:rpki_invalid:198.51.100.0/24:64500');
    expect(f.facts.find((x) => x.label === 'RPKI')?.value).toContain('another AS');
    expect(sink.of('foreign_origin')).toHaveLength(1); // only the earlier hijack's
    world().run('withdraw 198.51.100.0/24 64500');
    await wait(() => sink.resolved.find((r) => r.key === f.key));
  });

  it('garbage on the stream: logged and skipped, the stream stays up, no false alert', async () => {
    const before = sink.raised.length;
    const client = monitor().jobs.client()!;
    stack.routing.sims.risLive.sendGarbage('text');
    stack.routing.sims.risLive.sendGarbage('shape');
    await wait(() => client.stats.garbage >= 2);
    expect(monitor().jobs.streamUp()).toBe(true);
    expect(sink.raised.length).toBe(before);
  });

  it('a stalled stream (no messages, no pongs) is declared dead and reconnected', async () => {
    const client = monitor().jobs.client()!;
    const connects = client.stats.connects;
    const before = sink.raised.length;
    stack.routing.sims.risLive.stall(true);
    await wait(() => client.stats.deadFeeds >= 1, 10_000);
    stack.routing.sims.risLive.stall(false);
    await wait(() => client.stats.connects > connects && monitor().jobs.streamUp(), 10_000);
    await monitor().monitor.idle();
    expect(sink.raised.length).toBe(before);
  });

  it('a closed stream is reconnected, and the hijack made meanwhile is found', async () => {
    const client = monitor().jobs.client()!;
    const connects = client.stats.connects;
    stack.routing.sims.risLive.closeAll();
    await wait(() => client.stats.connects > connects && monitor().jobs.streamUp(), 10_000);
    expect(sink.raised.filter((f) => f.type === 'foreign_origin')).toHaveLength(1);
  });

  it('with the stream down, one poll tick finds a hijack (one bgp-state read per prefix)', async () => {
    const sim = stack.routing.sims.risLive;
    sim.refuse(true);
    sim.dropAll();
    await wait(() => !monitor().jobs.streamUp(), 10_000);
    const before = sink.of('foreign_origin').length;
    const pollsBefore = monitor().monitor.stats.polls;
    let pollsAtRaise = -1;
    sink.onRaise = (x) => {
      if (x.key.includes('64777')) pollsAtRaise = monitor().monitor.stats.polls;
    };
    world().run('hijack 198.51.100.0/24 64777');
    const f = await wait(() => sink.of('foreign_origin').slice(before)[0], 10_000);
    sink.onRaise = null;
    // Found by the next tick (a tick already reading when the hijack began may come first, and see nothing yet).
    expect(pollsAtRaise - pollsBefore).toBeGreaterThanOrEqual(1);
    expect(pollsAtRaise - pollsBefore).toBeLessThanOrEqual(2);
    expect(f.key).toBe('routing:198.51.100.0/24:foreign_origin:198.51.100.0/24:64777');
    expect(f.facts.find((x) => x.label === 'Source')?.value).toBe('RIPEstat bgp-state');
    // Reads per prefix per tick stay at or under one (two managed prefixes; the scheduler's tick, coalesced).
    const polls = monitor().monitor.stats.polls;
    const reads = bgpStateReads();
    await wait(() => monitor().monitor.stats.polls >= polls + 2, 10_000);
    const ticks = monitor().monitor.stats.polls - polls;
    expect(bgpStateReads() - reads).toBeLessThanOrEqual(2 * ticks);
    world().run('withdraw 198.51.100.0/24 64777');
    await wait(() => sink.resolved.find((r) => r.key === f.key), 10_000);
    // What /metrics says meanwhile: the stream down, polls run, bgp-state requests counted.
    const line = (text: string, name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
    let text = await stack.bot!.metrics.render();
    expect(line(text, 'byoip_routing_stream_up')).toBe(0);
    expect(line(text, 'byoip_routing_polls_total\\{outcome="completed"\\}')).toBeGreaterThanOrEqual(2);
    expect(line(text, 'byoip_routing_state_reads_total')).toBeGreaterThanOrEqual(2);
    sim.refuse(false);
    await wait(() => monitor().jobs.streamUp(), 15_000);
    text = await stack.bot!.metrics.render();
    expect(line(text, 'byoip_routing_stream_up')).toBe(1);
    expect(line(text, 'byoip_routing_stream_changes_total\\{state="down"\\}')).toBeGreaterThanOrEqual(1);
  });
});

describe('standing routing monitor -> alert cards (the real AlertStore)', () => {
  let stack: Awaited<ReturnType<typeof testStack>>;
  const cards = () => stack.slack.messages(CHANNEL).filter((m) => !m.threadTs && JSON.stringify(m.blocks).includes('alert `'));

  beforeAll(async () => {
    stack = await testStack({ routingMonitor: true });
    await stack.slack.waitFor(() => stack.bot!.routingMonitor!.jobs.streamUp(), 15_000);
    await stack.slack.waitFor(() => stack.bot!.routingMonitor!.monitor.stats.evaluations >= 2, 10_000);
  }, 30_000);
  afterAll(async () => {
    await stack?.cleanup();
  });

  it('`world hijack` with no request open: one alert card naming the hijacker, with Emergency withdraw; it says resolved when the hijack ends', async () => {
    worldCommand(stack.world).run('hijack 203.0.113.0/24 64666');
    const card = await stack.slack.waitFor(() => cards().find((m) => JSON.stringify(m.blocks).includes('AS64666')), 10_000);
    expect(JSON.stringify(card.blocks)).toContain(ActionId.AlertWithdraw);
    await new Promise((r) => setTimeout(r, 500));
    expect(cards()).toHaveLength(1);
    const alert = await stack.bot!.alerts.openFor('routing:203.0.113.0/24:foreign_origin:203.0.113.0/24:64666');
    expect(alert?.finding.type).toBe('foreign_origin');
    worldCommand(stack.world).run('withdraw 203.0.113.0/24 64666');
    await stack.slack.waitFor(() => (/[Rr]esolved/.test(JSON.stringify(stack.slack.message(CHANNEL, card.ts)?.blocks)) ? true : undefined), 10_000);
    expect(cards()).toHaveLength(1);
  });
});

describe('the request watch hears RIS Live', () => {
  let stack: Awaited<ReturnType<typeof testStack>>;
  beforeAll(async () => {
    stack = await testStack({ routingMonitor: true, alertSink: new RecordingAlertSink() });
    await stack.slack.waitFor(() => stack.bot!.routingMonitor!.jobs.streamUp(), 15_000);
  }, 30_000);
  afterAll(async () => {
    await stack?.cleanup();
  });

  it('withdraw: one thread reply when the first collector peer withdraws it, before the looking glass says Done:', async () => {
    const p = DEFAULT_SCENARIO.prefixes.advertised;
    const card = await fileRequest(stack, 'U0ALICE', 'withdraw', p.cidr, 'maintenance CHG-77');
    await stack.sender!.clickButton('U0BOB', { channel: CHANNEL, messageTs: card.ts, actionId: ActionId.Approve });
    const thread = await expectWithdrawDone(stack, card.ts, p);
    const heard = thread.filter((t) => t.startsWith('🛰️ RIS Live:'));
    expect(heard).toHaveLength(1);
    expect(heard[0]).toMatch(/rrc\d\d peer \S+ \(AS\d+\) withdrew 203\.0\.113\.0\/24 at \d{4}-/);
    expect(thread.findIndex((t) => t.startsWith('🛰️ RIS Live:'))).toBeGreaterThan(thread.findIndex((t) => /Cloudflare accepted/.test(t)));
  });
});
