/** The JSON Schema registry: compiled validators per topic, kept in a compacted Kafka topic. */
export { NOT_JSON, SchemaRegistry, type SchemaStore, type StoredSchema } from './registry.js';
/** The compacted topic every instance reads its schemas from. */
export { SCHEMA_TOPIC } from '../common/index.js';
