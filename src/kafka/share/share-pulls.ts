/**
 * Queues for stateless workers (HTTP pull): take up to N records of a
 * share group, waiting up to a timeout, then answer them later by the
 * receipt each record came with.
 *
 * Kafka ties an acquisition to the share group member that fetched it, so
 * an answer must reach the process holding that member. Each process
 * keeps one member per (group, topics) for its pulls, idle ones stopped
 * after `idleMs`; each receipt names the gateway instance that holds the
 * record. An answer that lands on another instance is refused (409) and
 * changes nothing: the record's lock expires and Kafka delivers it again,
 * its delivery count one higher. Run one instance, or route by the
 * instance the receipt names (the `X-Gateway-Instance` response header, as
 * a sticky-session key).
 */
import { randomBytes } from 'node:crypto';
import { GatewayError, type Logger } from '../../common/index.js';
import type { ShareGroups } from './share-groups.js';
import type { ShareMember, ShareRecord } from './share-member.js';
import type { AckTypeName } from './share-wire.js';

export interface TakenRecord {
  readonly record: ShareRecord;
  /** Opaque: answers name the record by it. */
  readonly receipt: string;
}

export interface AnswerResult {
  readonly receipt: string;
  readonly ok: boolean;
  readonly status?: number;
  readonly detail?: string;
}

export interface TakeRequest {
  readonly group: string;
  readonly topics: readonly string[];
  readonly max: number;
  readonly waitMs: number;
  /** Where the gateway writes rejected records on brokers without dead-letter topics of their own. */
  readonly deadLetterTopic?: string;
  /** Who takes: only they may answer. */
  readonly owner: string;
  /** The caller went away: stop waiting, and give back whatever it would have got. */
  readonly signal?: AbortSignal;
}

interface Waiter {
  readonly max: number;
  readonly resolve: (records: ShareRecord[]) => void;
}

interface Puller {
  readonly key: string;
  readonly id: string;
  readonly group: string;
  readonly member: ShareMember;
  readonly started: Promise<void>;
  /** Delivered by Kafka and not yet handed to a take (their locks run meanwhile). */
  readonly ready: ShareRecord[];
  /** Handed out and not yet answered, by receipt. */
  readonly out: Map<string, { record: ShareRecord; deadLetterTopic?: string; owner: string }>;
  readonly waiters: Waiter[];
  lastUsed: number;
}

/** Receipts are `<instance>.<puller>.<offset>.<partition>.<topic>`: the topic last, as it may hold dots. */
const RECEIPT = /^([A-Za-z0-9_-]{1,64})\.([A-Za-z0-9_-]{1,64})\.(0|[1-9][0-9]{0,18})\.(0|[1-9][0-9]{0,9})\.([A-Za-z0-9._-]{1,249})$/;

export class SharePulls {
  /** This process, as receipts and the X-Gateway-Instance header name it. */
  readonly instance: string;
  readonly #pullers = new Map<string, Puller>();
  readonly #sweeper: NodeJS.Timeout;
  #closed = false;

  constructor(
    private readonly groups: ShareGroups,
    private readonly options: { readonly idleMs: number; readonly maxPullers: number; readonly instance?: string },
    private readonly logger: Logger,
  ) {
    this.instance = options.instance ?? randomBytes(6).toString('base64url');
    this.#sweeper = setInterval(() => this.#sweep(), Math.max(1000, Math.floor(options.idleMs / 2)));
    this.#sweeper.unref();
  }

