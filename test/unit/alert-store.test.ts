import type { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { EnginePolicy } from '../../src/domain/policy.js';
import { AlertDeliverer, AlertStore, type Alert, type AlertNotifier } from '../../src/monitors/alert-store.js';
import type { Finding } from '../../src/monitors/findings.js';
import { DeliveryError } from '../../src/operations/deliverer.js';
import { OperationStore } from '../../src/operations/store.js';
import { deleteKeys, newRedis, uniquePrefix } from './redis.js';

const policy = { slack: { channel: 'C0MAIN', alerts_channel: 'C0ALERTS' }, prefixes: [] } as unknown as EnginePolicy;
const finding = (over: Partial<Finding> = {}): Finding => ({
  key: 'cloudflare:abc',
  source: 'cloudflare',
  type: 'bgp_hijack_notification',
  prefix: '203.0.113.0/24',
  title: 'Route leak of 203.0.113.0/24',
  facts: [{ label: 'Seen from', value: 'AS64666' }],
  observedAt: 1_700_000_000_000,
  actions: ['emergency_withdraw', 'acknowledge'],
  ...over,
});

/** A Slack stand-in that records posts and can lose the answer of the first one. */
class FakeNotifier implements AlertNotifier {
  posts: Alert[] = [];
  updates: Alert[] = [];
  loseNextAnswer = false;
  async postCard(a: Alert): Promise<string> {
    this.posts.push(a);
    if (this.loseNextAnswer) {
      this.loseNextAnswer = false;
      throw new DeliveryError('Slack unreachable: socket hang up', null, false);
    }
    return `ts-${this.posts.length}`;
  }
  async updateCard(a: Alert): Promise<void> {
    this.updates.push(a);
  }
  fingerprint(a: Alert): string {
    return JSON.stringify([a.state, a.finding.title, a.finding.facts, a.notes, a.acknowledgedBy]);
  }
  async findPosted(a: Alert): Promise<string | null> {
    const i = this.posts.findIndex((p) => p.id === a.id);
    return i >= 0 ? `ts-${i + 1}` : null;
  }
}

let redis: Redis;
let prefix: string;
let store: OperationStore;
let alerts: AlertStore;
const logger = pino({ level: 'silent' });

beforeAll(() => {
  redis = newRedis();
});
afterAll(async () => {
  await redis.quit();
});
beforeEach(() => {
  prefix = uniquePrefix();
  store = new OperationStore(redis, prefix);
  alerts = new AlertStore({ store, policy, logger });
});
afterEach(async () => {
  await deleteKeys(redis, `{${prefix}}:*`);
});

describe('AlertStore: one alert per key while not resolved', () => {
  it('concurrent raises of one key make one alert; the rest are folded into it', async () => {
    const results = await Promise.all(Array.from({ length: 20 }, () => alerts.raise(finding())));
    expect(new Set(results.map((r) => r.alertId)).size).toBe(1);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    const a = (await alerts.get(results[0]!.alertId))!;
    expect(a.raises).toBe(20);
    expect(a.channel).toBe('C0ALERTS');
    const trail = await store.auditTrail(`alert:${a.id}`);
    expect(trail.map((t) => t.type)).toEqual(['alert_raised']);
  });

  it('a changed finding is audited as an update; resolve closes it and a new raise opens anew', async () => {
    const first = await alerts.raise(finding());
    await alerts.raise(finding({ facts: [{ label: 'Seen from', value: 'AS64666, AS64667' }] }));
    expect((await alerts.resolve('cloudflare:abc', 'Cloudflare: the event ended', 1_700_000_100_000))?.alertId).toBe(first.alertId);
    expect(await alerts.resolve('cloudflare:abc', 'again', 1)).toBeNull();
    const again = await alerts.raise(finding());
    expect(again.created).toBe(true);
    expect(again.alertId).not.toBe(first.alertId);
    const trail = await store.auditTrail(`alert:${first.alertId}`);
    expect(trail.map((t) => t.type)).toEqual(['alert_raised', 'alert_updated', 'alert_resolved']);
    expect((await alerts.get(first.alertId))!.state).toBe('resolved');
  });

  it('acknowledge records who, once; a resolved alert cannot be acknowledged', async () => {
    const { alertId } = await alerts.raise(finding());
    const a = await alerts.acknowledge(alertId, 'U0BOB');
    expect(a.state).toBe('acknowledged');
    expect(a.acknowledgedBy).toBe('U0BOB');
    await expect(alerts.acknowledge(alertId, 'U0CAROL')).rejects.toThrow(/already acknowledged/);
    await alerts.resolve('cloudflare:abc', 'over', 2);
    await expect(alerts.acknowledge(alertId, 'U0CAROL')).rejects.toThrow(/already resolved/);
    expect((await store.auditTrail(`alert:${alertId}`)).filter((t) => t.type === 'alert_acknowledged').map((t) => t.actor)).toEqual(['U0BOB']);
  });
});

describe('AlertDeliverer: one card per alert, updated in place, exactly once', () => {
  it('a post whose answer was lost is found by its metadata, not posted again; changes update the card', async () => {
    const notifier = new FakeNotifier();
    const deliverer = new AlertDeliverer({ alerts, store, notifier, logger });
    const { alertId } = await alerts.raise(finding());
    notifier.loseNextAnswer = true;
    await expect(deliverer.drain(alertId)).rejects.toThrow(/socket hang up/);
    await deliverer.drain(alertId); // the retry: looks up the card instead of posting a second one
    expect(notifier.posts).toHaveLength(1);
    expect((await alerts.get(alertId))!.cardTs).toBe('ts-1');
    const afterRecovery = notifier.updates.length; // at most one update: the found card is brought up to date
    expect(afterRecovery).toBeLessThanOrEqual(1);
    await deliverer.drain(alertId);
    expect(notifier.updates).toHaveLength(afterRecovery); // nothing changed: no chat.update
    await alerts.resolve('cloudflare:abc', 'ended', 3);
    await deliverer.drain(alertId);
    expect(notifier.posts).toHaveLength(1);
    expect(notifier.updates.slice(afterRecovery).map((u) => u.state)).toEqual(['resolved']);
    expect(await alerts.pending()).toEqual([]);
  });
});
