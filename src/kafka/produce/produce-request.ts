/**
 * A Produce request (versions 3 to 11, records uncompressed) written into
 * one buffer, sized first. The client's own encoder builds every record
 * from small buffers (one per field), joins them for the batch's CRC (a
 * copy, and another inside its CRC function), and joins them again for the
 * request: per 100 KB of records, three copies and hundreds of small
 * buffers, 12% of the gateway's CPU in batched produce and much of its
 * garbage. The bytes are the same as the client's (test/kafka/produce/produce-request.test.ts
 * compares them), so the broker and the answer's parser see no difference.
 */
import { DynamicBuffer } from '@platformatic/dynamic-buffer';
import { crc32c, Writer } from '@platformatic/kafka';
import type { WireRecord } from './producer-session.js';

export interface ProduceRequestOptions {
  readonly acks: number;
  readonly timeoutMs: number;
  readonly producerId: bigint;
  readonly producerEpoch: number;
  /** The sequence number of the first record of a partition's batch. */
  readonly firstSequence: (topic: string, partition: number) => number;
}

/** The versions written here: 3 (the first with record batches) to 11; from 9 on the request is "flexible" (compact fields, tagged fields). */
export const FIRST_VERSION = 3;
export const LAST_VERSION = 11;

// Base offset, length, partition leader epoch, magic, CRC, attributes, last offset delta, first and max timestamps,
// producer id and epoch, base sequence, record count.
const BATCH_HEADER_BYTES = 8 + 4 + 4 + 1 + 4 + 2 + 4 + 8 + 8 + 8 + 2 + 4 + 4;
// Where the CRC's range starts (attributes) and where the CRC goes, from the start of the batch.
const CRC_AT = 8 + 4 + 4 + 1;
const ATTRIBUTES_AT = CRC_AT + 4;
const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/** Bytes of an unsigned varint. */
function uvarintSize(value: number): number {
  let size = 1;
  while (value >= 128) {
    value = Math.floor(value / 128);
    size++;
  }
  return size;
}

/** Zigzag, on numbers up to 2^52 in size (lengths, counts, deltas), as Kafka's varint and varlong take them. */
function zigzag(value: number): number {
  return value >= 0 ? value * 2 : -value * 2 - 1;
}

function uvarint64Size(value: bigint): number {
  let size = 1;
  while (value >= 128n) {
    value >>= 7n;
    size++;
  }
  return size;
}

function writeUvarint(buffer: Buffer, at: number, value: number): number {
  while (value >= 128) {
    buffer[at++] = (value % 128) | 128;
    value = Math.floor(value / 128);
  }
  buffer[at++] = value;
  return at;
}

function writeUvarint64(buffer: Buffer, at: number, value: bigint): number {
  while (value >= 128n) {
    buffer[at++] = Number(value & 127n) | 128;
    value >>= 7n;
  }
  buffer[at++] = Number(value);
  return at;
}

interface Encoded {
  readonly record: WireRecord;
  /** The timestamp's delta from the batch's first, zigzagged: a number when it fits one exactly, else a bigint. */
  readonly timestamp: number | bigint;
  readonly headers?: ReadonlyArray<readonly [Buffer, Buffer]>;
  /** Bytes of the record after its length. */
  readonly body: number;
}

interface Batch {
  readonly partition: number;
  readonly records: Encoded[];
  readonly firstTimestamp: bigint;
  readonly maxTimestamp: bigint;
  /** Bytes of the whole batch. */
  readonly bytes: number;
}

function bytesField(length: number | undefined): number {
  return length === undefined ? 1 : uvarintSize(zigzag(length)) + length;
}

function batchOf(partition: number, records: readonly WireRecord[]): Batch {
  const firstTimestamp = records[0]!.timestamp;
  let maxTimestamp = firstTimestamp;
  let bytes = BATCH_HEADER_BYTES;
  const encoded = records.map((record, offsetDelta): Encoded => {
    if (record.timestamp > maxTimestamp) maxTimestamp = record.timestamp;
    const delta = record.timestamp - firstTimestamp;
    const zz = delta >= 0n ? delta * 2n : -delta * 2n - 1n;
    const timestamp = zz <= BigInt(MAX_SAFE) ? Number(zz) : zz;
    const headers = record.headers && [...record.headers].map(([name, text]) => [Buffer.from(name), Buffer.from(text)] as const);
    let body = 1 + (typeof timestamp === 'number' ? uvarintSize(timestamp) : uvarint64Size(timestamp)) + uvarintSize(zigzag(offsetDelta));
    body += bytesField(record.key?.length) + bytesField(record.value?.length) + uvarintSize(zigzag(headers?.length ?? 0));
    for (const [name, text] of headers ?? []) body += bytesField(name.length) + bytesField(text.length);
    bytes += uvarintSize(zigzag(body)) + body;
    return { record, timestamp, headers, body };
  });
  return { partition, records: encoded, firstTimestamp, maxTimestamp, bytes };
}

function writeBytes(buffer: Buffer, at: number, bytes: Buffer | null | undefined): number {
  if (bytes === null || bytes === undefined) {
    buffer[at] = 1; // zigzag(-1): no bytes
    return at + 1;
  }
  at = writeUvarint(buffer, at, zigzag(bytes.length));
  return at + bytes.copy(buffer, at);
}

