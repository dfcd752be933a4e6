/**
 * A subscription: a set of positions, one per partition it holds, read
 * from the process's shared partition streams. Without a group it holds
 * every partition of its topics and keeps its positions in memory; with
 * one it is a real member of that consumer group (membership only, see
 * GroupMember), holds what the group assigns it, starts from the group's
 * commits and commits through it. With an explicit `assignment` it holds
 * exactly those partitions and joins nothing, as a Kafka consumer after
 * `assign()`: a group then only keeps its commits. A position can be moved
 * (`seek`) on any partition held.
 */
import { GatewayError, isInternalGroup, partitionKey, splitPartitionKey, type Logger } from '../../common/index.js';
import type { ConsumedRecord } from './consumed-record.js';
import type { Generation, MemberEvents, Membership, TopicPartitions } from './group-member.js';
import type { CommittedOffsets } from './group-offsets.js';
import type { PartitionReader, PartitionStream } from './partition-stream.js';

/** Where a subscription starts on partitions its group has no committed offset for. */
export type StartPosition =
  | { readonly kind: 'latest' }
  | { readonly kind: 'earliest' }
  | { readonly kind: 'timestamp'; readonly timestamp: number }
  /**
   * topic -> partition -> offset; partitions not listed start at latest,
   * or at earliest with `unlisted` (a resumed stream: a partition it did
   * not know of yet has nothing it saw). With `exact` the offsets win over
   * a durable group's commits. A partition the topic does not have is
   * refused, not passed over. `pointer`: where the offsets came from, for
   * errors (a resume token's header); `/from/<topic>/<partition>` by default.
   */
  | {
      readonly kind: 'offsets';
      readonly offsets: Readonly<Record<string, Readonly<Record<string, string>>>>;
      readonly unlisted?: 'latest' | 'earliest';
      readonly exact?: boolean;
      readonly pointer?: string;
    };

export type AckMode = 'auto' | 'manual';

export interface SubscriptionOptions {
  readonly topics: readonly string[];
  /** Only records whose key is one of these bytes; every record when absent. */
  readonly keys?: readonly Buffer[];
  /** A durable group to join; without one the subscription reads every partition on its own. */
  readonly group?: string;
  /**
   * Exactly these partitions, without joining the group: `group` then only
   * names where commits go and where reading starts. Their topics must be
   * in `topics`.
   */
  readonly assignment?: readonly TopicPartitions[];
  readonly from: StartPosition;
  readonly ack: AckMode;
}

/** One partition a subscription holds, as the socket side sees it. */
export interface PartitionHandle {
  readonly topic: string;
  readonly partition: number;
  /** False once a rebalance took the partition away: its queued records must not be sent. */
  readonly held: boolean;
  /** The offset before which every record was written to the socket or left out by the key filter. */
  readonly passed: bigint;
  /** The record at `offset` has been written to the client's socket. */
  written(offset: bigint): void;
}

export interface SubscriptionEvents {
  /** Records of one partition, in order. Called only while the subscription wants records, at most one batch per partition at a time. */
  onRecords(from: PartitionHandle, records: readonly ConsumedRecord[]): void;
  /** What the subscription holds changed after a rebalance. */
  onAssignment(assignment: readonly TopicPartitions[]): void;
  /** The subscription cannot go on (its topic was deleted, the broker refused it). */
  onFatal(error: GatewayError): void;
  /** auto mode: the group has durably taken these commits (`next`: the offset it reads next). */
  onCommitted?(commits: ReadonlyArray<{ topic: string; partition: number; next: bigint }>): void;
}

/** What a subscription needs from the engine that made it. */
export interface SubscriptionContext {
  acquire(topic: string, partition: number): PartitionStream;
  release(stream: PartitionStream, reader: PartitionReader): void;
  partitionCount(topic: string): Promise<number>;
  /** Per partition: the log start (-2n), end (-1n), or first offset at or after a time (-1n where none is). */
  logOffsets(topic: string, partitions: readonly number[], timestamp: bigint): Promise<Map<number, bigint>>;
  joinGroup(group: string, topics: readonly string[], events: MemberEvents): Promise<Membership>;
  /** A group's commits, read and written without joining it. */
  groupOffsets(group: string): CommittedOffsets;
  /** The subscription has released everything. */
  stopped(subscription: Subscription): void;
  readonly autoCommitIntervalMs: number;
  /** The gateway's own client id, which its internal groups are named after. */
  readonly clientId: string;
  readonly logger: Logger;
}

