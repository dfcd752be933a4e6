/**
 * openapi.yaml as a spec-driven tester reads it: what the running gateway
 * answers is documented there, the parameters say what the gateway takes,
 * and the served copy states the security this gateway requires.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import request from 'supertest';
import { parse } from 'yaml';
import { isValidTopicName } from '../src/common/index.js';
import type { RunningGateway } from '../src/gateway.js';
import { authFiles } from './helpers/auth.js';
import { conforms, spec } from './helpers/contract.js';
import { uniqueName } from './helpers/env.js';
import { SseClient } from './helpers/sse.js';
import { gatewayFor } from './helpers/scoped.js';

let gw: RunningGateway;
const topic = uniqueName('contract-edges');

before(async (t) => {
  gw = await gatewayFor(t);
  conforms(await request(gw.server).post('/v1/topics').send({ name: topic, partitions: 1 }).expect(201));
});

type Doc = { paths: Record<string, Record<string, { security?: Array<Record<string, unknown>>; operationId?: string }>>; security: Array<Record<string, unknown>>; components: Record<string, Record<string, Record<string, unknown>>> };

/** The security requirements of every operation of a served document, by operationId. */
function requirements(doc: Doc): Map<string, string[]> {
  const found = new Map<string, string[]>();
  for (const item of Object.values(doc.paths)) {
    for (const operation of Object.values(item)) {
      if (typeof operation !== 'object' || !operation.operationId) continue;
      found.set(operation.operationId, (operation.security ?? doc.security).map((r) => Object.keys(r).sort().join('+')));
    }
  }
  return found;
}

test('the served openapi.yaml states the security this gateway requires: none with auth off, never optional with it on', async (t) => {
  const off = requirements(parse((await request(gw.server).get('/openapi.yaml').expect(200)).text) as Doc);
  assert.ok([...off.values()].every((r) => r.length === 0), 'auth off: no operation asks for credentials');

  const { env } = authFiles(`${uniqueName('served')}-`);
  const apiKeyGateway = await gatewayFor(t, { ...env, AUTH_API_KEY_HEADER: 'X-Gateway-Key' });
  const served = parse((await request(apiKeyGateway.server).get('/openapi.yaml').expect(200)).text) as Doc;
  const apiKey = requirements(served);
  assert.deepEqual(apiKey.get('produceRecords'), ['bearerAuth', 'apiKeyAuth']);
  assert.deepEqual(apiKey.get('streamTopicEvents'), ['bearerAuth', 'apiKeyAuth', 'queryToken']);
  assert.deepEqual(apiKey.get('getHealth'), [], 'public operations stay public');
  assert.ok(![...apiKey.values()].some((r) => r.includes('')), 'no empty requirement while auth is on');
  assert.equal(String(served.components.securitySchemes!.apiKeyAuth!.name).toLowerCase(), 'x-gateway-key');

  const jwtGateway = await gatewayFor(t, { ...env, AUTH_MODE: 'jwt', AUTH_ALLOW_QUERY_TOKEN: 'false' });
  const jwt = requirements(parse((await request(jwtGateway.server).get('/openapi.yaml').expect(200)).text) as Doc);
  assert.deepEqual(jwt.get('produceRecords'), ['bearerAuth']);
  assert.deepEqual(jwt.get('streamTopicEvents'), ['bearerAuth']);
});

test('the Topic parameter has the pattern the gateway holds names to', () => {
  const parameter = (spec as unknown as Doc).components.parameters!.Topic as { schema: { pattern: string } };
  const pattern = new RegExp(parameter.schema.pattern);
  for (const name of ['a', '_', '.a', 'a.', '..a', '...', 'a'.repeat(249), '.', '..', 'a'.repeat(250), '', 'a b', 'ä']) {
    assert.equal(pattern.test(name), isValidTopicName(name), JSON.stringify(name));
  }
});

test('431 for a request line or headers over the limit is documented where long parameters can cause it', async () => {
  const long = 'x'.repeat(20_000);
  const events = await SseClient.open(`${gw.url}/v1/topics/${topic}/events`, { headers: { 'Last-Event-ID': long } });
  await events.waitEnded();
  assert.equal(events.status, 431);
  events.conforms();
  const keys = Array.from({ length: 6 }, () => `key=${'k'.repeat(4000)}`).join('&');
  const ws = await SseClient.open(`${gw.url}/v1/topics/${topic}/ws?${keys}`);
  await ws.waitEnded();
  assert.equal(ws.status, 431);
  ws.conforms();
});

test('timestamp parameters say their format; a v2 subscription is topics or topic_pattern, not both; the YAML documents are objects', async () => {
  conforms(await request(gw.server).get(`/v1/topics/${topic}/offsets?timestamp=2026-01-31T12:00:00Z`).expect(200));
  conforms(await request(gw.server).get(`/v1/topics/${topic}/offsets?timestamp=1700000000000`).expect(200));
  const local = conforms(await request(gw.server).get(`/v1/topics/${topic}/offsets?timestamp=2026-01-31T12:00:00`).expect(400));
  assert.equal(local.body.parameter, 'timestamp');

  const v2 = 'application/vnd.kafka.v2+json';
  const group = uniqueName('contract-sub');
  conforms(await request(gw.server).post(`/consumers/${group}`).set('content-type', v2).send(JSON.stringify({ name: 'i' })).expect(200));
  const both = conforms(
    await request(gw.server).post(`/consumers/${group}/instances/i/subscription`).set('content-type', v2).send(JSON.stringify({ topics: [topic], topic_pattern: 'x.*' })).expect(422),
  );
  assert.equal(both.body.error_code, 422);
  conforms(await request(gw.server).post(`/consumers/${group}/instances/i/subscription`).set('content-type', v2).send(JSON.stringify({ topics: [topic], topic_pattern: null })).expect(204));
  await request(gw.server).delete(`/consumers/${group}/instances/i`).set('content-type', v2).expect(204);
  // One of the two (anyOf), never both (not): a form every client generator reads, unlike oneOf over null types.
  const schema = (spec as unknown as Doc).components.schemas!.V2SubscriptionRequest as { anyOf?: unknown[]; not?: { required?: string[] } };
  assert.equal(schema.anyOf?.length, 2);
  assert.deepEqual(schema.not?.required, ['topics', 'topic_pattern']);

  // conforms() parses application/yaml and checks it against the schema: an object, not a string.
  conforms(await request(gw.server).get('/asyncapi.yaml').expect(200));
  conforms(await request(gw.server).get('/openapi.yaml').expect(200));
});
