/**
 * The gateway's own schema registry (the Confluent Schema Registry API
 * under /schema-registry), spoken to by confluent-kafka's
 * SchemaRegistryClient and its Avro, JSON Schema and Protobuf serializers
 * from PyPI, and by plain HTTP for every operation and bad input.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import request from 'supertest';
import { conforms } from './helpers/contract.js';
import { sharedBrokers, uniqueName } from './helpers/env.js';
import type { RunningGateway } from '../src/gateway.js';
import { createTopic, deleteTopics, produceDirect } from './helpers/kafka.js';
import { registryPython } from './helpers/registry.js';
import { gatewayFor } from './helpers/scoped.js';
import { SseClient } from './helpers/sse.js';
import { WsClient, type Frame } from './helpers/ws.js';

const run = promisify(execFile);
const brokers = sharedBrokers();
const SR = 'application/vnd.schemaregistry.v1+json';
const topics: string[] = [];
let gateway: RunningGateway;
let url: string;

before(async (t) => {
  gateway = await gatewayFor(t);
  url = `${gateway.url}/schema-registry`;
});
after(async () => {
  await deleteTopics(brokers, topics);
});

const sr = (method: 'get' | 'post' | 'put' | 'delete', path: string) => request(gateway.url)[method](`/schema-registry${path}`).set('content-type', SR).set('accept', SR);
const isRecord = (f: Frame) => f.op === 'record' || (f.op === undefined && 'offset' in f);

/** The first record frames of a topic read over the single-topic WebSocket endpoint from the start. */
async function wsRecords(topic: string, count: number): Promise<Frame[]> {
  const client = await WsClient.connect(`${gateway.url.replace(/^http/, 'ws')}/v1/topics/${topic}/ws?from=earliest`);
  try {
    return await client.collect(isRecord, count);
  } finally {
    client.socket.close();
  }
}

const pointV1 = JSON.stringify({ type: 'record', name: 'Point', fields: [{ name: 'x', type: 'int' }] });
const pointV2 = JSON.stringify({ type: 'record', name: 'Point', fields: [{ name: 'x', type: 'int' }, { name: 'y', type: 'int', default: 0 }] });
const pointBad = JSON.stringify({ type: 'record', name: 'Point', fields: [{ name: 'x', type: 'string' }] });

