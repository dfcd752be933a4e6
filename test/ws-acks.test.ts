/**
 * Every ack is answered: one the group cannot take gets an error frame
 * naming its subscription, partition and offset (409 when a rebalance took
 * the partition, never 500); with `receipts` every ack the group took gets
 * an `acked` frame; acks racing each other never commit less than the
 * highest one.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import type { Admin, Producer } from './helpers/kafka-client.js';
import { eventually, uniqueName } from './helpers/env.js';
import { adminFor, gatewayFor, producerFor } from './helpers/scoped.js';
import { WsClient, isOp, isRecord, type Frame } from './helpers/ws.js';

let admin: Admin;
let producer: Producer;
let wsUrl: string;

before(async (t) => {
  admin = await adminFor(t);
  producer = await producerFor(t);
  const gateway = await gatewayFor(t, { WS_SESSION_TIMEOUT_MS: '6000', WS_AUTO_COMMIT_INTERVAL_MS: '100' });
  wsUrl = `${gateway.url.replace(/^http/, 'ws')}/v1/ws`;
});

async function topicWith(partitions: number, perPartition: number): Promise<string> {
  const topic = uniqueName('acks');
  await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true });
  const messages = Array.from({ length: partitions * perPartition }, (_, i) => ({ value: `v${i}`, partition: i % partitions }));
  await producer.send({ topic, messages });
  return topic;
}

async function committed(group: string, topic: string): Promise<Map<number, string>> {
  const [offsets] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
  return new Map((offsets?.partitions ?? []).map((p) => [p.partition, p.offset]));
}

const held = (frame: Frame) => (frame.partitions as Array<{ partitions: number[] }>).flatMap((p) => p.partitions);

test('receipts: every manual ack the group took is answered with acked, and racing acks commit the highest offset', async () => {
  const topic = await topicWith(1, 20);
  const group = uniqueName('receipts');
  const ws = await WsClient.connect(wsUrl);
  ws.send({ op: 'subscribe', id: 's', topics: [topic], group, from: 'earliest', ack: 'manual', receipts: true });
  await ws.collect(isRecord('s'), 20);
  // Sent back to back, the high one first: the low one must not undo it.
  ws.send({ op: 'ack', id: 'a19', sub: 's', topic, partition: 0, offset: '19' });
  ws.send({ op: 'ack', id: 'a3', sub: 's', topic, partition: 0, offset: '3' });
  const high = await ws.next(isOp('acked', 'a19'));
  const low = await ws.next(isOp('acked', 'a3'));
  assert.deepEqual(high, { op: 'acked', id: 'a19', sub: 's', topic, partition: 0, offset: '19' });
  assert.equal(low.offset, '3');
  assert.equal((await committed(group, topic)).get(0), '20');
  assert.equal(ws.frames.filter((f) => f.op === 'error').length, 0);
  await ws.close();
});

test('receipts: auto mode says which offsets each commit took', async () => {
  const topic = await topicWith(2, 5);
  const group = uniqueName('receipts-auto');
  const ws = await WsClient.connect(wsUrl);
  ws.send({ op: 'subscribe', id: 's', topics: [topic], group, from: 'earliest', receipts: true });
  await ws.collect(isRecord('s'), 10);
  await ws.next((f) => f.op === 'acked' && f.partition === 0 && f.offset === '4');
  await ws.next((f) => f.op === 'acked' && f.partition === 1 && f.offset === '4');
  const offsets = await committed(group, topic);
  assert.deepEqual([offsets.get(0), offsets.get(1)], ['5', '5']);
  await ws.close();
});

test('receipts without a group is refused: nothing would ever be committed', async () => {
  const topic = await topicWith(1, 1);
  const ws = await WsClient.connect(wsUrl);
  ws.send({ op: 'subscribe', id: 's', topics: [topic], receipts: true });
  const error = await ws.next(isOp('error', 's'));
  assert.equal(error.status, 400);
  assert.match(String(error.detail), /receipts needs a group/);
  await ws.close();
});

test('an ack of a partition a rebalance took is a 409 naming the subscription, partition and offset; nothing is committed', async () => {
  const topic = await topicWith(2, 5);
  const group = uniqueName('revoked');
  const first = await WsClient.connect(wsUrl);
  first.send({ op: 'subscribe', id: 'one', topics: [topic], group, from: 'earliest', ack: 'manual', receipts: true });
  await first.next(isOp('subscribed', 'one'));
  await first.collect(isRecord('one'), 10);
  const second = await WsClient.connect(wsUrl);
  second.send({ op: 'subscribe', id: 'two', topics: [topic], group, from: 'earliest', ack: 'manual' });
  await second.next(isOp('subscribed', 'two'));
  const shrunk = await first.next((f) => f.op === 'assigned' && held(f).length === 1);
  const lost = [0, 1].find((p) => !held(shrunk).includes(p))!;
  first.send({ op: 'ack', id: 'late', sub: 'one', topic, partition: lost, offset: '4' });
  const error = await first.next(isOp('error', 'late'));
  assert.equal(error.status, 409);
  assert.equal(error.code, 'GW_ERR_CONFLICT');
  assert.deepEqual([error.sub, error.topic, error.partition, error.offset], ['one', topic, lost, '4']);
  assert.equal(first.frames.some((f) => f.op === 'acked' && f.id === 'late'), false);
  assert.equal((await committed(group, topic)).get(lost) ?? '-1', '-1');
  // The member that holds it now gets its records from the group's last commit.
  await eventually(async () => second.frames.filter((f) => isRecord('two')(f) && f.partition === lost).length >= 5);
  await Promise.all([first.close(), second.close()]);
});

test('an ack without an id that fails still names what it was about', async () => {
  const topic = await topicWith(1, 2);
  const group = uniqueName('unnamed');
  const ws = await WsClient.connect(wsUrl);
  ws.send({ op: 'subscribe', id: 's', topics: [topic], group, from: 'earliest', ack: 'manual' });
  await ws.collect(isRecord('s'), 2);
  ws.send({ op: 'ack', sub: 's', topic, partition: 0, offset: '7' });
  const error = await ws.next(isOp('error'));
  assert.equal(error.status, 400);
  assert.deepEqual([error.sub, error.topic, error.partition, error.offset], ['s', topic, 0, '7']);
  await ws.close();
});
