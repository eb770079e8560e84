import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PERMISSIONS } from '../../src/cloudflare/describe.js';
import { describeFailure } from '../../src/cloudflare/describe.js';
import { ErrorCode } from '../../src/errors.js';
import {
  DEFAULT_SCENARIO,
  OTHER_ACCOUNT_ID,
  READONLY_CLOUDFLARE_TOKEN,
  SANDBOX_ACCOUNT_ID as ACC,
  SANDBOX_CLOUDFLARE_TOKEN,
  SERVICE_IDS,
  SERVICES_SCENARIO as S,
} from '../../world/simulator/cloudflare/scenarios.js';
import { harness, type Harness } from './helpers.js';
import { checkCalls } from './openapi.js';

/**
 * Requests the client would never send, sent raw: the simulator must answer each as Cloudflare does (status,
 * code, message in the v4 failure envelope), and the client's describeFailure must turn the answer into a sentence.
 */

let h: Harness;
beforeAll(async () => {
  h = await harness('services', { conformance: false });
});
afterAll(async () => {
  // Every refusal above is a valid failure envelope per the OpenAPI extract.
  const report = checkCalls(h.sim.state.calls, undefined, { checkRequests: false });
  expect(report.problems).toEqual([]);
  // Every request the spec calls invalid was refused by the simulator (it is at least as strict as the spec).
  expect(report.invalidRequests.length).toBeGreaterThan(5);
  expect(report.invalidRequests.filter((c) => c.status < 400)).toEqual([]);
  await h.close();
});

const P = S.prefix;
const base = () => `${h.sim.url}/accounts/${ACC}/addressing`;

async function send(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: { success: boolean; errors: { code: number; message: string; error_chain?: unknown }[]; result: unknown } }> {
  const init: RequestInit = { method, headers: { authorization: `Bearer ${SANDBOX_CLOUDFLARE_TOKEN}`, ...headers } };
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
    (init.headers as Record<string, string>)['content-type'] ??= 'application/json';
  }
  const res = await fetch(path.startsWith('http') ? path : `${base()}${path}`, init);
  return { status: res.status, json: (await res.json()) as never };
}

/** The sentence the client would show for this answer. */
function sentence(status: number, errors: { code: number; message: string }[], name = 'do this', kind: 'read' | 'mutation' = 'mutation') {
  return describeFailure({ name, kind, permission: PERMISSIONS.prefixWrite, accountId: ACC, subject: 'the object' }, { status, errors });
}

