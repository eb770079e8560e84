import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AlertSink, Finding } from '../../src/monitors/findings.js';
import { ActionId } from '../../src/slack/ids.js';
import { DEFAULT_SCENARIO } from '../../world/simulator/cloudflare/scenarios.js';
import { CLOUDFLARE_ASN } from '../../world/simulator/world.js';
import type { SimMessage } from '../../world/simulator/slack/types.js';
import { worldCommand } from '../../world/sandbox/world-command.js';
import { CHANNEL, expectWithdrawDone, fileRequest, testStack } from '../helpers/stack.js';

const ADV = DEFAULT_SCENARIO.prefixes.advertised; // 203.0.113.0/24, advertised, seen by 57 of 60 peers
const WD = DEFAULT_SCENARIO.prefixes.withdrawn; // 198.51.100.0/24, withdrawn (long ago), seen by none

/**
 * The standing routing monitor's two findings that compare the routes with Cloudflare's advertisement, end to end
 * with no request open: the routing world changes (peers lose the route, AS13335 routes stay after a withdrawal),
 * RIS Live tells the bot, and the real AlertStore posts one alert card to Slack per finding, resolved when it
 * clears. Both are confirmed against a fresh Cloudflare read, and held while a request of the bot moves the prefix.
 */
describe('routing monitor: low visibility and seen while withdrawn, as alert cards', () => {
  let stack: Awaited<ReturnType<typeof testStack>>;
  /** The bot's own AlertStore, tapped so a test can take a reading at the moment of a raise. */
  let onRaise: ((f: Finding) => void) | null = null;
  const tap: AlertSink = {
    raise: (f) => {
      onRaise?.(f);
      return stack.bot!.alerts.raise(f);
    },
    resolve: (key, why, at) => stack.bot!.alerts.resolve(key, why, at),
  };
  const wait = <T>(fn: () => T | undefined | null | false, ms = 15_000) => stack.slack.waitFor(fn, ms);
  const monitor = () => stack.bot!.routingMonitor!;
  const client = () => monitor().jobs.client()!;
  const total = () => stack.world.totalPeersFor(4);
  /** Every alert card in the channel (top level), in its current version. */
  const alertCards = (): SimMessage[] => stack.slack.messages(CHANNEL).filter((m) => !m.threadTs && JSON.stringify(m.blocks).includes('alert `'));
  const cardsOf = (label: string, cidr: string) => alertCards().filter((m) => JSON.stringify(m.blocks).includes(`${label} · ${cidr}`));
  const blocks = (m: SimMessage | undefined) => JSON.stringify(stack.slack.message(CHANNEL, m!.ts)?.blocks ?? []);
  /** Stream messages the RIS Live simulator sent, per prefix. */
  const sent = { announced: new Map<string, number>(), withdrawn: new Map<string, number>() };
  const count = (m: Map<string, number>, p: string) => m.get(p) ?? 0;
  const seenBy = (cidr: string, origin = CLOUDFLARE_ASN) => stack.world.visibleRoutes(cidr).filter((r) => r.origin === origin).length;
  /**
   * AS13335's route of `cidr` held by exactly `n` collector peers from now on (the `n` lowest-ranked ones): the others
   * lose it at once, or pick it up at once. One RIS Live message per peer that changes.
   */
  const setSeenBy = (cidr: string, n: number) => {
    stack.world.withdraw(cidr, CLOUDFLARE_ASN, { decayMs: 0 });
    stack.world.announce(cidr, CLOUDFLARE_ASN, { delayMs: 0, rampMs: 0, reach: n / total() });
    expect(seenBy(cidr)).toBe(n);
  };
  /** Waits until the bot has taken in `n` more stream updates than `from`, and judged them. */
  const applied = async (from: number, n: number) => {
    await wait(() => client().stats.updates >= from + n);
    await settle();
  };
  /** Two more evaluations of every prefix (the monitor judges all again on each inventory read), all finished. */
  const settle = async () => {
    const e = monitor().monitor.stats.evaluations;
    await wait(() => monitor().monitor.stats.evaluations >= e + 4);
    await monitor().monitor.idle();
  };

  beforeAll(async () => {
    stack = await testStack({ routingMonitor: true, alertSink: tap });
    await wait(() => monitor().jobs.streamUp(), 20_000);
    await wait(() => monitor().monitor.stats.evaluations >= 2);
    await monitor().monitor.idle();
    stack.routing.sims.risLive.onMessage = (m) => {
      const d = m.data as { announcements?: { prefixes: string[] }[]; withdrawals?: string[] };
      for (const a of d.announcements ?? []) for (const p of a.prefixes) sent.announced.set(p, count(sent.announced, p) + 1);
      for (const p of d.withdrawals ?? []) sent.withdrawn.set(p, count(sent.withdrawn, p) + 1);
    };
  }, 40_000);
  afterAll(async () => {
    await stack?.cleanup();
  });

  it('the default world is quiet: no alert card', async () => {
    await settle();
    expect(alertCards()).toEqual([]);
    expect(seenBy(ADV.cidr)).toBe(57);
    expect(total()).toBe(60);
  });

  it('low visibility (stream up): one card with the one stream message that takes it below the threshold; resolved when it recovers', async () => {
    const key = `routing:${ADV.cidr}:low_visibility`;
    // Down to the threshold itself (30 of 60 peers, 50 %): 27 withdrawals, and still no finding.
    let updates = client().stats.updates;
    let wd = count(sent.withdrawn, ADV.cidr);
    setSeenBy(ADV.cidr, 30);
    await wait(() => count(sent.withdrawn, ADV.cidr) === wd + 27);
    await applied(updates, 27);
    expect(cardsOf('Low visibility', ADV.cidr)).toEqual([]);
    expect(monitor().monitor.stats.raised).toBe(0);

    // One more peer loses it: one stream message, and the card.
    updates = client().stats.updates;
    wd = count(sent.withdrawn, ADV.cidr);
    let messagesAtRaise = -1;
    onRaise = (f) => {
      if (f.key === key) messagesAtRaise = count(sent.withdrawn, ADV.cidr) - wd;
    };
    setSeenBy(ADV.cidr, 29);
    const card = await wait(() => cardsOf('Low visibility', ADV.cidr)[0]);
    onRaise = null;
    expect(messagesAtRaise).toBe(1);
    expect(count(sent.withdrawn, ADV.cidr) - wd).toBe(1);
    const text = blocks(card);
    expect(text).toContain(`${ADV.cidr} is advertised at Cloudflare but only 29 of 60 collector peers see it from an origin of ours (threshold 30).`);
    expect(text).toContain('*Source:* RIS Live'); // judged on the stream's routes, not a poll's
    expect(text).toContain(ActionId.AlertWithdraw);
    expect(text).toContain(ActionId.AlertAcknowledge);
    const alert = await stack.bot!.alerts.openFor(key);
    expect(alert?.finding.type).toBe('low_visibility');

    // The monitor judges the prefix again and again meanwhile: still one card, one raise.
    await applied(updates, 1);
    await settle();
    expect(cardsOf('Low visibility', ADV.cidr)).toHaveLength(1);
    expect((await stack.bot!.alerts.openFor(key))?.raises).toBe(1);
    expect(monitor().monitor.stats.raised).toBe(1);

    // Back to 57 peers: resolved, on the same card.
    setSeenBy(ADV.cidr, 57);
    await wait(() => /RESOLVED: Low visibility/.test(blocks(card)) || undefined);
    expect(blocks(card)).toContain('🟢 *Resolved*');
    // Why, in words that fit a low visibility (it is seen again, not "no longer seen").
    expect(blocks(card)).toContain('enough collector peers see it again from an origin of ours');
    expect(blocks(card)).not.toContain('no longer seen');
    expect(blocks(card)).not.toContain(ActionId.AlertWithdraw);
    expect(cardsOf('Low visibility', ADV.cidr)).toHaveLength(1);
    expect(alertCards()).toHaveLength(1);
    expect(await stack.bot!.alerts.openFor(key)).toBeNull();
  });

  it('low visibility (stream down): the first poll that reads it low makes one card; the next read, recovered, resolves it', async () => {
    const sim = stack.routing.sims.risLive;
    const ripestat = stack.routing.sims.ripestat;
    const key = `routing:${ADV.cidr}:low_visibility`;
    sim.refuse(true);
    sim.dropAll();
    try {
      await wait(() => !monitor().jobs.streamUp());
      const before = cardsOf('Low visibility', ADV.cidr).length;
      const raised = monitor().monitor.stats.raised;
      // Only the first bgp-state read of the prefix after the change sees it low; by the next one it has recovered.
      // A card at all says one poll was enough.
      let reads = 0;
      ripestat.onRequest = (name, resource) => {
        if (name !== 'bgp-state' || !resource.split(',').includes(ADV.cidr)) return;
        if (++reads === 2) setSeenBy(ADV.cidr, 57);
      };
      setSeenBy(ADV.cidr, 10);
      const card = await wait(() => cardsOf('Low visibility', ADV.cidr)[before]);
      const text = blocks(card);
      expect(text).toContain(`only 10 of 60 collector peers see it from an origin of ours (threshold 30)`);
      expect(text).toContain('*Source:* RIPEstat bgp-state');
      await wait(() => /RESOLVED: Low visibility/.test(blocks(card)) || undefined);
      expect(reads).toBeGreaterThanOrEqual(2);
      ripestat.onRequest = null;
      expect(await stack.bot!.alerts.openFor(key)).toBeNull();
      // More polls: still the one card, raised once.
      const p = monitor().monitor.stats.polls;
      await wait(() => monitor().monitor.stats.polls >= p + 3);
      await monitor().monitor.idle();
      expect(cardsOf('Low visibility', ADV.cidr)).toHaveLength(before + 1);
      expect(monitor().monitor.stats.raised).toBe(raised + 1);
    } finally {
      ripestat.onRequest = null;
      sim.refuse(false);
    }
    await wait(() => monitor().jobs.streamUp(), 20_000);
    await settle();
  });

  it('seen while withdrawn: AS13335 routes of a prefix Cloudflare withdrew make one card, open while any peer keeps one, resolved when the last goes', async () => {
    const key = `routing:${WD.cidr}:seen_while_withdrawn`;
    const world = worldCommand(stack.world);
    expect(stack.cloudflare.state.bgpPrefixes.get(WD.bgpPrefixId)!.advertised).toBe(false);
    const an = count(sent.announced, WD.cidr);
    // Routers that never heard the withdrawal: the route from AS13335 is still out there, reaching 57 peers.
    expect(world.run(`announce ${WD.cidr} ${CLOUDFLARE_ASN}`)).toContain(`AS${CLOUDFLARE_ASN} now announces`);
    const card = await wait(() => cardsOf('Seen while withdrawn', WD.cidr)[0]);
    expect(blocks(card)).toMatch(new RegExp(`${WD.cidr.replace(/\./g, '\\.')} is withdrawn at Cloudflare but \\d+ collector peers? still sees? it from AS13335 \\(a stuck route\\)\\.`));
    expect(blocks(card)).toContain(ActionId.AlertAdvertise);
    expect(blocks(card)).toContain('*Source:* RIS Live');
    await wait(() => count(sent.announced, WD.cidr) === an + 57);
    await settle();
    expect(cardsOf('Seen while withdrawn', WD.cidr)).toHaveLength(1);
    expect((await stack.bot!.alerts.openFor(key))?.raises).toBe(1);
    // Three peers keep it after it is withdrawn (BGP zombies): still open, still one card.
    expect(world.run(`zombie ${WD.cidr} 3`)).toContain('3 peer(s)');
    const wd = count(sent.withdrawn, WD.cidr);
    world.run(`withdraw ${WD.cidr} ${CLOUDFLARE_ASN}`);
    await wait(() => count(sent.withdrawn, WD.cidr) === wd + 54);
    await settle();
    expect(seenBy(WD.cidr)).toBe(3);
    expect(blocks(card)).toContain('🔴 *Open*');
    expect(await stack.bot!.alerts.openFor(key)).not.toBeNull();
    expect(cardsOf('Seen while withdrawn', WD.cidr)).toHaveLength(1);
    // The stuck routes clear: resolved.
    world.run(`zombie ${WD.cidr} 0`);
    await wait(() => /RESOLVED: Seen while withdrawn/.test(blocks(card)) || undefined);
    expect(blocks(card)).toContain('no collector peer sees it from AS13335 any more');
    expect(seenBy(WD.cidr)).toBe(0);
    expect(cardsOf('Seen while withdrawn', WD.cidr)).toHaveLength(1);
    expect(await stack.bot!.alerts.openFor(key)).toBeNull();
  });

  it('stale inventory: Cloudflare advertises a withdrawn prefix outside the bot; its AS13335 routes make no seen-while-withdrawn card', async () => {
    const raised = monitor().monitor.stats.raised;
    const cards = alertCards().length;
    const an = count(sent.announced, WD.cidr);
    const res = await fetch(`${stack.cloudflare.controlUrl}/direct`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ op: 'advertise', cidr: WD.cidr, advertised: true }) });
    expect(res.status).toBe(200);
    expect(stack.cloudflare.state.bgpPrefixes.get(WD.bgpPrefixId)!.advertised).toBe(true);
    // Peers pick the route up a couple of simulated minutes later; the monitor hears every one.
    await wait(() => count(sent.announced, WD.cidr) === an + 57);
    await settle();
    await settle();
    expect(monitor().monitor.stats.raised).toBe(raised);
    expect(cardsOf('Seen while withdrawn', WD.cidr)).toHaveLength(1); // the earlier test's, resolved
    expect(alertCards()).toHaveLength(cards);
    expect((await monitor().monitor.managed()).find((m) => m.cidr === WD.cidr)?.bgp[0]?.advertised).toBe(true);
  });

  it('busy hold: while a withdraw request is being sent, peers losing the route make no low-visibility card', async () => {
    const raised = monitor().monitor.stats.raised;
    const lowCards = cardsOf('Low visibility', ADV.cidr).length;
    // Cloudflare takes its time answering the withdraw: the request stays in flight meanwhile.
    const fault = stack.cloudflare.addFault({ path: `/bgp/prefixes/${ADV.bgpPrefixId}$`, method: 'PATCH', kind: 'latency', ms: 12_000, times: 1 });
    const card = await fileRequest(stack, 'U0ALICE', 'withdraw', ADV.cidr, 'maintenance CHG-91');
    await stack.sender!.clickButton('U0BOB', { channel: CHANNEL, messageTs: card.ts, actionId: ActionId.Approve });
    await wait(() => fault.hits === 1);
    // The routes go first (most peers lose it), while Cloudflare still says advertised.
    const updates = client().stats.updates;
    setSeenBy(ADV.cidr, 10);
    await applied(updates, 47);
    expect(stack.cloudflare.state.bgpPrefixes.get(ADV.bgpPrefixId)!.advertised).toBe(true);
    const ops = await stack.bot!.store.active();
    expect(ops.find((o) => o.prefix === ADV.cidr)?.state).toBe('executing');
    expect(monitor().monitor.stats.raised).toBe(raised);
    expect(cardsOf('Low visibility', ADV.cidr)).toHaveLength(lowCards);
    // The withdraw goes through and is followed to the end: no card then either.
    await expectWithdrawDone(stack, card.ts, ADV);
    await settle();
    expect(monitor().monitor.stats.raised).toBe(raised);
    expect(cardsOf('Low visibility', ADV.cidr)).toHaveLength(lowCards);
    expect(cardsOf('Seen while withdrawn', ADV.cidr)).toEqual([]);
  }, 60_000);
});