  /** Up to `max` records, as soon as any are there or when `waitMs` has passed (then maybe none). */
  async take(request: TakeRequest): Promise<{ records: TakenRecord[]; lockDurationMs: number }> {
    if (this.#closed) throw new GatewayError('GW_ERR_SHUTTING_DOWN', 'The gateway is shutting down.');
    const puller = await this.#puller(request.group, request.topics);
    puller.lastUsed = Date.now();
    let records = puller.ready.splice(0, request.max);
    if (records.length === 0 && request.waitMs > 0 && !request.signal?.aborted) {
      records = await new Promise<ShareRecord[]>((resolve) => {
        const waiter: Waiter = { max: request.max, resolve };
        puller.waiters.push(waiter);
        this.#demand(puller);
        const giveUp = () => {
          clearTimeout(timer);
          request.signal?.removeEventListener('abort', giveUp);
          const index = puller.waiters.indexOf(waiter);
          if (index >= 0) {
            puller.waiters.splice(index, 1);
            resolve([]);
          }
          this.#demand(puller);
        };
        const timer = setTimeout(giveUp, request.waitMs);
        timer.unref();
        request.signal?.addEventListener('abort', giveUp, { once: true });
      });
    }
    if (request.signal?.aborted && records.length > 0) {
      // Nobody will see these: they go back to the group at once rather than after their locks.
      for (const record of records) void puller.member.answer(record.topic, record.partition, [record.offset], 'release').catch(() => undefined);
      records = [];
    }
    puller.lastUsed = Date.now();
    this.#demand(puller);
    const taken = records.map((record) => {
      const receipt = `${this.instance}.${puller.id}.${record.offset}.${record.partition}.${record.topic}`;
      puller.out.set(receipt, { record, deadLetterTopic: request.deadLetterTopic, owner: request.owner });
      return { record, receipt };
    });
    return { records: taken, lockDurationMs: puller.member.lockTimeoutMs };
  }

  /** Answers records by receipt; one result per receipt, in order. Never rejects for one bad receipt. */
  async answer(group: string, owner: string, answers: ReadonlyArray<{ receipt: string; outcome: AckTypeName; reason?: string }>): Promise<AnswerResult[]> {
    return Promise.all(
      answers.map(async ({ receipt, outcome, reason }): Promise<AnswerResult> => {
        try {
          await this.#answerOne(group, owner, receipt, outcome, reason);
          return { receipt, ok: true };
        } catch (error) {
          const gatewayError = error instanceof GatewayError ? error : new GatewayError('GW_ERR_KAFKA_UNAVAILABLE', 'Kafka did not take the answer; the record is delivered again when its lock expires.', { cause: error });
          if (!(error instanceof GatewayError)) this.logger.debug({ err: error, group }, 'share answer failed');
          return { receipt, ok: false, status: gatewayError.status, detail: gatewayError.message };
        }
      }),
    );
  }

  async #answerOne(group: string, owner: string, receipt: string, outcome: AckTypeName, reason?: string): Promise<void> {
    const match = RECEIPT.exec(receipt);
    if (!match) throw new GatewayError('GW_ERR_VALIDATION', 'Not a receipt this gateway gave out.');
    const [, instance, pullerId, offsetText, partitionText, topic] = match;
    if (instance !== this.instance) {
      throw new GatewayError(
        'GW_ERR_CONFLICT',
        `This record was taken through gateway instance ${instance}, and this is ${this.instance}: only that instance can answer it. Nothing changed; its lock expires and Kafka delivers it again. Route answers by the X-Gateway-Instance header of the take.`,
      );
    }
    const puller = [...this.#pullers.values()].find((p) => p.id === pullerId && p.group === group);
    const held = puller?.out.get(receipt);
    if (!puller || !held || held.owner !== owner) {
      throw new GatewayError('GW_ERR_NOT_FOUND', `No record held for this receipt in share group ${JSON.stringify(group)}: it was answered already, or its lock expired and Kafka delivers it again.`);
    }
    const offset = BigInt(offsetText!);
    const partition = Number(partitionText);
    puller.lastUsed = Date.now();
    if (outcome === 'reject' && held.deadLetterTopic !== undefined && (await this.groups.deadLetterMode()) === 'gateway') {
      const { record } = held;
      await this.groups.writeDeadLetter(held.deadLetterTopic, {
        topic: topic!,
        partition,
        offset,
        deliveryCount: record.deliveryCount,
        group,
        reason: reason ?? 'Offset rejected by client.',
        key: record.key,
        value: record.value,
      });
    }
    if (outcome !== 'renew') puller.out.delete(receipt);
    try {
      await puller.member.answer(topic!, partition, [offset], outcome);
    } finally {
      this.#demand(puller);
    }
  }

  async #puller(group: string, topics: readonly string[]): Promise<Puller> {
    const key = `${group}\u0000${[...topics].sort().join('\u0000')}`;
    const existing = this.#pullers.get(key);
    if (existing) {
      await existing.started;
      return existing;
    }
    if (this.#pullers.size >= this.options.maxPullers) {
      throw new GatewayError('GW_ERR_TOO_MANY_REQUESTS', `This gateway pulls for at most ${this.options.maxPullers} share groups and topic sets at once; retry shortly.`, { retryAfterSeconds: 1 });
    }
    // Filled in below; the member's events arrive only after start().
    const holder: { puller?: Puller } = {};
    const member = await this.groups.member(group, topics, {
      onRecords: (records) => holder.puller && this.#arrived(holder.puller, records),
      onLockExpired: (records) => {
        const puller = holder.puller;
        if (!puller) return;
        const gone = new Set(records.map((r) => `${r.topic}:${r.partition}:${r.offset}`));
        for (const [receipt, { record }] of puller.out) if (gone.has(`${record.topic}:${record.partition}:${record.offset}`)) puller.out.delete(receipt);
        for (let i = puller.ready.length - 1; i >= 0; i--) {
          const record = puller.ready[i]!;
          if (gone.has(`${record.topic}:${record.partition}:${record.offset}`)) puller.ready.splice(i, 1);
        }
        this.#demand(puller);
      },
      onFatal: (error) => {
        this.logger.warn({ err: error, group }, 'share group pull member stopped');
        if (holder.puller && this.#pullers.get(key) === holder.puller) this.#pullers.delete(key);
      },
    });
    const again = this.#pullers.get(key);
    if (again) {
      // Another take made one meanwhile.
      void member.stop();
      await again.started;
      return again;
    }
    const puller: Puller = { key, id: randomBytes(6).toString('base64url'), group, member, started: member.start(), ready: [], out: new Map(), waiters: [], lastUsed: Date.now() };
    holder.puller = puller;
    this.#pullers.set(key, puller);
    try {
      await puller.started;
    } catch (error) {
      if (this.#pullers.get(key) === puller) this.#pullers.delete(key);
      await member.stop();
      throw error;
    }
    return puller;
  }

  #arrived(puller: Puller, records: readonly ShareRecord[]): void {
    puller.ready.push(...records);
    while (puller.waiters.length > 0 && puller.ready.length > 0) {
      const waiter = puller.waiters.shift()!;
      waiter.resolve(puller.ready.splice(0, waiter.max));
    }
    this.#demand(puller);
  }

  /** Kafka is asked for records only while a take waits for them, never more than the waiting takes want. */
  #demand(puller: Puller): void {
    const wanted = puller.waiters.reduce((sum, w) => sum + w.max, 0) - puller.ready.length;
    puller.member.setDemand(Math.max(0, wanted));
  }

  /** Stops members nobody has used for idleMs; what they hold goes back to the group at once. */
  #sweep(): void {
    const now = Date.now();
    for (const [key, puller] of this.#pullers) {
      if (puller.waiters.length > 0 || now - puller.lastUsed < this.options.idleMs) continue;
      if (puller.out.size > 0 && now - puller.lastUsed < this.options.idleMs + puller.member.lockTimeoutMs) continue;
      this.#pullers.delete(key);
      void puller.member.stop();
    }
  }

  get size(): number {
    return this.#pullers.size;
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#sweeper);
    const pullers = [...this.#pullers.values()];
    this.#pullers.clear();
    for (const puller of pullers) for (const waiter of puller.waiters.splice(0)) waiter.resolve([]);
    await Promise.allSettled(pullers.map((p) => p.member.stop()));
  }
}
