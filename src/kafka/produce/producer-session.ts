/**
 * Idempotent produce requests on @platformatic/kafka's protocol layer: one
 * producer id, a sequence number per partition, one Produce request per
 * partition leader, over a connection pool of its own.
 *
 * The client's Producer would do the sending too, but it answers only the
 * base offset of each partition: not the broker's append time on
 * LogAppendTime topics, and not which records the broker refused inside a
 * partition's batch (its per-record errors). The gateway needs both to
 * answer each caller of a shared batch truthfully, so it speaks the Produce
 * API itself, with the versions the client negotiated.
 *
 * A session never retries on its own. Sequence numbers advance only for a
 * partition the broker acknowledged; after any failure whose outcome is
 * unclear the owner starts a new session (a new producer id), so a batch
 * the broker may have written is never sent again under the same sequence
 * and dropped as a duplicate while being acknowledged.
 */
import {
  ConnectionPool,
  kGetApi,
  kGetBootstrapConnection,
  produceV3,
  produceV4,
  produceV5,
  produceV6,
  produceV7,
  produceV8,
  produceV9,
  produceV10,
  produceV11,
  type Admin,
  type BaseOptions,
  type Connection,
  type ResponseParser,
} from '@platformatic/kafka';
import { isTransient, kafkaErrorCodes } from '../client/index.js';
import { FIRST_VERSION, LAST_VERSION, prepareProduceRequest } from './produce-request.js';

export type ProduceCompression = 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';

/** One record ready for the wire: its partition chosen, its timestamp set. */
export interface WireRecord {
  readonly topic: string;
  readonly partition: number;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers?: ReadonlyMap<string, string>;
  readonly timestamp: bigint;
}

/** What the broker answered for one partition of a request. */
export interface PartitionResult {
  readonly topic: string;
  readonly partition: number;
  /** Kafka's error name; undefined when the partition's records were written. */
  readonly error?: string;
  readonly errorMessage?: string | null;
  /** Indexes (within this partition's records, in the order given) the broker refused; the others were refused with them. */
  readonly refusedRecords: readonly number[];
  readonly baseOffset: bigint;
  /** The broker's append time on LogAppendTime topics; -1n on CreateTime topics. */
  readonly logAppendTime: bigint;
}

interface ProducePartitionResponse {
  index: number;
  errorCode: number;
  baseOffset: bigint;
  logAppendTimeMs: bigint;
  recordErrors: Array<{ batchIndex: number }>;
  errorMessage: string | null;
}

interface ProduceResponse {
  responses: Array<{ name: string; partitionResponses: ProducePartitionResponse[] }>;
}

type ProduceCallback = (error: Error | null, response?: ProduceResponse) => void;
type ProduceApi = ((connection: Connection, acks: number, timeout: number, records: unknown[], options: Record<string, unknown>, callback: ProduceCallback) => void) & {
  readonly key: number;
  readonly version: number;
};

/** The client's parser of each Produce version's answer, for requests written by encodeProduceRequest. */
const PRODUCE_PARSERS: ReadonlyMap<number, ResponseParser<unknown>> = new Map<number, ResponseParser<unknown>>([
  [3, produceV3.parseResponse],
  [4, produceV4.parseResponse],
  [5, produceV5.parseResponse],
  [6, produceV6.parseResponse],
  [7, produceV7.parseResponse],
  [8, produceV8.parseResponse],
  [9, produceV9.parseResponse],
  [10, produceV10.parseResponse],
  [11, produceV11.parseResponse],
]);
type InitProducerIdApi = (
  connection: Connection,
  transactionalId: null,
  transactionTimeoutMs: number,
  producerId: bigint,
  producerEpoch: number,
  callback: (error: Error | null, response?: { producerId: bigint; producerEpoch: number }) => void,
) => void;

const ACKS_ALL = -1;
/** Requests larger than this (the shared batches stay under 512 KiB of records) get a buffer of their own. */
const MAX_SCRATCH_BYTES = 4 * 1024 * 1024;
/** Tries for a producer id while the transaction coordinator loads (it does, for a moment, on a fresh cluster). */
const INIT_ATTEMPTS = 20;

/** The sequence numbers of a producer id, in the shape the record batch writer reads them. */
class Sequences extends Map<string, number> {
  getWithDefault(key: string, fallback: number): number {
    return this.get(key) ?? fallback;
  }
}

function api<T>(client: Admin, name: string): Promise<T> {
  return new Promise((resolve, reject) => {
    client[kGetApi](name, (error: Error | null, found?: unknown) => (error ? reject(error) : resolve(found as T)));
  });
}

export class ProducerSession {
  readonly #pool: ConnectionPool;
  #producer?: Promise<{ producerId: bigint; producerEpoch: number }>;
  readonly #sequences = new Sequences();

