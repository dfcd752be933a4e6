import { randomUUID } from 'node:crypto';
import type { Admin, Consumer, EachMessagePayload, Kafka } from 'kafkajs';
import type { Logger } from '../logger.js';
import { fromKafkaError, isUnavailable } from './errors.js';

/** Where a subscription starts on partitions its group has no committed offset for. */
export type StartPosition =
  | { readonly kind: 'latest' }
  | { readonly kind: 'earliest' }
  | { readonly kind: 'timestamp'; readonly timestamp: number }
  /** topic -> partition -> offset; partitions not listed start at latest. */
  | { readonly kind: 'offsets'; readonly offsets: Readonly<Record<string, Readonly<Record<string, string>>>> };

export interface SubscriptionOptions {
  readonly topics: readonly string[];
  /** A durable group to join; without one the subscription gets its own ephemeral group. */
  readonly group?: string;
  readonly from: StartPosition;
  readonly clientId: string;
}

/** One record as it left Kafka, before any decoding. */
export interface ConsumedRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: Readonly<Record<string, Buffer | string | undefined>>;
  /** Milliseconds since the epoch, as kafkajs gives it (a string). */
  readonly timestamp: string;
  /** Bytes this record holds in memory, for flow control. */
  readonly size: number;
}

export interface TopicPartitions {
  readonly topic: string;
  readonly partitions: readonly number[];
}

export interface SubscriptionEvents {
  /** Called for each record, in partition order; must not block (queue it and pause instead). */
  onRecord(record: ConsumedRecord): void;
  /** The partitions this member holds, after the first join and after every rebalance. */
  onAssignment(assignment: readonly TopicPartitions[]): void;
  /** The subscription cannot go on: the broker refuses it, or new consumers kept failing. */
  onFatal(error: Error): void;
}

export interface ConsumerTuning {
  readonly sessionTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  readonly maxWaitMs: number;
  /** Upper bound of one fetch per partition: how far a subscription can overshoot its pause. */
  readonly maxBytesPerPartition: number;
}

/** Waits before each new consumer after a failure; the last one repeats. */
const RESTART_DELAYS_MS = [500, 1000, 2000, 4000, 8000, 15_000, 30_000];
/** New consumers that may fail in a row, without joining the group in between, before the subscription gives up (about three minutes). */
const MAX_RESTARTS = 12;

const positionKey = (topic: string, partition: number) => `${topic}\u0000${partition}`;

/**
 * One subscription's own Kafka consumer: a group member of a durable group
 * or of an ephemeral one made for it, with pause and resume for flow control,
 * explicit commits, and cleanup that leaves no ephemeral group behind.
 *
 * The subscription outlives its consumer: kafkajs gives up on some failures
 * a broker restart causes (no group coordinator while it moves), and then
 * a new consumer takes over. Every join after the first continues where
 * this subscription's delivery stopped, partition by partition, so nothing
 * is skipped (an ephemeral group has no commits to resume from) and
 * nothing delivered is delivered again.
 */
export class KafkaSubscription {
  readonly groupId: string;
  readonly ephemeral: boolean;
  #consumer: Consumer;
  #assignment: TopicPartitions[] = [];
  #paused = false;
  #stopped = false;
  #hasJoined = false;
  #restarts = 0;
  #restartTimer: NodeJS.Timeout | undefined;
  /**
   * Where to continue each partition held: after the last record delivered
   * (`delivered`), or at the offset the start position put it.
   */
  readonly #positions = new Map<string, { topic: string; partition: number; offset: string; delivered: boolean }>();
  #joined: Promise<readonly TopicPartitions[]>;
  #resolveJoined!: (assignment: readonly TopicPartitions[]) => void;
  #rejectJoined!: (error: Error) => void;

