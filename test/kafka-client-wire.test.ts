/**
 * The Kafka client's readers for answers the gateway depends on, fed bytes
 * as a broker sends them. @platformatic/kafka 1.x read the count of tagged
 * fields as a signed varint ("tagged fields are not supported yet"): a
 * NOT_LEADER_OR_FOLLOWER answer, which carries the new leader as a tagged
 * field since KIP-951, came out misread ("Out of bounds", partitions
 * missing), and on a 3-node cluster records of a request answered 200 were
 * lost. These tests keep the version we run from doing that again.
 * Pure bytes; the cluster paths are in cluster-*.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Reader, produceV11 } from '@platformatic/kafka';

function uvarint(value: number): Buffer {
  const bytes: number[] = [];
  let v = value;
  while (v >= 0x80) {
    bytes.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  bytes.push(v);
  return Buffer.from(bytes);
}
const int16 = (v: number) => Buffer.from([(v >> 8) & 0xff, v & 0xff]);
const int32 = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(v);
  return b;
};
const int64 = (v: bigint) => {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(v);
  return b;
};
const compactString = (s: string | null) => (s === null ? uvarint(0) : Buffer.concat([uvarint(Buffer.byteLength(s) + 1), Buffer.from(s)]));
const compactArray = (items: Buffer[]) => Buffer.concat([uvarint(items.length + 1), ...items]);
/** Tagged fields: their count, then tag, size and bytes of each. */
const tagged = (fields: Array<[number, Buffer]>) => Buffer.concat([uvarint(fields.length), ...fields.flatMap(([tag, bytes]) => [uvarint(tag), uvarint(bytes.length), bytes])]);

function partitionAnswer(index: number, errorCode: number, baseOffset: bigint, leader?: { id: number; epoch: number }): Buffer {
  return Buffer.concat([
    int32(index),
    int16(errorCode),
    int64(baseOffset),
    int64(-1n), // log_append_time_ms
    int64(0n), // log_start_offset
    compactArray([]), // record_errors
    compactString(errorCode === 0 ? null : 'This server is not the leader for that topic-partition.'),
    tagged(leader ? [[0, Buffer.concat([int32(leader.id), int32(leader.epoch)])]] : []),
  ]);
}

const NOT_LEADER_OR_FOLLOWER = 6;

test('a Produce v11 answer whose partitions name their new leader (KIP-951 tagged fields) is read whole: every partition, its error, and the endpoints after it', () => {
  const body = Buffer.concat([
    compactArray([
      Buffer.concat([
        compactString('orders'),
        compactArray([partitionAnswer(3, 0, 1031n), partitionAnswer(4, NOT_LEADER_OR_FOLLOWER, -1n, { id: 2, epoch: 7 }), partitionAnswer(5, 0, 88n)]),
        tagged([]),
      ]),
    ]),
    int32(0), // throttle_time_ms
    tagged([[0, compactArray([Buffer.concat([int32(2), compactString('127.0.0.1'), int32(39092), compactString(null), tagged([])])])]]),
  ]);
  // A refusal of some partitions comes as an error that carries the whole answer, as the gateway reads it (producer-session.ts).
  let response: ReturnType<typeof produceV11.parseResponse> | undefined;
  try {
    response = produceV11.parseResponse(1, 0, 11, Reader.from(body));
  } catch (error) {
    response = (error as { response?: typeof response }).response;
  }
  assert.ok(response, 'the answer was read');
  const partitions = response.responses[0]!.partitionResponses;
  assert.deepEqual(
    partitions.map((p) => [p.index, p.errorCode, p.baseOffset]),
    [
      [3, 0, 1031n],
      [4, NOT_LEADER_OR_FOLLOWER, -1n],
      [5, 0, 88n],
    ],
  );
  assert.deepEqual(partitions[1]!.currentLeader, { leaderId: 2, leaderEpoch: 7 });
  assert.deepEqual(response.nodeEndpoints, [{ nodeId: 2, host: '127.0.0.1', port: 39092, rack: null }]);
});

test('tagged fields the client does not know are skipped by their size, and the partitions after them are still read', () => {
  const unknownTag = tagged([[9, Buffer.from('future field, any bytes')]]);
  const body = Buffer.concat([
    compactArray([Buffer.concat([compactString('t'), compactArray([Buffer.concat([partitionAnswer(0, 0, 5n).subarray(0, -1), unknownTag]), partitionAnswer(1, 0, 6n)]), tagged([])])]),
    int32(0),
    tagged([]),
  ]);
  const response = produceV11.parseResponse(1, 0, 11, Reader.from(body));
  assert.deepEqual(
    response.responses[0]!.partitionResponses.map((p) => [p.index, p.baseOffset]),
    [
      [0, 5n],
      [1, 6n],
    ],
  );
});
