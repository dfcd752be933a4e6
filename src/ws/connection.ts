import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import type { AuthService, Principal } from '../auth/index.js';
import type { Config } from '../config.js';
import { ERRORS, GatewayError, toCloseReason, toErrorFrame, toGatewayError, type Logger } from '../common/index.js';
import type { AckMode, ConsumedRecord, PartitionHandle, ShareGroups, StartPosition, Subscription, SubscriptionEngine, TopicPartitions } from '../kafka/index.js';
import { startFromFrame } from '../edge-rules/index.js';
import { encodedBody, type FrameForm } from '../records/index.js';
import type { WireDecoder } from '../schema/index.js';
import { checkFrame, frameId, frameSub, type AckFrame, framePrefix, keyFilter, multiplexedFrame, readFrame, type KeyFormat, type ProduceFrame, type SubscribeFrame } from './frames.js';
import type { SendTurns, TurnTaker } from './send-turns.js';
import { ShareSubscriptions } from './share-subscriptions.js';

/** Produces records for a `produce` frame exactly as the HTTP route does (schema checks included). */
/** What a produce frame says about its formats and, for registry formats, their schemas. */
export type ProduceFormats = Pick<ProduceFrame, 'keyFormat' | 'valueFormat' | 'keySchemaId' | 'keySubject' | 'keySchemaVersion' | 'valueSchemaId' | 'valueSubject' | 'valueSchemaVersion'>;
export type ProduceRecords = (topic: string, records: readonly unknown[], formats: ProduceFormats) => Promise<unknown>;

export interface ConnectionDeps {
  readonly config: Config['ws'];
  readonly logger: Logger;
  readonly auth: AuthService;
  readonly subscriptions: SubscriptionEngine;
  /** Throws a 404 GatewayError for a topic that does not exist. */
  readonly requireTopic: (topic: string) => Promise<void>;
  readonly produce?: ProduceRecords;
  /** Share groups (queues), for subscriptions naming `shareGroup`; absent where the gateway offers none. */
  readonly shareGroups?: ShareGroups;
  /** Called once the connection has closed and released everything. */
  readonly onClosed: (connection: Connection) => void;
  /** Decodes records in the schema registry wire format. */
  readonly wire?: WireDecoder;
  /** Where connections with records queued take turns to write them (send-turns.ts); one per process. */
  readonly turns: SendTurns;
}

/** The single-topic endpoint: one subscription made at connect; every frame is a bare record. */
export interface SingleTopic {
  readonly topic: string;
  readonly group?: string;
  readonly from: StartPosition;
  readonly form: FrameForm;
  /** Only records with one of these keys. */
  readonly keys?: readonly string[];
  readonly keyFormat?: KeyFormat;
}

/** Records of one partition handed over by the engine, sent one by one. */
interface QueuedBatch {
  readonly from: PartitionHandle;
  readonly records: readonly ConsumedRecord[];
  next: number;
  bytes: number;
}

interface SocketSubscription {
  readonly id: string;
  readonly kafka: Subscription;
  readonly form: FrameForm;
  /** The frame start naming this subscription, made once. */
  readonly prefix: Buffer;
  /** Whether writes must be confirmed before a record counts as delivered (auto commits of a durable group). */
  readonly confirmWrites: boolean;
  /** Records the client has granted; undefined when it does not use credit. */
  credit: number | undefined;
  readonly queue: QueuedBatch[];
  queuedRecords: number;
  /** Set once `subscribed` went out; records flow only after it. */
  active: boolean;
  /** The client asked for an `acked` frame for every commit the group has durably taken. */
  readonly receipts: boolean;
}

/** Close codes the gateway ends a connection with itself, from the one error table (docs/websocket.md lists them). */
export const CLOSE = { goingAway: ERRORS.GW_ERR_SHUTTING_DOWN.wsCloseCode, tokenExpired: ERRORS.GW_ERR_UNAUTHENTICATED.wsCloseCode } as const;

/**
 * One client's socket: its subscriptions, their queues and credit, flow
 * control against the socket's unsent bytes, keepalive, and cleanup that
 * leaves nothing behind in the gateway or the broker.
 */
