/**
 * Queues under authentication, and dead letters the gateway writes itself.
 *
 * Taking and subscribing need consume on every topic (and produce on a
 * dead-letter topic the gateway writes to); a receipt answers only for the
 * principal that took it; settings need admin. On a broker without
 * dead-letter topics of its own (simulated by wrapping the one probe that
 * decides it), a rejected record is written by the gateway, with headers
 * naming where it came from, before the reject is answered.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import request from 'supertest';
import type { RunningGateway } from '../src/gateway.js';
import { authFiles } from './helpers/auth.js';
import { conforms } from './helpers/contract.js';
import { eventually, uniqueName } from './helpers/env.js';
import type { TestGateway } from './helpers/gateway.js';
import type { Admin } from './helpers/kafka-client.js';
import { adminFor, appFor, gatewayFor } from './helpers/scoped.js';
import { WsClient, isOp } from './helpers/ws.js';

const prefix = uniqueName('qsec');
const { env, keys } = authFiles(`${prefix}-`);
let admin: Admin;
let secured: RunningGateway;
let plain: TestGateway;

before(async (t) => {
  admin = await adminFor(t);
  secured = await gatewayFor(t, env);
  plain = await appFor(t);
});

async function queueTopic(name: string, values: string[]): Promise<void> {
  await admin.createTopics({ topics: [{ topic: name, numPartitions: 1 }] });
  conforms(await request(plain.app).post(`/v1/topics/${name}/records`).send({ valueFormat: 'text', records: values.map((value) => ({ value })) }).expect(200));
}

test('consume permission on the topics decides who takes and subscribes; receipts answer only for their taker; settings need admin', async () => {
  const topic = `${prefix}-jobs`;
  const group = `${prefix}-workers`;
  const outside = uniqueName('elsewhere');
  await queueTopic(topic, ['a', 'b']);
  await admin.createTopics({ topics: [{ topic: outside, numPartitions: 1 }] });
  const as = (key: string) => ({ 'X-API-Key': key });

  conforms(await request(secured.url).patch(`/v1/share-groups/${group}`).set(as(keys.reader)).send({ autoOffsetReset: 'earliest' }).expect(403));
  conforms(await request(secured.url).patch(`/v1/share-groups/${group}`).set(as(keys.admin)).send({ autoOffsetReset: 'earliest' }).expect(200));
  conforms(await request(secured.url).post(`/v1/share-groups/${group}/take`).send({ topics: [topic] }).expect(401));
  conforms(await request(secured.url).post(`/v1/share-groups/${group}/take`).set(as(keys.writer)).send({ topics: [topic] }).expect(403));
  conforms(await request(secured.url).post(`/v1/share-groups/${group}/take`).set(as(keys.reader)).send({ topics: [outside] }).expect(403));
  // The reader may read the topic but not write the dead letters the gateway would write elsewhere.
  conforms(await request(secured.url).post(`/v1/share-groups/${group}/take`).set(as(keys.reader)).send({ topics: [topic], deadLetterTopic: outside }).expect(403));

  const taken = await eventually(async () => {
    const res = conforms(await request(secured.url).post(`/v1/share-groups/${group}/take`).set(as(keys.reader)).send({ topics: [topic], max: 2, waitMs: 1000 }).expect(200));
    return res.body.records.length > 0 ? (res.body.records as Array<{ receipt: string }>) : undefined;
  });
  const byAdmin = conforms(await request(secured.url).post(`/v1/share-groups/${group}/answers`).set(as(keys.admin)).send({ answers: [{ receipt: taken[0]!.receipt, outcome: 'accept' }] }).expect(200));
  assert.equal(byAdmin.body.results[0].status, 404, 'a receipt answers only for the principal that took it');
  const byReader = conforms(await request(secured.url).post(`/v1/share-groups/${group}/answers`).set(as(keys.reader)).send({ answers: [{ receipt: taken[0]!.receipt, outcome: 'accept' }] }).expect(200));
  assert.equal(byReader.body.failed, 0);

  // WebSocket: the same rules on a share subscription.
  const ws = await WsClient.connect(`${secured.url.replace(/^http/, 'ws')}/v1/ws`, { headers: as(keys.reader) });
  ws.send({ op: 'subscribe', id: 'out', topics: [outside], shareGroup: group });
  assert.equal((await ws.next(isOp('error', 'out'))).status, 403);
  ws.send({ op: 'subscribe', id: 'dl', topics: [topic], shareGroup: group, deadLetterTopic: outside });
  assert.equal((await ws.next(isOp('error', 'dl'))).status, 403);
  ws.send({ op: 'subscribe', id: 'in', topics: [topic], shareGroup: group });
  await ws.next(isOp('subscribed', 'in'));
  await ws.close();
});

test('on a broker without dead-letter topics, the gateway writes a rejected record with where it came from before answering the reject', async () => {
  const topic = uniqueName('dlq-src');
  const dlq = uniqueName('dlq-gateway');
  const group = uniqueName('dlq-workers');
  await queueTopic(topic, ['poison']);
  await admin.createTopics({ topics: [{ topic: dlq, numPartitions: 1 }] });
  // The probe that decides who writes dead letters answers as a Kafka 4.1-4.3 broker would.
  plain.services.kafka.shareGroups.deadLetterMode = () => Promise.resolve('gateway');
  const settings = conforms(await request(plain.app).patch(`/v1/share-groups/${group}`).send({ autoOffsetReset: 'earliest' }).expect(200));
  assert.equal(settings.body.deadLetters, 'gateway');
  conforms(await request(plain.app).patch(`/v1/share-groups/${group}`).send({ deadLetterTopic: dlq }).expect(400));
  const [record] = await eventually(async () => {
    const res = conforms(await request(plain.app).post(`/v1/share-groups/${group}/take`).send({ topics: [topic], waitMs: 1000, deadLetterTopic: dlq }).expect(200));
    return res.body.records.length > 0 ? (res.body.records as Array<{ receipt: string; value: string }>) : undefined;
  });
  assert.equal(record!.value, 'poison');
  const rejected = conforms(
    await request(plain.app)
      .post(`/v1/share-groups/${group}/answers`)
      .send({ answers: [{ receipt: record!.receipt, outcome: 'reject', reason: 'cannot parse' }] })
      .expect(200),
  );
  assert.equal(rejected.body.failed, 0);
  // Written before the reject was answered: it is there now.
  const page = conforms(await request(plain.app).get(`/v1/topics/${dlq}/partitions/0/records?offset=0`).expect(200));
  assert.equal(page.body.records.length, 1);
  const letter = page.body.records[0] as { value: string; headers: Record<string, string> };
  assert.equal(letter.value, 'poison');
  assert.deepEqual(letter.headers, {
    '__dlq.errors.topic': topic,
    '__dlq.errors.partition': '0',
    '__dlq.errors.offset': '0',
    '__dlq.errors.group': group,
    '__dlq.errors.delivery.count': '1',
    '__dlq.errors.message': 'cannot parse',
  });
  // And the record never comes back.
  const again = conforms(await request(plain.app).post(`/v1/share-groups/${group}/take`).send({ topics: [topic], waitMs: 500 }).expect(200));
  assert.deepEqual(again.body.records, []);
});
