/**
 * One member of a Kafka share group (KIP-932): heartbeats to the group
 * coordinator, holds a share session with each broker leading a partition
 * it is assigned, takes records under the broker's acquisition lock, and
 * answers each one accept, release, reject or renew.
 *
 * Requests of one share session carry consecutive epochs, so each session
 * sends one request at a time: answers queued while a fetch waits ride on
 * the next request (a fetch when more records are wanted, otherwise a
 * ShareAcknowledge). Fetches wait at most `fetchMaxWaitMs`, which bounds
 * how long an answer waits for its turn.
 *
 * The member tracks every record it holds with the time its lock ends;
 * when that passes without an answer, the broker hands the record to
 * another member, and the owner is told (onLockExpired). Stopping releases
 * everything still held, so records come back at once rather than after
 * their locks; a process that dies leaves them to the locks.
 */
import { randomUUID } from 'node:crypto';
import { ConnectionPool, kGetApi, kGetBootstrapConnection, kListApis, type Admin, type BaseOptions, type Connection } from '@platformatic/kafka';
import { GatewayError, partitionKey, type Logger } from '../../common/index.js';
import { describeKafkaError } from '../client/index.js';
import { decodeBatches, type ConsumedRecord } from '../consume/consumed-record.js';
import { ACK_TYPE, shareAcknowledge, shareFetch, shareGroupHeartbeat, type AckBatch, type AckTypeName, type HeartbeatAnswer, type WireBroker } from './share-wire.js';

export interface ShareRecord extends ConsumedRecord {
  /** 1 on first delivery; the broker counts every acquisition. */
  readonly deliveryCount: number;
  /** When the broker's lock on this record ends, in ms since the epoch (as this process reckons it). */
  readonly lockExpiresAt: number;
}

export interface ShareTopicPartitions {
  readonly topic: string;
  readonly partitions: readonly number[];
}

export interface ShareMemberEvents {
  onRecords(records: readonly ShareRecord[]): void;
  /** Records whose lock ended before they were answered: the broker gives them to a member again. */
  onLockExpired(records: ReadonlyArray<{ topic: string; partition: number; offset: bigint; deliveryCount: number }>): void;
  onAssignment?(assignment: readonly ShareTopicPartitions[]): void;
  /** A failure the member cannot recover from (the group refused it); it has stopped. */
  onFatal(error: GatewayError): void;
}

export interface ShareMemberTuning {
  readonly fetchMaxWaitMs: number;
  readonly maxBytes: number;
  readonly requestTimeoutMs: number;
}

/** The versions the broker offers for the share APIs, learnt once per client. */
export interface ShareVersions {
  readonly fetch: number;
  readonly acknowledge: number;
  readonly describeOffsets: number;
}

interface Held {
  readonly topic: string;
  readonly partition: number;
  readonly offset: bigint;
  readonly deliveryCount: number;
  lockExpiresAt: number;
}

interface PendingAck {
  readonly offset: bigint;
  readonly type: number;
  readonly done: (error?: GatewayError) => void;
}

/** Errors after which a session starts over at epoch 0. */
const SESSION_LOST = new Set(['SHARE_SESSION_NOT_FOUND', 'INVALID_SHARE_SESSION_EPOCH', 'SHARE_SESSION_LIMIT_REACHED']);
/** Errors after which the member joins again with epoch 0 under the same id. */
const MEMBER_LOST = new Set(['UNKNOWN_MEMBER_ID', 'FENCED_MEMBER_EPOCH']);
const RETRY_DELAYS_MS = [100, 250, 500, 1000, 2000];
const LEAVE_TIMEOUT_MS = 3000;
const PLACE_AGAIN_MS = 250;
const PLACE_AGAIN_MAX_MS = 2000;

type Call<T> = (cb: (error: Error | null, value?: T) => void) => void;
const call = <T>(run: Call<T>): Promise<T> => new Promise((resolve, reject) => run((error, value) => (error ? reject(error) : resolve(value as T))));
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

