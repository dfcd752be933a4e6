/** JSON Schemas: stored in _gateway_schemas, enforced by every instance, checked before anything is produced. */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import request from 'supertest';
import { conforms } from './helpers/contract.js';
import { eventually, sharedBrokers, uniqueName } from './helpers/env.js';
import { testGateway, type TestGateway } from './helpers/gateway.js';
import { consumeAll, createTopic, deleteTopics, withAdmin } from './helpers/kafka.js';

const brokers = sharedBrokers();
const topics: string[] = [];
let a: TestGateway;
let b: TestGateway;
const preloaded = uniqueName('preloaded');
const dir = mkdtempSync(join(tmpdir(), 'schemas-'));
writeFileSync(join(dir, `${preloaded}.json`), JSON.stringify({ type: 'object', required: ['id'] }));

before(async () => {
  [a, b] = await Promise.all([testGateway(), testGateway({ SCHEMAS_DIR: dir })]);
});
after(async () => {
  await request(a.app).delete(`/v1/topics/${preloaded}/schema`);
  await Promise.all([a?.close(), b?.close()]);
  await deleteTopics(brokers, topics);
});

async function topic(): Promise<string> {
  const name = uniqueName('schema');
  topics.push(name);
  await createTopic(brokers, name, 2);
  return name;
}

const order = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  type: 'object',
  required: ['id', 'email'],
  properties: { id: { type: 'integer' }, email: { type: 'string', format: 'email' } },
  additionalProperties: false,
};

test('a schema put on one instance is enforced by another within seconds; 422 lists each failure and nothing is produced', async () => {
  const t = await topic();
  const put = conforms(await request(a.app).put(`/v1/topics/${t}/schema`).send(order));
  assert.equal(put.status, 200, put.text);
  assert.equal(put.body.version, 1);

  const bad = { records: [{ value: { id: 1, email: 'a@example.com' } }, { value: { id: 'x', email: 'nope' } }, { value: { id: 3 } }] };
  const refused = await eventually(async () => {
    const res = await request(b.app).post(`/v1/topics/${t}/records`).send(bad);
    return res.status === 422 ? res : undefined;
  }, 20_000);
  conforms(refused);
  const errors = refused.body.errors as { index: number; pointer: string; message: string }[];
  assert.ok(errors.some((e) => e.index === 1 && e.pointer === '/records/1/value/id' && /integer/.test(e.message)), JSON.stringify(errors));
  assert.ok(errors.some((e) => e.index === 1 && e.pointer === '/records/1/value/email' && /email/.test(e.message)), JSON.stringify(errors));
  // A missing field is pointed at itself.
  assert.ok(errors.some((e) => e.index === 2 && e.pointer === '/records/2/value/email' && e.message === 'is required'), JSON.stringify(errors));
  assert.ok(!errors.some((e) => e.index === 0));

  // Text values are parsed as JSON for validation; a value that is not JSON fails.
  const text = conforms(await request(a.app).post(`/v1/topics/${t}/records?valueFormat=text`).send({ records: [{ value: 'not json' }] }));
  assert.equal(text.status, 422);

  const ndjson = conforms(
    await request(b.app).post(`/v1/topics/${t}/records`).set('content-type', 'application/x-ndjson').send('{"value":{"id":1,"email":"a@example.com"}}\n{"value":{"id":2}}\n'),
  );
  assert.equal(ndjson.status, 422);
  assert.equal(ndjson.body.errors[0].index, 1);
  // The same pointer as for a JSON body: every transport points into the batch the same way.
  assert.equal(ndjson.body.errors[0].pointer, '/records/1/value/email');

  assert.deepEqual(await consumeAll(brokers, t), [], 'nothing from a refused request reaches Kafka');

  const ok = conforms(await request(b.app).post(`/v1/topics/${t}/records`).send({ records: [{ value: { id: 7, email: 'b@example.com' } }] }));
  assert.equal(ok.status, 200, ok.text);
  assert.equal((await consumeAll(brokers, t)).length, 1);
});

test('GET, replace and DELETE a schema; the deletion reaches other instances too', async () => {
  const t = await topic();
  conforms(await request(a.app).get(`/v1/topics/${t}/schema`).expect(404));
  conforms(await request(a.app).put(`/v1/topics/${t}/schema`).send({ type: 'object' }).expect(200));
  const second = conforms(await request(a.app).put(`/v1/topics/${t}/schema`).set('content-type', 'application/schema+json').send(JSON.stringify({ type: 'array' })).expect(200));
  assert.equal(second.body.version, 2);
  const got = conforms(await request(a.app).get(`/v1/topics/${t}/schema`).expect(200));
  assert.deepEqual(got.body, { topic: t, version: 2, schema: { type: 'array' } });
  await eventually(async () => (await request(b.app).get(`/v1/topics/${t}/schema`)).body.version === 2, 20_000);

  conforms(await request(a.app).delete(`/v1/topics/${t}/schema`).expect(204));
  conforms(await request(a.app).delete(`/v1/topics/${t}/schema`).expect(404));
  await eventually(async () => (await request(b.app).get(`/v1/topics/${t}/schema`)).status === 404, 20_000);
  conforms(await request(b.app).post(`/v1/topics/${t}/records`).send({ records: [{ value: { any: 'thing' } }] }).expect(200));

  // The tombstone is in the compacted topic, keyed by the topic name.
  const stored = (await consumeAll(brokers, '_gateway_schemas')).filter((r) => r.key?.toString() === t);
  assert.equal(stored.at(-1)!.value, null);
  assert.deepEqual(JSON.parse(stored[0]!.value!.toString()), { schema: { type: 'object' }, version: 1 });
  const configs = await withAdmin(brokers, (admin) =>
    admin.describeConfigs({ includeSynonyms: false, resources: [{ type: 2, name: '_gateway_schemas', configNames: ['cleanup.policy'] }] }),
  );
  assert.equal(configs.resources[0]!.configEntries[0]!.configValue, 'compact');
});

test('a schema that does not compile is refused with 400 and the reason', async () => {
  const t = await topic();
  const res = conforms(await request(a.app).put(`/v1/topics/${t}/schema`).send({ type: 'objekt' }));
  assert.equal(res.status, 400);
  assert.equal(res.body.code, 'GW_ERR_INVALID_SCHEMA');
  assert.match(res.body.detail, /type/);
  const notSchema = conforms(await request(a.app).put(`/v1/topics/${t}/schema`).send('[1]').set('content-type', 'application/json'));
  assert.equal(notSchema.status, 400);
  conforms(await request(a.app).get(`/v1/topics/${t}/schema`).expect(404));
});

test('schemas in SCHEMAS_DIR are loaded at start', async () => {
  const res = await eventually(async () => {
    const r = await request(b.app).get(`/v1/topics/${preloaded}/schema`);
    return r.status === 200 ? r : undefined;
  }, 20_000);
  conforms(res);
  assert.deepEqual(res.body.schema, { type: 'object', required: ['id'] });
  await eventually(async () => (await request(a.app).get(`/v1/topics/${preloaded}/schema`)).status === 200, 20_000);
});
