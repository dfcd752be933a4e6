/**
 * Confluent REST Proxy v2 consumer instances, on the subscription engine:
 * an instance is a subscription read by polling instead of push. The
 * instance asks the subscription for records (demand) from the moment it
 * subscribes and between reads, and keeps what is handed over in its
 * buffer until the buffer holds `bufferBytes` (then one more delivery of
 * at most one fetch batch, which was already on its way, at most): a read
 * takes from the buffer and answers as soon as it has records, so a client
 * polling in a loop is answered from records fetched while it handled the
 * previous answer. Subscribed instances are
 * real members of their consumer group; instances given partitions by hand
 * join nothing and commit through the group while it has no members, as a
 * Kafka consumer after assign() does.
 *
 * An instance lives in the process that made it (clients reach it again
 * through the `base_uri` it was created with) and is deleted, leaving its
 * group, after `instanceTimeoutMs` without a request. Nothing here knows
 * HTTP: errors are GatewayErrors, which the routes answer in Confluent's
 * shape.
 */
import { randomUUID } from 'node:crypto';
import { RE2JS } from 're2js';
import type { Config } from '../../config.js';
import { GROUP_NAME_RULE, GatewayError, isValidGroupName, partitionKey, type Logger } from '../../common/index.js';
import type { ConsumedRecord, PartitionHandle, StartPosition, Subscription, SubscriptionEngine, TopicPartitions } from '../../kafka/index.js';
import { formats } from '../../records/index.js';
import type { WireDecoder } from '../../schema/index.js';
import { RecordAnswer } from './record-answer.js';

export type EmbeddedFormat = 'binary' | 'json' | RegistryFormat;
/** The embedded formats whose values are in the schema registry wire format. */
export type RegistryFormat = 'avro' | 'jsonschema' | 'protobuf';
const REGISTRY_TYPES: Readonly<Record<RegistryFormat, string>> = { avro: 'AVRO', jsonschema: 'JSON', protobuf: 'PROTOBUF' };

/** What `POST /consumers/{group}` may set, already checked. */
export interface InstanceSettings {
  readonly name?: string;
  readonly format: EmbeddedFormat;
  readonly autoOffsetReset: 'earliest' | 'latest';
  readonly autoCommit: boolean;
  /** A read answers once more than these bytes are there; undefined (Confluent's -1): as soon as there are records. */
  readonly fetchMinBytes?: number;
  /** The longest a read of this instance waits. */
  readonly requestTimeoutMs?: number;
}

export interface PartitionRef {
  readonly topic: string;
  readonly partition: number;
}

export interface ConsumerInstancesDeps {
  readonly engine: SubscriptionEngine;
  readonly config: Config['consumers'];
  readonly logger: Logger;
  /** Every topic name, to resolve a `topic_pattern` against. */
  readonly topicNames: () => Promise<readonly string[]>;
  /** Decodes records in the schema registry wire format, for instances reading avro, jsonschema or protobuf. */
  readonly wire?: WireDecoder;
}

/**
 * One delivery of one partition, waiting for reads; `next` is the index of
 * the first record no read has taken. `json`: for a json instance, where
 * each record's key and value are JSON text, checked when the records
 * arrived (checkJson), so a read, which the client waits for, only copies.
 */
interface Delivery {
  readonly handle: PartitionHandle;
  records: readonly ConsumedRecord[];
  next: number;
  json?: Int32Array;
}

/**
 * Records handed over and not yet read, in delivery order, with the bytes
 * they hold (`ConsumedRecord.size`). A queue of deliveries rather than of
 * records: a delivery is queued in one step, and taking from the front
 * never moves the rest (Array.prototype.shift on a long array does).
 */
class RecordBuffer {
  #deliveries: Delivery[] = [];
  #head = 0;
  #bytes = 0;

  constructor(
    private readonly process: PrefetchedBytes,
    /** A json instance's check of the records it is handed (checkJson). */
    private readonly check?: (records: readonly ConsumedRecord[]) => Int32Array,
  ) {}

