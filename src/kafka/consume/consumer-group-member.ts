/**
 * Membership of one durable consumer group under the broker-side protocol
 * (KIP-848, ConsumerGroupHeartbeat), for brokers that speak it (Kafka 4.0
 * and later). The broker computes the member's partitions from its own
 * subscription; every heartbeat answer that changes them says which it
 * holds now. A partition taken away is given up in three steps, in this
 * order: the subscription stops delivering it and settles its commits, the
 * member reports it no longer owns it in its next heartbeat, and only then
 * does the broker give it to another member. No two members of a group
 * deliver one partition at the same time.
 *
 * Requests go through the process's GroupCoordinators (one connection per
 * coordinator for every member), so a member costs a timer and a few
 * objects, not connections.
 */
import { randomBytes } from 'node:crypto';
import { GatewayError, partitionKey, withDeadline, type Logger } from '../../common/index.js';
import { commitRefusal, fromKafkaError, isTransient, protocolErrorIds } from '../client/index.js';
import type { GroupCoordinators } from './group-coordinators.js';
import type { CommittedOffsets } from './group-offsets.js';
import type { MemberEvents, Membership, TopicPartitions } from './group-member.js';

/** How a member finds its topics' ids: the broker assigns partitions by topic id. */
export type TopicIds = (topic: string, fresh: boolean) => Promise<string | undefined>;

export interface ConsumerMemberTuning {
  /** How long the member may go without a heartbeat answer before it stops delivering (it may have been removed). */
  readonly sessionTimeoutMs: number;
  /** How long the broker waits for the member to give partitions up. */
  readonly rebalanceTimeoutMs: number;
}

const LEAVE_EPOCH = -1;
const RETRY_DELAYS_MS = [100, 250, 500, 1000, 2000];
const LEAVE_TIMEOUT_MS = 3000;
/** Until the first answer says otherwise. */
const DEFAULT_INTERVAL_MS = 5000;
/** Answers that end the membership for good: the request itself must change. */
const FATAL = new Set([
  'GROUP_AUTHORIZATION_FAILED',
  'TOPIC_AUTHORIZATION_FAILED',
  'GROUP_MAX_SIZE_REACHED',
  'UNSUPPORTED_ASSIGNOR',
  'INVALID_REQUEST',
  'UNSUPPORTED_VERSION',
  'GROUP_ID_NOT_FOUND',
  'INCONSISTENT_GROUP_PROTOCOL',
]);

/**
 * The cluster answered a heartbeat UNSUPPORTED_VERSION: it lists the
 * consumer protocol in ApiVersions but has it off (Kafka 4.x with
 * `group.coordinator.rebalance.protocols=classic`). Not a failure of the
 * member's request: the member must join on the classic protocol instead.
 */
export class ConsumerProtocolRefused extends GatewayError {
  constructor(groupId: string, cause: unknown) {
    super('GW_ERR_KAFKA_UNAVAILABLE', `The brokers refused the consumer group protocol for group ${JSON.stringify(groupId)} (UNSUPPORTED_VERSION).`, {
      cause,
      retryAfterSeconds: 1,
      extensions: { kafkaError: 'UNSUPPORTED_VERSION' },
    });
  }
}

/** A member id as the Java client makes one (KIP-1082): 16 random bytes, base64url without padding. */
function newMemberId(): string {
  return randomBytes(16).toString('base64url');
}

export class ConsumerGroupMember implements Membership {
  #memberId: string;
  #epoch = 0;
  #intervalMs = DEFAULT_INTERVAL_MS;
  /** What the member reported it owns, by topic id. */
  #owned: Array<{ topicId: string; partitions: number[] }> = [];
  /** The topic ids of the subscription, both ways. */
  readonly #names = new Map<string, string>();
  #timer: NodeJS.Timeout | undefined;
  #beating: Promise<void> | undefined;
  #failures = 0;
  #lastAnswer = Date.now();
  #left = false;
  #first: { resolve(): void; reject(error: unknown): void } | undefined;
  /** Whether the next heartbeat must carry the full request (a join, or after an error). */
  #full = true;

  constructor(
    private readonly coordinators: GroupCoordinators,
    private readonly version: 0 | 1,
    readonly groupId: string,
    private readonly topics: readonly string[],
    private readonly topicIds: TopicIds,
    private readonly offsets: CommittedOffsets,
    private readonly tuning: ConsumerMemberTuning,
    private readonly events: MemberEvents,
    private readonly logger: Logger,
  ) {
    // Version 0 has the broker name the member; version 1 has the member name itself.
    this.#memberId = version === 1 ? newMemberId() : '';
  }

  get memberId(): string {
    return this.#memberId;
  }