test('confluent-kafka registers through the gateway and its serializers write the three formats; compatibility allows one step and refuses another', { timeout: 120_000 }, async () => {
  const prefix = uniqueName('sr-py');
  for (const format of ['avro', 'json', 'protobuf']) {
    topics.push(`${prefix}-${format}`);
    await createTopic(brokers, `${prefix}-${format}`);
  }
  const { stdout } = await run(registryPython(), ['test/python/registry_clients.py', 'produce', url, brokers, prefix], { timeout: 120_000 });
  const report = JSON.parse(stdout) as Record<string, unknown>;
  assert.deepEqual(report.subjects, [`${prefix}-avro-value`, `${prefix}-json-value`, `${prefix}-protobuf-value`]);
  assert.equal(report.avroLatest, 1);
  assert.equal(report.allowedCompatible, true);
  assert.equal(report.refusedCompatible, false);
  assert.deepEqual(report.refused, { status: 409, code: 409 });
  assert.deepEqual(report.versions, [1, 2]);

  // What the Python serializers wrote is read back by their deserializers through the gateway's registry.
  const read = async (format: string) => JSON.parse((await run(registryPython(), ['test/python/registry_clients.py', 'consume', url, brokers, `${prefix}-${format}`, format, '1'], { timeout: 120_000 })).stdout) as unknown[];
  assert.deepEqual(await read('avro'), [{ id: 9007199254740991, item: 'book', note: 'gift', status: 'PAID' }]);
  assert.deepEqual(await read('json'), [{ sensor: 's1', celsius: 21.5 }]);
  assert.deepEqual(await read('protobuf'), [{ id: '-5', itemName: 'pen', tags: ['a', 'b'] }]);

  // The gateway's readers see the same values as JSON, each naming its schema: WebSocket, SSE, a partition page, Confluent v2.
  const avroId = (conforms(await sr('get', `/subjects/${prefix}-avro-value/versions/1`)).body as { id: number }).id;
  const [avroFrame] = await wsRecords(`${prefix}-avro`, 1);
  assert.deepEqual(avroFrame!.value, { id: 9007199254740991, item: 'book', note: { string: 'gift' }, status: 'PAID' });
  assert.equal(avroFrame!.valueEncoding, 'json');
  assert.deepEqual(avroFrame!.valueSchema, { id: avroId, type: 'AVRO', subject: `${prefix}-avro-value`, version: 1 });
  const sse = await SseClient.open(`${gateway.url}/v1/topics/${prefix}-protobuf/events?from=earliest`);
  const [event] = await sse.waitRecords(1);
  sse.drop();
  assert.deepEqual(event!.value, { id: '-5', itemName: 'pen', tags: ['a', 'b'] });
  assert.equal((event!.valueSchema as { type: string }).type, 'PROTOBUF');
  const page = conforms(await request(gateway.url).get(`/v1/topics/${prefix}-json/partitions/0/records`));
  assert.deepEqual(page.body.records[0].value, { sensor: 's1', celsius: 21.5 });
  assert.equal(page.body.records[0].valueSchema.subject, `${prefix}-json-value`);

  const agent = request(gateway.url);
  const v2 = 'application/vnd.kafka.v2+json';
  const group = uniqueName('sr-v2');
  const created = conforms(await agent.post(`/consumers/${group}`).set('content-type', v2).send({ format: 'avro', 'auto.offset.reset': 'earliest' }));
  assert.equal(created.status, 200, created.text);
  const base = new URL(created.body.base_uri as string).pathname;
  assert.equal(conforms(await agent.post(`${base}/subscription`).set('content-type', v2).send({ topics: [`${prefix}-avro`] })).status, 204);
  let records: Array<{ value: unknown }> = [];
  for (let attempt = 0; attempt < 20 && records.length === 0; attempt++) {
    const polled = conforms(await agent.get(`${base}/records?timeout=1000`).set('accept', 'application/vnd.kafka.avro.v2+json'));
    assert.equal(polled.status, 200, polled.text);
    records = polled.body as typeof records;
  }
  assert.deepEqual(records[0]?.value, { id: 9007199254740991, item: 'book', note: { string: 'gift' }, status: 'PAID' });
  // A json read of an avro instance is refused as Confluent refuses it.
  assert.equal(conforms(await agent.get(`${base}/records`).set('accept', 'application/vnd.kafka.json.v2+json')).status, 406);
  await agent.delete(base).set('content-type', v2);
});

test('a record whose bytes do not decode with the schema they name goes as base64 with a note; one naming an unknown id goes as before', async () => {
  const topic = uniqueName('sr-broken');
  topics.push(topic);
  await createTopic(brokers, topic);
  const registered = conforms(await sr('post', `/subjects/${topic}-value/versions`).send({ schema: pointV1 }));
  const header = (id: number) => Buffer.from([0, (id >>> 24) & 255, (id >>> 16) & 255, (id >>> 8) & 255, id & 255]);
  // A record of schema Point {x: int} whose int is cut short, one naming an id nobody registered, and a good one.
  await produceDirect(brokers, topic, [
    { value: Buffer.concat([header(registered.body.id as number), Buffer.from([0x80])]) },
    { value: Buffer.concat([header(2147483000), Buffer.from('x')]) },
    { value: Buffer.concat([header(registered.body.id as number), Buffer.from([0x02])]) },
  ]);
  const [broken, unknown, good] = await wsRecords(topic, 3);
  assert.equal(broken!.valueEncoding, 'base64');
  assert.deepEqual(broken!.valueSchema, { id: registered.body.id, type: 'AVRO', subject: `${topic}-value`, version: 1 });
  assert.match(broken!.note as string, /does not decode/);
  assert.equal(unknown!.valueSchema, undefined);
  assert.equal(good!.valueEncoding, 'json');
  assert.deepEqual(good!.value, { x: 1 });
});

