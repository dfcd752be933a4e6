/** How a record's key and value bytes become JSON in a frame. */
import type { ConsumedRecord } from '../kafka/index.js';
import type { Fallback } from './protocol.js';

export type Encoding = 'json' | 'text' | 'base64';

export interface Encoded {
  readonly data: unknown;
  readonly encoding: Encoding | null;
  /** Why the bytes are not in the form the subscription asked for. */
  readonly note?: string;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function asText(bytes: Buffer): string | undefined {
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}

/**
 * JSON when the bytes parse as JSON; otherwise text or base64 as the
 * subscription asked. Bytes that are not UTF-8 always go as base64, so no
 * record is ever dropped for its content.
 */
export function encodeBytes(bytes: Buffer | null, fallback: Fallback, parseJson = true): Encoded {
  if (bytes === null) return { data: null, encoding: null };
  const text = asText(bytes);
  if (parseJson && text !== undefined && text.length > 0) {
    try {
      return { data: JSON.parse(text) as unknown, encoding: 'json' };
    } catch {
      // not JSON: fall through to the subscription's choice
    }
  }
  if (text !== undefined && fallback === 'text') return { data: text, encoding: 'text' };
  const note = fallback === 'text' ? 'not valid UTF-8, sent as base64' : undefined;
  return { data: bytes.toString('base64'), encoding: 'base64', ...(note ? { note } : {}) };
}

/** The record frame's body (without op and sub): what both endpoints send. */
export function recordBody(record: ConsumedRecord, fallback: Fallback, parseJson = true): Record<string, unknown> {
  const key = encodeBytes(record.key, fallback, parseJson);
  const value = encodeBytes(record.value, fallback, parseJson);
  // A name that repeats keeps its last value here; the frame's object form has room for one.
  const headers: Record<string, string> = {};
  let binaryHeaders = false;
  for (const [name, bytes] of record.headers) {
    if (bytes === null) continue;
    const text = asText(bytes);
    if (text === undefined) binaryHeaders = true;
    headers[name] = text ?? bytes.toString('base64');
  }
  return {
    topic: record.topic,
    partition: record.partition,
    offset: String(record.offset),
    timestamp: record.timestamp,
    key: key.data,
    keyEncoding: key.encoding,
    value: value.data,
    valueEncoding: value.encoding,
    headers,
    ...notes([key.note && `key ${key.note}`, value.note && `value ${value.note}`, binaryHeaders && 'headers that are not UTF-8 are sent as base64']),
  };
}

/**
 * The body as JSON bytes, made once per record and format however many
 * sockets it goes to; the records are shared by every subscription.
 */
const encodedBodies = new WeakMap<ConsumedRecord, Partial<Record<Fallback, Buffer>>>();

export function encodedBody(record: ConsumedRecord, fallback: Fallback): Buffer {
  let forms = encodedBodies.get(record);
  if (!forms) {
    forms = {};
    encodedBodies.set(record, forms);
  }
  return (forms[fallback] ??= ownedBuffer(stringifyBody(record, fallback)));
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

function stringifyBody(record: ConsumedRecord, fallback: Fallback): string {
  try {
    return JSON.stringify(recordBody(record, fallback));
  } catch {
    // JSON nested deeper than the stack allows parses but cannot be written back: send the bytes as text instead.
    return JSON.stringify(recordBody(record, fallback, false));
  }
}

/** The start of every record frame of one subscription on the multiplexed endpoint. */
export function framePrefix(subscriptionId: string): Buffer {
  return Buffer.from(`{"op":"record","sub":${JSON.stringify(subscriptionId)},`);
}

/** A multiplexed record frame: the subscription's prefix and the shared body without its opening brace. */
export function multiplexedFrame(prefix: Buffer, body: Buffer): Buffer {
  // Not Buffer.concat, which cuts from the shared pool (see ownedBuffer).
  const frame = Buffer.allocUnsafeSlow(prefix.length + body.length - 1);
  prefix.copy(frame, 0);
  body.copy(frame, prefix.length, 1);
  return frame;
}

function notes(parts: ReadonlyArray<string | false | undefined>): { note?: string } {
  const present = parts.filter((p): p is string => typeof p === 'string' && p !== '');
  return present.length > 0 ? { note: present.join('; ') } : {};
}