/** The highest version of `apiKey` the broker offers within what the gateway speaks; undefined when it offers none. */
export async function shareVersions(client: Admin): Promise<ShareVersions | undefined> {
  const apis = await call<Array<{ apiKey: number; minVersion: number; maxVersion: number }>>((cb) => client[kListApis](cb));
  const pick = (key: number, low: number, high: number) => {
    const api = apis.find((a) => a.apiKey === key);
    if (!api || api.maxVersion < low || api.minVersion > high) return undefined;
    return Math.min(api.maxVersion, high);
  };
  const fetch = pick(78, 1, 2);
  const acknowledge = pick(79, 1, 2);
  const heartbeat = pick(76, 1, 1);
  if (fetch === undefined || acknowledge === undefined || heartbeat === undefined) return undefined;
  return { fetch, acknowledge, describeOffsets: pick(90, 0, 1) ?? -1 };
}

/** The group coordinator's connection (share groups live on the group coordinator). */
export async function coordinatorOf(client: Admin, pool: ConnectionPool, groupId: string): Promise<Connection> {
  type FindCoordinator = (connection: Connection, keyType: number, keys: string[], cb: (error: Error | null, response?: { coordinators: Array<{ key: string; nodeId: number; host: string; port: number; errorCode: number }> }) => void) => void;
  const api = await call<FindCoordinator>((cb) => client[kGetApi]('FindCoordinator', cb));
  const bootstrap = await call<Connection>((cb) => client[kGetBootstrapConnection](cb));
  const answer = await call<{ coordinators: Array<{ key: string; nodeId: number; host: string; port: number; errorCode: number }> }>((cb) => api(bootstrap, 0, [groupId], cb));
  const found = answer.coordinators[0];
  if (!found || found.errorCode !== 0) throw Object.assign(new Error(`no coordinator for ${groupId}: ${describeKafkaError(found?.errorCode ?? -1)}`), { canRetry: true });
  return pool.get({ host: found.host, port: found.port });
}

class ShareSession {
  epoch = 0;
  readonly pool: ConnectionPool;
  /** Assigned partitions this broker leads, by partition key. */
  readonly partitions = new Map<string, { topic: string; topicId: string; partition: number }>();
  readonly forget = new Map<string, { topicId: string; partition: number }>();
  readonly acks = new Map<string, PendingAck[]>();
  wake?: () => void;
  running = false;

  constructor(
    readonly broker: WireBroker,
    clientId: string,
    options: BaseOptions,
  ) {
    this.pool = new ConnectionPool(`${clientId}-share-${broker.nodeId}`, options);
    this.pool.on('connect', ({ connection }) => connection.on('error', () => undefined));
  }

  signal(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  get hasAcks(): boolean {
    for (const list of this.acks.values()) if (list.length > 0) return true;
    return false;
  }
}

export class ShareMember {
  readonly memberId = randomUUID();
  #epoch = 0;
  #stopped = false;
  #started = false;
  #assignment: ShareTopicPartitions[] = [];
  readonly #sessions = new Map<number, ShareSession>();
  readonly #held = new Map<string, Held>();
  readonly #topicIds = new Map<string, string>();
  readonly #topicNames = new Map<string, string>();
  #coordinator?: Connection;
  #heartbeatTimer?: NodeJS.Timeout;
  #expiryTimer?: NodeJS.Timeout;
  /** The coordinator's latest assignment (by topic id) while it waits to be applied. */
  #unapplied?: ReadonlyArray<{ topicId: string; partitions: number[] }>;
  /** Set while an assignment waits to be applied or assigned partitions wait for a leader. */
  #placeTimer?: NodeJS.Timeout;
  #placeAttempts = 0;
  #demand = 0;
  /** Records asked for by fetches in flight, so that sessions with several brokers together ask no more than the demand. */
  #asked = 0;
  #lockTimeoutMs = 30_000;
  #firstHeartbeat?: Promise<void>;
  #earlyHeartbeats = 0;

  constructor(
    private readonly client: Admin,
    private readonly options: BaseOptions,
    readonly groupId: string,
    readonly topics: readonly string[],
    private readonly versions: ShareVersions,
    private readonly tuning: ShareMemberTuning,
    private readonly events: ShareMemberEvents,
    private readonly logger: Logger,
    /** Connections to group coordinators, shared by the process's members: heartbeats are short requests. */
    private readonly control: ConnectionPool,
  ) {}

  get assignment(): readonly ShareTopicPartitions[] {
    return this.#assignment;
  }

  get heldCount(): number {
    return this.#held.size;
  }

  get lockTimeoutMs(): number {
    return this.#lockTimeoutMs;
  }

