/**
 * The gateway writes uncompressed Produce requests itself, into one buffer
 * (src/kafka/produce/produce-request.ts). Its bytes must be the client's,
 * field for field, in every version it writes: what the broker stores, and
 * how its answer is read, must not change. Pure bytes, compared with the
 * client's own encoder (its 64-bit varint as the gateway corrects it,
 * src/kafka/client/client-options.ts); records through a broker are in
 * produce*.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Connection, produceV3, produceV8, produceV9, produceV11 } from '@platformatic/kafka';
import '../../../src/kafka/client/index.js';
import { encodeProduceRequest, prepareProduceRequest } from '../../../src/kafka/produce/produce-request.js';
import { eventually } from '../../helpers/env.js';
import type { WireRecord } from '../../../src/kafka/produce/producer-session.js';

class Sequences extends Map<string, number> {
  getWithDefault(key: string, fallback: number): number {
    return this.get(key) ?? fallback;
  }
}

const encoders = { 3: produceV3, 8: produceV8, 9: produceV9, 11: produceV11 } as const;

/** The client's bytes for the same records: it mutates what it is given, so it gets copies in its own shape. */
function clientBytes(version: keyof typeof encoders, records: readonly WireRecord[], producerId: bigint, producerEpoch: number, sequences: Sequences): Buffer {
  const messages = records.map(({ topic, partition, key, value, headers, timestamp }) => ({
    topic,
    partition,
    key: key ?? undefined,
    value: value ?? undefined,
    timestamp,
    headers: headers && new Map([...headers].map(([name, text]) => [Buffer.from(name), Buffer.from(text)])),
  }));
  // The client's message type wants a value (null ones are written as null bytes all the same), and its sequences
  // type more methods than the encoder reads (getWithDefault).
  type Options = NonNullable<Parameters<typeof produceV11.createRequest>[3]>;
  return encoders[version].createRequest(-1, 30_000, messages as Parameters<typeof produceV11.createRequest>[2], { compression: 'none', producerId, producerEpoch, sequences } as Options).buffer;
}

function ours(version: number, records: readonly WireRecord[], producerId: bigint, producerEpoch: number, sequences: Sequences): Buffer {
  return encodeProduceRequest(version, records, {
    acks: -1,
    timeoutMs: 30_000,
    producerId,
    producerEpoch,
    firstSequence: (topic, partition) => sequences.getWithDefault(`${topic}:${partition}`, 0),
  }).buffer;
}

const now = 1_765_000_000_000n;
const record = (topic: string, partition: number, key: Buffer | null, value: Buffer | null, timestamp = now, headers?: Record<string, string>): WireRecord => ({
  topic,
  partition,
  key,
  value,
  timestamp,
  headers: headers && new Map(Object.entries(headers)),
});

const cases: Array<[string, WireRecord[]]> = [
  ['one record', [record('t', 0, Buffer.from('k'), Buffer.from('{"a":1}'))]],
  [
    'null and empty keys and values, headers with empty and multi-byte text',
    [
      record('t', 0, null, Buffer.from('v')),
      record('t', 0, Buffer.alloc(0), Buffer.alloc(0)),
      record('t', 0, Buffer.from('k'), null),
      record('t', 0, Buffer.from('k'), Buffer.from('v'), now, { trace: 'abc', empty: '', 'ünï': 'cödé ✓' }),
    ],
  ],
  [
    'several topics and partitions, interleaved, with sequences of their own',
    [
      record('orders', 2, Buffer.from('a'), Buffer.from('1')),
      record('payments-eu.v2', 0, Buffer.from('b'), Buffer.from('2')),
      record('42', 1, Buffer.from('n'), Buffer.from('6')),
      record('orders', 0, Buffer.from('c'), Buffer.from('3')),
      record('orders', 2, Buffer.from('d'), Buffer.from('4')),
      record('payments-eu.v2', 0, null, Buffer.from('5')),
    ],
  ],
  [
    'timestamps out of order, years apart, and before the epoch',
    [
      record('t', 1, null, Buffer.from('x'), now),
      record('t', 1, null, Buffer.from('y'), now - 3n * 365n * 86_400_000n),
      record('t', 1, null, Buffer.from('z'), now + 40n * 86_400_000n),
      record('t', 1, null, Buffer.from('w'), -5n),
      record('t', 1, null, Buffer.from('u'), 0n),
    ],
  ],
  [
    'values whose lengths cross varint sizes, 300 records in one batch',
    Array.from({ length: 300 }, (_, i) => record('big', i % 3, Buffer.from(String(i)), Buffer.alloc([0, 63, 64, 127, 128, 8191, 8192, 20_000][i % 8]!, i % 256), now + BigInt(i))),
  ],
];

