/**
 * Checks every HTTP response a test receives against openapi.yaml: the
 * operation must exist, the status must be documented, the content type
 * must be one the spec lists, and the body must match its schema. One
 * helper for all HTTP tests, so a handler that drifts from the contract
 * fails its own tests.
 */
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type { Response } from 'supertest';
import { parse } from 'yaml';
import { openapiPath } from '../../src/common/paths.js';
import { parseEventStream } from './event-stream.js';

interface MediaType { schema?: unknown }
interface ResponseSpec { content?: Record<string, MediaType>; $ref?: string }
interface Operation { operationId: string; responses: Record<string, ResponseSpec> }
type PathItem = Record<string, Operation>;
interface Spec { paths: Record<string, PathItem>; components: { responses?: Record<string, ResponseSpec> } }

export const spec = parse(readFileSync(openapiPath, 'utf8')) as Spec;
// ajv-formats is published as CommonJS with a default export.
const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;
const ajv = addFormats(new Ajv2020({ strict: false, allErrors: true }));
ajv.addSchema(spec as object, 'openapi.json');

const escape = (s: string) => s.replaceAll('~', '~0').replaceAll('/', '~1');
const templates = Object.keys(spec.paths).map((template) => ({
  template,
  regex: new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+')}$`),
}));

/** Where each test process records the operations its responses exercised; scripts/test.ts reads them. */
export const coverageDir = join('test-output', 'contract-coverage');
mkdirSync(coverageDir, { recursive: true });
const coverageFile = join(coverageDir, `${process.pid}.txt`);

export function findOperation(method: string, path: string): { template: string; operation: Operation } | undefined {
  const pathOnly = path.split('?')[0]!;
  const match = templates.find(({ regex }) => regex.test(pathOnly));
  const operation = match ? spec.paths[match.template]?.[method.toLowerCase()] : undefined;
  return match && operation ? { template: match.template, operation } : undefined;
}

/** One HTTP exchange as seen on the wire: what conformance is judged on. */
export interface Exchange {
  readonly method: string;
  /** The request path, with or without the query string. */
  readonly path: string;
  readonly status: number;
  readonly contentType: string;
  /** The raw response body. */
  readonly text: string;
}

/** Asserts that a supertest response is one the spec allows; returns it for chaining. */
export function conforms(res: Response): Response {
  const req = (res as unknown as { req: { method: string; path: string } }).req;
  checkExchange({ method: req.method, path: req.path, status: res.status, contentType: String(res.headers['content-type'] ?? ''), text: res.text ?? '' });
  return res;
}

/** Asserts that an exchange (from supertest, or recorded between a client and the gateway) is one the spec allows. */
export function checkExchange(exchange: Exchange): void {
  const { method, path, text } = exchange;
  const found = findOperation(method, path);
  assert.ok(found, `no operation in openapi.yaml for ${method} ${path}`);
  const { template, operation } = found;
  appendFileSync(coverageFile, `${operation.operationId}\n`);
  const status = String(exchange.status);
  const key = operation.responses[status] ? status : operation.responses[`${status[0]}XX`] ? `${status[0]}XX` : 'default';
  let response = operation.responses[key];
  assert.ok(response, `${operation.operationId}: status ${status} is not documented`);
  let pointer = `openapi.json#/paths/${escape(template)}/${method.toLowerCase()}/responses/${key}`;
  if (response.$ref) {
    const name = response.$ref.split('/').pop()!;
    response = spec.components.responses?.[name];
    assert.ok(response, `${operation.operationId}: ${String(key)} refers to a missing response`);
    pointer = `openapi.json#/components/responses/${escape(name)}`;
  }
  const contentType = exchange.contentType.split(';')[0]!.trim();
  if (!response.content) {
    assert.equal(text, '', `${operation.operationId} ${status}: the spec documents no body`);
    return;
  }
  const media = response.content[contentType];
  assert.ok(media, `${operation.operationId} ${status}: content type ${contentType || 'none'} not in ${Object.keys(response.content).join(', ')}`);
  if (contentType === 'text/event-stream') {
    if (method !== 'HEAD') checkEventStream(operation.operationId, `${pointer}/content/${escape(contentType)}/schema`, media.schema, text);
    return;
  }
  // A HEAD answer has the GET's headers and no body to check.
  if (media.schema !== undefined && method !== 'HEAD') {
    const validate = ajv.getSchema(`${pointer}/content/${escape(contentType)}/schema`) ?? ajv.compile({ $ref: `${pointer}/content/${escape(contentType)}/schema` });
    const body = /json/.test(contentType) ? (JSON.parse(text) as unknown) : /yaml/.test(contentType) ? (parse(text) as unknown) : text;
    assert.ok(validate(body), `${operation.operationId} ${status}: body does not match the spec: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(body).slice(0, 500)}`);
  }
}

/**
 * An event stream: its complete events, each with its `data` parsed as
 * JSON, checked against the list schema the spec gives as `contentSchema`.
 */
function checkEventStream(operationId: string, schemaPointer: string, schema: unknown, text: string): void {
  const contentSchema = (schema as { contentSchema?: unknown } | undefined)?.contentSchema;
  assert.ok(contentSchema, `${operationId}: a text/event-stream answer needs a contentSchema describing its events`);
  const events = parseEventStream(text).events.map((event) => ({ ...event, ...(event.data === undefined ? {} : { data: JSON.parse(event.data) as unknown }) }));
  const validate = ajv.getSchema(`${schemaPointer}/contentSchema`) ?? ajv.compile({ $ref: `${schemaPointer}/contentSchema` });
  assert.ok(validate(events), `${operationId}: events do not match the spec: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(events).slice(0, 500)}`);
}
