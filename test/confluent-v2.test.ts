/**
 * Confluent REST Proxy v2 beyond consumer instances: brokers, one
 * partition and its offsets, produce with the nulls Confluent accepts and
 * the v1 media types its older clients send, Accept honoured, and every
 * error under v2's paths (unknown paths included) in Confluent's
 * `{error_code, message}`. Confluent's own v1-era Node client (`kafka-rest`
 * from npm) runs unchanged against the gateway, through the recording
 * proxy, so each answer it got is checked against openapi.yaml.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { after, before, test } from 'node:test';
import request from 'supertest';
import type { RunningGateway } from '../src/gateway.js';
import { checkExchange, conforms } from './helpers/contract.js';
import { eventually, sharedBrokers, uniqueName } from './helpers/env.js';
import { gatewayFor } from './helpers/scoped.js';
import { consumeAll, createTopic, deleteTopics } from './helpers/kafka.js';
import { startRecordingProxy, type RecordingProxy } from './helpers/recording-proxy.js';

const brokers = sharedBrokers();
const V2 = 'application/vnd.kafka.v2+json';
const topics: string[] = [];
let gateway: RunningGateway;
let proxy: RecordingProxy;

before(async (t) => {
  gateway = await gatewayFor(t);
  proxy = await startRecordingProxy(gateway.url);
});
after(async () => {
  await proxy?.close();
  await deleteTopics(brokers, topics);
});

async function topicWith(partitions: number): Promise<string> {
  const topic = uniqueName('v2');
  topics.push(topic);
  await createTopic(brokers, topic, partitions);
  return topic;
}

const agent = () => request(gateway.url);
const produce = (path: string, type: string, body: unknown) => agent().post(path).set('content-type', type).send(JSON.stringify(body));

async function v2Error(res: request.Response | PromiseLike<request.Response>, status: number, errorCode: number): Promise<string> {
  const answer = await res;
  assert.equal(answer.status, status, answer.text);
  assert.equal(answer.headers['content-type'], `${V2}; charset=utf-8`);
  assert.deepEqual(Object.keys(answer.body as object).sort(), ['error_code', 'message']);
  assert.equal(answer.body.error_code, errorCode, answer.text);
  return answer.body.message as string;
}

test('GET /brokers, one partition, and a partition\'s offsets, as Confluent answers them', async () => {
  const topic = await topicWith(2);
  const cluster = await gateway.services.metadata.cluster();
  assert.deepEqual(conforms(await agent().get('/brokers').expect(200)).body, { brokers: cluster.brokers.map((b) => b.nodeId) });
  const partition = conforms(await agent().get(`/topics/${topic}/partitions/1`).expect(200));
  const leader = partition.body.leader as number;
  assert.deepEqual(partition.body, { partition: 1, leader, replicas: [{ broker: leader, leader: true, in_sync: true }] });
  conforms(await produce(`/topics/${topic}/partitions/1`, 'application/vnd.kafka.json.v2+json', { records: [{ value: 1 }, { value: 2 }, { value: 3 }] }).expect(200));
  assert.deepEqual(conforms(await agent().get(`/topics/${topic}/partitions/1/offsets`).expect(200)).body, { beginning_offset: 0, end_offset: 3 });
  assert.match(conforms(await agent().get(`/topics/${topic}/partitions/1/offsets`).expect(200)).text, /"end_offset":3\}/, 'offsets are JSON numbers');
  await v2Error(conforms(await agent().get(`/topics/${topic}/partitions/2`)), 404, 40402);
  await v2Error(conforms(await agent().get(`/topics/${topic}/partitions/9/offsets`)), 404, 40402);
  await v2Error(conforms(await agent().get(`/topics/${uniqueName('missing')}/partitions/0`)), 404, 40401);
});

test('v2 produce takes null wherever Confluent does', async () => {
  const topic = await topicWith(2);
  const res = conforms(
    await produce(`/topics/${topic}`, 'application/vnd.kafka.json.v2+json', {
      key_schema: null,
      key_schema_id: null,
      value_schema: null,
      value_schema_id: null,
      records: [{ key: null, value: { a: 1 }, partition: null }, { value: 'x', partition: 1 }],
    }),
  );
  assert.equal(res.status, 200, res.text);
  assert.equal(res.body.offsets[1].partition, 1);
  const binary = conforms(await produce(`/topics/${topic}/partitions/0`, 'application/vnd.kafka.binary.v2+json', { value_schema_id: null, records: [{ key: null, value: null, partition: null }] }));
  assert.equal(binary.status, 200, binary.text);
  assert.equal((await consumeAll(brokers, topic)).length, 3);
});

test('the v1 media types Confluent\'s older clients send work as their v2 forms', async () => {
  const topic = await topicWith(1);
  const base64 = (text: string) => Buffer.from(text).toString('base64');
  for (const type of ['application/vnd.kafka.v1+json', 'application/vnd.kafka.binary.v1+json', 'application/vnd.kafka.v2+json']) {
    const res = conforms(await produce(`/topics/${topic}`, type, { records: [{ key: base64('k'), value: base64(type) }] }));
    assert.equal(res.status, 200, `${type}: ${res.text}`);
  }
  conforms(await produce(`/topics/${topic}/partitions/0`, 'application/vnd.kafka.json.v1+json', { records: [{ value: { json: true } }] }).expect(200));
  const stored = await consumeAll(brokers, topic);
  assert.deepEqual(
    stored.map((r) => r.value?.toString()),
    ['application/vnd.kafka.v1+json', 'application/vnd.kafka.binary.v1+json', 'application/vnd.kafka.v2+json', '{"json":true}'],
  );
});

test('v2 honours Accept: 406 with Confluent\'s body for what it cannot answer with', async () => {
  await v2Error(conforms(await agent().get('/topics').set('accept', 'application/octet-stream')), 406, 40601);
  await v2Error(conforms(await agent().get('/brokers').set('accept', 'text/html')), 406, 40601);
  await v2Error(conforms(await agent().get('/topics').set('accept', `${V2};q=0, text/html`)), 406, 40601);
  for (const accept of [V2, 'application/vnd.kafka.v1+json, application/vnd.kafka+json; q=0.9, application/json; q=0.8', '*/*', 'application/*', 'text/html, */*;q=0.1', 'application/json']) {
    const res = conforms(await agent().get('/topics').set('accept', accept));
    assert.equal(res.status, 200, `${accept}: ${res.text}`);
    assert.equal(res.headers['content-type'], `${V2}; charset=utf-8`);
  }
  const topic = await topicWith(1);
  await v2Error(conforms(await produce(`/topics/${topic}`, 'application/vnd.kafka.json.v2+json', { records: [{ value: 1 }] }).set('accept', 'text/plain')), 406, 40601);
  assert.deepEqual(await consumeAll(brokers, topic), [], 'nothing is produced for a request whose answer cannot be sent');
});

