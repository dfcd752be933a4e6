/**
 * The shared partition stream as pure logic, with the fetch machinery
 * played by the test: readers at one offset share a fetch, each reader gets
 * records from its own position, a reader behind the cache asks for its own
 * offset, and what every reader passed is released.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ConsumedRecord } from '../src/kafka/consume/consumed-record.js';
import { PartitionStream, type FetchQueue, type PartitionReader } from '../src/kafka/consume/partition-stream.js';
import { GatewayError } from '../src/common/errors.js';

class Queue implements FetchQueue {
  needs = 0;
  need(): void {
    this.needs += 1;
  }
}

class Reader implements PartitionReader {
  readonly got: bigint[] = [];
  failure?: GatewayError;
  constructor(
    public position: bigint,
    private readonly stream: PartitionStream,
    private readonly again = true,
  ) {}
  deliver(records: readonly ConsumedRecord[], next: bigint): void {
    assert.ok(records.every((r) => r.offset >= this.position), 'never a record before the reader position');
    this.got.push(...records.map((r) => r.offset));
    this.position = next;
    if (this.again) this.stream.want(this);
  }
  fail(error: GatewayError): void {
    this.failure = error;
  }
}

const record = (offset: bigint, size = 100): ConsumedRecord => ({ topic: 't', partition: 0, offset, timestamp: 0, key: null, keyId: null, value: null, headers: [], size });
const run = (from: number, to: number, size = 100) => ({
  records: Array.from({ length: to - from }, (_, i) => record(BigInt(from + i), size)),
  next: BigInt(to),
});
const tick = () => new Promise((r) => setImmediate(r));

test('readers at one offset share one fetch and both get every record once', async () => {
  const queue = new Queue();
  const stream = new PartitionStream('t', 0, queue, { cacheBytes: 10_000, deliveryBytes: 10_000 });
  const a = new Reader(5n, stream);
  const b = new Reader(5n, stream);
  for (const r of [a, b]) {
    stream.attach(r);
    stream.want(r);
  }
  await tick();
  assert.equal(stream.nextFetchOffset(), 5n);
  stream.fetched(5n, run(5, 8), 8n);
  await tick();
  assert.deepEqual(a.got, [5n, 6n, 7n]);
  assert.deepEqual(b.got, [5n, 6n, 7n]);
  // Both now wait at 8, for one fetch.
  assert.equal(stream.nextFetchOffset(), 8n);
  // Everyone has passed 5..7: nothing is held for them.
  assert.equal(stream.cachedBytes, 0);
});

test('a fetch that brings records before the asked offset hands out only those from it', async () => {
  const stream = new PartitionStream('t', 0, new Queue(), { cacheBytes: 10_000, deliveryBytes: 10_000 });
  const r = new Reader(7n, stream, false);
  stream.attach(r);
  stream.want(r);
  await tick();
  // A batch holds 5..9: the broker returns it whole.
  stream.fetched(7n, { records: run(5, 10).records.filter((x) => x.offset >= 7n), next: 10n }, 10n);
  assert.deepEqual(r.got, [7n, 8n, 9n]);
  assert.equal(r.position, 10n);
});

test('a paused reader keeps what it needs cached; behind the budget it fetches its own offset', async () => {
  const queue = new Queue();
  const stream = new PartitionStream('t', 0, queue, { cacheBytes: 1_000, deliveryBytes: 10_000 });
  const fast = new Reader(0n, stream);
  const slow = new Reader(0n, stream, false);
  stream.attach(fast);
  stream.attach(slow);
  stream.want(fast);
  await tick();
  stream.fetched(0n, run(0, 5), 5n); // 500 bytes: within the budget, kept for the slow reader
  await tick();
  assert.deepEqual(fast.got, [0n, 1n, 2n, 3n, 4n]);
  assert.equal(stream.cachedBytes, 500);
  stream.want(slow);
  await tick();
  assert.deepEqual(slow.got, [0n, 1n, 2n, 3n, 4n], 'served from the cache, with no fetch of its own');
  assert.equal(stream.nextFetchOffset(), 5n, 'only the fast reader waits, at 5');
  stream.fetched(5n, run(5, 20), 20n);
  stream.fetched(20n, run(20, 30), 30n); // 2,500 bytes held for the slow reader: the oldest run goes
  await tick();
  assert.ok(stream.cachedBytes <= 1_000, `cache ${stream.cachedBytes} within its budget`);
  stream.want(slow);
  await tick();
  assert.deepEqual(slow.got.length, 5, 'nothing for it in the cache');
  // The fast reader waits at the end of the log (30) since before; the slow one's offset is in the log, so it goes first.
  assert.equal(stream.nextFetchOffset(), 5n, 'the slow reader asks for its own offset');
  stream.fetched(5n, run(5, 20), 20n);
  assert.deepEqual(slow.got, Array.from({ length: 20 }, (_, i) => BigInt(i)));
});

test('readers at different offsets in the log take turns', async () => {
  const stream = new PartitionStream('t', 0, new Queue(), { cacheBytes: 0, deliveryBytes: 10_000 });
  const a = new Reader(0n, stream, false);
  const b = new Reader(50n, stream, false);
  for (const r of [a, b]) stream.attach(r);
  stream.fetched(100n, { records: [], next: 100n }, 100n); // the log ends at 100
  stream.want(a);
  stream.want(b);
  await tick();
  assert.equal(stream.nextFetchOffset(), 0n);
  // A fetch at 0 that brought nothing new for it yet (a slow broker): b gets its turn before a again.
  stream.fetched(0n, { records: [], next: 0n }, 100n);
  assert.equal(stream.nextFetchOffset(), 50n);
});

test('one delivery is at most one fetch worth of bytes', async () => {
  const stream = new PartitionStream('t', 0, new Queue(), { cacheBytes: 100_000, deliveryBytes: 250 });
  const r = new Reader(0n, stream, false);
  stream.attach(r);
  stream.want(r);
  await tick();
  stream.fetched(0n, run(0, 10), 10n);
  assert.deepEqual(r.got, [0n, 1n]);
  stream.want(r);
  await tick();
  assert.deepEqual(r.got, [0n, 1n, 2n, 3n]);
});

test('markers and compacted gaps move a reader on without records', async () => {
  const stream = new PartitionStream('t', 0, new Queue(), { cacheBytes: 10_000, deliveryBytes: 10_000 });
  const r = new Reader(3n, stream, false);
  stream.attach(r);
  stream.want(r);
  await tick();
  stream.fetched(3n, { records: [], next: 6n }, 6n);
  assert.deepEqual(r.got, []);
  assert.equal(r.position, 6n);
});

test('an offset outside the log moves the readers waiting there to its nearest end', async () => {
  const stream = new PartitionStream('t', 0, new Queue(), { cacheBytes: 10_000, deliveryBytes: 10_000 });
  const below = new Reader(2n, stream, false);
  const above = new Reader(90n, stream, false);
  for (const r of [below, above]) {
    stream.attach(r);
    stream.want(r);
  }
  await tick();
  stream.outOfRange(2n, 10n, 50n);
  stream.outOfRange(90n, 10n, 50n);
  assert.equal(below.position, 10n);
  assert.equal(above.position, 50n);
});

test('a failed stream ends its readers and any that attach later', async () => {
  const stream = new PartitionStream('t', 0, new Queue(), { cacheBytes: 10_000, deliveryBytes: 10_000 });
  const r = new Reader(0n, stream);
  stream.attach(r);
  stream.fail(new GatewayError('GW_ERR_TOPIC_NOT_FOUND', 'gone'));
  assert.equal(r.failure?.code, 'GW_ERR_TOPIC_NOT_FOUND');
  const late = new Reader(0n, stream);
  stream.attach(late);
  await tick();
  assert.equal(late.failure?.code, 'GW_ERR_TOPIC_NOT_FOUND');
  assert.equal(stream.readerCount, 0);
});

test('a reader that detaches releases what only it held', async () => {
  const stream = new PartitionStream('t', 0, new Queue(), { cacheBytes: 10_000, deliveryBytes: 10_000 });
  const a = new Reader(0n, stream, false);
  const b = new Reader(0n, stream, false);
  stream.attach(a);
  stream.attach(b);
  stream.want(a);
  await tick();
  stream.fetched(0n, run(0, 5), 5n);
  assert.equal(stream.cachedBytes, 500, 'held for b');
  stream.detach(b);
  stream.want(a);
  await tick();
  stream.fetched(5n, run(5, 6), 6n);
  assert.equal(stream.cachedBytes, 0);
});
