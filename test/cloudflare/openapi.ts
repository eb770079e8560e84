import { readFileSync } from 'node:fs';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { SimCall } from '../../world/simulator/cloudflare/state.js';

/**
 * Checks recorded simulator traffic against the OpenAPI extract (test/fixtures/cloudflare-openapi.json, the
 * 2024-08-06 spec). Four operations arrived after that spec (validate, BGP prefix create / delete, leases); they are
 * added here from the reference with the extract's own component schemas, marked `x-added-from-reference`.
 */

type Json = Record<string, unknown>;
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

const spec = JSON.parse(readFileSync(new URL('../fixtures/cloudflare-openapi.json', import.meta.url), 'utf8')) as Json & {
  paths: Record<string, Record<string, Json>>;
};
const BASE = '/accounts/{account_id}/addressing';
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const failure = { '4XX': { content: { 'application/json': { schema: ref('addressing_api-response-common-failure') } } } };
const added = (schema: unknown, status: string, body?: unknown): Json => ({
  'x-added-from-reference': true,
  ...(body ? { requestBody: { required: true, content: { 'application/json': { schema: body } } } } : {}),
  responses: { [status]: { content: { 'application/json': { schema } } }, ...failure },
});
const paths = spec.paths;
paths[`${BASE}/prefixes/{prefix_id}/validate`] = { post: added(ref('addressing_single_response'), '202') };
paths[`${BASE}/prefixes/{prefix_id}/bgp/prefixes`]!.post = added(ref('addressing_single_response_bgp'), '200', {
  type: 'object',
  required: ['cidr'],
  properties: { cidr: ref('addressing_cidr') },
});
paths[`${BASE}/prefixes/{prefix_id}/bgp/prefixes/{bgp_prefix_id}`]!.delete = added(ref('addressing_api-response-common'), '200');
paths[`${BASE}/leases`] = {
  get: added(
    {
      allOf: [
        ref('addressing_api-response-collection'),
        {
          properties: {
            result: {
              type: 'array',
              items: {
                type: 'object',
                required: ['id', 'cidrs'],
                properties: {
                  id: ref('addressing_identifier'),
                  owner_id: { type: 'string' },
                  purpose: { type: 'string' },
                  cidrs: { type: 'array', items: ref('addressing_cidr') },
                  active_from: ref('addressing_timestamp'),
                  created_at: ref('addressing_timestamp'),
                  modified_at: ref('addressing_timestamp'),
                },
              },
            },
          },
        },
      ],
    },
    '200',
  ),
};

const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: true });
addFormats(ajv);
ajv.addSchema({ ...spec, $id: 'spec.json' });

