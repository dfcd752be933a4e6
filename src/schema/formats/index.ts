/** The three schema types of the registry wire format, each parsed once into a codec both ways. */
import { GatewayError } from '../../common/index.js';
import { parseAvro } from './avro.js';
import { parseJsonSchema } from './json-schema.js';
import { parseProtobuf } from './protobuf.js';
import type { ParsedSchema, ResolvedReference, SchemaType } from './types.js';

export { SCHEMA_TYPES, type ParsedSchema, type ResolvedReference, type SchemaType } from './types.js';
export { avroType } from './avro.js';
export { compileJsonSchema } from './json-schema.js';
export { protobufRoot, serializedProtobuf } from './protobuf.js';

/** Parses a schema of its type, or throws GW_ERR_INVALID_SCHEMA with the library's reason. */
export function parseSchema(type: SchemaType, text: string, references: readonly ResolvedReference[] = []): ParsedSchema {
  try {
    if (type === 'AVRO') return parseAvro(text, references);
    if (type === 'PROTOBUF') return parseProtobuf(text, references);
    return parseJsonSchema(text, references);
  } catch (error) {
    if (error instanceof GatewayError) throw error;
    throw new GatewayError('GW_ERR_INVALID_SCHEMA', `The ${type === 'JSON' ? 'JSON Schema' : type === 'AVRO' ? 'Avro schema' : 'Protobuf schema'} is not valid: ${(error as Error).message}`);
  }
}
