/**
 * Producing Avro, Protobuf and JSON Schema records from JSON through every
 * way in (JSON body, NDJSON, WebSocket, Confluent v2), written in the
 * schema registry wire format and read back by confluent-kafka's own
 * deserializers from PyPI with equal values; and every bad input.
 */
import assert from 'node:assert/strict';
import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import request from 'supertest';
import { loadConfig } from '../src/config.js';
import type { RunningGateway } from '../src/gateway.js';
import { conforms } from './helpers/contract.js';
import { sharedBrokers, uniqueName } from './helpers/env.js';
import { consumeAll, createTopic, deleteTopics } from './helpers/kafka.js';
import { registryClientReads } from './helpers/registry.js';
import { giftOrder, giftOrderRead, largestOrder, lampOrder, ORDER_PROTO, orderAvro, reading, SENSOR_JSON_SCHEMA } from './helpers/schema-fixtures.js';
import { gatewayFor } from './helpers/scoped.js';
import { WsClient } from './helpers/ws.js';

const brokers = sharedBrokers();
const SR = 'application/vnd.schemaregistry.v1+json';
const V2_AVRO = 'application/vnd.kafka.avro.v2+json';
const topics: string[] = [];
let gateway: RunningGateway;

before(async (t) => {
  gateway = await gatewayFor(t);
});
after(async () => {
  await deleteTopics(brokers, topics);
});

async function topic(prefix: string): Promise<string> {
  const name = uniqueName(prefix);
  topics.push(name);
  await createTopic(brokers, name);
  return name;
}

async function register(subject: string, body: Record<string, unknown>): Promise<number> {
  const res = await request(gateway.url).post(`/schema-registry/subjects/${subject}/versions`).set('content-type', SR).send(body);
  assert.equal(res.status, 200, res.text);
  return res.body.id as number;
}

/** What confluent-kafka's deserializer of `format` reads from the topic, with this file's gateway as its registry. */
const pythonReads = (name: string, format: 'avro' | 'json' | 'protobuf', count: number) => registryClientReads(`${gateway.url}/schema-registry`, brokers, name, format, count);

test('Avro from every way in is read back by confluent-kafka with equal values, across an allowed evolution step', { timeout: 180_000 }, async () => {
  const t = await topic('fmt-avro');
  await register(`${t}-value`, { schema: orderAvro() });
  const post = (query: string, body: object) => request(gateway.url).post(`/v1/topics/${t}/records?${query}`).send(body);

  const json = conforms(await post('valueFormat=avro', { records: [{ key: 'k1', value: giftOrder }] }));
  assert.equal(json.status, 200, json.text);
  const ndjson = conforms(
    await request(gateway.url)
      .post(`/v1/topics/${t}/records?valueFormat=avro`)
      .set('content-type', 'application/x-ndjson')
      .send(`${JSON.stringify({ value: largestOrder })}\n`),
  );
  assert.equal(ndjson.status, 200, ndjson.text);
  const ws = await WsClient.connect(`${gateway.url.replace(/^http/, 'ws')}/v1/ws`);
  ws.send({ op: 'produce', id: 'p1', topic: t, valueFormat: 'avro', records: [{ value: { id: 3, item: 'cup', note: null, status: 'NEW' } }] });
  const acked = await ws.next((f) => f.id === 'p1');
  assert.equal(acked.op, 'produced', JSON.stringify(acked));
  ws.send({ op: 'produce', id: 'p2', topic: t, valueFormat: 'avro', records: [{ value: { id: 'x', item: 'cup', status: 'NEW' } }] });
  const refused = await ws.next((f) => f.id === 'p2');
  assert.equal(refused.code, 'GW_ERR_SCHEMA_MISMATCH', JSON.stringify(refused));
  ws.socket.close();

  // One evolution step the registry allows (a field with a default), and records with it through Confluent v2.
  const v2Id = await register(`${t}-value`, { schema: orderAvro([{ name: 'qty', type: 'int', default: 1 }]) });
  const v2 = conforms(
    await request(gateway.url)
      .post(`/topics/${t}`)
      .set('content-type', V2_AVRO)
      .send({ value_schema_id: v2Id, records: [{ value: { id: 4, item: 'ink', note: null, status: 'PAID', qty: 5 } }] }),
  );
  assert.equal(v2.status, 200, v2.text);
  assert.equal(v2.body.value_schema_id, v2Id);
  assert.equal(v2.body.key_schema_id, null);

  assert.deepEqual(await pythonReads(t, 'avro', 4), [
    giftOrderRead,
    largestOrder,
    { id: 3, item: 'cup', note: null, status: 'NEW' },
    { id: 4, item: 'ink', note: null, status: 'PAID', qty: 5 },
  ]);
});

