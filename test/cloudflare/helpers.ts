import { expect } from 'vitest';
import { CloudflareError } from '../../src/cloudflare/errors.js';
import { CloudflareClient, type CloudflareClientOptions } from '../../src/cloudflare/client.js';
import { startCloudflareSimulator, type CloudflareSimulator, type CloudflareSimulatorOptions } from '../../world/simulator/cloudflare/server.js';
import { SANDBOX_CLOUDFLARE_TOKEN } from '../../world/simulator/cloudflare/scenarios.js';
import { SimClock } from '../../world/simulator/clock.js';
import { World } from '../../world/simulator/world.js';
import { checkCalls } from './openapi.js';

export interface Harness {
  world: World;
  sim: CloudflareSimulator;
  client: CloudflareClient;
  clientFor(token: string, extra?: Partial<CloudflareClientOptions>): CloudflareClient;
  close(): Promise<void>;
}

/** A world, a simulator seeded with `scenario`, and a client with fast retries. */
export async function harness(
  scenario = 'default',
  opts: {
    sim?: Partial<CloudflareSimulatorOptions>;
    client?: Partial<CloudflareClientOptions>;
    /** On close, check every recorded request and response against the OpenAPI extract (`requests: false` for raw bad input). */
    conformance?: { requests: boolean } | false;
  } = {},
): Promise<Harness> {
  const world = new World({ clock: new SimClock(1, new Date('2026-11-29T12:00:00Z')), seed: 42 });
  const sim = await startCloudflareSimulator({ world, scenario, ...opts.sim });
  const clientFor = (token: string, extra: Partial<CloudflareClientOptions> = {}) =>
    new CloudflareClient({ baseUrl: sim.url, apiToken: token, timeoutMs: 2_000, retryBaseDelayMs: 10, retryMaxDelayMs: 50, ...opts.client, ...extra });
  const close = async () => {
    await sim.close();
    if (opts.conformance === false) return;
    const report = checkCalls(sim.state.calls, undefined, { checkRequests: opts.conformance?.requests ?? true });
    if (report.problems.length) throw new Error(`traffic that breaks the OpenAPI extract:\n${report.problems.join('\n')}`);
  };
  return { world, sim, client: clientFor(SANDBOX_CLOUDFLARE_TOKEN), clientFor, close };
}

export const HOUR = 3_600_000;
export const MINUTE = 60_000;

/** Awaits a call that must fail with a CloudflareError, and returns the error. */
export async function caught(p: Promise<unknown>): Promise<CloudflareError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(CloudflareError);
    return err as CloudflareError;
  }
  throw new Error('expected the call to fail');
}
