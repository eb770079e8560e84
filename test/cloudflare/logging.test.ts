import { Writable } from 'node:stream';
import { afterEach, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.js';
import { DEFAULT_SCENARIO, SANDBOX_ACCOUNT_ID as ACC, SANDBOX_CLOUDFLARE_TOKEN } from '../../world/simulator/cloudflare/scenarios.js';
import { harness, type Harness } from './helpers.js';

let h: Harness;
afterEach(async () => {
  await h?.close();
});

it('the client logs its calls and failures without the token', async () => {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  const logger = createLogger({ level: 'debug', destination });
  h = await harness('default');
  const client = h.clientFor(SANDBOX_CLOUDFLARE_TOKEN, { logger });
  h.sim.addFault({ path: '/prefixes$', method: 'GET', kind: 'error', status: 503, times: 1 });
  await client.listPrefixes(ACC);
  const W = DEFAULT_SCENARIO.prefixes.withdrawn;
  await client.setBgpPrefixAdvertised(ACC, W.id, W.bgpPrefixId, true);
  await client.getPrefix(ACC, 'ffffffffffffffffffffffffffffffff').catch(() => undefined);
  const text = lines.join('');
  expect(lines.length).toBeGreaterThanOrEqual(4);
  expect(text).toContain('cloudflare call failed');
  expect(text).toContain('"cfOperation":"advertise BGP prefix"');
  expect(text).not.toContain(SANDBOX_CLOUDFLARE_TOKEN);
});