  /** Joins the group; resolves after the coordinator accepted the member (its assignment may come later). */
  start(): Promise<void> {
    if (this.#started) return this.#firstHeartbeat!;
    this.#started = true;
    this.#firstHeartbeat = this.#heartbeat(true);
    return this.#firstHeartbeat;
  }

  /** How many more records the owner wants; fetches ask for at most this many. */
  setDemand(records: number): void {
    const before = this.#demand;
    this.#demand = Math.max(0, records);
    if (this.#demand > 0 && before === 0) for (const session of this.#sessions.values()) session.signal();
  }

  /** Whether the member holds this record under a lock now. */
  holds(topic: string, partition: number, offset: bigint): boolean {
    return this.#held.has(`${partitionKey(topic, partition)}:${offset}`);
  }

  /**
   * Answers records it holds; resolves once the broker confirmed. Renew
   * keeps the record held with a fresh lock; the other outcomes end the hold.
   * Rejects with 404 for a record not held (never delivered here, answered
   * already, or its lock expired) before sending anything.
   */
  async answer(topic: string, partition: number, offsets: readonly bigint[], outcome: AckTypeName): Promise<void> {
    if (this.#stopped) throw new GatewayError('GW_ERR_CONFLICT', 'This share group member has stopped; its records go to other members.');
    const key = partitionKey(topic, partition);
    const missing = offsets.filter((offset) => !this.#held.has(`${key}:${offset}`));
    if (missing.length > 0) {
      throw new GatewayError('GW_ERR_NOT_FOUND', `${topic}/${partition} offset ${missing[0]} is not held here: it was never delivered to this subscription, was answered already, or its lock expired and the broker delivers it again.`);
    }
    const session = this.#sessionFor(topic, partition);
    if (!session) throw new GatewayError('GW_ERR_CONFLICT', `${topic}/${partition} is no longer assigned to this member; its records' locks expire and they are delivered again.`);
    const type = ACK_TYPE[outcome];
    if (outcome === 'renew' && this.versions.acknowledge < 2) throw new GatewayError('GW_ERR_BAD_REQUEST', 'This Kafka cluster cannot renew locks (it needs ShareAcknowledge v2, Kafka 4.2 or later).');
    if (outcome !== 'renew') for (const offset of offsets) this.#held.delete(`${key}:${offset}`);
    await Promise.all(
      offsets.map(
        (offset) =>
          new Promise<void>((resolve, reject) => {
            let list = session.acks.get(key);
            if (!list) session.acks.set(key, (list = []));
            list.push({ offset, type, done: (error) => (error ? reject(error) : resolve()) });
            session.signal();
          }),
      ),
    );
    if (outcome === 'renew') {
      const until = Date.now() + this.#lockTimeoutMs;
      for (const offset of offsets) {
        const held = this.#held.get(`${key}:${offset}`);
        if (held) held.lockExpiresAt = until;
      }
    }
  }

  /** Releases what it holds, closes its sessions and leaves the group; never rejects. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearTimeout(this.#heartbeatTimer);
    clearTimeout(this.#expiryTimer);
    clearTimeout(this.#placeTimer);
    const deadline = sleep(LEAVE_TIMEOUT_MS);
    const release = Promise.allSettled([...this.#sessions.values()].map((session) => this.#closeSession(session)));
    await Promise.race([release, deadline]);
    if (this.#epoch > 0 || this.#coordinator) {
      const leave = (async () => {
        const connection = this.#coordinator ?? (await coordinatorOf(this.client, this.control, this.groupId));
        await shareGroupHeartbeat(connection, this.groupId, this.memberId, -1, null);
      })().catch((error: unknown) => this.logger.debug({ err: error, groupId: this.groupId }, 'could not tell the share group this member left; it expires after the session timeout'));
      await Promise.race([leave, deadline]);
    }
    await Promise.allSettled([...this.#sessions.values()].map((s) => s.pool.close()));
    for (const session of this.#sessions.values()) {
      for (const list of session.acks.values()) for (const ack of list) ack.done(new GatewayError('GW_ERR_CONFLICT', 'The subscription ended before the answer reached Kafka; the record is delivered again.'));
      session.signal();
    }
    this.#held.clear();
  }

  /** Sends what is queued and releases everything still held, in one final request (epoch -1). */
  async #closeSession(session: ShareSession): Promise<void> {
    const connection = await session.pool.get(session.broker);
    const acks = new Map<string, PendingAck[]>();
    for (const [key, list] of session.acks) acks.set(key, [...list]);
    for (const held of this.#held.values()) {
      if (!session.partitions.has(partitionKey(held.topic, held.partition))) continue;
      const key = partitionKey(held.topic, held.partition);
      let list = acks.get(key);
      if (!list) acks.set(key, (list = []));
      list.push({ offset: held.offset, type: ACK_TYPE.release, done: () => undefined });
    }
    const partitions = [...acks].flatMap(([key, list]) => {
      const target = session.partitions.get(key);
      return target && list.length > 0 ? [{ topicId: target.topicId, partition: target.partition, batches: toBatches(list) }] : [];
    });
    if (session.epoch === 0) return; // no session was opened: nothing was acquired through it
    await shareAcknowledge(connection, this.versions.acknowledge, this.groupId, this.memberId, -1, partitions);
  }

  #sessionFor(topic: string, partition: number): ShareSession | undefined {
    const key = partitionKey(topic, partition);
    for (const session of this.#sessions.values()) if (session.partitions.has(key)) return session;
    return undefined;
  }

  // ------------------------------------------------------------ membership

  async #heartbeat(first = false): Promise<void> {
    if (this.#stopped) return;
    let next = 1000;
    try {
      this.#coordinator ??= await coordinatorOf(this.client, this.control, this.groupId);
      const answer = await shareGroupHeartbeat(this.#coordinator, this.groupId, this.memberId, this.#epoch, this.#epoch === 0 ? this.topics : null);
      next = await this.#onHeartbeat(answer);
    } catch (error) {
      if (error instanceof GatewayError && first) throw error;
      if (error instanceof GatewayError) {
        void this.stop();
        this.events.onFatal(error);
        return;
      }
      this.logger.debug({ err: error, groupId: this.groupId }, 'share group heartbeat failed; trying again');
      this.#coordinator = undefined;
      if (first) {
        // The coordinator may still be loading on a fresh cluster: the first join tries a few times before giving up.
        for (const delay of RETRY_DELAYS_MS) {
          await sleep(delay);
          if (this.#stopped) return;
          try {
            this.#coordinator = await coordinatorOf(this.client, this.control, this.groupId);
            const answer = await shareGroupHeartbeat(this.#coordinator, this.groupId, this.memberId, this.#epoch, this.topics);
            next = await this.#onHeartbeat(answer);
            this.#schedule(next);
            return;
          } catch (retryError) {
            if (retryError instanceof GatewayError) throw retryError;
            this.#coordinator = undefined;
          }
        }
        throw new GatewayError('GW_ERR_KAFKA_UNAVAILABLE', `The coordinator of share group ${JSON.stringify(this.groupId)} did not answer; retry shortly.`, { cause: error, retryAfterSeconds: 1 });
      }
    }
    this.#schedule(next);
  }

  #schedule(delayMs: number): void {
    if (this.#stopped) return;
    clearTimeout(this.#heartbeatTimer);
    this.#heartbeatTimer = setTimeout(() => void this.#heartbeat().catch(() => undefined), delayMs);
  }

  /** Applies one heartbeat answer; returns when to send the next. Throws a GatewayError for a refusal no retry mends. */
  async #onHeartbeat(answer: HeartbeatAnswer): Promise<number> {
    if (answer.errorCode !== 0) {
      const name = describeKafkaError(answer.errorCode);
      if (MEMBER_LOST.has(name)) {
        this.#epoch = 0;
        return 0;
      }
      if (name === 'NOT_COORDINATOR' || name === 'COORDINATOR_NOT_AVAILABLE' || name === 'COORDINATOR_LOAD_IN_PROGRESS') {
        this.#coordinator = undefined;
        return 250;
      }
      if (name === 'GROUP_AUTHORIZATION_FAILED' || name === 'TOPIC_AUTHORIZATION_FAILED') {
        throw new GatewayError('GW_ERR_FORBIDDEN', `Kafka refused the gateway access to share group ${JSON.stringify(this.groupId)} (${name}).`, { extensions: { kafkaError: name } });
      }
      if (name === 'GROUP_ID_NOT_FOUND' || name === 'INCONSISTENT_GROUP_PROTOCOL' || name === 'GROUP_MAX_SIZE_REACHED' || name === 'INVALID_REQUEST' || name === 'UNSUPPORTED_VERSION') {
        throw new GatewayError('GW_ERR_CONFLICT', `Kafka refused this member of share group ${JSON.stringify(this.groupId)}: ${name}${answer.errorMessage ? ` (${answer.errorMessage})` : ''}. A group id used by a consumer group cannot be a share group.`, {
          extensions: { kafkaError: name },
        });
      }
      this.logger.debug({ groupId: this.groupId, error: name, message: answer.errorMessage }, 'share group heartbeat refused; trying again');
      return 1000;
    }
    this.#epoch = answer.memberEpoch;
    if (answer.assignment) await this.#assign(answer.assignment);
    // The coordinator assigns a new member on its next pass, not in the join's answer: until partitions come,
    // asking sooner than the interval starts the member's work seconds earlier.
    if (this.#assignment.length === 0 && this.#earlyHeartbeats < 20) {
      this.#earlyHeartbeats += 1;
      return Math.min(250, answer.heartbeatIntervalMs);
    }
    return Math.max(100, answer.heartbeatIntervalMs);
  }

  /**
   * Takes a new assignment. The coordinator sends each one once, so one
   * that cannot be applied now (no metadata while a broker restarts) is
   * kept and applied again shortly, not dropped with the failed request.
   */
  async #assign(assignment: ReadonlyArray<{ topicId: string; partitions: number[] }>): Promise<void> {
    this.#unapplied = assignment;
    await this.#apply().catch((error: unknown) => {
      this.logger.debug({ err: error, groupId: this.groupId }, 'could not apply the share assignment yet; trying again shortly');
      this.#placeAgainSoon();
    });
  }

  /** Names the topics of an assignment not yet applied, then places every assigned partition. */
  async #apply(forceUpdate = false): Promise<void> {
    const assignment = this.#unapplied;
    if (assignment) {
      await this.#learnTopicIds(this.topics);
      if (this.#unapplied !== assignment || this.#stopped) return; // a newer one came meanwhile and applies itself
      const named: ShareTopicPartitions[] = [];
      for (const { topicId, partitions } of assignment) {
        const topic = this.#topicNames.get(topicId);
        if (topic !== undefined) named.push({ topic, partitions: [...partitions].sort((a, b) => a - b) });
      }
      this.#assignment = named.sort((a, b) => a.topic.localeCompare(b.topic));
      this.#unapplied = undefined;
      this.events.onAssignment?.(this.#assignment);
    }
    await this.#placeSessions(forceUpdate);
  }

  async #learnTopicIds(topics: readonly string[]): Promise<void> {
    const metadata = await this.client.metadata({ topics: [...topics], forceUpdate: true });
    for (const [name, topic] of metadata.topics) {
      this.#topicIds.set(name, topic.id);
      this.#topicNames.set(topic.id, name);
    }
  }

  /**
   * Puts each assigned partition in the session of the broker leading it;
   * partitions that moved or went are forgotten. A partition without a
   * leader now (a broker restarting) is placed again shortly: the group's
   * heartbeats say nothing while the assignment stays the same, so nothing
   * else would bring it back.
   */
  async #placeSessions(forceUpdate = false): Promise<void> {
    const metadata = await this.client.metadata({ topics: [...this.topics], forceUpdate });
    if (this.#stopped) return;
    const wanted = new Map<number, Map<string, { topic: string; topicId: string; partition: number }>>();
    let unplaced = 0;
    for (const { topic, partitions } of this.#assignment) {
      const info = metadata.topics.get(topic);
      if (!info) {
        unplaced += partitions.length;
        continue;
      }
      for (const partition of partitions) {
        const leader = info.partitions[partition]?.leader ?? -1;
        if (leader < 0 || !metadata.brokers.has(leader)) {
          unplaced += 1;
          continue;
        }
        let map = wanted.get(leader);
        if (!map) wanted.set(leader, (map = new Map()));
        map.set(partitionKey(topic, partition), { topic, topicId: info.id, partition });
      }
    }
    for (const [nodeId, session] of this.#sessions) {
      const keep = wanted.get(nodeId);
      for (const [key, target] of session.partitions) {
        if (!keep?.has(key)) {
          session.partitions.delete(key);
          session.forget.set(key, { topicId: target.topicId, partition: target.partition });
          // Records of a partition taken away are not this member's to answer any more: for the owner, their locks ended.
          const gone: Held[] = [];
          for (const [heldKey, held] of this.#held) {
            if (partitionKey(held.topic, held.partition) !== key) continue;
            this.#held.delete(heldKey);
            gone.push(held);
          }
          if (gone.length > 0) this.events.onLockExpired(gone.map(({ topic, partition, offset, deliveryCount }) => ({ topic, partition, offset, deliveryCount })));
        }
      }
    }
    for (const [nodeId, partitions] of wanted) {
      let session = this.#sessions.get(nodeId);
      if (!session) {
        const broker = metadata.brokers.get(nodeId);
        if (!broker) continue;
        session = new ShareSession({ nodeId, host: broker.host, port: broker.port }, this.options.clientId ?? 'gateway', this.options);
        this.#sessions.set(nodeId, session);
      }
      for (const [key, target] of partitions) {
        session.partitions.set(key, target);
        session.forget.delete(key);
      }
      if (!session.running) void this.#run(session);
      else session.signal();
    }
    if (unplaced > 0) {
      this.logger.debug({ groupId: this.groupId, partitions: unplaced }, 'assigned share partitions have no leader yet; placing them again shortly');
      this.#placeAgainSoon();
    } else {
      this.#placeAttempts = 0;
    }
  }

  /** Applies the assignment again after a pause that grows while it keeps failing. */
  #placeAgainSoon(): void {
    if (this.#placeTimer || this.#stopped) return;
    const delay = Math.min(PLACE_AGAIN_MS * 2 ** this.#placeAttempts, PLACE_AGAIN_MAX_MS);
    this.#placeAttempts += 1;
    this.#placeTimer = setTimeout(() => {
      this.#placeTimer = undefined;
      this.#apply(true).catch((error: unknown) => {
        this.logger.debug({ err: error, groupId: this.groupId }, 'could not place the share assignment yet; trying again shortly');
        this.#placeAgainSoon();
      });
    }, delay);
    this.#placeTimer.unref();
  }

