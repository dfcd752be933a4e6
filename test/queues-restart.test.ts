/**
 * A share group through a broker restart: workers on WebSocket accept
 * records while the broker stops and starts again under them. No record
 * is lost, and none is accepted twice: answers that could not reach Kafka
 * fail with an error frame, and their records come back to be accepted.
 * Runs on a broker of its own, which it restarts.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startBroker, type Broker } from '../kafka/broker.js';
import type { RunningGateway } from '../src/gateway.js';
import type { Admin, Producer } from './helpers/kafka-client.js';
import { eventually, uniqueName } from './helpers/env.js';
import { adminFor, gatewayFor, producerFor } from './helpers/scoped.js';
import { WsClient, isOp, type Frame } from './helpers/ws.js';

let broker: Broker;
let admin: Admin;
let producer: Producer;
let gateway: RunningGateway;

before(
  async (t) => {
    broker = await startBroker();
    admin = await adminFor(t, broker.brokers);
    producer = await producerFor(t, broker.brokers);
    gateway = await gatewayFor(t, { WS_SESSION_TIMEOUT_MS: '6000' }, { brokers: broker.brokers });
  },
  { timeout: 120_000 },
);

after(async () => {
  await broker?.stop();
});

test('every record is accepted exactly once and none is lost, through a broker restart', { timeout: 180_000 }, async (t) => {
  const topic = uniqueName('restart-queue');
  const group = uniqueName('restart-workers');
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
  await admin.client.incrementalAlterConfigs({
    resources: [
      {
        resourceType: 32,
        resourceName: group,
        configs: [
          { name: 'share.auto.offset.reset', configOperation: 0, value: 'earliest' },
          { name: 'share.record.lock.duration.ms', configOperation: 0, value: '3000' },
        ],
      },
    ],
  });
  const values = Array.from({ length: 150 }, (_, i) => `r${i}`);
  await producer.send({ topic, messages: values.map((value) => ({ value })) });

  // Accepts Kafka confirmed, by value; a failed answer is not counted (its record comes back).
  const confirmed = new Map<string, number>();
  const pending = new Map<string, string>();
  let answers = 0;
  let delivered = 0;
  const errors = new Map<string, number>();
  const url = `${gateway.url.replace(/^http/, 'ws')}/v1/ws`;
  const workers: WsClient[] = [];
  const startWorker = async () => {
    const ws = await WsClient.connect(url);
    ws.socket.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as Frame;
      if (frame.op === 'record') {
        delivered += 1;
        const id = `a${answers++}`;
        pending.set(id, String(frame.value));
        setTimeout(() => {
          ws.send({ op: 'answer', id, sub: 'w', topic: frame.topic, partition: frame.partition, offset: frame.offset, outcome: 'accept' });
          ws.send({ op: 'credit', sub: 'w', n: 1 });
        }, 20);
      } else if (frame.op === 'answered') {
        const value = pending.get(String(frame.id))!;
        confirmed.set(value, (confirmed.get(value) ?? 0) + 1);
      } else if (frame.op === 'error') {
        // An answer's error: not accepted, the record is delivered again once Kafka is back.
        const key = `${String(frame.code)}: ${String(frame.detail)}`;
        errors.set(key, (errors.get(key) ?? 0) + 1);
      }
    });
    ws.send({ op: 'subscribe', id: 'w', topics: [topic], shareGroup: group, credit: 3 });
    await ws.next(isOp('subscribed', 'w'), 60_000);
    workers.push(ws);
  };
  await Promise.all([startWorker(), startWorker(), startWorker()]);

  await eventually(async () => confirmed.size >= 40, 60_000);
  await broker.halt();
  await broker.restart();
  const seen = () => `${confirmed.size} of ${values.length} confirmed, ${delivered} deliveries, ${answers} answers sent; errors: ${JSON.stringify([...errors])}`;
  await eventually(async () => confirmed.size >= values.length, 120_000, 500).catch((error: unknown) => {
    throw new Error(`${String(error)}; ${seen()}`);
  });
  t.diagnostic(seen());
  await new Promise((r) => setTimeout(r, 2000)); // a second accept of anything would arrive by now
  assert.deepEqual([...confirmed.keys()].sort(), [...values].sort(), 'none lost');
  const twice = [...confirmed].filter(([, n]) => n > 1);
  assert.deepEqual(twice, [], 'none accepted twice');
  await Promise.all(workers.map((ws) => ws.close()));
});
