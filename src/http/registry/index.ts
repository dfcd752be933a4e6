/**
 * The Confluent Schema Registry API under /schema-registry: its wire
 * conventions (media type, `{error_code, message}` errors with the
 * registry's codes) and the handlers by operationId.
 */
export { isRegistryPath, sendRegistryError, REGISTRY_PATH, SCHEMA_REGISTRY_MEDIA_TYPE } from './conventions.js';
export { registryHandlers, type RegistryRouteDeps } from './handlers.js';
