/**
 * The group requests the gateway speaks itself, for every durable member
 * of the process: FindCoordinator, ConsumerGroupHeartbeat (KIP-848) and
 * OffsetCommit v9. Members share one connection per coordinator broker,
 * where the client's Consumer opens a pool of its own per member; requests
 * of many members are pipelined on it, told apart by correlation id.
 *
 * A coordinator is looked up once per group and looked up again after any
 * answer that says it moved (NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE) or
 * a connection that failed, so a member never talks to a dead or former
 * coordinator for longer than one request.
 */
import {
  Admin,
  ConnectionPool,
  apiVersionsV3,
  clientSoftwareName,
  clientSoftwareVersion,
  consumerGroupHeartbeatV0,
  consumerGroupHeartbeatV1,
  findCoordinatorV6,
  kGetBootstrapConnection,
  offsetCommitV9,
  type BaseOptions,
  type Connection,
} from '@platformatic/kafka';
import { guardConnections, protocolErrorIds } from '../client/index.js';

const GROUP_KEY_TYPE = 0;
/** Answers after which the group's coordinator must be looked up again. */
const COORDINATOR_MOVED = new Set(['NOT_COORDINATOR', 'COORDINATOR_NOT_AVAILABLE']);

export interface HeartbeatRequest {
  readonly memberId: string;
  readonly memberEpoch: number;
  readonly rebalanceTimeoutMs: number;
  /** null: unchanged since the last heartbeat (never on a join). */
  readonly topics: readonly string[] | null;
  /** The partitions the member owns, by topic id; null: unchanged. */
  readonly owned: ReadonlyArray<{ topicId: string; partitions: readonly number[] }> | null;
}

export interface HeartbeatAnswer {
  readonly memberId: string | null;
  readonly memberEpoch: number;
  readonly heartbeatIntervalMs: number;
  /** null: unchanged since the last answer. */
  readonly assignment: ReadonlyArray<{ topicId: string; partitions: readonly number[] }> | null;
}

interface RawHeartbeatAnswer {
  memberId: string | null;
  memberEpoch: number;
  heartbeatIntervalMs: number;
  assignment: { topicPartitions: Array<{ topicId: string; partitions: number[] }> } | null;
}

interface CommitAnswer {
  topics: Array<{ name: string; partitions: Array<{ partitionIndex: number; errorCode: number }> }>;
}

interface Coordinator {
  readonly nodeId: number;
  readonly host: string;
  readonly port: number;
}

/** An error for one answer code, shaped like the client's (an `apiId` that protocolErrorIds reads). */
export class GroupRequestError extends Error {
  constructor(
    readonly apiId: string,
    message: string,
  ) {
    super(message);
  }
}

