/**
 * A share group through a broker restart: workers on WebSocket accept
 * records while the broker stops and starts again under them. No record
 * is lost, and none is accepted twice: answers that could not reach Kafka
 * fail with an error frame, and their records come back to be accepted.
 * Runs on a broker of its own, which it restarts.
 */
import { after, before, test } from 'node:test';
import { startBroker, type Broker } from '../kafka/broker.js';
import type { RunningGateway } from '../src/gateway.js';
import type { Admin, Producer } from './helpers/kafka-client.js';
import { uniqueName } from './helpers/env.js';
import { adminFor, gatewayFor, producerFor } from './helpers/scoped.js';
import { acceptingWorkers } from './helpers/accepting-workers.js';

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

  const workers = await acceptingWorkers(gateway.url, topic, group, { credit: 3, answerAfterMs: 20 });
  await workers.until(40, values.length, 'working');
  await broker.halt();
  await broker.restart();
  await workers.until(values.length, values.length, 'after the restart');
  t.diagnostic(workers.seen(values.length));
  await workers.assertEachOnce(values);
  await workers.close();
});
