import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import type { AuthService, Principal } from '../auth/index.js';
import type { Config } from '../config.js';
import { GatewayError, toErrorFrame, toGatewayError } from '../errors.js';
import type { ConsumedRecord, KafkaSubscription, StartPosition, SubscriptionFactory, TopicPartitions } from '../kafka/index.js';
import type { Logger } from '../logger.js';
import { recordBody } from './encoding.js';
import { frameId, parseFrame, type AckMode, type Fallback, type SubscribeFrame } from './protocol.js';

/** Produces records for a `produce` frame exactly as the HTTP route does (schema checks included). */
export type ProduceRecords = (topic: string, records: readonly unknown[], formats: { keyFormat?: string; valueFormat?: string }) => Promise<unknown>;

export interface ConnectionDeps {
  readonly config: Config['ws'];
  readonly clientId: string;
  readonly logger: Logger;
  readonly auth: AuthService;
  readonly subscriptions: SubscriptionFactory;
  /** Throws a 404 GatewayError for a topic that does not exist. */
  readonly requireTopic: (topic: string) => Promise<void>;
  readonly produce?: ProduceRecords;
  /** Called once the connection has closed and released everything. */
  readonly onClosed: (connection: Connection) => void;
}

/** The single-topic endpoint: one subscription made at connect; every frame is a bare record. */
export interface SingleTopic {
  readonly topic: string;
  readonly group?: string;
  readonly from: StartPosition;
  readonly fallback: Fallback;
}

interface Subscription {
  readonly id: string;
  readonly kafka: KafkaSubscription;
  readonly ack: AckMode;
  readonly fallback: Fallback;
  /** Records the client has granted; undefined when it does not use credit. */
  credit: number | undefined;
  readonly queue: ConsumedRecord[];
  queuedBytes: number;
  /** auto mode: highest written offset per "topic:partition", not yet committed. */
  readonly written: Map<string, { topic: string; partition: number; offset: string }>;
  subscribed: boolean;
}

/** Close codes the gateway uses, documented in docs/websocket.md. */
export const CLOSE = { goingAway: 1001, tooBig: 1009, tokenExpired: 4401 } as const;

/**
 * One client's socket: its subscriptions, their queues and credit, flow
 * control against the socket's unsent bytes, keepalive, and cleanup that
 * leaves nothing behind in the gateway or the broker.
 */
export class Connection {
  readonly #subs = new Map<string, Subscription>();
  #alive = true;
  #congested = false;
  #closing?: Promise<void>;
  #commitTimer: NodeJS.Timeout;
  #expiryTimer?: NodeJS.Timeout;
  #corked = false;
  /** The most bytes this connection ever held unsent, for tests and metrics. */
  peakBufferedBytes = 0;

