import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DnsTxtClient } from '../../src/routing/dns.js';
import { ErrorCode } from '../../src/errors.js';
import { World } from '../../world/simulator/world.js';
import { startDnsSimulator, type DnsSimulator } from '../../world/simulator/routing/dns.js';

describe('DNS TXT client against the UDP simulator', () => {
  let world: World;
  let sim: DnsSimulator;
  let dns: DnsTxtClient;

  beforeAll(async () => {
    world = new World();
    world.setTxt('cf-validation.113.0.203.in-addr.arpa', ['tok-123']);
    world.setTxt('long.example', ['x'.repeat(600)]);
    world.dnsFailures.add('cf-validation.broken.in-addr.arpa');
    sim = await startDnsSimulator({ world });
    dns = new DnsTxtClient({ server: sim.server, timeoutMs: 500 });
  });
  afterAll(() => sim.close());
  beforeEach(() => sim.setFault({ kind: 'none' }));

  it('finds a TXT record', async () => {
    expect(await dns.txt('cf-validation.113.0.203.in-addr.arpa.')).toEqual({ name: 'cf-validation.113.0.203.in-addr.arpa', status: 'found', values: ['tok-123'] });
    expect(sim.queries).toContain('cf-validation.113.0.203.in-addr.arpa');
  });

  it('joins a long record split into 255-byte strings', async () => {
    expect((await dns.txt('long.example')).values).toEqual(['x'.repeat(600)]);
  });

  it('reports a missing name as an answer, not an error', async () => {
    expect(await dns.txt('cf-validation.112.0.203.in-addr.arpa')).toMatchObject({ status: 'nxdomain', values: [] });
    expect(await dns.txt('113.0.203.in-addr.arpa')).toMatchObject({ status: 'nodata', values: [] });
  });

  it('SERVFAIL is RoutingUnavailable', async () => {
    await expect(dns.txt('cf-validation.broken.in-addr.arpa')).rejects.toMatchObject({ code: ErrorCode.RoutingUnavailable, retryable: true });
  });

  it('a silent or slow server times out within the timeout', async () => {
    for (const fault of [{ kind: 'silent' as const }, { kind: 'slow' as const, delayMs: 2_000 }]) {
      sim.setFault(fault);
      const t0 = Date.now();
      const err = await dns.txt('cf-validation.113.0.203.in-addr.arpa').catch((e: unknown) => e);
      expect(Date.now() - t0).toBeLessThan(1_500);
      expect(err).toMatchObject({ code: ErrorCode.RoutingUnavailable });
      expect((err as { userMessage: string }).userMessage).toMatch(/did not answer within 500 ms/);
    }
  });

  it('a garbage reply is a clear error', async () => {
    sim.setFault({ kind: 'garbage' });
    const err = await dns.txt('cf-validation.113.0.203.in-addr.arpa').catch((e: unknown) => e);
    expect(err).toMatchObject({ retryable: true });
    expect([ErrorCode.RoutingBadResponse, ErrorCode.RoutingUnavailable]).toContain((err as { code: ErrorCode }).code);
  });

  it('a server that is not there is RoutingUnavailable within the timeout', async () => {
    const dgram = await import('node:dgram');
    const probe = dgram.createSocket('udp4');
    await new Promise<void>((r) => probe.bind(0, '127.0.0.1', () => r()));
    const port = probe.address().port;
    await new Promise<void>((r) => probe.close(() => r()));
    const gone = new DnsTxtClient({ server: `127.0.0.1:${port}`, timeoutMs: 400 });
    const t0 = Date.now();
    await expect(gone.txt('cf-validation.113.0.203.in-addr.arpa')).rejects.toMatchObject({ code: ErrorCode.RoutingUnavailable, retryable: true });
    expect(Date.now() - t0).toBeLessThan(1_500);
  });

  it('a bad server setting is a clear error', async () => {
    const bad = new DnsTxtClient({ server: 'not a server', timeoutMs: 300 });
    await expect(bad.txt('example.org')).rejects.toMatchObject({ code: ErrorCode.RoutingBadResponse });
  });
});
