/**
 * Queues over plain HTTP on the real broker: take records of a share group
 * (a long poll), answer them by receipt; a released record comes back
 * counted twice; an answer that lands on another gateway instance changes
 * nothing and the record comes back after its lock; settings are group
 * configs; groups are listed and described with their lag.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import request from 'supertest';
import type { Admin, Producer } from './helpers/kafka-client.js';
import type { TestGateway } from './helpers/gateway.js';
import { conforms } from './helpers/contract.js';
import { uniqueName } from './helpers/env.js';
import { adminFor, appFor, producerFor } from './helpers/scoped.js';

let admin: Admin;
let producer: Producer;
let gw: TestGateway;
let other: TestGateway;

before(async (t) => {
  admin = await adminFor(t);
  producer = await producerFor(t);
  gw = await appFor(t);
  other = await appFor(t);
});

interface Taken {
  receipt: string;
  deliveryCount: number;
  offset: string;
  value: unknown;
  lockExpiresAt: number;
}

async function queue(count: number): Promise<{ topic: string; group: string }> {
  const topic = uniqueName('hq');
  const group = uniqueName('hworkers');
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
  if (count > 0) await producer.send({ topic, messages: Array.from({ length: count }, (_, i) => ({ value: `v${i}` })) });
  conforms(await request(gw.app).patch(`/v1/share-groups/${group}`).send({ autoOffsetReset: 'earliest', lockDurationMs: 2000 }).expect(200));
  return { topic, group };
}

async function take(app: TestGateway, group: string, body: Record<string, unknown>): Promise<{ records: Taken[]; instance: string; lockDurationMs: number }> {
  const res = conforms(await request(app.app).post(`/v1/share-groups/${group}/take`).send(body).expect(200));
  assert.equal(res.headers['x-gateway-instance'], res.body.instance);
  return res.body as { records: Taken[]; instance: string; lockDurationMs: number };
}

async function takeUntil(app: TestGateway, group: string, topic: string, count: number): Promise<Taken[]> {
  const all: Taken[] = [];
  for (let i = 0; i < 20 && all.length < count; i++) all.push(...(await take(app, group, { topics: [topic], max: count - all.length, waitMs: 2000 })).records);
  return all;
}

test('take, release, take again with delivery count 2, accept; settings are the group configs', async () => {
  const { topic, group } = await queue(3);
  const first = await takeUntil(gw, group, topic, 3);
  assert.deepEqual(
    first.map((r) => [r.value, r.deliveryCount]),
    [
      ['v0', 1],
      ['v1', 1],
      ['v2', 1],
    ],
  );
  const answered = conforms(
    await request(gw.app)
      .post(`/v1/share-groups/${group}/answers`)
      .send({ answers: [{ receipt: first[0]!.receipt, outcome: 'release' }, { receipt: first[1]!.receipt, outcome: 'accept' }, { receipt: first[2]!.receipt, outcome: 'accept' }] })
      .expect(200),
  );
  assert.equal(answered.body.failed, 0);
  const again = await takeUntil(gw, group, topic, 1);
  assert.deepEqual([again[0]!.value, again[0]!.deliveryCount], ['v0', 2]);
  // The same receipt twice: the second finds nothing held.
  const twice = conforms(
    await request(gw.app)
      .post(`/v1/share-groups/${group}/answers`)
      .send({ answers: [{ receipt: again[0]!.receipt, outcome: 'accept' }, { receipt: again[0]!.receipt, outcome: 'accept' }, { receipt: 'not-a-receipt', outcome: 'accept' }] })
      .expect(200),
  );
  assert.deepEqual(
    twice.body.results.map((r: { ok: boolean; status?: number }) => [r.ok, r.status]),
    [
      [true, undefined],
      [false, 404],
      [false, 400],
    ],
  );
  // An empty queue answers after the wait with no records.
  assert.deepEqual((await take(gw, group, { topics: [topic], waitMs: 300 })).records, []);

  const settings = conforms(await request(gw.app).patch(`/v1/share-groups/${group}`).send({ deliveryLimit: 3 }).expect(200));
  assert.equal(settings.body.settings.deliveryLimit, '3');
  assert.equal(settings.body.settings.lockDurationMs, '2000');
  assert.equal(settings.body.deadLetters, 'broker');
  const refused = conforms(await request(gw.app).patch(`/v1/share-groups/${group}`).send({ lockDurationMs: 10 }).expect(400));
  assert.equal(refused.body.code, 'GW_ERR_VALIDATION');
  conforms(await request(gw.app).patch(`/v1/share-groups/${group}`).send({ lockDurationMs: null }).expect(200));
});

test('an answer that lands on another gateway instance changes nothing; the record comes back after its lock', async () => {
  const { topic, group } = await queue(1);
  const [taken] = await takeUntil(gw, group, topic, 1);
  const elsewhere = conforms(await request(other.app).post(`/v1/share-groups/${group}/answers`).send({ answers: [{ receipt: taken!.receipt, outcome: 'accept' }] }).expect(200));
  assert.equal(elsewhere.body.results[0].status, 409);
  assert.match(elsewhere.body.results[0].detail, /lock expires/);
  const back = await takeUntil(other, group, topic, 1);
  assert.equal(back[0]!.value, 'v0');
  assert.equal(back[0]!.deliveryCount, 2);
  const done = conforms(await request(other.app).post(`/v1/share-groups/${group}/answers`).send({ answers: [{ receipt: back[0]!.receipt, outcome: 'accept' }] }).expect(200));
  assert.equal(done.body.failed, 0);
});

test('a worker that hangs up during its long poll takes nothing: the records go to the next take, first delivery', async () => {
  const { topic, group } = await queue(0);
  // Joins the group and waits; the caller gives up after 300 ms.
  await assert.rejects(request(gw.app).post(`/v1/share-groups/${group}/take`).send({ topics: [topic], waitMs: 10_000 }).timeout(300));
  await producer.send({ topic, messages: [{ value: 'late' }] });
  const [taken] = await takeUntil(gw, group, topic, 1);
  assert.deepEqual([taken!.value, taken!.deliveryCount], ['late', 1]);
  conforms(await request(gw.app).post(`/v1/share-groups/${group}/answers`).send({ answers: [{ receipt: taken!.receipt, outcome: 'accept' }] }).expect(200));
});

test('share groups are listed and described with members, start offsets and lag', async () => {
  const { topic, group } = await queue(4);
  const taken = await takeUntil(gw, group, topic, 2);
  conforms(await request(gw.app).post(`/v1/share-groups/${group}/answers`).send({ answers: taken.map((t) => ({ receipt: t.receipt, outcome: 'accept' })) }).expect(200));
  const list = conforms(await request(gw.app).get('/v1/share-groups').expect(200));
  assert.ok(list.body.groups.some((g: { groupId: string }) => g.groupId === group));
  const detail = conforms(await request(gw.app).get(`/v1/share-groups/${group}`).expect(200));
  assert.equal(detail.body.groupId, group);
  assert.ok(detail.body.members.some((m: { topics: string[] }) => m.topics.includes(topic)));
  assert.ok(detail.body.partitions.some((p: { topic: string }) => p.topic === topic));
  conforms(await request(gw.app).get(`/v1/share-groups/${uniqueName('nobody')}`).expect(404));
  // Bad requests are problems naming what to fix.
  const bad = conforms(await request(gw.app).post(`/v1/share-groups/${group}/take`).send({ topics: [], max: 0 }).expect(400));
  assert.equal(bad.body.code, 'GW_ERR_VALIDATION');
  conforms(await request(gw.app).post(`/v1/share-groups/${group}/take`).send({ topics: ['no-such-topic-at-all'] }).expect(404));
});
