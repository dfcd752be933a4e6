/**
 * The schema registry wire format: a magic byte 0, the schema id as a
 * 4-byte big-endian integer, then the value in the schema's encoding
 * (Protobuf's message indexes first). Decoding looks the id up in a
 * schema source without waiting (ids are immutable, so a source keeps what
 * it has once seen), so a consumed record is decoded where it is encoded
 * for its readers, once.
 */
import type { ParsedSchema, SchemaType } from './formats/index.js';

const MAGIC = 0;
const HEADER_BYTES = 5;

/** A schema id resolved: its codec, and the subject versions using it. */
export interface KnownSchema {
  readonly id: number;
  readonly type: SchemaType;
  readonly parsed: ParsedSchema;
  readonly uses: ReadonlyArray<{ readonly subject: string; readonly version: number }>;
}

/** Where ids are looked up without waiting: undefined for an id not known (yet), an Error for one that cannot be used. */
export interface CachedSchemas {
  cached(id: number): KnownSchema | Error | undefined;
}

/** Where a record's key or value names its schema. */
export interface WireSchema {
  readonly id: number;
  readonly type?: SchemaType;
  readonly subject?: string;
  readonly version?: number;
}

export type WireDecoded = { readonly schema: WireSchema; readonly value: unknown } | { readonly schema: WireSchema; readonly failure: string };

export function wireHeader(bytes: Buffer): { id: number; payload: Buffer } | undefined {
  if (bytes.length < HEADER_BYTES || bytes[0] !== MAGIC) return undefined;
  return { id: bytes.readUInt32BE(1), payload: bytes.subarray(HEADER_BYTES) };
}

export function withHeader(id: number, payload: Buffer): Buffer {
  const bytes = Buffer.allocUnsafe(HEADER_BYTES + payload.length);
  bytes[0] = MAGIC;
  bytes.writeUInt32BE(id, 1);
  payload.copy(bytes, HEADER_BYTES);
  return bytes;
}

/** Decodes keys and values carrying the wire format, naming their schema by the topic's subject when it uses the id. */
export class WireDecoder {
  constructor(private readonly schemas: CachedSchemas) {}

  /** undefined: the bytes do not carry the wire format, or carry an id no registry holds (then they are not decoded at all). */
  decode(bytes: Buffer, topic: string, field: 'key' | 'value'): WireDecoded | undefined {
    const header = wireHeader(bytes);
    if (!header) return undefined;
    const known = this.schemas.cached(header.id);
    if (known === undefined) return undefined;
    if (known instanceof Error) return { schema: { id: header.id }, failure: known.message };
    const preferred = `${topic}-${field}`;
    const use = known.uses.filter((u) => u.subject === preferred).at(-1) ?? known.uses[0];
    const schema: WireSchema = { id: header.id, type: known.type, ...(use ? { subject: use.subject, version: use.version } : {}) };
    try {
      return { schema, value: known.parsed.decode(header.payload) };
    } catch (error) {
      return { schema, failure: (error as Error).message };
    }
  }
}
