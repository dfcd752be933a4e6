import kafkajs, { Partitioners, type Message, type Producer, type RecordMetadata } from 'kafkajs';
import type { Config } from '../config.js';
import { withDeadline } from '../deadline.js';
import { GatewayError, type FieldError } from '../errors.js';
import type { Logger } from '../logger.js';
import { fromKafkaError } from './errors.js';
import type { TimestampPolicy, TopicCache } from './topics.js';

const { CompressionTypes } = kafkajs;

/** One record to produce, already encoded to bytes. */
export interface OutgoingRecord {
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers?: Readonly<Record<string, string>>;
  /** An explicit partition; otherwise the Java client's default partitioner chooses. */
  readonly partition?: number;
  /** Milliseconds since the epoch; the gateway's clock when absent. */
  readonly timestamp?: number;
}

/** Where one record landed. */
export interface ProducedRecord {
  readonly partition: number;
  /** int64 as a decimal string. */
  readonly offset: string;
  /** Milliseconds since the epoch: the record's create time, or the broker's append time on LogAppendTime topics. */
  readonly timestamp: number;
}

interface Placed {
  readonly message: Message & { partition: number; timestamp: string };
}

interface Pending {
  readonly topic: string;
  readonly messages: readonly Placed['message'][];
  readonly bytes: number;
  resolve(results: ProducedRecord[]): void;
  reject(error: unknown): void;
}

// Kafka's per-record overhead in a v2 batch is under 30 bytes; this rounds up
// so the estimate never undercounts what the broker measures.
const RECORD_OVERHEAD_BYTES = 70;
// One coalesced batch stays well under the broker's default 1 MiB limit on a
// record batch, so sharing a batch never makes another caller's records too large.
const MAX_BATCH_BYTES = 512 * 1024;

/**
 * A failed send as the client should see it. kafkajs wraps connection
 * failures in classes that say nothing of retrying (a non-retriable error
 * caused by a connection error, after its retries ran out); for a send, any
 * failure the broker did not state a reason for is Kafka being unavailable,
 * and a retry may succeed.
 */
function sendFailure(error: unknown, topic: string): GatewayError {
  const mapped = fromKafkaError(error, { topic });
  if (mapped.code !== 'GW_ERR_INTERNAL') return mapped;
  return new GatewayError('GW_ERR_KAFKA_UNAVAILABLE', 'Kafka did not take the records; they were not acknowledged. Retry shortly.', { cause: error, retryAfterSeconds: 1 });
}

export function recordBytes(record: OutgoingRecord): number {
  let bytes = RECORD_OVERHEAD_BYTES + (record.key?.length ?? 0) + (record.value?.length ?? 0);
  for (const [name, value] of Object.entries(record.headers ?? {})) bytes += Buffer.byteLength(name) + Buffer.byteLength(value) + 10;
  return bytes;
}

/**
 * Produces records through the process's one idempotent producer. kafkajs
 * sends every send() as its own produce request; under many small concurrent
 * HTTP requests that costs a broker round trip each. So requests that arrive
 * within PRODUCE_LINGER_MS share one sendBatch, and each caller is answered
 * with the offsets of its own records, worked out from the base offset the
 * broker returns per partition (records of one partition are appended in the
 * order they were given).
 *
 * Memory is bounded: the bytes held for unacknowledged records may not pass
 * PRODUCE_MAX_IN_FLIGHT; past it a request is refused with 503 rather than
 * queued. A caller waits at most PRODUCE_TIMEOUT_MS for the broker, then gets
 * 503; its records stay counted until kafkajs gives up on them, because they
 * are still in memory until then.
 */
