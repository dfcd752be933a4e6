/**
 * The subscription engine of one gateway process: one fetcher with a fixed
 * two connections per broker, one stream per partition that anybody reads, and
 * the subscriptions reading them. Durable subscriptions add a group member
 * each: on the consumer protocol over connections all members share, on the
 * classic one with a client of its own.
 */
import type { Config } from '../../config.js';
import { withDeadline, GatewayError, partitionKey, type Logger } from '../../common/index.js';
import { clientOptions, fromKafkaError, kafkaErrorCodes } from '../client/index.js';
import { Fetcher, type TopicStructureSource } from './fetcher.js';
import { GroupMember, refuseInternalTopics, type MemberEvents, type Membership, type TopicPartitions } from './group-member.js';
import { ConsumerGroupMember } from './consumer-group-member.js';
import { GroupCoordinators } from './group-coordinators.js';
import { ProtocolFallbackMember } from './protocol-fallback.js';
import { GroupOffsets } from './group-offsets.js';
import { PartitionStream, type PartitionReader } from './partition-stream.js';
import type { ConsumedRecord } from './consumed-record.js';
import { listOffsets } from '../metadata/index.js';
import { Subscription, type SubscriptionEvents, type SubscriptionOptions } from './subscription.js';

export interface EngineTuning {
  readonly sessionTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  readonly fetchMaxWaitMs: number;
  /** Upper bound of one fetch per partition, and of one delivery to a subscription. */
  readonly partitionMaxBytes: number;
  /** Records a partition's stream keeps for readers behind the newest. */
  readonly partitionCacheBytes: number;
  readonly autoCommitIntervalMs: number;
  /**
   * Which protocol durable members speak: `consumer` (KIP-848) wherever the
   * brokers support it, falling back to `classic`; `classic` always.
   */
  readonly groupProtocol?: 'consumer' | 'classic';
}

/** What the engine holds, for /metrics and tests. */
export interface EngineStats {
  readonly subscriptions: number;
  readonly partitionStreams: number;
  readonly cachedBytes: number;
  /** Per topic: subscriptions reading it, and how far the furthest-behind one is from the end of the log. */
  readonly topics: ReadonlyArray<{ topic: string; ephemeral: number; durable: number; maxLag: number }>;
}

export interface PartitionPage {
  readonly records: readonly ConsumedRecord[];
  /** The offset to read the next page from. */
  readonly nextOffset: bigint;
  readonly logStartOffset: bigint;
  readonly logEndOffset: bigint;
}

/** Reads one page through a partition stream: until the limit, the byte budget or the end of the log as it was when asked. */
class PageReader implements PartitionReader {
  readonly records: ConsumedRecord[] = [];
  #bytes = 0;
  #finish!: (error?: GatewayError) => void;
  readonly #finished = new Promise<GatewayError | undefined>((resolve) => (this.#finish = resolve));

  constructor(
    public position: bigint,
    private readonly end: bigint,
    private readonly limit: number,
    private readonly maxBytes: number,
    private readonly stream: PartitionStream,
  ) {}

