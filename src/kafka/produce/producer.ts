import type { Config } from '../../config.js';
import { withDeadline, GatewayError, type FieldError, type Logger } from '../../common/index.js';
import { fromKafkaError } from '../client/index.js';
import { partitionForKey } from './murmur2.js';
import type { PartitionResult, ProducerSession, WireRecord } from './producer-session.js';
import type { TimestampPolicy, TopicCache } from '../metadata/index.js';

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

interface Pending {
  readonly topic: string;
  readonly records: readonly WireRecord[];
  readonly bytes: number;
  /** Where each record landed, filled in as partitions are acknowledged. */
  readonly landed: Array<ProducedRecord | undefined>;
  settled: boolean;
  resolve(results: ProducedRecord[]): void;
  reject(error: unknown): void;
}

/** Errors after which the same records may go again under the same producer id and sequence: the broker wrote nothing or deduplicates. */
const RETRIABLE = new Set([
  'NOT_LEADER_OR_FOLLOWER',
  'LEADER_NOT_AVAILABLE',
  'NOT_ENOUGH_REPLICAS',
  'NOT_ENOUGH_REPLICAS_AFTER_APPEND',
  'REQUEST_TIMED_OUT',
  'KAFKA_STORAGE_ERROR',
  'NETWORK_EXCEPTION',
  'UNKNOWN_TOPIC_OR_PARTITION',
  'FENCED_LEADER_EPOCH',
  'UNKNOWN_LEADER_EPOCH',
  'COORDINATOR_LOAD_IN_PROGRESS',
]);
/** Errors that end the producer id: the records go again under a new one. */
const RENEW = new Set(['OUT_OF_ORDER_SEQUENCE_NUMBER', 'INVALID_PRODUCER_EPOCH', 'UNKNOWN_PRODUCER_ID', 'DUPLICATE_SEQUENCE_NUMBER', 'INVALID_PRODUCER_ID_MAPPING']);
/** Rounds one batch may take before its remaining callers are told Kafka is unavailable. */
const MAX_ROUNDS = 6;

// Kafka's per-record overhead in a v2 batch is under 30 bytes; this rounds up
// so the estimate never undercounts what the broker measures.
const RECORD_OVERHEAD_BYTES = 70;
// One coalesced batch stays well under the broker's default 1 MiB limit on a
// record batch, so sharing a batch never makes another caller's records too large.
const MAX_BATCH_BYTES = 512 * 1024;

/**
 * A send that got no answer as the client should see it: any failure the
 * broker did not state a reason for is Kafka being unavailable, and the
 * records may or may not have been written.
 */
function sendFailure(error: unknown, topic: string): GatewayError {
  const mapped = fromKafkaError(error, { topic });
  if (mapped.code !== 'GW_ERR_INTERNAL') return mapped;
  return new GatewayError('GW_ERR_KAFKA_UNAVAILABLE', 'Kafka did not answer for the records; they were not acknowledged and may or may not have been written. Retry shortly.', { cause: error, retryAfterSeconds: 1 });
}

/**
 * Records that passed ProduceService.check, as send() takes them without
 * checking again: the topic's partition count as the check found it, each
 * record's estimated size and their sum. Only check() makes one (the class
 * leaves src/kafka as a type only).
 */
export class CheckedBatch {
  constructor(
    readonly topic: string,
    readonly records: readonly OutgoingRecord[],
    /** Where records without a partition of their own are placed (by key, or in turn). */
    readonly partitionCount: number,
    /** recordBytes of each record. */
    readonly sizes: readonly number[],
    /** Their sum: what the records hold of the in-flight bound. */
    readonly bytes: number,
  ) {}
}

export function recordBytes(record: OutgoingRecord): number {
  let bytes = RECORD_OVERHEAD_BYTES + (record.key?.length ?? 0) + (record.value?.length ?? 0);
  for (const [name, value] of Object.entries(record.headers ?? {})) bytes += Buffer.byteLength(name) + Buffer.byteLength(value) + 10;
  return bytes;
}

