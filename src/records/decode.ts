/**
 * Turns records as clients send them (JSON objects with key, value, headers,
 * partition, timestamp) into bytes for Kafka. Shared by the HTTP routes and
 * the WebSocket `produce` frame; it knows neither.
 */
import type { FieldError } from '../errors.js';
import type { OutgoingRecord } from '../kafka/index.js';
import { NOT_JSON } from '../schema/index.js';

/**
 * How a key or value is given: `json` (any JSON; a JSON string key is stored
 * as its UTF-8 text, as Java's StringSerializer writes it), `text` (a string
 * stored as UTF-8) or `binary` (a base64 string stored byte for byte).
 */
export type DataFormat = 'json' | 'text' | 'binary';
export const DATA_FORMATS: readonly DataFormat[] = ['json', 'text', 'binary'];

export interface Formats {
  readonly key: DataFormat;
  readonly value: DataFormat;
  /**
   * Whether a JSON string key is stored as its bare UTF-8 text (true, the
   * default) or JSON-encoded with its quotes, as Confluent's REST Proxy does.
   */
  readonly stringKeysAsText?: boolean;
}

/** A decoded record and its value as JSON, for schema validation. */
export interface DecodedRecord {
  readonly record: OutgoingRecord;
  /** The value as a JSON value (null for no value), or NOT_JSON when its bytes are not JSON. */
  jsonValue(): unknown;
}

const RECORD_FIELDS = new Set(['key', 'value', 'headers', 'partition', 'timestamp']);
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
// 9999-12-31: later timestamps are almost certainly microseconds or nanoseconds by mistake.
const MAX_TIMESTAMP = 253_402_300_799_999;

function typeName(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
}

function encode(data: unknown, format: DataFormat, bareString: boolean, field: string, errors: FieldError[], index: number): Buffer | null | undefined {
  if (data === undefined || data === null) return null;
  switch (format) {
    case 'json':
      if (bareString && typeof data === 'string') return Buffer.from(data, 'utf8');
      return Buffer.from(JSON.stringify(data), 'utf8');
    case 'text':
      if (typeof data === 'string') return Buffer.from(data, 'utf8');
      errors.push({ index, pointer: `/${field}`, message: `${field} must be a string with ${field}Format text, not ${typeName(data)}` });
      return undefined;
    case 'binary':
      if (typeof data === 'string' && BASE64.test(data)) return Buffer.from(data, 'base64');
      errors.push({ index, pointer: `/${field}`, message: typeof data === 'string' ? `${field} is not valid base64` : `${field} must be a base64 string with ${field}Format binary, not ${typeName(data)}` });
      return undefined;
  }
}

function parseJson(bytes: Buffer | null): unknown {
  if (bytes === null) return null;
  try {
    return JSON.parse(bytes.toString('utf8')) as unknown;
  } catch {
    return NOT_JSON;
  }
}

/**
 * Decodes one record, or adds its problems to `errors` (pointers relative to
 * the record, e.g. `/headers/trace`) and returns undefined.
 */
export function decodeRecord(input: unknown, index: number, formats: Formats, errors: FieldError[]): DecodedRecord | undefined {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    errors.push({ index, pointer: '', message: `a record must be an object, not ${typeName(input)}` });
    return undefined;
  }
  const before = errors.length;
  const raw = input as Record<string, unknown>;
  for (const field of Object.keys(raw)) {
    if (!RECORD_FIELDS.has(field)) errors.push({ index, pointer: `/${field.replaceAll('~', '~0').replaceAll('/', '~1')}`, message: `unknown field ${JSON.stringify(field)}; a record has key, value, headers, partition and timestamp` });
  }
  const key = encode(raw.key, formats.key, formats.stringKeysAsText ?? true, 'key', errors, index);
  const value = encode(raw.value, formats.value, false, 'value', errors, index);

  let headers: Record<string, string> | undefined;
  if (raw.headers !== undefined && raw.headers !== null) {
    if (typeof raw.headers !== 'object' || Array.isArray(raw.headers)) {
      errors.push({ index, pointer: '/headers', message: `headers must be an object of strings, not ${typeName(raw.headers)}` });
    } else {
      headers = {};
      for (const [name, v] of Object.entries(raw.headers)) {
        if (typeof v === 'string') headers[name] = v;
        else errors.push({ index, pointer: `/headers/${name.replaceAll('~', '~0').replaceAll('/', '~1')}`, message: `header values must be strings, not ${typeName(v)}` });
      }
    }
  }

  let partition: number | undefined;
  if (raw.partition !== undefined && raw.partition !== null) {
    if (Number.isSafeInteger(raw.partition) && (raw.partition as number) >= 0) partition = raw.partition as number;
    else errors.push({ index, pointer: '/partition', message: `partition must be a whole number from 0, not ${JSON.stringify(raw.partition)}` });
  }

  let timestamp: number | undefined;
  if (raw.timestamp !== undefined && raw.timestamp !== null) {
    const ms = typeof raw.timestamp === 'string' ? Date.parse(raw.timestamp) : raw.timestamp;
    if (typeof ms === 'number' && Number.isSafeInteger(ms) && ms >= 0 && ms <= MAX_TIMESTAMP) timestamp = ms;
    else errors.push({ index, pointer: '/timestamp', message: 'timestamp must be milliseconds since the epoch or an ISO 8601 date-time' });
  }

  if (errors.length > before || key === undefined || value === undefined) return undefined;
  const record: OutgoingRecord = { key, value, headers, partition, timestamp };
  const jsonValue = formats.value === 'json' ? () => (raw.value === undefined ? null : raw.value) : () => parseJson(value);
  return { record, jsonValue };
}

/** Picks a key or value format from a request field, adding an error when it is not one we know. */
export function parseFormat(given: unknown, pointer: string, errors: FieldError[]): DataFormat {
  if (given === undefined) return 'json';
  if (typeof given === 'string' && (DATA_FORMATS as readonly string[]).includes(given)) return given as DataFormat;
  errors.push({ pointer, message: `must be one of ${DATA_FORMATS.join(', ')}` });
  return 'json';
}
