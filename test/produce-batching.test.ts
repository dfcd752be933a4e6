/**
 * The produce accumulator on its own, with a broker stand-in whose answers
 * the test releases: one batch with the broker at a time, everything that
 * arrives meanwhile goes together in the next, each caller gets its own
 * offsets, and a failed batch puts the next under a new producer id.
 * Pure logic; the real broker paths are in produce*.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { OutgoingRecord, TopicCache } from '../src/kafka/index.js';
import { ProduceService } from '../src/kafka/produce/producer.js';
import type { PartitionResult, ProducerSession, WireRecord } from '../src/kafka/produce/producer-session.js';
import { eventually, quietLogger, testConfig } from './helpers/env.js';

interface Call {
  readonly records: readonly WireRecord[];
  answer(refused?: readonly number[]): void;
  /** Answers exactly this, whatever was sent. */
  answerWith(results: PartitionResult[]): void;
  fail(error: Error): void;
}

/** A producer session whose broker the test plays: one partition, offsets counted from 0. */
function fakeBroker() {
  const calls: Call[] = [];
  let nextOffset = 0;
  let renewals = 0;
  const producer = {
    send: (records: readonly WireRecord[]) =>
      new Promise<PartitionResult[]>((resolve, reject) => {
        calls.push({
          records,
          answer: (refused = []) => {
            if (refused.length > 0) {
              // The broker refuses the partition's whole batch, naming the records at fault.
              resolve([{ topic: 't', partition: 0, error: 'INVALID_TIMESTAMP', errorMessage: null, refusedRecords: refused, baseOffset: -1n, logAppendTime: -1n }]);
              return;
            }
            const baseOffset = BigInt(nextOffset);
            nextOffset += records.length;
            resolve([{ topic: 't', partition: 0, refusedRecords: [], baseOffset, logAppendTime: -1n }]);
          },
          answerWith: resolve,
          fail: reject,
        });
      }),
  } as unknown as ProducerSession;
  const connection = {
    producer,
    renewProducer: async () => {
      renewals += 1;
    },
  };
  return { calls, connection, renewals: () => renewals };
}

// The service needs only get() of the topic cache: one topic, one partition.
const topics = {
  get: async () => ({ name: 't', partitions: [{ partitionId: 0, leader: 0, replicas: [0], isr: [0], partitionErrorCode: 0 }], maxMessageBytes: 1_000_000, timestamps: { type: 'CreateTime', beforeMaxMs: Infinity, afterMaxMs: Infinity } }),
} as unknown as TopicCache;

const record = (n: number) => ({ key: null, value: Buffer.from(String(n)), partition: 0 });
/** Checks and sends, as the record pipeline does. */
const produce = async (service: ProduceService, topic: string, records: readonly OutgoingRecord[]) => service.send(await service.check(topic, records));
const turns = async (n = 3) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

test('while a batch is with the broker, arrivals wait and then go together, each with its own offsets', async () => {
  const broker = fakeBroker();
  const service = new ProduceService(broker.connection, topics, testConfig({ PRODUCE_LINGER_MS: '0' }, 'localhost:9092').produce, quietLogger());

  const first = produce(service, 't', [record(0)]);
  await turns();
  assert.equal(broker.calls.length, 1);

  // Arrivals spread over several turns of the event loop, as concurrent HTTP requests are.
  const later: Array<ReturnType<typeof produce>> = [];
  for (let i = 0; i < 10; i++) {
    later.push(produce(service, 't', [record(i + 1), record(i + 100)]));
    await turns(1);
  }
  await turns();
  assert.equal(broker.calls.length, 1, 'nothing else goes to the broker while a batch is there');

  broker.calls[0]!.answer();
  assert.deepEqual((await first).map((r) => r.offset), ['0']);
  await turns();
  assert.equal(broker.calls.length, 2, 'everything that arrived meanwhile goes in one batch');
  assert.equal(broker.calls[1]!.records.length, 20);

  broker.calls[1]!.answer();
  const offsets = (await Promise.all(later)).map((produced) => produced.map((r) => r.offset));
  assert.deepEqual(offsets, Array.from({ length: 10 }, (_, i) => [String(1 + 2 * i), String(2 + 2 * i)]));
});

