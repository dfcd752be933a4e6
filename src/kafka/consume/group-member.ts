/**
 * Membership of one durable consumer group, without a fetch loop: joins,
 * heartbeats, learns its partitions after every rebalance, commits and
 * leaves. Records come from the shared partition streams instead.
 *
 * Its one promise: after leave() nothing of it talks to the group any
 * more, whatever state the broker is in. If the broker cannot be told,
 * the member's connections are closed, so it can neither heartbeat nor
 * join again, and the broker drops it after the session timeout.
 */
import { type BaseOptions } from '@platformatic/kafka';
import { withDeadline, GatewayError, type Logger } from '../../common/index.js';
import { MEMBERSHIP_LOST, commitRefusal, fromKafkaError, guardConnections, protocolErrorIds } from '../client/index.js';
import { ClassicConsumer, ROUNDROBIN, roundRobinAssigner } from './classic-assignor.js';
import type { CommittedOffsets } from './group-offsets.js';

export interface TopicPartitions {
  readonly topic: string;
  readonly partitions: readonly number[];
}

export interface Generation {
  readonly memberId: string;
  readonly generationId: number;
  readonly assignment: readonly TopicPartitions[];
}

export interface MembershipTuning {
  readonly sessionTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
}

export interface MemberEvents {
  /**
   * After every join: the first, and each one a rebalance or a lost
   * membership caused. Resolves once the partitions the generation no
   * longer holds are not delivered any more and their commits have settled:
   * under the consumer protocol the member gives them up only then.
   */
  onJoin(generation: Generation): void | Promise<void>;
  /** The group is about to rebalance: commit now what is to be kept. */
  onRebalance(): void;
  /** The group refused the member for good after it had joined (an ACL changed, the group is full). */
  onLost?(error: GatewayError): void;
}

/** What a subscription needs from its group membership, whichever protocol it speaks. */
export interface Membership {
  readonly groupId: string;
  /** Joins the group; resolves once it holds its first assignment. */
  join(): Promise<void>;
  /** The group's committed offsets for these partitions; -1n where it has none. */
  committed(partitions: readonly TopicPartitions[]): Promise<Map<string, bigint>>;
  /** Commits, for each partition, the offset the group reads next. */
  commit(offsets: ReadonlyArray<{ topic: string; partition: number; next: bigint }>): Promise<void>;
  /** Ends the membership for good; never rejects. */
  leave(): Promise<void>;
}

const REJOIN_DELAYS_MS = [250, 500, 1000, 2000, 5000];
/** How long leave() tries to tell the broker before it just cuts the connections. */
const LEAVE_TIMEOUT_MS = 3000;
/** Kafka's own topics (`__consumer_offsets`, `__transaction_state`, `__share_group_state`). */
const KAFKA_INTERNAL_PREFIX = '__';

/**
 * Kafka's own topics cannot be read as a member of a group. The classic
 * client's metadata cache leaves them out, so a gateway member leading a
 * group could assign none of their partitions (ClassicConsumer keeps the
 * hole from ending the process), and reading them in a group has no use
 * either (no client commits into __consumer_offsets): both protocols
 * refuse it with a 400 before joining.
 */
export function refuseInternalTopics(groupId: string, topics: readonly string[]): void {
  const internal = topics.filter((topic) => topic.startsWith(KAFKA_INTERNAL_PREFIX));
  if (internal.length === 0) return;
  throw new GatewayError(
    'GW_ERR_BAD_REQUEST',
    `${internal.map((t) => JSON.stringify(t)).join(', ')} ${internal.length === 1 ? 'is' : 'are'} Kafka's own; it can be read without a group, not as a member of consumer group ${JSON.stringify(groupId)}.`,
  );
}

export class GroupMember implements Membership {
  readonly #consumer: ClassicConsumer;
  #left = false;
  #rejoins = 0;
  #rejoinTimer: NodeJS.Timeout | undefined;
  /** Kafka's own topics among those subscribed: a member of a group cannot read them (see join()). */
  readonly #kafkaInternal: readonly string[];