test('every registry operation answers in the registry shape; bad input gets the registry error codes', async () => {
  const subject = uniqueName('sr-http');
  // A schema of this test's own: ids are shared by every subject registering the same schema.
  const [avroV1, avroV2, avroBad] = [pointV1, pointV2, pointBad].map((s) => s.replace('"Point"', '"HttpPoint"')) as [string, string, string];
  assert.deepEqual(conforms(await sr('get', '/schemas/types')).body, ['JSON', 'PROTOBUF', 'AVRO']);
  const first = conforms(await sr('post', `/subjects/${subject}/versions`).send({ schema: avroV1 }));
  assert.equal(first.status, 200, first.text);
  assert.match(first.headers['content-type'] as string, /^application\/vnd\.schemaregistry\.v1\+json/);
  const id = first.body.id as number;
  // The same schema again: the same id, no new version.
  assert.equal(conforms(await sr('post', `/subjects/${subject}/versions`).send({ schema: avroV1 })).body.id, id);
  assert.deepEqual(conforms(await sr('get', `/subjects/${subject}/versions`)).body, [1]);
  assert.ok((conforms(await sr('get', '/subjects')).body as string[]).includes(subject));
  assert.deepEqual(conforms(await sr('get', `/schemas/ids/${id}`)).body, { schema: JSON.stringify(JSON.parse(avroV1)) === avroV1 ? avroV1 : avroV1 });
  assert.deepEqual(conforms(await sr('get', `/schemas/ids/${id}/schema`)).body, JSON.parse(avroV1));
  assert.deepEqual(conforms(await sr('get', `/schemas/ids/${id}/versions`)).body, [{ subject, version: 1 }]);
  assert.equal(conforms(await sr('get', `/subjects/${subject}/versions/latest`)).body.id, id);
  assert.deepEqual(conforms(await sr('get', `/subjects/${subject}/versions/1/schema`)).body, JSON.parse(avroV1));
  assert.equal(conforms(await sr('post', `/subjects/${subject}`).send({ schema: avroV1 })).body.version, 1);

  // Compatibility: BACKWARD by default; a field with a default may be added, a type change may not.
  assert.deepEqual(conforms(await sr('post', `/compatibility/subjects/${subject}/versions/latest`).send({ schema: avroV2 })).body, { is_compatible: true });
  const verbose = conforms(await sr('post', `/compatibility/subjects/${subject}/versions?verbose=true`).send({ schema: avroBad }));
  assert.equal(verbose.body.is_compatible, false);
  assert.ok((verbose.body.messages as string[]).length > 0, verbose.text);
  const refused = conforms(await sr('post', `/subjects/${subject}/versions`).send({ schema: avroBad }));
  assert.equal(refused.status, 409);
  assert.equal(refused.body.error_code, 409);
  assert.match(refused.body.message as string, /incompatible/);

  // Levels: the default, a subject's own, removed again.
  assert.deepEqual(conforms(await sr('get', '/config')).body, { compatibilityLevel: 'BACKWARD' });
  assert.equal(conforms(await sr('get', `/config/${subject}`)).body.error_code, 40401);
  assert.deepEqual(conforms(await sr('get', `/config/${subject}?defaultToGlobal=true`)).body, { compatibilityLevel: 'BACKWARD' });
  assert.deepEqual(conforms(await sr('put', `/config/${subject}`).send({ compatibility: 'NONE' })).body, { compatibility: 'NONE' });
  assert.equal(conforms(await sr('post', `/subjects/${subject}/versions`).send({ schema: avroBad })).body.id > id, true);
  assert.deepEqual(conforms(await sr('delete', `/config/${subject}`)).body, { compatibilityLevel: 'NONE' });
  const badLevel = conforms(await sr('put', '/config').send({ compatibility: 'SOMETIMES' }));
  assert.equal(badLevel.status, 422);
  assert.equal(badLevel.body.error_code, 42203);
  const sameLevel = conforms(await sr('put', '/config').send({ compatibility: 'BACKWARD' }));
  assert.deepEqual(sameLevel.body, { compatibility: 'BACKWARD' });

  // Not found: subject 40401, version 40402, schema id 40403; a bad version 42202; a schema that does not parse 42201.
  assert.equal(conforms(await sr('get', `/subjects/${subject}-nope/versions`)).body.error_code, 40401);
  assert.equal(conforms(await sr('get', `/subjects/${subject}/versions/99`)).body.error_code, 40402);
  assert.equal(conforms(await sr('get', '/schemas/ids/2147483000')).body.error_code, 40403);
  assert.equal(conforms(await sr('get', `/subjects/${subject}/versions/first`)).body.error_code, 42202);
  assert.equal(conforms(await sr('post', `/subjects/${subject}`).send({ schema: avroV2 })).body.error_code, 40403);
  const invalid = conforms(await sr('post', `/subjects/${subject}/versions`).send({ schema: '{"type":"record","name":"X","fields":[{"name":"a","type":"nope"}]}' }));
  assert.equal(invalid.status, 422);
  assert.equal(invalid.body.error_code, 42201);
  assert.match(invalid.body.message as string, /nope/);
  const badProto = conforms(await sr('post', `/subjects/${subject}-p/versions`).send({ schemaType: 'PROTOBUF', schema: 'message { oops' }));
  assert.equal(badProto.body.error_code, 42201);
  const badJson = conforms(await sr('post', `/subjects/${subject}-j/versions`).send({ schemaType: 'JSON', schema: '{"type": 12}' }));
  assert.equal(badJson.body.error_code, 42201);
  const unknownRoute = await sr('get', '/nothing-here');
  assert.equal(unknownRoute.status, 404);
  assert.equal(unknownRoute.body.error_code, 404);

  // Deleting: softly first (still readable with deleted=true), then for good.
  assert.equal(conforms(await sr('delete', `/subjects/${subject}/versions/2?permanent=true`)).status, 409);
  assert.equal(conforms(await sr('delete', `/subjects/${subject}/versions/2`)).body, 2);
  assert.deepEqual(conforms(await sr('get', `/subjects/${subject}/versions?deleted=true`)).body, [1, 2]);
  assert.deepEqual(conforms(await sr('delete', `/subjects/${subject}`)).body, [1]);
  assert.equal(conforms(await sr('get', `/subjects/${subject}/versions`)).body.error_code, 40401);
  assert.deepEqual(conforms(await sr('delete', `/subjects/${subject}?permanent=true`)).body, [1, 2]);
  // An id stays readable after its subject is gone (records written with it still decode).
  assert.equal(conforms(await sr('get', `/schemas/ids/${id}`)).status, 200);
});

