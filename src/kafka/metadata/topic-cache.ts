/**
 * The gateway's one cache of topic structure (which topics exist, their
 * ids, their partitions with leaders and replicas) and of the topic configs
 * that decide what the broker accepts. The produce path, the metadata
 * routes, WebSocket and SSE starts, the subscription engine and its
 * fetcher all read this one instance; every admin change the gateway makes
 * clears it. Offsets are not structure and are never kept here.
 */
import { withDeadline, GatewayError, checkTopicName } from '../../common/index.js';
import type { KafkaAdmin, PartitionMetadata } from './admin-client.js';
import { fromKafkaError, protocolErrorIds } from '../client/index.js';

/** One topic as the last metadata answer described it. */
export interface TopicStructure {
  readonly name: string;
  /** The topic id, which changes when a topic is deleted and created again under its name. */
  readonly id: string;
  /** Sorted by partition id. */
  readonly partitions: readonly PartitionMetadata[];
}

/**
 * Which record timestamps the broker takes on a topic. With CreateTime it
 * refuses a record stamped more than `beforeMaxMs` before or `afterMaxMs`
 * after its own clock (message.timestamp.before/after.max.ms); with
 * LogAppendTime it overwrites every timestamp and refuses none.
 */
export interface TimestampPolicy {
  readonly type: 'CreateTime' | 'LogAppendTime';
  readonly beforeMaxMs: number;
  readonly afterMaxMs: number;
}

/** What a producer needs to know about a topic before sending to it. */
export interface TopicInfo {
  readonly name: string;
  readonly partitions: readonly PartitionMetadata[];
  /** The topic's max.message.bytes: the largest record batch the broker accepts. */
  readonly maxMessageBytes: number;
  readonly timestamps: TimestampPolicy;
}

export interface TopicCacheOptions {
  /** How long what the broker said is reused; admin changes through the gateway clear it at once. */
  readonly cacheTtlMs: number;
  /** Upper bound for one metadata request. */
  readonly timeoutMs: number;
}

interface TopicConfigs {
  readonly maxMessageBytes: number;
  readonly timestamps: TimestampPolicy;
  readonly at: number;
}

// The broker's default message.max.bytes, used when the topic's config cannot be read.
const DEFAULT_MAX_MESSAGE_BYTES = 1_048_588;
// When the configs cannot be read, no timestamp is refused early; the broker still enforces its rule.
const ANY_TIMESTAMP: TimestampPolicy = { type: 'CreateTime', beforeMaxMs: Number.POSITIVE_INFINITY, afterMaxMs: Number.POSITIVE_INFINITY };
const CONFIG_NAMES = [
  'max.message.bytes',
  'message.timestamp.type',
  'message.timestamp.before.max.ms',
  'message.timestamp.after.max.ms',
  // Before Kafka 3.6 one setting bounded both sides.
  'message.timestamp.difference.max.ms',
];

function whole(value: string | undefined): number | undefined {
  return value !== undefined && /^\d+$/.test(value) ? Number(value) : undefined;
}

/**
 * Topic structure and configs, fetched for every topic in one metadata call
 * (an unknown topic is a cache miss rather than a failing request) and
 * reused for the TTL. Every admin change the gateway makes clears it
 * (invalidate), so no reader sees a topic as it was before a delete, a
 * re-create or a partition increase made through the gateway; a change made
 * by another tool is seen within the TTL. A reader that has learnt from the
 * broker that what it holds is out of date (the fetcher after
 * NOT_LEADER_OR_FOLLOWER or an unknown topic id) asks for an answer newer
 * than that with `structure(topic, { maxAgeMs: 0 })`.
 */
export class TopicCache {
  #topics = new Map<string, TopicStructure>();
  #configs = new Map<string, TopicConfigs>();
  /** Config lookups in flight, per topic: a burst of requests after the TTL shares one. */
  #configFetches = new Map<string, Promise<TopicConfigs>>();
  #fetchedAt = 0;
  #refreshing?: Promise<void>;
  /** Bumped by invalidate(): a lookup that began before a change does not store what it found. */
  #generation = 0;

