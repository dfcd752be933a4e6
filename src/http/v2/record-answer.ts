/**
 * The answer to a v2 read, `[{"topic","key","value","partition","offset"}, ...]`
 * in Confluent's order, written into one buffer once the read has its
 * records. A json instance's keys and values are checked as JSON on their
 * bytes when taken (jsonBounds) and copied into the answer as they are; a
 * binary instance's go as base64; the registry formats' decoded text is
 * kept per record. No string per record for json and binary, and no
 * encoding of the answer's text afterwards: the answer is bytes already.
 */
import type { ConsumedRecord } from '../../kafka/index.js';
import { jsonBounds } from '../../records/index.js';

const ENVELOPE_TOPIC = Buffer.from('{"topic":', 'latin1');
const ENVELOPE_KEY = Buffer.from(',"key":', 'latin1');
const ENVELOPE_VALUE = Buffer.from(',"value":', 'latin1');
const ENVELOPE_PARTITION = Buffer.from(',"partition":', 'latin1');
const ENVELOPE_OFFSET = Buffer.from(',"offset":', 'latin1');
const NULL = Buffer.from('null', 'latin1');
const NO_BYTES = -1;
const NOT_JSON = -2;

function boundsOf(bytes: Buffer | null, into: Int32Array | number[], at: number): void {
  if (bytes !== null && jsonBounds(bytes, into, at)) return;
  into[at] = bytes === null ? NO_BYTES : NOT_JSON;
  into[at + 1] = into[at]!;
}
const SAFE = BigInt(Number.MAX_SAFE_INTEGER);

const base64Length = (n: number) => 4 * Math.ceil(n / 3);

const BASE64_ALPHABET = Buffer.from('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/', 'latin1');
const BASE64_PAD = 0x3d;
/**
 * Below this many bytes base64 is written here, byte by byte; above it
 * node's encoder is faster despite the string it makes (about 300 ns a
 * call, against about 1.3 ns a byte here, measured on 6 and 1,000 bytes).
 * Keys are mostly short.
 */
const NATIVE_BASE64_FROM = 128;

function putBase64(target: Buffer, at: number, bytes: Buffer): number {
  if (bytes.length >= NATIVE_BASE64_FROM) return at + target.write(bytes.toString('base64'), at, 'latin1');
  const whole = bytes.length - (bytes.length % 3);
  let i = 0;
  for (; i < whole; i += 3) {
    const bits = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    target[at++] = BASE64_ALPHABET[bits >>> 18]!;
    target[at++] = BASE64_ALPHABET[(bits >>> 12) & 63]!;
    target[at++] = BASE64_ALPHABET[(bits >>> 6) & 63]!;
    target[at++] = BASE64_ALPHABET[bits & 63]!;
  }
  if (i === bytes.length) return at;
  const two = i + 1 < bytes.length;
  const bits = (bytes[i]! << 16) | (two ? bytes[i + 1]! << 8 : 0);
  target[at++] = BASE64_ALPHABET[bits >>> 18]!;
  target[at++] = BASE64_ALPHABET[(bits >>> 12) & 63]!;
  target[at++] = two ? BASE64_ALPHABET[(bits >>> 6) & 63]! : BASE64_PAD;
  target[at++] = BASE64_PAD;
  return at;
}

function digitCount(n: number): number {
  let count = 1;
  while (n >= 10) {
    n = Math.floor(n / 10);
    count++;
  }
  return count;
}

/** Short constants byte by byte, which costs less than a native copy for a dozen bytes. */
function put(target: Buffer, at: number, bytes: Uint8Array, from = 0, to = bytes.length): number {
  if (to - from > 32) return at + (bytes as Buffer).copy(target, at, from, to);
  for (let i = from; i < to; i++) target[at++] = bytes[i]!;
  return at;
}

/** A non-negative safe integer's digits. */
function putDigits(target: Buffer, at: number, n: number): number {
  const end = at + digitCount(n);
  for (let i = end - 1; i >= at; i--) {
    target[i] = 0x30 + (n % 10);
    n = Math.floor(n / 10);
  }
  return end;
}

export class RecordAnswer {
  readonly #format: 'json' | 'binary' | 'decoded';
  readonly #records: ConsumedRecord[] = [];
  /** json: per record, where the key's and the value's JSON text are in their bytes (NO_BYTES for none). */
  readonly #bounds: number[] = [];
  /** Registry formats: per record, the JSON text of its key and of its value. */
  readonly #texts: string[] = [];
  /** The answer's length in bytes so far, its brackets and commas not counted. */
  #length = 0;
  #topic = '';
  #topicJson: Buffer = Buffer.alloc(0);

  /** `decoded`: the registry formats, whose keys and values arrive decoded, as JSON text. */
  constructor(format: 'json' | 'binary' | 'decoded') {
    this.#format = format;
  }

  get length(): number {
    return this.#records.length;
  }

