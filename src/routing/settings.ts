import { z } from 'zod';
import { BotError, ErrorCode } from '../errors.js';
import type { RoutingSettings } from './preflight.js';

/**
 * Environment settings of the routing view. Merge `routingEnvShape` into the app's env schema, or call
 * `routingSettingsFromEnv(process.env)`. Every service is one URL away from its simulator.
 */
export const routingEnvShape = {
  /** RIPEstat Data API base. */
  RIPESTAT_URL: z.string().url().default('https://stat.ripe.net'),
  /** Sent as `sourceapp=` (RIPE asks heavy users to identify themselves). */
  RIPESTAT_SOURCEAPP: z.string().regex(/^[A-Za-z0-9_.-]+$/).default('byoip-bot'),
  /** A Routinator (or Routinator-compatible) HTTP API; when unset, RIPEstat rpki-validation is used alone. */
  RPKI_VALIDATOR_URL: z.string().url().optional(),
  /** An IRRd whois server (TCP 43). */
  IRR_WHOIS_HOST: z.string().min(1).default('whois.radb.net'),
  IRR_WHOIS_PORT: z.coerce.number().int().min(1).max(65535).default(43),
  /** DNS server for the ownership TXT look-ups, `host:port` (comma-separated for several); unset uses the system's. */
  DNS_SERVER: z.string().optional(),
  /** Timeout of each routing look-up. */
  ROUTING_TIMEOUT_MS: z.coerce.number().int().min(50).max(60_000).default(5_000),
};

export const routingEnvSchema = z.object(routingEnvShape);

export function routingSettingsFromEnv(env: Record<string, string | undefined>): RoutingSettings {
  const r = routingEnvSchema.safeParse(env);
  if (!r.success) {
    const why = r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new BotError(ErrorCode.ConfigInvalid, `The routing settings are not valid: ${why}.`);
  }
  const e = r.data;
  return {
    ripestatUrl: e.RIPESTAT_URL,
    sourceApp: e.RIPESTAT_SOURCEAPP,
    irrHost: e.IRR_WHOIS_HOST,
    irrPort: e.IRR_WHOIS_PORT,
    timeoutMs: e.ROUTING_TIMEOUT_MS,
    ...(e.RPKI_VALIDATOR_URL ? { routinatorUrl: e.RPKI_VALIDATOR_URL } : {}),
    ...(e.DNS_SERVER ? { dnsServer: e.DNS_SERVER } : {}),
  };
}
