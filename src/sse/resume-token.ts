/**
 * Resume tokens: the position in every partition a stream reads, as a
 * short opaque string a client hands back (an SSE event id) to continue
 * exactly after the last record it saw, on any gateway instance.
 *
 * Layout before base64url: a version byte, the partition count, then per
 * partition (ascending) the partition number and the offset to read next,
 * all unsigned LEB128 varints, and a CRC-32 of the topic name and all of
 * the above, so a token for another topic or a damaged one is refused.
 */
import { crc32 } from 'node:zlib';
import { GatewayError } from '../common/index.js';

const VERSION = 1;
const MAX_PARTITIONS = 100_000;

function writeVarint(out: number[], value: bigint): void {
  let rest = value;
  do {
    let byte = Number(rest & 0x7fn);
    rest >>= 7n;
    if (rest > 0n) byte |= 0x80;
    out.push(byte);
  } while (rest > 0n);
}

function checksum(topic: string, body: Uint8Array): number {
  return crc32(body, crc32(Buffer.from(topic, 'utf8')));
}

export function encodeResumeToken(topic: string, positions: ReadonlyMap<number, bigint>): string {
  const body: number[] = [VERSION];
  writeVarint(body, BigInt(positions.size));
  for (const [partition, offset] of [...positions].sort(([a], [b]) => a - b)) {
    writeVarint(body, BigInt(partition));
    writeVarint(body, offset);
  }
  const bytes = Uint8Array.from(body);
  const out = Buffer.alloc(bytes.length + 4);
  out.set(bytes);
  out.writeUInt32BE(checksum(topic, bytes), bytes.length);
  return out.toString('base64url');
}

/**
 * The longest token taken back: one that still fits, with the other
 * headers, in the 16 KiB Node allows a request's headers (longer ones are
 * refused there with 431). That is every partition of a topic of about
 * 1,200 partitions at ten-digit offsets.
 */
export const MAX_TOKEN_LENGTH = 12_000;

/** The positions a token names, by partition; throws a 400 GatewayError naming `pointer` for anything but a token of this topic. */
export function decodeResumeToken(topic: string, token: string, pointer = '/lastEventId'): Map<number, bigint> {
  const invalid = (detail: string) =>
    new GatewayError('GW_ERR_VALIDATION', `The resume token (Last-Event-ID) is not valid: ${detail}. Reconnect without it, or with one this stream sent.`, {
      errors: [{ pointer, message: detail }],
    });
  if (token.length > MAX_TOKEN_LENGTH) throw invalid(`it is longer than ${MAX_TOKEN_LENGTH} characters`);
  if (!/^[A-Za-z0-9_-]+$/.test(token)) throw invalid('it is not base64url');
  const bytes = Buffer.from(token, 'base64url');
  if (bytes.length < 6) throw invalid('it is too short');
  const body = bytes.subarray(0, bytes.length - 4);
  if (checksum(topic, body) !== bytes.readUInt32BE(bytes.length - 4)) throw invalid(`it was not made for topic ${JSON.stringify(topic)}, or it is damaged`);
  let at = 0;
  const read = (): bigint => {
    let value = 0n;
    for (let shift = 0n; ; shift += 7n) {
      if (at >= body.length || shift > 63n) throw invalid('it is truncated');
      const byte = body[at++]!;
      value |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return value;
    }
  };
  if (read() !== BigInt(VERSION)) throw invalid('its version is unknown');
  const count = read();
  if (count > BigInt(MAX_PARTITIONS)) throw invalid('it names too many partitions');
  const positions = new Map<number, bigint>();
  let previous = -1n;
  for (let i = 0n; i < count; i++) {
    const partition = read();
    const offset = read();
    if (partition > 2n ** 31n - 1n || offset > 2n ** 63n - 1n) throw invalid('a position is out of range');
    if (partition <= previous) throw invalid('its partitions are out of order');
    previous = partition;
    positions.set(Number(partition), offset);
  }
  if (at !== body.length) throw invalid('it has trailing bytes');
  return positions;
}
