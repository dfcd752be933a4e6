/**
 * Records written by the Java client with snappy, lz4 and zstd (as other
 * teams' producers write them) reach WebSocket subscribers, decoded.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { before, test } from 'node:test';
import { Kafka, logLevel } from './helpers/kafka-client.js';
import { ensureKafkaJars } from '../kafka/broker.js';
import type { RunningGateway } from '../src/gateway.js';
import { sharedBrokers, uniqueName } from './helpers/env.js';
import { gatewayFor } from './helpers/scoped.js';
import { WsClient, isOp, isRecord } from './helpers/ws.js';

let gateway: RunningGateway;
before(async (t) => {
  gateway = await gatewayFor(t);
});

for (const compression of ['snappy', 'lz4', 'zstd', 'gzip']) {
  test(`${compression} batches from the Java producer are delivered`, async () => {
    const topic = uniqueName(`compressed-${compression}`);
    const kafka = new Kafka({ brokers: [sharedBrokers()], logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    await admin.disconnect();
    const client = await WsClient.connect(`${gateway.url.replace(/^http/, 'ws')}/v1/ws`);
    client.send({ op: 'subscribe', id: 'c', topics: [topic], from: 'earliest' });
    await client.next(isOp('subscribed', 'c'));
    execFileSync('java', ['-cp', `${ensureKafkaJars()}/*`, 'test/fixtures/JavaProducer.java', sharedBrokers(), topic, compression, '20'], {
      stdio: 'pipe',
    });
    const records = await client.collect(isRecord('c'), 20);
    assert.deepEqual(
      records.map((r) => r.value),
      Array.from({ length: 20 }, (_, i) => ({ i })),
    );
    assert.equal(records[3]!.key, 'key-3');
    await client.close();
  });
}