  constructor(
    private readonly kafka: Kafka,
    private readonly admin: Admin,
    private readonly options: SubscriptionOptions,
    private readonly events: SubscriptionEvents,
    private readonly tuning: ConsumerTuning,
    private readonly logger: Logger,
  ) {
    this.ephemeral = options.group === undefined;
    this.groupId = options.group ?? `gateway-ephemeral-${randomUUID()}`;
    this.#joined = new Promise((res, rej) => {
      this.#resolveJoined = res;
      this.#rejectJoined = rej;
    });
    // Stopping before the join settles this with nobody waiting; that is not a failure.
    this.#joined.catch(() => undefined);
    this.#consumer = this.#createConsumer();
  }

  #createConsumer(): Consumer {
    const { tuning } = this;
    const consumer = this.kafka.consumer({
      groupId: this.groupId,
      sessionTimeout: tuning.sessionTimeoutMs,
      rebalanceTimeout: tuning.sessionTimeoutMs,
      heartbeatInterval: tuning.heartbeatIntervalMs,
      maxWaitTimeInMs: tuning.maxWaitMs,
      maxBytesPerPartition: tuning.maxBytesPerPartition,
      allowAutoTopicCreation: false,
    });
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      if (consumer === this.#consumer) void this.#onJoin(payload.memberAssignment);
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      // With restart set, kafkajs starts this same consumer again by itself.
      if (!payload.restart && consumer === this.#consumer && !this.#stopped) this.#onCrash(payload.error);
    });
    return consumer;
  }

  async #run(): Promise<void> {
    await this.#consumer.connect();
    // Where the group has no committed offset Kafka applies this reset; a
    // timestamp or explicit offsets start at latest and are then sought,
    // so nothing older is delivered first.
    const fromBeginning = this.options.from.kind === 'earliest';
    await this.#consumer.subscribe({ topics: [...this.options.topics], fromBeginning });
    await this.#consumer.run({
      autoCommit: false,
      eachMessage: async (payload) => this.#deliver(payload),
    });
  }

  /** A failure kafkajs will not retry: a new consumer, unless the broker refuses us or it keeps failing. */
  #onCrash(cause: Error): void {
    const error = fromKafkaError(cause);
    if (!this.#hasJoined || !isUnavailable(cause) || this.#restarts >= MAX_RESTARTS) {
      this.#rejectJoined(error);
      this.events.onFatal(error);
      return;
    }
    const delayMs = RESTART_DELAYS_MS[Math.min(this.#restarts, RESTART_DELAYS_MS.length - 1)]!;
    this.#restarts += 1;
    this.logger.warn({ err: cause, groupId: this.groupId, attempt: this.#restarts, delayMs }, 'subscription consumer failed; a new one takes over');
    this.#restartTimer = setTimeout(() => void this.#restart(), delayMs);
  }

  async #restart(): Promise<void> {
    if (this.#stopped) return;
    const failed = this.#consumer;
    this.#consumer = this.#createConsumer();
    await failed.disconnect().catch(() => undefined);
    // Stopped meanwhile: stop() has released the new consumer, which must not start now.
    if (this.#stopped) return;
    try {
      await this.#run();
    } catch (error) {
      if (!this.#stopped) this.#onCrash(error as Error);
    }
  }

  get assignment(): readonly TopicPartitions[] {
    return this.#assignment;
  }

  /** Joins the group and starts fetching; resolves with the partitions held once the group has assigned them. */
  async start(): Promise<readonly TopicPartitions[]> {
    try {
      await this.#run();
    } catch (error) {
      throw fromKafkaError(error);
    }
    return this.#joined;
  }

  #deliver({ topic, partition, message }: EachMessagePayload): void {
    this.#positions.set(positionKey(topic, partition), { topic, partition, offset: message.offset, delivered: true });
    const headers = message.headers ?? {};
    let size = 64 + (message.key?.length ?? 0) + (message.value?.length ?? 0);
    for (const [name, value] of Object.entries(headers)) size += name.length + (Array.isArray(value) ? 0 : (value?.length ?? 0));
    this.events.onRecord({
      topic,
      partition,
      offset: message.offset,
      key: message.key ?? null,
      value: message.value ?? null,
      headers: headers as Record<string, Buffer | string | undefined>,
      timestamp: message.timestamp,
      size,
    });
  }

  async #onJoin(memberAssignment: Record<string, number[]>): Promise<void> {
    this.#assignment = Object.entries(memberAssignment)
      .map(([topic, partitions]) => ({ topic, partitions: [...partitions].sort((a, b) => a - b) }))
      .filter((a) => a.partitions.length > 0);
    const held = new Set(this.#assignment.flatMap(({ topic, partitions }) => partitions.map((p) => positionKey(topic, p))));
    // A partition another member had meanwhile continues from the group's commit, not from where we left it.
    for (const key of this.#positions.keys()) if (!held.has(key)) this.#positions.delete(key);
    if (this.#hasJoined) {
      for (const { topic, partition, offset, delivered } of this.#positions.values()) {
        this.#consumer.seek({ topic, partition, offset: delivered ? (BigInt(offset) + 1n).toString() : offset });
      }
    } else {
      try {
        await this.#seekUncommitted();
      } catch (error) {
        this.logger.warn({ err: error, groupId: this.groupId }, 'could not apply the start position');
      }
    }
    this.#hasJoined = true;
    this.#restarts = 0;
    if (this.#paused) this.pause();
    this.events.onAssignment(this.#assignment);
    this.#resolveJoined(this.#assignment);
  }

  /**
   * Applies the start position where the group has committed nothing yet.
   * `latest` is pinned to the end offsets as of the join, rather than left
   * to the first fetch, so that every record produced after `subscribed`
   * reaches the client.
   */
  async #seekUncommitted(): Promise<void> {
    const from = this.options.from;
    if (from.kind === 'earliest') return;
    for (const { topic, partitions } of this.#assignment) {
      const committed = this.ephemeral
        ? []
        : ((await this.admin.fetchOffsets({ groupId: this.groupId, topics: [topic] }))[0]?.partitions ?? []);
      const uncommitted = partitions.filter((p) => (committed.find((c) => c.partition === p)?.offset ?? '-1') === '-1');
      if (uncommitted.length === 0) continue;
      const ends = await this.admin.fetchTopicOffsets(topic);
      const atTime = from.kind === 'timestamp' ? await this.admin.fetchTopicOffsetsByTimestamp(topic, from.timestamp) : [];
      for (const p of uncommitted) {
        const end = ends.find((o) => o.partition === p)?.high;
        const offset =
          from.kind === 'timestamp'
            ? atTime.find((o) => o.partition === p)?.offset
            : from.kind === 'offsets'
              ? (from.offsets[topic]?.[String(p)] ?? end)
              : end;
        if (offset === undefined) continue;
        this.#consumer.seek({ topic, partition: p, offset });
        this.#positions.set(positionKey(topic, p), { topic, partition: p, offset, delivered: false });
      }
    }
  }

  /** Stops fetching every partition held (records already fetched still arrive). */
  pause(): void {
    this.#paused = true;
    if (this.#assignment.length > 0) this.#consumer.pause(this.options.topics.map((topic) => ({ topic })));
  }

  resume(): void {
    this.#paused = false;
    this.#consumer.resume(this.options.topics.map((topic) => ({ topic })));
  }

  get paused(): boolean {
    return this.#paused;
  }

  /** Commits `offset + 1` for the partition: the next record the group will read. */
  async commit(topic: string, partition: number, offset: string): Promise<void> {
    try {
      await this.#consumer.commitOffsets([{ topic, partition, offset: (BigInt(offset) + 1n).toString() }]);
    } catch (error) {
      throw fromKafkaError(error, { topic });
    }
  }

  /** Leaves the group; an ephemeral group is then deleted from the broker. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearTimeout(this.#restartTimer);
    this.#rejectJoined(new Error('subscription stopped before it joined'));
    await this.#consumer.disconnect().catch((error: unknown) => this.logger.warn({ err: error, groupId: this.groupId }, 'consumer disconnect failed'));
    if (this.ephemeral) {
      await this.admin.deleteGroups([this.groupId]).catch((error: unknown) => {
        this.logger.warn({ err: error, groupId: this.groupId }, 'could not delete the ephemeral group');
      });
    }
  }
}

/** Makes subscriptions on the process's Kafka client. */
export class SubscriptionFactory {
  constructor(
    private readonly kafka: Kafka,
    private readonly admin: Admin,
    private readonly tuning: ConsumerTuning,
    private readonly logger: Logger,
  ) {}

  create(options: SubscriptionOptions, events: SubscriptionEvents): KafkaSubscription {
    return new KafkaSubscription(this.kafka, this.admin, options, events, this.tuning, this.logger);
  }
}