  get bytes(): number {
    return this.#bytes;
  }

  get empty(): boolean {
    return this.#head === this.#deliveries.length;
  }

  push(handle: PartitionHandle, records: readonly ConsumedRecord[]): void {
    if (records.length === 0) return;
    this.#deliveries.push({ handle, records, next: 0, json: this.check?.(records) });
    const before = this.#bytes;
    for (let i = 0; i < records.length; i++) this.#bytes += records[i]!.size;
    this.process.bytes += this.#bytes - before;
  }

  /** The delivery the first record waiting is in (`records[next]`), or undefined. */
  front(): Readonly<Delivery> | undefined {
    return this.#deliveries[this.#head];
  }

  /** Drops the first record waiting (read, or of a partition no longer held). */
  shift(): void {
    const first = this.#deliveries[this.#head];
    if (!first) return;
    const size = first.records[first.next]!.size;
    this.#bytes -= size;
    this.process.bytes -= size;
    first.next += 1;
    if (first.next < first.records.length) return;
    // The delivery is spent: its records are let go now, not when the queue is compacted.
    this.#deliveries[this.#head] = undefined as unknown as Delivery;
    this.#head += 1;
    if (this.#head === this.#deliveries.length) {
      this.#deliveries = [];
      this.#head = 0;
    } else if (this.#head >= 1024 && this.#head * 2 >= this.#deliveries.length) {
      this.#deliveries = this.#deliveries.slice(this.#head);
      this.#head = 0;
    }
  }

  /** Keeps only the records `keep` accepts. */
  filter(keep: (record: ConsumedRecord) => boolean): void {
    const kept: Delivery[] = [];
    this.process.bytes -= this.#bytes;
    this.#bytes = 0;
    for (let i = this.#head; i < this.#deliveries.length; i++) {
      const { handle, records, next } = this.#deliveries[i]!;
      const left = records.slice(next).filter(keep);
      if (left.length === 0) continue;
      kept.push({ handle, records: left, next: 0, json: this.check?.(left) });
      for (const record of left) this.#bytes += record.size;
    }
    this.#deliveries = kept;
    this.#head = 0;
    this.process.bytes += this.#bytes;
  }

  clear(): void {
    this.process.bytes -= this.#bytes;
    this.#deliveries = [];
    this.#head = 0;
    this.#bytes = 0;
  }
}

/** Record bytes every instance of the process holds ahead of its reads: what `bufferTotalBytes` bounds. */
export interface PrefetchedBytes {
  bytes: number;
}


/**
 * A `topic_pattern`, matched against whole topic names in linear time: V8's
 * backtracking engine would let a pattern such as `(a+)+b` stall the
 * process on one long topic name.
 */
function topicPattern(pattern: string): RE2JS {
  try {
    return RE2JS.compile(RE2JS.translateRegExp(pattern));
  } catch (error) {
    throw new GatewayError('GW_ERR_VALIDATION', `topic_pattern is not a regular expression this gateway can match in linear time (lookaround and backreferences are not supported): ${(error as Error).message}.`, {
      errors: [{ pointer: '/topic_pattern', message: 'must be a regular expression without lookaround or backreferences' }],
    });
  }
}

function illegalState(detail: string): GatewayError {
  return new GatewayError('GW_ERR_CONFLICT', `Illegal state: ${detail}`);
}

/**
 * Where each record's key and value are JSON text (RecordAnswer.check),
 * done when a json instance is handed records: it fetches ahead while its
 * client handles the previous answer, so the check is off the read's path.
 */
function checkJson(records: readonly ConsumedRecord[]): Int32Array {
  const bounds = new Int32Array(4 * records.length);
  for (let i = 0; i < records.length; i++) RecordAnswer.check(records[i]!, bounds, 4 * i);
  return bounds;
}