test('Protobuf and JSON Schema records written by the gateway are read back by confluent-kafka', { timeout: 180_000 }, async () => {
  const pb = await topic('fmt-protobuf');
  await register(`${pb}-value`, {
    schemaType: 'PROTOBUF',
    schema: ORDER_PROTO,
  });
  const produced = conforms(await request(gateway.url).post(`/v1/topics/${pb}/records?valueFormat=protobuf`).send({ records: [{ value: lampOrder }] }));
  assert.equal(produced.status, 200, produced.text);
  const wrong = conforms(await request(gateway.url).post(`/v1/topics/${pb}/records?valueFormat=protobuf`).send({ records: [{ value: { id: 'seven', colour: 'red' } }] }));
  assert.equal(wrong.status, 422);
  assert.deepEqual(
    (wrong.body.errors as Array<{ pointer: string }>).map((e) => e.pointer),
    ['/records/0/value/id', '/records/0/value/colour'],
  );

  const js = await topic('fmt-json');
  const schemaId = await register(`${js}-value`, { schemaType: 'JSON', schema: SENSOR_JSON_SCHEMA });
  const jsonProduced = conforms(await request(gateway.url).post(`/v1/topics/${js}/records?valueFormat=jsonschema&valueSchemaId=${schemaId}`).send({ records: [{ value: reading }] }));
  assert.equal(jsonProduced.status, 200, jsonProduced.text);

  assert.deepEqual(await pythonReads(pb, 'protobuf', 1), [lampOrder]);
  assert.deepEqual(await pythonReads(js, 'json', 1), [reading]);
});

