import { z } from 'zod';
import { BotError, ErrorCode } from '../errors.js';

/**
 * RIPEstat Data API conventions shared by the looking-glass, routing-status and rpki-validation clients:
 * URL shape `<base>/data/<endpoint>/data.json?...`, the common envelope, and ASNs that arrive as
 * integers, `"13335"` or `"AS13335"`.
 */

export const RIPESTAT_PRODUCTION_URL = 'https://stat.ripe.net';
export const DEFAULT_SOURCE_APP = 'byoip-bot';

/** Reads an ASN written as 13335, "13335" or "AS13335"; undefined for anything else (e.g. an AS_SET). */
export function parseAsn(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) && value >= 0 && value <= 4294967295 ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const m = /^\s*(?:AS)?(\d{1,10})\s*$/i.exec(value);
  if (!m) return undefined;
  const n = Number(m[1]);
  return n <= 4294967295 ? n : undefined;
}

/** An ASN field that must be readable. */
export const asnField = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const n = parseAsn(v);
  if (n === undefined) {
    ctx.addIssue({ code: 'custom', message: `not an AS number: ${JSON.stringify(v)}` });
    return z.NEVER;
  }
  return n;
});

/** The RIPEstat envelope around `data`; `status` must be "ok". */
export function ripestatEnvelope<D extends z.ZodType>(data: D) {
  return z.object({
    status: z.literal('ok'),
    status_code: z.number().optional(),
    data_call_name: z.string().optional(),
    messages: z.array(z.array(z.string())).optional(),
    data,
  });
}

export function ripestatUrl(
  baseUrl: string,
  endpoint: string,
  params: Record<string, string>,
  sourceApp: string = DEFAULT_SOURCE_APP,
): string {
  let url: URL;
  try {
    url = new URL(`${baseUrl.replace(/\/+$/, '')}/data/${endpoint}/data.json`);
  } catch (err) {
    throw new BotError(ErrorCode.ConfigInvalid, `The RIPEstat URL \`${baseUrl}\` is not a URL; set RIPESTAT_URL to e.g. https://stat.ripe.net.`, false, { cause: err });
  }
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  url.searchParams.set('sourceapp', sourceApp);
  return url.toString();
}
