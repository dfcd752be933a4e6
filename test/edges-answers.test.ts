/**
 * Answers that must say what happened: a fault of Kafka is a 503 on every
 * transport (never a 500), an error Kafka answered is named, the broker's
 * own reason reaches `detail`, repeated header names can be read wherever
 * records are read, and an error frame about a subscription names it.
 * Faults are injected by wrapping one method to fail, on a real gateway
 * with a real broker.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { ResponseError } from '@platformatic/kafka';
import request from 'supertest';
import type { RunningGateway } from '../src/gateway.js';
import type { Subscription } from '../src/kafka/index.js';
import { conforms } from './helpers/contract.js';
import { uniqueName } from './helpers/env.js';
import { gatewayFor, producerFor } from './helpers/scoped.js';
import { SseClient } from './helpers/sse.js';
import { WsClient, isOp } from './helpers/ws.js';

let gw: RunningGateway;
const topic = uniqueName('answers');

before(async (t) => {
  gw = await gatewayFor(t);
  conforms(await request(gw.server).post('/v1/topics').send({ name: topic, partitions: 1 }).expect(201));
});

/** The next subscription the engine creates fails to start as a broker shutting down makes it fail: no leader for its partition. */
function failNextStart(): void {
  const engine = gw.services.subscriptions;
  const create = engine.create.bind(engine);
  engine.create = (options, events) => {
    engine.create = create;
    const subscription: Subscription = create(options, events);
    subscription.start = async () => {
      await subscription.stop();
      throw Object.assign(new Error(`no leader for ${topic}/0`), { canRetry: true });
    };
    return subscription;
  };
}

test('a Kafka fault while a stream or subscription starts is a 503 with Retry-After, never a 500', async () => {
  failNextStart();
  const stream = await SseClient.open(`${gw.url}/v1/topics/${topic}/events`);
  await stream.waitEnded();
  assert.equal(stream.status, 503, stream.text);
  assert.ok(Number(stream.headers['retry-after']) > 0);
  stream.conforms();

  const ws = await WsClient.connect(`${gw.url.replace('http', 'ws')}/v1/ws`);
  try {
    failNextStart();
    ws.send({ op: 'subscribe', id: 's1', topics: [topic] });
    const error = await ws.next(isOp('error', 's1'));
    assert.equal(error.status, 503, JSON.stringify(error));
    assert.equal(error.code, 'GW_ERR_KAFKA_UNAVAILABLE');
  } finally {
    await ws.close();
  }
});

test('a partition error Kafka answered to ListOffsets is named in the 503, not called unreachable', async () => {
  const { metadata } = gw.services;
  const call = metadata.call.bind(metadata);
  metadata.call = (what, work, context) => {
    if (!what.startsWith('offsets by time')) return call(what, work, context);
    metadata.call = call;
    // What the client rejects with when ListOffsets answers a partition error (78: OFFSET_NOT_AVAILABLE).
    return call(what, () => Promise.reject(new ResponseError(2, 8, { '/topics/0/partitions/0': [78, null] }, {})), context);
  };
  const res = conforms(await request(gw.server).get(`/v1/topics/${topic}/offsets?timestamp=0`).expect(503));
  assert.equal(res.body.kafkaError, 'OFFSET_NOT_AVAILABLE');
  assert.match(res.body.detail, /Kafka answered OFFSET_NOT_AVAILABLE/);
  assert.doesNotMatch(res.body.detail, /not reachable/);
});

test("the broker's own reason is in the detail of a refused topic change", async () => {
  const config = conforms(await request(gw.server).patch(`/v1/topics/${topic}/configs`).send({ 'foo.bar': '1' }).expect(400));
  assert.match(config.body.detail, /Unknown topic config name: foo\.bar/);
  const partitions = conforms(await request(gw.server).post(`/v1/topics/${topic}/partitions`).send({ partitions: 100_000 }).expect(400));
  assert.match(partitions.body.detail, /Excessively large number of additional partitions/);
});

test('repeated header names can be read in full on event streams and partition pages (headers=list)', async (t) => {
  const headersTopic = uniqueName('answers-headers');
  conforms(await request(gw.server).post('/v1/topics').send({ name: headersTopic, partitions: 1 }).expect(201));
  const producer = await producerFor(t);
  // Two Buffer keys with the same bytes: the one way to write a name twice through a Map.
  await producer.client.send({
    messages: [{ topic: headersTopic, partition: 0, value: Buffer.from('v'), headers: new Map([[Buffer.from('h'), Buffer.from('1')], [Buffer.from('h'), Buffer.from('2')]]) }],
  });
  const list = [
    { key: 'h', value: '1', encoding: 'text' },
    { key: 'h', value: '2', encoding: 'text' },
  ];
  const page = conforms(await request(gw.server).get(`/v1/topics/${headersTopic}/partitions/0/records?headers=list`).expect(200));
  assert.deepEqual(page.body.records[0].headers, list);
  const objectPage = conforms(await request(gw.server).get(`/v1/topics/${headersTopic}/partitions/0/records`).expect(200));
  assert.deepEqual(objectPage.body.records[0].headers, { h: '2' });
  assert.match(objectPage.body.records[0].note, /headers=list/);

  const stream = await SseClient.open(`${gw.url}/v1/topics/${headersTopic}/events?from=earliest&headers=list`);
  try {
    const [record] = await stream.waitRecords(1);
    assert.deepEqual(record!.headers, list);
  } finally {
    stream.drop();
  }
});

test('an ack on an ack: "auto" subscription gets an error frame naming the subscription', async () => {
  const ws = await WsClient.connect(`${gw.url.replace('http', 'ws')}/v1/ws`);
  try {
    ws.send({ op: 'subscribe', id: 'auto1', topics: [topic], group: uniqueName('answers-group') });
    await ws.next(isOp('subscribed', 'auto1'));
    ws.send({ op: 'ack', sub: 'auto1', topic, partition: 0, offset: '0' });
    const error = await ws.next((f) => f.op === 'error');
    assert.equal(error.sub, 'auto1');
    assert.equal(error.status, 400);
  } finally {
    await ws.close();
  }
});
