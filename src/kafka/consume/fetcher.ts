/**
 * The fetch machinery under every partition stream: one fetch loop per
 * broker, each sending one Fetch request at a time for every partition led
 * by that broker that has readers waiting, over a connection pool of its
 * own (one connection per broker, whatever the number of subscriptions),
 * and beside it, while that request waits at the broker for new records,
 * one more at a time for readers behind the end of the log, over a second
 * connection per broker.
 * It survives the broker: failures are retried with backoff, leaders are
 * looked up again, and only a partition that cannot exist any more (its
 * topic deleted) or may not be read ends its readers.
 */
import { ConnectionPool, Consumer, UserError, type BaseOptions } from '@platformatic/kafka';
import { GatewayError, partitionKey, type Logger } from '../../common/index.js';
import { decodeBatches } from './consumed-record.js';
import { describeKafkaError, guardConnections, isTransient, kafkaErrorCodes } from '../client/index.js';
import { listOffsets, type TopicStructure } from '../metadata/index.js';
import type { FetchQueue, PartitionStream } from './partition-stream.js';

type FetchResponse = Awaited<ReturnType<Consumer['fetch']>>;
type FetchRequestTopic = Parameters<Consumer['fetch']>[0]['topics'][number];

export interface FetchTuning {
  /** Longest the broker holds a fetch when no partition in it has anything new. */
  readonly maxWaitMs: number;
  /** Upper bound of what one partition brings in one fetch. */
  readonly partitionMaxBytes: number;
}

const READ_COMMITTED = 1;
const BACKOFF_MS = [100, 250, 500, 1000, 2000, 5000];
/** Errors after which the partition's leader is looked up again. */
const STALE_LEADER = new Set(['NOT_LEADER_OR_FOLLOWER', 'LEADER_NOT_AVAILABLE', 'FENCED_LEADER_EPOCH', 'UNKNOWN_LEADER_EPOCH', 'REPLICA_NOT_AVAILABLE', 'KAFKA_STORAGE_ERROR', 'OFFSET_NOT_AVAILABLE']);
const UNKNOWN_TOPIC = new Set(['UNKNOWN_TOPIC_OR_PARTITION', 'UNKNOWN_TOPIC_ID', 'INCONSISTENT_TOPIC_ID']);

interface PartitionInTopic {
  readonly id: string;
  readonly leader: number;
}

/**
 * Where the fetcher learns topic structure: the gateway's TopicCache, the
 * same one every other reader uses (so a deletion or a partition increase
 * made through the gateway clears it for the fetcher too).
 */
export interface TopicStructureSource {
  /** The topic as described at most `maxAgeMs` ago (0: asked now), undefined when it does not exist. */
  structure(topic: string, options?: { maxAgeMs?: number }): Promise<TopicStructure | undefined>;
}

/**
 * How old the leaders the fetcher routes by may be, whatever the cache's
 * TTL. Leaders are the one part of structure that moves on its own (a
 * broker stops, a preferred leader is elected again): a loop keeps fetching
 * from a broker that has stopped answering until it is told otherwise, so it
 * looks again at least this often. After a refusal that says what it holds
 * is out of date (NOT_LEADER_OR_FOLLOWER, an unknown topic id) it asks the
 * broker at once rather than waiting for this.
 */
const LEADER_MAX_AGE_MS = 5000;

/**
 * Which connection and wait a fetch uses: `tail` rounds may wait at the
 * broker for new records (maxWaitMs); `catchUp` rounds, for readers whose
 * records the log already holds, answer at once on a connection of their
 * own. A broker answers one request per connection at a time, so a reader
 * behind the end (a partition page, a subscription from an earlier offset)
 * arriving while a tail round waits would otherwise wait out that round
 * first: up to maxWaitMs per page.
 */
type Lane = 'tail' | 'catchUp';

class BrokerLoop {
  readonly #needs = new Set<PartitionStream>();
  /** Streams the catch-up lane serves, until their records run out or reach the end of the log. */
  readonly #catchUp = new Set<PartitionStream>();
  /** The tail round in flight, and whether every partition in it waits at the end of its log. */
  readonly #inFlight = new Set<PartitionStream>();
  #waitingAtEnd = false;
  #running = false;
  #catchingUp = false;
  #failures = 0;