  constructor(
    private readonly admin: KafkaAdmin,
    private readonly options: TopicCacheOptions,
  ) {}

  /** The topic's partitions and limits; GW_ERR_TOPIC_NOT_FOUND when it does not exist (unless `create` and auto-creation). */
  async get(topic: string, { create = false } = {}): Promise<TopicInfo> {
    const partitions = await this.partitions(topic, { create });
    const configs = await this.#topicConfigs(topic);
    return { name: topic, partitions, maxMessageBytes: configs.maxMessageBytes, timestamps: configs.timestamps };
  }

  /** The topic's partitions, sorted by id; GW_ERR_TOPIC_NOT_FOUND when it does not exist. */
  async partitions(topic: string, { create = false } = {}): Promise<readonly PartitionMetadata[]> {
    checkTopicName(topic);
    if (!this.#topics.has(topic)) {
      // A miss always asks again, so a topic created a moment ago is found;
      // concurrent misses share one metadata call.
      await this.refresh();
    } else if (this.#stale()) {
      // Stale but known: answer from the cache and refresh behind it, so that
      // a broker outage costs a request one bounded wait (the send), not two.
      this.refresh().catch(() => undefined);
    }
    let partitions = this.#topics.get(topic)?.partitions;
    if (!partitions && create) {
      await this.#create(topic);
      partitions = this.#topics.get(topic)?.partitions;
    }
    if (!partitions || partitions.length === 0) {
      throw new GatewayError('GW_ERR_TOPIC_NOT_FOUND', `Topic ${JSON.stringify(topic)} does not exist.`);
    }
    return partitions;
  }

  /** Every topic and its partitions, fresh within the TTL. */
  async all(): Promise<ReadonlyMap<string, TopicStructure>> {
    if (this.#stale()) await this.refresh();
    return this.#topics;
  }

  /**
   * The topic as described at most `maxAgeMs` ago (the TTL unless given;
   * 0 asks the broker now), or undefined when it does not exist. Unlike
   * `partitions`, an answer older than that is waited for rather than
   * served while it is fetched, and nothing is thrown for a missing topic:
   * readers that must see a deletion or a new partition (the subscription
   * engine, the fetcher) decide themselves what a missing topic means.
   */
  async structure(topic: string, { maxAgeMs = this.options.cacheTtlMs }: { maxAgeMs?: number } = {}): Promise<TopicStructure | undefined> {
    // A miss always asks again, so a topic created a moment ago is found.
    if (!this.#topics.has(topic) || Date.now() - this.#fetchedAt > maxAgeMs || maxAgeMs <= 0) await this.refresh();
    return this.#topics.get(topic);
  }

  /** Forgets everything: the next lookup asks the broker. Called after each admin change the gateway makes. */
  invalidate(): void {
    this.#generation += 1;
    this.#topics = new Map();
    this.#configs = new Map();
    this.#configFetches = new Map();
    this.#fetchedAt = 0;
    this.#refreshing = undefined;
  }

  refresh(): Promise<void> {
    if (!this.#refreshing) {
      const refreshing = this.#fetchTopics(this.#generation).finally(() => {
        if (this.#refreshing === refreshing) this.#refreshing = undefined;
      });
      this.#refreshing = refreshing;
    }
    return this.#refreshing;
  }

  async #fetchTopics(generation: number): Promise<void> {
    try {
      const { topics } = await withDeadline(this.admin.cluster(), this.options.timeoutMs, () => {
        throw new GatewayError('GW_ERR_KAFKA_UNAVAILABLE', `Kafka did not answer a metadata request within ${this.options.timeoutMs} ms; retry shortly.`, { retryAfterSeconds: 1 });
      });
      // An admin change since the request left: what it found may predate the change, so ask again.
      if (generation !== this.#generation) return await this.refresh();
      this.#topics = new Map(topics.map((t) => [t.name, { name: t.name, id: t.id, partitions: t.partitions }]));
      this.#fetchedAt = Date.now();
    } catch (error) {
      const mapped = fromKafkaError(error);
      // Without a reason from the broker, a failed lookup means Kafka is not answering.
      throw mapped.code === 'GW_ERR_INTERNAL'
        ? new GatewayError('GW_ERR_KAFKA_UNAVAILABLE', 'Kafka did not answer a metadata request; retry shortly.', { cause: error, retryAfterSeconds: 1 })
        : mapped;
    }
  }

  #stale(): boolean {
    return Date.now() - this.#fetchedAt > this.options.cacheTtlMs;
  }

