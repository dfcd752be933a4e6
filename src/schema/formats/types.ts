import type { FieldError } from '../../common/index.js';

/** The registry's names for the three schema types (the Confluent Schema Registry API's `schemaType`). */
export type SchemaType = 'AVRO' | 'PROTOBUF' | 'JSON';
export const SCHEMA_TYPES: readonly SchemaType[] = ['AVRO', 'PROTOBUF', 'JSON'];

/** A schema a schema refers to by name, resolved to its text by the registry before parsing. */
export interface ResolvedReference {
  readonly name: string;
  readonly schema: string;
}

/**
 * A schema compiled once, when it is first seen, both ways: a JSON value to
 * the bytes a registry serializer writes after the 5-byte header, and those
 * bytes back to JSON, in the registry clients' JSON conventions
 * (docs/schemas.md).
 */
export interface ParsedSchema {
  readonly type: SchemaType;
  /** The schema's text as the registry compares it: equal texts are the same schema. */
  readonly canonical: string;
  /** The full name of the record or message (Avro record, Protobuf first message, JSON Schema `title`), for the record subject strategies. */
  readonly recordName?: string;
  /** The value's bytes after the schema id (Protobuf's message indexes included), or why it does not fit, each error's pointer relative to the value. */
  encode(value: unknown): Buffer | FieldError[];
  /** The bytes after the schema id back to JSON; throws with a message saying why they do not fit. */
  decode(payload: Buffer): unknown;
}
