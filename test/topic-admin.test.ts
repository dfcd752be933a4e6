/**
 * Topic administration that Kafka accepted answers success, even when the
 * change is large: a create with 100 partitions and a raise of the count
 * both answer 2xx at once (never 503 after the change was applied, which
 * would send a client into a retry that then gets 409 or 400), and the
 * answer describes every partition with its leader and offsets.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import request from 'supertest';
import { conforms } from './helpers/contract.js';
import { sharedBrokers, uniqueName } from './helpers/env.js';
import { appFor } from './helpers/scoped.js';
import type { TestGateway } from './helpers/gateway.js';
import { deleteTopics, withAdmin } from './helpers/kafka.js';

let gw: TestGateway;
const created: string[] = [];

before(async (t) => {
  gw = await appFor(t);
});
after(async () => {
  await deleteTopics(sharedBrokers(), created);
});

interface PartitionBody {
  readonly partition: number;
  readonly leader: number | null;
  readonly earliestOffset: string;
  readonly latestOffset: string;
}

function assertComplete(body: { partitionCount: number; partitions: PartitionBody[] }, count: number): void {
  assert.equal(body.partitionCount, count);
  assert.deepEqual(
    body.partitions.map((p) => p.partition),
    Array.from({ length: count }, (_, i) => i),
  );
  for (const p of body.partitions) {
    assert.equal(typeof p.leader, 'number', `partition ${p.partition} is described with its leader`);
    assert.equal(p.earliestOffset, '0');
    assert.equal(p.latestOffset, '0');
  }
}

test('creating a topic with 100 partitions answers 201 with all of them, and the broker has them', async () => {
  const name = uniqueName('wide');
  created.push(name);
  const res = conforms(await request(gw.app).post('/v1/topics').send({ name, partitions: 100 }));
  assert.equal(res.status, 201, `the broker created the topic, so the answer is 201: ${JSON.stringify(res.body)}`);
  assertComplete(res.body, 100);
  const { topics } = await withAdmin(sharedBrokers(), (admin) => admin.fetchTopicMetadata({ topics: [name] }));
  assert.equal(topics[0]?.partitions.length, 100);
});

test('raising a partition count twice answers 200 each time with the new partitions', async () => {
  const name = uniqueName('raised');
  created.push(name);
  conforms(await request(gw.app).post('/v1/topics').send({ name, partitions: 6 }).expect(201));
  for (const count of [12, 60]) {
    const res = conforms(await request(gw.app).post(`/v1/topics/${name}/partitions`).send({ partitions: count }));
    assert.equal(res.status, 200, `the broker added the partitions, so the answer is 200: ${JSON.stringify(res.body)}`);
    assertComplete(res.body, count);
  }
  const { topics } = await withAdmin(sharedBrokers(), (admin) => admin.fetchTopicMetadata({ topics: [name] }));
  assert.equal(topics[0]?.partitions.length, 60);
});