export class ProduceService {
  /** The batch still open to new requests, and full batches waiting their turn. */
  #open: Pending[] = [];
  #openBytes = 0;
  #sealed: Pending[][] = [];
  /** The open batch has waited its linger (or the one before it was acknowledged): it goes next. */
  #due = false;
  #timer?: NodeJS.Timeout | NodeJS.Immediate;
  /** The batch the broker has now; batches go out one at a time, so that none is sent under a producer id whose sequence a failure has rewound. */
  #sending?: Promise<void>;
  #mustRenew = false;
  #inFlightBytes = 0;
  // Placed by the same murmur2 partitioner the Java client uses, here rather
  // than inside kafkajs, so that the partition of every record is known before
  // the batch is sent and the offsets can be matched back to their callers.
  #partitioner = Partitioners.DefaultPartitioner();
  readonly #compression: kafkajs.CompressionTypes;

  constructor(
    private readonly connection: { readonly producer: Producer; renewProducer(): Promise<void> },
    private readonly topics: TopicCache,
    private readonly config: Config['produce'],
    private readonly logger: Logger,
  ) {
    this.#compression = config.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None;
  }

  /** Bytes of records waiting for an acknowledgement. */
  get inFlightBytes(): number {
    return this.#inFlightBytes;
  }

  /**
   * Checks records against the topic (it exists, partitions in range, each
   * record under the topic's size limit) without sending anything; throws the
   * GatewayError a client should see.
   */
  async check(topic: string, records: readonly OutgoingRecord[]): Promise<void> {
    const info = await this.topics.get(topic, { create: this.config.autoCreateTopics });
    const partitionErrors: FieldError[] = [];
    const tooLarge: FieldError[] = [];
    const badTimestamps = timestampErrors(records, info.timestamps, Date.now());
    records.forEach((record, index) => {
      if (record.partition !== undefined && (record.partition < 0 || record.partition >= info.partitions.length)) {
        partitionErrors.push({ index, pointer: '/partition', message: `partition ${record.partition} does not exist; the topic has partitions 0 to ${info.partitions.length - 1}` });
      }
      if (recordBytes(record) > info.maxMessageBytes) {
        tooLarge.push({ index, pointer: '', message: `the record is about ${recordBytes(record)} bytes; the broker accepts at most ${info.maxMessageBytes}` });
      }
    });
    if (partitionErrors.length > 0) {
      throw new GatewayError('GW_ERR_INVALID_PARTITION', `Topic ${JSON.stringify(topic)} has ${info.partitions.length} partition(s).`, {
        errors: partitionErrors,
        extensions: { partitions: info.partitions.length },
      });
    }
    if (badTimestamps.length > 0) {
      throw new GatewayError('GW_ERR_VALIDATION', `Topic ${JSON.stringify(topic)} does not take records stamped that far from now; nothing was produced.`, {
        errors: badTimestamps,
        extensions: { timestampBeforeMaxMs: finite(info.timestamps.beforeMaxMs), timestampAfterMaxMs: finite(info.timestamps.afterMaxMs) },
      });
    }
    if (tooLarge.length > 0) {
      throw new GatewayError('GW_ERR_RECORD_TOO_LARGE', `A record is larger than topic ${JSON.stringify(topic)} accepts (max.message.bytes = ${info.maxMessageBytes}).`, {
        errors: tooLarge,
        extensions: { limitBytes: info.maxMessageBytes },
      });
    }
  }

