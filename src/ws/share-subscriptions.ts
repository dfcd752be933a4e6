/**
 * Share group subscriptions of one WebSocket connection: a subscribe frame
 * naming `shareGroup` makes a member of that share group (a Kafka queue),
 * whose records carry their delivery count and lock expiry, and which the
 * client answers record by record (or by range) with an `answer` frame:
 * accept, release, reject or renew.
 *
 * Flow control: the member asks the broker for no more records than the
 * client may hold, its credit when it uses credit, else `maxHeld`; records
 * held count until answered or their lock expires. Unsent bytes are
 * bounded as on every subscription: while the socket is congested the
 * member asks for nothing.
 */
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import type { AuthService, Principal } from '../auth/index.js';
import { GatewayError, type Logger } from '../common/index.js';
import { authorizeShareGroup } from '../edge-rules/index.js';
import type { ShareGroups, ShareMember, ShareOutcome, ShareRecord } from '../kafka/index.js';
import { encodedBody, ownedConcat, type FrameForm } from '../records/index.js';
import type { AnswerFrame, SubscribeFrame } from './frames.js';

/** Records a share subscription without credit holds unanswered at most. */
export const DEFAULT_MAX_HELD = 100;
/** Offsets one answer frame may cover. */
export const MAX_ANSWER_RANGE = 10_000;

export interface ShareSocketDeps {
  readonly socket: WebSocket;
  readonly transport: Duplex;
  readonly principal: Principal;
  readonly auth: AuthService;
  readonly shareGroups: ShareGroups;
  readonly requireTopic: (topic: string) => Promise<void>;
  readonly maxBufferedBytes: number;
  readonly logger: Logger;
  /** Sends a frame (an object, or bytes already encoded). */
  readonly send: (frame: unknown) => void;
  readonly sendError: (error: unknown, id?: string) => void;
}

interface ShareSub {
  readonly id: string;
  readonly group: string;
  readonly member: ShareMember;
  readonly form: FrameForm;
  readonly deadLetterTopic?: string;
  /** Records the client may still be sent; undefined without credit. */
  credit: number | undefined;
  /** Delivered and not yet answered or expired. */
  held: number;
  active: boolean;
}


export class ShareSubscriptions {
  readonly #subs = new Map<string, ShareSub>();
  #waitingForDrain = false;
  #closed = false;

  constructor(private readonly deps: ShareSocketDeps) {}

  get size(): number {
    return this.#subs.size;
  }

  has(id: string): boolean {
    return this.#subs.has(id) || this.#starting.has(id);
  }

  /** Ids of subscriptions still being made, so that a second frame with the same id is refused meanwhile. */
  readonly #starting = new Set<string>();

