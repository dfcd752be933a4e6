/**
 * The development broker itself: it starts from the Maven jars, serves the
 * requests the gateway relies on (kafkajs 2.2.4 against Kafka 4.x:
 * produce, fetch, consumer group join and commit, admin), survives a
 * halt and restart on the same port, and leaves no java process behind.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, test } from 'node:test';
import { Kafka, logLevel } from './helpers/kafka-client.js';
import { startBroker, type Broker } from '../kafka/broker.js';

let broker: Broker;
before(async () => {
  broker = await startBroker();
});
after(async () => {
  await broker?.stop();
});

function javaProcessesFor(dataDir: string): string[] {
  try {
    return execFileSync('pgrep', ['-f', dataDir], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

test('the Kafka client can produce, fetch, join a group, commit and administer on this broker', async () => {
  const kafka = new Kafka({ brokers: [broker.brokers], clientId: 'harness-test', logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'harness', numPartitions: 2 }], waitForLeaders: true });
  const producer = kafka.producer();
  await producer.connect();
  const [ack] = await producer.send({ topic: 'harness', acks: -1, messages: [{ key: 'k', value: 'v', partition: 1 }] });
  assert.equal(ack?.partition, 1);
  assert.equal(ack?.baseOffset, '0');

  const consumer = kafka.consumer({ groupId: 'harness-group' });
  await consumer.connect();
  await consumer.subscribe({ topic: 'harness', fromBeginning: true });
  const received = await new Promise<string>((res) => {
    void consumer.run({ eachMessage: async ({ message }) => res(String(message.value)) });
  });
  assert.equal(received, 'v');
  await consumer.disconnect();

  const [committed] = await admin.fetchOffsets({ groupId: 'harness-group', topics: ['harness'] });
  assert.equal(committed?.partitions.find((p) => p.partition === 1)?.offset, '1');
  const offsets = await admin.fetchTopicOffsets('harness');
  assert.equal(offsets.find((p) => p.partition === 1)?.high, '1');
  await admin.deleteGroups(['harness-group']);
  await producer.disconnect();
  await admin.disconnect();
});

test('halt and restart keep the port and the data', async () => {
  const kafka = new Kafka({ brokers: [broker.brokers], clientId: 'harness-test', logLevel: logLevel.NOTHING, retry: { retries: 0 } });
  await broker.halt();
  assert.deepEqual(javaProcessesFor(broker.dataDir), [], 'java still running after halt');
  const admin = kafka.admin();
  await assert.rejects(admin.connect());
  await broker.restart();
  await admin.connect();
  assert.ok((await admin.listTopics()).includes('harness'));
  await admin.disconnect();
});

test('stop leaves no java process and no data', async () => {
  const extra = await startBroker();
  assert.ok(javaProcessesFor(extra.dataDir).length > 0, 'the broker should be running');
  await extra.stop();
  assert.deepEqual(javaProcessesFor(extra.dataDir), []);
});