  deliver(records: readonly ConsumedRecord[], next: bigint): void {
    for (const record of records) {
      if (this.records.length >= this.limit || (this.records.length > 0 && this.#bytes + record.size > this.maxBytes)) {
        this.position = record.offset;
        this.#finish();
        return;
      }
      this.records.push(record);
      this.#bytes += record.size;
    }
    this.position = next;
    if (this.position >= this.end || this.records.length >= this.limit) this.#finish();
    else this.stream.want(this);
  }

  fail(error: GatewayError): void {
    this.#finish(error);
  }

  /** Resolves when the page is complete; with what it has (or a 503 when nothing) after `timeoutMs`. */
  async done(timeoutMs: number): Promise<void> {
    const outcome = await withDeadline(this.#finished, timeoutMs, () => 'timeout' as const);
    if (outcome === 'timeout') {
      if (this.records.length > 0) return;
      throw new GatewayError('GW_ERR_KAFKA_UNAVAILABLE', 'Kafka did not answer the read in time; retry shortly.', { retryAfterSeconds: 1 });
    }
    if (outcome) throw outcome;
  }
}

export class SubscriptionEngine {
  readonly #fetcher: Fetcher;
  readonly #streams = new Map<string, PartitionStream>();
  readonly #subscriptions = new Set<Subscription>();
  readonly #memberOptions;
  readonly #groupOffsets: GroupOffsets;
  readonly #coordinators: GroupCoordinators;
  readonly #clientId: string;
  /** The cluster answered a consumer-protocol heartbeat UNSUPPORTED_VERSION. */
  #consumerProtocolRefused = false;

  /** `topics` is the gateway's TopicCache: partition counts, topic ids and leaders all come from it. */
  constructor(
    config: Config['kafka'],
    private readonly topics: TopicStructureSource,
    private readonly tuning: EngineTuning,
    private readonly logger: Logger,
  ) {
    this.#fetcher = new Fetcher(clientOptions(config, `${config.clientId}-subscriptions`), topics, { maxWaitMs: tuning.fetchMaxWaitMs, partitionMaxBytes: tuning.partitionMaxBytes }, logger);
    this.#memberOptions = clientOptions(config, config.clientId);
    this.#groupOffsets = new GroupOffsets(clientOptions(config, `${config.clientId}-group-offsets`));
    this.#coordinators = new GroupCoordinators(clientOptions(config, config.clientId), kafkaErrorCodes);
    this.#clientId = config.clientId;
  }

  create(options: SubscriptionOptions, events: SubscriptionEvents): Subscription {
    const subscription = new Subscription(options, events, {
      acquire: (topic, partition) => this.#acquire(topic, partition),
      release: (stream, reader) => this.#release(stream, reader),
      partitionCount: (topic) => this.#partitionCount(topic),
      logOffsets: (topic, partitions, timestamp) => this.#logOffsets(topic, partitions, timestamp),
      joinGroup: (group, topics, memberEvents) => this.#member(group, topics, memberEvents),
      groupOffsets: (group) => this.#groupOffsets.of(group),
      stopped: (stopped) => this.#subscriptions.delete(stopped),
      autoCommitIntervalMs: this.tuning.autoCommitIntervalMs,
      clientId: this.#clientId,
      logger: this.logger,
    });
    this.#subscriptions.add(subscription);
    return subscription;
  }

  /** A group's committed offsets for these partitions (-1n where none), read without joining it. */
  committedOffsets(group: string, partitions: readonly TopicPartitions[]): Promise<Map<string, bigint>> {
    return this.#groupOffsets.of(group).committed(partitions);
  }

  /** The first offset of a partition at or after a time (epoch ms), or its end when no record is that recent. */
  async offsetAt(topic: string, partition: number, timestampMs: number): Promise<bigint> {
    const [atTime, ends] = await Promise.all([this.#logOffsets(topic, [partition], BigInt(timestampMs)), this.#logOffsets(topic, [partition], -1n)]);
    const found = atTime.get(partition) ?? -1n;
    return found >= 0n ? found : (ends.get(partition) ?? 0n);
  }

  #acquire(topic: string, partition: number): PartitionStream {
    const k = partitionKey(topic, partition);
    let stream = this.#streams.get(k);
    if (!stream) {
      stream = new PartitionStream(topic, partition, this.#fetcher, { cacheBytes: this.tuning.partitionCacheBytes, deliveryBytes: this.tuning.partitionMaxBytes });
      this.#streams.set(k, stream);
    }
    return stream;
  }

  #release(stream: PartitionStream, reader: PartitionReader): void {
    stream.detach(reader);
    if (stream.readerCount > 0) return;
    this.#fetcher.forget(stream);
    this.#streams.delete(partitionKey(stream.topic, stream.partition));
  }

  /** Within the cache's TTL, never older: a partition added by another tool a while ago is counted. */
  async #partitionCount(topic: string): Promise<number> {
    try {
      const found = await this.topics.structure(topic);
      if (!found) throw new GatewayError('GW_ERR_TOPIC_NOT_FOUND', `Topic ${JSON.stringify(topic)} does not exist.`);
      return found.partitions.length;
    } catch (error) {
      throw fromKafkaError(error, { topic });
    }
  }

  async #logOffsets(topic: string, partitions: readonly number[], timestamp: bigint): Promise<Map<number, bigint>> {
    try {
      const offsets = await listOffsets(this.#fetcher.client, topic, partitions, timestamp);
      return new Map(partitions.map((p) => [p, offsets.get(p) ?? -1n]));
    } catch (error) {
      throw fromKafkaError(error, { topic });
    }
  }

  /**
   * A page of one partition from `from` ('earliest' for the log start):
   * at most `limit` records and about `maxBytes` (always at least one
   * record when there is one), read through the partition's shared stream
   * like any subscription, with no state kept afterwards.
   */
  async read(topic: string, partition: number, from: bigint | 'earliest', limits: { limit: number; maxBytes: number; timeoutMs: number }): Promise<PartitionPage> {
    const count = await this.#partitionCount(topic);
    if (partition >= count) {
      throw new GatewayError('GW_ERR_INVALID_PARTITION', `Topic ${JSON.stringify(topic)} has partitions 0 to ${count - 1}; there is no partition ${partition}.`);
    }
    const [starts, ends] = await Promise.all([this.#logOffsets(topic, [partition], -2n), this.#logOffsets(topic, [partition], -1n)]);
    const logStart = starts.get(partition)!;
    const logEnd = ends.get(partition)!;
    const offset = from === 'earliest' ? logStart : from;
    if (offset < logStart || offset > logEnd) {
      throw new GatewayError('GW_ERR_RANGE_NOT_SATISFIABLE', `Partition ${partition} of ${JSON.stringify(topic)} holds offsets ${logStart} to ${logEnd - 1n} (the next record gets ${logEnd}); ${offset} is outside.`, {
        extensions: { logStartOffset: String(logStart), logEndOffset: String(logEnd) },
      });
    }
    if (offset === logEnd) return { records: [], nextOffset: logEnd, logStartOffset: logStart, logEndOffset: logEnd };
    const stream = this.#acquire(topic, partition);
    const reader = new PageReader(offset, logEnd, limits.limit, limits.maxBytes, stream);
    stream.attach(reader);
    stream.want(reader);
    try {
      await reader.done(limits.timeoutMs);
    } finally {
      this.#release(stream, reader);
    }
    return { records: reader.records, nextOffset: reader.position, logStartOffset: logStart, logEndOffset: logEnd };
  }

  /**
   * A member on the consumer protocol where the brokers speak it, else on the
   * classic one. A cluster that lists the protocol but refuses it moves the
   * member to the classic protocol, and every later member starts there.
   */
  async #member(group: string, topics: readonly string[], events: MemberEvents): Promise<Membership> {
    const { sessionTimeoutMs, heartbeatIntervalMs } = this.tuning;
    refuseInternalTopics(group, topics);
    const classic = (memberEvents: MemberEvents) => new GroupMember(this.#memberOptions, group, topics, { sessionTimeoutMs, heartbeatIntervalMs }, memberEvents, this.logger, this.#groupOffsets.of(group));
    if (this.tuning.groupProtocol === 'classic' || this.#consumerProtocolRefused) return classic(events);
    let version: 0 | 1 | undefined;
    try {
      version = await this.#coordinators.heartbeatVersion();
    } catch (error) {
      throw fromKafkaError(error, { group });
    }
    if (version === undefined || this.#consumerProtocolRefused) return classic(events);
    const topicIds = async (topic: string, fresh: boolean) => (await this.topics.structure(topic, fresh ? { maxAgeMs: 0 } : undefined))?.id;
    const consumer = (memberEvents: MemberEvents) =>
      new ConsumerGroupMember(this.#coordinators, version, group, topics, topicIds, this.#groupOffsets.of(group), { sessionTimeoutMs, rebalanceTimeoutMs: sessionTimeoutMs }, memberEvents, this.logger);
    return new ProtocolFallbackMember(group, consumer, classic, () => this.#refuseConsumerProtocol(group), events);
  }

  /** Remembered for the life of the process: the cluster's setting changes only with a broker restart, and a gateway restart reads it again. */
  #refuseConsumerProtocol(group: string): void {
    if (this.#consumerProtocolRefused) return;
    this.#consumerProtocolRefused = true;
    this.logger.warn(
      { groupId: group, kafkaError: 'UNSUPPORTED_VERSION' },
      'the brokers list the consumer group protocol (KIP-848) but refuse it (group.coordinator.rebalance.protocols leaves it out); durable members use the classic protocol from now on',
    );
  }

  /** Broker connections the durable members of this process hold under the consumer protocol. */
  get groupConnections(): number {
    return this.#coordinators.connectionCount;
  }

  stats(): EngineStats {
    let cachedBytes = 0;
    for (const stream of this.#streams.values()) cachedBytes += stream.cachedBytes;
    const topics = new Map<string, { topic: string; ephemeral: number; durable: number; maxLag: number }>();
    for (const subscription of this.#subscriptions) {
      const durable = subscription.group !== undefined;
      const seen = new Set<string>();
      for (const { topic, position, stream } of subscription.positions()) {
        let entry = topics.get(topic);
        if (!entry) {
          entry = { topic, ephemeral: 0, durable: 0, maxLag: 0 };
          topics.set(topic, entry);
        }
        if (!seen.has(topic)) {
          seen.add(topic);
          if (durable) entry.durable += 1;
          else entry.ephemeral += 1;
        }
        if (stream.highWatermark >= 0n && stream.highWatermark > position) entry.maxLag = Math.max(entry.maxLag, Number(stream.highWatermark - position));
      }
    }
    return { subscriptions: this.#subscriptions.size, partitionStreams: this.#streams.size, cachedBytes, topics: [...topics.values()] };
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.#subscriptions].map((s) => s.stop()));
    await Promise.allSettled([this.#fetcher.close(), this.#groupOffsets.close(), this.#coordinators.close()]);
  }
}
