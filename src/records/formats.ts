/**
 * One converter per data format, each going both ways: `toKafka` turns a
 * key or value as a client gives it into the bytes stored in Kafka, and
 * `fromKafka` turns stored bytes back into what a client reads. Every
 * transport converts through these: produce bodies and frames
 * (to-kafka.ts), WebSocket frames, SSE events and partition pages
 * (to-json.ts), and Confluent v2 reads. What each transport wraps around
 * the converted key and value (its envelope) stays with the transport.
 */
import type { components } from '../../clients/typescript/schema.js';
import { utf8Text, type FieldError } from '../common/index.js';
import { withHeader, type KnownSchema } from '../schema/index.js';
import { decodeBase64 } from './key-filter.js';

/**
 * How a key or value is given: `json` (any JSON; a JSON string key is stored
 * as its UTF-8 text, as Java's StringSerializer writes it), `text` (a string
 * stored as UTF-8) or `binary` (a base64 string stored byte for byte).
 */
export type DataFormat = components['schemas']['DataFormat'];
/** The formats of the schema registry wire format, and the registry's name for each one's schemas. */
export const REGISTRY_FORMATS = { avro: 'AVRO', protobuf: 'PROTOBUF', jsonschema: 'JSON' } as const;
export type RegistryFormat = keyof typeof REGISTRY_FORMATS;
/** The formats with one converter for every request (the registry formats' depend on the schema a request names). */
export type PlainFormat = Exclude<DataFormat, RegistryFormat>;

export function isRegistryFormat(format: string): format is RegistryFormat {
  return Object.hasOwn(REGISTRY_FORMATS, format);
}

/**
 * The deepest nesting a JSON key or value may have: Jackson's default
 * (StreamReadConstraints), so what the gateway writes a Java consumer can
 * read back, and far below where encoding would exhaust the stack.
 */
export const MAX_JSON_DEPTH = 1000;

/** Why a client's key or value cannot be stored in its format: the message for its field error. */
export interface Refusal {
  readonly refused: string;
  /** Errors inside the key or value, each pointer relative to it (`/items/0/price`), in place of `refused`. */
  readonly inside?: readonly FieldError[];
}

export interface FormatConverter {
  /** Client data (not null) to Kafka bytes, or why it cannot be; `field` names it in the refusal. */
  toKafka(data: unknown, field: 'key' | 'value', bareString: boolean): Buffer | Refusal;
  /** Kafka bytes to what a client reads, or undefined when the bytes are not in this format. */
  fromKafka(bytes: Buffer): unknown;
  /** A registry format's schema id, which every key or value it writes carries. */
  readonly schemaId?: number;
}

/**
 * Whether a JSON value nests deeper than `limit`. Recursion stops at
 * `limit` levels, well inside the stack, however deep the value is; no
 * allocation per node, as this runs on every JSON value produced.
 */
export function nestsDeeperThan(value: unknown, limit: number): boolean {
  return deeper(value, 0, limit);
}

function deeper(node: unknown, depth: number, limit: number): boolean {
  if (typeof node !== 'object' || node === null) return false;
  if (depth >= limit) return true;
  if (Array.isArray(node)) {
    for (let i = 0; i < node.length; i++) if (deeper(node[i], depth + 1, limit)) return true;
    return false;
  }
  for (const key in node) if (Object.hasOwn(node, key) && deeper((node as Record<string, unknown>)[key], depth + 1, limit)) return true;
  return false;
}

function typeName(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
}

/** Text stored as UTF-8; bytes that are not strict UTF-8 are not text. */
const text = {
  toKafka(data: unknown, field: 'key' | 'value'): Buffer | Refusal {
    if (typeof data === 'string') return Buffer.from(data, 'utf8');
    return { refused: `${field} must be a string with ${field}Format text, not ${typeName(data)}` };
  },
  fromKafka(bytes: Buffer): string | undefined {
    return utf8Text(bytes);
  },
};

/** Any bytes, given and read as base64. */
const binary = {
  toKafka(data: unknown, field: 'key' | 'value'): Buffer | Refusal {
    const bytes = typeof data === 'string' ? decodeBase64(data) : undefined;
    if (bytes) return bytes;
    return { refused: typeof data === 'string' ? `${field} is not valid base64` : `${field} must be a base64 string with ${field}Format binary, not ${typeName(data)}` };
  },
  fromKafka(bytes: Buffer): string {
    return bytes.toString('base64');
  },
};

/** Where a JSON text may start and end (RFC 8259: an object, array, string, number, true, false or null). */
const JSON_FIRST = new Set('{["-0123456789tfn');
const JSON_LAST = new Set('}]"0123456789el');
const isJsonSpace = (c: string) => c === ' ' || c === '\n' || c === '\r' || c === '\t';

/**
 * False for most text that is not JSON, without parsing it: text whose
 * first or last character (past JSON's whitespace) no JSON text has there.
 * JSON.parse refuses text by throwing, and a thrown SyntaxError cost more
 * than the rest of a record's conversion; keys such as `user-42` are text
 * on nearly every record.
 */
function mightBeJson(text: string): boolean {
  let first = 0;
  let last = text.length - 1;
  while (first <= last && isJsonSpace(text[first]!)) first++;
  while (last > first && isJsonSpace(text[last]!)) last--;
  return first <= last && JSON_FIRST.has(text[first]!) && JSON_LAST.has(text[last]!);
}

/** JSON stored as its UTF-8 text. */
const json = {
  toKafka(data: unknown, field: 'key' | 'value', bareString: boolean): Buffer | Refusal {
    if (bareString && typeof data === 'string') return Buffer.from(data, 'utf8');
    if (nestsDeeperThan(data, MAX_JSON_DEPTH)) return { refused: `${field} nests deeper than ${MAX_JSON_DEPTH} levels` };
    return Buffer.from(JSON.stringify(data), 'utf8');
  },
  fromKafka(bytes: Buffer): unknown {
    return json.fromText(utf8Text(bytes));
  },
  /** fromKafka for bytes already decoded as text (undefined: not UTF-8), so a caller falling back to the text decodes once. */
  fromText(text: string | undefined): unknown {
    if (text === undefined || !mightBeJson(text)) return undefined;
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return undefined;
    }
  },
};

export const formats = { json, text, binary } as const satisfies Record<PlainFormat, FormatConverter>;

/**
 * A registry format's converter for one schema: JSON in the registry
 * clients' conventions (docs/schemas.md) checked against the schema and
 * written in the wire format, its id in front; bytes read back through
 * the schema the same bytes name.
 */
export function registryConverter(schema: KnownSchema): FormatConverter {
  return {
    schemaId: schema.id,
    toKafka(data: unknown, field: 'key' | 'value'): Buffer | Refusal {
      const encoded = schema.parsed.encode(data);
      if (Buffer.isBuffer(encoded)) return withHeader(schema.id, encoded);
      return { refused: `${field} does not fit schema ${schema.id}`, inside: encoded };
    },
    fromKafka(bytes: Buffer): unknown {
      try {
        return schema.parsed.decode(bytes.subarray(5));
      } catch {
        return undefined;
      }
    },
  };
}