  get epoch(): number {
    return this.#epoch;
  }

  /** Joins the group; resolves once the first answer has been applied. */
  async join(): Promise<void> {
    for (const topic of this.topics) await this.#topicId(topic, false);
    // Left while the topic ids were looked up: nothing may start beating now.
    if (this.#left) throw new GatewayError('GW_ERR_SHUTTING_DOWN', 'The subscription ended while joining its group.');
    const first = new Promise<void>((resolve, reject) => (this.#first = { resolve, reject }));
    this.#schedule(0);
    await first;
    if (this.#left) throw new GatewayError('GW_ERR_SHUTTING_DOWN', 'The subscription ended while joining its group.');
  }

  async #topicId(topic: string, fresh: boolean): Promise<string | undefined> {
    const id = await this.topicIds(topic, fresh);
    if (id !== undefined) this.#names.set(id, topic);
    return id;
  }

  #schedule(delayMs: number): void {
    clearTimeout(this.#timer);
    if (this.#left) return;
    this.#timer = setTimeout(() => {
      this.#beating ??= this.#beat().finally(() => (this.#beating = undefined));
    }, delayMs);
  }

  async #beat(): Promise<void> {
    if (this.#left) return;
    const full = this.#full;
    let answer;
    try {
      answer = await this.coordinators.heartbeat(this.groupId, this.version, {
        memberId: this.#memberId,
        memberEpoch: this.#epoch,
        rebalanceTimeoutMs: this.tuning.rebalanceTimeoutMs,
        topics: full ? this.topics : null,
        // Owned partitions go with every heartbeat: that is how a revocation is acknowledged, and cheap.
        owned: this.#owned,
      });
    } catch (error) {
      await this.#failed(error);
      return;
    }
    if (this.#left) return;
    this.#failures = 0;
    this.#full = false;
    this.#lastAnswer = Date.now();
    if (answer.memberId) this.#memberId = answer.memberId;
    this.#epoch = answer.memberEpoch;
    if (answer.heartbeatIntervalMs > 0) this.#intervalMs = answer.heartbeatIntervalMs;
    if (answer.assignment === null && this.#first) {
      // A join answered without an assignment yet holds nothing; the subscription starts with that.
      await this.#apply([]);
    }
    if (answer.assignment === null) {
      this.#joined();
      this.#schedule(this.#intervalMs);
      return;
    }
    const changed = await this.#apply(answer.assignment);
    this.#joined();
    // A change is acknowledged at once (the broker waits for it to move partitions on); otherwise on the interval.
    this.#schedule(changed ? 0 : this.#intervalMs);
  }

  #joined(): void {
    this.#first?.resolve();
    this.#first = undefined;
  }

  /** Hands the assignment to the subscription and waits until what it gave up is settled; true when it differs from what was owned. */
  async #apply(assignment: ReadonlyArray<{ topicId: string; partitions: readonly number[] }>): Promise<boolean> {
    const named: TopicPartitions[] = [];
    const owned: Array<{ topicId: string; partitions: number[] }> = [];
    for (const { topicId, partitions } of assignment) {
      let topic = this.#names.get(topicId);
      if (topic === undefined) {
        // A topic deleted and created again under its name has a new id: look the subscribed ones up again.
        for (const t of this.topics) await this.#topicId(t, true);
        topic = this.#names.get(topicId);
      }
      if (topic === undefined) continue; // not one of ours (yet): left unowned, the broker keeps it pending
      const sorted = [...partitions].sort((a, b) => a - b);
      named.push({ topic, partitions: sorted });
      owned.push({ topicId, partitions: sorted });
    }
    const before = new Set(this.#owned.flatMap(({ topicId, partitions }) => partitions.map((p) => partitionKey(topicId, p))));
    const after = new Set(owned.flatMap(({ topicId, partitions }) => partitions.map((p) => partitionKey(topicId, p))));
    const changed = before.size !== after.size || [...after].some((k) => !before.has(k));
    await this.#handOver(named);
    // Reported only now: the broker moves what was given up once the subscription no longer delivers it.
    this.#owned = owned;
    return changed;
  }

  async #handOver(assignment: readonly TopicPartitions[]): Promise<void> {
    try {
      await this.events.onJoin({ memberId: this.#memberId, generationId: this.#epoch, assignment });
    } catch (error) {
      this.logger.error({ err: error, groupId: this.groupId }, 'applying a group assignment failed');
    }
  }

  async #failed(error: unknown): Promise<void> {
    if (this.#left) return;
    const ids = protocolErrorIds(error);
    const lost = ids.find((id) => id === 'UNKNOWN_MEMBER_ID' || id === 'FENCED_MEMBER_EPOCH');
    // Not one a retry can fix; on the first join, neither is an error nobody can classify.
    const fatal = ids.find((id) => FATAL.has(id)) ?? (this.#first && !lost && ids.length === 0 && !isTransient(error) ? 'unclassified' : undefined);
    if (fatal) {
      const refused = fatal === 'UNSUPPORTED_VERSION';
      const failure = refused ? new ConsumerProtocolRefused(this.groupId, error) : fromKafkaError(error, { group: this.groupId });
      // A refused protocol is the cluster's setting, said once by whoever moves the member to the classic protocol.
      if (!refused) this.logger.warn({ err: error, groupId: this.groupId }, 'the group refused this member');
      if (this.#first) {
        this.#first.reject(failure);
        this.#first = undefined;
        return;
      }
      await this.#handOver([]);
      this.#owned = [];
      this.events.onLost?.(failure);
      return;
    }
    if (lost) {
      // The broker removed this member (it missed heartbeats, or a newer epoch exists): what it held is someone
      // else's now. It stops delivering everything, then joins again from epoch 0 under the same id (v1).
      this.logger.info({ groupId: this.groupId, kafkaError: lost }, 'group membership lost; joining again');
      await this.#handOver([]);
      this.#owned = [];
      this.#epoch = 0;
      if (this.version === 0) this.#memberId = '';
      this.#full = true;
      this.#schedule(0);
      return;
    }
    // The coordinator moved, is loading, or cannot be reached: it is looked up again and asked again. Past the
    // session timeout the broker may have removed this member, so it stops delivering until it is answered.
    this.#failures += 1;
    this.#full = true;
    if (Date.now() - this.#lastAnswer > this.tuning.sessionTimeoutMs && this.#owned.length > 0) {
      this.logger.warn({ err: error, groupId: this.groupId }, 'no heartbeat answered within the session timeout; delivering nothing until the group answers');
      await this.#handOver([]);
      this.#owned = [];
      this.#epoch = 0;
      if (this.version === 0) this.#memberId = '';
    } else {
      this.logger.debug({ err: error, groupId: this.groupId }, 'heartbeat failed; retrying');
    }
    this.#schedule(RETRY_DELAYS_MS[Math.min(this.#failures - 1, RETRY_DELAYS_MS.length - 1)]!);
  }

  committed(partitions: readonly TopicPartitions[]): Promise<Map<string, bigint>> {
    return this.offsets.committed(partitions);
  }

  /** Commits under the member's current epoch; an epoch that moved on meanwhile is tried once more with the new one. */
  async commit(offsets: ReadonlyArray<{ topic: string; partition: number; next: bigint }>): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      if (this.#left) throw new GatewayError('GW_ERR_CONFLICT', 'The subscription has left its group.');
      const epoch = this.#epoch;
      try {
        await this.coordinators.commit(this.groupId, this.#memberId, epoch, offsets);
        return;
      } catch (error) {
        const ids = protocolErrorIds(error);
        const moved = ids.some((id) => id === 'NOT_COORDINATOR' || id === 'COORDINATOR_NOT_AVAILABLE' || id === 'COORDINATOR_LOAD_IN_PROGRESS');
        if (attempt < 2 && ((ids.includes('STALE_MEMBER_EPOCH') && this.#epoch !== epoch) || moved || (ids.length === 0 && isTransient(error)))) {
          await new Promise((r) => setTimeout(r, RETRY_DELAYS_MS[attempt]));
          continue;
        }
        throw commitRefusal(error, this.groupId);
      }
    }
  }

  /** Ends the membership for good; never rejects. */
  async leave(): Promise<void> {
    if (this.#left) return;
    this.#left = true;
    clearTimeout(this.#timer);
    this.#first?.reject(new GatewayError('GW_ERR_SHUTTING_DOWN', 'The subscription ended while joining its group.'));
    this.#first = undefined;
    // A heartbeat on its way (to a coordinator that may not answer) is waited for only so long: leaving must end.
    if (this.#beating) await withDeadline(this.#beating, LEAVE_TIMEOUT_MS, () => undefined).catch(() => undefined);
    if (this.#epoch <= 0 && this.version === 0 && this.#memberId === '') return; // never joined
    await withDeadline(
      this.coordinators.heartbeat(this.groupId, this.version, { memberId: this.#memberId, memberEpoch: LEAVE_EPOCH, rebalanceTimeoutMs: this.tuning.rebalanceTimeoutMs, topics: null, owned: null }),
      LEAVE_TIMEOUT_MS,
      () => undefined,
    ).catch((error: unknown) => this.logger.debug({ err: error, groupId: this.groupId }, 'could not tell the group this member left; it expires after the session timeout'));
  }
}
