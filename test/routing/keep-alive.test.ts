import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloudflareClient } from '../../src/cloudflare/client.js';
import { BgpStateClient } from '../../src/routing/bgp-state.js';
import { LookingGlassClient } from '../../src/routing/looking-glass.js';
import { startCloudflareSimulator, type CloudflareSimulator } from '../../world/simulator/cloudflare/server.js';
import { SANDBOX_ACCOUNT_ID, SANDBOX_CLOUDFLARE_TOKEN } from '../../world/simulator/cloudflare/scenarios.js';
import { SimClock } from '../../world/simulator/clock.js';
import { startRipestatSimulator, type RipestatSimulator } from '../../world/simulator/routing/ripestat.js';
import { World } from '../../world/simulator/world.js';

/**
 * The simulators keep idle connections 65 s (they used to close them after 1 s, under the clients' 2 s margin, so
 * every request opened a new TCP connection), and the bot's HTTP clients reuse them: counted at the simulator.
 */
describe('HTTP keep-alive: the bot reuses connections to the simulators', () => {
  let world: World;
  let ripestat: RipestatSimulator;
  let cloudflare: CloudflareSimulator;
  beforeAll(async () => {
    world = new World({ clock: new SimClock(1), seed: 5 });
    ripestat = await startRipestatSimulator({ world });
    cloudflare = await startCloudflareSimulator({ world, scenario: 'default' });
  });
  afterAll(async () => {
    await Promise.all([ripestat.close(), cloudflare.close()]);
  });

  it('RIPEstat: 20 reads one after another, with a pause longer than the old 1 s timeout, on at most two connections', async () => {
    const lg = new LookingGlassClient({ baseUrl: ripestat.url });
    const bgp = new BgpStateClient({ baseUrl: ripestat.url });
    const before = ripestat.connections.count;
    for (let i = 0; i < 20; i++) {
      await (i % 2 ? lg.sample('203.0.113.0/24') : bgp.routes('203.0.113.0/24'));
      if (i === 10) await new Promise((r) => setTimeout(r, 1200));
    }
    // One per request before (a 1 s keep-alive under the client's 2 s margin); now the first, and at most one more
    // opened while the first was still being handed back to the pool.
    expect(ripestat.connections.count - before).toBeLessThanOrEqual(2);
  });

  it('Cloudflare: 10 reads through the client (the official SDK) on at most two connections', async () => {
    const client = new CloudflareClient({ baseUrl: cloudflare.url, apiToken: SANDBOX_CLOUDFLARE_TOKEN, timeoutMs: 2000 });
    const before = cloudflare.connections.count;
    for (let i = 0; i < 10; i++) await client.listPrefixes(SANDBOX_ACCOUNT_ID);
    expect(cloudflare.connections.count - before).toBeLessThanOrEqual(2);
  });
});