/**
 * Produces records through the process's one idempotent producer session.
 * Under many small concurrent HTTP requests a produce request each would
 * cost a broker round trip each; so requests that arrive within
 * PRODUCE_LINGER_MS (or while a batch is with the broker) share one batch,
 * and each caller is answered with the offsets of its own records, worked
 * out from the base offset the broker returns per partition (records of one
 * partition are appended in the order they were given).
 *
 * Memory is bounded: the bytes held for unacknowledged records may not pass
 * PRODUCE_MAX_IN_FLIGHT; past it a request is refused with 503 rather than
 * queued. A caller waits at most PRODUCE_TIMEOUT_MS for the broker, then gets
 * 503; its records stay counted until their batch is settled, because they
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
  /** Per topic, where the next record without a key goes: spread round-robin, as the partition count allows. */
  readonly #roundRobin = new Map<string, number>();

  constructor(
    private readonly connection: { readonly producer: ProducerSession; renewProducer(): Promise<void> },
    private readonly topics: TopicCache,
    private readonly config: Config['produce'],
    private readonly logger: Logger,
  ) {}

  /** Bytes of records waiting for an acknowledgement. */
  get inFlightBytes(): number {
    return this.#inFlightBytes;
  }

  /**
   * Checks records against the topic (it exists, partitions in range, each
   * record under the topic's size limit and in its timestamp window) without
   * sending anything; throws the GatewayError a client should see. What
   * passes comes back as a CheckedBatch, for send() to take as it is: the
   * topic is looked up and each record sized here, once per request.
   */
  async check(topic: string, records: readonly OutgoingRecord[]): Promise<CheckedBatch> {
    const info = await this.topics.get(topic, { create: this.config.autoCreateTopics });
    const partitionErrors: FieldError[] = [];
    const tooLarge: FieldError[] = [];
    const badTimestamps = timestampErrors(records, info.timestamps, Date.now());
    const sizes = new Array<number>(records.length);
    let bytes = 0;
    records.forEach((record, index) => {
      if (record.partition !== undefined && (record.partition < 0 || record.partition >= info.partitions.length)) {
        partitionErrors.push({ index, pointer: '/partition', message: `partition ${record.partition} does not exist; the topic has partitions 0 to ${info.partitions.length - 1}` });
      }
      const size = recordBytes(record);
      sizes[index] = size;
      bytes += size;
      if (size > info.maxMessageBytes) {
        tooLarge.push({ index, pointer: '', message: `the record is about ${size} bytes; the broker accepts at most ${info.maxMessageBytes}` });
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
    return new CheckedBatch(topic, records, info.partitions.length, sizes, bytes);
  }

  /**
   * Produces records that passed check(), without checking them again, and
   * answers where each landed, in the order given. All or nothing from the
   * caller's view: any failure rejects.
   */
  async send(batch: CheckedBatch): Promise<ProducedRecord[]> {
    const { topic, records, partitionCount, sizes, bytes } = batch;
    if (records.length === 0) return [];
    // A request larger than the whole bound still goes through when nothing
    // else is in flight; otherwise it could never succeed, however often retried.
    if (this.#inFlightBytes > 0 && this.#inFlightBytes + bytes > this.config.maxInFlightBytes) {
      throw new GatewayError('GW_ERR_OVERLOADED', `The gateway holds ${this.#inFlightBytes} bytes of unacknowledged records and takes at most ${this.config.maxInFlightBytes}; retry shortly.`, {
        retryAfterSeconds: 1,
      });
    }
    const now = BigInt(Date.now());
    // Placed here, by the Java client's partitioner, so that the partition of
    // every record is known before the batch is sent and each caller's offsets
    // can be found in the broker's answer.
    const messages: WireRecord[] = records.map((record) => ({
      topic,
      partition: record.partition ?? this.#place(topic, record.key, partitionCount),
      key: record.key,
      value: record.value,
      headers: record.headers && new Map(Object.entries(record.headers)),
      timestamp: record.timestamp === undefined ? now : BigInt(record.timestamp),
    }));

    this.#inFlightBytes += bytes;
    // A large request goes out in several batches, each under the batch bound,
    // so that no partition's record batch passes the broker's limit.
    const chunks: { messages: WireRecord[]; bytes: number }[] = [];
    messages.forEach((message, i) => {
      const size = sizes[i]!;
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
            this.#enqueue({ topic, records: chunk.messages, bytes: chunk.bytes, landed: [], settled: false, resolve, reject });
          }),
      ),
    ).then((parts) => parts.flat());
    try {
      return await withDeadline(acked, this.config.timeoutMs, () => {
        throw new GatewayError('GW_ERR_KAFKA_UNAVAILABLE', `Kafka did not acknowledge the records within ${this.config.timeoutMs} ms; they may or may not have been written. Retry shortly.`, { retryAfterSeconds: 1 });
      });
    } finally {
      // The records stay in memory until their batch is settled, even when the caller stopped waiting.
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
    this.#sending = this.#send(batch)
      .catch((error: unknown) => {
        // A bug in handling the answer must not leave callers waiting and their bytes counted for good.
        this.logger.error({ err: error, callers: batch.length }, 'produce batch failed');
        this.#mustRenew = true;
        for (const pending of batch) this.#fail(pending, sendFailure(error, pending.topic));
      })
      .finally(() => {
        this.#sending = undefined;
        // What arrived meanwhile has waited long enough.
        if (this.#open.length > 0) this.#due = true;
        this.#next();
      });
  }

  /** A key's partition by the Java client's murmur2; records without a key take turns. */
  #place(topic: string, key: Buffer | null, partitions: number): number {
    if (key !== null) return partitionForKey(key, partitions);
    const next = this.#roundRobin.get(topic) ?? 0;
    this.#roundRobin.set(topic, (next + 1) % 2 ** 30);
    return next % partitions;
  }

  /**
   * Sends one batch, in rounds: what the broker acknowledged is settled;
   * records it refused fail only the callers who sent them (the rest of
   * their partition's batch goes again without them); records it could not
   * take yet (a moving leader, too few replicas) go again under the same
   * producer id and sequence, which the broker deduplicates. A request that
   * got no answer leaves its outcome unknown: its callers get 503 and the
   * next batch goes under a new producer id.
   */
  async #send(batch: Pending[]): Promise<void> {
    let round = batch.flatMap((pending) => pending.records.map((record, index) => ({ pending, index, record })));
    for (let attempt = 1; round.length > 0; attempt++) {
      let results: PartitionResult[];
      try {
        if (this.#mustRenew) {
          await this.connection.renewProducer();
          this.#mustRenew = false;
        }
        results = await this.connection.producer.send(
          round.map((item) => item.record),
          this.config.compression,
        );
      } catch (error) {
        if ((error as { notSent?: boolean }).notSent && attempt < MAX_ROUNDS) {
          // Nothing left for the broker (a leader still being elected, metadata or a producer id not had yet): the same records go again.
          await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
          continue;
        }
        // Whether the broker wrote these records is unknown: the next batch goes under a new producer id.
        this.#mustRenew = true;
        this.logger.warn({ err: error, callers: batch.length }, 'produce request failed');
        for (const { pending } of round) this.#fail(pending, sendFailure(error, pending.topic));
        return;
      }
      const byPartition = new Map<string, typeof round>();
      for (const item of round) {
        const key = `${item.record.topic}\u0000${item.record.partition}`;
        let list = byPartition.get(key);
        if (!list) byPartition.set(key, (list = []));
        list.push(item);
      }
      const again: typeof round = [];
      let retriable: string | undefined;
      const answered = new Set<string>();
      for (const result of results) {
        const key = `${result.topic}\u0000${result.partition}`;
        answered.add(key);
        const items = byPartition.get(key) ?? [];
        if (result.error === undefined) {
          items.forEach(({ pending, index, record }, j) => {
            pending.landed[index] = {
              partition: result.partition,
              offset: (result.baseOffset + BigInt(j)).toString(),
              timestamp: Number(result.logAppendTime >= 0n ? result.logAppendTime : record.timestamp),
            };
          });
          continue;
        }
        if (RETRIABLE.has(result.error) || RENEW.has(result.error)) {
          if (RENEW.has(result.error)) this.#mustRenew = true;
          retriable = result.error;
          again.push(...items);
          continue;
        }
        // The broker refused records it will never take: their callers fail; the others of that partition were refused with them and go again.
        const refused = new Set(result.refusedRecords.length > 0 ? result.refusedRecords.map((j) => items[j]?.pending) : items.map((item) => item.pending));
        const failure = refusal(result, this.#written.bind(this));
        for (const pending of refused) if (pending) this.#fail(pending, failure(pending));
        again.push(...items.filter((item) => !refused.has(item.pending)));
      }
      // Records of a partition the answer does not speak of (a broker that
      // answered for fewer partitions than were sent, or an answer read only
      // in part) may or may not have been written: never counted as landed.
      // Sent again under the same sequence they could be deduplicated or
      // refused as out of order, so their callers get 503 and the next batch
      // goes under a new producer id.
      const unanswered = [...byPartition].filter(([key]) => !answered.has(key)).flatMap(([, items]) => items);
      if (unanswered.length > 0) {
        this.#mustRenew = true;
        this.logger.warn({ records: unanswered.length, callers: new Set(unanswered.map((item) => item.pending)).size }, 'the broker did not answer for some partitions of a produce request');
        for (const { pending, record } of unanswered) {
          this.#fail(
            pending,
            new GatewayError('GW_ERR_KAFKA_UNAVAILABLE', `Kafka did not answer for partition ${record.partition}; its records were not acknowledged and may or may not have been written. Retry shortly.`, {
              retryAfterSeconds: 1,
            }),
          );
        }
      }
      for (const pending of batch) {
        if (!pending.settled && allLanded(pending)) {
          pending.settled = true;
          pending.resolve(pending.landed as ProducedRecord[]);
        }
      }
      round = again.filter((item) => !item.pending.settled);
      if (round.length === 0) return;
      if (attempt >= MAX_ROUNDS) {
        for (const { pending } of round) {
          this.#fail(pending, new GatewayError('GW_ERR_KAFKA_UNAVAILABLE', `Kafka could not take the records (${retriable ?? 'refused'}); they were not written. Retry shortly.`, { retryAfterSeconds: 1 }));
        }
        return;
      }
      this.logger.debug({ error: retriable, records: round.length, attempt }, 'some records go again');
      // A refusal's other records go again at once; a leader moving or replicas catching up needs a moment.
      if (retriable !== undefined) await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
    }
  }

  /** What of a caller's request was written before part of it was refused, for the refusal to say. */
  #written(pending: Pending): ProducedRecord[] {
    return pending.landed.filter((landed): landed is ProducedRecord => landed !== undefined);
  }

  #fail(pending: Pending, error: unknown): void {
    if (pending.settled) return;
    pending.settled = true;
    pending.reject(error);
  }
}