const escape = (s: string) => encodeURIComponent(s.replace(/~/g, '~0').replace(/\//g, '~1'));
const cache = new Map<string, ValidateFunction>();
function validator(pointer: string): ValidateFunction {
  let v = cache.get(pointer);
  if (!v) {
    v = ajv.compile({ $ref: `spec.json#${pointer}` });
    cache.set(pointer, v);
  }
  return v;
}

export interface Operation {
  method: string;
  template: string;
  operationId: string;
  added: boolean;
  regex: RegExp;
}

/** Addressing operations in scope: every path of the extract except Regional Services, plus the four added ones. */
export const OPERATIONS: Operation[] = Object.entries(paths).flatMap(([template, item]) =>
  Object.entries(item)
    .filter(([m]) => ['get', 'post', 'put', 'patch', 'delete'].includes(m))
    .filter(() => !template.includes('regional_hostnames'))
    .map(([m, op]) => ({
      method: m.toUpperCase(),
      template,
      operationId: String(op.operationId ?? `${m}-${template}`),
      added: op['x-added-from-reference'] === true,
      regex: new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`),
    })),
);

export function findOperation(method: string, path: string): Operation | undefined {
  return OPERATIONS.find((o) => o.method === method && o.regex.test(path));
}

export interface ConformanceReport {
  checked: number;
  /** Calls whose request broke the spec (reported in `problems` too unless checkRequests is false). */
  invalidRequests: SimCall[];
  /** Answers that break the extract where real Cloudflare does too (429 code 971 is below the spec's minimum 1000). */
  knownDeviations: string[];
  skipped: number;
  problems: string[];
  requestsValidated: Set<string>;
  responsesValidated: Set<string>;
  statusesSeen: Map<string, Set<number>>;
}

export function newReport(): ConformanceReport {
  return { checked: 0, invalidRequests: [], knownDeviations: [], skipped: 0, problems: [], requestsValidated: new Set(), responsesValidated: new Set(), statusesSeen: new Map() };
}

/** Validates each call's request body and response body against the spec; collects problems instead of throwing. */
export function checkCalls(calls: SimCall[], report: ConformanceReport = newReport(), opts: { checkRequests?: boolean } = {}): ConformanceReport {
  for (const call of calls) {
    const requestProblem = (text: string) => {
      report.invalidRequests.push(call);
      if (opts.checkRequests !== false) report.problems.push(text);
    };
    const path = call.path.replace(/^\/client\/v4/, '');
    const op = findOperation(call.method, path);
    if (!op || call.fault || call.status >= 500) {
      // Routing errors, injected faults and 5xx answers are outside the spec.
      report.skipped++;
      continue;
    }
    report.checked++;
    const where = `${call.method} ${path} -> ${call.status}`;
    const base = `/paths/${escape(op.template)}/${op.method.toLowerCase()}`;
    const opSpec = paths[op.template]![op.method.toLowerCase()] as Json & {
      requestBody?: { required?: boolean; content: Record<string, { schema?: unknown }> };
      responses: Record<string, { content?: Record<string, { schema?: unknown }> }>;
    };
    const seen = report.statusesSeen.get(op.operationId) ?? new Set<number>();
    seen.add(call.status);
    report.statusesSeen.set(op.operationId, seen);

    // Request
    const rb = opSpec.requestBody;
    if (rb) {
      if (rb.content['multipart/form-data']) {
        if (!call.contentType.startsWith('multipart/form-data')) requestProblem(`${where}: request is not multipart/form-data`);
        else report.requestsValidated.add(op.operationId);
      } else if (call.body === undefined) {
        if (rb.required) requestProblem(`${where}: required JSON request body missing`);
      } else if (!call.contentType.includes('application/json')) {
        requestProblem(`${where}: request content-type ${call.contentType || '(none)'} is not application/json`);
      } else if (rb.content['application/json']?.schema) {
        const v = validator(`${base}/requestBody/content/application~1json/schema`);
        if (!v(call.body)) requestProblem(`${where}: request ${ajv.errorsText(v.errors)}`);
        else report.requestsValidated.add(op.operationId);
      } else {
        report.requestsValidated.add(op.operationId);
      }
    } else {
      if (call.body !== undefined && !(typeof call.body === 'object' && call.body !== null && Object.keys(call.body).length === 0)) {
        requestProblem(`${where}: sent a body to an operation that takes none`);
      } else report.requestsValidated.add(op.operationId);
    }

    // Response
    const status = String(call.status);
    const key = opSpec.responses[status] ? status : call.status >= 400 && call.status < 500 ? '4XX' : undefined;
    if (!key) {
      report.problems.push(`${where}: status not in the spec (${Object.keys(opSpec.responses).join(', ')})`);
      continue;
    }
    const content = opSpec.responses[key]!.content ?? {};
    if (content['application/pdf']) {
      if (!(typeof call.response === 'object' && call.response !== null && 'binary' in call.response)) {
        report.problems.push(`${where}: expected a binary PDF body`);
      } else report.responsesValidated.add(op.operationId);
      continue;
    }
    // The extract's 4XX schemas AND the success envelope (result: object|string) with the failure one (result: null),
    // which no body satisfies; failures are checked against the failure envelope alone.
    const pointer =
      key === '4XX'
        ? '/components/schemas/addressing_api-response-common-failure'
        : `${base}/responses/${key}/content/application~1json/schema`;
    const v = validator(pointer);
    if (v(call.response)) {
      report.responsesValidated.add(op.operationId);
      continue;
    }
    const real = (v.errors ?? []).filter((e) => !(call.status === 429 && /^\/errors\/\d+\/code$/.test(e.instancePath) && e.keyword === 'minimum'));
    if (real.length) report.problems.push(`${where}: response ${ajv.errorsText(real)}`);
    else {
      report.knownDeviations.push(`${where}: Cloudflare's rate-limit code 971 is below the extract's minimum of 1000`);
      report.responsesValidated.add(op.operationId);
    }
  }
  return report;
}

/** Validates `data` against a JSON pointer into the spec (for checking the checker). */
export function validAgainst(pointer: string, data: unknown): boolean {
  return validator(pointer)(data) as boolean;
}

export function pointerOf(template: string, method: string, rest: string): string {
  return `/paths/${escape(template)}/${method}${rest}`;
}