test('bad input: unknown subject, version or id, a schema of another type, a record that does not fit, Confluent v2 codes; nothing is written', async () => {
  const t = await topic('fmt-bad');
  const post = (query: string, body: object = { records: [{ value: { id: 1, item: 'a', note: null, status: 'NEW' } }] }) => request(gateway.url).post(`/v1/topics/${t}/records?${query}`).send(body);

  const noSubject = conforms(await post('valueFormat=avro'));
  assert.equal(noSubject.status, 404);
  assert.equal(noSubject.body.code, 'GW_ERR_SUBJECT_NOT_FOUND');
  assert.match(noSubject.body.detail as string, /register one/);
  const id = await register(`${t}-value`, { schema: orderAvro() });
  assert.equal(conforms(await post('valueFormat=avro&valueSchemaVersion=9')).body.code, 'GW_ERR_VERSION_NOT_FOUND');
  assert.equal(conforms(await post('valueFormat=avro&valueSchemaId=2147483000')).body.code, 'GW_ERR_SCHEMA_NOT_FOUND');
  const otherType = conforms(await post(`valueFormat=protobuf&valueSchemaId=${id}`));
  assert.equal(otherType.status, 400);
  assert.equal(otherType.body.errors[0].pointer, '/valueSchemaId');
  const notNamedFormat = conforms(await post(`valueSchemaId=${id}`));
  assert.equal(notNamedFormat.status, 400);
  assert.equal(notNamedFormat.body.errors[0].pointer, '/valueFormat');
  const misfit = conforms(await post('valueFormat=avro', { records: [{ value: { id: 1, item: 'a', note: null, status: 'NEW' } }, { value: { id: 2, item: 7, note: 'bare', status: 'LOST' } }] }));
  assert.equal(misfit.status, 422);
  assert.equal(misfit.body.code, 'GW_ERR_SCHEMA_MISMATCH');
  assert.deepEqual(
    (misfit.body.errors as Array<{ index: number; pointer: string }>).map((e) => [e.index, e.pointer]),
    [
      [1, '/records/1/value/item'],
      [1, '/records/1/value/note'],
      [1, '/records/1/value/status'],
    ],
  );

  const v2 = (body: object, type = V2_AVRO) => request(gateway.url).post(`/topics/${t}`).set('content-type', type).send(body);
  const code = async (res: request.Response, status: number, errorCode: number) => {
    conforms(res);
    assert.equal(res.status, status, res.text);
    assert.equal(res.body.error_code, errorCode, res.text);
  };
  await code(await v2({ records: [{ value: { id: 1 } }] }), 422, 42202);
  await code(await v2({ value_schema_id: id, records: [{ key: 'k', value: { id: 1 } }] }), 422, 42201);
  await code(await v2({ value_schema_id: id, records: [{ value: { id: 'one' } }] }), 422, 42203);
  await code(await v2({ value_schema: '{"type": "nope"}', records: [{ value: 1 }] }), 422, 42205);
  await code(await v2({ value_schema_id: 2147483000, records: [{ value: 1 }] }), 404, 40403);
  // An inline schema is registered under <topic>-value; one the compatibility level refuses is 409.
  await code(await v2({ value_schema: JSON.stringify({ type: 'record', name: 'Order', namespace: 'shop', fields: [{ name: 'id', type: 'string' }] }), records: [{ value: { id: 'x' } }] }), 409, 40901);
  const inline = await v2({ value_schema: '"string"', records: [{ value: 'plain' }] }, 'application/vnd.kafka.avro.v2+json');
  assert.equal(inline.status, 409, inline.text);

  assert.deepEqual(await consumeAll(brokers, t), [], 'nothing from a refused request reaches Kafka');
});