test('a failed batch fails its callers only, and the next batch goes under a new producer id', async () => {
  const broker = fakeBroker();
  const service = new ProduceService(broker.connection, topics, testConfig({ PRODUCE_LINGER_MS: '0' }, 'localhost:9092').produce, quietLogger());

  const failing = produce(service, 't', [record(1)]);
  await turns();
  const waiting = produce(service, 't', [record(2)]);
  await turns();
  broker.calls[0]!.fail(new Error('connection reset'));
  await assert.rejects(failing, (error: { code?: string; status?: number }) => error.code === 'GW_ERR_KAFKA_UNAVAILABLE' && error.status === 503);
  await turns();
  assert.equal(broker.renewals(), 1, 'a new producer id before the next batch');
  assert.equal(broker.calls.length, 2);
  broker.calls[1]!.answer();
  assert.deepEqual((await waiting).map((r) => r.offset), ['0']);
  await service.drain();
});

test('with coalescing off, every request is a batch of its own, still one at a time', async () => {
  const broker = fakeBroker();
  const service = new ProduceService(broker.connection, topics, testConfig({ PRODUCE_COALESCE: 'false' }, 'localhost:9092').produce, quietLogger());
  const sends = [produce(service, 't', [record(1)]), produce(service, 't', [record(2), record(3)]), produce(service, 't', [record(4)])];
  for (const size of [1, 2, 1]) {
    await turns();
    const call = broker.calls.at(-1)!;
    assert.equal(call.records.length, size);
    call.answer();
  }
  assert.deepEqual((await Promise.all(sends)).map((produced) => produced.map((r) => r.offset)), [['0'], ['1', '2'], ['3']]);
  assert.equal(broker.calls.length, 3);
});

test('records the broker refuses fail only the caller who sent them; the rest of the shared batch goes again under the same producer id', async () => {
  const broker = fakeBroker();
  const service = new ProduceService(broker.connection, topics, testConfig({ PRODUCE_LINGER_MS: '0' }, 'localhost:9092').produce, quietLogger());

  const first = produce(service, 't', [record(0)]);
  await turns();
  // Three callers wait while the first batch is with the broker, then share the next one.
  const good1 = produce(service, 't', [record(1)]);
  const bad = produce(service, 't', [{ key: null, value: Buffer.from('bad'), partition: 0 }]);
  // Handled at once: it rejects while the later callers are still being answered.
  const refused = bad.then(() => undefined, (error: unknown) => error);
  const good2 = produce(service, 't', [record(2), record(3)]);
  await turns();
  broker.calls[0]!.answer();
  await first;
  await turns();
  assert.equal(broker.calls.length, 2);
  assert.equal(broker.calls[1]!.records.length, 4, 'the three callers share one batch');
  const badIndex = broker.calls[1]!.records.findIndex((r) => String(r.value) === 'bad');
  broker.calls[1]!.answer([badIndex]);

  await turns(10);
  assert.equal(broker.calls.length, 3, 'the others go again, in one batch');
  assert.deepEqual(broker.calls[2]!.records.map((r) => String(r.value)), ['1', '2', '3']);
  broker.calls[2]!.answer();
  assert.deepEqual(
    (({ code, status, retriable }) => ({ code, status, retriable }))((await refused) as { code?: string; status?: number; retriable?: boolean }),
    { code: 'GW_ERR_VALIDATION', status: 400, retriable: false },
  );
  assert.deepEqual((await good1).map((r) => r.offset), ['1']);
  assert.deepEqual((await good2).map((r) => r.offset), ['2', '3']);
  assert.equal(broker.renewals(), 0, 'a clear answer keeps the producer id');
  await service.drain();
});

// Two partitions, for answers that leave one out.
const twoPartitions = {
  get: async () => ({
    name: 't',
    partitions: [0, 1].map((partitionId) => ({ partitionId, leader: 0, replicas: [0], isr: [0], partitionErrorCode: 0 })),
    maxMessageBytes: 1_000_000,
    timestamps: { type: 'CreateTime', beforeMaxMs: Infinity, afterMaxMs: Infinity },
  }),
} as unknown as TopicCache;