  /** Produces the records and answers where each landed, in the order given. All or nothing from the caller's view: any failure rejects. */
  async send(topic: string, records: readonly OutgoingRecord[]): Promise<ProducedRecord[]> {
    if (records.length === 0) return [];
    await this.check(topic, records);
    const info = await this.topics.get(topic, { create: this.config.autoCreateTopics });
    const bytes = records.reduce((sum, r) => sum + recordBytes(r), 0);
    // A request larger than the whole bound still goes through when nothing
    // else is in flight; otherwise it could never succeed, however often retried.
    if (this.#inFlightBytes > 0 && this.#inFlightBytes + bytes > this.config.maxInFlightBytes) {
      throw new GatewayError('GW_ERR_OVERLOADED', `The gateway holds ${this.#inFlightBytes} bytes of unacknowledged records and takes at most ${this.config.maxInFlightBytes}; retry shortly.`, {
        retryAfterSeconds: 1,
      });
    }
    const now = String(Date.now());
    const messages = records.map((record) => {
      const message: Message = {
        key: record.key,
        value: record.value,
        headers: record.headers ? { ...record.headers } : undefined,
        partition: record.partition,
        timestamp: record.timestamp === undefined ? now : String(record.timestamp),
      };
      message.partition = this.#partitioner({ topic, partitionMetadata: [...info.partitions], message });
      return message as Placed['message'];
    });

    this.#inFlightBytes += bytes;
    // A large request goes out in several batches, each under the batch bound,
    // so that no partition's record batch passes the broker's limit.
    const chunks: { messages: Placed['message'][]; bytes: number }[] = [];
    messages.forEach((message, i) => {
      const size = recordBytes(records[i]!);
      const last = chunks.at(-1);
      if (last && last.bytes + size <= MAX_BATCH_BYTES) {
        last.messages.push(message);
        last.bytes += size;
      } else {
        chunks.push({ messages: [message], bytes: size });
      }
    });
    const acked = Promise.all(
      chunks.map(
        (chunk) =>
          new Promise<ProducedRecord[]>((resolve, reject) => {
            this.#enqueue({ topic, messages: chunk.messages, bytes: chunk.bytes, resolve, reject });
          }),
      ),
    ).then((parts) => parts.flat());
    try {
      return await withDeadline(acked, this.config.timeoutMs, () => {
        throw new GatewayError('GW_ERR_KAFKA_UNAVAILABLE', `Kafka did not acknowledge the records within ${this.config.timeoutMs} ms; they may or may not have been written. Retry shortly.`, { retryAfterSeconds: 1 });
      });
    } finally {
      // The records stay in memory until kafkajs is done with them, even when the caller stopped waiting.
      acked.then(
        () => (this.#inFlightBytes -= bytes),
        () => (this.#inFlightBytes -= bytes),
      );
    }
  }

  /** Sends what is waiting now and resolves when every batch has settled. */
  async drain(): Promise<void> {
    while (this.#sending || this.#sealed.length > 0 || this.#open.length > 0) {
      this.#due = true;
      this.#next();
      await this.#sending;
    }
  }

  /**
   * Adds a caller's records to the open batch. While a batch is with the
   * broker the open one keeps filling, and goes as soon as the broker
   * answers: under load each round trip carries everything that arrived
   * during the last one, as the Java client's accumulator does, instead of
   * a queue of small batches each waiting its own round trip.
   */
  #enqueue(pending: Pending): void {
    if (this.#open.length > 0 && this.#openBytes + pending.bytes > MAX_BATCH_BYTES) this.#seal();
    this.#open.push(pending);
    this.#openBytes += pending.bytes;
    if (this.#openBytes >= MAX_BATCH_BYTES || !this.config.coalesce) this.#seal();
    if (this.#sealed.length > 0) {
      this.#next();
    } else if (!this.#timer && !this.#due) {
      // With no linger, setImmediate still lets requests parsed in the same tick share a batch.
      const due = () => {
        this.#timer = undefined;
        this.#due = true;
        this.#next();
      };
      this.#timer = this.config.lingerMs > 0 ? setTimeout(due, this.config.lingerMs) : setImmediate(due);
    }
  }

  #seal(): void {
    this.#sealed.push(this.#open);
    this.#open = [];
    this.#openBytes = 0;
  }

  /** Sends the next batch if the broker has none of ours. */
  #next(): void {
    if (this.#sending) return;
    if (this.#sealed.length === 0 && this.#due && this.#open.length > 0) this.#seal();
    const batch = this.#sealed.shift();
    if (!batch) return;
    if (this.#open.length === 0) {
      this.#due = false;
      clearTimeout(this.#timer as NodeJS.Timeout);
      clearImmediate(this.#timer as NodeJS.Immediate);
      this.#timer = undefined;
    }
    this.#sending = this.#send(batch).finally(() => {
      this.#sending = undefined;
      // What arrived meanwhile has waited long enough.
      if (this.#open.length > 0) this.#due = true;
      this.#next();
    });
  }

  async #send(batch: Pending[]): Promise<void> {
    const byTopic = new Map<string, Message[]>();
    // For each caller, the position of each of its records within its partition's run in this batch.
    const counts = new Map<string, number>();
    const positions = batch.map(({ topic, messages }) => {
      let list = byTopic.get(topic);
      if (!list) byTopic.set(topic, (list = []));
      return messages.map((message) => {
        list.push(message);
        const tp = `${topic}\u0000${message.partition}`;
        const position = counts.get(tp) ?? 0;
        counts.set(tp, position + 1);
        return position;
      });
    });
    try {
      if (this.#mustRenew) {
        await this.connection.renewProducer();
        this.#mustRenew = false;
      }
      const metadata = await this.connection.producer.sendBatch({
        acks: -1,
        timeout: this.config.timeoutMs,
        compression: this.#compression,
        topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
      });
      this.#settle(batch, positions, metadata);
    } catch (error) {
      // Whether the broker wrote this batch is unknown: the next one goes under a new producer id.
      this.#mustRenew = true;
      this.logger.warn({ err: error, callers: batch.length }, 'produce batch failed');
      if (batch.length > 1 && isRefusal(error)) {
        // The broker refused records it will never take, and does not say
        // whose: each caller's records go again on their own, first in line,
        // so that only the caller who sent them gets the refusal.
        this.#sealed.unshift(...batch.map((pending) => [pending]));
        return;
      }
      for (const pending of batch) pending.reject(sendFailure(error, pending.topic));
    }
  }

  #settle(batch: Pending[], positions: number[][], metadata: RecordMetadata[]): void {
    const acks = new Map(metadata.map((m) => [`${m.topicName}\u0000${m.partition}`, m]));
    batch.forEach((pending, i) => {
      try {
        pending.resolve(
          pending.messages.map((message, j) => {
            const ack = acks.get(`${pending.topic}\u0000${message.partition}`);
            if (!ack || ack.baseOffset === undefined) throw new Error(`no acknowledgement for ${pending.topic}/${message.partition}`);
            const appendTime = ack.logAppendTime !== undefined && ack.logAppendTime !== '-1' ? Number(ack.logAppendTime) : undefined;
            return {
              partition: message.partition,
              offset: (BigInt(ack.baseOffset) + BigInt(positions[i]![j]!)).toString(),
              timestamp: appendTime ?? Number(message.timestamp),
            };
          }),
        );
      } catch (error) {
        pending.reject(error);
      }
    });
  }
}

/** Infinity (no limit) is not JSON; a problem leaves it out. */
function finite(ms: number): number | undefined {
  return Number.isFinite(ms) ? ms : undefined;
}

/**
 * Records the broker would refuse for their timestamp (CreateTime topics
 * only), found before they can share a batch. Measured against the
 * gateway's clock, which the broker's may differ from by a little; a record
 * on the edge that the broker still refuses fails alone (see #send).
 */
export function timestampErrors(records: readonly OutgoingRecord[], policy: TimestampPolicy, now: number): FieldError[] {
  if (policy.type !== 'CreateTime') return [];
  const errors: FieldError[] = [];
  records.forEach((record, index) => {
    if (record.timestamp === undefined) return;
    if (record.timestamp > now + policy.afterMaxMs) {
      errors.push({ index, pointer: '/timestamp', message: `is more than ${policy.afterMaxMs} ms ahead of now (the topic's message.timestamp.after.max.ms)` });
    } else if (record.timestamp < now - policy.beforeMaxMs) {
      errors.push({ index, pointer: '/timestamp', message: `is more than ${policy.beforeMaxMs} ms before now (the topic's message.timestamp.before.max.ms)` });
    }
  });
  return errors;
}

/** The broker answered and refused the records themselves: sending the same records again can never succeed. */
function isRefusal(error: unknown): boolean {
  const mapped = fromKafkaError(error);
  return mapped.status >= 400 && mapped.status < 500 && mapped.code !== 'GW_ERR_TOPIC_NOT_FOUND' && mapped.code !== 'GW_ERR_FORBIDDEN';
}