  async #create(topic: string): Promise<void> {
    try {
      await this.admin.createTopic({ name: topic });
    } catch (error) {
      // Another instance may have created it at the same moment.
      if (!protocolErrorIds(error).includes('TOPIC_ALREADY_EXISTS')) throw fromKafkaError(error, { topic });
    }
    // CreateTopics is answered once the controller holds the topic; the metadata a broker answers with follows a
    // moment later, and a lookup in between would call the topic just created unknown (a 404 for the produce that
    // created it). So ask until it is listed, within the bound of one metadata request.
    const deadline = Date.now() + this.options.timeoutMs;
    for (;;) {
      this.invalidate();
      await this.refresh();
      if ((this.#topics.get(topic)?.partitions.length ?? 0) > 0) return;
      if (Date.now() >= deadline) {
        throw new GatewayError('GW_ERR_KAFKA_UNAVAILABLE', `Topic ${JSON.stringify(topic)} was created, but Kafka does not list it yet; retry shortly.`, { retryAfterSeconds: 1 });
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  async #topicConfigs(topic: string): Promise<TopicConfigs> {
    const cached = this.#configs.get(topic);
    if (cached && Date.now() - cached.at <= this.options.cacheTtlMs) return cached;
    let fetching = this.#configFetches.get(topic);
    if (!fetching) {
      const fetches = this.#configFetches;
      fetching = this.#fetchConfigs(topic, cached).finally(() => {
        if (fetches.get(topic) === fetching) fetches.delete(topic);
      });
      fetches.set(topic, fetching);
    }
    // Stale but known: answer from the cache while the lookup runs behind it.
    return cached ?? fetching;
  }

  async #fetchConfigs(topic: string, fallback: TopicConfigs | undefined): Promise<TopicConfigs> {
    const generation = this.#generation;
    let configs: TopicConfigs = { maxMessageBytes: fallback?.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES, timestamps: fallback?.timestamps ?? ANY_TIMESTAMP, at: Date.now() };
    try {
      const entries = await withDeadline(this.admin.topicConfigs(topic, CONFIG_NAMES), this.options.timeoutMs, () => {
        throw new GatewayError('GW_ERR_KAFKA_UNAVAILABLE', 'Kafka did not answer a config request in time.');
      });
      const value = (name: string) => entries.find((e) => e.name === name)?.value ?? undefined;
      const difference = whole(value('message.timestamp.difference.max.ms'));
      configs = {
        maxMessageBytes: whole(value('max.message.bytes')) ?? configs.maxMessageBytes,
        timestamps: {
          type: value('message.timestamp.type') === 'LogAppendTime' ? 'LogAppendTime' : 'CreateTime',
          beforeMaxMs: whole(value('message.timestamp.before.max.ms')) ?? difference ?? Number.POSITIVE_INFINITY,
          afterMaxMs: whole(value('message.timestamp.after.max.ms')) ?? difference ?? Number.POSITIVE_INFINITY,
        },
        at: Date.now(),
      };
    } catch {
      // The configs only let the gateway refuse a record early; the broker still enforces them.
    }
    if (generation === this.#generation) this.#configs.set(topic, configs);
    return configs;
  }
}
