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
import { produceV3, produceV8, produceV9, produceV11 } from '@platformatic/kafka';
import '../../../src/kafka/client/index.js';
import { encodeProduceRequest } from '../../../src/kafka/produce/produce-request.js';
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
