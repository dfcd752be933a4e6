/**
 * The fetcher's handling of what the broker answers, with the broker played
 * by the test: topic structure comes from a fake TopicCache (that, like the
 * real one, answers from what it last saw unless asked afresh), and the
 * Kafka client's `fetch` and `metadata` and the fetcher's log-range lookup
 * are stubbed on the instances. The partition streams and the fetch loops
 * are real. Which partition errors move readers, route them again or end
 * them; a failed request backs off; a refusal by the client itself routes
 * again; records that cannot be decoded end only their partition.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { NetworkError, UserError, type Consumer } from '@platformatic/kafka';
import type { GatewayError } from '../../../src/common/errors.js';
import { kafkaErrorCodes } from '../../../src/kafka/client/index.js';
import type { ConsumedRecord } from '../../../src/kafka/consume/consumed-record.js';
import { Fetcher, type TopicStructureSource } from '../../../src/kafka/consume/fetcher.js';
import { PartitionStream, type FetchQueue, type PartitionReader } from '../../../src/kafka/consume/partition-stream.js';
import type { TopicStructure } from '../../../src/kafka/metadata/index.js';
import { quietLogger } from '../../helpers/env.js';

type FetchOptions = Parameters<Consumer['fetch']>[0];
type FetchResponse = Awaited<ReturnType<Consumer['fetch']>>;
type FetchedPartition = FetchResponse['responses'][number]['partitions'][number];

const code = (name: string): number => {
  for (const [id, known] of kafkaErrorCodes) if (known === name) return id;
  throw new Error(`no Kafka error ${name}`);
};

/** One batch of records with empty keys and values, offsets `from` to `to` (exclusive). */
function batch(from: bigint, to: bigint): FetchedPartition['records'] {
  const count = Number(to - from);
  return [
    {
      firstOffset: from,
      length: 0,
      partitionLeaderEpoch: 0,
      magic: 2,
      crc: 0,
      attributes: 0,
      lastOffsetDelta: count - 1,
      firstTimestamp: 0n,
      maxTimestamp: 0n,
      producerId: -1n,
      producerEpoch: -1,
      firstSequence: -1,
      records: Array.from({ length: count }, (_, i) => ({ attributes: 0, timestampDelta: 0n, offsetDelta: i, key: Buffer.from(`k${i}`), value: Buffer.from('v'), headers: [] })),
    },
  ] as unknown as FetchedPartition['records'];
}

/** A batch whose records cannot be read. */
const corrupt = () => [{ firstOffset: 0n, lastOffsetDelta: 0, attributes: 0, records: null }] as unknown as FetchedPartition['records'];

interface FetchCall {
  readonly node: number;
  readonly at: number;
  readonly partitions: ReadonlyArray<{ topicId: string; partition: number; fetchOffset: bigint }>;
}

/** The cluster: one topic `t` (id `id-t`), its leaders, the brokers the client can see, and how fetches are answered. */
class FakeBroker {
  /** Leader of each partition of `t` as the cluster has it now. */
  leaders: number[];
  brokers = new Set([1, 2]);
  logStart = 10n;
  logEnd = 20n;
  readonly fetches: FetchCall[] = [];
  readonly lookups: Array<{ maxAgeMs?: number }> = [];
  cleared = 0;
  /** What the TopicCache last saw: answered again unless asked afresh. */
  #seen?: TopicStructure;
  /** Answers one fetch; by default every partition asked gets three records from its offset. */
  answer: (call: FetchCall) => FetchResponse = (call) => this.respond(call, () => ({}));

  constructor(leaders: number[]) {
    this.leaders = leaders;
  }

  respond(call: FetchCall, each: (p: { partition: number; fetchOffset: bigint }) => Partial<FetchedPartition>): FetchResponse {
    return {
      responses: [
        {
          topicId: 'id-t',
          partitions: call.partitions.map((p) => ({
            partitionIndex: p.partition,
            errorCode: 0,
            highWatermark: p.fetchOffset + 3n,
            records: batch(p.fetchOffset, p.fetchOffset + 3n),
            ...each(p),
          })),
        },
      ],
    } as unknown as FetchResponse;
  }

  source(): TopicStructureSource {
    return {
      structure: async (topic, options) => {
        this.lookups.push({ maxAgeMs: options?.maxAgeMs });
        if (topic !== 't') return undefined;
        if (!this.#seen || options?.maxAgeMs === 0) {
          this.#seen = { name: 't', id: 'id-t', partitions: this.leaders.map((leader, partitionId) => ({ partitionId, leader, replicas: [leader], isr: [leader], offlineReplicas: [] })) };
        }
        return this.#seen;
      },
    };
  }

