/**
 * Schemas: the topics' JSON Schemas (registry.ts) and the schema registry
 * (subjects.ts: the Confluent Schema Registry's subjects, versions and ids)
 * sharing the compacted topic `_gateway_schemas`; the three schema types
 * of the registry wire format (formats/), their compatibility rules
 * (compatibility.ts) and the wire format itself (wire.ts).
 */
export { NOT_JSON, REGISTRY_PREFIX, SchemaRegistry, type SchemaStore, type StoredSchema } from './registry.js';
export { SubjectRegistry, type ResolvedSchema, type SchemaReference, type SchemaText, type SubjectVersion } from './subjects.js';
export { COMPATIBILITY_LEVELS, type CompatibilityLevel } from './compatibility.js';
export { SCHEMA_TYPES, parseSchema, type ParsedSchema, type SchemaType } from './formats/index.js';
export type { SchemaSource } from './source.js';
export { ExternalRegistry } from './external.js';
export { WireDecoder, wireHeader, withHeader, type CachedSchemas, type KnownSchema, type WireDecoded, type WireSchema } from './wire.js';
/** The compacted topic every instance reads its schemas from. */
export { SCHEMA_TOPIC } from '../common/index.js';
