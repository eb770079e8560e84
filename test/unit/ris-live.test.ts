import { describe, expect, it } from 'vitest';
import { detectFindings, type DetectionInput, type ManagedPrefix, type SeenRoute } from '../../src/monitors/routing-findings.js';
import { backoffDelay, parseFrame } from '../../src/routing/ris-live.js';

const update = (data: Record<string, unknown>) =>
  JSON.stringify({ type: 'ris_message', data: { timestamp: 1636247118.76, peer: '2001:7f8:24::82', peer_asn: '58299', id: 'x', host: 'rrc20.ripe.net', type: 'UPDATE', ...data } });

describe('RIS Live frames', () => {
  it('reads an UPDATE: collector without .ripe.net, peer ASN from a string, origin the last hop, canonical prefixes', () => {
    const f = parseFrame(update({ path: [58299, 49981, 397666], announcements: [{ next_hop: '2001:7f8:24::82', prefixes: ['2001:DB8::/32', '203.0.113.0/24'] }], withdrawals: ['198.51.100.0/24'] }));
    expect(f).toEqual({
      kind: 'update',
      update: { collector: 'rrc20', peer: '2001:7f8:24::82', peerAsn: 58299, timestamp: 1636247118.76, announced: ['2001:db8::/32', '203.0.113.0/24'], withdrawn: ['198.51.100.0/24'], path: [58299, 49981, 397666], origin: 397666 },
    });
  });

  it('an AS_SET hop (a nested list) is null, and an AS_SET origin has no origin', () => {
    const f = parseFrame(update({ path: [174, [64500, 64501]], announcements: [{ prefixes: ['203.0.113.0/24'] }] }));
    expect(f.kind === 'update' && f.update.path).toEqual([174, null]);
    expect(f.kind === 'update' && f.update.origin).toBeNull();
  });

  it('pong, subscribe_ok and ris_error are told apart; an unknown type is "other", not garbage', () => {
    expect(parseFrame('{"type":"pong","data":null}')).toEqual({ kind: 'pong' });
    expect(parseFrame('{"type":"ris_subscribe_ok","data":{"subscription":{}}}')).toEqual({ kind: 'subscribed' });
    expect(parseFrame('{"type":"ris_error","data":{"message":"Unknown type"}}')).toEqual({ kind: 'error', message: 'Unknown type' });
    expect(parseFrame('{"type":"ris_peer_state","data":{}}')).toEqual({ kind: 'other', type: 'ris_peer_state' });
  });

  it.each([
    ['not JSON', '<html>502 Bad Gateway</html>'],
    ['JSON null', 'null'],
    ['a number', '42'],
    ['a ris_message of the wrong shape', '{"type":"ris_message","data":{"peer":42,"announcements":"nope"}}'],
    ['an UPDATE whose prefixes are not CIDRs', update({ announcements: [{ prefixes: ['not-a-prefix'] }] })],
    ['a ris_error without a message', '{"type":"ris_error","data":{}}'],
  ])('garbage is said as garbage, never thrown: %s', (_name, text) => {
    const f = parseFrame(text);
    expect(f.kind).toBe('garbage');
    expect(f.kind === 'garbage' && f.why.length).toBeGreaterThan(0);
  });
});

describe('reconnect backoff', () => {
  const opts = { baseMs: 1000, maxMs: 60_000 };
  it('doubles per attempt up to the ceiling, jittered within [half, all] of it', () => {
    expect(backoffDelay(0, opts, () => 0)).toBe(500);
    expect(backoffDelay(0, opts, () => 1)).toBe(1000);
    expect(backoffDelay(3, opts, () => 1)).toBe(8000);
    expect(backoffDelay(3, opts, () => 0)).toBe(4000);
    expect(backoffDelay(10, opts, () => 1)).toBe(60_000);
    expect(backoffDelay(1000, opts, () => 0.5)).toBe(45_000);
  });
  it('spreads reconnects of many clients (no thundering herd)', () => {
    let seed = 1;
    const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    const delays = new Set(Array.from({ length: 50 }, () => backoffDelay(4, opts, random)));
    expect(delays.size).toBeGreaterThan(40);
    for (const d of delays) expect(d).toBeGreaterThanOrEqual(8000);
  });
});