test('a JSON Schema put on a topic becomes a version of the subject <topic>-value; Protobuf and JSON Schema evolve by their rules', async () => {
  const topic = uniqueName('sr-carry');
  topics.push(topic);
  await createTopic(brokers, topic);
  const schema = { type: 'object', properties: { n: { type: 'integer' } }, required: ['n'] };
  assert.equal((await request(gateway.url).put(`/v1/topics/${topic}/schema`).send(schema)).status, 200);
  const version = conforms(await sr('get', `/subjects/${topic}-value/versions/latest`));
  assert.equal(version.body.schemaType, 'JSON');
  assert.deepEqual(JSON.parse(version.body.schema as string), schema);

  const proto = (fields: string) => ({ schemaType: 'PROTOBUF', schema: `syntax = "proto3";\npackage t;\nmessage M {\n${fields}\n}\n` });
  const subject = uniqueName('sr-proto');
  assert.equal(conforms(await sr('post', `/subjects/${subject}/versions`).send(proto('int64 id = 1;'))).status, 200);
  assert.equal(conforms(await sr('post', `/compatibility/subjects/${subject}/versions/latest`).send(proto('int64 id = 1;\nstring name = 2;'))).body.is_compatible, true);
  assert.equal(conforms(await sr('post', `/compatibility/subjects/${subject}/versions/latest`).send(proto('string id = 1;'))).body.is_compatible, false);

  const jsonSubject = uniqueName('sr-json');
  const js = (s: object) => ({ schemaType: 'JSON', schema: JSON.stringify(s) });
  assert.equal(conforms(await sr('post', `/subjects/${jsonSubject}/versions`).send(js({ type: 'object', properties: { a: { type: 'string' } } }))).status, 200);
  assert.equal(conforms(await sr('post', `/compatibility/subjects/${jsonSubject}/versions/latest`).send(js({ type: 'object', properties: { a: { type: 'string' }, b: { type: 'number' } } }))).body.is_compatible, true);
  assert.equal(conforms(await sr('post', `/compatibility/subjects/${jsonSubject}/versions/latest`).send(js({ type: 'object', properties: { a: { type: 'string' } }, required: ['a'] }))).body.is_compatible, false);
});
