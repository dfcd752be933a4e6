/**
 * Produce while the broker is away: bounded 503s with Retry-After, a bound
 * on the bytes held, and no acknowledged record lost or duplicated across a
 * broker stop and restart.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import request from 'supertest';
import { startBroker, type Broker } from '../kafka/broker.js';
import { conforms } from './helpers/contract.js';
import { eventually, uniqueName } from './helpers/env.js';
import { testGateway, type TestGateway } from './helpers/gateway.js';
import { consumeAll, createTopic } from './helpers/kafka.js';

let broker: Broker;
let gw: TestGateway;
before(async () => {
  broker = await startBroker();
  gw = await testGateway({ PRODUCE_TIMEOUT_MS: '2000', METADATA_CACHE_TTL_MS: '500' }, broker.brokers);
});
after(async () => {
  await gw?.close();
  await broker?.stop();
});

const post = (topic: string, records: unknown[]) => request(gw.app).post(`/v1/topics/${topic}/records`).send({ records });

test('no acknowledged record is lost or duplicated when the broker stops and restarts; while it is down, requests fail with 503 and Retry-After', async () => {
  const topic = uniqueName('outage');
  await createTopic(broker.brokers, topic, 3);
  const acked: { id: string; partition: number; offset: string }[] = [];
  const failures: number[] = [];
  let stop = false;
  let sequence = 0;
  const worker = async (w: number) => {
    while (!stop) {
      const ids = [`${w}-${sequence++}`, `${w}-${sequence++}`];
      const res = await post(topic, ids.map((id) => ({ key: id, value: { id } })));
      conforms(res);
      if (res.status === 200) {
        ids.forEach((id, i) => acked.push({ id, ...res.body.offsets[i] }));
      } else {
        assert.ok([503, 429].includes(res.status), res.text);
        assert.ok(Number(res.headers['retry-after']) >= 1, 'a retriable failure says when to retry');
        failures.push(res.status);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  };
  const workers = Array.from({ length: 4 }, (_, w) => worker(w));
  try {
    await eventually(async () => acked.length >= 40, 60_000, 50);
    await broker.halt();
    await eventually(async () => failures.length >= 2, 60_000, 100);
    const beforeRestart = acked.length;
    await broker.restart();
    await eventually(async () => acked.length >= beforeRestart + 40, 120_000, 100);
  } finally {
    stop = true;
    await Promise.all(workers);
  }

  const stored = await consumeAll(broker.brokers, topic);
  const byId = new Map<string, { partition: number; offset: string }[]>();
  for (const r of stored) {
    const { id } = JSON.parse(r.value!.toString()) as { id: string };
    byId.set(id, [...(byId.get(id) ?? []), { partition: r.partition, offset: r.offset }]);
  }
  for (const a of acked) {
    const copies = byId.get(a.id) ?? [];
    assert.equal(copies.length, 1, `record ${a.id} was acknowledged and is stored ${copies.length} times`);
    assert.deepEqual(copies[0], { partition: a.partition, offset: a.offset }, `record ${a.id} is where its answer said`);
  }
});

test('too many bytes in flight: a request is refused at once with 503 and Retry-After', async () => {
  // A long linger holds the first request's bytes, so the second finds the bound reached.
  const lingering = await testGateway({ PRODUCE_LINGER_MS: '1000', PRODUCE_MAX_IN_FLIGHT: '4kb' }, broker.brokers);
  try {
    const topic = uniqueName('inflight');
    await createTopic(broker.brokers, topic, 1);
    const first = request(lingering.app).post(`/v1/topics/${topic}/records`).send({ records: [{ value: 'x'.repeat(3000) }] });
    const firstDone = first.then((res) => res);
    await eventually(async () => lingering.services.produce.inFlightBytes > 0, 10_000, 10);
    const shed = conforms(await request(lingering.app).post(`/v1/topics/${topic}/records`).send({ records: [{ value: 'y'.repeat(2000) }] }));
    assert.equal(shed.status, 503, shed.text);
    assert.equal(shed.body.code, 'GW_ERR_OVERLOADED');
    assert.equal(shed.headers['retry-after'], '1');
    conforms(await firstDone);
    assert.equal((await firstDone).status, 200);
    assert.equal((await consumeAll(broker.brokers, topic)).length, 1);
  } finally {
    await lingering.close();
  }
});

test('the broker down: a request fails within PRODUCE_TIMEOUT_MS with 503 and Retry-After', async () => {
  const topic = uniqueName('down');
  await createTopic(broker.brokers, topic, 1);
  // Warm the metadata cache; a new topic may need a moment before it takes writes.
  await eventually(async () => conforms(await post(topic, [{ value: 'warm' }])).status === 200, 30_000, 200);
  await broker.halt();
  try {
    for (const records of [[{ value: 'while down' }], [{ key: 'k', value: 'again' }]]) {
      const res = conforms(await post(topic, records));
      assert.equal(res.status, 503, res.text);
      assert.equal(res.body.code, 'GW_ERR_KAFKA_UNAVAILABLE');
      assert.equal(res.headers['retry-after'], '1');
    }
    const unknown = conforms(await post(uniqueName('never-seen'), [{ value: 1 }]));
    assert.equal(unknown.status, 503, 'an unknown topic cannot be told from a missing one while Kafka is away');
    await request(gw.app).get('/healthz').expect(200);
  } finally {
    await broker.restart();
  }
  await eventually(async () => (await post(topic, [{ value: 'back' }])).status === 200, 120_000, 500);
});
