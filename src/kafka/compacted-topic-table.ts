import { withDeadline, GatewayError, type Logger } from '../common/index.js';
import type { KafkaAdmin } from './metadata/index.js';
import { fromKafkaError, protocolErrorIds } from './client/index.js';
import type { ProduceService } from './produce/index.js';
import type { Subscription, SubscriptionEngine } from './consume/index.js';

const RESTART_DELAYS_MS = [250, 500, 1000, 2000, 5000];

/** One entry of a compacted topic: a key and its latest value, or null for a deletion. */
export interface KeyedEntry {
  readonly key: string;
  readonly value: string | null;
}

/**
 * A small compacted topic used as a replicated key-value table: writes go
 * through the gateway's producer, and every instance reads the whole topic
 * from the beginning and keeps following it, as a subscription of the
 * shared engine with no consumer group, so all instances converge on the
 * same table and the broker keeps no group for it.
 */
export class CompactedTopicTable {
  /** Next offset to read, per partition. */
  readonly #position = new Map<number, bigint>();
  #waiters: { partition: number; offset: bigint; resolve: () => void }[] = [];
  readonly #caughtUp: Promise<void>;
  #markCaughtUp!: () => void;
  #targets?: Map<number, bigint>;
  #subscription?: Subscription;
  #stopped = false;
  #retryTimer?: NodeJS.Timeout;

  constructor(
    private readonly engine: SubscriptionEngine,
    private readonly admin: KafkaAdmin,
    private readonly producer: ProduceService,
    readonly topic: string,
    private readonly logger: Logger,
  ) {
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
    void this.#follow(apply, 0);
  }

  async #follow(apply: (entry: KeyedEntry) => void, attempt: number): Promise<void> {
    if (this.#stopped) return;
    try {
      await this.#ensureTopic();
      const { topics } = await this.admin.cluster([this.topic]);
      const partitions = topics[0]?.partitions.map((p) => p.partitionId) ?? [];
      const ends = await this.admin.offsets(this.topic, partitions, -1n);
      if (this.#stopped) return;
      this.#targets ??= ends;
      // Following again after a failure reads the topic from the start again: applied in log order, entries end as they were.
      const subscription = this.engine.create(
        { topics: [this.topic], from: { kind: 'earliest' }, ack: 'auto' },
        {
          onRecords: (from, records) => {
            for (const record of records) {
              const key = record.key?.toString('utf8');
              if (key !== undefined) apply({ key, value: record.value === null ? null : record.value.toString('utf8') });
              from.written(record.offset);
              this.#advance(record.partition, record.offset + 1n);
            }
          },
          onAssignment: () => undefined,
          onFatal: (error) => {
            if (this.#stopped) return;
            this.logger.warn({ err: error, topic: this.topic }, 'the topic reader stopped; following the topic again');
            void subscription
              .stop()
              .catch(() => undefined)
              .then(() => this.#retry(apply, 0));
          },
        },
      );
      this.#subscription = subscription;
      await subscription.start();
      if (this.#stopped) {
        await subscription.stop();
        return;
      }
      subscription.setDemand(true);
      this.#checkCaughtUp();
    } catch (error) {
      // The subscription that failed to start would otherwise stay in the engine, one more for every retry.
      await this.#subscription?.stop().catch(() => undefined);
      this.#subscription = undefined;
      if (this.#stopped) return;
      this.logger.warn({ err: error, topic: this.topic }, 'cannot follow the topic yet');
      this.#retry(apply, attempt + 1);
    }
  }

  #retry(apply: (entry: KeyedEntry) => void, attempt: number): void {
    if (this.#stopped) return;
    const delay = RESTART_DELAYS_MS[Math.min(attempt, RESTART_DELAYS_MS.length - 1)]!;
    this.#retryTimer = setTimeout(() => void this.#follow(apply, attempt), delay);
  }

  async #ensureTopic(): Promise<void> {
    const { topics } = await this.admin.cluster([this.topic]);
    if (topics.length > 0) return;
    try {
      await this.admin.createTopic({ name: this.topic, partitions: 1, configs: { 'cleanup.policy': 'compact' } });
      this.logger.info({ topic: this.topic }, 'created compacted topic');
    } catch (error) {
      if (!protocolErrorIds(error).includes('TOPIC_ALREADY_EXISTS')) throw error;
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
    for (const [partition, end] of this.#targets) {
      if ((this.#position.get(partition) ?? 0n) < end) return;
    }
    this.#markCaughtUp();
  }

  /**
   * Writes an entry (null deletes it) and resolves once this instance has
   * read it back, so a caller that wrote a value sees it applied, in log order
   * with every other instance's writes.
   */
  async put(key: string, value: string | null, timeoutMs: number): Promise<void> {
    let written;
    try {
      const entry = { key: Buffer.from(key, 'utf8'), value: value === null ? null : Buffer.from(value, 'utf8') };
      [written] = await this.producer.send(await this.producer.check(this.topic, [entry]));
    } catch (error) {
      throw fromKafkaError(error, { topic: this.topic });
    }
    if (!written) return;
    const offset = BigInt(written.offset);
    if ((this.#position.get(written.partition) ?? 0n) > offset) return;
    await withDeadline(new Promise<void>((resolve) => this.#waiters.push({ partition: written.partition, offset, resolve })), timeoutMs, () => {
      throw new GatewayError('GW_ERR_KAFKA_UNAVAILABLE', `The change was written to ${this.topic} but not read back within ${timeoutMs} ms; it will apply shortly.`);
    });
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#retryTimer);
    await this.#subscription?.stop();
  }
}
