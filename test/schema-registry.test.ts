/**
 * The gateway's own schema registry (the Confluent Schema Registry API
 * under /schema-registry), spoken to by confluent-kafka's
 * SchemaRegistryClient and its Avro, JSON Schema and Protobuf serializers
 * from PyPI, and by plain HTTP for every operation and bad input.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import request from 'supertest';
import { conforms } from './helpers/contract.js';
import { sharedBrokers, uniqueName } from './helpers/env.js';
import { testGateway, type TestGateway } from './helpers/gateway.js';
import { createTopic, deleteTopics } from './helpers/kafka.js';
import { registryPython } from './helpers/registry.js';

const run = promisify(execFile);
const brokers = sharedBrokers();
const SR = 'application/vnd.schemaregistry.v1+json';
const topics: string[] = [];
let gateway: TestGateway;
let server: Server;
let url: string;

before(async () => {
  gateway = await testGateway();
  server = createServer(gateway.app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/schema-registry`;
});
after(async () => {
  await new Promise((resolve) => server?.close(resolve));
  await gateway?.close();
  await deleteTopics(brokers, topics);
});

const sr = (method: 'get' | 'post' | 'put' | 'delete', path: string) => request(gateway.app)[method](`/schema-registry${path}`).set('content-type', SR).set('accept', SR);

const avroV1 = JSON.stringify({ type: 'record', name: 'Point', fields: [{ name: 'x', type: 'int' }] });
const avroV2 = JSON.stringify({ type: 'record', name: 'Point', fields: [{ name: 'x', type: 'int' }, { name: 'y', type: 'int', default: 0 }] });
const avroBad = JSON.stringify({ type: 'record', name: 'Point', fields: [{ name: 'x', type: 'string' }] });

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
});

test('every registry operation answers in the registry shape; bad input gets the registry error codes', async () => {
  const subject = uniqueName('sr-http');
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
  assert.equal((await request(gateway.app).put(`/v1/topics/${topic}/schema`).send(schema)).status, 200);
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