export class Connection implements TurnTaker {
  readonly #subs = new Map<string, SocketSubscription>();
  #alive = true;
  #congested = false;
  #closing?: Promise<void>;
  #expiryTimer?: NodeJS.Timeout;
  #corked = false;
  #queuedBytes = 0;
  /** The most bytes this connection ever held unsent, for tests and metrics. */
  peakBufferedBytes = 0;
  /** Subscriptions to share groups, which answer record by record (share-subscriptions.ts). */
  readonly #shares?: ShareSubscriptions;

  /** `transport` is the TCP socket under `socket`, held to write many frames at once. */
  constructor(
    readonly socket: WebSocket,
    private readonly transport: Duplex,
    readonly principal: Principal,
    private readonly deps: ConnectionDeps,
    readonly single?: SingleTopic,
  ) {
    if (deps.shareGroups) {
      this.#shares = new ShareSubscriptions({
        socket,
        transport,
        principal,
        auth: deps.auth,
        shareGroups: deps.shareGroups,
        requireTopic: deps.requireTopic,
        maxBufferedBytes: deps.config.maxBufferedBytes,
        logger: deps.logger,
        send: (frame) => this.#send(frame),
        sendError: (error, id) => this.#sendError(error, id),
      });
    }
    socket.on('message', (data, isBinary) => void this.#onMessage(data.toString(), isBinary));
    socket.on('pong', () => {
      this.#alive = true;
    });
    socket.on('close', () => void this.close());
    socket.on('error', (error) => deps.logger.debug({ err: error }, 'websocket error'));
    if (principal.expiresAt !== undefined) {
      // A credential that expires ends the session it opened.
      const remaining = Math.max(0, principal.expiresAt - Date.now());
      this.#expiryTimer = setTimeout(() => this.socket.close(CLOSE.tokenExpired, 'credentials expired'), Math.min(remaining, 2 ** 31 - 1));
    }
    if (single) {
      void this.#subscribe(
        { op: 'subscribe', id: 'records', topics: [single.topic], group: single.group, ack: 'auto', keys: single.keys, keyFormat: single.keyFormat },
        single.from,
        single.form,
      );
    }
  }

  get subscriptionCount(): number {
    return this.#subs.size + (this.#shares?.size ?? 0);
  }

  /** Records queued for this socket and not yet written to it, in bytes. */
  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  /** Keepalive: true if the peer answered the last ping; then sends the next one. */
  heartbeat(): boolean {
    if (!this.#alive) return false;
    this.#alive = false;
    this.socket.ping();
    return true;
  }

  #send(frame: unknown, onWritten?: () => void): void {
    if (this.socket.readyState !== this.socket.OPEN) return;
    this.#cork();
    this.socket.send(Buffer.isBuffer(frame) ? frame : JSON.stringify(frame), { binary: false }, onWritten && ((error) => error || onWritten()));
  }

  /**
   * Records of one fetch arrive in one turn of the event loop; without
   * corking each frame is its own write system call, which was the
   * largest single cost of fan-out in the CPU profile.
   */
  #cork(): void {
    if (this.#corked) return;
    this.#corked = true;
    this.transport.cork();
    setImmediate(() => {
      this.#corked = false;
      this.transport.uncork();
    });
  }

  /** `sub` ties the error to the subscription a frame named (an ack, a credit), as `id` ties it to the frame. */
  #sendError(error: unknown, id?: string, sub?: string): void {
    const gatewayError = toGatewayError(error);
    if (gatewayError.status >= 500 && gatewayError.code === 'GW_ERR_INTERNAL') {
      this.deps.logger.error({ err: gatewayError.cause ?? gatewayError }, 'websocket frame failed');
    }
    if (this.single) {
      // The error decides how the connection closes: a client's own mistake is not 1011.
      this.socket.close(gatewayError.wsCloseCode, toCloseReason(gatewayError));
      return;
    }
    this.#send({ ...toErrorFrame(gatewayError, id), ...(sub === undefined ? {} : { sub }) });
  }

  async #onMessage(text: string, isBinary: boolean): Promise<void> {
    let id: string | undefined;
    let sub: string | undefined;
    try {
      if (this.single) throw new GatewayError('GW_ERR_BAD_REQUEST', 'This endpoint only sends records; use /v1/ws to send frames.');
      if (isBinary) throw new GatewayError('GW_ERR_UNSUPPORTED_MEDIA_TYPE', 'Frames are JSON text, not binary.');
      // Read once: the id ties an error to the frame even when the frame is otherwise wrong.
      const raw = readFrame(text);
      id = frameId(raw);
      sub = frameSub(raw);
      const frame = checkFrame(raw);
      switch (frame.op) {
        case 'subscribe':
          await this.#subscribe(frame, startFromFrame(frame.from), { fallback: frame.format ?? 'text', headers: frame.headers ?? 'object' });
          return;
        case 'unsubscribe':
          if (this.#shares?.has(frame.id)) await this.#shares.unsubscribe(frame.id);
          else await this.#unsubscribe(frame.id);
          this.#send({ op: 'unsubscribed', id: frame.id });
          return;
        case 'credit': {
          // Credit may come right behind its subscribe frame, before the subscription has started: it is kept.
          const sub = this.#subs.get(frame.sub);
          if (!sub && this.#shares?.credit(frame.sub, frame.n)) return;
          if (!sub) throw new GatewayError('GW_ERR_NOT_FOUND', `No subscription ${JSON.stringify(frame.sub)} on this connection.`);
          sub.credit = (sub.credit ?? 0) + frame.n;
          this.#pump(sub);
          return;
        }
        case 'ack':
          await this.#ack(frame);
          return;
        case 'answer':
          if (!this.#shares) throw new GatewayError('GW_ERR_NOT_FOUND', 'Share groups are not available on this gateway.');
          await this.#shares.answer(frame);
          return;
        case 'produce': {
          if (!this.deps.produce) throw new GatewayError('GW_ERR_NOT_FOUND', 'Produce over WebSocket is not available on this gateway.');
          this.deps.auth.authorize(this.principal, 'produce', frame.topic);
          this.deps.auth.checkRate(this.principal);
          const { topic, records, op: _op, id: _id, ...formats } = frame;
          const result = await this.deps.produce(topic, records, formats);
          this.#send({ op: 'produced', id: frame.id, ...(result as object) });
          return;
        }
      }
    } catch (error) {
      this.#sendError(error, id, sub);
    }
  }

  /**
   * Every ack the gateway cannot commit is answered with an error frame
   * naming the subscription, partition and offset, so a client that sent
   * many can tell which one failed; with `receipts`, every ack it commits is
   * answered with `acked` once the group has taken it.
   */
  async #ack(frame: AckFrame): Promise<void> {
    const { sub: subId, topic, partition, offset } = frame;
    const named = { sub: subId, topic, partition, offset };
    let sub: SocketSubscription;
    try {
      sub = this.#subscription(subId);
      if (sub.kafka.options.ack !== 'manual') throw new GatewayError('GW_ERR_BAD_REQUEST', `Subscription ${subId} acknowledges automatically; ack is for ack: "manual".`);
      await sub.kafka.ack(topic, partition, offset);
    } catch (error) {
      const gatewayError = toGatewayError(error);
      if (gatewayError.code === 'GW_ERR_INTERNAL') this.deps.logger.error({ err: gatewayError.cause ?? gatewayError, ...named }, 'ack failed');
      const kafkaError = gatewayError.extensions?.kafkaError;
      this.#send({ ...toErrorFrame(gatewayError, frame.id), ...named, ...(typeof kafkaError === 'string' ? { kafkaError } : {}) });
      return;
    }
    if (sub.receipts) this.#send({ op: 'acked', ...(frame.id === undefined ? {} : { id: frame.id }), ...named });
  }

  #subscription(subId: string): SocketSubscription {
    const sub = this.#subs.get(subId);
    if (!sub?.active) throw new GatewayError('GW_ERR_NOT_FOUND', `No subscription ${JSON.stringify(subId)} on this connection.`);
    return sub;
  }

  async #subscribe(frame: SubscribeFrame, from: StartPosition, asked: FrameForm): Promise<void> {
    const { id, topics } = frame;
    const form: FrameForm = { ...asked, wire: this.deps.wire };
    let sub: SocketSubscription | undefined;
    try {
      // Everything up to the reservation below runs without an await, so
      // frames sent back to back cannot slip past the limit or the id check.
      if (this.#closing) return;
      if (this.#subs.has(id) || this.#shares?.has(id)) throw new GatewayError('GW_ERR_CONFLICT', `A subscription with id ${JSON.stringify(id)} is already open on this connection.`);
      if (this.subscriptionCount >= this.deps.config.maxSubscriptionsPerConnection) {
        throw new GatewayError('GW_ERR_TOO_MANY_REQUESTS', `At most ${this.deps.config.maxSubscriptionsPerConnection} subscriptions per connection.`, {
          retryAfterSeconds: undefined,
        });
      }
      if (frame.shareGroup !== undefined) {
        if (!this.#shares) throw new GatewayError('GW_ERR_NOT_FOUND', 'Share groups are not available on this gateway.');
        await this.#shares.subscribe(frame, form);
        return;
      }
      for (const topic of topics) this.deps.auth.authorize(this.principal, 'consume', topic);
      if (frame.group !== undefined) this.deps.auth.authorizeGroup(this.principal, 'consume', frame.group);
      this.deps.auth.checkRate(this.principal);
      const ack: AckMode = frame.ack ?? 'auto';
      if (frame.receipts === true && frame.group === undefined) {
        throw new GatewayError('GW_ERR_VALIDATION', 'receipts needs a group: a subscription without one commits nothing, so there is nothing to confirm.', {
          errors: [{ pointer: '/receipts', message: 'is only for a subscription with a group' }],
        });
      }
      const kafka = this.deps.subscriptions.create(
        { topics, group: frame.group, from, ack, keys: keyFilter(frame.keys, frame.keyFormat) },
        {
          onRecords: (handle, records) => this.#enqueue(sub!, handle, records),
          onAssignment: (assignment) => {
            if (!this.single && sub?.active && this.#subs.get(id) === sub) this.#send({ op: 'assigned', sub: id, partitions: assignment satisfies readonly TopicPartitions[] });
          },
          onCommitted: (commits) => {
            if (!sub?.receipts || this.#subs.get(id) !== sub) return;
            for (const { topic, partition, next } of commits) this.#send({ op: 'acked', sub: id, topic, partition, offset: String(next - 1n) });
          },
          onFatal: (error) => {
            if (this.#subs.get(id) !== sub) return;
            this.#sendError(error, id);
            void this.#unsubscribe(id).catch(() => undefined);
          },
        },
      );
      sub = {
        id,
        kafka,
        form,
        prefix: framePrefix(id),
        confirmWrites: frame.group !== undefined && ack === 'auto',
        credit: frame.credit,
        queue: [],
        queuedRecords: 0,
        active: false,
        receipts: frame.receipts === true,
      };
      this.#subs.set(id, sub);
      // The single-topic endpoint's topic was checked at the upgrade, a moment ago.
      if (!this.single) for (const topic of topics) await this.deps.requireTopic(topic);
      const assignment = await kafka.start();
      if (this.#subs.get(id) !== sub) return; // unsubscribed or closed while starting
      sub.active = true;
      if (!this.single) this.#send({ op: 'subscribed', id, group: frame.group ?? null, ephemeral: frame.group === undefined, partitions: assignment });
      this.#pump(sub);
    } catch (error) {
      if (sub && this.#subs.get(id) === sub) {
        this.#subs.delete(id);
        this.#dropQueue(sub);
        await sub.kafka.stop().catch(() => undefined);
      } else if (sub) {
        return; // already released by unsubscribe or close; the error is its ending
      }
      this.#sendError(error, id);
    }
  }

  /**
   * Queues records handed over by the engine; they are written in this
   * connection's next turn (send-turns.ts). Whether the subscription wants
   * more is decided now, the queued bytes counting as unsent, so the bound
   * is the same as if they had been written at once.
   */
  #enqueue(sub: SocketSubscription, from: PartitionHandle, records: readonly ConsumedRecord[]): void {
    // Records of a subscription the client has dropped, still stopping: nobody wants them, and kept they would count against the bound.
    if (this.#subs.get(sub.id) !== sub) return;
    let bytes = 0;
    for (const record of records) bytes += record.size;
    sub.queue.push({ from, records, next: 0, bytes });
    sub.queuedRecords += records.length;
    this.#queuedBytes += bytes;
    if (!sub.active) return; // sent once `subscribed` has gone out
    sub.kafka.setDemand(this.#wants(sub));
    this.deps.turns.add(this);
  }

  /** @internal from SendTurns: writes every subscription's queued records, corked until endTurn unless a cork is already on. */
  takeTurn(): boolean {
    const cork = !this.#corked;
    if (cork) {
      this.#corked = true;
      this.transport.cork();
    }
    try {
      this.#pump();
    } catch (error) {
      // One connection's failure is its own: it is closed, the others take their turns.
      this.deps.logger.error({ err: error }, 'writing records to a websocket failed');
      this.terminate();
    }
    return cork;
  }

  /** @internal from SendTurns. */
  endTurn(): void {
    this.#corked = false;
    this.transport.uncork();
  }

  /**
   * Sends queued records while the client has credit and the socket keeps
   * up, then tells the subscription whether it may take more. A
   * subscription is handed records only while it wants them, one batch per
   * partition at a time, so a connection holds at most WS_MAX_BUFFERED
   * unsent bytes plus one fetch batch per partition it reads.
   */
  #pump(only?: SocketSubscription): void {
    for (const sub of only ? [only] : this.#subs.values()) {
      if (!sub.active) continue;
      this.#sendQueued(sub);
      sub.kafka.setDemand(this.#wants(sub));
    }
    this.peakBufferedBytes = Math.max(this.peakBufferedBytes, this.socket.bufferedAmount + this.#queuedBytes);
  }

  #sendQueued(sub: SocketSubscription): void {
    const limit = this.deps.config.maxBufferedBytes;
    while (sub.queue.length > 0 && (sub.credit === undefined || sub.credit > 0) && !this.#congested) {
      const batch = sub.queue[0]!;
      if (!batch.from.held) {
        // A rebalance took the partition: its new owner delivers these records.
        sub.queue.shift();
        sub.queuedRecords -= batch.records.length - batch.next;
        this.#queuedBytes -= batch.bytes;
        continue;
      }
      const record = batch.records[batch.next]!;
      batch.next += 1;
      batch.bytes -= record.size;
      if (batch.next === batch.records.length) sub.queue.shift();
      sub.queuedRecords -= 1;
      this.#queuedBytes -= record.size;
      if (sub.credit !== undefined) sub.credit -= 1;
      const body = encodedBody(record, sub.form);
      const frame = this.single ? body : multiplexedFrame(sub.id, sub.prefix, body);
      const congested = this.socket.bufferedAmount + frame.length > limit;
      if (!sub.confirmWrites) batch.from.written(record.offset);
      // The frame that fills the socket reports when it has been written: everything before it has too, so sending can go on.
      const onWritten =
        sub.confirmWrites || congested
          ? () => {
              if (sub.confirmWrites) batch.from.written(record.offset);
              if (congested) this.#drained();
            }
          : undefined;
      this.#send(frame, onWritten);
      if (congested) this.#congested = true;
    }
  }

  #drained(): void {
    if (!this.#congested) return;
    if (this.socket.bufferedAmount > this.deps.config.maxBufferedBytes / 2) {
      // Frames sent after the one that filled the socket are still queued: wait for the socket to empty.
      this.transport.once('drain', () => this.#drained());
      return;
    }
    this.#congested = false;
    this.#pump();
  }

  #wants(sub: SocketSubscription): boolean {
    if (this.#congested || this.#closing) return false;
    if (sub.credit !== undefined && sub.queuedRecords >= sub.credit) return false;
    return this.socket.bufferedAmount + this.#queuedBytes < this.deps.config.maxBufferedBytes;
  }

  #dropQueue(sub: SocketSubscription): void {
    for (const batch of sub.queue) this.#queuedBytes -= batch.bytes;
    sub.queue.length = 0;
    sub.queuedRecords = 0;
  }

  async #unsubscribe(id: string): Promise<void> {
    const sub = this.#subs.get(id);
    if (!sub) throw new GatewayError('GW_ERR_NOT_FOUND', `No subscription ${JSON.stringify(id)} on this connection.`);
    this.#subs.delete(id);
    sub.active = false;
    sub.kafka.setDemand(false);
    this.#dropQueue(sub);
    await sub.kafka.stop();
  }

  /** Closes the socket (with `code` if still open), commits what auto mode wrote, leaves every group. */
  close(code?: number, reason?: string): Promise<void> {
    this.#closing ??= (async () => {
      clearTimeout(this.#expiryTimer);
      this.deps.turns.remove(this);
      if (code !== undefined && this.socket.readyState === this.socket.OPEN) this.socket.close(code, reason);
      await Promise.allSettled([...this.#subs.keys()].map((id) => this.#unsubscribe(id)));
      await this.#shares?.close();
      this.deps.onClosed(this);
    })();
    return this.#closing;
  }

  terminate(): void {
    this.socket.terminate();
    void this.close();
  }
}
