import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createRoutingDeps, runPreflight, type PreflightLine, type PreflightReport, type RoutingDeps } from '../../src/routing/preflight.js';
import { InvalidInputError } from '../../src/errors.js';
import { World } from '../../world/simulator/world.js';
import { startRoutingSimulators, type RoutingSimulators } from '../../world/simulator/routing/index.js';

const TOKEN = 'a1b2c3d4e5f6';

function line(report: PreflightReport, prefix: string): PreflightLine {
  const l = report.lines.find((x) => x.check.startsWith(prefix));
  if (!l) throw new Error(`no line ${prefix} in ${JSON.stringify(report.lines)}`);
  return l;
}

describe('runPreflight against the routing simulators', () => {
  let world: World;
  let sims: RoutingSimulators;
  let deps: RoutingDeps;

  beforeAll(async () => {
    world = new World();
    // Good: 203.0.113.0/24 has a ROA, a RADB route object with the token in a remark.
    world.addRoa({ prefix: '203.0.113.0/24', maxLength: 24, asn: 13335 });
    world.addRouteObject({ prefix: '203.0.113.0/24', origin: 13335, source: 'RADB', descr: ['edge'], remarks: [`cf-validation: ${TOKEN}`] });
    // The maxLength trap: ROA /23 maxLength 23, announced as /24s; route object fine; token in both reverse zones.
    world.addRoa({ prefix: '198.51.100.0/23', maxLength: 23, asn: 13335 });
    world.addRouteObject({ prefix: '198.51.100.0/23', origin: 13335, source: 'RADB', descr: [], remarks: [] });
    world.addRouteObject({ prefix: '198.51.100.0/24', origin: 13335, source: 'RADB', descr: [], remarks: [] });
    world.addRouteObject({ prefix: '198.51.101.0/24', origin: 13335, source: 'RADB', descr: [], remarks: [] });
    world.setTxt('cf-validation.100.51.198.in-addr.arpa', [TOKEN]);
    world.setTxt('cf-validation.101.51.198.in-addr.arpa', [TOKEN]);
    // Wrong origin: the route object names the customer's AS; token in only one of two reverse zones.
    world.addRoa({ prefix: '192.0.2.0/23', maxLength: 24, asn: 13335 });
    world.addRouteObject({ prefix: '192.0.2.0/23', origin: 64500, source: 'RIPE', descr: [], remarks: [] });
    world.setTxt('cf-validation.2.0.192.in-addr.arpa', [TOKEN]);
    world.setTxt('cf-validation.3.0.192.in-addr.arpa', ['old-token']);
    // RPKI pseudo object only: a ROA but no route object.
    world.addRoa({ prefix: '100.64.0.0/24', maxLength: 24, asn: 13335 });
    // IPv6, all good through DNS.
    world.addRoa({ prefix: '2001:db8::/32', maxLength: 48, asn: 13335 });
    world.addRouteObject({ prefix: '2001:db8::/48', origin: 13335, source: 'ARIN', descr: [], remarks: [] });
    world.setTxt('cf-validation.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa', [TOKEN]);

    // Only a covering route object for 10.20.30.0/24.
    world.addRouteObject({ prefix: '10.20.0.0/16', origin: 13335, source: 'RADB', descr: [], remarks: [`cf-validation: ${TOKEN}`] });
    sims = await startRoutingSimulators({ world });
    deps = createRoutingDeps({
      ripestatUrl: sims.ripestatUrl,
      routinatorUrl: sims.routinatorUrl,
      irrHost: sims.irr.host,
      irrPort: sims.irr.port,
      dnsServer: sims.env.DNS_SERVER,
      timeoutMs: 400,
    });
  });
  afterAll(() => sims.close());
  beforeEach(() => {
    sims.sims.ripestat.setFault({ kind: 'none' });
    sims.sims.routinator.setFault({ kind: 'none' });
    sims.sims.irrd.setFault({ kind: 'none' });
    sims.sims.dns.setFault({ kind: 'none' });
  });

  it('passes a prefix with everything right, token found in the IRR remark', async () => {
    const r = await runPreflight({ cidr: '203.0.113.0/24', ownershipToken: TOKEN }, deps);
    expect(r.status).toBe('pass');
    expect(r.asn).toBe(13335);
    expect(r.lines.map((l) => [l.check, l.status])).toEqual([
      ['Prefix size', 'pass'],
      ['RPKI for 203.0.113.0/24', 'pass'],
      ['IRR route object for 203.0.113.0/24', 'pass'],
      ['Ownership token', 'pass'],
    ]);
    expect(line(r, 'Ownership').detail).toMatch(/route object for 203.0.113.0\/24 in RADB/);
  });

  it('finds the maxLength trap for every announced /24, with the fix', async () => {
    const r = await runPreflight({ cidr: '198.51.100.0/23', announceLengths: [23, 24], ownershipToken: TOKEN }, deps);
    expect(r.status).toBe('fail');
    expect(line(r, 'RPKI for 198.51.100.0/23').status).toBe('pass');
    const trap = line(r, 'RPKI for /24s');
    expect(trap.status).toBe('fail');
    expect(trap.detail).toMatch(/RPKI invalid \(length\)/);
    expect(trap.detail).toContain('198.51.100.0/23 AS13335 maxLength 23');
    expect(trap.fix).toMatch(/Raise the maxLength of the ROA 198.51.100.0\/23 AS13335 to 24/);
    expect(line(r, 'IRR route object for /24s').status).toBe('pass');
    expect(line(r, 'Ownership').status).toBe('pass');
    expect(line(r, 'Ownership').detail).toMatch(/all 2 reverse zones/);
  });

  it('finds a wrong-origin route object and a token missing from one of two reverse zones', async () => {
    const r = await runPreflight({ cidr: '192.0.2.0/23', ownershipToken: TOKEN }, deps);
    const irr = line(r, 'IRR route object');
    expect(irr.status).toBe('fail');
    expect(irr.detail).toMatch(/Wrong origin: .*AS64500 in RIPE, not AS13335/);
    expect(irr.fix).toMatch(/route: 192.0.2.0\/23` with `origin: AS13335/);
    const tok = line(r, 'Ownership');
    expect(tok.status).toBe('fail');
    expect(tok.detail).toMatch(/Found in 1 of 2 reverse zones; missing in 3.0.192.in-addr.arpa \(has "old-token"\)/);
    expect(tok.fix).toContain(`cf-validation.3.0.192.in-addr.arpa. IN TXT "${TOKEN}"`);
    expect(tok.fix).not.toContain('2.0.192.in-addr.arpa.');
  });

  it('does not count an RPKI pseudo route object as an IRR route object', async () => {
    const r = await runPreflight({ cidr: '100.64.0.0/24' }, deps);
    expect(line(r, 'RPKI').status).toBe('pass');
    const irr = line(r, 'IRR route object');
    expect(irr.status).toBe('fail');
    expect(irr.detail).toMatch(/Only an RPKI pseudo route object/);
    expect(irr.fix).toMatch(/Create `route: 100.64.0.0\/24` with `origin: AS13335`/);
    expect(r.lines.some((l) => l.check === 'Ownership token')).toBe(false);
  });

  it('reports a missing ROA and a missing route object', async () => {
    const r = await runPreflight({ cidr: '10.10.0.0/24' }, deps);
    expect(line(r, 'RPKI').detail).toMatch(/No ROA covers 10.10.0.0\/24/);
    expect(line(r, 'RPKI').fix).toMatch(/Create a ROA for 10.10.0.0\/24 with origin AS13335 and maxLength 24/);
    expect(line(r, 'IRR').detail).toMatch(/No IRR route object/);
  });

  it('explains that a covering route object does not stand in for the exact one', async () => {
    const r = await runPreflight({ cidr: '10.20.30.0/24', ownershipToken: TOKEN }, deps);
    expect(line(r, 'IRR').status).toBe('fail');
    expect(line(r, 'IRR').detail).toMatch(/A covering route object exists \(10.20.0.0\/16 AS13335 \(RADB\)\), but Cloudflare wants one for the exact prefix/);
    expect(line(r, 'Ownership').detail).toMatch(/Only the covering route object 10.20.0.0\/16 \(RADB\) carries the token/);
  });

  it('checks an IPv6 /48 with the token in its ip6.arpa zone', async () => {
    const r = await runPreflight({ cidr: '2001:db8::/48', ownershipToken: TOKEN }, deps);
    expect(r.status).toBe('pass');
  });

  it('uses the ASN asked for (the customer announcing through Cloudflare)', async () => {
    const r = await runPreflight({ cidr: '192.0.2.0/23', asn: 64500 }, deps);
    expect(line(r, 'RPKI').status).toBe('fail');
    expect(line(r, 'RPKI').detail).toMatch(/name AS13335, not AS64500/);
    expect(line(r, 'IRR').status).toBe('pass');
  });

  it('says the prefix is too long and stops there', async () => {
    const r = await runPreflight({ cidr: '203.0.113.128/25' }, deps);
    expect(r.status).toBe('fail');
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]!.fix).toMatch(/covering \/24 \(203.0.113.0\/24\)/);
  });

  it('rejects bad input with a sentence', async () => {
    await expect(runPreflight({ cidr: 'hello' }, deps)).rejects.toBeInstanceOf(InvalidInputError);
    await expect(runPreflight({ cidr: '203.0.113.0/24', asn: 0 }, deps)).rejects.toThrow(/AS0 cannot originate a route/);
    await expect(runPreflight({ cidr: '203.0.113.0/24', asn: 2 ** 32 }, deps)).rejects.toThrow(/cannot originate/);
    await expect(runPreflight({ cidr: '203.0.113.0/24', announceLengths: [25] }, deps)).rejects.toThrow(/\/25 cannot be announced/);
  });

  it('says unknown, not fail, when every service is down, and returns within the timeouts', async () => {
    sims.sims.ripestat.setFault({ kind: 'slow', delayMs: 5_000 });
    sims.sims.routinator.setFault({ kind: 'garbage' });
    sims.sims.irrd.setFault({ kind: 'silent' });
    sims.sims.dns.setFault({ kind: 'silent' });
    const t0 = Date.now();
    const r = await runPreflight({ cidr: '203.0.113.0/24', ownershipToken: TOKEN }, deps);
    expect(Date.now() - t0).toBeLessThan(2_500);
    expect(r.status).toBe('unknown');
    expect(r.lines.slice(1).map((l) => l.status)).toEqual(['unknown', 'unknown', 'unknown']);
    expect(line(r, 'RPKI').detail).toMatch(/RIPEstat rpki-validation did not answer within 400 ms/);
    expect(line(r, 'IRR').detail).toMatch(/IRR .* did not answer within 400 ms/);
    expect(line(r, 'IRR').fix).toMatch(/again/);
  });

  it('falls back to RIPEstat when Routinator is down', async () => {
    sims.sims.routinator.setFault({ kind: 'error' });
    const r = await runPreflight({ cidr: '203.0.113.0/24' }, deps);
    expect(line(r, 'RPKI').status).toBe('pass');
    expect(line(r, 'RPKI').detail).toMatch(/RIPEstat/);
  });

  it('passes the token through DNS even when the IRR is down, but cannot fail it then', async () => {
    sims.sims.irrd.setFault({ kind: 'hangup' });
    const ok = await runPreflight({ cidr: '198.51.100.0/23', ownershipToken: TOKEN }, deps);
    expect(line(ok, 'Ownership').status).toBe('pass');
    const unsure = await runPreflight({ cidr: '192.0.2.0/23', ownershipToken: TOKEN }, deps);
    expect(line(unsure, 'Ownership').status).toBe('unknown');
  });
});