  // ------------------------------------------------------------ sessions

  async #run(session: ShareSession): Promise<void> {
    session.running = true;
    let failures = 0;
    try {
      while (!this.#stopped) {
        const wantsRecords = this.#demand - this.#asked > 0 && session.partitions.size > 0;
        if (!wantsRecords && !session.hasAcks && session.forget.size === 0) {
          await new Promise<void>((resolve) => (session.wake = resolve));
          continue;
        }
        try {
          await this.#exchange(session, wantsRecords);
          failures = 0;
        } catch (error) {
          if (this.#stopped) break;
          failures += 1;
          this.logger.debug({ err: error, groupId: this.groupId, broker: session.broker.nodeId }, 'share fetch failed; trying again');
          session.epoch = 0;
          await sleep(RETRY_DELAYS_MS[Math.min(failures - 1, RETRY_DELAYS_MS.length - 1)]!);
          if (failures >= 3) await this.#placeSessions().catch(() => undefined);
        }
      }
    } finally {
      session.running = false;
    }
  }

  /** One request on a session: a fetch (with answers riding along) or a plain acknowledgement. */
  async #exchange(session: ShareSession, wantsRecords: boolean): Promise<void> {
    const connection = await session.pool.get(session.broker);
    // Answers taken now belong to this request: those queued meanwhile wait for the next.
    const taken = new Map<string, PendingAck[]>();
    for (const [key, list] of session.acks) {
      if (list.length > 0 && session.partitions.has(key)) taken.set(key, list.splice(0));
    }
    // A new session cannot carry answers: it opens first, and they go on the next request.
    const carrying = session.epoch === 0 ? new Map<string, PendingAck[]>() : taken;
    if (session.epoch === 0) for (const [key, list] of taken) session.acks.get(key)!.unshift(...list);
    const ackParts = [...carrying].map(([key, list]) => {
      const target = session.partitions.get(key)!;
      return { topicId: target.topicId, partition: target.partition, batches: toBatches(list), key };
    });
    const settle = (key: string, code: number, message: string | null) => {
      const list = carrying.get(key);
      if (!list) return;
      carrying.delete(key);
      const name = describeKafkaError(code);
      // INVALID_RECORD_STATE: the broker no longer counts the record as this member's (its lock ended first there).
      const error =
        code === 0
          ? undefined
          : new GatewayError(name === 'INVALID_RECORD_STATE' ? 'GW_ERR_CONFLICT' : 'GW_ERR_KAFKA_UNAVAILABLE', `Kafka did not take the answer: ${name}${message ? ` (${message})` : ''}. The record's lock expires and it is delivered again.`, {
              extensions: { kafkaError: name },
            });
      for (const ack of list) ack.done(error);
    };
    try {
      // Renewals go alone in a ShareAcknowledge: a ShareFetch flagged as renewing fetches nothing and leaves the renewed partitions out of its answer.
      const renewing = ackParts.some((a) => a.batches.some((b) => b.types.includes(ACK_TYPE.renew)));
      if (!renewing && (wantsRecords || session.epoch === 0 || session.forget.size > 0)) {
        const forget = [...session.forget.values()];
        const maxRecords = wantsRecords ? Math.max(1, Math.min(this.#demand - this.#asked, 10_000)) : 0;
        const partitions = [...session.partitions.entries()].map(([key, target]) => ({
          topicId: target.topicId,
          partition: target.partition,
          batches: ackParts.find((a) => a.key === key)?.batches ?? [],
        }));
        this.#asked += maxRecords;
        const answer = await shareFetch(connection, this.versions.fetch, {
          groupId: this.groupId,
          memberId: this.memberId,
          epoch: session.epoch,
          // Only acknowledging or opening: no wait, so answers are not held back.
          maxWaitMs: wantsRecords ? this.tuning.fetchMaxWaitMs : 0,
          maxBytes: this.tuning.maxBytes,
          maxRecords: Math.max(1, maxRecords),
          // A session opened only to carry answers next lists its partitions too (answers need them in the session);
          // it may acquire a record nobody asked for, which the owner then holds until it answers or the lock ends.
          partitions: wantsRecords || session.epoch === 0 ? partitions : partitions.filter((p) => p.batches.length > 0),
          forget,
        }).finally(() => (this.#asked -= maxRecords));
        if (answer.errorCode !== 0) {
          const name = describeKafkaError(answer.errorCode);
          if (SESSION_LOST.has(name)) session.epoch = 0;
          throw new Error(`ShareFetch refused: ${name}${answer.errorMessage ? ` (${answer.errorMessage})` : ''}`);
        }
        session.epoch = nextEpoch(session.epoch);
        for (const f of forget) session.forget.delete(partitionKey(this.#topicNames.get(f.topicId) ?? '', f.partition));
        if (answer.lockTimeoutMs > 0) this.#lockTimeoutMs = answer.lockTimeoutMs;
        const delivered: ShareRecord[] = [];
        const lapsed: Held[] = [];
        let moved = false;
        for (const part of answer.partitions) {
          const topic = this.#topicNames.get(part.topicId);
          if (topic === undefined) continue;
          const key = partitionKey(topic, part.partition);
          settle(key, part.acknowledgeErrorCode, part.acknowledgeErrorMessage);
          if (part.errorCode !== 0) {
            const name = describeKafkaError(part.errorCode);
            if (name === 'NOT_LEADER_OR_FOLLOWER' || name === 'UNKNOWN_TOPIC_OR_PARTITION' || name === 'FENCED_LEADER_EPOCH') moved = true;
            this.logger.debug({ groupId: this.groupId, topic, partition: part.partition, error: name }, 'share fetch partition error');
            continue;
          }
          if (part.acquired.length === 0 || !session.partitions.has(key)) continue;
          const expires = Date.now() + this.#lockTimeoutMs;
          const { records } = decodeBatches(topic, part.partition, part.batches, part.acquired[0]!.firstOffset);
          for (const record of records) {
            const range = part.acquired.find((r) => record.offset >= r.firstOffset && record.offset <= r.lastOffset);
            if (!range) continue;
            const shareRecord: ShareRecord = { ...record, deliveryCount: range.deliveryCount, lockExpiresAt: expires };
            const earlier = this.#held.get(`${key}:${record.offset}`);
            // The broker's clock ended the old lock before this process's did: that delivery expired.
            if (earlier) lapsed.push(earlier);
            this.#held.set(`${key}:${record.offset}`, { topic, partition: part.partition, offset: record.offset, deliveryCount: range.deliveryCount, lockExpiresAt: expires });
            delivered.push(shareRecord);
          }
          // Acquired offsets that hold no record (transaction markers, compacted gaps) are answered as gaps at once.
          const gaps: bigint[] = [];
          for (const range of part.acquired) for (let o = range.firstOffset; o <= range.lastOffset; o++) if (!this.#held.has(`${key}:${o}`)) gaps.push(o);
          if (gaps.length > 0) {
            let list = session.acks.get(key);
            if (!list) session.acks.set(key, (list = []));
            for (const offset of gaps) list.push({ offset, type: ACK_TYPE.gap, done: () => undefined });
          }
        }
        // The broker names every partition whose answers failed; those it leaves out were taken.
        for (const key of [...carrying.keys()]) settle(key, 0, null);
        if (moved) await this.#placeSessions().catch(() => undefined);
        if (lapsed.length > 0) this.events.onLockExpired(lapsed.map(({ topic, partition, offset, deliveryCount }) => ({ topic, partition, offset, deliveryCount })));
        if (delivered.length > 0) {
          this.#armExpiry();
          this.events.onRecords(delivered);
        }
      } else {
        const answer = await shareAcknowledge(
          connection,
          this.versions.acknowledge,
          this.groupId,
          this.memberId,
          session.epoch,
          ackParts.map(({ topicId, partition, batches }) => ({ topicId, partition, batches })),
        );
        if (answer.errorCode !== 0) {
          const name = describeKafkaError(answer.errorCode);
          if (SESSION_LOST.has(name)) session.epoch = 0;
          throw new Error(`ShareAcknowledge refused: ${name}`);
        }
        session.epoch = nextEpoch(session.epoch);
        for (const part of answer.partitions) {
          const topic = this.#topicNames.get(part.topicId);
          if (topic !== undefined) settle(partitionKey(topic, part.partition), part.errorCode, part.errorMessage);
        }
        for (const key of [...carrying.keys()]) settle(key, 0, null);
      }
    } finally {
      // Answers the broker said nothing about (a failed request): their outcome is unknown, and their locks decide.
      for (const key of [...carrying.keys()]) settle(key, 15 /* COORDINATOR_NOT_AVAILABLE stands for "no answer" */, 'no answer from the broker');
    }
  }

  #armExpiry(): void {
    if (this.#expiryTimer || this.#stopped) return;
    let soonest = Infinity;
    for (const held of this.#held.values()) soonest = Math.min(soonest, held.lockExpiresAt);
    if (soonest === Infinity) return;
    this.#expiryTimer = setTimeout(
      () => {
        this.#expiryTimer = undefined;
        const now = Date.now();
        const expired: Held[] = [];
        for (const [key, held] of this.#held) {
          if (held.lockExpiresAt <= now) {
            this.#held.delete(key);
            expired.push(held);
          }
        }
        if (expired.length > 0) this.events.onLockExpired(expired.map(({ topic, partition, offset, deliveryCount }) => ({ topic, partition, offset, deliveryCount })));
        this.#armExpiry();
      },
      Math.max(0, soonest - Date.now()),
    );
    this.#expiryTimer.unref();
  }
}

/** Share session epochs wrap to 1, never to 0 (which opens a session) or -1 (which closes it). */
function nextEpoch(epoch: number): number {
  return epoch >= 0x7fffffff ? 1 : epoch + 1;
}

/** Answers of one partition as acknowledgement batches: consecutive offsets with one type each become one range. */
export function toBatches(acks: ReadonlyArray<{ offset: bigint; type: number }>): AckBatch[] {
  const sorted = [...acks].sort((a, b) => (a.offset < b.offset ? -1 : a.offset > b.offset ? 1 : 0));
  const batches: Array<{ firstOffset: bigint; lastOffset: bigint; types: number[] }> = [];
  for (const { offset, type } of sorted) {
    const last = batches.at(-1);
    if (last && last.lastOffset === offset) continue; // the same offset twice: the first answer stands
    if (last && last.lastOffset + 1n === offset && last.types.length === 1 && last.types[0] === type) last.lastOffset = offset;
    else batches.push({ firstOffset: offset, lastOffset: offset, types: [type] });
  }
  return batches;
}
