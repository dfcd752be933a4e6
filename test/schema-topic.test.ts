/**
 * A schema belongs to a topic that exists: PUT on a topic that does not
 * exist (most likely a mistyped name) is 404 and stores nothing. With
 * AUTO_CREATE_TOPICS on, the schema may come first on purpose, and the
 * produce that creates the topic is checked against it.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import request from 'supertest';
import { conforms } from './helpers/contract.js';
import { sharedBrokers, uniqueName } from './helpers/env.js';
import { testGateway, type TestGateway } from './helpers/gateway.js';
import { consumeAll, deleteTopics, withAdmin } from './helpers/kafka.js';

let strict: TestGateway;
let autoCreating: TestGateway;
const created: string[] = [];

before(async () => {
  [strict, autoCreating] = await Promise.all([testGateway(), testGateway({ AUTO_CREATE_TOPICS: 'true' })]);
});
after(async () => {
  for (const topic of created) await request(autoCreating.app).delete(`/v1/topics/${topic}/schema`);
  await Promise.all([strict?.close(), autoCreating?.close()]);
  await deleteTopics(sharedBrokers(), created);
});

const schema = { type: 'object', required: ['id'], properties: { id: { type: 'integer' } } };

test('PUT of a schema for a topic that does not exist is 404 and stores nothing', async () => {
  const missing = uniqueName('no-such-topic');
  const res = conforms(await request(strict.app).put(`/v1/topics/${missing}/schema`).send(schema));
  assert.equal(res.status, 404);
  assert.equal(res.body.code, 'GW_ERR_TOPIC_NOT_FOUND');
  assert.match(res.body.detail, /create it first/);
  conforms(await request(strict.app).get(`/v1/topics/${missing}/schema`).expect(404));
  const stored = (await consumeAll(sharedBrokers(), '_gateway_schemas')).filter((r) => r.key?.toString() === missing);
  assert.deepEqual(stored, [], 'nothing written to _gateway_schemas');
  const topics = await withAdmin(sharedBrokers(), (admin) => admin.listTopics());
  assert.ok(!topics.includes(missing), 'and no topic created');
});

test('with AUTO_CREATE_TOPICS on, a schema may come before its topic and checks the produce that creates it', async () => {
  const later = uniqueName('created-later');
  created.push(later);
  conforms(await request(autoCreating.app).put(`/v1/topics/${later}/schema`).send(schema).expect(200));
  const refused = conforms(await request(autoCreating.app).post(`/v1/topics/${later}/records`).send({ records: [{ value: { id: 'one' } }] }));
  assert.equal(refused.status, 422);
  conforms(await request(autoCreating.app).post(`/v1/topics/${later}/records`).send({ records: [{ value: { id: 1 } }] }).expect(200));
  assert.deepEqual(
    (await consumeAll(sharedBrokers(), later)).map((r) => JSON.parse(r.value!.toString()) as unknown),
    [{ id: 1 }],
  );
});
