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

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** Writes `value` as an unsigned LEB128 varint at `at`; returns where it ends. */
function putVarint(out: Uint8Array, at: number, value: bigint): number {
  if (value <= MAX_SAFE) {
    let rest = Number(value);
    while (rest >= 0x80) {
      out[at++] = (rest % 0x80) | 0x80;
      rest = Math.floor(rest / 0x80);
    }
    out[at++] = rest;
    return at;
  }
  let rest = value;
  do {
    let byte = Number(rest & 0x7fn);
    rest >>= 7n;
    if (rest > 0n) byte |= 0x80;
    out[at++] = byte;
  } while (rest > 0n);
  return at;
}

/** The longest varint of an offset (2^64 - 1 fits in 10 bytes). */
const MAX_VARINT = 10;
const SCRATCH = new Uint8Array(MAX_VARINT);

/**
 * The tokens of one batch of events: the bytes of a token built once from
 * every partition's position (sorted, as encodeResumeToken lays them out),
 * then moved one partition at a time. Moving a partition rewrites only its
 * offset's varint (shifting the bytes after it when the varint's length
 * changes); each token costs a CRC of the bytes and their base64url. The
 * tokens are byte for byte those encodeResumeToken makes of the same
 * positions.
 */
export class ResumeTokenWriter {
  /** The CRC-32 of the topic name, where every token's checksum starts. */
  readonly #seed: number;
  /** Per partition, its slot. */
  readonly #slots = new Map<number, number>();
  /** Per slot: where its offset's varint starts, how long it is, and the offset. */
  readonly #starts: number[] = [];
  readonly #widths: number[] = [];
  readonly #offsets: bigint[] = [];
  /** The body, then room for the checksum and for varints to grow. */
  readonly #bytes: Buffer;
  #length: number;

  constructor(topic: string, positions: Iterable<readonly [number, bigint]>) {
    this.#seed = crc32(Buffer.from(topic, 'utf8'));
    const sorted = [...positions].sort(([a], [b]) => a - b);
    this.#bytes = Buffer.allocUnsafe(1 + MAX_VARINT + sorted.length * 2 * MAX_VARINT + 4);
    let at = 0;
    this.#bytes[at++] = VERSION;
    at = putVarint(this.#bytes, at, BigInt(sorted.length));
    for (const [partition, offset] of sorted) {
      at = putVarint(this.#bytes, at, BigInt(partition));
      this.#slots.set(partition, this.#starts.length);
      this.#starts.push(at);
      const end = putVarint(this.#bytes, at, offset);
      this.#widths.push(end - at);
      this.#offsets.push(offset);
      at = end;
    }
    this.#length = at;
  }

  /** Moves a partition's position; a partition the token does not name is left out, as encodeResumeToken would leave it. */
  set(partition: number, offset: bigint): void {
    const slot = this.#slots.get(partition);
    if (slot === undefined || this.#offsets[slot] === offset) return;
    const start = this.#starts[slot]!;
    const width = this.#widths[slot]!;
    const bytes = this.#bytes;
    const end = putVarint(SCRATCH, 0, offset);
    if (end !== width) {
      // Room for every varint at its longest was allocated: a longer one only shifts the bytes after it.
      const shift = end - width;
      bytes.copyWithin(start + end, start + width, this.#length);
      this.#length += shift;
      for (let i = slot + 1; i < this.#starts.length; i++) this.#starts[i] = this.#starts[i]! + shift;
      this.#widths[slot] = end;
    }
    bytes.set(SCRATCH.subarray(0, end), start);
    this.#offsets[slot] = offset;
  }

  /** The token of the positions as they stand. */
  token(): string {
    const body = this.#bytes.subarray(0, this.#length);
    this.#bytes.writeUInt32BE(crc32(body, this.#seed), this.#length);
    return this.#bytes.toString('base64url', 0, this.#length + 4);
  }

  /** The event's `id:` line carrying the token, as bytes to be copied into the write (they may share Node's pool: nothing keeps them). */
  idLine(): Buffer {
    return Buffer.from(`id: ${this.token()}\n`, 'latin1');
  }
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
