/**
 * Turns records as clients send them into bytes for Kafka: the one decoder
 * every transport uses (JSON and NDJSON bodies, Confluent v2, WebSocket
 * frames). A record is first checked against the record schema of
 * openapi.yaml (`ProduceRecord`, compiled once), then its key and value are
 * encoded by their formats. Knows neither HTTP nor WebSocket.
 */
import type { components } from '../../clients/typescript/schema.js';
import { type FieldError, fieldErrors, openapi, parseTimestamp } from '../common/index.js';
import type { OutgoingRecord } from '../kafka/index.js';
import { NOT_JSON } from '../schema/index.js';
import { formats as converters, isRegistryFormat, type DataFormat, type FormatConverter } from './formats.js';

export interface Formats {
  readonly key: DataFormat;
  readonly value: DataFormat;
  /** The converters of registry formats (avro, protobuf, jsonschema) for the schemas this request names (resolveSchemas). */
  readonly keyConverter?: FormatConverter;
  readonly valueConverter?: FormatConverter;
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

type ProduceRecord = components['schemas']['ProduceRecord'];

/** Where each record's errors point: into the batch, as `/records/<index>/...`, whatever the transport. */
export function recordPointer(index: number, pointer = ''): string {
  return `/records/${index}${pointer}`;
}

function encode(data: unknown, formats: Formats, bareString: boolean, field: 'key' | 'value', errors: FieldError[], index: number): Buffer | null | undefined {
  if (data === undefined || data === null) return null;
  const format = formats[field];
  const converter = (field === 'key' ? formats.keyConverter : formats.valueConverter) ?? (isRegistryFormat(format) ? undefined : converters[format]);
  if (!converter) {
    errors.push({ index, pointer: recordPointer(index, `/${field}`), message: `${field}Format ${format} needs a schema: name one, or register the subject first` });
    return undefined;
  }
  const bytes = converter.toKafka(data, field, bareString);
  if (Buffer.isBuffer(bytes)) return bytes;
  if (bytes.inside) for (const e of bytes.inside) errors.push({ index, pointer: recordPointer(index, `/${field}${e.pointer}`), message: e.message });
  else errors.push({ index, pointer: recordPointer(index, `/${field}`), message: bytes.refused });
  return undefined;
}

function parseJson(bytes: Buffer | null): unknown {
  if (bytes === null) return null;
  try {
    return JSON.parse(bytes.toString('utf8')) as unknown;
  } catch {
    return NOT_JSON;
  }
}

/** A decoded record; a class, not closures, as one is made per record produced. */
class Decoded implements DecodedRecord {
  constructor(
    readonly record: OutgoingRecord,
    /** The value as the client gave it, when its format is json. */
    private readonly given: unknown,
    private readonly isJson: boolean,
  ) {}

  jsonValue(): unknown {
    if (this.isJson) return this.given === undefined ? null : this.given;
    return parseJson(this.record.value);
  }
}

/**
 * Decodes the record at `index` of a batch, or adds its problems to `errors`
 * (pointers into the batch, e.g. `/records/3/headers/trace`) and returns
 * undefined. `validated`: the input already passed the record schema (the
 * HTTP contract checks a JSON body's records against it), so it is not
 * checked again; every other input is. `rawValue`: the value's bytes for
 * Kafka found for the whole batch at once, used instead of encoding the
 * value again: for a JSON value the bytes the client sent, byte for byte
 * what serializing the parsed value writes (rawRecordValues finds them); for
 * a binary one its base64 decoded (decodeBase64All).
 */
export function decodeRecord(input: unknown, index: number, formats: Formats, errors: FieldError[], validated = false, rawValue?: Buffer): DecodedRecord | undefined {
  if (!validated) {
    const validate = openapi().component('ProduceRecord');
    if (!validate(input)) {
      for (const e of fieldErrors(validate.errors, recordPointer(index))) errors.push({ index, ...e });
      return undefined;
    }
  }
  const raw = input as ProduceRecord;
  const before = errors.length;
  const key = encode(raw.key, formats, formats.stringKeysAsText ?? true, 'key', errors, index);
  const bulk = rawValue !== undefined && (formats.value === 'json' || formats.value === 'binary') && formats.valueConverter === undefined;
  const value = bulk && raw.value !== undefined && raw.value !== null ? rawValue : encode(raw.value, formats, false, 'value', errors, index);
  // The schema already allows only what the parser takes; parsed here once for its value.
  const timestamp = raw.timestamp === undefined ? undefined : parseTimestamp(raw.timestamp);
  if (errors.length > before || key === undefined || value === undefined) return undefined;
  const record: OutgoingRecord = { key, value, headers: raw.headers, partition: raw.partition, timestamp };
  // A registry format's value is JSON as given (the topic's JSON Schema, if any, checks that JSON).
  const isJson = formats.value === 'json' || formats.valueConverter !== undefined;
  // Only a JSON value is kept as given: a binary or text one would hold its string (a base64 kilobyte) until the broker answers.
  return new Decoded(record, isJson ? raw.value : undefined, isJson);
}
