/**
 * The gateway's own HTTP API under /v1: cluster, topic and group
 * metadata, topic administration, produce, event streams, partition pages,
 * topic schemas and the WebSocket endpoints' plain-HTTP answers. Handlers
 * by operationId (see ../contract.ts); they shape the Kafka layer's plain
 * data for HTTP and throw GatewayError for everything else.
 */
export { adminHandlers } from './admin.js';
export { eventHandlers } from './events.js';
export { metadataHandlers } from './metadata.js';
export { produceHandlers } from './produce.js';
export { queueHandlers } from './queues.js';
export { schemaHandlers } from './schemas.js';
export type { SchemaInfo } from './topic-bodies.js';
export { websocketInfoHandlers } from './websocket-info.js';
