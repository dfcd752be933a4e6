/**
 * The broker stopped and restarted under live subscriptions: they resume
 * on their own and deliver every record with no gap, whether their group
 * is durable or ephemeral, from earliest or from latest, and also when
 * kafkajs gives up on a consumer (a new one takes over).
 */
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { after, before, test } from 'node:test';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { startBroker, type Broker } from '../kafka/broker.js';
import { startGateway, type RunningGateway } from '../src/gateway.js';
import { createLogger } from '../src/logger.js';
import { eventually, testConfig, uniqueName } from './helpers/env.js';
import { WsClient, isOp, isRecord } from './helpers/ws.js';

let broker: Broker;
let gateway: RunningGateway;
let producer: Producer;
const topic = uniqueName('outage');
// The gateway's warnings and errors, kept to explain a failure.
const logLines: string[] = [];
const logStream = new PassThrough();
logStream.on('data', (chunk: Buffer) => logLines.push(...chunk.toString().split('\n').filter(Boolean)));

before(async () => {
  broker = await startBroker();
  const kafka = new Kafka({ brokers: [broker.brokers], logLevel: logLevel.NOTHING, retry: { retries: 20, maxRetryTime: 2000 } });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true });
  await admin.disconnect();
  producer = kafka.producer();
  await producer.connect();
  gateway = await startGateway(testConfig({ WS_SESSION_TIMEOUT_MS: '6000', WS_AUTO_COMMIT_INTERVAL_MS: '100' }, broker.brokers), createLogger('warn', logStream));
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
  // From latest with no group: nothing committed to resume from, so it must continue where its delivery stopped.
  const latest = await WsClient.connect(`${url}/v1/ws`);
  latest.send({ op: 'subscribe', id: 'l', topics: [topic] });
  await latest.next(isOp('subscribed', 'l'));

  await producer.send({ topic, messages: Array.from({ length: 10 }, (_, i) => ({ key: String(i), value: String(i) })) });
  await durable.collect(isRecord('d'), 10);

  await broker.halt();
  await new Promise((r) => setTimeout(r, 2000));
  await broker.restart();
  await producer.send({ topic, messages: Array.from({ length: 10 }, (_, i) => ({ key: String(i), value: String(10 + i) })) });

  for (const [client, sub] of [
    [durable, 'd'],
    [ephemeral, 'e'],
    [latest, 'l'],
  ] as const) {
    await eventually(async () => values(client.frames.filter(isRecord(sub))).size >= 20, 90_000).catch(() => undefined);
    const seen = values(client.frames.filter(isRecord(sub)));
    const explanation = [
      `${sub} missed records. Frames other than records:`,
      ...client.frames.filter((f) => f.op !== 'record').map((f) => JSON.stringify(f)),
      'Gateway log (warn and above):',
      ...logLines.slice(-40),
    ].join('\n');
    assert.deepEqual([...seen].sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i), explanation);
  }
  await Promise.all([durable.close(), ephemeral.close(), latest.close()]);
});
