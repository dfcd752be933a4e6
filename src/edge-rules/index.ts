/**
 * Rules every client-facing edge (HTTP v1, Confluent v2, WebSocket, SSE)
 * applies the same way and that need the Kafka layer's types: where a
 * subscription starts (start-position.ts), and who may use a share group
 * (share-group-access.ts). The edge rules the Kafka layer
 * and records need too (topic and group names, strict UTF-8, the ajv setup,
 * instants) are in src/common/. Knows neither HTTP nor WebSocket.
 */
export { startFromFrame, startFromQuery, type FrameStart } from './start-position.js';
export { authorizeShareGroup } from './share-group-access.js';