function call<T>(run: (callback: (error: Error | null, value?: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => run((error, value) => (error ? reject(error) : resolve(value as T))));
}

export class GroupCoordinators {
  /** Negotiates API versions and finds coordinators; members never send through its connections. */
  readonly #client: Admin;
  readonly #pool: ConnectionPool;
  readonly #coordinators = new Map<string, Promise<Coordinator>>();
  #heartbeatVersion: Promise<0 | 1 | undefined> | undefined;
  #closed = false;

  constructor(options: BaseOptions, errorCodes: ReadonlyMap<number, string>) {
    this.#client = new Admin({ ...options, retries: 2, retryDelay: 250 });
    guardConnections(this.#client);
    this.#pool = new ConnectionPool(`${options.clientId}-groups`, options);
    this.#pool.on('connect', ({ connection }) => connection.on('error', () => undefined));
    this.#errorCodes = errorCodes;
  }

  readonly #errorCodes: ReadonlyMap<number, string>;

  /** Open connections to coordinators, for stats and the benchmark. */
  get connectionCount(): number {
    return [...this.#pool].length;
  }

  /**
   * The ConsumerGroupHeartbeat version the brokers take (from ApiVersions),
   * undefined when they do not speak the consumer protocol (Kafka before 4.0,
   * or a cluster that turned it off). Asked once per process.
   *
   * The request being listed is not enough: brokers from 3.7 list it (and
   * OffsetCommit v9) while the protocol is off, and answer every heartbeat
   * UNSUPPORTED_VERSION. It is on where the cluster has finalized the
   * `group.version` feature at level 1 or more (the default of a cluster
   * formatted by 4.0 or later; a cluster upgraded from 3.x has it once its
   * features are upgraded). Nor is that feature: brokers whose static config
   * leaves `consumer` out of `group.coordinator.rebalance.protocols` have it
   * finalized and refuse the protocol all the same, which only a heartbeat's
   * answer tells (see protocol-fallback.ts).
   */
  heartbeatVersion(): Promise<0 | 1 | undefined> {
    this.#heartbeatVersion ??= (async () => {
      const connection = await call<Connection>((cb) => this.#client[kGetBootstrapConnection](cb));
      let answer: Awaited<ReturnType<typeof apiVersionsV3.api.async>>;
      try {
        answer = await apiVersionsV3.api.async(connection, clientSoftwareName, clientSoftwareVersion);
      } catch (error) {
        // A broker older than ApiVersions v3 (Kafka 2.4) speaks the classic protocol only.
        if (protocolErrorIds(error).includes('UNSUPPORTED_VERSION')) return undefined;
        throw error;
      }
      const apis = answer.apiKeys;
      const api = apis.find((a) => a.name === 'ConsumerGroupHeartbeat');
      const commit = apis.find((a) => a.name === 'OffsetCommit');
      const find = apis.find((a) => a.name === 'FindCoordinator');
      const groupVersion = (answer.finalizedFeatures ?? []).find((f) => f.name === 'group.version')?.maxVersionLevel ?? 0;
      if (!api || !commit || commit.maxVersion < 9 || !find || find.maxVersion < 6 || groupVersion < 1) return undefined;
      return api.maxVersion >= 1 ? 1 : 0;
    })();
    // A failed lookup (the cluster away) is asked again by the next member.
    this.#heartbeatVersion.catch(() => (this.#heartbeatVersion = undefined));
    return this.#heartbeatVersion;
  }

  #coordinator(group: string): Promise<Coordinator> {
    let found = this.#coordinators.get(group);
    if (!found) {
      found = (async () => {
        const connection = await call<Connection>((cb) => this.#client[kGetBootstrapConnection](cb));
        const answer = await findCoordinatorV6.api.async(connection, GROUP_KEY_TYPE, [group]);
        const coordinator = answer.coordinators[0];
        if (!coordinator) throw new GroupRequestError('COORDINATOR_NOT_AVAILABLE', `no coordinator named for group ${group}`);
        return { nodeId: coordinator.nodeId, host: coordinator.host, port: coordinator.port };
      })();
      this.#coordinators.set(group, found);
      found.catch(() => this.forget(group, found));
    }
    return found;
  }

  /** Looks the group's coordinator up again on its next request. */
  forget(group: string, only?: Promise<Coordinator>): void {
    if (only === undefined || this.#coordinators.get(group) === only) this.#coordinators.delete(group);
  }

  /** Sends one request to the group's coordinator; an answer that it moved, or a failed connection, forgets it. */
  async #send<T>(group: string, send: (connection: Connection) => Promise<T>): Promise<T> {
    if (this.#closed) throw new GroupRequestError('COORDINATOR_NOT_AVAILABLE', 'the gateway is closing');
    const coordinator = this.#coordinator(group);
    try {
      const connection = await this.#pool.get(await coordinator);
      return await send(connection);
    } catch (error) {
      const ids = protocolErrorIds(error);
      if (ids.length === 0 || ids.some((id) => COORDINATOR_MOVED.has(id))) this.forget(group, coordinator);
      throw error;
    }
  }

  async heartbeat(group: string, version: 0 | 1, request: HeartbeatRequest): Promise<HeartbeatAnswer> {
    const api = version === 1 ? consumerGroupHeartbeatV1.api : consumerGroupHeartbeatV0.api;
    const answer = (await this.#send(group, (connection) =>
      api.async(
        connection,
        group,
        request.memberId,
        request.memberEpoch,
        null,
        null,
        request.rebalanceTimeoutMs,
        request.topics === null ? null : [...request.topics],
        null,
        null,
        request.owned === null ? null : request.owned.map(({ topicId, partitions }) => ({ topicId, partitions: [...partitions] })),
      ),
    )) as RawHeartbeatAnswer;
    return {
      memberId: answer.memberId,
      memberEpoch: answer.memberEpoch,
      heartbeatIntervalMs: answer.heartbeatIntervalMs,
      assignment: answer.assignment ? answer.assignment.topicPartitions.map(({ topicId, partitions }) => ({ topicId, partitions })) : null,
    };
  }

  /**
   * Commits as a member (its epoch under the consumer protocol, its
   * generation under the classic one). Rejects with the first partition's
   * error when the broker refused any.
   */
  async commit(group: string, memberId: string, epoch: number, offsets: ReadonlyArray<{ topic: string; partition: number; next: bigint }>): Promise<void> {
    const byTopic = new Map<string, Array<{ partitionIndex: number; committedOffset: bigint; committedLeaderEpoch: number; committedMetadata: null }>>();
    for (const { topic, partition, next } of offsets) {
      const list = byTopic.get(topic) ?? [];
      list.push({ partitionIndex: partition, committedOffset: next, committedLeaderEpoch: -1, committedMetadata: null });
      byTopic.set(topic, list);
    }
    const topics = [...byTopic].map(([name, partitions]) => ({ name, partitions }));
    const answer = await this.#send(group, (connection) =>
      offsetCommitV9.api.async(connection, group, epoch, memberId, null, topics).catch((error: unknown) => {
        // Refused partitions come as an error carrying the whole answer: their codes say why.
        const response = (error as { response?: CommitAnswer }).response;
        if (response?.topics) return response;
        throw error;
      }),
    );
    for (const topic of (answer as CommitAnswer).topics) {
      for (const p of topic.partitions) {
        if (p.errorCode === 0) continue;
        const name = this.#errorCodes.get(p.errorCode) ?? `error code ${p.errorCode}`;
        if (COORDINATOR_MOVED.has(name)) this.forget(group);
        throw new GroupRequestError(name, `the commit of ${topic.name}/${p.partitionIndex} was refused: ${name}`);
      }
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.allSettled([this.#pool.close(), this.#client.close()]);
  }
}
