/**
 * Metadata and topic administration over HTTP, each answer checked against
 * the broker's own truth through a separate client.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ConfigResourceTypes, Kafka, logLevel } from './helpers/kafka-client.js';
import request from 'supertest';
import { createApp } from '../src/app.js';
import { conforms } from './helpers/contract.js';
import { eventually, sharedBrokers, uniqueName } from './helpers/env.js';
import { appFor } from './helpers/scoped.js';
import { testGateway, type TestGateway } from './helpers/gateway.js';


const kafka = new Kafka({ brokers: sharedBrokers().split(','), clientId: 'metadata-test', logLevel: logLevel.NOTHING });
const admin = kafka.admin();
const producer = kafka.producer();
let gw: TestGateway;
const created: string[] = [];

before(async (t) => {
  // No cache here: each test reads right after changing the cluster behind the gateway's back.
  gw = await appFor(t, { METADATA_CACHE_TTL_MS: '0' });
  await Promise.all([admin.connect(), producer.connect()]);
});
after(async () => {
  await admin.deleteTopics({ topics: created }).catch(() => undefined);
  await Promise.allSettled([admin.disconnect(), producer.disconnect()]);
});

async function newTopic(partitions: number): Promise<string> {
  const topic = uniqueName('meta');
  created.push(topic);
  await admin.createTopics({ topics: [{ topic, numPartitions: partitions }] });
  return topic;
}

test('GET /v1/cluster names the brokers the cluster reports', async () => {
  const res = conforms(await request(gw.app).get('/v1/cluster').expect(200));
  const truth = await admin.describeCluster();
  assert.equal(res.body.clusterId, truth.clusterId);
  assert.equal(res.body.controller, truth.controller);
  assert.deepEqual(
    res.body.brokers.map((b: { nodeId: number; host: string; port: number }) => [b.nodeId, b.host, b.port]),
    truth.brokers.map((b) => [b.nodeId, b.host, b.port]),
  );
  assert.equal(res.body.brokers[0].rack, null, 'the test broker has no rack');
});

test('POST /v1/topics creates a topic with N partitions and its configs; the broker agrees', async () => {
  const name = uniqueName('created');
  created.push(name);
  const res = conforms(
    await request(gw.app)
      .post('/v1/topics')
      .send({ name, partitions: 3, replicationFactor: 1, configs: { 'cleanup.policy': 'compact', 'retention.ms': 3_600_000 } })
      .expect(201),
  );
  assert.equal(res.headers.location, `/v1/topics/${name}`);
  assert.equal(res.body.partitionCount, 3);
  assert.equal(res.body.partitions.length, 3);
  assert.deepEqual(res.body.configs['cleanup.policy'], { value: 'compact', overridden: true, readOnly: false, sensitive: false });
  assert.equal(res.body.configs['retention.ms'].value, '3600000');
  const { topics } = await admin.fetchTopicMetadata({ topics: [name] });
  assert.equal(topics[0]!.partitions.length, 3);

  const again = conforms(await request(gw.app).post('/v1/topics').send({ name, partitions: 1 }).expect(409));
  assert.equal(again.body.code, 'GW_ERR_CONFLICT');
});

test('POST /v1/topics refuses an invalid name, count or config with the reason', async () => {
  const badName = conforms(await request(gw.app).post('/v1/topics').send({ name: 'no spaces allowed!', partitions: 1 }).expect(400));
  assert.equal(badName.body.code, 'GW_ERR_INVALID_TOPIC');
  assert.equal(badName.body.kafkaError, 'INVALID_TOPIC_EXCEPTION');

  const name = uniqueName('refused');
  const rf = conforms(await request(gw.app).post('/v1/topics').send({ name, partitions: 1, replicationFactor: 3 }).expect(400));
  assert.equal(rf.body.kafkaError, 'INVALID_REPLICATION_FACTOR');
  assert.match(rf.body.detail, /[Rr]eplication/);

  const config = conforms(await request(gw.app).post('/v1/topics').send({ name, configs: { 'cleanup.policy': 'sometimes' } }).expect(400));
  assert.equal(config.body.kafkaError, 'INVALID_CONFIG');

  const count = conforms(await request(gw.app).post('/v1/topics').send({ name, partitions: 0, extra: true }).expect(400));
  assert.deepEqual(count.body.errors.map((e: { pointer: string }) => e.pointer).sort(), ['/extra', '/partitions']);

  conforms(await request(gw.app).post('/v1/topics').send({ partitions: 1 }).expect(400));
  conforms(await request(gw.app).post('/v1/topics').set('Content-Type', 'text/plain').send('x').expect(415));
  const { topics } = await admin.fetchTopicMetadata();
  assert.ok(!topics.some((t) => t.name === name), 'nothing was created');
});

test('latest offsets of a topic add up to the records produced', async () => {
  const topic = await newTopic(3);
  const K = 25;
  await producer.send({ topic, messages: Array.from({ length: K }, (_, i) => ({ key: `k${i}`, value: `v${i}` })) });
  const res = conforms(await request(gw.app).get(`/v1/topics/${topic}`).expect(200));
  assert.equal(res.body.partitionCount, 3);
  assert.equal(res.body.replicationFactor, 1);
  assert.equal(res.body.schema, null);
  const sum = res.body.partitions.reduce((n: number, p: { latestOffset: string }) => n + Number(p.latestOffset), 0);
  assert.equal(sum, K);
  const truth = await admin.fetchTopicOffsets(topic);
  for (const p of res.body.partitions) {
    assert.equal(p.latestOffset, truth.find((t) => t.partition === p.partition)!.high);
    assert.equal(p.earliestOffset, '0');
    assert.equal(p.leader, p.replicas[0]);
    assert.deepEqual(p.isr, p.replicas);
    assert.deepEqual(p.offlineReplicas, []);
  }
  assert.deepEqual(res.body.configs, {}, 'no overrides on a topic created with defaults');
  const all = conforms(await request(gw.app).get(`/v1/topics/${topic}?configs=all`).expect(200));
  assert.equal(all.body.configs['cleanup.policy'].value, 'delete');
  assert.equal(all.body.configs['cleanup.policy'].overridden, false);
});

test('GET /v1/topics lists topics with counts, filters by prefix and hides internal topics unless asked', async () => {
  const topic = await newTopic(2);
  const res = conforms(await request(gw.app).get('/v1/topics').expect(200));
  const names = res.body.topics.map((t: { name: string }) => t.name);
  assert.ok(names.includes(topic));
  assert.ok(!names.includes('__consumer_offsets'));
  assert.deepEqual(res.body.topics.find((t: { name: string }) => t.name === topic), { name: topic, internal: false, partitionCount: 2, replicationFactor: 1 });

  const prefixed = conforms(await request(gw.app).get(`/v1/topics?prefix=${topic}`).expect(200));
  assert.deepEqual(prefixed.body.topics.map((t: { name: string }) => t.name), [topic]);

  // The group test may not have run yet; make sure the offsets topic exists.
  await eventually(async () => {
    const internal = conforms(await request(gw.app).get('/v1/topics?internal=true').expect(200));
    return internal.body.topics.some((t: { name: string; internal: boolean }) => t.name === '__consumer_offsets' && t.internal);
  });
});

test('bad query values are 400 naming the parameter', async () => {
  const topic = await newTopic(1);
  for (const [path, parameter] of [
    ['/v1/topics?internal=maybe', 'internal'],
    [`/v1/topics/${topic}?configs=some`, 'configs'],
    [`/v1/topics/${topic}/offsets`, 'timestamp'],
    [`/v1/topics/${topic}/offsets?timestamp=yesterday`, 'timestamp'],
    [`/v1/topics/${topic}/offsets?timestamp=2026-01-01T10:00:00`, 'timestamp'],
    [`/v1/topics?prefix=a&prefix=b`, 'prefix'],
  ] as const) {
    const res = conforms(await request(gw.app).get(path).expect(400));
    assert.equal(res.body.parameter, parameter, path);
    assert.match(res.body.detail, new RegExp(parameter));
    assert.equal(res.body.errors[0].pointer, `/query/${parameter}`);
  }
});

test('unknown topics and groups are 404', async () => {
  const missing = uniqueName('missing');
  for (const path of [`/v1/topics/${missing}`, `/v1/topics/${missing}/offsets?timestamp=0`]) {
    const res = conforms(await request(gw.app).get(path).expect(404));
    assert.equal(res.body.code, 'GW_ERR_TOPIC_NOT_FOUND');
  }
  conforms(await request(gw.app).delete(`/v1/topics/${missing}`).expect(404));
  conforms(await request(gw.app).post(`/v1/topics/${missing}/partitions`).send({ partitions: 4 }).expect(404));
  conforms(await request(gw.app).patch(`/v1/topics/${missing}/configs`).send({ 'retention.ms': '1000' }).expect(404));
  const group = conforms(await request(gw.app).get(`/v1/consumer-groups/${uniqueName('nogroup')}`).expect(404));
  assert.equal(group.body.code, 'GW_ERR_GROUP_NOT_FOUND');
  const badName = conforms(await request(gw.app).get(`/v1/topics/${encodeURIComponent('not a topic!')}`).expect(400));
  assert.equal(badName.body.code, 'GW_ERR_INVALID_TOPIC');
});

test('offsets by time land on the first record at or after the time', async () => {
  const topic = await newTopic(1);
  const base = Date.now() - 60_000;
  await producer.send({ topic, messages: [0, 1, 2, 3, 4].map((i) => ({ value: `r${i}`, timestamp: String(base + i * 1000) })) });
  const at = async (timestamp: string) => {
    const res = conforms(await request(gw.app).get(`/v1/topics/${topic}/offsets?timestamp=${encodeURIComponent(timestamp)}`).expect(200));
    assert.equal(res.body.topic, topic);
    return res.body.offsets as { partition: number; offset: string }[];
  };
  assert.deepEqual(await at(String(base + 1500)), [{ partition: 0, offset: '2' }]);
  assert.deepEqual(await at(String(base + 1000)), [{ partition: 0, offset: '1' }], 'a record exactly at the time is included');
  assert.deepEqual(await at(new Date(base + 2500).toISOString()), [{ partition: 0, offset: '3' }]);
  const offsetIso = new Date(base + 3500 + 2 * 3_600_000).toISOString().replace('Z', '+02:00');
  assert.deepEqual(await at(offsetIso), [{ partition: 0, offset: '4' }], 'a zone offset is honoured');
  assert.deepEqual(await at('0'), [{ partition: 0, offset: '0' }]);
  assert.deepEqual(await at(String(base + 10_000)), [{ partition: 0, offset: '5' }], 'after the last record: the end');
  // The record at the answered offset really is the first at or after the time.
  const consumer = kafka.consumer({ groupId: uniqueName('ts-check') });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    const seen: { offset: string; timestamp: string }[] = [];
    await consumer.run({ eachMessage: async ({ message }) => void seen.push({ offset: message.offset, timestamp: message.timestamp }) });
    await eventually(async () => seen.length === 5);
    assert.equal(seen.find((m) => Number(m.timestamp) >= base + 1500)!.offset, '2');
  } finally {
    await consumer.disconnect();
  }
});

test('a consumer group shows its members, committed offsets and the lag it really has', async () => {
  const topic = await newTopic(2);
  await producer.send({ topic, messages: Array.from({ length: 10 }, (_, i) => ({ value: `m${i}`, partition: i % 2 })) });
  const groupId = uniqueName('group');
  const consumer = kafka.consumer({ groupId });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    let received = 0;
    await consumer.run({ autoCommit: false, eachMessage: async () => void (received += 1) });
    await eventually(async () => received === 10);
    // Consume part: commit 2 of the 5 records on partition 0 and 4 of the 5 on partition 1.
    await consumer.commitOffsets([
      { topic, partition: 0, offset: '2' },
      { topic, partition: 1, offset: '4' },
    ]);
    const res = await eventually(async () => {
      const r = conforms(await request(gw.app).get(`/v1/consumer-groups/${groupId}`).expect(200));
      return r.body.state === 'Stable' && r.body.members.length === 1 ? r : undefined;
    });
    const truth = await admin.fetchOffsets({ groupId, topics: [topic] });
    const committed = new Map(truth[0]!.partitions.map((p) => [p.partition, p.offset]));
    assert.equal(res.body.protocolType, 'consumer');
    assert.ok(res.body.protocol.length > 0);
    const [member] = res.body.members;
    assert.equal(member.clientId, 'metadata-test');
    assert.match(member.host, /^[\d.:a-f]+$/);
    assert.deepEqual(member.assignments, [{ topic, partitions: [0, 1] }]);
    assert.deepEqual(
      res.body.offsets.map((o: Record<string, unknown>) => [o.partition, o.committedOffset, o.latestOffset, o.lag, o.memberId]),
      [
        [0, committed.get(0), '5', String(5 - Number(committed.get(0))), member.memberId],
        [1, committed.get(1), '5', String(5 - Number(committed.get(1))), member.memberId],
      ],
    );
    assert.equal(res.body.totalLag, '4');

    const list = conforms(await request(gw.app).get('/v1/consumer-groups').expect(200));
    assert.deepEqual(list.body.groups.find((g: { groupId: string }) => g.groupId === groupId), { groupId, internal: false, protocolType: 'consumer', state: 'Stable' });
  } finally {
    await consumer.disconnect();
  }
  // Without members the group keeps its commits and its lag.
  const empty = await eventually(async () => {
    const r = conforms(await request(gw.app).get(`/v1/consumer-groups/${groupId}`).expect(200));
    return r.body.state === 'Empty' ? r : undefined;
  });
  assert.deepEqual(empty.body.members, []);
  assert.equal(empty.body.totalLag, '4');
  assert.equal(empty.body.offsets[0].memberId, null);
});

test('partitions can be raised, not lowered', async () => {
  const topic = await newTopic(2);
  const raised = conforms(await request(gw.app).post(`/v1/topics/${topic}/partitions`).send({ partitions: 4 }).expect(200));
  assert.equal(raised.body.partitionCount, 4);
  const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
  assert.equal(topics[0]!.partitions.length, 4);
  const lower = conforms(await request(gw.app).post(`/v1/topics/${topic}/partitions`).send({ partitions: 3 }).expect(400));
  assert.equal(lower.body.currentPartitions, 4);
  conforms(await request(gw.app).post(`/v1/topics/${topic}/partitions`).send({ partitions: 'many' }).expect(400));
});

test('PATCH /v1/topics/{topic}/configs sets and removes overrides, keeping the others', async () => {
  const topic = uniqueName('configs');
  created.push(topic);
  await admin.createTopics({ topics: [{ topic, configEntries: [{ name: 'cleanup.policy', value: 'compact' }, { name: 'retention.ms', value: '600000' }] }] });
  const res = conforms(
    await request(gw.app).patch(`/v1/topics/${topic}/configs`).set('Content-Type', 'application/merge-patch+json').send(JSON.stringify({ 'retention.ms': 1_200_000, 'cleanup.policy': null, 'max.message.bytes': '2048' })).expect(200),
  );
  assert.deepEqual(Object.keys(res.body.configs).sort(), ['max.message.bytes', 'retention.ms']);
  const { resources } = await admin.describeConfigs({ resources: [{ type: ConfigResourceTypes.TOPIC, name: topic }], includeSynonyms: false });
  const value = (name: string) => resources[0]!.configEntries.find((e) => e.configName === name);
  assert.equal(value('retention.ms')!.configValue, '1200000');
  assert.equal(value('max.message.bytes')!.configValue, '2048');
  assert.equal(value('cleanup.policy')!.configValue, 'delete', 'removed override falls back to the default');

  const bad = conforms(await request(gw.app).patch(`/v1/topics/${topic}/configs`).send({ 'retention.ms': 'forever' }).expect(400));
  assert.equal(bad.body.kafkaError, 'INVALID_CONFIG');
  conforms(await request(gw.app).patch(`/v1/topics/${topic}/configs`).send({ 'retention.ms': { nested: 1 } }).expect(400));
  conforms(await request(gw.app).patch(`/v1/topics/${topic}/configs`).send({}).expect(400));
});

test('DELETE /v1/topics/{topic} deletes it and the gateway stops serving it at once', async () => {
  const topic = await newTopic(1);
  // Cached by another gateway instance with a long TTL: its own delete must still be seen at once.
  const cached = await testGateway({ METADATA_CACHE_TTL_MS: '600000' });
  try {
    conforms(await request(cached.app).get(`/v1/topics/${topic}`).expect(200));
    conforms(await request(cached.app).delete(`/v1/topics/${topic}`).expect(204));
    conforms(await request(cached.app).get(`/v1/topics/${topic}`).expect(404));
    const listed = conforms(await request(cached.app).get(`/v1/topics?prefix=${topic}`).expect(200));
    assert.deepEqual(listed.body.topics, []);
  } finally {
    await cached.close();
  }
  await eventually(async () => !(await admin.listTopics()).includes(topic));
});

test('Confluent v2 GET /topics, /topics/{topic} and /topics/{topic}/partitions', async () => {
  const topic = uniqueName('v2');
  created.push(topic);
  await admin.createTopics({ topics: [{ topic, numPartitions: 2, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }] });
  const list = conforms(await request(gw.app).get('/topics').expect(200));
  assert.equal(list.headers['content-type'], 'application/vnd.kafka.v2+json; charset=utf-8');
  assert.ok(list.body.includes(topic));
  assert.ok(!list.body.includes('__consumer_offsets'));

  const one = conforms(await request(gw.app).get(`/topics/${topic}`).expect(200));
  assert.equal(one.body.name, topic);
  assert.equal(one.body.configs['cleanup.policy'], 'compact');
  assert.equal(one.body.configs['retention.ms'], '604800000', 'v2 shows every config');
  const leader = one.body.partitions[0].leader;
  assert.deepEqual(one.body.partitions[0], { partition: 0, leader, replicas: [{ broker: leader, leader: true, in_sync: true }] });

  const partitions = conforms(await request(gw.app).get(`/topics/${topic}/partitions`).expect(200));
  assert.deepEqual(partitions.body, one.body.partitions);

  for (const path of [`/topics/${uniqueName('gone')}`, `/topics/${uniqueName('gone')}/partitions`]) {
    const missing = conforms(await request(gw.app).get(path).expect(404));
    assert.equal(missing.headers['content-type'], 'application/vnd.kafka.v2+json; charset=utf-8');
    assert.equal(missing.body.error_code, 40401);
    assert.equal(typeof missing.body.message, 'string');
  }
});

test('the topic detail says which schema version the topic has', async () => {
  const topicWithSchema = await newTopic(1);
  const withSchemas = createApp({ ...gw.services, schemaInfo: (t) => (t === topicWithSchema ? { version: 3 } : undefined) });
  const read = conforms(await request(withSchemas.app).get(`/v1/topics/${topicWithSchema}`).expect(200));
  assert.deepEqual(read.body.schema, { version: 3 });
});
