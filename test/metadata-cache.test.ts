/**
 * The metadata cache: a burst costs the broker one round trip (counted by
 * wrapping the admin client, not by timing), the gateway's own changes
 * clear it at once, and another tool's deletion shows within the TTL.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Admin as ClientAdmin } from '@platformatic/kafka';
import { Kafka, logLevel } from './helpers/kafka-client.js';
import request from 'supertest';
import { createApp } from '../src/app.js';
import { MetadataService, TopicAdmin } from '../src/kafka/index.js';
import { KafkaAdmin } from '../src/kafka/metadata/admin-client.js';
import { TopicCache } from '../src/kafka/metadata/topic-cache.js';
import { TtlCache } from '../src/kafka/metadata/ttl-cache.js';
import { conforms } from './helpers/contract.js';
import { eventually, sharedBrokers, uniqueName } from './helpers/env.js';
import { appFor } from './helpers/scoped.js';
import type { TestGateway } from './helpers/gateway.js';

const kafka = new Kafka({ brokers: sharedBrokers().split(','), logLevel: logLevel.NOTHING });
const admin = kafka.admin();
/** The gateway's own admin layer, on a client of its own. */
const gatewayAdmin = new KafkaAdmin(new ClientAdmin({ clientId: 'metadata-cache-test', bootstrapBrokers: sharedBrokers().split(',') }));
const calls = new Map<string, number>();
/** The same admin layer, counting every call made through it. */
const counted = new Proxy(gatewayAdmin, {
  get(target, prop, receiver) {
    const value: unknown = Reflect.get(target, prop, receiver);
    if (typeof value !== 'function' || typeof prop !== 'string') return value;
    return (...args: unknown[]) => {
      calls.set(prop, (calls.get(prop) ?? 0) + 1);
      return (value as (...a: unknown[]) => unknown).apply(target, args);
    };
  },
}) as KafkaAdmin;
const count = (method: string) => calls.get(method) ?? 0;

let gw: TestGateway;
const topics: string[] = [];
before(async (t) => {
  await admin.connect();
  gw = await appFor(t);
});
after(async () => {
  await admin.deleteTopics({ topics }).catch(() => undefined);
  await admin.disconnect();
  await gatewayAdmin.client.close();
});

test('a burst of identical requests costs one round trip for structure, and the gateway sees its own changes at once', async () => {
  const metadata = new MetadataService(counted, { cacheTtlMs: 600_000, timeoutMs: 10_000 });
  const topicAdmin = new TopicAdmin(counted, metadata);
  const app = createApp({ ...gw.services, metadata, topicAdmin }).app;
  const topic = uniqueName('burst');
  topics.push(topic);
  await admin.createTopics({ topics: [{ topic, numPartitions: 2 }] });
  calls.clear();

  const burst = await Promise.all(Array.from({ length: 20 }, () => request(app).get(`/v1/topics/${topic}`)));
  for (const res of burst) assert.equal(conforms(res).status, 200);
  assert.equal(count('cluster'), 1);
  assert.equal(count('topicConfigs'), 1);
  // Offsets are not structure: each answer asks the broker (the log's start and end), so it shows every record acknowledged before it.
  assert.equal(count('offsets'), 40);

  const lists = await Promise.all(Array.from({ length: 20 }, () => request(app).get('/v1/topics')));
  for (const res of lists) conforms(res);
  await request(app).get('/v1/topics?prefix=x').expect(200);
  assert.equal(count('cluster'), 1, 'the list comes from the same topic cache as the topic');

  // The gateway's own change: the next answers come from the broker again.
  const created = uniqueName('burst-created');
  topics.push(created);
  conforms(await request(app).post('/v1/topics').send({ name: created, partitions: 1 }).expect(201));
  const after = conforms(await request(app).get(`/v1/topics?prefix=${created}`).expect(200));
  assert.deepEqual(after.body.topics.map((t: { name: string }) => t.name), [created]);
  conforms(await request(app).post(`/v1/topics/${topic}/partitions`).send({ partitions: 3 }).expect(200));
  const raised = conforms(await request(app).get(`/v1/topics/${topic}`).expect(200));
  assert.equal(raised.body.partitionCount, 3);
});