  /**
   * Where a json instance's record's key and value are JSON text: their
   * bounds in `into` from `at` (start and end of the key's, then of the
   * value's; NO_BYTES for none, NOT_JSON for bytes that are not JSON).
   */
  static check(record: ConsumedRecord, into: Int32Array | number[], at: number): void {
    boundsOf(record.key, into, at);
    boundsOf(record.value, into, at + 2);
  }

  /**
   * A json instance's record, or undefined when its key or value is not
   * JSON (nothing is added): the field that is not.
   */
  addJson(record: ConsumedRecord): 'key' | 'value' | undefined {
    const at = this.#bounds.length;
    RecordAnswer.check(record, this.#bounds, at);
    return this.#addBounds(record, this.#bounds, at);
  }

  /** addJson for a record whose bounds `check` found already, at `at` of `bounds`. */
  addChecked(record: ConsumedRecord, bounds: Int32Array, at: number): 'key' | 'value' | undefined {
    const into = this.#bounds;
    const to = into.length;
    for (let i = 0; i < 4; i++) into.push(bounds[at + i]!);
    return this.#addBounds(record, into, to);
  }

  #addBounds(record: ConsumedRecord, bounds: number[], at: number): 'key' | 'value' | undefined {
    const field = bounds[at] === NOT_JSON ? 'key' : bounds[at + 2] === NOT_JSON ? 'value' : undefined;
    if (field !== undefined) {
      bounds.length = at;
      return field;
    }
    this.#add(record, this.#fieldLength(at) + this.#fieldLength(at + 2));
    return undefined;
  }

  addBinary(record: ConsumedRecord): void {
    const size = (bytes: Buffer | null) => (bytes === null ? NULL.length : base64Length(bytes.length) + 2);
    this.#add(record, size(record.key) + size(record.value));
  }

  /** A registry format's record, its key and value decoded to JSON text. */
  addText(record: ConsumedRecord, key: string, value: string): void {
    this.#texts.push(key, value);
    this.#add(record, Buffer.byteLength(key) + Buffer.byteLength(value));
  }

  #fieldLength(slot: number): number {
    const start = this.#bounds[slot]!;
    return start === NO_BYTES ? NULL.length : this.#bounds[slot + 1]! - start;
  }

  #add(record: ConsumedRecord, fieldBytes: number): void {
    this.#records.push(record);
    if (record.topic !== this.#topic) this.#setTopic(record.topic);
    const offset = record.offset <= SAFE ? digitCount(Number(record.offset)) : record.offset.toString().length;
    this.#length +=
      ENVELOPE_TOPIC.length +
      this.#topicJson.length +
      ENVELOPE_KEY.length +
      ENVELOPE_VALUE.length +
      fieldBytes +
      ENVELOPE_PARTITION.length +
      digitCount(record.partition) +
      ENVELOPE_OFFSET.length +
      offset +
      1;
  }

  #setTopic(topic: string): void {
    this.#topic = topic;
    this.#topicJson = Buffer.from(JSON.stringify(topic), 'utf8');
  }

  /** The answer, `[...]`, as UTF-8 bytes. */
  toBuffer(): Buffer {
    const records = this.#records;
    const target = Buffer.allocUnsafe(this.#length + 2 + Math.max(0, records.length - 1));
    let at = 0;
    target[at++] = 0x5b;
    this.#topic = '';
    for (let i = 0; i < records.length; i++) {
      const record = records[i]!;
      if (i > 0) target[at++] = 0x2c;
      if (record.topic !== this.#topic) this.#setTopic(record.topic);
      at = put(target, at, ENVELOPE_TOPIC);
      at = put(target, at, this.#topicJson);
      at = put(target, at, ENVELOPE_KEY);
      at = this.#putField(target, at, i, 0, record.key);
      at = put(target, at, ENVELOPE_VALUE);
      at = this.#putField(target, at, i, 1, record.value);
      at = put(target, at, ENVELOPE_PARTITION);
      at = putDigits(target, at, record.partition);
      at = put(target, at, ENVELOPE_OFFSET);
      at = record.offset <= SAFE ? putDigits(target, at, Number(record.offset)) : at + target.write(record.offset.toString(), at, 'latin1');
      target[at++] = 0x7d;
    }
    target[at++] = 0x5d;
    if (at !== target.length) throw new Error(`a v2 answer of ${target.length} bytes was written as ${at}`);
    return target;
  }

  /** Record `i`'s key (`field` 0) or value (1) as the format writes it. */
  #putField(target: Buffer, at: number, i: number, field: 0 | 1, bytes: Buffer | null): number {
    if (this.#format === 'decoded') return at + target.write(this.#texts[2 * i + field]!, at, 'utf8');
    if (bytes === null) return put(target, at, NULL);
    if (this.#format === 'binary') {
      target[at++] = 0x22;
      at = putBase64(target, at, bytes);
      target[at++] = 0x22;
      return at;
    }
    const slot = 4 * i + 2 * field;
    return put(target, at, bytes, this.#bounds[slot], this.#bounds[slot + 1]);
  }
}
