/**
 * How a consumed record becomes the JSON body of a WebSocket frame, an SSE
 * event or a partition page entry: its key and value through the format
 * converters (formats.ts), its headers as text or base64.
 */
import type { ConsumedRecord } from '../kafka/index.js';
import { utf8Text } from '../common/index.js';
import type { WireDecoder, WireSchema } from '../schema/index.js';
import { formats } from './formats.js';

export type Fallback = 'text' | 'base64';
/**
 * How a record frame carries headers: `object` (name to value; the first
 * protocol's form, kept for its clients) or `list` (every header in order,
 * repeated names included, each saying how its value is encoded).
 */
export type HeaderForm = 'object' | 'list';

/** What a subscription asked for: how bytes that are not JSON go, and the form of headers. */
export interface FrameForm {
  readonly fallback: Fallback;
  readonly headers: HeaderForm;
  /**
   * Decodes keys and values in the schema registry wire format (the same
   * decoder for every form of a process, so it is not part of a form's
   * cache key); without one, such bytes go as any other bytes.
   */
  readonly wire?: WireDecoder;
}

/** One header in the list form: its value as UTF-8 text, or base64 when the bytes are not UTF-8; null for a null value. */
export interface HeaderEntry {
  readonly key: string;
  readonly value: string | null;
  readonly encoding: 'text' | 'base64' | null;
}

export type Encoding = 'json' | 'text' | 'base64';

export interface Encoded {
  readonly data: unknown;
  readonly encoding: Encoding | null;
  /** Why the bytes are not in the form the subscription asked for. */
  readonly note?: string;
  /** The registry schema the bytes name (wire format), decoded to `data` unless the note says otherwise. */
  readonly schema?: WireSchema;
}

/**
 * Bytes in the registry wire format, as JSON through their schema; when
 * they do not decode, as base64 with a note, never dropped. undefined for
 * bytes without the wire format or with an id no registry holds.
 */
function decodeWire(bytes: Buffer, wire: WireDecoder | undefined, topic: string, field: 'key' | 'value'): Encoded | undefined {
  const decoded = wire?.decode(bytes, topic, field);
  if (!decoded) return undefined;
  if ('value' in decoded) return { data: decoded.value, encoding: 'json', schema: decoded.schema };
  return { data: formats.binary.fromKafka(bytes), encoding: 'base64', schema: decoded.schema, note: `names schema ${decoded.schema.id} but does not decode with it (${decoded.failure}), sent as base64` };
}

/**
 * JSON when the bytes parse as JSON; otherwise text or base64 as the
 * subscription asked. Bytes that are not UTF-8 always go as base64, so no
 * record is ever dropped for its content.
 */
export function encodeBytes(bytes: Buffer | null, fallback: Fallback, parseJson = true): Encoded {
  if (bytes === null) return { data: null, encoding: null };
  const text = formats.text.fromKafka(bytes);
  if (parseJson) {
    const data = formats.json.fromText(text);
    if (data !== undefined) return { data, encoding: 'json' };
    // not JSON: the subscription's choice
  }
  if (text !== undefined && fallback === 'text') return { data: text, encoding: 'text' };
  const note = fallback === 'text' ? 'not valid UTF-8, sent as base64' : undefined;
  return { data: formats.binary.fromKafka(bytes), encoding: 'base64', ...(note ? { note } : {}) };
}

function headerList(record: ConsumedRecord): HeaderEntry[] {
  return record.headers.map(([key, bytes]) => {
    if (bytes === null) return { key, value: null, encoding: null };
    const text = utf8Text(bytes);
    return text === undefined ? { key, value: formats.binary.fromKafka(bytes), encoding: 'base64' } : { key, value: text, encoding: 'text' };
  });
}

/**
 * The first protocol's form, name to value: a name that repeats keeps its
 * last value, a null value is left out, and values that are not UTF-8 go as
 * base64. The notes name each header this form could not carry as it is.
 */
