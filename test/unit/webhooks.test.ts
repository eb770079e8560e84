import { describe, expect, it } from 'vitest';
import {
  autoAdvertisementStatuses,
  cloudflareFinding,
  detectorFinding,
  isTestMessage,
  parseCloudflare,
  parseDetector,
  prefixesOf,
  secretMatches,
} from '../../src/monitors/webhooks.js';
import type { ManagedPrefix } from '../../src/monitors/managed.js';

const ours: ManagedPrefix = { cidr: '203.0.113.0/24', accountId: 'a'.repeat(32), prefixId: 'p'.repeat(32), accountPrefix: '203.0.113.0/24', advertised: true };

const envelope = (over: Record<string, unknown> = {}) => ({
  name: 'Route Leak Detection',
  text: 'Route leak detected',
  data: { prefix_configured: '203.0.113.0/24', hijack_as: 64666, ASNs_seen: [64666], some_new_field: { x: 1 } },
  ts: 1_700_000_000,
  account_id: 'a'.repeat(32),
  policy_id: 'b'.repeat(32),
  policy_name: 'leaks',
  alert_type: 'bgp_hijack_notification',
  alert_correlation_id: 'corr-1',
  alert_event: 'ALERT_STATE_EVENT_START',
  ...over,
});

describe("Cloudflare's notification envelope", () => {
  it('parses the documented envelope, keeping unknown data fields, and tolerates absent optional ones', () => {
    const p = parseCloudflare(envelope());
    expect(p.kind).toBe('alert');
    if (p.kind !== 'alert') return;
    expect(p.envelope.data?.some_new_field).toEqual({ x: 1 });
    expect(parseCloudflare({ alert_type: 'fbm_dosd_attack' }).kind).toBe('alert');
    expect(parseCloudflare({ alert_type: 'x', account_id: null, policy_id: null, data: null }).kind).toBe('alert');
  });

  it('the test message is recognised; everything else without alert_type is refused with a sentence', () => {
    expect(isTestMessage({ text: 'Hello World! This is a test message sent from https://cloudflare.com.' })).toBe(true);
    expect(parseCloudflare({ text: 'Hello World! …' }).kind).toBe('test');
    const r = parseCloudflare({ text: 'hi' });
    expect(r.kind === 'invalid' && r.why).toMatch(/no alert_type/);
    for (const bad of [null, 42, 'str', [1]]) expect(parseCloudflare(bad).kind).toBe('invalid');
    const wrongType = parseCloudflare({ alert_type: 'x', ts: 'yesterday' });
    expect(wrongType.kind === 'invalid' && wrongType.why).toMatch(/ts/);
  });

  it('finds the prefixes each type names, and the auto-advertisement statuses', () => {
    expect(prefixesOf('bgp_hijack_notification', { prefix_configured: '203.0.113.0/24', prefix_hijacked: '203.0.113.0/25' })).toEqual(['203.0.113.0/24', '203.0.113.0/25']);
    expect(prefixesOf('fbm_volumetric_attack', { destination_ip: '203.0.113.9' })).toEqual(['203.0.113.9']);
    const data = { prefixes: [{ prefix: '203.0.113.0/24', status: 'Advertised' }, { cidr: '198.51.100.0/24', status: 'Could not Advertise' }] };
    expect(autoAdvertisementStatuses(data)).toEqual([
      { prefix: '203.0.113.0/24', status: 'Advertised' },
      { prefix: '198.51.100.0/24', status: 'Could not Advertise' },
    ]);
    expect(prefixesOf('fbm_auto_advertisement', data)).toEqual(['203.0.113.0/24', '198.51.100.0/24']);
  });

  it('a finding: keyed by correlation id, actions by type, not-ours without emergency buttons', () => {
    const p = parseCloudflare(envelope());
    if (p.kind !== 'alert') throw new Error('expected an alert');
    const f = cloudflareFinding(p.envelope, ours, '203.0.113.0/24', 0);
    expect(f.key).toBe('cloudflare:corr-1');
    expect(f.type).toBe('bgp_hijack_notification');
    expect(f.observedAt).toBe(1_700_000_000_000);
    expect(f.actions).toContain('emergency_withdraw');
    expect(f.facts.map((x) => x.label)).toContain('hijack_as');
    const far = cloudflareFinding(p.envelope, null, '192.0.2.0/24', 0);
    expect(far.prefix).toBeNull();
    expect(far.actions).toEqual(['acknowledge']);
    expect(far.facts[0]).toEqual({ label: 'Reported prefix', value: '192.0.2.0/24 (not one of ours)' });
    const other = parseCloudflare(envelope({ alert_type: 'magic_tunnel_health_check_event', alert_correlation_id: undefined }));
    if (other.kind !== 'alert') throw new Error('expected an alert');
    const o = cloudflareFinding(other.envelope, ours, '203.0.113.0/24', 0);
    expect(o.type).toBe('cloudflare_other');
    expect(o.key).toMatch(/^cloudflare:[0-9a-f]{40}$/);
  });

  it('a finding about several of our prefixes lists them all in `prefixes` (distinct, ours only); about one, it has none', () => {
    const data = { prefixes: [{ prefix: '203.0.113.0/24', status: 'Advertised' }, { prefix: '198.51.100.0/24', status: 'Already Advertised' }, { prefix: '192.0.2.0/24', status: 'Advertised' }] };
    const p = parseCloudflare(envelope({ alert_type: 'fbm_auto_advertisement', data }));
    if (p.kind !== 'alert') throw new Error('expected an alert');
    const second: ManagedPrefix = { ...ours, cidr: '198.51.100.0/24', accountPrefix: '198.51.100.0/24' };
    const also = [{ managed: ours, named: '203.0.113.0/24' }, { managed: second, named: '198.51.100.0/24' }, { managed: second, named: '198.51.100.0/25' }];
    const f = cloudflareFinding(p.envelope, ours, '203.0.113.0/24', 0, { also, notOurs: ['192.0.2.0/24'] });
    expect(f.prefix).toBe('203.0.113.0/24');
    expect(f.prefixes).toEqual(['203.0.113.0/24', '198.51.100.0/24']);
    expect(f.title).toBe('Cloudflare auto-advertised 203.0.113.0/24 and 198.51.100.0/24');
    expect(f.actions).toEqual(['emergency_withdraw', 'acknowledge']);
    expect(f.facts).toContainEqual({ label: 'Also named', value: '192.0.2.0/24 (not ours: never acted on)' });
    const one = cloudflareFinding(p.envelope, ours, '203.0.113.0/24', 0, { also: [{ managed: ours, named: '203.0.113.0/24' }] });
    expect(one.prefixes).toBeUndefined();
    expect(one.title).toBe('Cloudflare auto-advertised 203.0.113.0/24');
  });
});