  constructor(
    options: BaseOptions,
    readonly groupId: string,
    topics: readonly string[],
    tuning: MembershipTuning,
    private readonly events: MemberEvents,
    private readonly logger: Logger,
    private readonly offsets: CommittedOffsets,
  ) {
    this.#kafkaInternal = topics.filter((topic) => topic.startsWith(KAFKA_INTERNAL_PREFIX));
    this.#consumer = new ClassicConsumer({
      ...options,
      groupId,
      sessionTimeout: tuning.sessionTimeoutMs,
      rebalanceTimeout: tuning.sessionTimeoutMs,
      heartbeatInterval: tuning.heartbeatIntervalMs,
      // Version 0 of the subscription metadata is what the client writes; under version 1 (its default) other
      // clients read a field it leaves out and give this member nothing (librdkafka did).
      protocols: [{ name: ROUNDROBIN, version: 0 }],
      // When this member leads the group it assigns for everyone: each member only partitions of its own topics.
      partitionAssigner: roundRobinAssigner,
      retries: 5,
      retryDelay: 250,
    });
    for (const topic of topics) this.#consumer.topics.track(topic);
    guardConnections(this.#consumer);
    this.#consumer.on('consumer:group:join', (payload) => {
      if (this.#left) return;
      this.#rejoins = 0;
      void this.events.onJoin({
        memberId: payload.memberId,
        generationId: payload.generationId ?? 0,
        assignment: (payload.assignments ?? []).map(({ topic, partitions }) => ({ topic, partitions: [...partitions].sort((a, b) => a - b) })),
      });
    });
    this.#consumer.on('consumer:group:rebalance', () => {
      if (!this.#left) this.events.onRebalance();
    });
    // Emitted when a rejoin the client attempted by itself failed for good: the membership is lost, so join again.
    this.#consumer.on('error', (error: unknown) => {
      if (this.#left) return;
      this.logger.warn({ err: error, groupId }, 'group membership lost; joining again');
      this.#scheduleRejoin();
    });
    this.#consumer.on('consumer:heartbeat:error', (payload: { error?: unknown }) => {
      this.logger.debug({ err: payload.error, groupId }, 'heartbeat failed');
    });
  }

  /** Joins the group; resolves once it holds its first assignment. */
  async join(): Promise<void> {
    refuseInternalTopics(this.groupId, this.#kafkaInternal);
    try {
      await this.#consumer.joinGroup({});
    } catch (error) {
      const lost = protocolErrorIds(error).find((id) => MEMBERSHIP_LOST.has(id));
      if (lost) {
        // Members came and went while this one joined; a new try joins the group as it is then.
        throw new GatewayError('GW_ERR_KAFKA_UNAVAILABLE', `Group ${JSON.stringify(this.groupId)} was rebalancing while this member joined (${lost}); retry shortly.`, {
          cause: error,
          retryAfterSeconds: 1,
          extensions: { kafkaError: lost },
        });
      }
      throw fromKafkaError(error, { group: this.groupId });
    }
    if (this.#left) throw new GatewayError('GW_ERR_SHUTTING_DOWN', 'The subscription ended while joining its group.');
  }

  #scheduleRejoin(): void {
    clearTimeout(this.#rejoinTimer);
    const delay = REJOIN_DELAYS_MS[Math.min(this.#rejoins, REJOIN_DELAYS_MS.length - 1)]!;
    this.#rejoins += 1;
    this.#rejoinTimer = setTimeout(() => {
      if (this.#left) return;
      this.#consumer.joinGroup({}).catch((error: unknown) => {
        if (this.#left) return;
        this.logger.debug({ err: error, groupId: this.groupId }, 'joining again failed; retrying');
        this.#scheduleRejoin();
      });
    }, delay);
  }

  /**
   * The group's committed offsets for these partitions; -1n where it has none.
   * Read as the admin client reads them, not as this member: the client's
   * OffsetFetch names the member with epoch -1, which a Kafka 4.x broker
   * refuses (ILLEGAL_GENERATION) once the group is a consumer-protocol group
   * this member belongs to as a classic one, so its partitions were never placed.
   */
  committed(partitions: readonly TopicPartitions[]): Promise<Map<string, bigint>> {
    return this.offsets.committed(partitions);
  }

  /** Commits, for each partition, the offset the group reads next. */
  async commit(offsets: ReadonlyArray<{ topic: string; partition: number; next: bigint }>): Promise<void> {
    if (this.#left) throw new GatewayError('GW_ERR_CONFLICT', 'The subscription has left its group.');
    try {
      await this.#consumer.commit({ offsets: offsets.map(({ topic, partition, next }) => ({ topic, partition, offset: next, leaderEpoch: -1 })) });
    } catch (error) {
      throw commitRefusal(error, this.groupId);
    }
  }

  /** Ends the membership for good; never rejects. */
  async leave(): Promise<void> {
    if (this.#left) return;
    this.#left = true;
    clearTimeout(this.#rejoinTimer);
    // leaveGroup also stops heartbeats and any join in progress from completing into a membership.
    const told = await withDeadline(promised(this.#consumer.leaveGroup(true)), LEAVE_TIMEOUT_MS, noAnswer).then(
      () => true,
      (error: unknown) => {
        this.logger.debug({ err: error, groupId: this.groupId }, 'could not tell the group this member left; it expires after the session timeout');
        return false;
      },
    );
    if (told) {
      await withDeadline(promised(this.#consumer.close(true)), LEAVE_TIMEOUT_MS, noAnswer).catch(() => this.#consumer.connections.close().catch(() => undefined));
    } else {
      await this.#consumer.connections.close().catch(() => undefined);
    }
  }
}

/**
 * The client's methods return a promise when given no callback, but their
 * first overload (with an optional callback) is typed void for a boolean
 * argument.
 */
function promised(result: void | Promise<void>): Promise<void> {
  return result ?? Promise.resolve();
}

function noAnswer(): never {
  throw new Error(`no answer within ${LEAVE_TIMEOUT_MS} ms`);
}
