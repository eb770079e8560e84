import { describe, expect, it } from 'vitest';
import { evaluatePropagation } from '../../src/routing/propagation.js';
import type { VisibilitySample } from '../../src/routing/looking-glass.js';

function sample(byOrigin: Record<number, number>): VisibilitySample {
  const peersSeeing = Object.values(byOrigin).reduce((a, b) => a + b, 0);
  return { prefix: '203.0.113.0/24', at: new Date('2026-07-13T10:00:00Z'), peersSeeing, collectors: 5, byOrigin };
}

describe('evaluatePropagation', () => {
  it('is propagating below the share and propagated at it', () => {
    const r = evaluatePropagation({ action: 'advertise', sample: sample({ 13335: 41 }), usualPeerCount: 57, elapsedMs: 60_000 });
    expect(r).toMatchObject({ verdict: 'propagating', peersWithExpectedOrigin: 41, usualPeerCount: 57, escalate: false, unexpectedOrigins: [] });
    expect(r.summary).toContain('41/57 peers see 203.0.113.0/24 from AS13335 (72%)');
    const done = evaluatePropagation({ action: 'advertise', sample: sample({ 13335: 43 }), usualPeerCount: 57, elapsedMs: 60_000 });
    expect(done.verdict).toBe('propagated');
  });

  it('needs at least minPeers even when the usual count is tiny', () => {
    const r = evaluatePropagation({ action: 'advertise', sample: sample({ 13335: 8 }), usualPeerCount: 8, elapsedMs: 0 });
    expect(r.verdict).toBe('propagating');
  });

  it('does not count peers that see another origin towards propagation', () => {
    const r = evaluatePropagation({ action: 'advertise', sample: sample({ 64500: 57 }), usualPeerCount: 57, elapsedMs: 0, ownOrigins: [64500] });
    expect(r.verdict).toBe('propagating');
    expect(r.unexpectedOrigins).toEqual([]);
  });

  it('escalates an advertise not propagated after 20 minutes, not before', () => {
    const base = { action: 'advertise' as const, sample: sample({ 13335: 20 }), usualPeerCount: 57 };
    expect(evaluatePropagation({ ...base, elapsedMs: 19 * 60_000 }).escalate).toBe(false);
    const late = evaluatePropagation({ ...base, elapsedMs: 20 * 60_000 });
    expect(late.escalate).toBe(true);
    expect(late.summary).toMatch(/not propagated after 20 min/);
    expect(evaluatePropagation({ ...base, sample: sample({ 13335: 57 }), elapsedMs: 60 * 60_000 }).escalate).toBe(false);
  });

  it('is withdrawn below minPeers with the expected origin, even while the team announces it itself', () => {
    const r = evaluatePropagation({ action: 'withdraw', sample: sample({ 13335: 3, 64500: 55 }), ownOrigins: [64500], usualPeerCount: 57, elapsedMs: 120_000 });
    expect(r).toMatchObject({ verdict: 'withdrawn', escalate: false, unexpectedOrigins: [] });
    const still = evaluatePropagation({ action: 'withdraw', sample: sample({ 13335: 30 }), usualPeerCount: 57, elapsedMs: 120_000 });
    expect(still.verdict).toBe('withdrawing');
  });

  it('escalates a withdraw still visible after 30 minutes', () => {
    const base = { action: 'withdraw' as const, sample: sample({ 13335: 30 }), usualPeerCount: 57 };
    expect(evaluatePropagation({ ...base, elapsedMs: 29 * 60_000 }).escalate).toBe(false);
    const late = evaluatePropagation({ ...base, elapsedMs: 30 * 60_000 });
    expect(late.escalate).toBe(true);
    expect(late.summary).toMatch(/still visible after 30 min/);
  });

  it('flags a hijack: another origin seen by several peers escalates at once', () => {
    const r = evaluatePropagation({ action: 'advertise', sample: sample({ 13335: 50, 64666: 7, 64500: 4 }), ownOrigins: [64500], usualPeerCount: 57, elapsedMs: 0 });
    expect(r.verdict).toBe('propagated');
    expect(r.unexpectedOrigins).toEqual([{ asn: 64666, peers: 7 }]);
    expect(r.escalate).toBe(true);
    expect(r.summary).toMatch(/AS64666 on 7 peers/);
  });

  it('ignores a single peer with another origin as noise', () => {
    const r = evaluatePropagation({ action: 'advertise', sample: sample({ 13335: 50, 64666: 1 }), usualPeerCount: 57, elapsedMs: 0 });
    expect(r.unexpectedOrigins).toEqual([]);
    expect(r.escalate).toBe(false);
  });

  it('honours a custom expected origin, thresholds and escalation', () => {
    const r = evaluatePropagation({ action: 'advertise', sample: sample({ 64500: 5 }), expectedOrigin: 64500, minPeers: 3, share: 0.5, usualPeerCount: 10, elapsedMs: 0 });
    expect(r.verdict).toBe('propagated');
    const w = evaluatePropagation({ action: 'withdraw', sample: sample({ 13335: 12 }), usualPeerCount: 57, elapsedMs: 5 * 60_000, escalateAfterMs: 5 * 60_000 });
    expect(w.escalate).toBe(true);
  });
});

describe('looking-glass summary', () => {
  it('takes the origin from the AS path, falls back to asn_origin, and keeps AS_SET origins as 0', async () => {
    const { summarise, lookingGlassResponse } = await import('../../src/routing/looking-glass.js');
    const body = lookingGlassResponse.parse({
      status: 'ok',
      data: {
        rrcs: [
          { rrc: 'RRC00', peers: [{ asn_origin: '13335', as_path: '6939 13335 13335', prefix: 'x' }, { asn_origin: 'AS13335', prefix: 'x' }] },
          { rrc: 'RRC01', peers: [{ asn_origin: '64666', as_path: '174 64666' }, { asn_origin: '{64500,64501}', as_path: '174 {64500,64501}' }] },
          { rrc: 'RRC03', peers: [] },
        ],
      },
    });
    const s = summarise('203.0.113.0/24', body, new Date(0));
    expect(s).toMatchObject({ peersSeeing: 4, collectors: 2, byOrigin: { 13335: 2, 64666: 1, 0: 1 }, byCollector: { RRC00: 2, RRC01: 2 } });
  });
});