describe("the detector's body", () => {
  it("accepts FastNetMon's field names and a plain prefix; refuses what names no address", () => {
    const fnm = parseDetector({ ip: '203.0.113.7', action: 'ban', alert_scope: 'host', attack_details: { attack_type: 'syn_flood', total_incoming_traffic: 2e9, extra: 1 } });
    expect(fnm.ok && fnm.cidr).toBe('203.0.113.7/32');
    expect(parseDetector({ prefix: '203.0.113.0/24', action: 'start' }).ok).toBe(true);
    expect(parseDetector({ ip: '2001:db8::1', action: 'partial_block' }).ok).toBe(true);
    const noAddr = parseDetector({ action: 'ban' });
    expect(!noAddr.ok && noAddr.why).toMatch(/"ip" or "prefix"/);
    const badAction = parseDetector({ ip: '203.0.113.7', action: 'explode' });
    expect(badAction.ok).toBe(false);
    const badIp = parseDetector({ ip: '999.1.1.1', action: 'ban' });
    expect(!badIp.ok && badIp.why).toMatch(/not an IP address or prefix/);
  });

  it('one alert per covering prefix, proposing an emergency advertise', () => {
    const p = parseDetector({ ip: '203.0.113.7', action: 'ban', attack_details: { total_incoming_traffic: 2e9 } });
    if (!p.ok) throw new Error(p.why);
    const f = detectorFinding(p.body, p.cidr, ours, 5);
    expect(f.key).toBe('detector:203.0.113.0/24');
    expect(f.actions).toEqual(['emergency_advertise', 'acknowledge']);
    expect(f.facts).toContainEqual({ label: 'Incoming', value: '2000.0 Mbit/s' });
    expect(detectorFinding(p.body, p.cidr, null, 5).actions).toEqual(['acknowledge']);
  });
});

describe('secrets', () => {
  it('compares whatever the lengths, and refuses a missing one', () => {
    expect(secretMatches('s3cret', 's3cret')).toBe(true);
    expect(secretMatches('s3cre', 's3cret')).toBe(false);
    expect(secretMatches('s3cretX', 's3cret')).toBe(false);
    expect(secretMatches(undefined, 's3cret')).toBe(false);
  });
});