const MAX_OFFSET = 2n ** 63n - 1n;
const RETRY_DELAYS_MS = [250, 500, 1000, 2000, 5000];

class HeldPartition implements PartitionReader, PartitionHandle {
  held = true;
  waiting = false;
  /** The highest offset written to the socket; -1n before the first. */
  delivered = -1n;
  /**
   * The offset before which every record was written to the socket or
   * left out by the key filter (or was a marker or a compacted gap): what
   * auto mode commits.
   */
  passed: bigint;
  /** The last offset handed to the socket side; -1n before the first. */
  #handed = -1n;
  /** Where `passed` goes once everything handed has been written: the end of the last batch. */
  #passTo: bigint | undefined;
  /** The next offset the group has committed for this partition, as far as this subscription knows. */
  committed: bigint;
  /** Where this subscription began reading the partition (or was moved back to): acks below it name records it never sent. */
  start: bigint;
  /**
   * The partition's commits, one after another: acks race each other over
   * the socket, and a later commit of a lower offset would undo an earlier
   * one of a higher offset.
   */
  commits: Promise<void> = Promise.resolve();

  constructor(
    readonly topic: string,
    readonly partition: number,
    readonly stream: PartitionStream,
    public position: bigint,
    private readonly owner: Subscription,
  ) {
    this.committed = position;
    this.start = position;
    this.passed = position;
  }

  deliver(records: readonly ConsumedRecord[], next: bigint): void {
    this.waiting = false;
    this.position = next;
    const handed = this.owner.delivered(this, records);
    if (handed !== undefined) this.#handed = handed;
    this.#passTo = next;
    this.#pass();
  }

  fail(error: GatewayError): void {
    this.owner.failed(this, error);
  }

  written(offset: bigint): void {
    if (offset > this.delivered) this.delivered = offset;
    if (offset + 1n > this.passed) this.passed = offset + 1n;
    this.#pass();
  }

  #pass(): void {
    if (this.#passTo === undefined || this.delivered < this.#handed) return;
    if (this.#passTo > this.passed) this.passed = this.#passTo;
    this.#passTo = undefined;
  }
}

export class Subscription {
  readonly #held = new Map<string, HeldPartition>();
  /** Partitions this subscription held at some point, to tell "taken by a rebalance" (409) from "never yours" (400). */
  readonly #everHeld = new Set<string>();
  #wanting = false;
  #stopped = false;
  #member: Membership | undefined;
  /** Where commits go: the membership, or the group's offsets for an explicit assignment; none without a group. */
  #committer: CommittedOffsets | undefined;
  #generation: Generation | undefined;
  /** The assignment the socket side was last told of (JSON), so that it hears each change once. */
  #told = '';
  /** The last generation handed over, before its partitions are placed: what a revocation compares against. */
  #latest: Generation | undefined;
  /** Joins are applied one after another: each needs the group's commits first. */
  #joins: Promise<void> = Promise.resolve();
  #firstJoin?: { resolve(): void; reject(error: unknown): void };
  #commitTimer: NodeJS.Timeout | undefined;
  #committing: Promise<void> | undefined;
  readonly #keys: ReadonlySet<string> | undefined;

  constructor(
    readonly options: SubscriptionOptions,
    private readonly events: SubscriptionEvents,
    private readonly context: SubscriptionContext,
  ) {
    this.#keys = options.keys && new Set(options.keys.map((key) => key.toString('latin1')));
  }

  get group(): string | undefined {
    return this.options.group;
  }

  get assignment(): TopicPartitions[] {
    const byTopic = new Map<string, number[]>();
    for (const held of this.#held.values()) {
      const list = byTopic.get(held.topic) ?? [];
      list.push(held.partition);
      byTopic.set(held.topic, list);
    }
    return this.options.topics.flatMap((topic) => {
      const partitions = byTopic.get(topic);
      return partitions ? [{ topic, partitions: partitions.sort((a, b) => a - b) }] : [];
    });
  }

