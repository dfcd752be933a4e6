/**
 * The subscription engine holding partitions given by hand (no group
 * membership, as a Kafka consumer after assign()) and moving positions
 * (seek to an offset, the beginning, the end), on a real broker. These are
 * what Confluent v2 consumer instances are built on.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { ConsumedRecord, PartitionHandle, Subscription, SubscriptionOptions } from '../src/kafka/index.js';
import { eventually, sharedBrokers, uniqueName } from './helpers/env.js';
import { appFor } from './helpers/scoped.js';
import type { TestGateway } from './helpers/gateway.js';
import { committedOffsets, createTopic, deleteTopics, produceDirect } from './helpers/kafka.js';

const brokers = sharedBrokers();
const topic = uniqueName('positions');
let gw: TestGateway;

before(async (t) => {
  await createTopic(brokers, topic, 2);
  await produceDirect(brokers, topic, [
    ...Array.from({ length: 5 }, (_, i) => ({ value: `p0-${i}`, partition: 0 })),
    ...Array.from({ length: 5 }, (_, i) => ({ value: `p1-${i}`, partition: 1 })),
  ]);
  gw = await appFor(t, { WS_AUTO_COMMIT_INTERVAL_MS: '100' });
});
after(async () => {
  await deleteTopics(brokers, [topic]);
});

/** A subscription whose records are collected, each marked written as it arrives. */
function collecting(options: Partial<SubscriptionOptions>): { subscription: Subscription; records: ConsumedRecord[]; handles: PartitionHandle[] } {
  const records: ConsumedRecord[] = [];
  const handles: PartitionHandle[] = [];
  const subscription = gw.services.subscriptions.create(
    { topics: [topic], from: { kind: 'earliest' }, ack: 'manual', ...options },
    {
      onRecords: (handle, batch) => {
        handles.push(handle);
        for (const record of batch) {
          records.push(record);
          handle.written(record.offset);
        }
      },
      onAssignment: () => undefined,
      onFatal: (error) => assert.fail(error),
    },
  );
  return { subscription, records, handles };
}

const values = (records: readonly ConsumedRecord[]) => records.map((r) => r.value?.toString());

test('an explicit assignment holds exactly those partitions, joins no group, and reads from the group\'s commits', async () => {
  const group = uniqueName('assigned');
  const first = collecting({ group, assignment: [{ topic, partitions: [1] }] });
  assert.deepEqual(await first.subscription.start(), [{ topic, partitions: [1] }]);
  first.subscription.setDemand(true);
  await eventually(async () => first.records.length === 5);
  assert.deepEqual(values(first.records), ['p1-0', 'p1-1', 'p1-2', 'p1-3', 'p1-4']);
  // A commit without membership, as a Kafka consumer's after assign().
  await first.subscription.ack(topic, 1, '2');
  assert.equal((await committedOffsets(brokers, group, topic)).get(1), '3');
  const members = await gw.services.metadata.group(group).then((g) => g.members, () => []);
  assert.deepEqual(members, [], 'it never joined the group');
  await first.subscription.stop();

  const again = collecting({ group, assignment: [{ topic, partitions: [1] }] });
  await again.subscription.start();
  again.subscription.setDemand(true);
  await eventually(async () => again.records.length === 2);
  assert.deepEqual(values(again.records), ['p1-3', 'p1-4'], 'it starts where the group committed');
  await again.subscription.stop();

  const bad = collecting({ assignment: [{ topic, partitions: [7] }] });
  await assert.rejects(bad.subscription.start(), (error: Error & { code?: string }) => error.code === 'GW_ERR_INVALID_PARTITION');
  await bad.subscription.stop();
});

test('seek moves a held partition to an offset, the beginning or the end; others are refused', async () => {
  const { subscription, records } = collecting({ assignment: [{ topic, partitions: [0, 1] }] });
  await subscription.start();
  subscription.setDemand(true);
  await eventually(async () => records.length === 10);
  subscription.setDemand(false);

  records.length = 0;
  assert.equal(await subscription.seek(topic, 0, 3n), 3n);
  subscription.setDemand(true);
  await eventually(async () => records.length === 2);
  assert.deepEqual(values(records), ['p0-3', 'p0-4']);

  records.length = 0;
  assert.equal(await subscription.seek(topic, 1, 'beginning'), 0n);
  await eventually(async () => records.length === 5);
  assert.deepEqual(values(records), ['p1-0', 'p1-1', 'p1-2', 'p1-3', 'p1-4']);
  // Moved back, a record read again can be acknowledged (without a group there is nothing to commit to).
  await subscription.ack(topic, 1, '0');

  records.length = 0;
  assert.equal(await subscription.seek(topic, 0, 'end'), 5n);
  await produceDirect(brokers, topic, [{ value: 'p0-5', partition: 0 }]);
  await eventually(async () => records.length === 1);
  assert.deepEqual(values(records), ['p0-5']);

  await assert.rejects(subscription.seek(topic, 2, 0n), (error: Error & { code?: string }) => error.code === 'GW_ERR_CONFLICT');
  await assert.rejects(subscription.seek(topic, 0, -1n), (error: Error & { code?: string }) => error.code === 'GW_ERR_VALIDATION');
  await subscription.stop();
});

test('a durable subscription moves its positions too, and may commit an earlier offset once it read it again', async () => {
  const group = uniqueName('seek-durable');
  const { subscription, records } = collecting({ group });
  await subscription.start();
  subscription.setDemand(true);
  await eventually(async () => records.filter((r) => r.partition === 1).length === 5);
  await subscription.ack(topic, 1, '4');
  assert.equal((await committedOffsets(brokers, group, topic)).get(1), '5');
  records.length = 0;
  await subscription.seek(topic, 1, 1n);
  await eventually(async () => records.length === 4);
  assert.deepEqual(values(records), ['p1-1', 'p1-2', 'p1-3', 'p1-4']);
  await subscription.ack(topic, 1, '1');
  assert.equal((await committedOffsets(brokers, group, topic)).get(1), '2');
  await subscription.stop();
});