function writeBatch(buffer: Buffer, start: number, batch: Batch, topic: string, options: ProduceRequestOptions): number {
  const { records } = batch;
  buffer.writeBigInt64BE(0n, start);
  buffer.writeInt32BE(batch.bytes - 12, start + 8);
  buffer.writeInt32BE(0, start + 12);
  buffer.writeInt8(2, start + 16);
  let at = start + ATTRIBUTES_AT;
  buffer.writeInt16BE(0, at);
  buffer.writeInt32BE(records.length - 1, at + 2);
  buffer.writeBigInt64BE(batch.firstTimestamp, at + 6);
  buffer.writeBigInt64BE(batch.maxTimestamp, at + 14);
  buffer.writeBigInt64BE(options.producerId, at + 22);
  buffer.writeInt16BE(options.producerEpoch, at + 30);
  buffer.writeInt32BE(options.firstSequence(topic, batch.partition), at + 32);
  buffer.writeInt32BE(records.length, at + 36);
  at += 40;
  records.forEach(({ record, timestamp, headers, body }, offsetDelta) => {
    at = writeUvarint(buffer, at, zigzag(body));
    buffer[at++] = 0; // attributes
    at = typeof timestamp === 'number' ? writeUvarint(buffer, at, timestamp) : writeUvarint64(buffer, at, timestamp);
    at = writeUvarint(buffer, at, zigzag(offsetDelta));
    at = writeBytes(buffer, at, record.key);
    at = writeBytes(buffer, at, record.value);
    at = writeUvarint(buffer, at, zigzag(headers?.length ?? 0));
    for (const [name, text] of headers ?? []) at = writeBytes(buffer, writeBytes(buffer, at, name), text);
  });
  const end = start + batch.bytes;
  if (at !== end) throw new Error(`produce request: batch of ${batch.bytes} bytes sized, ${at - start} written`);
  buffer.writeUInt32BE(crc32c(new DynamicBuffer(buffer.subarray(start + ATTRIBUTES_AT, end))), start + CRC_AT);
  return end;
}

/**
 * Records grouped by a property, in the order the client writes groups:
 * the keys of an object, so names that read as array indexes (every
 * partition, a topic named "42") come first in ascending order, then the
 * others as they first occur. Records keep their order within a group.
 */
function groups(records: readonly WireRecord[], key: (record: WireRecord) => string | number): Array<[string, WireRecord[]]> {
  const buckets: Record<string, WireRecord[]> = Object.create(null) as Record<string, WireRecord[]>;
  for (const record of records) (buckets[key(record)] ??= []).push(record);
  return Object.entries(buckets);
}

/** A request sized and ready to be written. */
export interface PreparedProduceRequest {
  /** Bytes of the request's body. */
  readonly bytes: number;
  /** Writes it into `into` (at least `bytes` long; a new buffer when left out) and answers it as the client's connection takes a body. */
  write(into?: Buffer): Writer;
}

/**
 * The request's body (everything after the request header), sized; written
 * by `write`. Sizing throws for a version not written here, so that a
 * caller knows before sending that nothing was sent.
 */
export function prepareProduceRequest(version: number, records: readonly WireRecord[], options: ProduceRequestOptions): PreparedProduceRequest {
  if (version < FIRST_VERSION || version > LAST_VERSION) throw new Error(`produce request: version ${version} is not written here`);
  const flexible = version >= 9;
  const topics = groups(records, (r) => r.topic).map(([topic, list]) => ({
    topic,
    name: Buffer.from(topic, 'utf8'),
    batches: groups(list, (r) => r.partition).map(([partition, inPartition]) => batchOf(Number(partition), inPartition)),
  }));

  // transactional_id (null), acks, timeout_ms, the topic array's length.
  let size = (flexible ? 1 : 2) + 2 + 4 + (flexible ? uvarintSize(topics.length + 1) : 4);
  for (const { name, batches } of topics) {
    size += (flexible ? uvarintSize(name.length + 1) : 2) + name.length + (flexible ? uvarintSize(batches.length + 1) + 1 : 4);
    for (const batch of batches) size += 4 + (flexible ? uvarintSize(batch.bytes + 1) + 1 : 4) + batch.bytes;
  }
  if (flexible) size += 1;

  const write = (into?: Buffer): Writer => {
    const buffer = into ?? Buffer.allocUnsafe(size);
    let at = 0;
    if (flexible) buffer[at++] = 0;
    else at = buffer.writeInt16BE(-1, at);
    at = buffer.writeInt16BE(options.acks, at);
    at = buffer.writeInt32BE(options.timeoutMs, at);
    at = flexible ? writeUvarint(buffer, at, topics.length + 1) : buffer.writeInt32BE(topics.length, at);
    for (const { topic, name, batches } of topics) {
      at = flexible ? writeUvarint(buffer, at, name.length + 1) : buffer.writeInt16BE(name.length, at);
      at += name.copy(buffer, at);
      at = flexible ? writeUvarint(buffer, at, batches.length + 1) : buffer.writeInt32BE(batches.length, at);
      for (const batch of batches) {
        at = buffer.writeInt32BE(batch.partition, at);
        at = flexible ? writeUvarint(buffer, at, batch.bytes + 1) : buffer.writeInt32BE(batch.bytes, at);
        at = writeBatch(buffer, at, batch, topic, options);
        if (flexible) buffer[at++] = 0;
      }
      if (flexible) buffer[at++] = 0;
    }
    if (flexible) buffer[at++] = 0;
    if (at !== size) throw new Error(`produce request: ${size} bytes sized, ${at} written`);
    return Writer.create().append(buffer.subarray(0, size));
  };
  return { bytes: size, write };
}

/** The request's body in a buffer of its own. */
export function encodeProduceRequest(version: number, records: readonly WireRecord[], options: ProduceRequestOptions): Writer {
  return prepareProduceRequest(version, records, options).write();
}