export class ConsumerInstance {
  #subscription: Subscription | undefined;
  #mode: 'none' | 'subscribed' | 'assigned' = 'none';
  #topics: readonly string[] = [];
  #startFailure: GatewayError | undefined;
  readonly #buffer: RecordBuffer;
  /** A read waits: records, or a failure, wake it. */
  #wake: (() => void) | undefined;
  /** The last offset a read returned, per partition: what a commit without a body commits. */
  readonly #returned = new Map<string, { topic: string; partition: number; offset: bigint }>();
  /** Requests of one instance run one at a time, as on Confluent's synchronized consumer state. */
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;
  /** Requests queued or running: an instance that has one is in use, however long its read waits. */
  #requests = 0;
  lastUsed = Date.now();

  constructor(
    readonly group: string,
    readonly name: string,
    readonly owner: string,
    readonly settings: InstanceSettings,
    private readonly deps: ConsumerInstancesDeps,
    private readonly prefetched: PrefetchedBytes = { bytes: 0 },
  ) {
    this.#buffer = new RecordBuffer(prefetched, settings.format === 'json' ? checkJson : undefined);
  }

  /**
   * Whether the partitions may fetch ahead: under the instance's own bound
   * and the process's. An instance with nothing buffered always may, so a
   * read is never left waiting for other instances' readers.
   */
  #mayFetchAhead(): boolean {
    if (this.#buffer.empty) return true;
    return this.#buffer.bytes < this.deps.config.bufferBytes && this.prefetched.bytes < this.deps.config.bufferTotalBytes;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get busy(): boolean {
    return this.#requests > 0;
  }

  /** Bytes of records handed over to this instance that no read has returned yet (at most `bufferBytes` plus one delivery). */
  get bufferedBytes(): number {
    return this.#buffer.bytes;
  }

