/**
 * The error edge on real HTTP: body parsing failures, wrong content types,
 * bodies that break the contract and unexpected exceptions all leave as
 * problem+json through problemHandler, with no internal detail. Every route
 * uses the same pieces; this test pins them down on a minimal contract and
 * route of its own.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import express from 'express';
import request from 'supertest';
import { GatewayError } from '../src/common/errors.js';
import { Contract, checkRequestBody, matchOperation } from '../src/http/contract.js';
import { notFound, problemHandler } from '../src/http/problems.js';
import { quietLogger } from './helpers/env.js';

const contract = new Contract({
  openapi: '3.1.0',
  paths: {
    '/echo': {
      post: {
        operationId: 'echo',
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['name'],
                additionalProperties: false,
                properties: { name: { type: 'string' }, size: { type: 'integer', minimum: 1 }, kind: { enum: ['a', 'b'] } },
              },
            },
          },
        },
      },
    },
    '/v2echo': {
      post: {
        operationId: 'v2echo',
        'x-error-format': 'confluent-v2',
        requestBody: {
          required: true,
          content: {
            'application/vnd.kafka.json.v2+json': {
              schema: {
                type: 'object',
                required: ['records'],
                properties: {
                  records: { type: 'array', items: { type: 'object', properties: { at: { oneOf: [{ type: 'integer', minimum: 0 }, { type: 'string', format: 'date-time' }] } } } },
                  id: { type: ['integer', 'null'] },
                },
              },
            },
          },
        },
      },
    },
    '/boom': { get: { operationId: 'boom' } },
    '/typed': { get: { operationId: 'typed' } },
  },
});

function appWithEchoRoute() {
  const app = express();
  app.use(matchOperation(contract));
  app.use(checkRequestBody(64));
  app.post('/echo', (req, res) => {
    res.json(req.body);
  });
  app.get('/boom', () => {
    throw new Error('secret internal detail at /srv/app.js:42');
  });
  app.get('/typed', () => {
    throw new GatewayError('GW_ERR_KAFKA_UNAVAILABLE', 'Kafka is not reachable right now; retry shortly.');
  });
  app.use(notFound);
  app.use(problemHandler(quietLogger()));
  return app;
}

const app = appWithEchoRoute();

test('malformed JSON is 400 and says where it broke', async () => {
  const res = await request(app).post('/echo').set('Content-Type', 'application/json').send('{"a": 1,}').expect(400);
  assert.match(res.headers['content-type'] ?? '', /^application\/problem\+json/);
  assert.equal(res.body.code, 'GW_ERR_MALFORMED_JSON');
  assert.equal(res.body.status, 400);
  assert.match(res.body.detail, /position \d+/);
});

test('a body over the limit is 413 naming the limit', async () => {
  const res = await request(app).post('/echo').set('Content-Type', 'application/json').send(JSON.stringify({ name: 'x'.repeat(100) })).expect(413);
  assert.equal(res.body.code, 'GW_ERR_PAYLOAD_TOO_LARGE');
  assert.equal(res.body.limitBytes, 64);
});

test('a wrong content type is 415 naming the accepted ones', async () => {
  const res = await request(app).post('/echo').set('Content-Type', 'text/plain').send('hello').expect(415);
  assert.equal(res.body.code, 'GW_ERR_UNSUPPORTED_MEDIA_TYPE');
  assert.match(res.body.detail, /application\/json/);
});

test('a body that breaks the contract is 400 naming every field, before the handler runs', async () => {
  const res = await request(app).post('/echo').send({ size: 0, kind: 'c', extra: 1 }).expect(400);
  assert.equal(res.body.code, 'GW_ERR_VALIDATION');
  const byPointer = Object.fromEntries((res.body.errors as Array<{ pointer: string; message: string }>).map((e) => [e.pointer, e.message]));
  assert.deepEqual(Object.keys(byPointer).sort(), ['/extra', '/kind', '/name', '/size']);
  assert.equal(byPointer['/kind'], 'must be one of "a", "b"');
  assert.equal(byPointer['/size'], 'must be at least 1');
  assert.equal(byPointer['/name'], 'is required');
  assert.equal(byPointer['/extra'], 'is an unknown field here');
  assert.match(res.body.detail, /\/name/);
  await request(app).post('/echo').send({ name: 'ok' }).expect(200, { name: 'ok' });
  const empty = await request(app).post('/echo').set('Content-Type', 'application/json').expect(400);
  assert.match(empty.body.detail, /no body/);
  // A bare JSON value parses, and the schema refuses it.
  const bare = await request(app).post('/echo').set('Content-Type', 'application/json').send('true').expect(400);
  assert.equal(bare.body.detail, 'The request body is not valid: (the body) must be an object.');
});

test('each problem is said once, in words a person reads, in problem+json and in Confluent v2 messages', async () => {
  const v2 = (body: unknown) => request(app).post('/v2echo').set('content-type', 'application/vnd.kafka.json.v2+json').send(JSON.stringify(body));
  const notObject = await v2({ records: ['x'] }).expect(422);
  assert.deepEqual(notObject.body, { error_code: 422, message: 'The request body is not valid: /records/0 must be an object.' });
  // Alternatives (oneOf, a type list) are one problem, not one per branch.
  const alternatives = await v2({ records: [{ at: 'yesterday' }], id: 'x' }).expect(422);
  assert.equal(
    alternatives.body.message,
    'The request body is not valid: /records/0/at must be an integer or an RFC 3339 date-time with an offset, such as 2026-01-31T12:00:00Z; /id must be an integer or null.',
  );
  const missing = await v2({}).expect(422);
  assert.equal(missing.body.message, 'The request body is not valid: /records is required.');
});

test('an unexpected failure is 500 with nothing internal in the body', async () => {
  const res = await request(app).get('/boom').expect(500);
  assert.equal(res.body.code, 'GW_ERR_INTERNAL');
  assert.doesNotMatch(res.text, /secret|srv|app\.js|at /);
  assert.equal(res.body.stack, undefined);
});

test('a retriable error carries Retry-After', async () => {
  const res = await request(app).get('/typed').expect(503);
  assert.equal(res.headers['retry-after'], '1');
  assert.equal(res.body.type, 'https://kafka-gateway.dev/problems/kafka-unavailable');
});