  /** `transport` is the TCP socket under `socket`, held to write many frames at once. */
  constructor(
    readonly socket: WebSocket,
    private readonly transport: Duplex,
    readonly principal: Principal,
    private readonly deps: ConnectionDeps,
    readonly single?: SingleTopic,
  ) {
    socket.on('message', (data, isBinary) => void this.#onMessage(data.toString(), isBinary));
    socket.on('pong', () => {
      this.#alive = true;
    });
    socket.on('close', () => void this.close());
    socket.on('error', (error) => deps.logger.debug({ err: error }, 'websocket error'));
    this.#commitTimer = setInterval(() => void this.#commitWritten(), deps.config.autoCommitIntervalMs);
    if (principal.expiresAt !== undefined) {
      // A credential that expires ends the session it opened.
      const remaining = Math.max(0, principal.expiresAt - Date.now());
      this.#expiryTimer = setTimeout(() => this.socket.close(CLOSE.tokenExpired, 'credentials expired'), Math.min(remaining, 2 ** 31 - 1));
    }
    if (single) {
      void this.#subscribe({ op: 'subscribe', id: 'records', topics: [single.topic], group: single.group, ack: 'auto' }, single.from, single.fallback);
    }
  }

  get subscriptionCount(): number {
    return this.#subs.size;
  }

  get queuedBytes(): number {
    let bytes = 0;
    for (const sub of this.#subs.values()) bytes += sub.queuedBytes;
    return bytes;
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
    if (!this.#corked) {
      // Records of one fetch arrive in one turn of the event loop; without
      // this each frame is its own write system call, which was the largest
      // single cost of fan-out in the CPU profile.
      this.#corked = true;
      this.transport.cork();
      setImmediate(() => {
        this.#corked = false;
        this.transport.uncork();
      });
    }
    this.socket.send(JSON.stringify(frame), (error) => {
      if (error) return;
      onWritten?.();
      if (this.#congested && this.socket.bufferedAmount <= this.deps.config.maxBufferedBytes / 2) {
        this.#congested = false;
        this.#pump();
      }
    });
  }

  #sendError(error: unknown, id?: string): void {
    const gatewayError = toGatewayError(error);
    if (gatewayError.status >= 500 && gatewayError.code === 'GW_ERR_INTERNAL') {
      this.deps.logger.error({ err: gatewayError.cause ?? gatewayError }, 'websocket frame failed');
    }
    if (this.single) {
      this.socket.close(1011, gatewayError.detail.slice(0, 120));
      return;
    }
    this.#send(toErrorFrame(gatewayError, id));
  }

  async #onMessage(text: string, isBinary: boolean): Promise<void> {
    let id: string | undefined;
    try {
      if (this.single) throw new GatewayError('GW_ERR_BAD_REQUEST', 'This endpoint only sends records; use /v1/ws to send frames.');
      if (isBinary) throw new GatewayError('GW_ERR_UNSUPPORTED_MEDIA_TYPE', 'Frames are JSON text, not binary.');
      try {
        id = frameId(JSON.parse(text));
      } catch {
        id = undefined;
      }
      const frame = parseFrame(text);
      switch (frame.op) {
        case 'subscribe':
          await this.#subscribe(frame, parseFrom(frame.from), frame.format ?? 'text');
          return;
        case 'unsubscribe':
          await this.#unsubscribe(frame.id);
          this.#send({ op: 'unsubscribed', id: frame.id });
          return;
        case 'credit': {
          const sub = this.#subscription(frame.sub);
          sub.credit = (sub.credit ?? 0) + frame.n;
          this.#pump();
          return;
        }
        case 'ack': {
          const sub = this.#subscription(frame.sub);
          if (sub.ack !== 'manual') throw new GatewayError('GW_ERR_BAD_REQUEST', `Subscription ${frame.sub} acknowledges automatically; ack is for ack: "manual".`);
          if (sub.kafka.ephemeral) return; // an ephemeral group is deleted at the end: nothing to keep
          await sub.kafka.commit(frame.topic, frame.partition, frame.offset);
          return;
        }
        case 'produce': {
          if (!this.deps.produce) throw new GatewayError('GW_ERR_NOT_FOUND', 'Produce over WebSocket is not available on this gateway.');
          this.deps.auth.authorize(this.principal, 'produce', frame.topic);
          this.deps.auth.checkRate(this.principal);
          const result = await this.deps.produce(frame.topic, frame.records, { keyFormat: frame.keyFormat, valueFormat: frame.valueFormat });
          this.#send({ op: 'produced', id: frame.id, ...(result as object) });
          return;
        }
      }
    } catch (error) {
      this.#sendError(error, id);
    }
  }