  /** `client` gives metadata and the negotiated API versions; the session sends on a pool of its own. */
  constructor(
    private readonly client: Admin,
    options: BaseOptions,
    private readonly requestTimeoutMs: number,
  ) {
    this.#pool = new ConnectionPool(`${options.clientId}-produce`, options);
    this.#pool.on('connect', ({ connection }) => connection.on('error', () => undefined));
  }

  /**
   * Where a request's body is written: one buffer for every request, as the
   * client's connection copies the body, behind the request header it
   * writes, into the buffer it sends, as soon as it takes the body and
   * before any other code runs (Connection.send in @platformatic/kafka
   * 2.12.1, the version pinned in package.json: the body is taken and
   * copied in one synchronous step). A buffer per request, of the size of
   * the records, was garbage outside the JS heap that made V8 run full
   * collections for external memory pressure, several a second under load.
   * Were the client ever to send the body without copying it, a later
   * request's complete batch, with a valid CRC of its own, could leave in
   * an earlier request's place and be acknowledged as it: an upgrade of
   * the client must pass test/kafka/produce/produce-request.test.ts, which
   * writes over the buffer as soon as each send returns.
   */
  #scratch = Buffer.allocUnsafe(0);

  #scratchFor(bytes: number): Buffer | undefined {
    if (bytes > MAX_SCRATCH_BYTES) return undefined;
    if (this.#scratch.length < bytes) this.#scratch = Buffer.allocUnsafe(Math.min(MAX_SCRATCH_BYTES, Math.max(64 * 1024, 2 ** Math.ceil(Math.log2(bytes)))));
    return this.#scratch;
  }