  /** Runs `work` after the instance's earlier requests, and counts as use. */
  run<T>(work: () => Promise<T>): Promise<T> {
    this.lastUsed = Date.now();
    this.#requests += 1;
    const next = this.#queue.then(() => {
      if (this.#closed) throw new GatewayError('GW_ERR_CONSUMER_NOT_FOUND', 'Consumer instance not found.');
      return work();
    });
    this.#queue = next
      .catch(() => undefined)
      .finally(() => {
        this.#requests -= 1;
        this.lastUsed = Date.now();
      });
    return next;
  }

  get subscription(): readonly string[] {
    return this.#mode === 'subscribed' ? this.#topics : [];
  }

  get assignment(): PartitionRef[] {
    return (this.#subscription?.assignment ?? []).flatMap(({ topic, partitions }) => partitions.map((partition) => ({ topic, partition })));
  }

  #from(): StartPosition {
    return { kind: this.settings.autoOffsetReset };
  }

  #open(topics: readonly string[], assignment?: readonly TopicPartitions[]): Subscription {
    const subscription = this.deps.engine.create(
      { topics, group: this.group, assignment, from: this.#from(), ack: this.settings.autoCommit ? 'auto' : 'manual' },
      {
        onRecords: (handle, records) => {
          if (this.#subscription !== subscription) return;
          this.#buffer.push(handle, records);
          // Past the bound the partitions stop asking: records fetched for them meanwhile wait in the shared cache.
          if (!this.#mayFetchAhead()) subscription.setDemand(false);
          this.#wake?.();
        },
        onAssignment: () => undefined,
        onFatal: (error) => {
          if (this.#subscription !== subscription) return;
          this.deps.logger.warn({ err: error, group: this.group, instance: this.name }, 'a consumer instance lost its subscription');
          this.#startFailure = error;
          this.#wake?.();
        },
      },
    );
    return subscription;
  }

  async #drop(): Promise<void> {
    const previous = this.#subscription;
    this.#subscription = undefined;
    this.#startFailure = undefined;
    this.#buffer.clear();
    this.#returned.clear();
    this.#mode = 'none';
    this.#topics = [];
    // A read waiting on the dropped subscription answers now with what it has.
    this.#wake?.();
    await previous?.stop();
  }

  /**
   * Subscribes to topics, or to every topic whose whole name matches
   * `pattern` and that `readable` allows (as a Kafka consumer's pattern
   * subscription sees only the topics it may read, internal ones never);
   * replaces an earlier subscription.
   */
  async subscribe(topics: readonly string[] | undefined, pattern: string | undefined, readable: (topic: string) => boolean = () => true): Promise<void> {
    if (this.#mode === 'assigned') throw illegalState('Subscription to topics, partitions and pattern are mutually exclusive.');
    let names: readonly string[];
    if (pattern !== undefined) {
      const regex = topicPattern(pattern);
      names = (await this.deps.topicNames()).filter((topic) => regex.matches(topic) && readable(topic));
    } else {
      names = [...new Set(topics ?? [])];
    }
    await this.#drop();
    if (names.length === 0) return;
    const subscription = this.#open(names);
    this.#subscription = subscription;
    this.#mode = 'subscribed';
    this.#topics = names;
    // Fetching starts with the subscription, not with the first read: that read finds records waiting.
    subscription.setDemand(true);
    // Joining may wait for a rebalance of the whole group: the answer does not; a read meanwhile gets what has
    // arrived by its timeout, or the failure (as a Kafka consumer joins in poll()).
    void subscription.start().then(
      () => undefined,
      (error: unknown) => {
        if (this.#subscription !== subscription) return;
        this.#startFailure = error instanceof GatewayError ? error : new GatewayError('GW_ERR_INTERNAL', 'The subscription failed to start; the failure is logged.', { cause: error });
        this.deps.logger.warn({ err: error, group: this.group, instance: this.name }, 'a consumer instance could not subscribe');
        this.#wake?.();
      },
    );
  }

  async unsubscribe(): Promise<void> {
    if (this.#mode === 'subscribed') await this.#drop();
  }

  /** Holds exactly these partitions without joining the group; replaces an earlier assignment. */
  async assign(partitions: readonly PartitionRef[]): Promise<void> {
    if (this.#mode === 'subscribed') throw illegalState('Subscription to topics, partitions and pattern are mutually exclusive.');
    await this.#drop();
    if (partitions.length === 0) return;
    const byTopic = new Map<string, number[]>();
    for (const { topic, partition } of partitions) {
      const list = byTopic.get(topic) ?? [];
      if (!list.includes(partition)) list.push(partition);
      byTopic.set(topic, list);
    }
    const assignment = [...byTopic].map(([topic, list]) => ({ topic, partitions: list.sort((a, b) => a - b) }));
    const subscription = this.#open([...byTopic.keys()], assignment);
    try {
      await subscription.start();
    } catch (error) {
      await subscription.stop();
      throw error;
    }
    this.#subscription = subscription;
    this.#mode = 'assigned';
    this.#topics = [...byTopic.keys()];
    subscription.setDemand(true);
  }

  #held(): Subscription {
    if (!this.#subscription) throw illegalState('Consumer is not subscribed to any topics or assigned any partitions.');
    return this.#subscription;
  }

  /**
   * Records for one read: what is waiting, then what arrives, until there
   * are records (more than `fetchMinBytes` of keys and values when the
   * instance set it), `maxBytes` are reached, or `timeoutMs` has passed.
   * The first record is returned even when it alone is larger than
   * `maxBytes`, so a read always makes progress.
   */
  async read(timeoutMs: number, maxBytes: number): Promise<RecordAnswer> {
    const subscription = this.#held();
    const deadline = Date.now() + timeoutMs;
    const minBytes = this.settings.fetchMinBytes;
    const format = this.settings.format;
    const out = new RecordAnswer(format === 'json' || format === 'binary' ? format : 'decoded');
    let bytes = 0;
    // The last record taken of the partition being taken from: its offset is marked written (and returned) once per run, not per record.
    let runHandle: PartitionHandle | undefined;
    let runRecord: ConsumedRecord | undefined;
    const settle = () => {
      if (!runHandle || !runRecord) return;
      const { topic, partition, offset } = runRecord;
      runHandle.written(offset);
      this.#returned.set(partitionKey(topic, partition), { topic, partition, offset });
      runHandle = undefined;
      runRecord = undefined;
    };
    const fill = (): boolean => {
      for (let first = this.#buffer.front(); first !== undefined; first = this.#buffer.front()) {
        const { handle } = first;
        const record = first.records[first.next]!;
        if (!handle.held) {
          // A rebalance took the partition: its new owner reads these records.
          this.#buffer.shift();
          continue;
        }
        const size = (record.key?.length ?? 0) + (record.value?.length ?? 0);
        if (out.length > 0 && bytes + size > maxBytes) return true;
        try {
          this.#convert(record, out, first.json, first.next);
        } catch (error) {
          // The records before it are answered (and, with auto commit, committed): the next read reports this one.
          if (out.length > 0) return true;
          throw error;
        }
        this.#buffer.shift();
        bytes += size;
        if (runHandle !== handle) settle();
        runHandle = handle;
        runRecord = record;
        if (bytes >= maxBytes) return true;
      }
      // Without fetch.min.bytes any record will do, one with neither key nor value too.
      return out.length > 0 && (minBytes === undefined || bytes > minBytes);
    };
    const take = (): boolean => {
      try {
        return fill();
      } finally {
        settle();
      }
    };
    try {
      while (!take()) {
        if (this.#subscription !== subscription) break; // unsubscribed, closed or expired meanwhile
        if (this.#startFailure) {
          const failure = this.#startFailure;
          await this.#drop();
          throw failure;
        }
        const remaining = deadline - Date.now();
        if (remaining <= 0) break;
        // take() emptied the buffer: the partitions may ask again (a delivery past the bound stopped them).
        subscription.setDemand(true);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, remaining);
          this.#wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.#wake = undefined;
      }
    } finally {
      this.#wake = undefined;
      // The next batch is fetched while this answer is written and the client comes back, up to the buffer's bound.
      if (this.#subscription === subscription) subscription.setDemand(this.#mayFetchAhead());
    }
    return out;
  }

  /** Adds the record to the answer in the instance's format, or throws when it cannot be written in it (nothing added). */
  #convert(record: ConsumedRecord, out: RecordAnswer, json: Int32Array | undefined, index: number): void {
    const format = this.settings.format;
    if (format === 'binary') {
      out.addBinary(record);
      return;
    }
    if (format !== 'json') {
      this.#convertRegistry(record, format, out);
      return;
    }
    const notJson = json === undefined ? out.addJson(record) : out.addChecked(record, json, 4 * index);
    if (notJson !== undefined) {
      throw new GatewayError(
        'GW_ERR_INTERNAL',
        `The ${notJson} of the record at ${record.topic}/${record.partition} offset ${record.offset} is not JSON, and this instance's format is json: read it with a binary instance, or move past it with positions.`,
      );
    }
  }

  /**
   * An avro, jsonschema or protobuf read: the value decoded through the
   * schema its wire format names, as JSON in the registry clients'
   * conventions. A value without the wire format, of another schema type,
   * or that does not decode ends the read as a json read's bytes that are
   * not JSON do. A key without the wire format (keys are often plain
   * strings) goes as JSON when it parses, else as its text, else base64.
   */
  #convertRegistry(record: ConsumedRecord, format: RegistryFormat, out: RecordAnswer): void {
    const where = `the record at ${record.topic}/${record.partition} offset ${record.offset}`;
    const decode = (bytes: Buffer | null, field: 'key' | 'value'): unknown => {
      if (bytes === null) return null;
      const decoded = this.deps.wire?.decode(bytes, record.topic, field);
      if (!decoded) {
        if (field === 'key') return formats.json.fromKafka(bytes) ?? formats.text.fromKafka(bytes) ?? formats.binary.fromKafka(bytes);
        throw new GatewayError('GW_ERR_INTERNAL', `The value of ${where} is not in the schema registry wire format with a schema id the registry knows, and this instance's format is ${format}: read it with a binary instance, or move past it with positions.`);
      }
      const failure = 'failure' in decoded ? decoded.failure : decoded.schema.type !== REGISTRY_TYPES[format] ? `its schema ${decoded.schema.id} is ${decoded.schema.type}, not ${REGISTRY_TYPES[format]}` : undefined;
      if (failure !== undefined) {
        throw new GatewayError('GW_ERR_INTERNAL', `The ${field} of ${where} does not decode as ${format}: ${failure}. Read it with a binary instance, or move past it with positions.`);
      }
      return (decoded as { value: unknown }).value;
    };
    // Undefined does not occur: decode answers a value or throws. JSON.stringify of the decoded JSON is its text.
    const key = JSON.stringify(decode(record.key, 'key'));
    out.addText(record, key, JSON.stringify(decode(record.value, 'value')));
  }

  /** Commits offset + 1 for each given record, or, without any, what every read so far returned. */
  async commit(offsets: ReadonlyArray<{ topic: string; partition: number; offset: bigint }> | undefined): Promise<void> {
    if (!this.#subscription) {
      if (offsets?.length) throw illegalState('Consumer is not subscribed to any topics or assigned any partitions.');
      return;
    }
    const subscription = this.#subscription;
    const held = new Set(this.assignment.map((p) => partitionKey(p.topic, p.partition)));
    for (const { topic, partition } of offsets ?? []) {
      if (!held.has(partitionKey(topic, partition))) throw illegalState(`No current assignment for partition ${topic}-${partition}.`);
    }
    // What reads returned from partitions a rebalance has taken since is the new owner's to commit.
    for (const k of this.#returned.keys()) if (!held.has(k)) this.#returned.delete(k);
    for (const { topic, partition, offset } of offsets ?? this.#returned.values()) {
      try {
        await subscription.ack(topic, partition, String(offset));
      } catch (error) {
        // The engine's field errors point into a WebSocket ack frame; its detail already says the problem in full.
        if (error instanceof GatewayError && error.errors) throw new GatewayError(error.code, error.detail, { cause: error });
        throw error;
      }
    }
  }

  /** The group's committed offsets for these partitions: the next offset each will read, where there is one. */
  async committed(partitions: readonly PartitionRef[]): Promise<Array<{ topic: string; partition: number; offset: bigint }>> {
    const byTopic = new Map<string, number[]>();
    for (const { topic, partition } of partitions) byTopic.set(topic, [...(byTopic.get(topic) ?? []), partition]);
    const committed = await this.deps.engine.committedOffsets(this.group, [...byTopic].map(([topic, list]) => ({ topic, partitions: list })));
    return partitions.flatMap(({ topic, partition }) => {
      const offset = committed.get(partitionKey(topic, partition)) ?? -1n;
      return offset >= 0n ? [{ topic, partition, offset }] : [];
    });
  }

  /** The first offset at or after a time in a partition this instance holds, or the partition's end. */
  async offsetAt(topic: string, partition: number, timestampMs: number): Promise<bigint> {
    this.#held();
    if (!this.assignment.some((p) => p.topic === topic && p.partition === partition)) throw illegalState(`No current assignment for partition ${topic}-${partition}.`);
    return this.deps.engine.offsetAt(topic, partition, timestampMs);
  }

  /** Moves positions; records of those partitions waiting in the instance are dropped. */
  async seek(moves: ReadonlyArray<PartitionRef & { to: bigint | 'beginning' | 'end' }>): Promise<void> {
    const subscription = this.#held();
    for (const { topic, partition } of moves) {
      if (!this.assignment.some((p) => p.topic === topic && p.partition === partition)) {
        throw illegalState(`No current assignment for partition ${topic}-${partition}.`);
      }
    }
    for (const { topic, partition, to } of moves) {
      await subscription.seek(topic, partition, to);
      this.#buffer.filter((record) => record.topic !== topic || record.partition !== partition);
      if (this.#subscription === subscription) subscription.setDemand(this.#mayFetchAhead());
    }
  }

  /** Commits what auto commit owes, leaves the group, releases everything. Never rejects. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#drop().catch((error: unknown) => this.deps.logger.warn({ err: error, group: this.group, instance: this.name }, 'closing a consumer instance failed'));
  }
}

/** Every consumer instance of this process, by group and name; expires the idle ones. */
export class ConsumerInstances {
  readonly #instances = new Map<string, ConsumerInstance>();
  readonly #prefetched: PrefetchedBytes = { bytes: 0 };
  readonly #sweeper: NodeJS.Timeout;

  constructor(private readonly deps: ConsumerInstancesDeps) {
    const every = Math.max(100, Math.min(5000, Math.floor(deps.config.instanceTimeoutMs / 4)));
    this.#sweeper = setInterval(() => void this.#expire(), every);
    this.#sweeper.unref();
  }

  create(group: string, owner: string, settings: InstanceSettings): ConsumerInstance {
    const name = settings.name ?? `rest-consumer-${randomUUID()}`;
    if (!isValidGroupName(name)) {
      throw new GatewayError('GW_ERR_INVALID_CONSUMER_CONFIG', `Invalid consumer configuration: name must be ${GROUP_NAME_RULE}.`);
    }
    const id = `${group}\u0000${name}`;
    if (this.#instances.has(id)) throw new GatewayError('GW_ERR_CONSUMER_EXISTS', 'Consumer with specified consumer ID already exists in the specified consumer group.');
    if (this.#instances.size >= this.deps.config.maxInstances) {
      throw new GatewayError('GW_ERR_TOO_MANY_REQUESTS', `This gateway holds its maximum of ${this.deps.config.maxInstances} consumer instances (CONSUMER_MAX_INSTANCES); delete unused ones, or create the instance on another gateway.`, {
        retryAfterSeconds: Math.ceil(this.deps.config.instanceTimeoutMs / 1000),
      });
    }
    const instance = new ConsumerInstance(group, name, owner, settings, this.deps, this.#prefetched);
    this.#instances.set(id, instance);
    return instance;
  }

  /** The instance, for its owner; any other caller, and any other process, finds none (Confluent's 40403). */
  get(group: string, name: string, owner: string): ConsumerInstance {
    const instance = this.#instances.get(`${group}\u0000${name}`);
    if (!instance || instance.closed || instance.owner !== owner) throw new GatewayError('GW_ERR_CONSUMER_NOT_FOUND', 'Consumer instance not found.');
    instance.lastUsed = Date.now();
    return instance;
  }

  /** Instances held, and the record bytes they hold between reads, for /metrics. */
  stats(): { instances: number; bufferedBytes: number } {
    return { instances: this.#instances.size, bufferedBytes: this.#prefetched.bytes };
  }

  async delete(group: string, name: string, owner: string): Promise<void> {
    const instance = this.get(group, name, owner);
    this.#instances.delete(`${group}\u0000${name}`);
    await instance.run(() => instance.close()).catch(() => instance.close());
  }

  async #expire(): Promise<void> {
    const now = Date.now();
    for (const [id, instance] of this.#instances) {
      if (instance.busy || now - instance.lastUsed < this.deps.config.instanceTimeoutMs) continue;
      this.#instances.delete(id);
      this.deps.logger.info({ group: instance.group, instance: instance.name }, 'consumer instance expired; it leaves its group');
      // A read still running keeps it busy: it closes after that read.
      void instance.run(() => instance.close()).catch(() => instance.close());
    }
  }

  async close(): Promise<void> {
    clearInterval(this.#sweeper);
    const all = [...this.#instances.values()];
    this.#instances.clear();
    await Promise.allSettled(all.map((instance) => instance.close()));
  }
}