test('a topic deleted by another tool stops being served within the TTL', async () => {
  const metadata = new MetadataService(gatewayAdmin, { cacheTtlMs: 500, timeoutMs: 10_000 });
  const app = createApp({ ...gw.services, metadata, topicAdmin: new TopicAdmin(gatewayAdmin, metadata) }).app;
  const topic = uniqueName('external');
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
  conforms(await request(app).get(`/v1/topics/${topic}`).expect(200));
  await admin.deleteTopics({ topics: [topic] });
  await eventually(async () => (await request(app).get(`/v1/topics/${topic}`)).status === 404);
  await eventually(async () => (await request(app).get(`/v1/topics?prefix=${topic}`)).body.topics.length === 0);
});

test('TtlCache keeps an answer for the TTL, drops failures, and an invalidation wins over a lookup in flight', async () => {
  let now = 1000;
  const cache = new TtlCache(100, () => now);
  let loads = 0;
  const load = async () => ++loads;
  assert.equal(await cache.get('k', load), 1);
  now += 99;
  assert.equal(await cache.get('k', load), 1);
  now += 1;
  assert.equal(await cache.get('k', load), 2, 'expired at the TTL');

  await assert.rejects(cache.get('f', () => Promise.reject(new Error('down'))));
  assert.equal(await cache.get('f', load), 3, 'a failure is not cached');

  let release!: (v: number) => void;
  const slow = cache.get('s', () => new Promise<number>((r) => (release = r)));
  cache.clear();
  release(0);
  assert.equal(await slow, 0);
  assert.equal(await cache.get('s', load), 4, 'an answer that began before the change is not kept');

  const none = new TtlCache(0, () => now);
  const shared = [none.get('z', load), none.get('z', load)];
  assert.deepEqual(await Promise.all(shared), [5, 5], 'TTL 0 still shares a lookup in flight');
  assert.equal(await none.get('z', load), 6);
});

test('TopicCache.structure: topic ids and leaders within the TTL, asked again on a miss, on demand (maxAgeMs 0) and after an invalidation', async () => {
  let asks = 0;
  let partitions = [{ partitionId: 0, leader: 1, replicas: [1], isr: [1], offlineReplicas: [] }];
  // Only cluster() is asked: one metadata call for every topic.
  const fake = {
    cluster: async () => {
      asks += 1;
      return { clusterId: 'c', controller: 1, brokers: [], topics: [{ name: 'a', id: 'id-a', internal: false, partitions }] };
    },
  } as unknown as KafkaAdmin;
  const cache = new TopicCache(fake, { cacheTtlMs: 600_000, timeoutMs: 1000 });
  assert.deepEqual(await cache.structure('a'), { name: 'a', id: 'id-a', partitions });
  assert.equal((await cache.partitions('a')).length, 1);
  assert.equal(asks, 1, 'the engine, the fetcher and the produce path share one answer');
  assert.equal(await cache.structure('missing'), undefined);
  assert.equal(asks, 2, 'a miss asks again: a topic created a moment ago is found');
  partitions = [{ partitionId: 0, leader: 2, replicas: [1, 2], isr: [1, 2], offlineReplicas: [] }, { partitionId: 1, leader: 1, replicas: [1], isr: [1], offlineReplicas: [] }];
  assert.equal((await cache.structure('a'))!.partitions[0]!.leader, 1, 'within the TTL');
  assert.equal((await cache.structure('a', { maxAgeMs: 0 }))!.partitions[0]!.leader, 2, 'a reader told that its leader moved asks now');
  assert.equal(asks, 3);
  partitions = [...partitions, { partitionId: 2, leader: 1, replicas: [1], isr: [1], offlineReplicas: [] }];
  cache.invalidate();
  assert.equal((await cache.structure('a'))!.partitions.length, 3, 'an admin change through the gateway is seen at once');
  assert.equal(asks, 4);
});

test('a record produced a moment ago shows in the topic\'s latest offset at once, structure cached or not', async () => {
  const topic = uniqueName('fresh-offsets');
  topics.push(topic);
  conforms(await request(gw.app).post('/v1/topics').send({ name: topic, partitions: 1 }).expect(201));
  const before = conforms(await request(gw.app).get(`/v1/topics/${topic}`).expect(200));
  assert.equal(before.body.partitions[0].latestOffset, '0');
  for (let n = 1; n <= 3; n++) {
    conforms(await request(gw.app).post(`/v1/topics/${topic}/records`).send({ records: [{ value: n }] }).expect(200));
    const after = conforms(await request(gw.app).get(`/v1/topics/${topic}`).expect(200));
    assert.equal(after.body.partitions[0].latestOffset, String(n), `after ${n} record(s)`);
  }
});