test('SCHEMA_REGISTRY_URL: another registry (here a second gateway behind a proxy that checks basic auth) serves the schemas; one that is down is 503 with Retry-After and nothing is written', { timeout: 120_000 }, async (t) => {
  // The registry: this file's gateway, behind a proxy that answers 401 without the right credentials.
  const seen: string[] = [];
  const proxy = createServer((req, res) => {
    seen.push(req.headers.authorization ?? '');
    if (req.headers.authorization !== `Basic ${Buffer.from('alice:s3cret').toString('base64')}`) {
      res.writeHead(401).end();
      return;
    }
    const upstream = new URL(gateway.url);
    req.pipe(
      httpRequest({ host: upstream.hostname, port: upstream.port, method: req.method, path: `/schema-registry${req.url ?? ''}`, headers: { ...req.headers, host: upstream.host } }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      }),
    );
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => proxy.close(resolve)));
  const registryUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  const other = await gatewayFor(t, { SCHEMA_REGISTRY_URL: registryUrl, SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO: 'alice:s3cret' });

  const name = await topic('fmt-external');
  await register(`${name}-value`, { schema: orderAvro() });
  const produced = conforms(await request(other.url).post(`/v1/topics/${name}/records?valueFormat=avro`).send({ records: [{ value: { id: 5, item: 'map', note: null, status: 'NEW' } }] }));
  assert.equal(produced.status, 200, produced.text);
  assert.ok(seen.length > 0 && seen.every((h) => h.startsWith('Basic ')), 'every registry request carries the credentials');
  assert.deepEqual(await pythonReads(name, 'avro', 1), [{ id: 5, item: 'map', note: null, status: 'NEW' }]);
  const page = conforms(await request(other.url).get(`/v1/topics/${name}/partitions/0/records`));
  assert.deepEqual(page.body.records[0].value, { id: 5, item: 'map', note: null, status: 'NEW' });
  // The gateway's own registry API is not served while another registry is in use.
  const own = conforms(await request(other.url).get(`/schema-registry/subjects/${name}-value/versions`));
  assert.equal(own.status, 404);
  assert.match(own.body.message as string, /SCHEMA_REGISTRY_URL/);

  // Wrong credentials and a registry that is down: 503 with Retry-After, nothing written.
  const refused = await gatewayFor(t, { SCHEMA_REGISTRY_URL: registryUrl, SCHEMA_REGISTRY_BEARER_TOKEN: 'wrong' });
  const down = await gatewayFor(t, { SCHEMA_REGISTRY_URL: 'http://127.0.0.1:1', SCHEMA_REGISTRY_TIMEOUT_MS: '2000' });
  for (const gw of [refused, down]) {
    const res = conforms(await request(gw.url).post(`/v1/topics/${name}/records?valueFormat=avro`).send({ records: [{ value: { id: 6, item: 'x', note: null, status: 'NEW' } }] }));
    assert.equal(res.status, 503, res.text);
    assert.equal(res.body.code, 'GW_ERR_REGISTRY_UNAVAILABLE');
    assert.equal(res.headers['retry-after'], '5');
  }
  const v2 = conforms(await request(down.url).post(`/topics/${name}`).set('content-type', V2_AVRO).send({ value_schema_id: 1, records: [{ value: 1 }] }));
  assert.equal(v2.status, 503);
  assert.equal(v2.body.error_code, 50003);
  assert.equal((await consumeAll(brokers, name)).length, 1, 'only the record produced with its schema is written');

  assert.throws(() => loadConfig({ KAFKA_BROKERS: brokers, SCHEMA_REGISTRY_URL: 'ftp://registry' }), /SCHEMA_REGISTRY_URL must be an http or https URL/);
  assert.throws(() => loadConfig({ KAFKA_BROKERS: brokers, SCHEMA_REGISTRY_BEARER_TOKEN: 't' }), /SCHEMA_REGISTRY_URL is not/);
  assert.throws(() => loadConfig({ KAFKA_BROKERS: brokers, SCHEMA_REGISTRY_SUBJECT_STRATEGY: 'by-mood' }), /SCHEMA_REGISTRY_SUBJECT_STRATEGY/);
});

test('the record subject strategies name subjects by the record: an inline v2 schema is registered under its full name, and a lookup without a subject is refused', async (t) => {
  const recordStrategy = await gatewayFor(t, { SCHEMA_REGISTRY_SUBJECT_STRATEGY: 'topic_record' });
  const name = await topic('fmt-strategy');
  const schema = JSON.stringify({ type: 'record', name: `R${Date.now()}`, namespace: 'strategy', fields: [{ name: 'a', type: 'int' }] });
  const res = conforms(await request(recordStrategy.url).post(`/topics/${name}`).set('content-type', V2_AVRO).send({ value_schema: schema, records: [{ value: { a: 1 } }] }));
  assert.equal(res.status, 200, res.text);
  const subject = `${name}-strategy.${(JSON.parse(schema) as { name: string }).name}`;
  assert.equal(conforms(await request(gateway.url).get(`/schema-registry/subjects/${subject}/versions`).set('accept', SR)).status, 200);
  const noSubject = conforms(await request(recordStrategy.url).post(`/v1/topics/${name}/records?valueFormat=avro`).send({ records: [{ value: { a: 1 } }] }));
  assert.equal(noSubject.status, 400);
  assert.equal(noSubject.body.errors[0].pointer, '/valueSubject');
  const bySubject = conforms(await request(recordStrategy.url).post(`/v1/topics/${name}/records?valueFormat=avro&valueSubject=${subject}`).send({ records: [{ value: { a: 2 } }] }));
  assert.equal(bySubject.status, 200, bySubject.text);
});
