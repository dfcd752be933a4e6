/**
 * The Kafka layer: the only code that imports the Kafka client
 * (@platformatic/kafka). Routes, WebSocket sessions and the composition
 * root see the services exported here (createKafkaLayer) and plain data,
 * never the client's types, so the rest of the gateway does not change
 * when the client does.
 */
export { createKafkaLayer, type KafkaLayer } from './layer.js';
export type { Readiness } from './connection.js';
export { MetadataService, type MetadataOptions } from './metadata.js';
export { TopicAdmin } from './topic-admin.js';
export type * from './metadata-types.js';
export type { ConsumedRecord } from './consumed-record.js';
export type { TopicPartitions } from './group-member.js';
export { SubscriptionEngine, type EngineStats, type EngineTuning, type PartitionPage } from './subscription-engine.js';
export { decodeResumeToken, encodeResumeToken } from './resume-token.js';
export type { AckMode, PartitionHandle, StartPosition, Subscription, SubscriptionEvents, SubscriptionOptions } from './subscription.js';
export { ProduceService, recordBytes, type OutgoingRecord, type ProducedRecord } from './producer.js';
export { TopicCache, isValidTopicName, type TopicInfo } from './topics.js';
export { CompactedTopicTable, type KeyedEntry } from './compacted.js';
