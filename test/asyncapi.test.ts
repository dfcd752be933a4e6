/**
 * docs/asyncapi.yaml is valid AsyncAPI 3 (checked by the AsyncAPI parser)
 * and the frames the gateway really sends match its message schemas.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { before, test } from 'node:test';
import { Parser } from '@asyncapi/parser';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { Kafka, logLevel } from './helpers/kafka-client.js';
import request from 'supertest';
import { parse } from 'yaml';
import type { RunningGateway } from '../src/gateway.js';
import { CLIENT_OPS, loadClientFrameSchemas } from '../src/ws/frame-schemas.js';
import { conforms } from './helpers/contract.js';
import { sharedBrokers, uniqueName } from './helpers/env.js';
import { gatewayFor } from './helpers/scoped.js';
import { WsClient, isOp, isRecord } from './helpers/ws.js';

// ajv-formats is published as CommonJS with a default export.
const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

const text = readFileSync('docs/asyncapi.yaml', 'utf8');
let gateway: RunningGateway;
before(async (t) => {
  gateway = await gatewayFor(t);
});

test('the AsyncAPI parser accepts the document without errors', async () => {
  const { document, diagnostics } = await new Parser().parse(text);
  const errors = diagnostics.filter((d) => d.severity === 0);
  assert.deepEqual(errors.map((e) => `${e.path.join('/')}: ${e.message}`), []);
  assert.ok(document);
  assert.deepEqual(document.channels().all().map((c) => c.address()).sort(), ['/v1/topics/{topic}/ws', '/v1/ws']);
});

test('served beside the OpenAPI file', async () => {
  const res = conforms(await request(gateway.server).get('/asyncapi.yaml').expect(200));
  assert.equal(res.text, text);
});

test('frames the gateway sends match their message schemas', async () => {
  const spec = parse(text) as { components: { messages: Record<string, { payload: object }> } };
  // Formats checked as the spec states them; a warning (an unknown format that ajv would
  // otherwise skip, printing a line into the test output) fails the test instead.
  const ajv = addFormats(
    new Ajv2020({
      strict: false,
      logger: {
        log: () => undefined,
        warn: (...args: unknown[]) => {
          throw new Error(`ajv: ${args.join(' ')}`);
        },
        error: (...args: unknown[]) => {
          throw new Error(`ajv: ${args.join(' ')}`);
        },
      },
    }),
  );
  ajv.addSchema(spec as object, 'asyncapi.json');
  const check = (message: string, frame: unknown) => {
    const validate = ajv.compile({ $ref: `asyncapi.json#/components/messages/${message}/payload` });
    assert.ok(validate(frame), `${message}: ${ajv.errorsText(validate.errors)} in ${JSON.stringify(frame)}`);
  };
  const topic = uniqueName('asyncapi');
  const kafka = new Kafka({ brokers: [sharedBrokers()], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic }], waitForLeaders: true });
  await admin.disconnect();
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic, messages: [{ key: 'k', value: '{"a":1}', headers: { h: 'v' } }, { value: null }] });
  await producer.disconnect();

  const client = await WsClient.connect(`${gateway.url.replace(/^http/, 'ws')}/v1/ws`);
  const subscribe = { op: 'subscribe', id: 's', topics: [topic], from: 'earliest' };
  check('subscribe', subscribe);
  client.send(subscribe);
  check('subscribed', await client.next(isOp('subscribed', 's')));
  for (const record of await client.collect(isRecord('s'), 2)) check('record', record);
  const listed = { op: 'subscribe', id: 'l', topics: [topic], from: 'earliest', headers: 'list' };
  check('subscribe', listed);
  client.send(listed);
  for (const record of await client.collect(isRecord('l'), 2)) check('record', record);
  client.send({ op: 'credit', sub: 'nobody', n: 1, id: 'e' });
  check('error', await client.next(isOp('error', 'e')));
  // Without an id, the error is tied to the subscription the frame named.
  client.send({ op: 'credit', sub: 'nobody', n: 1 });
  check('error', await client.next((f) => f.op === 'error' && f.id === undefined && f.sub === 'nobody'));
  const produce = { op: 'produce', id: 'p', topic, records: [{ key: 'k', value: { n: 1 } }, { value: 'two' }] };
  check('produce', produce);
  client.send(produce);
  const produced = await client.next(isOp('produced', 'p'));
  check('produced', produced);
  assert.equal((produced.offsets as unknown[]).length, 2);
  client.send({ op: 'unsubscribe', id: 's' });
  check('unsubscribed', await client.next(isOp('unsubscribed', 's')));
  await client.close();

  const bare = await WsClient.connect(`${gateway.url.replace(/^http/, 'ws')}/v1/topics/${topic}/ws?from=earliest`);
  check('bareRecord', await bare.next(() => true));
  await bare.close();
});

test('the gateway checks client frames with the document\'s own schemas: every message a client sends, and nothing else', async () => {
  const spec = parse(text) as { operations: Record<string, { action: string; messages: Array<{ $ref: string }> }> };
  const sent = Object.values(spec.operations)
    .filter((operation) => operation.action === 'send')
    .flatMap((operation) => operation.messages.map((m) => m.$ref.split('/').at(-1)!));
  assert.deepEqual([...new Set(sent)].sort(), [...CLIENT_OPS].sort());
  const schemas = loadClientFrameSchemas();
  assert.deepEqual(Object.keys(schemas).sort(), [...CLIENT_OPS].sort());
  // A schema that says something the document does not say would show here: each is compiled from the document, references resolved.
  for (const op of CLIENT_OPS) assert.equal(JSON.stringify(schemas[op]).includes('$ref'), false, `${op} has its references resolved`);
});

test('what the document refuses, the gateway refuses, with the field that is wrong', async () => {
  const refused = async (frame: unknown, pointer: string) => {
    const client = await WsClient.connect(`${gateway.url.replace(/^http/, 'ws')}/v1/ws`);
    try {
      client.send(frame);
      const error = await client.next(isOp('error'));
      assert.equal(error.status, 400, JSON.stringify(error));
      assert.ok(JSON.stringify(error.errors).includes(pointer), `${JSON.stringify(frame)}: ${JSON.stringify(error)}`);
    } finally {
      await client.close();
    }
  };
  await refused({ op: 'credit', sub: 's', n: 1_000_001 }, '/n');
  await refused({ op: 'ack', sub: 's', topic: 't', partition: 0, offset: '1', extra: true }, '/extra');
  await refused({ op: 'subscribe', id: 's', topics: ['a', 'a'] }, '/topics');
  await refused({ op: 'subscribe', id: 's', topics: ['a'], from: { a: {} } }, '/from');
  await refused({ op: 'produce', id: 'p', topic: 't', records: [{}], valueFormat: 'xml' }, '/valueFormat');
});