/**
 * Whether every record of the caller has an offset. Counted slot by slot:
 * `landed` is filled by index, and `every` skips the holes of a sparse
 * array, so a request whose first record never landed would pass it.
 */
function allLanded(pending: Pending): boolean {
  for (let i = 0; i < pending.records.length; i++) if (pending.landed[i] === undefined) return false;
  return true;
}

/** The caller's error for records the broker refused, saying what of its request was written anyway (records on other partitions). */
function refusal(result: PartitionResult, written: (pending: Pending) => ProducedRecord[]): (pending: Pending) => GatewayError {
  const name = result.error ?? 'UNKNOWN';
  return (pending) => {
    const landed = written(pending);
    const outcome =
      landed.length === 0
        ? 'nothing of this request was produced'
        : `${landed.length} record(s) of this request on other partitions were written (${landed.map((l) => `${l.partition}@${l.offset}`).join(', ')})`;
    const extensions = { kafkaError: name, ...(landed.length > 0 ? { written: landed } : {}) };
    switch (name) {
      case 'INVALID_TIMESTAMP':
        return new GatewayError('GW_ERR_VALIDATION', `The broker refused a record's timestamp as too far from its clock (the topic's message.timestamp.before.max.ms and message.timestamp.after.max.ms); ${outcome}.`, { extensions });
      case 'MESSAGE_TOO_LARGE':
      case 'RECORD_LIST_TOO_LARGE':
        return new GatewayError('GW_ERR_RECORD_TOO_LARGE', `The broker refused the records as larger than topic ${JSON.stringify(pending.topic)} accepts (max.message.bytes); ${outcome}.`, { extensions });
      case 'TOPIC_AUTHORIZATION_FAILED':
        return new GatewayError('GW_ERR_FORBIDDEN', `The broker refused the gateway access to topic ${JSON.stringify(pending.topic)}; ${outcome}.`, { extensions });
      default:
        return new GatewayError('GW_ERR_BAD_REQUEST', `The broker refused the records as invalid (${name}${result.errorMessage ? `: ${result.errorMessage}` : ''}); ${outcome}.`, { extensions });
    }
  };
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
