/**
 * One share group member on the real broker, at the moment a broker comes
 * back: its partitions are assigned while the metadata still names no
 * leader for them. The coordinator sends an assignment once, so the
 * member must place those partitions again by itself once a leader is
 * known, or it holds the partition and fetches nothing from it forever.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Admin as ClientAdmin } from '@platformatic/kafka';
import { ShareGroups, type ShareRecord } from '../src/kafka/index.js';
import { eventually, quietLogger, sharedBrokers, uniqueName } from './helpers/env.js';
import { adminFor, producerFor } from './helpers/scoped.js';

type ClusterMetadata = Awaited<ReturnType<ClientAdmin['metadata']>>;

/** The admin client with `topic`'s partitions shown leaderless in its first `times` metadata answers naming it. */
function leaderlessAtFirst(client: ClientAdmin, topic: string, times: number): { admin: ClientAdmin; hidden: () => number } {
  let hidden = 0;
  const withoutLeader = (metadata: ClusterMetadata): ClusterMetadata => {
    const topics = new Map(metadata.topics);
    const info = topics.get(topic);
    if (info) topics.set(topic, { ...info, partitions: info.partitions.map((p) => ({ ...p, leader: -1 })) });
    return { ...metadata, topics };
  };
  const admin = new Proxy(client, {
    get(target, property) {
      if (property === 'metadata') {
        return async (options: Parameters<ClientAdmin['metadata']>[0]) => {
          const metadata = await target.metadata(options);
          if (hidden >= times || !options.topics?.includes(topic)) return metadata;
          hidden += 1;
          return withoutLeader(metadata);
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      // The client's methods use private fields: they run on the client itself, not on the proxy.
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { admin, hidden: () => hidden };
}

test('partitions assigned while they have no leader are fetched from once a leader is known', { timeout: 60_000 }, async (t) => {
  const admin = await adminFor(t);
  const producer = await producerFor(t);
  const topic = uniqueName('leaderless-queue');
  const group = uniqueName('leaderless-workers');
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
  await admin.client.incrementalAlterConfigs({
    resources: [{ resourceType: 32, resourceName: group, configs: [{ name: 'share.auto.offset.reset', configOperation: 0, value: 'earliest' }] }],
  });
  const values = ['a', 'b', 'c', 'd', 'e'];
  await producer.send({ topic, messages: values.map((value) => ({ value })) });

  // The assignment comes in more than one heartbeat answer; each time, naming the topic and placing its
  // partition see no leader, and so do the first placements after.
  const { admin: client, hidden } = leaderlessAtFirst(admin.client, topic, 6);
  const groups = new ShareGroups(client, { clientId: 'share-member-test', bootstrapBrokers: sharedBrokers().split(',') }, { fetchMaxWaitMs: 200, maxBytes: 1 << 20, requestTimeoutMs: 10_000 }, async () => undefined, quietLogger());
  t.after(() => groups.close());
  const received: ShareRecord[] = [];
  const member = await groups.member(group, [topic], {
    onRecords: (records) => received.push(...records),
    onLockExpired: () => undefined,
    onFatal: (error) => assert.fail(`the member stopped: ${error.message}`),
  });
  t.after(() => member.stop());
  await member.start();
  member.setDemand(values.length);

  await eventually(async () => member.assignment.length > 0, 20_000);
  await eventually(async () => received.length >= values.length, 20_000).catch((error: unknown) => {
    throw new Error(`${String(error)}: ${received.length} records after ${hidden()} leaderless answers, assigned ${JSON.stringify(member.assignment)}`);
  });
  assert.equal(hidden(), 6, 'the member saw the partition leaderless');
  assert.deepEqual(received.map((r) => r.value?.toString()).sort(), values);
  await member.answer(topic, 0, received.map((r) => r.offset), 'accept');
});