const cases: { name: string; method: string; path: string; body?: unknown; headers?: Record<string, string>; status: number; code: number; message: RegExp; kind: ErrorCode }[] = [
  // envelope, routing, auth
  { name: 'malformed JSON', method: 'POST', path: '/prefixes', body: '{"cidr":', status: 400, code: 1000, message: /Malformed JSON/, kind: ErrorCode.CloudflareValidation },
  { name: 'body is not an object', method: 'POST', path: '/prefixes', body: [1, 2], status: 400, code: 1000, message: /must be a JSON object/, kind: ErrorCode.CloudflareValidation },
  { name: 'missing body', method: 'PATCH', path: `/prefixes/${P.id}`, status: 400, code: 1000, message: /JSON request body is required/, kind: ErrorCode.CloudflareValidation },
  { name: 'id that is not 32 hex', method: 'GET', path: '/prefixes/not-an-id', status: 400, code: 7003, message: /perhaps your object identifier is invalid/, kind: ErrorCode.CloudflareNotFound },
  { name: 'unknown route', method: 'GET', path: '/prefixes_and_more', status: 404, code: 7003, message: /No route for the URI/, kind: ErrorCode.CloudflareNotFound },
  { name: 'wrong method', method: 'PUT', path: `/prefixes/${P.id}`, body: {}, status: 405, code: 7001, message: /Method not allowed/, kind: ErrorCode.CloudflareValidation },
  { name: 'no credentials', method: 'GET', path: '/prefixes', headers: { authorization: '' }, status: 400, code: 6003, message: /Invalid request headers/, kind: ErrorCode.CloudflareAuth },
  { name: 'Authorization not Bearer', method: 'GET', path: '/prefixes', headers: { authorization: 'Token abc' }, status: 400, code: 6003, message: /Invalid request headers/, kind: ErrorCode.CloudflareAuth },
  { name: 'unknown token', method: 'GET', path: '/prefixes', headers: { authorization: 'Bearer nope' }, status: 401, code: 9109, message: /Invalid access token/, kind: ErrorCode.CloudflareAuth },
  { name: 'account of another customer', method: 'GET', path: `${'URL'}/accounts/${OTHER_ACCOUNT_ID}/addressing/prefixes`, status: 403, code: 10000, message: /Authentication error/, kind: ErrorCode.CloudflareAuth },
  { name: 'read-only token writes', method: 'PATCH', path: `/prefixes/${P.id}`, body: { description: 'x' }, headers: { authorization: `Bearer ${READONLY_CLOUDFLARE_TOKEN}` }, status: 403, code: 10000, message: /Authentication error/, kind: ErrorCode.CloudflareAuth },
  // prefixes
  { name: 'prefix without cidr', method: 'POST', path: '/prefixes', body: { asn: 13335, loa_document_id: null }, status: 400, code: 1001, message: /cidr is required/, kind: ErrorCode.CloudflareValidation },
  { name: 'prefix with a string asn', method: 'POST', path: '/prefixes', body: { cidr: '192.0.2.0/24', asn: '13335', loa_document_id: null }, status: 400, code: 1001, message: /asn is required/, kind: ErrorCode.CloudflareValidation },
  { name: 'prefix with host bits', method: 'POST', path: '/prefixes', body: { cidr: '192.0.2.7/24', asn: 13335, loa_document_id: null }, status: 400, code: 1001, message: /not a valid CIDR/, kind: ErrorCode.CloudflareValidation },
  { name: 'prefix longer than /24', method: 'POST', path: '/prefixes', body: { cidr: '192.0.2.0/25', asn: 13335, loa_document_id: null }, status: 400, code: 1001, message: /too small to be announced/, kind: ErrorCode.CloudflareValidation },
  { name: 'IPv6 prefix longer than /48', method: 'POST', path: '/prefixes', body: { cidr: '2001:db8::/56', asn: 13335, loa_document_id: null }, status: 400, code: 1001, message: /longest allowed is \/48/, kind: ErrorCode.CloudflareValidation },
  { name: 'prefix overlapping an onboarded one', method: 'POST', path: '/prefixes', body: { cidr: '203.0.112.0/23', asn: 13335, loa_document_id: null }, status: 409, code: 1004, message: /overlaps prefix 203\.0\.113\.0\/24/, kind: ErrorCode.CloudflareConflict },
  { name: 'unknown LOA', method: 'POST', path: '/prefixes', body: { cidr: '192.0.2.0/24', asn: 13335, loa_document_id: 'ffffffffffffffffffffffffffffffff' }, status: 400, code: 1001, message: /LOA document .* not found/, kind: ErrorCode.CloudflareValidation },
  { name: 'editing more than the description', method: 'PATCH', path: `/prefixes/${P.id}`, body: { description: 'x', asn: 1 }, status: 400, code: 1001, message: /Only the description of a prefix can be changed/, kind: ErrorCode.CloudflareValidation },
  { name: 'description too long', method: 'PATCH', path: `/prefixes/${P.id}`, body: { description: 'x'.repeat(1001) }, status: 400, code: 1001, message: /at most 1000/, kind: ErrorCode.CloudflareValidation },
  { name: 'deleting an approved prefix', method: 'DELETE', path: `/prefixes/${P.id}`, body: {}, status: 409, code: 1004, message: /only unapproved prefixes can be deleted/, kind: ErrorCode.CloudflareConflict },
  { name: 'unknown prefix', method: 'GET', path: '/prefixes/ffffffffffffffffffffffffffffffff', status: 404, code: 1003, message: /Prefix not found/, kind: ErrorCode.CloudflareNotFound },
  // BGP prefixes
  { name: 'advertised as a string', method: 'PATCH', path: `/prefixes/${P.id}/bgp/prefixes/${P.bgpPrefixId}`, body: { on_demand: { advertised: 'yes' } }, status: 400, code: 1001, message: /on_demand.advertised must be a boolean/, kind: ErrorCode.CloudflareValidation },
  { name: 'prepend out of range', method: 'PATCH', path: `/prefixes/${P.id}/bgp/prefixes/${P.bgpPrefixId}`, body: { asn_prepend_count: 4 }, status: 400, code: 1001, message: /from 0 to 3/, kind: ErrorCode.CloudflareValidation },
  { name: 'auto-withdraw not boolean', method: 'PATCH', path: `/prefixes/${P.id}/bgp/prefixes/${P.bgpPrefixId}`, body: { auto_advertise_withdraw: 1 }, status: 400, code: 1001, message: /must be a boolean/, kind: ErrorCode.CloudflareValidation },
  { name: 'BGP prefix outside the prefix', method: 'POST', path: `/prefixes/${P.id}/bgp/prefixes`, body: { cidr: '198.51.100.0/24' }, status: 400, code: 1002, message: /not within prefix/, kind: ErrorCode.CloudflareValidation },
  { name: 'duplicate BGP prefix', method: 'POST', path: `/prefixes/${P.id}/bgp/prefixes`, body: { cidr: P.cidr }, status: 409, code: 1004, message: /already exists/, kind: ErrorCode.CloudflareConflict },
  { name: 'deleting an advertised BGP prefix', method: 'DELETE', path: `/prefixes/${P.id}/bgp/prefixes/${P.bgpPrefixId}`, status: 409, code: 1004, message: /withdraw it before deleting/, kind: ErrorCode.CloudflareConflict },
  { name: 'bgp/status without advertised', method: 'PATCH', path: `/prefixes/${P.id}/bgp/status`, body: {}, status: 400, code: 1001, message: /advertised is required/, kind: ErrorCode.CloudflareValidation },
  // bindings
  { name: 'binding without service', method: 'POST', path: `/prefixes/${P.id}/bindings`, body: { cidr: '203.0.113.50/32' }, status: 400, code: 1001, message: /service_id is required/, kind: ErrorCode.CloudflareValidation },
  { name: 'Magic Transit on a /32', method: 'POST', path: `/prefixes/${P.id}/bindings`, body: { cidr: '203.0.113.50/32', service_id: SERVICE_IDS.magicTransit }, status: 400, code: 1002, message: /Magic Transit can only be the default binding/, kind: ErrorCode.CloudflareValidation },
  { name: 'CDN on a Spectrum IP', method: 'POST', path: `/prefixes/${P.id}/bindings`, body: { cidr: P.spectrumCidr, service_id: SERVICE_IDS.cdn }, status: 400, code: 1002, message: /CDN or Spectrum, not both/, kind: ErrorCode.CloudflareValidation },
  { name: 'binding outside the prefix', method: 'POST', path: `/prefixes/${P.id}/bindings`, body: { cidr: '198.51.100.1/32', service_id: SERVICE_IDS.cdn }, status: 400, code: 1002, message: /not within prefix/, kind: ErrorCode.CloudflareValidation },
  { name: 'deleting the default binding first', method: 'DELETE', path: `/prefixes/${P.id}/bindings/${P.cdnBindingId}`, status: 409, code: 1004, message: /more specific bindings exist/, kind: ErrorCode.CloudflareConflict },
  // delegations
  { name: 'delegation to a malformed account', method: 'POST', path: `/prefixes/${P.id}/delegations`, body: { cidr: '203.0.113.0/28', delegated_account_id: 'acme' }, status: 400, code: 1001, message: /32-character account id/, kind: ErrorCode.CloudflareValidation },
  { name: 'delegation outside the prefix', method: 'POST', path: `/prefixes/${P.id}/delegations`, body: { cidr: '192.0.2.0/28', delegated_account_id: OTHER_ACCOUNT_ID }, status: 400, code: 1002, message: /not within prefix/, kind: ErrorCode.CloudflareValidation },
  // address maps
  { name: 'membership of an unknown kind', method: 'POST', path: '/address_maps', body: { memberships: [{ kind: 'user', identifier: ACC }] }, status: 400, code: 1001, message: /kind must be zone or account/, kind: ErrorCode.CloudflareValidation },
  { name: 'membership of another account', method: 'POST', path: '/address_maps', body: { memberships: [{ kind: 'account', identifier: OTHER_ACCOUNT_ID }] }, status: 400, code: 1002, message: /must name this account/, kind: ErrorCode.CloudflareValidation },
  { name: 'map IP that is not an IP', method: 'PUT', path: `/address_maps/${S.addressMap.id}/ips/203.0.113.999`, body: {}, status: 400, code: 1001, message: /is not an IP address/, kind: ErrorCode.CloudflareValidation },
  { name: 'map IP outside the account', method: 'PUT', path: `/address_maps/${S.addressMap.id}/ips/192.0.2.1`, body: {}, status: 400, code: 1002, message: /not within a prefix of this account/, kind: ErrorCode.CloudflareValidation },
  { name: 'deleting an enabled map', method: 'DELETE', path: `/address_maps/${S.addressMap.id}`, body: {}, status: 409, code: 1004, message: /disable it before deleting/, kind: ErrorCode.CloudflareConflict },
  { name: 'account membership naming another account', method: 'PUT', path: `/address_maps/${S.addressMap.id}/accounts/${OTHER_ACCOUNT_ID}`, body: {}, status: 400, code: 1002, message: /must name this account/, kind: ErrorCode.CloudflareValidation },
  // LOA
  { name: 'LOA as JSON', method: 'POST', path: '/loa_documents', body: { loa_document: 'x' }, status: 400, code: 1000, message: /multipart\/form-data/, kind: ErrorCode.CloudflareValidation },
  { name: 'unknown LOA download', method: 'GET', path: '/loa_documents/ffffffffffffffffffffffffffffffff/download', status: 404, code: 1003, message: /LOA document not found/, kind: ErrorCode.CloudflareNotFound },
];

