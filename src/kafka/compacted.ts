import { randomUUID } from 'node:crypto';
import type { Admin, Consumer, Kafka, Producer } from 'kafkajs';
import { withDeadline } from '../deadline.js';
import { GatewayError } from '../errors.js';
import type { Logger } from '../logger.js';
import { fromKafkaError } from './errors.js';

const STOP_WAIT_MS = 5000;

/** One entry of a compacted topic: a key and its latest value, or null for a deletion. */
export interface KeyedEntry {
  readonly key: string;
  readonly value: string | null;
}

/**
 * A small compacted topic used as a replicated key-value table: writes go
 * through the shared producer, and every instance reads the whole topic from
 * the beginning and keeps following it, so all instances converge on the
 * same table. Reading uses a consumer group of its own per instance (kafkajs
 * has no assign-only consumer); it never commits, and the group is deleted
 * on stop so the broker keeps no litter.
 */
export class CompactedTopicTable {
  #consumer?: Consumer;
  readonly #groupId: string;
  /** Next offset to read, per partition. */
  #position = new Map<number, bigint>();
  #waiters: { partition: number; offset: bigint; resolve: () => void }[] = [];
  #caughtUp: Promise<void>;
  #markCaughtUp!: () => void;
  #targets?: Map<number, bigint>;
  #stopped = false;
  #retryTimer?: NodeJS.Timeout;
  #wake?: () => void;
  #running?: Promise<void>;

  constructor(
    private readonly kafka: Kafka,
    private readonly admin: Admin,
    /** The process's producer, read at each write: it is replaced after an unclear send failure. */
    private readonly connection: { readonly producer: Producer },
    readonly topic: string,
    private readonly logger: Logger,
    groupPrefix: string,
  ) {
    this.#groupId = `${groupPrefix}${randomUUID()}`;
    this.#caughtUp = new Promise((resolve) => (this.#markCaughtUp = resolve));
  }

  /** Resolves once every entry that existed at start has been read. */
  caughtUp(): Promise<void> {
    return this.#caughtUp;
  }

  /**
   * Creates the topic if missing and follows it, calling `apply` for every
   * entry in log order. Retries in the background while Kafka is away.
   */
  start(apply: (entry: KeyedEntry) => void): void {
    this.#running = this.#startLoop(apply);
  }

  async #startLoop(apply: (entry: KeyedEntry) => void): Promise<void> {
    let delay = 250;
    while (!this.#stopped) {
      try {
        await this.#ensureTopic();
        const offsets = await this.admin.fetchTopicOffsets(this.topic);
        if (this.#stopped) return;
        this.#targets = new Map(offsets.map((o) => [o.partition, BigInt(o.high)]));
        const consumer = this.kafka.consumer({
          groupId: this.#groupId,
          maxWaitTimeInMs: 250,
          allowAutoTopicCreation: false,
          // kafkajs would restart a crashed consumer on a timer that disconnect()
          // does not cancel, bringing it back after stop(); the CRASH handler
          // below restarts it instead, and only while the table is running.
          retry: { restartOnFailure: async () => false },
        });
        this.#consumer = consumer;
        // kafkajs restarts a crashed consumer by itself unless the error is
        // final; then follow the topic again from the start, with a new consumer.
        consumer.on(consumer.events.CRASH, ({ payload }) => {
          if (this.#stopped) return;
          this.logger.warn({ err: payload.error, topic: this.topic }, 'the topic reader stopped; starting it again');
          void consumer.disconnect().catch(() => undefined).then(() => (this.#running = this.#startLoop(apply)));
        });
        await consumer.connect();
        if (this.#stopped) return;
        await consumer.subscribe({ topic: this.topic, fromBeginning: true });
        await consumer.run({
          autoCommit: false,
          eachMessage: async ({ partition, message }) => {
            const key = message.key?.toString('utf8');
            if (key !== undefined) apply({ key, value: message.value === null ? null : message.value.toString('utf8') });
            this.#advance(partition, BigInt(message.offset) + 1n);
          },
        });
        this.#checkCaughtUp();
        return;
      } catch (error) {
        if (this.#stopped) return;
        this.logger.warn({ err: error, topic: this.topic, retryInMs: delay }, 'cannot follow the topic yet');
        await this.#consumer?.disconnect().catch(() => undefined);
        await new Promise<void>((resolve) => {
          this.#wake = resolve;
          this.#retryTimer = setTimeout(resolve, delay);
        });
        delay = Math.min(delay * 2, 5000);
      }
    }
  }

  async #ensureTopic(): Promise<void> {
    const existing = await this.admin.listTopics();
    if (existing.includes(this.topic)) return;
    try {
      await this.admin.createTopics({
        waitForLeaders: true,
        topics: [{ topic: this.topic, numPartitions: 1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }],
      });
      this.logger.info({ topic: this.topic }, 'created compacted topic');
    } catch (error) {
      if ((error as { type?: string }).type !== 'TOPIC_ALREADY_EXISTS') throw error;
    }
  }

  #advance(partition: number, next: bigint): void {
    this.#position.set(partition, next);
    this.#waiters = this.#waiters.filter((w) => {
      if (w.partition === partition && next > w.offset) {
        w.resolve();
        return false;
      }
      return true;
    });
    this.#checkCaughtUp();
  }

  #checkCaughtUp(): void {
    if (!this.#targets) return;
    for (const [partition, high] of this.#targets) {
      if ((this.#position.get(partition) ?? 0n) < high) return;
    }
    this.#markCaughtUp();
  }

  /**
   * Writes an entry (null deletes it) and resolves once this instance has
   * read it back, so a caller that wrote a value sees it applied, in log order
   * with every other instance's writes.
   */
  async put(key: string, value: string | null, timeoutMs: number): Promise<void> {
    let metadata;
    try {
      metadata = await this.connection.producer.send({ topic: this.topic, acks: -1, timeout: timeoutMs, messages: [{ key, value }] });
    } catch (error) {
      throw fromKafkaError(error, { topic: this.topic });
    }
    const { partition, baseOffset } = metadata[0] ?? {};
    if (partition === undefined || baseOffset === undefined) return;
    const offset = BigInt(baseOffset);
    if ((this.#position.get(partition) ?? 0n) > offset) return;
    await withDeadline(new Promise<void>((resolve) => this.#waiters.push({ partition, offset, resolve })), timeoutMs, () => {
      throw new GatewayError('GW_ERR_KAFKA_UNAVAILABLE', `The change was written to ${this.topic} but not read back within ${timeoutMs} ms; it will apply shortly.`);
    });
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#retryTimer);
    this.#wake?.();
    // Let a start in progress reach a point where it sees the stop, so that it
    // does not connect a consumer after this; bounded, as kafkajs may be retrying.
    await withDeadline(this.#running ?? Promise.resolve(), STOP_WAIT_MS, () => undefined);
    if (this.#consumer) {
      await this.#consumer.disconnect().catch(() => undefined);
      await this.admin.deleteGroups([this.#groupId]).catch(() => undefined);
    }
  }
}