  /**
   * Every partition held: `position` is where its next read starts (for lag
   * reporting), `passed` the offset before which every record was written to
   * the client or left out by the key filter (where a resumed reader goes on).
   */
  positions(): Array<{ topic: string; partition: number; position: bigint; passed: bigint; stream: PartitionStream }> {
    return [...this.#held.values()].map(({ topic, partition, position, passed, stream }) => ({ topic, partition, position, passed, stream }));
  }

  /** Joins the group (if any) and places each partition held; resolves with what it holds. */
  async start(): Promise<readonly TopicPartitions[]> {
    const { group, topics, from } = this.options;
    // Stopped before it started (the client unsubscribed or left meanwhile): it must not join anything now.
    this.#ensureRunning();
    checkStartOffsets(from, topics);
    if (group !== undefined && isInternalGroup(group, this.context.clientId)) {
      // Joining it would take partitions from the gateway's own reader of the schema topic.
      throw new GatewayError('GW_ERR_FORBIDDEN', `Group ${JSON.stringify(group)} is one the gateway keeps for itself.`);
    }
    if (this.options.assignment) return this.#startAssigned(this.options.assignment);
    if (group === undefined) {
      const partitions: TopicPartitions[] = [];
      for (const topic of topics) {
        const count = await this.context.partitionCount(topic);
        this.#checkListedPartitions(topic, count);
        partitions.push({ topic, partitions: Array.from({ length: count }, (_, p) => p) });
      }
      const positions = await this.#startPositions(partitions, new Map());
      this.#ensureRunning();
      for (const [k, position] of positions) this.#hold(k, position);
      return this.assignment;
    }
    if (from.kind === 'offsets') {
      for (const topic of topics) this.#checkListedPartitions(topic, await this.context.partitionCount(topic));
    }
    const first = new Promise<void>((resolve, reject) => (this.#firstJoin = { resolve, reject }));
    // Rejected by stop() too, possibly while join() is still the one awaited.
    first.catch(() => undefined);
    try {
      this.#member = await this.context.joinGroup(group, topics, {
        onJoin: (generation) => {
          const revoked = this.#revoke(generation);
          // A failure outside #applyJoin's own retries (a listener throwing) is logged, not left to end the process or the chain.
          this.#joins = this.#joins
            .then(() => this.#applyJoin(generation))
            .catch((error: unknown) => this.context.logger.error({ err: error, group }, 'applying a group assignment failed'));
          return revoked;
        },
        onRebalance: () => void this.#commitDelivered(),
        onLost: (error) => {
          if (!this.#stopped) this.events.onFatal(error);
        },
      });
      this.#committer = this.#member;
      this.#ensureRunning();
      await this.#member.join();
      await first;
    } catch (error) {
      await this.stop();
      throw error;
    }
    this.#ensureRunning();
    if (this.options.ack === 'auto') {
      this.#commitTimer = setInterval(() => void this.#commitDelivered(), this.context.autoCommitIntervalMs);
    }
    return this.assignment;
  }

  /** An explicit assignment: those partitions, from the group's commits when there is a group, else from `from`. */
  async #startAssigned(assignment: readonly TopicPartitions[]): Promise<readonly TopicPartitions[]> {
    const { group } = this.options;
    for (const { topic, partitions } of assignment) {
      if (!this.options.topics.includes(topic)) throw new Error(`assignment names ${topic}, which is not in topics`);
      const count = await this.context.partitionCount(topic);
      if (count === 0) throw new GatewayError('GW_ERR_TOPIC_NOT_FOUND', `Topic ${JSON.stringify(topic)} does not exist.`);
      const missing = partitions.find((p) => p >= count);
      if (missing !== undefined) throw new GatewayError('GW_ERR_INVALID_PARTITION', `Topic ${JSON.stringify(topic)} has ${count} partition(s); there is no partition ${missing}.`);
    }
    this.#committer = group === undefined ? undefined : this.context.groupOffsets(group);
    const committed = this.#committer ? await this.#committer.committed(assignment) : new Map<string, bigint>();
    const positions = await this.#startPositions(assignment, committed);
    this.#ensureRunning();
    for (const [k, position] of positions) this.#hold(k, position);
    if (this.#committer && this.options.ack === 'auto') {
      this.#commitTimer = setInterval(() => void this.#commitDelivered(), this.context.autoCommitIntervalMs);
    }
    return this.assignment;
  }

  /**
   * Moves the position of a partition this subscription holds: to an
   * offset, or to the log's start or end as it is now. Records of the
   * partition handed over before the move are the caller's to drop; the
   * next delivery starts at the new position.
   */
  async seek(topic: string, partition: number, to: bigint | 'beginning' | 'end'): Promise<bigint> {
    const k = partitionKey(topic, partition);
    if (!this.#held.has(k)) {
      throw new GatewayError('GW_ERR_CONFLICT', `This subscription does not hold partition ${partition} of ${JSON.stringify(topic)}; it can move only the positions of partitions it holds.`);
    }
    let target: bigint;
    if (to === 'beginning' || to === 'end') {
      const offsets = await this.context.logOffsets(topic, [partition], to === 'beginning' ? -2n : -1n);
      target = offsets.get(partition) ?? 0n;
    } else {
      if (to < 0n || to > MAX_OFFSET) throw new GatewayError('GW_ERR_VALIDATION', `Offset ${to} is not a Kafka offset (0 to 2^63 - 1).`);
      target = to;
    }
    // Still held after the lookup (a rebalance may have taken it meanwhile).
    const held = this.#held.get(k);
    if (!held) throw new GatewayError('GW_ERR_CONFLICT', `Partition ${topic}/${partition} was taken from this subscription while it moved.`);
    if (held.waiting) {
      held.waiting = false;
      held.stream.unwant(held);
    }
    held.position = target;
    if (target < held.start) held.start = target;
    // Moved back, the group may commit an earlier offset again once it is read: acks only keep the commit from going
    // back while they race each other, not past a move the client asked for.
    if (target < held.committed) held.committed = target;
    if (this.#wanting) this.#want(held);
    return target;
  }

  /** Start offsets naming a partition the topic does not have were meant for another topic of that name, or for none: the caller's mistake. */
  #checkListedPartitions(topic: string, count: number): void {
    const { from } = this.options;
    if (from.kind !== 'offsets') return;
    const unknown = Object.keys(from.offsets[topic] ?? {}).find((p) => Number(p) >= count);
    if (unknown === undefined) return;
    const named = from.pointer === undefined ? '"from"' : 'the resume token';
    throw new GatewayError('GW_ERR_VALIDATION', `Partition ${unknown} of ${JSON.stringify(topic)}, named by ${named}, does not exist: the topic has partitions 0 to ${count - 1}.`, {
      errors: [{ pointer: from.pointer ?? `/from/${topic}/${unknown}`, message: `names partition ${unknown}, which the topic does not have` }],
    });
  }

  #ensureRunning(): void {
    if (this.#stopped) throw new GatewayError('GW_ERR_SHUTTING_DOWN', 'The subscription ended before it started.');
  }

  /**
   * Stops delivering, at once, every partition a generation no longer gives
   * this subscription (all of them under a new member id), then settles
   * their commits: auto mode commits what was written, and acks already on
   * their way are answered. Resolves when the member may give them up.
   */
  async #revoke(generation: Generation): Promise<void> {
    const previous = this.#latest;
    this.#latest = generation;
    const assigned = new Set(generation.assignment.flatMap(({ topic, partitions }) => partitions.map((p) => partitionKey(topic, p))));
    const keep = previous !== undefined && previous.memberId === generation.memberId;
    const taken = [...this.#held].filter(([k]) => !assigned.has(k) || !keep);
    if (taken.length === 0) return;
    const due = this.options.ack === 'auto' ? taken.map(([, h]) => h).filter((h) => h.passed > h.committed) : [];
    for (const [k, held] of taken) this.#let(k, held);
    // Told before the partitions go to another member: the client hears it no longer holds them first.
    if (!this.#firstJoin) this.#tell();
    if (due.length > 0 && this.#committer) {
      const offsets = due.map((h) => ({ topic: h.topic, partition: h.partition, next: h.passed }));
      try {
        await this.#committer.commit(offsets);
        this.events.onCommitted?.(offsets);
      } catch (error) {
        this.context.logger.warn({ err: error, group: this.options.group }, 'commit before giving partitions up failed; their records after the last commit are delivered again');
      }
    }
    await Promise.all(taken.map(([, held]) => held.commits));
  }

  /** Applies one generation's assignment: drops what was taken, places what is new at the group's commits. */
  async #applyJoin(generation: Generation): Promise<void> {
    const previous = this.#generation;
    this.#generation = generation;
    const assigned = new Set(generation.assignment.flatMap(({ topic, partitions }) => partitions.map((p) => partitionKey(topic, p))));
    // A new member id means another member may have read these partitions since: start again from the commits.
    const keepPositions = previous !== undefined && previous.memberId === generation.memberId;
    for (const [k, held] of this.#held) if (!assigned.has(k) || !keepPositions) this.#let(k, held);
    const added = generation.assignment
      .map(({ topic, partitions }) => ({ topic, partitions: partitions.filter((p) => !this.#held.has(partitionKey(topic, p))) }))
      .filter(({ partitions }) => partitions.length > 0);
    for (let attempt = 0; added.length > 0; attempt++) {
      if (this.#stopped || this.#generation !== generation) return;
      try {
        const committed = await this.#member!.committed(added);
        const positions = await this.#startPositions(added, committed);
        if (this.#stopped || this.#generation !== generation) return;
        for (const [k, position] of positions) this.#hold(k, position);
        break;
      } catch (error) {
        if (this.#firstJoin) {
          this.#firstJoin.reject(error);
          this.#firstJoin = undefined;
          return;
        }
        const delay = RETRY_DELAYS_MS[Math.min(attempt, RETRY_DELAYS_MS.length - 1)]!;
        this.context.logger.warn({ err: error, group: this.options.group, delayMs: delay }, 'cannot place the partitions a rebalance assigned yet; retrying');
        await new Promise((r) => setTimeout(r, delay));
      }
    }
    if (this.#firstJoin) {
      this.#firstJoin.resolve();
      this.#firstJoin = undefined;
      this.#told = JSON.stringify(this.assignment);
    } else {
      this.#tell();
    }
  }

  /** Tells the socket side what the subscription holds, if that changed since it was last told. */
  #tell(): void {
    if (this.#stopped) return;
    const now = this.assignment;
    const text = JSON.stringify(now);
    if (text === this.#told) return;
    this.#told = text;
    this.events.onAssignment(now);
  }

  /** Start offsets for partitions: the group's commit where there is one, else where `from` says. */
  async #startPositions(partitions: readonly TopicPartitions[], committed: ReadonlyMap<string, bigint>): Promise<Map<string, bigint>> {
    const positions = new Map<string, bigint>();
    const { from } = this.options;
    for (const { topic, partitions: list } of partitions) {
      const open: number[] = [];
      for (const p of list) {
        const exact = from.kind === 'offsets' && from.exact === true && from.offsets[topic]?.[String(p)] !== undefined;
        const offset = exact ? -1n : (committed.get(partitionKey(topic, p)) ?? -1n);
        if (offset >= 0n) positions.set(partitionKey(topic, p), offset);
        else open.push(p);
      }
      if (open.length === 0) continue;
      for (const [p, offset] of await this.#fromPositions(topic, open)) positions.set(partitionKey(topic, p), offset);
    }
    return positions;
  }

  /** Where `from` puts each of a topic's partitions. */
  async #fromPositions(topic: string, partitions: readonly number[]): Promise<Map<number, bigint>> {
    const { from } = this.options;
    const { logOffsets } = this.context;
    switch (from.kind) {
      case 'earliest':
        return logOffsets(topic, partitions, -2n);
      case 'latest':
        return logOffsets(topic, partitions, -1n);
      case 'timestamp': {
        const [atTime, ends] = await Promise.all([logOffsets(topic, partitions, BigInt(from.timestamp)), logOffsets(topic, partitions, -1n)]);
        // No record at or after the time yet: start at the end, where the next one will be.
        return new Map(partitions.map((p) => [p, (atTime.get(p) ?? -1n) >= 0n ? atTime.get(p)! : ends.get(p)!]));
      }
      case 'offsets': {
        const asked = from.offsets[topic] ?? {};
        const [starts, ends] = await Promise.all([logOffsets(topic, partitions, -2n), logOffsets(topic, partitions, -1n)]);
        return new Map(
          partitions.map((p) => {
            const text = asked[String(p)];
            const start = starts.get(p)!;
            const end = ends.get(p)!;
            if (text === undefined) return [p, from.unlisted === 'earliest' ? start : end];
            const offset = BigInt(text);
            if (offset < start || offset > end) {
              throw new GatewayError('GW_ERR_VALIDATION', `Offset ${text} is outside ${topic}/${p}, which holds offsets ${start} to ${end - 1n} (the next record gets ${end}).`, {
                errors: [{ pointer: from.pointer ?? `/from/${topic}/${p}`, message: `must be between ${start} and ${end}` }],
              });
            }
            return [p, offset];
          }),
        );
      }
    }
  }

  #hold(k: string, position: bigint): void {
    const [topic, partition] = splitPartitionKey(k);
    const stream = this.context.acquire(topic, partition);
    const held = new HeldPartition(topic, partition, stream, position, this);
    this.#held.set(k, held);
    this.#everHeld.add(k);
    stream.attach(held);
    if (this.#wanting) this.#want(held);
  }

  #let(k: string, held: HeldPartition): void {
    if (this.#held.get(k) !== held) return; // let go already (by a revocation, then by the join that follows it)
    held.held = false;
    held.waiting = false;
    this.#held.delete(k);
    this.context.release(held.stream, held);
  }

  #want(held: HeldPartition): void {
    if (held.waiting || !held.held) return;
    held.waiting = true;
    held.stream.want(held);
  }

  /** The socket side can take records (true) or must wait (false). */
  setDemand(wanting: boolean): void {
    if (wanting === this.#wanting || this.#stopped) return;
    this.#wanting = wanting;
    for (const held of this.#held.values()) {
      if (wanting) this.#want(held);
      else if (held.waiting) {
        held.waiting = false;
        held.stream.unwant(held);
      }
    }
  }

  get wanting(): boolean {
    return this.#wanting;
  }

  /**
   * @internal from HeldPartition: hands the records that pass the key
   * filter to the socket side; returns the last offset handed, if any.
   */
  delivered(held: HeldPartition, records: readonly ConsumedRecord[]): bigint | undefined {
    if (this.#stopped || !held.held) return undefined;
    const keys = this.#keys;
    const matching = keys === undefined ? records : records.filter((r) => r.keyId !== null && keys.has(r.keyId));
    if (matching.length > 0) this.events.onRecords(held, matching);
    if (this.#wanting) this.#want(held);
    return matching.length > 0 ? matching[matching.length - 1]!.offset : undefined;
  }

  /** @internal from HeldPartition */
  failed(held: HeldPartition, error: GatewayError): void {
    if (this.#stopped || !held.held) return;
    this.events.onFatal(error);
  }

  /**
   * Commits `offset + 1` for a partition this subscription holds, after
   * checking that it holds the partition and has written that record to
   * the client. Throws a GatewayError saying what is wrong otherwise.
   */
  async ack(topic: string, partition: number, offsetText: string): Promise<void> {
    const offset = BigInt(offsetText);
    if (offset > MAX_OFFSET) throw new GatewayError('GW_ERR_VALIDATION', `Offset ${offsetText} is beyond the largest Kafka offset (2^63 - 1).`, { errors: [{ pointer: '/offset', message: 'must be below 2^63' }] });
    if (!this.options.topics.includes(topic)) {
      throw new GatewayError('GW_ERR_VALIDATION', `This subscription does not read topic ${JSON.stringify(topic)}.`, { errors: [{ pointer: '/topic', message: 'is not a topic of this subscription' }] });
    }
    const k = partitionKey(topic, partition);
    const held = this.#held.get(k);
    if (!held || !held.held) {
      if (this.#everHeld.has(k)) throw revoked(topic, partition, this.options.group);
      throw new GatewayError('GW_ERR_VALIDATION', `This subscription does not hold partition ${partition} of ${JSON.stringify(topic)}.`, { errors: [{ pointer: '/partition', message: 'is not held by this subscription' }] });
    }
    if (offset > held.delivered || offset < held.start) {
      const sent = held.delivered < held.start ? 'none yet' : `${held.start} to ${held.delivered}`;
      throw new GatewayError('GW_ERR_VALIDATION', `Offset ${offsetText} of ${topic}/${partition} was not delivered on this subscription (delivered: ${sent}).`, {
        errors: [{ pointer: '/offset', message: 'was not delivered on this subscription' }],
      });
    }
    const committer = this.#committer;
    if (!committer) return; // nothing to keep: a subscription without a group remembers nothing past its socket
    const next = offset + 1n;
    const commit = held.commits.then(async () => {
      // A later ack already committed past this one: acks are cumulative, so this one is kept too.
      if (next <= held.committed) return;
      if (!held.held) throw revoked(topic, partition, this.options.group);
      await committer.commit([{ topic, partition, next }]);
      if (next > held.committed) held.committed = next;
    });
    held.commits = commit.catch(() => undefined);
    await commit;
  }

  /** auto mode: commits what was written since the last commit, for every partition still held. One commit at a time. */
  #commitDelivered(): Promise<void> {
    if (!this.#committer || this.options.ack !== 'auto') return Promise.resolve();
    if (this.#committing) return this.#committing;
    const committing = this.#commitOnce().finally(() => {
      if (this.#committing === committing) this.#committing = undefined;
    });
    this.#committing = committing;
    return committing;
  }

  async #commitOnce(): Promise<void> {
    // Filtered-out records count as read: the group commits past them.
    const due = [...this.#held.values()].filter((h) => h.passed > h.committed);
    if (due.length === 0) return;
    const offsets = due.map((h) => ({ topic: h.topic, partition: h.partition, next: h.passed }));
    try {
      await this.#committer!.commit(offsets);
      due.forEach((h, i) => {
        if (offsets[i]!.next > h.committed) h.committed = offsets[i]!.next;
      });
      this.events.onCommitted?.(offsets);
    } catch (error) {
      this.context.logger.warn({ err: error, group: this.options.group }, 'auto commit failed; it is tried again, and records not committed may be delivered again');
    }
  }

  /** Commits what auto mode wrote, releases every partition and leaves the group. Never rejects. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    clearInterval(this.#commitTimer);
    if (this.#committer && this.options.ack === 'auto') {
      await this.#committing;
      await this.#commitDelivered();
    }
    this.#stopped = true;
    for (const [k, held] of this.#held) this.#let(k, held);
    this.#firstJoin?.reject(new GatewayError('GW_ERR_SHUTTING_DOWN', 'The subscription ended while joining its group.'));
    this.#firstJoin = undefined;
    await this.#member?.leave();
    this.context.stopped(this);
  }
}

/** An ack or commit for a partition a rebalance gave to another member. */
function revoked(topic: string, partition: number, group: string | undefined): GatewayError {
  return new GatewayError('GW_ERR_CONFLICT', `Partition ${topic}/${partition} was assigned to another member of group ${JSON.stringify(group)} by a rebalance; nothing was committed, and its records after the group's last commit are delivered again there.`, {
    extensions: { reason: 'revoked' },
  });
}

/** Explicit start offsets may only name topics the subscription reads. */
function checkStartOffsets(from: StartPosition, topics: readonly string[]): void {
  if (from.kind !== 'offsets') return;
  for (const topic of Object.keys(from.offsets)) {
    if (!topics.includes(topic)) {
      throw new GatewayError('GW_ERR_VALIDATION', `"from" names topic ${JSON.stringify(topic)}, which the subscription does not read.`, {
        errors: [{ pointer: `/from/${topic}`, message: 'is not one of the subscription\'s topics' }],
      });
    }
  }
}