  /** Opens a share subscription; the caller has checked the id is free and the subscription limit. */
  async subscribe(frame: SubscribeFrame, form: FrameForm): Promise<void> {
    const { id, topics } = frame;
    const group = frame.shareGroup!;
    for (const [field, present] of [
      ['group', frame.group !== undefined],
      ['from', frame.from !== undefined],
      ['ack', frame.ack !== undefined],
      ['keys', frame.keys !== undefined],
    ] as const) {
      if (present) {
        throw new GatewayError('GW_ERR_VALIDATION', `A share group subscription takes no ${field}: every record is answered one by one, and the group decides where reading starts.`, {
          errors: [{ pointer: `/${field}`, message: 'is not allowed with shareGroup' }],
        });
      }
    }
    for (const topic of topics) this.deps.auth.authorize(this.deps.principal, 'consume', topic);
    authorizeShareGroup(this.deps.auth, this.deps.principal, group);
    if (frame.deadLetterTopic !== undefined) this.deps.auth.authorize(this.deps.principal, 'produce', frame.deadLetterTopic);
    this.deps.auth.checkRate(this.deps.principal);
    // The member's events find their subscription by id, and only while it is still this member's.
    const mine = (): ShareSub | undefined => {
      const found = this.#subs.get(id);
      return found?.member === member ? found : undefined;
    };
    this.#starting.add(id);
    const member: ShareMember = await this.deps.shareGroups.member(group, topics, {
      onRecords: (records) => {
        const sub = mine();
        if (sub) this.#deliver(sub, records);
      },
      onLockExpired: (records) => {
        const sub = mine();
        if (!sub) return;
        sub.held = Math.max(0, sub.held - records.length);
        this.deps.send({ op: 'lockExpired', sub: id, records: records.map((r) => ({ topic: r.topic, partition: r.partition, offset: String(r.offset), deliveryCount: r.deliveryCount })) });
        this.#demand(sub);
      },
      onAssignment: (assignment) => {
        if (mine()?.active) this.deps.send({ op: 'assigned', sub: id, partitions: assignment });
      },
      onFatal: (error) => {
        if (!mine()) return;
        this.deps.sendError(error, id);
        void this.unsubscribe(id).catch(() => undefined);
      },
    }).finally(() => this.#starting.delete(id));
    const sub: ShareSub = { id, group, member, form, deadLetterTopic: frame.deadLetterTopic, credit: frame.credit, held: 0, active: false };
    if (this.#closed) {
      await member.stop();
      return;
    }
    this.#subs.set(id, sub);
    try {
      for (const topic of topics) await this.deps.requireTopic(topic);
      if (frame.deadLetterTopic !== undefined) await this.deps.requireTopic(frame.deadLetterTopic);
      await member.start();
      if (this.#subs.get(id) !== sub) return;
      sub.active = true;
      this.deps.send({ op: 'subscribed', id, group: null, shareGroup: group, ephemeral: false, partitions: member.assignment, lockDurationMs: member.lockTimeoutMs });
      this.#demand(sub);
    } catch (error) {
      if (this.#subs.get(id) === sub) this.#subs.delete(id);
      await member.stop();
      throw error;
    }
  }

  credit(id: string, n: number): boolean {
    const sub = this.#subs.get(id);
    if (!sub) return false;
    sub.credit = (sub.credit ?? 0) + n;
    this.#demand(sub);
    return true;
  }

  /** Answers one record, or every record from `offset` to `lastOffset`; sends `answered` when the frame has an id. */
  async answer(frame: AnswerFrame): Promise<void> {
    const sub = this.#subs.get(frame.sub);
    if (!sub?.active) throw new GatewayError('GW_ERR_NOT_FOUND', `No share group subscription ${JSON.stringify(frame.sub)} on this connection.`);
    const first = BigInt(frame.offset);
    const last = frame.lastOffset === undefined ? first : BigInt(frame.lastOffset);
    if (last < first) throw new GatewayError('GW_ERR_VALIDATION', 'lastOffset is before offset.', { errors: [{ pointer: '/lastOffset', message: 'must not be less than offset' }] });
    if (last - first >= BigInt(MAX_ANSWER_RANGE)) {
      throw new GatewayError('GW_ERR_VALIDATION', `One answer covers at most ${MAX_ANSWER_RANGE} offsets.`, { errors: [{ pointer: '/lastOffset', message: `at most ${MAX_ANSWER_RANGE - 1} after offset` }] });
    }
    const offsets: bigint[] = [];
    for (let o = first; o <= last; o++) offsets.push(o);
    const outcome: ShareOutcome = frame.outcome;
    if (outcome === 'reject' && sub.deadLetterTopic !== undefined && (await this.deps.shareGroups.deadLetterMode()) === 'gateway') {
      await this.#deadLetter(sub, frame, offsets);
    }
    // Counted out before the broker confirms: the records are no longer the client's either way.
    if (outcome !== 'renew') sub.held = Math.max(0, sub.held - offsets.length);
    try {
      await sub.member.answer(frame.topic, frame.partition, offsets, outcome);
    } finally {
      this.#demand(sub);
    }
    if (frame.id !== undefined) this.deps.send({ op: 'answered', id: frame.id, sub: frame.sub, outcome, topic: frame.topic, partition: frame.partition, offset: frame.offset, lastOffset: String(last) });
  }

  /** The gateway's dead letters, for brokers without their own: written before the reject is sent, so none is lost. */
  async #deadLetter(sub: ShareSub, frame: AnswerFrame, offsets: readonly bigint[]): Promise<void> {
    const records = this.#kept.get(sub.id);
    for (const offset of offsets) {
      if (!sub.member.holds(frame.topic, frame.partition, offset)) continue;
      const record = records?.get(`${frame.topic}:${frame.partition}:${offset}`);
      await this.deps.shareGroups.writeDeadLetter(sub.deadLetterTopic!, {
        topic: frame.topic,
        partition: frame.partition,
        offset,
        deliveryCount: record?.deliveryCount ?? 0,
        group: sub.group,
        reason: frame.reason ?? 'Offset rejected by client.',
        key: record?.key ?? null,
        value: record?.value ?? null,
      });
    }
  }

  /** Held records by key, kept only for subscriptions whose dead letters the gateway writes. */
  readonly #kept = new Map<string, Map<string, ShareRecord>>();

  #deliver(sub: ShareSub, records: readonly ShareRecord[]): void {
    if (this.#subs.get(sub.id) !== sub) return;
    if (sub.deadLetterTopic !== undefined) {
      let kept = this.#kept.get(sub.id);
      if (!kept) this.#kept.set(sub.id, (kept = new Map()));
      for (const record of records) kept.set(`${record.topic}:${record.partition}:${record.offset}`, record);
      // Bounded by what the member holds: entries it no longer holds go.
      if (kept.size > 4 * (sub.held + records.length) + 100) {
        for (const [key, record] of kept) if (!sub.member.holds(record.topic, record.partition, record.offset)) kept.delete(key);
      }
    }
    for (const record of records) {
      sub.held += 1;
      if (sub.credit !== undefined) sub.credit = Math.max(0, sub.credit - 1);
      const prefix = Buffer.from(`{"op":"record","sub":${JSON.stringify(sub.id)},"deliveryCount":${record.deliveryCount},"lockExpiresAt":${record.lockExpiresAt},`);
      this.deps.send(ownedConcat([prefix, encodedBody(record, sub.form).subarray(1)]));
    }
    this.#demand(sub);
  }

  /** Tells the member how many more records this client may take now. */
  #demand(sub: ShareSub): void {
    if (!sub.active || this.#closed) return sub.member.setDemand(0);
    if (this.deps.socket.bufferedAmount >= this.deps.maxBufferedBytes) {
      sub.member.setDemand(0);
      if (!this.#waitingForDrain) {
        this.#waitingForDrain = true;
        this.deps.transport.once('drain', () => {
          this.#waitingForDrain = false;
          for (const each of this.#subs.values()) this.#demand(each);
        });
      }
      return;
    }
    const room = sub.credit === undefined ? DEFAULT_MAX_HELD - sub.held : sub.credit;
    sub.member.setDemand(Math.max(0, room));
  }

  /** Ends a share subscription: what it holds is released to other members at once. */
  async unsubscribe(id: string): Promise<void> {
    const sub = this.#subs.get(id);
    if (!sub) throw new GatewayError('GW_ERR_NOT_FOUND', `No subscription ${JSON.stringify(id)} on this connection.`);
    this.#subs.delete(id);
    this.#kept.delete(id);
    sub.active = false;
    await sub.member.stop();
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.allSettled([...this.#subs.keys()].map((id) => this.unsubscribe(id)));
  }
}