  fetch(options: FetchOptions): FetchResponse {
    const call: FetchCall = {
      node: options.node,
      at: Date.now(),
      partitions: options.topics.flatMap((topic) => topic.partitions.map((p) => ({ topicId: topic.topicId!, partition: p.partition, fetchOffset: p.fetchOffset }))),
    };
    this.fetches.push(call);
    return this.answer(call);
  }
}

/** One subscription's place in a partition; asks once (no more after its first delivery). */
class Reader implements PartitionReader {
  readonly got: bigint[] = [];
  deliveries = 0;
  failure?: GatewayError;
  constructor(public position: bigint) {}
  deliver(records: readonly ConsumedRecord[], next: bigint): void {
    this.deliveries += 1;
    this.got.push(...records.map((r) => r.offset));
    this.position = next;
  }
  fail(error: GatewayError): void {
    this.failure = error;
  }
}

function setup(t: TestContext, broker: FakeBroker): Fetcher {
  const fetcher = new Fetcher({ clientId: 'fetcher-test', bootstrapBrokers: ['127.0.0.1:1'] }, broker.source(), { maxWaitMs: 10, partitionMaxBytes: 1_000_000 }, quietLogger());
  t.after(() => fetcher.close());
  const client = fetcher.client;
  t.mock.method(client, 'metadata', (async () => ({ brokers: new Map([...broker.brokers].map((nodeId) => [nodeId, { nodeId, host: '127.0.0.1', port: 1 }])) })) as unknown as Consumer['metadata']);
  t.mock.method(client, 'clearMetadata', () => {
    broker.cleared += 1;
  });
  t.mock.method(client, 'fetch', (async (options: FetchOptions) => broker.fetch(options)) as unknown as Consumer['fetch']);
  t.mock.method(fetcher, 'logOffset', async (_topic: string, _partition: number, timestamp: bigint) => (timestamp === -2n ? broker.logStart : broker.logEnd));
  return fetcher;
}

/** A reader of `t`/`partition` at `position`, waiting for records. */
function read(queue: FetchQueue, partition: number, position: bigint): { stream: PartitionStream; reader: Reader } {
  const stream = new PartitionStream('t', partition, queue, { cacheBytes: 100_000, deliveryBytes: 100_000 });
  const reader = new Reader(position);
  stream.attach(reader);
  stream.want(reader);
  return { stream, reader };
}

