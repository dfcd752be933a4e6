/**
 * Consuming: the subscription engine of one process. One fetcher with two
 * connections per broker, one partition stream per partition anybody reads
 * (records decoded once and shared), subscriptions holding positions on
 * them, and for durable subscriptions a consumer group member each, or a
 * group's committed offsets read and written without joining.
 */
export type { ConsumedRecord } from './consumed-record.js';
export type { TopicPartitions } from './group-member.js';
export { SubscriptionEngine, type EngineStats, type EngineTuning, type PartitionPage } from './subscription-engine.js';
export type { AckMode, PartitionHandle, StartPosition, Subscription, SubscriptionEvents, SubscriptionOptions } from './subscription.js';