for (const version of [3, 8, 9, 11] as const) {
  test(`Produce v${version}: the request's bytes are the client's`, () => {
    const sequences = new Sequences([
      ['orders:2', 41],
      ['payments-eu.v2:0', 2_147_483_000],
      ['big:1', 7],
    ]);
    for (const [name, records] of cases) {
      assert.deepEqual(ours(version, records, 123_456_789_012n, 7, sequences), clientBytes(version, records, 123_456_789_012n, 7, sequences), name);
    }
  });
}

test('a version the encoder does not write is refused before anything is sent', () => {
  assert.throws(() => ours(2, [record('t', 0, null, Buffer.from('v'))], 1n, 0, new Sequences()), /version 2/);
  assert.throws(() => ours(12, [record('t', 0, null, Buffer.from('v'))], 1n, 0, new Sequences()), /version 12/);
});

test("one buffer for every request's body: the client's connection has sent the bytes each request was written with, though the buffer was written over at once", async () => {
  // producer-session.ts writes every request's body into one buffer, which is safe only while the client's
  // Connection.send copies the body out of it in the step that takes it. A client that kept a reference instead
  // would send a later request's complete, well-formed batch under an earlier request's answer.
  const received: Buffer[] = [];
  const server = createServer((socket) => socket.on('data', (chunk: Buffer) => received.push(chunk)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const connection = new Connection('scratch-test', { requestTimeout: 60_000 });
  try {
    await new Promise<void>((resolve, reject) => connection.connect('127.0.0.1', (server.address() as AddressInfo).port, (error) => (error ? reject(error) : resolve())));
    const scratch = Buffer.alloc(64 * 1024);
    const bodies: Buffer[] = [];
    for (let i = 0; i < 5; i++) {
      const records = [record('t', i % 3, Buffer.from(`k${i}`), Buffer.from(`{"request":${i},"pad":"${'x'.repeat(100 * i)}"}`))];
      const options = { acks: -1, timeoutMs: 30_000, producerId: 7n, producerEpoch: 0, firstSequence: () => i };
      bodies.push(Buffer.from(encodeProduceRequest(11, records, options).buffer));
      connection.send(0, 11, () => prepareProduceRequest(11, records, options).write(scratch), produceV11.parseResponse, true, true, () => undefined);
      scratch.fill(0xee);
    }
    const all = await eventually(async () => {
      const bytes = Buffer.concat(received);
      return bodies.reduce((length, body) => length + body.length, 0) < bytes.length ? bytes : undefined;
    });
    const frames: Buffer[] = [];
    for (let at = 0; at + 4 <= all.length; ) {
      const size = all.readInt32BE(at);
      frames.push(all.subarray(at + 4, at + 4 + size));
      at += 4 + size;
    }
    assert.equal(frames.length, bodies.length);
    for (const [i, frame] of frames.entries()) assert.ok(frame.subarray(frame.length - bodies[i]!.length).equals(bodies[i]!), `request ${i} left with the bytes it was written with`);
  } finally {
    await new Promise<void>((resolve) => connection.close(() => resolve()));
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});