  constructor(
    readonly node: number,
    private readonly fetcher: Fetcher,
  ) {}

  get idle(): boolean {
    return !this.#running && !this.#catchingUp && this.#needs.size === 0 && this.#catchUp.size === 0;
  }

  add(stream: PartitionStream): void {
    if (this.#catchUp.has(stream)) return;
    if (this.#running && this.#waitingAtEnd && !this.#inFlight.has(stream) && behindEnd(stream)) {
      this.#needs.delete(stream);
      this.#catchUp.add(stream);
      if (!this.#catchingUp) void this.#runCatchUp();
      return;
    }
    this.#toTail(stream);
  }

  remove(stream: PartitionStream): void {
    this.#needs.delete(stream);
    this.#catchUp.delete(stream);
  }

  #toTail(stream: PartitionStream): void {
    this.#needs.add(stream);
    if (!this.#running) void this.#run();
  }

  async #run(): Promise<void> {
    this.#running = true;
    try {
      while (this.#needs.size > 0 && !this.fetcher.closed) {
        const round: Array<{ stream: PartitionStream; from: bigint }> = [];
        for (const stream of this.#needs) {
          const from = stream.nextFetchOffset();
          if (from === undefined) this.#needs.delete(stream);
          else round.push({ stream, from });
        }
        if (round.length === 0) break;
        for (const { stream } of round) this.#inFlight.add(stream);
        this.#waitingAtEnd = round.every(({ stream, from }) => stream.highWatermark >= 0n && from >= stream.highWatermark);
        let ok: boolean;
        try {
          ok = await this.fetcher.fetchRound(this.node, round, (stream) => this.#needs.delete(stream), 'tail');
        } catch (error) {
          // A bug here must not stop every partition of this broker for good: its readers already wait, and
          // nothing else would ask again. Logged, and the round goes again after the backoff.
          this.fetcher.logger.error({ err: error, node: this.node }, 'fetch round failed');
          ok = false;
        } finally {
          this.#inFlight.clear();
          this.#waitingAtEnd = false;
        }
        if (ok) this.#failures = 0;
        else {
          const delay = BACKOFF_MS[Math.min(this.#failures, BACKOFF_MS.length - 1)]!;
          this.#failures += 1;
          await this.fetcher.sleep(delay);
        }
      }
    } finally {
      this.#running = false;
    }
  }

  /** Rounds for readers behind the end while a tail round waits; what reaches the end, or fails, goes back to the tail rounds. */
  async #runCatchUp(): Promise<void> {
    this.#catchingUp = true;
    try {
      while (this.#catchUp.size > 0 && !this.fetcher.closed) {
        const round: Array<{ stream: PartitionStream; from: bigint }> = [];
        for (const stream of this.#catchUp) {
          const from = stream.nextFetchOffset();
          if (from === undefined) this.#catchUp.delete(stream);
          else if (!behindEnd(stream)) {
            this.#catchUp.delete(stream);
            this.#toTail(stream);
          } else round.push({ stream, from });
        }
        if (round.length === 0) break;
        let ok: boolean;
        try {
          ok = await this.fetcher.fetchRound(this.node, round, (stream) => this.#catchUp.delete(stream), 'catchUp');
        } catch (error) {
          this.fetcher.logger.error({ err: error, node: this.node }, 'fetch round failed');
          ok = false;
        }
        if (!ok) {
          // Backoff and retries are the tail rounds' business.
          for (const stream of this.#catchUp) this.#toTail(stream);
          this.#catchUp.clear();
        }
      }
    } finally {
      this.#catchingUp = false;
    }
  }
}

/** Whether the next fetch of `stream` is for records the log already holds (or may: its end is not known yet). */
function behindEnd(stream: PartitionStream): boolean {
  const from = stream.nextFetchOffset();
  return from !== undefined && (stream.highWatermark < 0n || from < stream.highWatermark);
}

export class Fetcher implements FetchQueue {
  readonly #client: Consumer;
  readonly #pool: ConnectionPool;
  readonly #catchUpPool: ConnectionPool;
  readonly #loops = new Map<number, BrokerLoop>();
  /** Which loop each stream waits in, so a leader change can move it. */
  readonly #routes = new Map<PartitionStream, number>();
  readonly #topics: TopicStructureSource;
  readonly #timers = new Set<NodeJS.Timeout>();
  #closed = false;

  constructor(
    options: BaseOptions,
    topics: TopicStructureSource,
    private readonly tuning: FetchTuning,
    readonly logger: Logger,
  ) {
    // Retries are this loop's business: it knows which failures to wait out and which end a reader.
    this.#client = new Consumer({ ...options, groupId: `${options.clientId}-fetcher`, retries: 0, isolationLevel: READ_COMMITTED });
    guardConnections(this.#client);
    // Fetches wait at the broker; metadata and offset lookups must not queue behind them on one connection.
    this.#pool = new ConnectionPool(`${options.clientId}-fetch`, options);
    this.#pool.on('connect', ({ connection }) => connection.on('error', () => undefined));
    this.#catchUpPool = new ConnectionPool(`${options.clientId}-catch-up`, options);
    this.#catchUpPool.on('connect', ({ connection }) => connection.on('error', () => undefined));
    this.#topics = topics;
  }

  get client(): Consumer {
    return this.#client;
  }

  get closed(): boolean {
    return this.#closed;
  }

  need(stream: PartitionStream): void {
    if (this.#closed) return;
    const routed = this.#routes.get(stream);
    if (routed !== undefined) {
      this.#loopFor(routed).add(stream);
      return;
    }
    void this.#route(stream, false);
  }

  /** The stream has no readers left: it leaves its loop. */
  forget(stream: PartitionStream): void {
    const node = this.#routes.get(stream);
    if (node !== undefined) this.#loops.get(node)?.remove(stream);
    this.#routes.delete(stream);
  }

  async #route(stream: PartitionStream, refresh: boolean): Promise<void> {
    // A retry for a stream its readers have left since would hold it for good.
    if (stream.readerCount === 0) return;
    try {
      const found = await this.#partition(stream.topic, stream.partition, refresh);
      if (this.#closed || stream.readerCount === 0) return;
      if (!found) {
        stream.fail(new GatewayError('GW_ERR_TOPIC_NOT_FOUND', `Topic ${JSON.stringify(stream.topic)} (partition ${stream.partition}) no longer exists.`));
        this.forget(stream);
        return;
      }
      if (found.leader < 0) throw new Error(`no leader for ${stream.topic}/${stream.partition} yet`);
      const previous = this.#routes.get(stream);
      if (previous !== undefined && previous !== found.leader) this.#loops.get(previous)?.remove(stream);
      this.#routes.set(stream, found.leader);
      this.#loopFor(found.leader).add(stream);
    } catch (error) {
      if (this.#closed) return;
      this.logger.debug({ err: error, topic: stream.topic, partition: stream.partition }, 'partition leader not known yet; retrying');
      this.#after(500, () => this.#route(stream, true));
    }
  }

  /**
   * The partition's topic id and leader, undefined when the topic or the
   * partition does not exist; `refresh` asks the broker now (after an error
   * that says the cached leader or id is out of date).
   */
  async #partition(topic: string, partition: number, refresh: boolean): Promise<PartitionInTopic | undefined> {
    const found = await this.#topics.structure(topic, { maxAgeMs: refresh ? 0 : LEADER_MAX_AGE_MS });
    const info = found?.partitions[partition];
    return found && info ? { id: found.id, leader: info.leader } : undefined;
  }

  #loopFor(node: number): BrokerLoop {
    let loop = this.#loops.get(node);
    if (!loop) {
      loop = new BrokerLoop(node, this);
      this.#loops.set(node, loop);
    }
    return loop;
  }

  /**
   * One Fetch request to `node` for `round`. Resolves true when the broker
   * answered (partition errors included, handled here), false when the
   * request itself failed and the loop should back off.
   */
  async fetchRound(node: number, round: ReadonlyArray<{ stream: PartitionStream; from: bigint }>, leave: (stream: PartitionStream) => void, lane: Lane = 'tail'): Promise<boolean> {
    const byTopic = new Map<string, FetchRequestTopic>();
    const entries = new Map<string, { stream: PartitionStream; from: bigint }>();
    for (const entry of round) {
      const found = await this.#partition(entry.stream.topic, entry.stream.partition, false).catch(() => undefined);
      if (!found || found.leader !== node) {
        // Moved or gone: it is routed again rather than fetched from the wrong broker.
        leave(entry.stream);
        this.#routes.delete(entry.stream);
        void this.#route(entry.stream, true);
        continue;
      }
      let topic = byTopic.get(found.id);
      if (!topic) {
        topic = { topicId: found.id, partitions: [] };
        byTopic.set(found.id, topic);
      }
      topic.partitions.push({
        partition: entry.stream.partition,
        fetchOffset: entry.from,
        partitionMaxBytes: this.tuning.partitionMaxBytes,
        currentLeaderEpoch: -1,
        lastFetchedEpoch: -1,
      });
      entries.set(partitionKey(found.id, entry.stream.partition), entry);
    }
    if (entries.size === 0) return true;
    if (!(await this.#knowsBroker(node))) {
      // A broker that was down when the client last asked (or restarted since) is not in its list:
      // the client would refuse to fetch from it. The partitions are routed again once it is.
      this.logger.debug({ node }, 'the leader is not in the client\'s broker list yet; looking it up again');
      for (const { stream } of entries.values()) {
        leave(stream);
        this.#routes.delete(stream);
        this.#after(200, () => this.#route(stream, true));
      }
      return false;
    }
    let response: FetchResponse;
    try {
      response = await this.#client.fetch({
        node,
        topics: [...byTopic.values()],
        maxWaitTime: lane === 'tail' ? this.tuning.maxWaitMs : 0,
        minBytes: 1,
        maxBytes: Math.max(this.tuning.partitionMaxBytes, Math.min(entries.size * this.tuning.partitionMaxBytes, 64 * 1024 * 1024)),
        isolationLevel: READ_COMMITTED,
        connectionPool: lane === 'tail' ? this.#pool : this.#catchUpPool,
      });
    } catch (error) {
      // Partition errors come with the rest of the answer; only a failed request has none.
      const partial = (error as { response?: FetchResponse }).response;
      if (!partial?.responses) {
        if (this.#closed) return true;
        if (error instanceof UserError) {
          // The client refused the request itself (a broker it does not know, a topic id it has not seen):
          // a stale view of the cluster, not records that cannot be read.
          this.logger.debug({ err: error, node }, 'fetch refused by the client; routing again');
          this.#client.clearMetadata();
          for (const { stream } of entries.values()) {
            leave(stream);
            this.#routes.delete(stream);
            this.#after(200, () => this.#route(stream, true));
          }
          return false;
        }
        if (!isTransient(error)) return this.#undecodable(node, [...entries.values()], error, leave, lane);
        this.logger.debug({ err: error, node }, 'fetch failed; retrying');
        this.#client.clearMetadata();
        return false;
      }
      response = partial;
    }
    let healthy = true;
    for (const topic of response.responses) {
      for (const partition of topic.partitions) {
        const entry = entries.get(partitionKey(topic.topicId, partition.partitionIndex));
        if (!entry) continue;
        const { stream, from } = entry;
        if (partition.errorCode === 0) {
          let run: ReturnType<typeof decodeBatches>;
          try {
            run = decodeBatches(stream.topic, stream.partition, partition.records ?? [], from);
          } catch (error) {
            // One partition's records that cannot be read end its readers, not the others of this answer.
            await this.#undecodable(node, [entry], error, leave, lane);
            continue;
          }
          stream.fetched(from, run, partition.highWatermark);
          continue;
        }
        healthy = this.#partitionFailed(stream, from, partition.errorCode, leave) && healthy;
      }
    }
    return healthy;
  }

  /**
   * Whether the client's broker list has `node`, asking the cluster again
   * when it does not: the client keeps the list it saw last, and a consumer
   * that tracks no topics never refreshes it on its own, so a broker that
   * returns after the client last asked would stay unknown for good.
   */
  async #knowsBroker(node: number): Promise<boolean> {
    try {
      const cached = await this.#client.metadata({ topics: [] });
      if (cached.brokers.has(node)) return true;
      this.#client.clearMetadata();
      const fresh = await this.#client.metadata({ topics: [], forceUpdate: true });
      return fresh.brokers.has(node);
    } catch (error) {
      this.logger.debug({ err: error, node }, 'could not look up the brokers');
      return false;
    }
  }

  /**
   * The answer could not be read (a codec this client cannot decode, a
   * corrupt batch). The whole answer is lost with it, so each partition is
   * fetched on its own to find the one at fault; only its readers end, and
   * the others go on.
   */
  async #undecodable(node: number, round: ReadonlyArray<{ stream: PartitionStream; from: bigint }>, error: unknown, leave: (stream: PartitionStream) => void, lane: Lane): Promise<boolean> {
    if (round.length > 1) {
      for (const entry of round) await this.fetchRound(node, [entry], leave, lane);
      return true;
    }
    const [{ stream, from }] = round as [{ stream: PartitionStream; from: bigint }];
    this.logger.error({ err: error, topic: stream.topic, partition: stream.partition, offset: String(from) }, 'records could not be decoded; the subscriptions reading them end');
    stream.fail(
      new GatewayError('GW_ERR_INTERNAL', `The records of ${stream.topic}/${stream.partition} at offset ${from} could not be decoded (${(error as Error).message}); the failure is logged.`, {
        cause: error,
      }),
    );
    leave(stream);
    this.forget(stream);
    return true;
  }

  /** Handles one partition's error in a fetch answer; false when the loop should back off. */
  #partitionFailed(stream: PartitionStream, from: bigint, errorCode: number, leave: (stream: PartitionStream) => void): boolean {
    const name = kafkaErrorCodes.get(errorCode) ?? String(errorCode);
    if (name === 'OFFSET_OUT_OF_RANGE') {
      // Out of the loop until the log's range is known: fetched again meanwhile it would only be refused again.
      leave(stream);
      void this.#resetOutOfRange(stream, from);
      return true;
    }
    if (name === 'TOPIC_AUTHORIZATION_FAILED') {
      stream.fail(new GatewayError('GW_ERR_FORBIDDEN', `The broker refused the gateway access to topic ${JSON.stringify(stream.topic)}.`));
      leave(stream);
      this.forget(stream);
      return true;
    }
    if (STALE_LEADER.has(name) || UNKNOWN_TOPIC.has(name)) {
      // A deleted topic shows as unknown; the metadata looked up again tells a move from a deletion.
      leave(stream);
      this.#routes.delete(stream);
      this.#client.clearMetadata();
      this.#after(200, () => this.#route(stream, true));
      return true;
    }
    this.logger.warn({ topic: stream.topic, partition: stream.partition, error: describeKafkaError(errorCode) }, 'fetch refused for a partition; retrying');
    return false;
  }

  async #resetOutOfRange(stream: PartitionStream, from: bigint): Promise<void> {
    if (this.#closed || stream.readerCount === 0) return;
    try {
      const [start, end] = await Promise.all([this.logOffset(stream.topic, stream.partition, -2n), this.logOffset(stream.topic, stream.partition, -1n)]);
      this.logger.info({ topic: stream.topic, partition: stream.partition, offset: String(from), logStart: String(start), logEnd: String(end) }, 'offset outside the log; readers move to the nearest one');
      stream.outOfRange(from, start, end);
      // Readers elsewhere in this partition waited meanwhile.
      this.need(stream);
    } catch (error) {
      this.logger.debug({ err: error }, 'could not look up the log range; retrying');
      this.#after(500, () => this.#resetOutOfRange(stream, from));
    }
  }

  /** The log's start (-2n) or end (-1n) offset, or the first offset at or after a timestamp (-1n when there is none). */
  async logOffset(topic: string, partition: number, timestamp: bigint): Promise<bigint> {
    const offsets = await listOffsets(this.#client, topic, [partition], timestamp);
    const offset = offsets.get(partition);
    if (offset === undefined) throw new Error(`no offset for ${topic}/${partition}`);
    return offset;
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.#after(ms, resolve));
  }

  #after(ms: number, run: () => unknown): void {
    if (this.#closed) return;
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      if (!this.#closed) void run();
    }, ms);
    this.#timers.add(timer);
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    await Promise.allSettled([this.#client.close(true), this.#pool.close(), this.#catchUpPool.close()]);
  }
}