  /** Asks any broker for a producer id (once per session), waiting out a transaction coordinator that is still loading. */
  #producerId(): Promise<{ producerId: bigint; producerEpoch: number }> {
    this.#producer ??= (async () => {
      const initProducerId = await api<InitProducerIdApi>(this.client, 'InitProducerId');
      for (let attempt = 1; ; attempt++) {
        try {
          const connection = await new Promise<Connection>((resolve, reject) =>
            this.client[kGetBootstrapConnection]((error: Error | null, found?: Connection) => (error ? reject(error) : resolve(found!))),
          );
          return await new Promise<{ producerId: bigint; producerEpoch: number }>((resolve, reject) =>
            initProducerId(connection, null, this.requestTimeoutMs, -1n, -1, (error, response) => (error ? reject(error) : resolve(response!))),
          );
        } catch (error) {
          if (attempt >= INIT_ATTEMPTS || !isTransient(error)) throw error;
          await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
        }
      }
    })();
    // A failed attempt is asked again on the next send.
    this.#producer.catch(() => (this.#producer = undefined));
    return this.#producer;
  }

  /**
   * Sends the records, one request per partition leader, and answers for
   * every partition. Rejects when a request failed without an answer
   * (connection lost, timeout): then whether its records were written is
   * unknown, and the session must not be used again.
   */
  async send(records: readonly WireRecord[], compression: ProduceCompression): Promise<PartitionResult[]> {
    // Failures before any request leaves say so: nothing was written, and the records may go again as they are.
    const before = <T>(work: Promise<T>) => work.catch((error: unknown) => Promise.reject(Object.assign(error instanceof Error ? error : new Error(String(error)), { notSent: true })));
    const { producerId, producerEpoch } = await before(this.#producerId());
    const topics = [...new Set(records.map((r) => r.topic))];
    const metadata = await before(this.client.metadata({ topics }));
    const byLeader = new Map<number, WireRecord[]>();
    // Records of partitions without a leader (one being created or moved) are not sent; they go again once it has one.
    const leaderless: WireRecord[] = [];
    for (const record of records) {
      const leader = metadata.topics.get(record.topic)?.partitions[record.partition]?.leader;
      if (leader === undefined || leader < 0) {
        leaderless.push(record);
        continue;
      }
      let list = byLeader.get(leader);
      if (!list) byLeader.set(leader, (list = []));
      list.push(record);
    }
    const produce = await before(api<ProduceApi>(this.client, 'Produce'));
    const settled = await Promise.allSettled(
      [...byLeader].map(async ([leader, list]) => {
        const broker = metadata.brokers.get(leader);
        if (!broker) throw Object.assign(new Error(`broker ${leader} is not in the metadata`), { notSent: true, list });
        // A leader that cannot be reached (it died, it is restarting) was sent nothing: its records may go again
        // as they are, while those of the leaders that answered are settled.
        const connection = await this.#pool.get(broker).catch((error: unknown) => Promise.reject(Object.assign(error instanceof Error ? error : new Error(String(error)), { notSent: true, list })));
        const response = await new Promise<ProduceResponse>((resolve, reject) => {
          const answered: ProduceCallback = (error, answer) => {
            // A refusal of some partitions comes as an error that carries the whole answer.
            const partial = (error as { response?: ProduceResponse } | null)?.response;
            if (answer) resolve(answer);
            else if (partial?.responses) resolve(partial);
            else reject(error);
          };
          const { key: apiKey, version } = produce;
          const parser = PRODUCE_PARSERS.get(version);
          if (compression === 'none' && parser && version >= FIRST_VERSION && version <= LAST_VERSION) {
            // Uncompressed records are written into one buffer (src/kafka/produce/produce-request.ts), sized before the
            // send, so that a failure to size them is known to have sent nothing.
            let prepared: ReturnType<typeof prepareProduceRequest>;
            try {
              prepared = prepareProduceRequest(version, list, {
                acks: ACKS_ALL,
                timeoutMs: this.requestTimeoutMs,
                producerId,
                producerEpoch,
                firstSequence: (topic, partition) => this.#sequences.getWithDefault(`${topic}:${partition}`, 0),
              });
            } catch (error) {
              reject(Object.assign(error instanceof Error ? error : new Error(String(error)), { notSent: true, list }));
              return;
            }
            const flexible = version >= 9;
            connection.send(apiKey, version, () => prepared.write(this.#scratchFor(prepared.bytes)), parser, flexible, flexible, answered as (error: Error | null, response?: unknown) => void);
            return;
          }
          const wire = list.map(({ topic, partition, key, value, headers, timestamp }) => ({
            topic,
            partition,
            key: key ?? undefined,
            value,
            timestamp,
            headers: headers && new Map([...headers].map(([name, text]) => [Buffer.from(name), Buffer.from(text)])),
          }));
          produce(connection, ACKS_ALL, this.requestTimeoutMs, wire, { compression, producerId, producerEpoch, sequences: this.#sequences }, answered);
        });
        return { list, response };
      }),
    );
    const failures = settled.flatMap((outcome) => (outcome.status === 'rejected' ? [outcome.reason as Error & { notSent?: boolean; list?: WireRecord[] }] : []));
    // A leader that did not answer (it died, it moved) or is not known is looked up again before the next
    // request, rather than tried again from a cache that may name it for the client's whole metadata age.
    if (failures.length > 0 || leaderless.length > 0) this.client.clearMetadata();
    // A request that went out without an answer leaves its records' fate unknown: the whole send fails, and the owner renews the session.
    const unknown = failures.find((failure) => !failure.notSent);
    if (unknown) throw unknown;
    const answers = settled.flatMap((outcome) => (outcome.status === 'fulfilled' ? [outcome.value] : []));
    const notSent = [
      ...(leaderless.length > 0 ? [{ records: leaderless, reason: 'no leader yet' }] : []),
      ...failures.map((failure) => ({ records: failure.list ?? [], reason: failure.message })),
    ];
    if (answers.length === 0) {
      throw Object.assign(new Error(`nothing was sent: ${notSent.map((n) => n.reason).join('; ')}`), { notSent: true, cause: failures[0] });
    }
    const results: PartitionResult[] = [];
    // Partitions that were sent nothing: retriable, under the same sequence numbers.
    for (const { records: unsent, reason } of notSent) {
      const partitions = new Map(unsent.map((r) => [`${r.topic}:${r.partition}`, r]));
      for (const { topic, partition } of partitions.values()) {
        results.push({ topic, partition, error: 'LEADER_NOT_AVAILABLE', errorMessage: reason, refusedRecords: [], baseOffset: -1n, logAppendTime: -1n });
      }
    }
    for (const { list, response } of answers) {
      for (const { name, partitionResponses } of response.responses) {
        for (const p of partitionResponses) {
          const count = list.filter((r) => r.topic === name && r.partition === p.index).length;
          if (p.errorCode === 0) this.#sequences.set(`${name}:${p.index}`, this.#sequences.getWithDefault(`${name}:${p.index}`, 0) + count);
          results.push({
            topic: name,
            partition: p.index,
            error: p.errorCode === 0 ? undefined : (kafkaErrorCodes.get(p.errorCode) ?? `error code ${p.errorCode}`),
            errorMessage: p.errorMessage,
            refusedRecords: p.recordErrors.map((e) => e.batchIndex),
            baseOffset: p.baseOffset,
            logAppendTime: p.logAppendTimeMs,
          });
        }
      }
    }
    // A refused partition may have moved: the next request looks the leaders up again.
    if (results.some((r) => r.error !== undefined)) this.client.clearMetadata();
    return results;
  }

  async close(): Promise<void> {
    await this.#pool.close().catch(() => undefined);
  }
}
