/**
 * The broker stopped and restarted under live subscriptions: they resume
 * on their own, and a durable group delivers every record with no gap
 * (duplicates only of what was not acknowledged).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { startBroker, type Broker } from '../kafka/broker.js';
import { startGateway, type RunningGateway } from '../src/gateway.js';
import { eventually, quietLogger, testConfig, uniqueName } from './helpers/env.js';
import { WsClient, isOp, isRecord } from './helpers/ws.js';

let broker: Broker;
let gateway: RunningGateway;
let producer: Producer;
const topic = uniqueName('outage');

before(async () => {
  broker = await startBroker();
  const kafka = new Kafka({ brokers: [broker.brokers], logLevel: logLevel.NOTHING, retry: { retries: 20, maxRetryTime: 2000 } });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true });
  await admin.disconnect();
  producer = kafka.producer();
  await producer.connect();
  gateway = await startGateway(testConfig({ WS_SESSION_TIMEOUT_MS: '6000', WS_AUTO_COMMIT_INTERVAL_MS: '100' }, broker.brokers), quietLogger());
});
after(async () => {
  await gateway?.stop();
  await producer?.disconnect().catch(() => undefined);
  await broker?.stop();
});

const values = (frames: Array<Record<string, unknown>>) => new Set(frames.map((f) => Number(f.value)));

test('subscriptions resume after a broker restart and miss nothing', async () => {
  const url = gateway.url.replace(/^http/, 'ws');
  const durable = await WsClient.connect(`${url}/v1/ws`);
  durable.send({ op: 'subscribe', id: 'd', topics: [topic], group: uniqueName('outage-group'), from: 'earliest' });
  await durable.next(isOp('subscribed', 'd'));
  const ephemeral = await WsClient.connect(`${url}/v1/ws`);
  ephemeral.send({ op: 'subscribe', id: 'e', topics: [topic], from: 'earliest' });
  await ephemeral.next(isOp('subscribed', 'e'));

  await producer.send({ topic, messages: Array.from({ length: 10 }, (_, i) => ({ key: String(i), value: String(i) })) });
  await durable.collect(isRecord('d'), 10);

  await broker.halt();
  await new Promise((r) => setTimeout(r, 2000));
  await broker.restart();
  await producer.send({ topic, messages: Array.from({ length: 10 }, (_, i) => ({ key: String(i), value: String(10 + i) })) });

  for (const [client, sub] of [
    [durable, 'd'],
    [ephemeral, 'e'],
  ] as const) {
    await eventually(async () => values(client.frames.filter(isRecord(sub))).size >= 20, 90_000).catch(() => undefined);
    const seen = values(client.frames.filter(isRecord(sub)));
    assert.deepEqual([...seen].sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i), `${sub} missed records`);
  }
  await durable.close();
  await ephemeral.close();
});
