/**
 * Keys land where other clients put them: the gateway places a keyed
 * record on the partition librdkafka's `murmur2_random` (kcat) and Java's
 * default partitioner choose; and the partitioner runs in time linear in
 * the key, so a 900 KB key does not stall the process for other requests.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { before, test } from 'node:test';
import request from 'supertest';
import { murmur2, partitionForKey } from '../src/kafka/produce/murmur2.js';
import { conforms } from './helpers/contract.js';
import { eventually, sharedBrokers, uniqueName } from './helpers/env.js';
import { appFor } from './helpers/scoped.js';
import type { TestGateway } from './helpers/gateway.js';
import { createTopic } from './helpers/kafka.js';
import { readRecords } from './helpers/records.js';

let gw: TestGateway;
before(async (t) => {
  gw = await appFor(t);
});

test("murmur2 matches Java's for known keys", () => {
  // Values from Kafka's own tests (UtilsTest.testMurmur2).
  const cases: Array<[string, number]> = [
    ['21', -973932308],
    ['foobar', -790332482],
    ['a-little-bit-long-string', -985981536],
    ['a-little-bit-longer-string', -1486304829],
    ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
    ['abc', 479470107],
  ];
  for (const [key, expected] of cases) assert.equal(murmur2(Buffer.from(key)), expected, key);
});

test("a few hundred keys land where kcat's murmur2_random puts them, produced through the gateway", async () => {
  const partitions = 13;
  const topic = uniqueName('partitioner');
  await createTopic(sharedBrokers(), topic, partitions);
  const keys = Array.from({ length: 300 }, (_, i) => `key-${i}-${randomBytes(4).toString('hex')}`);
  // librdkafka's murmur2_random is Java's default partitioner for keyed records.
  execFileSync('kcat', ['-P', '-b', sharedBrokers(), '-t', topic, '-K', '\t', '-X', 'partitioner=murmur2_random'], {
    input: keys.map((k) => `${k}\tkcat`).join('\n') + '\n',
  });
  conforms(
    await request(gw.app)
      .post(`/v1/topics/${topic}/records`)
      .send({ records: keys.map((key) => ({ key, value: 'gateway' })) })
      .expect(200),
  );
  const records = await readRecords(topic, keys.length * 2);
  const where = (writer: string) => new Map(records.filter((r) => r.value === writer || r.value === JSON.stringify(writer)).map((r) => [r.key, r.partition]));
  const byKcat = where('kcat');
  const byGateway = where('gateway');
  assert.equal(byKcat.size, keys.length);
  assert.equal(byGateway.size, keys.length);
  for (const key of keys) {
    assert.equal(byGateway.get(key), byKcat.get(key), `key ${key}`);
    assert.equal(byKcat.get(key), partitionForKey(Buffer.from(key), partitions), `key ${key}`);
  }
  assert.ok(new Set(byKcat.values()).size > partitions / 2, 'the keys spread over the partitions');
});

test('a 900 KB key is placed in time linear in its size: the event loop keeps serving others meanwhile', async () => {
  const topic = uniqueName('big-key');
  await createTopic(sharedBrokers(), topic, 3, [{ name: 'max.message.bytes', value: String(2 * 1024 * 1024) }]);
  const key = 'k'.repeat(900 * 1024);
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  const healthy: number[] = [];
  const probing = (async () => {
    for (let i = 0; i < 20; i++) {
      const res = await request(gw.app).get('/healthz');
      healthy.push(res.status);
    }
  })();
  const produced = conforms(await request(gw.app).post(`/v1/topics/${topic}/records`).send({ records: [{ key, value: 1 }] }).expect(200));
  await probing;
  delay.disable();
  assert.equal(produced.body.offsets[0].partition, partitionForKey(Buffer.from(key), 3));
  assert.deepEqual([...new Set(healthy)], [200]);
  // Before, one such key blocked the process for minutes (BigInt arithmetic growing with every four bytes).
  const maxMs = delay.max / 1e6;
  assert.ok(maxMs < 1000, `the event loop was blocked for ${maxMs.toFixed(0)} ms`);
  await eventually(async () => (await readRecords(topic, 1)).length === 1);
});
