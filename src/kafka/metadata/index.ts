/**
 * Metadata and administration: the Admin client's requests as plain data
 * (admin-client.ts, and wire-requests.ts for the Metadata and ListOffsets
 * requests spoken directly), the cached cluster, topic, offset and group
 * answers (MetadataService, TopicCache for topic structure, TtlCache), and
 * topic and group changes (TopicAdmin, GroupAdmin); the Admin whose group
 * descriptions other clients' members cannot break (GroupDescribingAdmin).
 */
export { KafkaAdmin } from './admin-client.js';
export { GroupAdmin } from './group-admin.js';
export { GroupDescribingAdmin } from './group-describing-admin.js';
export { MetadataService, type MetadataOptions } from './metadata-service.js';
export type * from './metadata-types.js';
export { TopicAdmin } from './topic-admin.js';
export { TopicCache, type TimestampPolicy, type TopicInfo, type TopicStructure } from './topic-cache.js';
export { describeCluster, describeConsumerGroups, listOffsets, type TopicMetadata } from './wire-requests.js';
