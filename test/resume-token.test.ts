/**
 * Resume tokens without a broker: the writer an event stream uses for the
 * ids of a batch makes, byte for byte, the tokens encodeResumeToken makes
 * of the same positions; and an event stream's ids are the tokens of the
 * positions after each of its events (every partition at the offset after
 * its last record written, or past records the key filter left out).
 */
import assert from 'node:assert/strict';
import { createServer, get, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import type { ConsumedRecord, PartitionHandle, SubscriptionEngine } from '../src/kafka/index.js';
import { decodeResumeToken, encodeResumeToken, EventStreams } from '../src/sse/index.js';
import { ResumeTokenWriter } from '../src/sse/resume-token.js';
import { quietLogger } from './helpers/env.js';

test('the writer makes the tokens encodeResumeToken makes, as partitions move one at a time', () => {
  // A fixed generator, so that a failure can be replayed.
  let seed = 7;
  const random = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const offsets = [0n, 1n, 127n, 128n, 16_383n, 16_384n, 2n ** 21n, 2n ** 35n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 53n + 1n, 2n ** 63n - 1n];
  for (const partitions of [[0], [2, 0, 1], [12, 3, 200, 7, 128, 1, 16_384, 5], Array.from({ length: 300 }, (_, i) => 299 - i)]) {
    const positions = new Map(partitions.map((p) => [p, offsets[random(offsets.length)]!] as const));
    const writer = new ResumeTokenWriter('orders', positions);
    assert.equal(writer.token(), encodeResumeToken('orders', positions));
    for (let step = 0; step < 2000; step++) {
      const partition = partitions[random(partitions.length)]!;
      // Mostly small steps forward, sometimes a varint boundary or a jump back (a seek).
      const offset = random(4) === 0 ? offsets[random(offsets.length)]! : positions.get(partition)! + BigInt(random(200));
      positions.set(partition, offset);
      writer.set(partition, offset);
      const token = writer.token();
      assert.equal(token, encodeResumeToken('orders', positions), `step ${step}`);
      if (step % 100 === 0) assert.deepEqual(decodeResumeToken('orders', token), positions);
    }
    // A partition the token does not name stays out, as it would from the Map.
    writer.set(99_999, 5n);
    assert.equal(writer.token(), encodeResumeToken('orders', positions));
  }
  assert.equal(new ResumeTokenWriter('orders', []).token(), encodeResumeToken('orders', new Map()));
  assert.equal(new ResumeTokenWriter('ordres', [[0, 1n]]).token(), encodeResumeToken('ordres', new Map([[0, 1n]])));
});

/** A held partition as the subscription keeps it: `passed` moves as records are written and, at the end of a batch, past what the filter left out. */
class FakeHandle implements PartitionHandle {
  readonly held = true;
  readonly topic = 'orders';
  delivered = -1n;
  #handed = -1n;
  #passTo: bigint | undefined;

  constructor(
    readonly partition: number,
    public passed: bigint,
    private readonly onWritten: (handle: FakeHandle, offset: bigint) => void,
  ) {}

  /** Hands `offsets` on (the ones the filter kept) from a batch that ends before `next`. */
  deliver(offsets: readonly bigint[], next: bigint): ConsumedRecord[] {
    if (offsets.length > 0) this.#handed = offsets.at(-1)!;
    this.#passTo = next;
    this.#pass();
    return offsets.map((offset) => ({ topic: this.topic, partition: this.partition, offset, timestamp: 0, key: Buffer.from('k'), keyId: 'k', value: Buffer.from(`${offset}`), headers: [], size: 100 }));
  }

  written(offset: bigint): void {
    this.onWritten(this, offset);
    if (offset > this.delivered) this.delivered = offset;
    if (offset + 1n > this.passed) this.passed = offset + 1n;
    this.#pass();
  }

  #pass(): void {
    if (this.#passTo === undefined || this.delivered < this.#handed) return;
    if (this.#passTo > this.passed) this.passed = this.#passTo;
    this.#passTo = undefined;
  }
}

test('an event stream\'s ids are the tokens encodeResumeToken makes of its positions after each event, records interleaved across partitions', async (t) => {
  // Each record's id is made just before the record counts as written: what every partition had passed then, with the offset after this record.
  const expected: string[] = [];
  const sent = new Map<number, bigint>();
  const handles: FakeHandle[] = [];
  const onWritten = (handle: FakeHandle, offset: bigint) => {
    sent.set(handle.partition, offset + 1n);
    const positions = new Map(handles.map((h) => [h.partition, (sent.get(h.partition) ?? 0n) > h.passed ? sent.get(h.partition)! : h.passed] as const));
    expected.push(encodeResumeToken('orders', positions));
  };
  handles.push(new FakeHandle(3, 0n, onWritten), new FakeHandle(0, 120n, onWritten), new FakeHandle(200, 16_380n, onWritten), new FakeHandle(1, 2n ** 53n - 3n, onWritten));
  const [p3, p0, p200, p1] = handles as [FakeHandle, FakeHandle, FakeHandle, FakeHandle];

  let onRecords!: (from: PartitionHandle, records: readonly ConsumedRecord[]) => void;
  let started: (() => void) | undefined;
  const subscription = {
    start: () => new Promise<void>((resolve) => (started = resolve)),
    stop: () => Promise.resolve(),
    positions: () => handles.map(({ topic, partition, passed }) => ({ topic, partition, passed, position: passed })),
    setDemand: () => undefined,
  };
  const engine = {
    create: (_options: unknown, events: { onRecords: typeof onRecords }) => {
      onRecords = events.onRecords;
      return subscription;
    },
  } as unknown as SubscriptionEngine;
  const streams = new EventStreams({ engine, logger: quietLogger(), maxBufferedBytes: 1 << 20, keepaliveMs: 60_000, maxStreams: 1 });
  const server: Server = createServer((_req, res) => void streams.serve(res, { topic: 'orders', from: { kind: 'latest' }, fallback: 'text' }));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    await streams.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const ids: string[] = [];
  let text = '';
  const answered = new Promise<IncomingMessage>((resolve) => get(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`, resolve));
  // The stream answers once its subscription has started, which this test lets it do below.
  for (let i = 0; i < 500 && started === undefined; i++) await new Promise((r) => setTimeout(r, 10));
  const waitFor = async (count: number) => {
    for (let i = 0; i < 500 && ids.length < count; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(ids.length, count, text);
  };

  // Batches queued before the stream answers are written together, in one batch of events, interleaved across partitions;
  // the key filter left out offsets in between and at the ends of batches, and offsets cross varint lengths.
  onRecords(p0, p0.deliver([121n, 125n], 127n));
  onRecords(p3, p3.deliver([0n], 1n));
  onRecords(p200, p200.deliver([16_382n, 16_383n], 16_390n));
  onRecords(p0, p0.deliver([127n, 128n], 200n));
  onRecords(p1, p1.deliver([2n ** 53n - 2n], 2n ** 53n + 5n));
  onRecords(p3, p3.deliver([1n, 2n, 3n], 10n));
  started!();
  const response = await answered;
  response.setEncoding('utf8');
  response.on('data', (chunk: string) => {
    text += chunk;
    const blocks = text.split('\n\n');
    text = blocks.pop()!;
    for (const block of blocks) for (const line of block.split('\n')) if (line.startsWith('id: ')) ids.push(line.slice(4));
  });
  await waitFor(11);
  // Later batches, one record each, each written on its own; a partition passed over without a record between them.
  p200.deliver([], 17_000n);
  onRecords(p3, p3.deliver([12n], 13n));
  await waitFor(12);
  onRecords(p0, p0.deliver([250n], 300n));
  await waitFor(13);
  assert.deepEqual(ids, expected);
  assert.deepEqual(decodeResumeToken('orders', ids.at(-1)!), new Map([[0, 251n], [1, 2n ** 53n + 5n], [3, 13n], [200, 17_000n]]));
  await streams.close();
});
