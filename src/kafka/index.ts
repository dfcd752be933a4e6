/**
 * The Kafka layer: the only code that imports the Kafka client
 * (@platformatic/kafka). Routes, WebSocket sessions and the composition
 * root see the services exported here (createKafkaLayer) and plain data,
 * never the client's types, so the rest of the gateway does not change
 * when the client does.
 *
 * Inside, by job: client/ (options, errors, logging shared by every
 * client), metadata/ (metadata, topic structure, administration), produce/
 * consume/ and share/ (queues). The files here join them: kafka-connection.ts (the
 * process's admin client and producer session), kafka-services.ts
 * (createKafkaLayer) and compacted-topic-table.ts (a table read from a
 * compacted topic, on both produce and consume).
 */
export { createKafkaLayer, type KafkaLayer } from './kafka-services.js';
export type { Readiness } from './kafka-connection.js';
export { GroupAdmin, MetadataService, TopicAdmin, TopicCache, type MetadataOptions, type TopicInfo } from './metadata/index.js';
export type {
  BrokerInfo,
  ClusterInfo,
  GroupDetail,
  GroupMember,
  GroupPartitionOffset,
  GroupSummary,
  NewTopic,
  PartitionInfo,
  TimestampOffset,
  TopicConfigEntry,
  TopicDetail,
  TopicSummary,
} from './metadata/index.js';
export {
  SubscriptionEngine,
  type AckMode,
  type ConsumedRecord,
  type EngineStats,
  type EngineTuning,
  type PartitionHandle,
  type PartitionPage,
  type StartPosition,
  type Subscription,
  type SubscriptionEvents,
  type SubscriptionOptions,
  type TopicPartitions,
} from './consume/index.js';
export { ProduceService, recordBytes, type CheckedBatch, type OutgoingRecord, type ProducedRecord } from './produce/index.js';
export {
  ShareGroups,
  SharePulls,
  SHARE_GROUP_CONFIGS,
  type AnswerResult,
  type TakenRecord,
  type DeadLetterMode,
  type ShareGroupDetail,
  type ShareGroupSettings,
  type ShareGroupSummary,
  type ShareMember,
  type ShareMemberEvents,
  type ShareOutcome,
  type ShareRecord,
  type ShareTopicPartitions,
} from './share/index.js';
export { CompactedTopicTable, type KeyedEntry } from './compacted-topic-table.js';