describe('bad input answers as Cloudflare would, and the client explains it', () => {
  for (const c of cases) {
    it(c.name, async () => {
      const path = c.path.startsWith('URL') ? `${h.sim.url}${c.path.slice(3)}` : c.path;
      const { status, json } = await send(c.method, path, c.body, c.headers);
      expect(status).toBe(c.status);
      expect(json.success).toBe(false);
      expect(json.result).toBeNull();
      expect(json.errors).toHaveLength(1);
      expect(json.errors[0]!.code).toBe(c.code);
      expect(json.errors[0]!.message).toMatch(c.message);
      const err = sentence(status, json.errors);
      expect(err.code).toBe(c.kind);
      expect(err.userMessage.length).toBeGreaterThan(40);
      expect(err.userMessage).toMatch(/\.$/);
    });
  }

  it('no credentials carries the error chain 6111', async () => {
    const { json } = await send('GET', '/prefixes', undefined, { authorization: '' });
    expect(json.errors[0]!.error_chain).toEqual([{ code: 6111, message: 'Invalid format for Authorization header' }]);
  });

  it('an LOA that is not a PDF, and one over 10 MB', async () => {
    const form = (bytes: Buffer) => {
      const f = new FormData();
      f.append('loa_document', new File([bytes], 'loa.pdf', { type: 'application/pdf' }));
      return f;
    };
    const post = (bytes: Buffer) =>
      fetch(`${base()}/loa_documents`, { method: 'POST', headers: { authorization: `Bearer ${SANDBOX_CLOUDFLARE_TOKEN}` }, body: form(bytes) });
    const notPdf = await post(Buffer.from('GIF89a'));
    expect(notPdf.status).toBe(400);
    expect(((await notPdf.json()) as { errors: { message: string }[] }).errors[0]!.message).toMatch(/must be a PDF/);
    const huge = await post(Buffer.concat([Buffer.from('%PDF-1.4\n'), Buffer.alloc(10 * 1024 * 1024)]));
    expect(huge.status).toBe(413);
  });

  it('a withdrawn BGP prefix cannot be advertised through a locked default binding, and the client says why', async () => {
    const W = DEFAULT_SCENARIO.prefixes.withdrawn;
    h.sim.seed('default');
    h.sim.state.bindings.get(W.bindingId)!.activeAt = h.world.clock.now() + 3_600_000;
    const { status, json } = await send('PATCH', `/prefixes/${W.id}/bgp/prefixes/${W.bgpPrefixId}`, { on_demand: { advertised: true } });
    expect(status).toBe(409);
    expect(json.errors[0]!.message).toMatch(/^advertise_state_locked/);
    expect(sentence(status, json.errors, 'advertise BGP prefix').userMessage).toMatch(/still being deployed \(this takes 4 to 6 hours\)/);
    h.sim.seed('services');
  });
});