  #subscription(subId: string): Subscription {
    const sub = this.#subs.get(subId);
    if (!sub) throw new GatewayError('GW_ERR_NOT_FOUND', `No subscription ${JSON.stringify(subId)} on this connection.`);
    return sub;
  }

  async #subscribe(frame: SubscribeFrame, from: StartPosition, fallback: Fallback): Promise<void> {
    const { id, topics } = frame;
    try {
      if (this.#subs.has(id)) throw new GatewayError('GW_ERR_CONFLICT', `A subscription with id ${JSON.stringify(id)} is already open on this connection.`);
      if (this.#subs.size >= this.deps.config.maxSubscriptionsPerConnection) {
        throw new GatewayError('GW_ERR_TOO_MANY_REQUESTS', `At most ${this.deps.config.maxSubscriptionsPerConnection} subscriptions per connection.`, {
          retryAfterSeconds: undefined,
        });
      }
      for (const topic of topics) this.deps.auth.authorize(this.principal, 'consume', topic);
      this.deps.auth.checkRate(this.principal);
      for (const topic of topics) await this.deps.requireTopic(topic);
      if (this.#closing) return;
      let sub: Subscription | undefined = undefined;
      const kafka = this.deps.subscriptions.create(
        { topics, group: frame.group, from, clientId: this.deps.clientId },
        {
          onRecord: (record) => {
            if (!sub) return;
            sub.queue.push(record);
            sub.queuedBytes += record.size;
            this.#pump();
          },
          onAssignment: (assignment) => {
            if (sub?.subscribed && !this.single) this.#send({ op: 'assigned', sub: id, partitions: assignment });
          },
          onFatal: (error) => {
            this.#sendError(error, id);
            // Already gone if the client unsubscribed meanwhile; nothing else can fail here.
            void this.#unsubscribe(id).catch(() => undefined);
          },
        },
      );
      sub = {
        id,
        kafka,
        ack: frame.ack ?? 'auto',
        fallback,
        credit: frame.credit,
        queue: [],
        queuedBytes: 0,
        written: new Map(),
        subscribed: false,
      };
      this.#subs.set(id, sub);
      const assignment = await kafka.start();
      if (this.#subs.get(id) !== sub) return; // unsubscribed while joining
      sub.subscribed = true;
      if (!this.single) this.#send({ op: 'subscribed', id, group: kafka.groupId, ephemeral: kafka.ephemeral, partitions: assignment satisfies readonly TopicPartitions[] });
      this.#pump();
    } catch (error) {
      const sub = this.#subs.get(id);
      if (sub && !sub.subscribed) {
        this.#subs.delete(id);
        await sub.kafka.stop();
      }
      this.#sendError(error, id);
    }
  }

  /**
   * Sends queued records while the client has credit and the socket keeps
   * up; pauses a subscription's partitions when it must wait, and resumes
   * them once there is room again. Memory per connection stays near
   * WS_MAX_BUFFERED plus at most one fetch per partition in flight.
   */
  #pump(): void {
    const limit = this.deps.config.maxBufferedBytes;
    for (const sub of this.#subs.values()) {
      if (!sub.subscribed) continue;
      while (sub.queue.length > 0 && (sub.credit === undefined || sub.credit > 0) && !this.#congested) {
        const record = sub.queue.shift()!;
        sub.queuedBytes -= record.size;
        if (sub.credit !== undefined) sub.credit -= 1;
        const body = recordBody(record, sub.fallback);
        this.#send(this.single ? body : { op: 'record', sub: sub.id, ...body }, () => this.#written(sub, record));
        if (this.socket.bufferedAmount + this.queuedBytes > limit) this.#congested = true;
      }
      this.peakBufferedBytes = Math.max(this.peakBufferedBytes, this.socket.bufferedAmount + this.queuedBytes);
      const mustWait = this.#congested || sub.credit === 0 || sub.queuedBytes > limit / 2;
      if (mustWait && !sub.kafka.paused) sub.kafka.pause();
      else if (!mustWait && sub.kafka.paused) sub.kafka.resume();
    }
  }

  #written(sub: Subscription, record: ConsumedRecord): void {
    if (sub.ack !== 'auto' || sub.kafka.ephemeral) return;
    sub.written.set(`${record.topic}:${record.partition}`, { topic: record.topic, partition: record.partition, offset: record.offset });
  }

  /** auto mode: commits what was written since the last commit, per partition. */
  async #commitWritten(only?: Subscription): Promise<void> {
    for (const sub of only ? [only] : this.#subs.values()) {
      if (sub.written.size === 0) continue;
      const batch = [...sub.written.values()];
      sub.written.clear();
      for (const { topic, partition, offset } of batch) {
        await sub.kafka.commit(topic, partition, offset).catch((error: unknown) => {
          this.deps.logger.warn({ err: error, group: sub.kafka.groupId }, 'auto commit failed; the records will be delivered again');
        });
      }
    }
  }

  async #unsubscribe(id: string): Promise<void> {
    const sub = this.#subs.get(id);
    if (!sub) throw new GatewayError('GW_ERR_NOT_FOUND', `No subscription ${JSON.stringify(id)} on this connection.`);
    this.#subs.delete(id);
    await this.#commitWritten(sub);
    await sub.kafka.stop();
  }

  /** Closes the socket (with `code` if still open), commits what auto mode wrote, leaves every group. */
  close(code?: number, reason?: string): Promise<void> {
    this.#closing ??= (async () => {
      clearInterval(this.#commitTimer);
      clearTimeout(this.#expiryTimer);
      if (code !== undefined && this.socket.readyState === this.socket.OPEN) this.socket.close(code, reason);
      await Promise.allSettled([...this.#subs.keys()].map((id) => this.#unsubscribe(id)));
      this.deps.onClosed(this);
    })();
    return this.#closing;
  }

  terminate(): void {
    this.socket.terminate();
    void this.close();
  }
}

/** A subscribe frame's `from`, already checked by the frame schema. */
export function parseFrom(from: SubscribeFrame['from']): StartPosition {
  if (from === undefined || from === 'latest') return { kind: 'latest' };
  if (from === 'earliest') return { kind: 'earliest' };
  if (typeof from === 'number') return { kind: 'timestamp', timestamp: from };
  if (typeof from === 'string') return { kind: 'timestamp', timestamp: Date.parse(from) };
  const offsets: Record<string, Record<string, string>> = {};
  for (const [topic, partitions] of Object.entries(from)) {
    offsets[topic] = Object.fromEntries(Object.entries(partitions).map(([p, o]) => [p, String(o)]));
  }
  return { kind: 'offsets', offsets };
}