test('an answer that leaves out a partition that was sent acknowledges nothing of it: its callers get 503 and the next batch goes under a new producer id', async () => {
  // Seen on a 3-node cluster at a broker's SIGTERM: a 2-record request answered 200 with one offset, its record 0 lost.
  const broker = fakeBroker();
  const service = new ProduceService(broker.connection, twoPartitions, testConfig({ PRODUCE_LINGER_MS: '0' }, 'localhost:9092').produce, quietLogger());
  const split = produce(service, 't', [{ ...record(0), partition: 0 }, { ...record(1), partition: 1 }]);
  const onlyLanded = produce(service, 't', [{ ...record(2), partition: 1 }]);
  const outcome = split.then(
    (produced) => ({ produced }),
    (error: { code?: string; status?: number }) => ({ code: error.code, status: error.status }),
  );
  await turns();
  assert.equal(broker.calls.length, 1);
  assert.equal(broker.calls[0]!.records.length, 3);
  broker.calls[0]!.answerWith([{ topic: 't', partition: 1, refusedRecords: [], baseOffset: 7n, logAppendTime: -1n }]);
  assert.deepEqual(await outcome, { code: 'GW_ERR_KAFKA_UNAVAILABLE', status: 503 });
  assert.deepEqual((await onlyLanded).map((r) => `${r.partition}@${r.offset}`), ['1@8'], 'a caller whose records were all answered is answered');
  const next = produce(service, 't', [{ ...record(3), partition: 0 }]);
  await turns();
  assert.equal(broker.renewals(), 1, 'a new producer id before the next batch');
  broker.calls[1]!.answer();
  assert.equal((await next).length, 1);
  await service.drain();
});

test('an answer for no partition at all settles no caller as produced', async () => {
  const broker = fakeBroker();
  const service = new ProduceService(broker.connection, twoPartitions, testConfig({ PRODUCE_LINGER_MS: '0' }, 'localhost:9092').produce, quietLogger());
  const sent = produce(service, 't', [{ ...record(0), partition: 0 }, { ...record(1), partition: 1 }]);
  const outcome = sent.then(
    () => 'produced',
    (error: { status?: number }) => error.status,
  );
  await turns();
  broker.calls[0]!.answerWith([]);
  assert.equal(await outcome, 503);
  await service.drain();
});

test('a partition whose leader was sent nothing goes again under the same producer id, while the records of the leaders that answered are settled', async () => {
  // What the session answers for a leader it could not reach or a partition with no leader yet (producer-session.ts).
  const broker = fakeBroker();
  const service = new ProduceService(broker.connection, twoPartitions, testConfig({ PRODUCE_LINGER_MS: '0' }, 'localhost:9092').produce, quietLogger());
  const both = produce(service, 't', [{ ...record(0), partition: 0 }, { ...record(1), partition: 1 }]);
  await turns();
  broker.calls[0]!.answerWith([
    { topic: 't', partition: 0, error: 'LEADER_NOT_AVAILABLE', errorMessage: 'connect ECONNREFUSED', refusedRecords: [], baseOffset: -1n, logAppendTime: -1n },
    { topic: 't', partition: 1, refusedRecords: [], baseOffset: 4n, logAppendTime: -1n },
  ]);
  await turns(20);
  await eventually(async () => broker.calls.length === 2, 5000, 10);
  assert.deepEqual(broker.calls[1]!.records.map((r) => [r.partition, String(r.value)]), [[0, '0']], 'only the record that was not sent goes again');
  broker.calls[1]!.answerWith([{ topic: 't', partition: 0, refusedRecords: [], baseOffset: 9n, logAppendTime: -1n }]);
  assert.deepEqual((await both).map((r) => `${r.partition}@${r.offset}`), ['0@9', '1@4']);
  assert.equal(broker.renewals(), 0, 'nothing unclear happened: the same producer id');
  await service.drain();
});
