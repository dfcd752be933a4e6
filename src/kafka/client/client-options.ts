/**
 * Options for @platformatic/kafka clients, built from the gateway's config,
 * and two codec gaps the client has when reading what other producers
 * wrote:
 * - zlib has Zstandard only from Node 22.15, so on Node 20 zstd batches
 *   are decompressed with fzstd (pure JavaScript);
 * - the Java client writes snappy in xerial's framing (a header, then
 *   length-prefixed blocks), which the client's snappy decoder does not
 *   read: the blocks are unframed here and each is decoded by the client.
 */
import { DynamicBuffer } from '@platformatic/dynamic-buffer';
import { compressionsAlgorithms, type BaseOptions } from '@platformatic/kafka';
import { decompress as zstdDecompress } from 'fzstd';
import type { Config } from '../../config.js';

if (!compressionsAlgorithms.zstd.available) {
  // The table is typed read-only, but it is the client's one place to look codecs up.
  (compressionsAlgorithms.zstd as { decompressSync: (data: Buffer | { buffer: Buffer }) => Buffer }).decompressSync = (data) =>
    Buffer.from(zstdDecompress(Buffer.isBuffer(data) ? data : data.buffer));
}

const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
const XERIAL_HEADER_BYTES = 16;
const snappyBlock = compressionsAlgorithms.snappy.decompressSync;

export function unframeSnappy(data: Buffer, decodeBlock: (block: Buffer) => Buffer): Buffer {
  if (data.length < XERIAL_HEADER_BYTES || !data.subarray(0, XERIAL_MAGIC.length).equals(XERIAL_MAGIC)) return decodeBlock(data);
  const blocks: Buffer[] = [];
  for (let at = XERIAL_HEADER_BYTES; at < data.length; ) {
    if (at + 4 > data.length) throw new RangeError('truncated xerial snappy block length');
    const length = data.readUInt32BE(at);
    at += 4;
    if (at + length > data.length) throw new RangeError('truncated xerial snappy block');
    blocks.push(decodeBlock(data.subarray(at, at + length)));
    at += length;
  }
  return Buffer.concat(blocks);
}

(compressionsAlgorithms.snappy as { decompressSync: (data: Buffer | { buffer: Buffer }) => Buffer }).decompressSync = (data) =>
  unframeSnappy(Buffer.isBuffer(data) ? data : data.buffer, snappyBlock);

/*
 * Record batches carry each record's timestamp as a zigzag varint delta
 * from the batch's first. The client's buffer (@platformatic/dynamic-buffer
 * 0.3.1) zigzags 64-bit values with a 31-bit shift, so a record stamped
 * more than 2^31 ms (about 25 days) before the first of its batch was
 * written with a wrong timestamp. The correct encoding, on the one class
 * every writer of the client uses:
 */
(DynamicBuffer.prototype as unknown as { writeVarInt64(value: bigint, append?: boolean): void }).writeVarInt64 = function writeVarInt64(
  this: DynamicBuffer,
  value: bigint,
  append = true,
) {
  this.writeUnsignedVarInt64(BigInt.asUintN(64, (value << 1n) ^ (value >> 63n)), append);
};

const SASL_MECHANISMS = { plain: 'PLAIN', 'scram-sha-256': 'SCRAM-SHA-256', 'scram-sha-512': 'SCRAM-SHA-512' } as const;

export function clientOptions(config: Config['kafka'], clientId: string, overrides: Partial<BaseOptions> = {}): BaseOptions {
  const { tls, sasl } = config;
  return {
    clientId,
    bootstrapBrokers: [...config.brokers],
    connectTimeout: config.connectionTimeoutMs,
    timeout: config.requestTimeoutMs,
    ...(tls ? { tls: { ca: tls.ca, cert: tls.cert, key: tls.key, rejectUnauthorized: tls.rejectUnauthorized } } : {}),
    ...(sasl ? { sasl: { mechanism: SASL_MECHANISMS[sasl.mechanism], username: sasl.username, password: sasl.password } } : {}),
    ...overrides,
  };
}