async function until(what: string, done: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('a reader gets the records its partition leader answers, in one fetch to that leader', async (t) => {
  const broker = new FakeBroker([1]);
  const fetcher = setup(t, broker);
  const { reader } = read(fetcher, 0, 5n);
  await until('the reader has records', () => reader.deliveries > 0);
  assert.deepEqual(reader.got, [5n, 6n, 7n]);
  assert.equal(reader.position, 8n);
  assert.deepEqual(
    broker.fetches.map((f) => [f.node, f.partitions]),
    [[1, [{ topicId: 'id-t', partition: 0, fetchOffset: 5n }]]],
  );
});

test('OFFSET_OUT_OF_RANGE moves readers to the log range: below it to its start, past it to its end', async (t) => {
  const broker = new FakeBroker([1, 1]);
  broker.answer = (call) => broker.respond(call, () => ({ errorCode: code('OFFSET_OUT_OF_RANGE'), highWatermark: -1n, records: [] }));
  const fetcher = setup(t, broker);
  const below = read(fetcher, 0, 2n).reader;
  const past = read(fetcher, 1, 50n).reader;
  await until('both readers moved', () => below.deliveries > 0 && past.deliveries > 0);
  assert.equal(below.position, 10n, 'moved to the log start');
  assert.equal(past.position, 20n, 'moved to the log end');
  assert.deepEqual([below.got, past.got], [[], []]);
  assert.equal(below.failure, undefined);
  assert.equal(past.failure, undefined);
});

test('NOT_LEADER_OR_FOLLOWER routes the partition again after a fresh lookup, to the new leader', async (t) => {
  const broker = new FakeBroker([1]);
  broker.answer = (call) => {
    if (call.node === 1) {
      // The leader moved to broker 2 meanwhile; the cache still says 1.
      broker.leaders = [2];
      return broker.respond(call, () => ({ errorCode: code('NOT_LEADER_OR_FOLLOWER'), highWatermark: -1n, records: [] }));
    }
    return broker.respond(call, () => ({}));
  };
  const fetcher = setup(t, broker);
  const { reader } = read(fetcher, 0, 5n);
  await until('the reader has records', () => reader.deliveries > 0);
  assert.deepEqual(
    broker.fetches.map((f) => f.node),
    [1, 2],
  );
  assert.deepEqual(reader.got, [5n, 6n, 7n]);
  assert.equal(reader.failure, undefined);
  const refused = broker.lookups.findIndex((l) => l.maxAgeMs === 0);
  assert.ok(refused >= 0, 'the structure was asked afresh, not read from the cache');
  assert.ok(broker.cleared > 0, "the client's own metadata was cleared");
});

test('TOPIC_AUTHORIZATION_FAILED ends the readers of that partition with 403, and no more fetches are made for it', async (t) => {
  const broker = new FakeBroker([1, 1]);
  broker.answer = (call) => broker.respond(call, (p) => (p.partition === 0 ? { errorCode: code('TOPIC_AUTHORIZATION_FAILED'), highWatermark: -1n, records: [] } : {}));
  const fetcher = setup(t, broker);
  const refused = read(fetcher, 0, 5n);
  const allowed = read(fetcher, 1, 5n);
  await until('the refused reader ended', () => refused.reader.failure !== undefined);
  await until('the other reader has records', () => allowed.reader.deliveries > 0);
  assert.equal(refused.reader.failure?.code, 'GW_ERR_FORBIDDEN');
  assert.equal(refused.reader.failure?.status, 403);
  assert.equal(refused.stream.readerCount, 0);
  assert.equal(allowed.reader.failure, undefined);
  assert.deepEqual(allowed.reader.got, [5n, 6n, 7n]);
  const fetched = broker.fetches.length;
  fetcher.need(refused.stream);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(broker.fetches.length, fetched, 'the refused partition is not fetched again');
});

test('a failed request backs off and goes again; its readers do not end', async (t) => {
  const broker = new FakeBroker([1]);
  let failures = 2;
  broker.answer = (call) => {
    if (failures > 0) {
      failures -= 1;
      throw new NetworkError('Connection closed');
    }
    return broker.respond(call, () => ({}));
  };
  const fetcher = setup(t, broker);
  const { reader } = read(fetcher, 0, 5n);
  await until('the reader has records', () => reader.deliveries > 0);
  assert.equal(reader.failure, undefined);
  assert.deepEqual(reader.got, [5n, 6n, 7n]);
  assert.equal(broker.fetches.length, 3);
  const [first, second, third] = broker.fetches as [FetchCall, FetchCall, FetchCall];
  // The backoff grows: 100 ms after the first failure, 250 ms after the second (timers may fire a little early).
  assert.ok(second.at - first.at >= 90, `waited ${second.at - first.at} ms after the first failure`);
  assert.ok(third.at - second.at >= 240, `waited ${third.at - second.at} ms after the second failure`);
});

test("a UserError from the client (a broker it does not know) routes the partition again instead of ending its readers", async (t) => {
  const broker = new FakeBroker([1]);
  let refusals = 1;
  broker.answer = (call) => {
    if (refusals > 0) {
      refusals -= 1;
      throw new UserError('Cannot find broker with node id 3');
    }
    return broker.respond(call, () => ({}));
  };
  const fetcher = setup(t, broker);
  const { reader } = read(fetcher, 0, 5n);
  await until('the reader has records', () => reader.deliveries > 0);
  assert.equal(reader.failure, undefined, 'not ended as undecodable');
  assert.deepEqual(reader.got, [5n, 6n, 7n]);
  assert.equal(broker.fetches.length, 2);
  assert.ok(broker.cleared > 0, "the client's metadata was cleared");
  assert.ok(
    broker.lookups.some((l) => l.maxAgeMs === 0),
    'the partition was looked up afresh',
  );
});

test("a leader missing from the client's broker list is not fetched from until a fresh lookup lists it", async (t) => {
  const broker = new FakeBroker([3]);
  const fetcher = setup(t, broker);
  const { reader } = read(fetcher, 0, 5n);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(broker.fetches.length, 0, 'no fetch to a broker the client does not know');
  assert.equal(reader.failure, undefined);
  broker.brokers.add(3);
  await until('the reader has records', () => reader.deliveries > 0);
  assert.deepEqual(
    broker.fetches.map((f) => f.node),
    [3],
  );
  assert.deepEqual(reader.got, [5n, 6n, 7n]);
});

test('records that cannot be decoded end only their own partition’s readers', async (t) => {
  const broker = new FakeBroker([1, 1]);
  broker.answer = (call) => broker.respond(call, (p) => (p.partition === 1 ? { records: corrupt() } : {}));
  const fetcher = setup(t, broker);
  const good = read(fetcher, 0, 5n);
  const bad = read(fetcher, 1, 5n);
  await until('both partitions answered', () => good.reader.deliveries > 0 && bad.reader.failure !== undefined);
  assert.equal(bad.reader.failure?.code, 'GW_ERR_INTERNAL');
  assert.match(bad.reader.failure?.detail ?? '', /t\/1 at offset 5 could not be decoded/);
  assert.equal(good.reader.failure, undefined);
  assert.deepEqual(good.reader.got, [5n, 6n, 7n]);
});

test('an answer the client cannot read at all is fetched again partition by partition, and only the one at fault ends', async (t) => {
  const broker = new FakeBroker([1, 1]);
  broker.answer = (call) => {
    // The client fails on the whole answer whenever partition 1 is in it.
    if (call.partitions.some((p) => p.partition === 1)) throw new Error('unsupported compression codec');
    return broker.respond(call, () => ({}));
  };
  const fetcher = setup(t, broker);
  // Both partitions in one round, as a loop sends them when both wait at once: the streams here ask nobody, the round is sent by hand.
  const good = read({ need: () => undefined }, 0, 5n);
  const bad = read({ need: () => undefined }, 1, 5n);
  const left: PartitionStream[] = [];
  const answered = await fetcher.fetchRound(1, [{ stream: good.stream, from: 5n }, { stream: bad.stream, from: 5n }], (stream) => left.push(stream));
  assert.equal(answered, true, 'no backoff: the answer is settled');
  assert.equal(bad.reader.failure?.code, 'GW_ERR_INTERNAL');
  assert.match(bad.reader.failure?.detail ?? '', /unsupported compression codec/);
  assert.deepEqual(left, [bad.stream], 'only the partition at fault leaves its loop');
  assert.equal(good.reader.failure, undefined);
  assert.deepEqual(good.reader.got, [5n, 6n, 7n]);
  assert.deepEqual(
    broker.fetches.map((f) => f.partitions.map((p) => p.partition)),
    [[0, 1], [0], [1]],
  );
});

test('a reader behind the end of the log is fetched at once on a second connection while a round waits at the broker for new records', async (t) => {
  const broker = new FakeBroker([1, 1]);
  const fetcher = setup(t, broker);
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  t.after(() => release());
  const seen: Array<{ partitions: number[]; maxWaitTime?: number; pool: unknown }> = [];
  let waitingAtEnd = 0;
  t.mock.method(fetcher.client, 'fetch', (async (options: FetchOptions) => {
    broker.fetch(options);
    const call = broker.fetches.at(-1)!;
    seen.push({ partitions: call.partitions.map((p) => p.partition), maxWaitTime: options.maxWaitTime, pool: options.connectionPool });
    if (call.partitions.every((p) => p.partition === 0)) {
      // Partition 0 has nothing past offset 20: once that is known, the broker holds the fetch until records come.
      if (broker.fetches.filter((f) => f.partitions.some((p) => p.partition === 0)).length > 1) {
        waitingAtEnd += 1;
        await held;
      }
      return broker.respond(call, () => ({ highWatermark: 20n, records: [] }));
    }
    return broker.respond(call, () => ({}));
  }) as unknown as Consumer['fetch']);

  const tail = read(fetcher, 0, 20n).reader;
  await until('a round waits at the end of partition 0', () => waitingAtEnd === 1);
  const behind = read(fetcher, 1, 5n).reader;
  await until('the reader behind the end has its records', () => behind.deliveries > 0);
  assert.deepEqual(behind.got, [5n, 6n, 7n]);
  assert.equal(waitingAtEnd, 1, 'the round at the end of partition 0 is still waiting');
  assert.equal(tail.deliveries, 0, 'the reader at the end has had nothing yet');
  const [waiting, catchUp] = [seen.find((s) => s.partitions.includes(0) && seen.indexOf(s) > 0)!, seen.find((s) => s.partitions.includes(1))!];
  assert.deepEqual(catchUp.partitions, [1], 'fetched on its own');
  assert.equal(catchUp.maxWaitTime, 0, 'answered at once');
  assert.notEqual(catchUp.pool, waiting.pool, 'over a connection of its own: a broker answers one request per connection at a time');
  release();
});