describe('routing findings', () => {
  const managed = (bgp: ManagedPrefix['bgp'] = [{ cidr: '203.0.113.0/24', advertised: true, modifiedAt: 0 }]): ManagedPrefix => ({ cidr: '203.0.113.0/24', accountId: 'acc', prefixId: 'p1', bgp, ownAsn: () => 64500 });
  const route = (i: number, prefix: string, origin: number | null): SeenRoute => ({ collector: `rrc0${i % 5}`, peer: `198.18.0.${i}`, prefix, path: [174, origin], origin });
  const visible = (n: number, prefix = '203.0.113.0/24', origin: number | null = 13335) => Array.from({ length: n }, (_, i) => route(i, prefix, origin));
  const input = (over: Partial<DetectionInput>): DetectionInput => ({
    managed: managed(),
    routes: visible(50),
    rpki: new Map(),
    usualPeers: 60,
    now: 10 * 3600_000,
    settings: { minPeers: 1, minVisibilityShare: 0.5, settleMs: 30 * 60_000 },
    source: 'RIS Live',
    ...over,
  });
  const types = (i: DetectionInput) => detectFindings(i).map((f) => `${f.type} ${f.key}`);

  it('an advertised prefix seen widely from AS13335 (or our own AS) is no finding', () => {
    expect(types(input({}))).toEqual([]);
    expect(types(input({ routes: [...visible(20), ...visible(20, '203.0.113.0/24', 64500).map((r) => ({ ...r, peer: `x${r.peer}` }))] }))).toEqual([]);
  });

  it('a foreign origin on one peer is one foreign_origin finding keyed by prefix and origin', () => {
    const f = detectFindings(input({ routes: [...visible(50), route(99, '203.0.113.0/24', 64666)], rpki: new Map([['203.0.113.0/24|64666', { state: 'invalid', reason: 'as' }]]) }));
    expect(f.map((x) => x.key)).toEqual(['routing:203.0.113.0/24:foreign_origin:203.0.113.0/24:64666']);
    expect(f[0]!.facts.find((x) => x.label === 'RPKI')?.value).toBe('invalid (the ROA names another AS)');
    expect(f[0]!.actions).toEqual(['emergency_withdraw', 'acknowledge']);
  });

  it('minPeers holds a lone peer back', () => {
    expect(types(input({ routes: [...visible(50), route(99, '203.0.113.0/24', 64666)], settings: { minPeers: 2, minVisibilityShare: 0.5, settleMs: 0 } }))).toEqual([]);
  });

  it('a more-specific is a finding from anyone, our own AS included; a route outside our prefix is ignored', () => {
    expect(types(input({ routes: [...visible(50), route(1, '203.0.113.128/25', 64500), route(2, '203.0.112.0/23', 64500)] }))).toEqual([
      'more_specific routing:203.0.113.0/24:more_specific:203.0.113.128/25:64500',
    ]);
  });

  it('RPKI invalid by an expected origin is its own finding; unknown RPKI (validator down) is none', () => {
    expect(types(input({ rpki: new Map([['203.0.113.0/24|13335', { state: 'invalid', reason: 'length' }]]) }))).toEqual(['rpki_invalid routing:203.0.113.0/24:rpki_invalid:203.0.113.0/24:13335']);
    expect(types(input({ rpki: new Map([['203.0.113.0/24|13335', { state: 'unknown', why: 'Routinator did not answer' }]]) }))).toEqual([]);
  });

  it('low visibility of an advertised prefix once settled, not while Cloudflare is still advertising it', () => {
    expect(types(input({ routes: visible(10) }))).toEqual(['low_visibility routing:203.0.113.0/24:low_visibility']);
    const justNow = managed([{ cidr: '203.0.113.0/24', advertised: true, modifiedAt: 10 * 3600_000 - 60_000 }]);
    expect(types(input({ managed: justNow, routes: visible(10) }))).toEqual([]);
  });

  it('seen from AS13335 while withdrawn (settled) is a finding; our own AS announcing it (the drain) is not', () => {
    const withdrawn = managed([{ cidr: '203.0.113.0/24', advertised: false, modifiedAt: 0 }]);
    expect(types(input({ managed: withdrawn, routes: visible(3) }))).toEqual(['seen_while_withdrawn routing:203.0.113.0/24:seen_while_withdrawn']);
    expect(types(input({ managed: withdrawn, routes: visible(40, '203.0.113.0/24', 64500) }))).toEqual([]);
    expect(detectFindings(input({ managed: withdrawn, routes: visible(3) }))[0]!.actions).toEqual(['emergency_advertise', 'acknowledge']);
  });

  it('an unknown usual count never makes a visibility finding up from nothing', () => {
    expect(types(input({ routes: [], usualPeers: 0, settings: { minPeers: 1, minVisibilityShare: 0, settleMs: 0 } }))).toEqual([]);
  });
});
