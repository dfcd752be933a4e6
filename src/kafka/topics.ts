import kafkajs, { type Admin, type PartitionMetadata } from 'kafkajs';
import type { Config } from '../config.js';
import { GatewayError } from '../errors.js';
import { fromKafkaError } from './errors.js';
import { withDeadline } from './deadline.js';

const { ConfigResourceTypes } = kafkajs;

/** What a producer needs to know about a topic before sending to it. */
export interface TopicInfo {
  readonly name: string;
  readonly partitions: readonly PartitionMetadata[];
  /** The topic's max.message.bytes: the largest record batch the broker accepts. */
  readonly maxMessageBytes: number;
}

// The broker's default message.max.bytes, used when the topic's config cannot be read.
const DEFAULT_MAX_MESSAGE_BYTES = 1_048_588;

const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;

/** Kafka's own rule for topic names. */
export function isValidTopicName(topic: string): boolean {
  return TOPIC_NAME.test(topic) && topic !== '.' && topic !== '..';
}

/**
 * Topic partitions and limits for the produce path, cached for
 * METADATA_CACHE_TTL_MS. The whole topic list is fetched in one metadata
 * call, so an unknown topic is a cache miss rather than a failing request
 * that kafkajs would retry for seconds.
 */
export class TopicCache {
  #topics = new Map<string, readonly PartitionMetadata[]>();
  #limits = new Map<string, { bytes: number; at: number }>();
  #fetchedAt = 0;
  #refreshing?: Promise<void>;

  constructor(
    private readonly admin: Admin,
    private readonly config: Config,
  ) {}

  /** The topic's partitions and limit; GW_ERR_TOPIC_NOT_FOUND when it does not exist (unless auto-creation is on). */
  async get(topic: string): Promise<TopicInfo> {
    if (!isValidTopicName(topic)) {
      throw new GatewayError('GW_ERR_INVALID_TOPIC', `Topic name ${JSON.stringify(topic)} is not valid: use 1 to 249 of a-z, A-Z, 0-9, '.', '_' and '-'.`);
    }
    if (!this.#topics.has(topic)) {
      // A miss always asks again, so a topic created a moment ago is found;
      // concurrent misses share one metadata call.
      await this.refresh();
    } else if (Date.now() - this.#fetchedAt > this.config.metadata.cacheTtlMs) {
      // Stale but known: answer from the cache and refresh behind it, so that
      // a broker outage costs a request one bounded wait (the send), not two.
      this.refresh().catch(() => undefined);
    }
    let partitions = this.#topics.get(topic);
    if (!partitions && this.config.produce.autoCreateTopics) {
      await this.#create(topic);
      partitions = this.#topics.get(topic);
    }
    if (!partitions || partitions.length === 0) {
      throw new GatewayError('GW_ERR_TOPIC_NOT_FOUND', `Topic ${JSON.stringify(topic)} does not exist.`);
    }
    return { name: topic, partitions, maxMessageBytes: await this.#maxMessageBytes(topic) };
  }

  /** Forgets what is cached, e.g. after a topic was created or deleted. */
  invalidate(): void {
    this.#fetchedAt = 0;
  }

  refresh(): Promise<void> {
    this.#refreshing ??= (async () => {
      try {
        const { topics } = await withDeadline(this.admin.fetchTopicMetadata(), this.config.produce.timeoutMs);
        this.#topics = new Map(topics.map((t) => [t.name, [...t.partitions].sort((a, b) => a.partitionId - b.partitionId)]));
        this.#fetchedAt = Date.now();
      } catch (error) {
        const mapped = fromKafkaError(error);
        // Without a reason from the broker, a failed lookup means Kafka is not answering.
        throw mapped.code === 'GW_ERR_INTERNAL'
          ? new GatewayError('GW_ERR_KAFKA_UNAVAILABLE', 'Kafka did not answer a metadata request; retry shortly.', { cause: error, retryAfterSeconds: 1 })
          : mapped;
      } finally {
        this.#refreshing = undefined;
      }
    })();
    return this.#refreshing;
  }

  async #create(topic: string): Promise<void> {
    try {
      await this.admin.createTopics({ topics: [{ topic }], waitForLeaders: true });
    } catch (error) {
      // Another instance may have created it at the same moment.
      if ((error as { type?: string }).type !== 'TOPIC_ALREADY_EXISTS') throw fromKafkaError(error, { topic });
    }
    this.#fetchedAt = 0;
    await this.refresh();
  }

  async #maxMessageBytes(topic: string): Promise<number> {
    const cached = this.#limits.get(topic);
    if (cached && Date.now() - cached.at <= this.config.metadata.cacheTtlMs) return cached.bytes;
    if (cached) {
      void this.#fetchMaxMessageBytes(topic, cached.bytes);
      return cached.bytes;
    }
    return this.#fetchMaxMessageBytes(topic, DEFAULT_MAX_MESSAGE_BYTES);
  }

  async #fetchMaxMessageBytes(topic: string, fallback: number): Promise<number> {
    let bytes = fallback;
    try {
      const { resources } = await withDeadline(this.admin.describeConfigs({
        includeSynonyms: false,
        resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: ['max.message.bytes'] }],
      }), this.config.produce.timeoutMs);
      const value = resources[0]?.configEntries.find((e) => e.configName === 'max.message.bytes')?.configValue;
      if (value !== undefined && /^\d+$/.test(value)) bytes = Number(value);
    } catch {
      // The limit only lets us answer 413 early; the broker still enforces it.
    }
    this.#limits.set(topic, { bytes, at: Date.now() });
    return bytes;
  }
}
