/**
 * Key filters on WebSocket subscriptions: only records whose key is one of
 * the given keys reach the client, as UTF-8 text or base64 bytes, on both
 * endpoints; a durable group still commits past what was filtered out.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import type { Admin, Producer } from './helpers/kafka-client.js';
import type { RunningGateway } from '../src/gateway.js';
import { eventually, uniqueName } from './helpers/env.js';
import { adminFor, gatewayFor, producerFor } from './helpers/scoped.js';
import { WsClient, isOp, isRecord } from './helpers/ws.js';

let gateway: RunningGateway;
let wsUrl: string;
let admin: Admin;
let producer: Producer;

before(async (t) => {
  gateway = await gatewayFor(t, { WS_AUTO_COMMIT_INTERVAL_MS: '100' });
  wsUrl = gateway.url.replace(/^http/, 'ws');
  admin = await adminFor(t);
  producer = await producerFor(t);
});

async function keyedTopic(): Promise<string> {
  const topic = uniqueName('filters');
  await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true });
  await producer.send({
    topic,
    messages: [
      { key: 'a', value: '1', partition: 0 },
      { key: 'b', value: '2', partition: 0 },
      { key: Buffer.from([0xff, 0x00]), value: '3', partition: 1 },
      { key: null, value: '4', partition: 1 },
      { key: 'c', value: '5', partition: 1 },
      { key: 'ab', value: '6', partition: 0 },
      { key: 'a', value: '7', partition: 1 },
    ],
  });
  return topic;
}

const values = (client: WsClient, sub: string) => client.frames.filter(isRecord(sub)).map((f) => f.value).sort();

test('keys: only records with one of the keys, compared as exact bytes; other subscriptions on the connection see everything', async () => {
  const topic = await keyedTopic();
  const client = await WsClient.connect(`${wsUrl}/v1/ws`);
  client.send({ op: 'subscribe', id: 'ac', topics: [topic], from: 'earliest', keys: ['a', 'c'] });
  client.send({ op: 'subscribe', id: 'bin', topics: [topic], from: 'earliest', keys: [Buffer.from([0xff, 0x00]).toString('base64')], keyFormat: 'base64' });
  client.send({ op: 'subscribe', id: 'all', topics: [topic], from: 'earliest' });
  await client.collect(isRecord('all'), 7);
  await client.collect(isRecord('ac'), 3);
  await client.collect(isRecord('bin'), 1);
  await producer.send({ topic, messages: [{ key: 'c', value: '8' }] });
  await client.collect(isRecord('all'), 8);
  await client.collect(isRecord('ac'), 4);
  assert.deepEqual(values(client, 'ac'), [1, 5, 7, 8]);
  assert.deepEqual(values(client, 'bin'), [3]);
  await client.close();
});

test('a filter that matches nothing sends nothing; bad keys get error frames', async () => {
  const topic = await keyedTopic();
  const client = await WsClient.connect(`${wsUrl}/v1/ws`);
  client.send({ op: 'subscribe', id: 'none', topics: [topic], from: 'earliest', keys: ['zzz'] });
  client.send({ op: 'subscribe', id: 'probe', topics: [topic], from: 'earliest' });
  await client.collect(isRecord('probe'), 7);
  assert.equal(client.frames.filter(isRecord('none')).length, 0);
  client.send({ op: 'subscribe', id: 'bad64', topics: [topic], keys: ['not base64!'], keyFormat: 'base64' });
  const bad = await client.next(isOp('error', 'bad64'));
  assert.equal(bad.status, 400);
  assert.match(JSON.stringify(bad.errors), /\/keys\/0/);
  client.send({ op: 'subscribe', id: 'empty', topics: [topic], keys: [] });
  assert.equal((await client.next(isOp('error', 'empty'))).status, 400);
  client.send({ op: 'subscribe', id: 'many', topics: [topic], keys: Array.from({ length: 1001 }, (_, i) => String(i)) });
  assert.equal((await client.next(isOp('error', 'many'))).status, 400);
  await client.close();
});

test('a durable group with a filter commits past the records it left out', async () => {
  const topic = await keyedTopic();
  const group = uniqueName('filtered-group');
  const client = await WsClient.connect(`${wsUrl}/v1/ws`);
  client.send({ op: 'subscribe', id: 'g', topics: [topic], group, from: 'earliest', keys: ['b'] });
  await client.next(isOp('subscribed', 'g'));
  await client.collect(isRecord('g'), 1);
  // Partition 1 holds no "b" at all, and partition 0 ends with records after it: the group has read both to the end.
  await eventually(async () => {
    const [committed] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    const byPartition = Object.fromEntries((committed?.partitions ?? []).map((p) => [p.partition, p.offset]));
    return byPartition[0] === '3' && byPartition[1] === '4';
  });
  await client.close();
});

test('the single-topic endpoint filters with repeated key parameters', async () => {
  const topic = await keyedTopic();
  const client = await WsClient.connect(`${wsUrl}/v1/topics/${topic}/ws?from=earliest&key=a&key=ab`);
  await client.collect(() => true, 3);
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(client.frames.map((f) => f.value).sort(), [1, 6, 7]);
  await client.close();
  await assert.rejects(WsClient.connect(`${wsUrl}/v1/topics/${topic}/ws?key=%25%25&keyFormat=base64`), (e: { status: number }) => e.status === 400);
});