test('produce after the gateway deleted a topic and re-created it with another partition count sees the new topic', async () => {
  const topic = uniqueName('recreated');
  topics.push(topic);
  conforms(await request(gw.app).post('/v1/topics').send({ name: topic, partitions: 3 }).expect(201));
  conforms(await request(gw.app).post(`/v1/topics/${topic}/records`).send({ records: [{ value: 1, partition: 2 }] }).expect(200));

  conforms(await request(gw.app).delete(`/v1/topics/${topic}`).expect(204));
  const gone = conforms(await request(gw.app).post(`/v1/topics/${topic}/records`).send({ records: [{ value: 2 }] }));
  assert.equal(gone.status, 404, 'the produce path does not answer from what it knew before the delete');

  // Kafka finishes a deletion in the background; a create right after may still find the old topic.
  await eventually(async () => (await request(gw.app).post('/v1/topics').send({ name: topic, partitions: 2 })).status === 201, 30_000, 500);
  const outOfRange = conforms(await request(gw.app).post(`/v1/topics/${topic}/records`).send({ records: [{ value: 3, partition: 2 }] }));
  assert.equal(outOfRange.status, 400, outOfRange.text);
  assert.equal(outOfRange.body.code, 'GW_ERR_INVALID_PARTITION');
  assert.equal(outOfRange.body.partitions, 2);
  const ok = conforms(await request(gw.app).post(`/v1/topics/${topic}/records`).send({ records: [{ value: 4, partition: 1 }] }).expect(200));
  assert.deepEqual(ok.body.offsets.map((o: { partition: number; offset: string }) => [o.partition, o.offset]), [[1, '0']], 'a new topic, counting from 0');
});

test('a topic created for a produce is asked for until the broker lists it: a metadata answer that lags the creation is no 404, and one that never catches up is a 503', async () => {
  const topic = uniqueName('lagging');
  topics.push(topic);
  let hideFor = 0;
  let answersAfterCreate = 0;
  /** The gateway's admin layer, whose metadata leaves the topic out of the first `hideFor` answers after it is created. */
  const lagging = new Proxy(gatewayAdmin, {
    get(target, prop, receiver) {
      if (prop === 'createTopic') {
        return async (...args: Parameters<KafkaAdmin['createTopic']>) => {
          await target.createTopic(...args);
          answersAfterCreate = 0;
        };
      }
      if (prop === 'cluster') {
        return async (...args: Parameters<KafkaAdmin['cluster']>) => {
          const answer = await target.cluster(...args);
          if (answersAfterCreate++ >= hideFor) return answer;
          return { ...answer, topics: answer.topics.filter((t) => t.name !== topic) };
        };
      }
      return Reflect.get(target, prop, receiver) as unknown;
    },
  }) as KafkaAdmin;

  hideFor = 3;
  const cache = new TopicCache(lagging, { cacheTtlMs: 600_000, timeoutMs: 10_000 });
  const partitions = await cache.partitions(topic, { create: true });
  assert.equal(partitions.length, 1);
  assert.ok(answersAfterCreate > hideFor, 'the cache asked again after the answers that left the topic out');

  const never = uniqueName('never-listed');
  topics.push(never);
  hideFor = Infinity;
  const neverListed = new Proxy(lagging, {
    get(target, prop, receiver) {
      if (prop !== 'cluster') return Reflect.get(target, prop, receiver) as unknown;
      return async (...args: Parameters<KafkaAdmin['cluster']>) => {
        const answer = await gatewayAdmin.cluster(...args);
        return { ...answer, topics: answer.topics.filter((t) => t.name !== never) };
      };
    },
  }) as KafkaAdmin;
  const impatient = new TopicCache(neverListed, { cacheTtlMs: 600_000, timeoutMs: 500 });
  await assert.rejects(impatient.partitions(never, { create: true }), (error: Error & { code?: string }) => error.code === 'GW_ERR_KAFKA_UNAVAILABLE');
});
