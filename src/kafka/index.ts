/**
 * The Kafka layer: the only code that imports a Kafka client (kafkajs for producing and administration, @platformatic/kafka for subscriptions). Routes and WebSocket
 * sessions see the services exported here and plain data, never kafkajs
 * types, so the rest of the gateway does not change when the client does.
 */
export { KafkaConnection, type Readiness } from './connection.js';
export { fromKafkaError, isUnavailable } from './errors.js';
export { MetadataService, type MetadataOptions } from './metadata.js';
export { TopicAdmin } from './topic-admin.js';
export type * from './metadata-types.js';
export type { ConsumedRecord } from './consumed-record.js';
export type { TopicPartitions } from './group-member.js';
export { SubscriptionEngine, type EngineStats, type EngineTuning } from './subscription-engine.js';
export type { AckMode, PartitionHandle, StartPosition, Subscription, SubscriptionEvents, SubscriptionOptions } from './subscription.js';
export { ProduceService, recordBytes, type OutgoingRecord, type ProducedRecord } from './producer.js';
export { TopicCache, isValidTopicName, type TopicInfo } from './topics.js';
export { CompactedTopicTable, type KeyedEntry } from './compacted.js';