test('every error under v2\'s paths is {error_code, message}, unknown paths and methods included', async () => {
  const topic = await topicWith(1);
  await v2Error(agent().get('/topics/x/nothing-here'), 404, 404);
  await v2Error(agent().get('/consumers'), 404, 404);
  await v2Error(agent().get('/brokers/1'), 404, 404);
  await v2Error(agent().get('/topics/%zz'), 400, 400);
  await v2Error(agent().delete(`/topics/${topic}`), 405, 405);
  await v2Error(agent().put('/consumers/g/instances/i/records'), 405, 405);
  await v2Error(conforms(await agent().get(`/topics/${topic}/partitions/x`)), 422, 422);
  await v2Error(conforms(await agent().get(`/topics/${uniqueName('missing')}`)), 404, 40401);
  // A record that breaks the topic's JSON Schema: 42206, with each failure in the message once.
  conforms(await agent().put(`/v1/topics/${topic}/schema`).send({ type: 'object', required: ['id'] }).expect(200));
  const message = await eventually(async () => {
    const res = conforms(await produce(`/topics/${topic}`, 'application/vnd.kafka.json.v2+json', { records: [{ value: { name: 'no id' } }] }));
    return res.status === 422 ? (res.body.message as string) : undefined;
  });
  assert.match(message, /\/records\/0\/value\/id is required/);
  assert.equal(message.split('is required').length, 2, `said once: ${message}`);
  // The v1 problem+json API is untouched.
  const v1 = await agent().get('/v1/nothing');
  assert.equal(v1.status, 404);
  assert.match(String(v1.headers['content-type']), /problem\+json/);
});

interface KafkaRestClient {
  brokers: { list(cb: (error: unknown, brokers: Array<{ id: number }>) => void): void };
  topics: {
    list(cb: (error: unknown, topics: Array<{ name: string }>) => void): void;
    topic(name: string): {
      get(cb: (error: unknown, topic: { raw: { name: string; partitions: unknown[] } }) => void): void;
      produce(...args: unknown[]): void;
      partition(id: number): { produce(...args: unknown[]): void };
    };
  };
}

test('Confluent\'s own Node client (kafka-rest, v1 media types) produces and reads metadata unchanged', async () => {
  // Made through the gateway, so its cached topic list already holds it.
  const topic = uniqueName('v2-kafka-rest');
  topics.push(topic);
  conforms(await agent().post('/v1/topics').send({ name: topic, partitions: 2 }).expect(201));
  // Published as CommonJS without types.
  const KafkaRest = createRequire(import.meta.url)('kafka-rest') as new (config: { url: string }) => KafkaRestClient;
  const client = new KafkaRest({ url: proxy.url });
  const call = <T>(run: (cb: (error: unknown, value: T) => void) => void) =>
    new Promise<T>((resolve, reject) => run((error, value) => (error ? reject(new Error(JSON.stringify(error))) : resolve(value))));

  const ids = await call<Array<{ id: number }>>((cb) => client.brokers.list(cb));
  assert.deepEqual(ids.map((b) => b.id), (await gateway.services.metadata.cluster()).brokers.map((b) => b.nodeId));
  const listed = await call<Array<{ name: string }>>((cb) => client.topics.list(cb));
  assert.ok(listed.some((t) => t.name === topic), `${topic} is listed`);
  const detail = await call<{ raw: { name: string; partitions: unknown[] } }>((cb) => client.topics.topic(topic).get(cb));
  assert.equal(detail.raw.partitions.length, 2);
  // Plain strings, sent base64 under application/vnd.kafka.v1+json, each record with "partition": null.
  const sent = await call<{ offsets: Array<{ error_code: number | null }> }>((cb) => client.topics.topic(topic).produce('first', { key: 'k', value: 'second' }, cb));
  assert.deepEqual(sent.offsets.map((o) => o.error_code), [null, null]);
  await call((cb) => client.topics.topic(topic).partition(1).produce('third', cb));
  const stored = await consumeAll(brokers, topic);
  assert.deepEqual(stored.map((r) => r.value?.toString()).sort(), ['first', 'second', 'third']);
  assert.equal(stored.find((r) => r.value?.toString() === 'third')?.partition, 1);

  const exchanges = proxy.take();
  assert.deepEqual(
    exchanges.map((e) => `${e.method} ${e.path}`),
    ['GET /brokers', 'GET /topics', `GET /topics/${topic}`, `POST /topics/${topic}`, `POST /topics/${topic}/partitions/1`],
  );
  for (const exchange of exchanges) checkExchange(exchange);
});