function headerObject(entries: readonly HeaderEntry[]): { headers: Record<string, string>; notes: string[] } {
  const headers: Record<string, string> = {};
  const repeated = new Set<string>();
  const binary: string[] = [];
  for (const { key, value, encoding } of entries) {
    if (value === null) continue;
    if (Object.hasOwn(headers, key)) repeated.add(key);
    headers[key] = value;
    if (encoding === 'base64' && !binary.includes(key)) binary.push(key);
  }
  const notes = [
    ...binary.map((key) => `header ${JSON.stringify(key)} is not valid UTF-8, sent as base64`),
    ...[...repeated].map((key) => `header ${JSON.stringify(key)} repeats and only its last value is here; ask for headers: "list" (headers=list in a URL) for every value`),
  ];
  return { headers, notes };
}

/** The record frame's body (without op and sub): what both endpoints send. */
export function recordBody(record: ConsumedRecord, form: FrameForm, parseJson = true): Record<string, unknown> {
  const key = (record.key && decodeWire(record.key, form.wire, record.topic, 'key')) || encodeBytes(record.key, form.fallback, parseJson);
  const value = (record.value && decodeWire(record.value, form.wire, record.topic, 'value')) || encodeBytes(record.value, form.fallback, parseJson);
  // Most records have no headers: nothing to convert, no notes to gather.
  const entries = record.headers.length === 0 ? [] : headerList(record);
  const object = form.headers === 'object' ? (entries.length === 0 ? { headers: {}, notes: [] } : headerObject(entries)) : undefined;
  return {
    topic: record.topic,
    partition: record.partition,
    offset: String(record.offset),
    timestamp: record.timestamp,
    key: key.data,
    keyEncoding: key.encoding,
    value: value.data,
    valueEncoding: value.encoding,
    headers: object ? object.headers : entries,
    ...(key.schema ? { keySchema: key.schema } : {}),
    ...(value.schema ? { valueSchema: value.schema } : {}),
    ...notes([key.note && `key ${key.note}`, value.note && `value ${value.note}`, ...(object?.notes ?? [])]),
  };
}

/**
 * The body as JSON bytes, made once per record and format however many
 * sockets it goes to; the records are shared by every subscription.
 */
const encodedBodies = new WeakMap<ConsumedRecord, Array<Buffer | undefined>>();

/** A form's slot among a record's bodies: one per fallback and header form, with no key to build per call. */
const formSlot = (form: FrameForm): number => (form.fallback === 'text' ? 0 : 2) + (form.headers === 'object' ? 0 : 1);

export function encodedBody(record: ConsumedRecord, form: FrameForm): Buffer {
  let bodies = encodedBodies.get(record);
  if (!bodies) {
    bodies = [];
    encodedBodies.set(record, bodies);
  }
  const slot = formSlot(form);
  let body = bodies[slot];
  if (!body) {
    body = ownedBuffer(stringifyBody(record, form));
    bodies[slot] = body;
  }
  return body;
}

/**
 * Bytes with a memory block of their own. A body or frame can wait in a
 * stalled client's socket for as long as the client likes, and a buffer cut
 * from Node's shared pool keeps the whole pool block alive with it: 64 KiB
 * from Node 24 on, which made a stalled client cost three to four times the
 * bytes it held, the rest being other records' bytes that shared its block.
 */
function ownedBuffer(text: string): Buffer {
  const bytes = Buffer.allocUnsafeSlow(Buffer.byteLength(text));
  bytes.write(text);
  return bytes;
}

function stringifyBody(record: ConsumedRecord, form: FrameForm): string {
  try {
    return JSON.stringify(recordBody(record, form));
  } catch {
    // JSON nested deeper than the stack allows parses but cannot be written back: send the bytes as text instead.
    return JSON.stringify(recordBody(record, form, false));
  }
}

/** Buffer.concat into a memory block of its own, for bytes that may wait in a stalled client's socket (see ownedBuffer). */
export function ownedConcat(parts: readonly Buffer[]): Buffer {
  const joined = Buffer.allocUnsafeSlow(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) at += part.copy(joined, at);
  return joined;
}

function notes(parts: ReadonlyArray<string | false | undefined>): { note?: string } {
  const present = parts.filter((p): p is string => typeof p === 'string' && p !== '');
  return present.length > 0 ? { note: present.join('; ') } : {};
}
