/**
 * The Kafka layer as the rest of the gateway sees it: produce, subscribe,
 * describe and administer, and a replicated table on a compacted topic,
 * built from the config in one place. Nothing outside src/kafka knows
 * which client is underneath.
 */
import type { Config } from '../config.js';
import type { Logger } from '../common/index.js';
import { GroupAdmin, KafkaAdmin, MetadataService, TopicAdmin } from './metadata/index.js';
import { CompactedTopicTable } from './compacted-topic-table.js';
import { KafkaConnection, type Readiness } from './kafka-connection.js';
import { ProduceService } from './produce/index.js';
import { SubscriptionEngine } from './consume/index.js';
import { ShareGroups, SharePulls } from './share/index.js';

export interface KafkaLayer {
  /** Records to topics, through one idempotent producer and its shared batches. */
  readonly produce: ProduceService;
  /** Subscriptions on partition streams fetched once per process. */
  readonly subscriptions: SubscriptionEngine;
  /** Cluster, topic, offset and group metadata. */
  readonly metadata: MetadataService;
  /** Topic creation, deletion, partitions and configs. */
  readonly admin: TopicAdmin;
  /** Consumer group deletion. */
  readonly groupAdmin: GroupAdmin;
  /** Share groups (queues): members, settings, listing and description. */
  readonly shareGroups: ShareGroups;
  /** Take-and-answer pulls of share groups, for HTTP workers. */
  readonly sharePulls: SharePulls;
  /** A key-value table that every instance reads from a compacted topic. */
  table(topic: string, logger: Logger): CompactedTopicTable;
  /** Starts connecting, retrying in the background; rejects only on a failure no retry mends (refused credentials). */
  connect(): Promise<void>;
  /** Resolves after the first connection attempt (or rejects when it failed for good). */
  firstAttempt(): Promise<void>;
  readiness(): Promise<Readiness>;
  /** Sends what was accepted, then closes every connection. */
  close(): Promise<void>;
}

export function createKafkaLayer(config: Config, logger: Logger): KafkaLayer {
  const connection = new KafkaConnection(config, logger);
  const admin = new KafkaAdmin(connection.admin);
  const metadata = new MetadataService(admin, { cacheTtlMs: config.metadata.cacheTtlMs, timeoutMs: config.metadata.timeoutMs, clientId: config.kafka.clientId });
  const topicAdmin = new TopicAdmin(admin, metadata, { readableWithinMs: config.metadata.timeoutMs });
  // One cache of topic structure for the metadata routes, the produce path and the engine, cleared by every admin change.
  const produce = new ProduceService(connection, metadata.topicCache, config.produce, logger.child({ component: 'produce' }));
  const partitionMaxBytes = Math.min(1024 * 1024, Math.max(64 * 1024, Math.floor(config.ws.maxBufferedBytes / 4)));
  // The engine and its fetcher read topic structure from the same cache.
  const subscriptions = new SubscriptionEngine(
    config.kafka,
    metadata.topicCache,
    {
      sessionTimeoutMs: config.ws.sessionTimeoutMs,
      heartbeatIntervalMs: Math.max(100, Math.floor(config.ws.sessionTimeoutMs / 10)),
      fetchMaxWaitMs: config.ws.fetchMaxWaitMs,
      partitionMaxBytes,
      partitionCacheBytes: 4 * partitionMaxBytes,
      autoCommitIntervalMs: config.ws.autoCommitIntervalMs,
      groupProtocol: config.ws.groupProtocol,
    },
    logger.child({ component: 'subscriptions' }),
  );
  const shareGroups = new ShareGroups(
    connection.admin,
    connection.options,
    // Answers wait for a fetch in flight on their share session: a short wait keeps them prompt.
    { fetchMaxWaitMs: Math.min(500, Math.max(100, config.ws.fetchMaxWaitMs)), maxBytes: partitionMaxBytes, requestTimeoutMs: config.kafka.requestTimeoutMs },
    async (deadLetterTopic, letter) => {
      const batch = await produce.check(deadLetterTopic, [
        {
          key: letter.key,
          value: letter.value,
          // The header names the broker's own dead letters carry (KIP-1191), so readers see one shape whoever wrote them.
          headers: {
            '__dlq.errors.topic': letter.topic,
            '__dlq.errors.partition': String(letter.partition),
            '__dlq.errors.offset': String(letter.offset),
            '__dlq.errors.group': letter.group,
            '__dlq.errors.delivery.count': String(letter.deliveryCount),
            '__dlq.errors.message': letter.reason,
          },
        },
      ]);
      await produce.send(batch);
    },
    logger.child({ component: 'share-groups' }),
  );
  // A pull member that nobody took from for a minute goes, releasing what it held.
  const sharePulls = new SharePulls(shareGroups, { idleMs: 60_000, maxPullers: 1000 }, logger.child({ component: 'share-pulls' }));
  return {
    produce,
    subscriptions,
    shareGroups,
    sharePulls,
    metadata,
    admin: topicAdmin,
    groupAdmin: new GroupAdmin(admin, metadata),
    table: (topic, tableLogger) => new CompactedTopicTable(subscriptions, admin, produce, topic, tableLogger),
    connect: () => connection.connect(),
    firstAttempt: () => connection.firstAttempt(),
    readiness: () => connection.readiness(),
    async close() {
      await subscriptions.close();
      await sharePulls.close();
      await shareGroups.close();
      // Records already accepted are sent and acknowledged before the producer goes.
      await produce.drain();
      await connection.close();
    },
  };
}
