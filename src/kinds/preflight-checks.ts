/** The pre-flight report as informational card lines (onboard and validate): what Cloudflare's validation would find. */
import type { Check } from '../domain/guards.js';
import { userMessageOf } from '../errors.js';
import type { KindDeps } from './types.js';

export async function preflightChecks(deps: KindDeps, cidr: string, asn: number | undefined, token: string | undefined): Promise<Check[]> {
  if (!deps.preflight) return [];
  try {
    const report = await deps.preflight(cidr, asn, token);
    const head: Check = { id: 'preflight', result: report.status, facts: { failing: report.lines.filter((l) => l.status !== 'pass').length } };
    const lines = report.lines
      .filter((l) => l.status !== 'pass')
      .slice(0, 4)
      .map((l): Check => ({ id: `preflight:${l.check}`, result: l.status, facts: { check: l.check, detail: l.detail, fix: l.fix ?? null } }));
    return [head, ...lines];
  } catch (err) {
    return [{ id: 'preflight', result: 'unknown', facts: { error: userMessageOf(err) } }];
  }
}
