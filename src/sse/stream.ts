/**
 * Server-Sent Events: a subscription of the shared engine, pushed over a
 * plain HTTP response. Each record is one `record` event whose id is a
 * resume token naming the position in every partition the stream reads,
 * so `Last-Event-ID` continues exactly after the last event a client saw,
 * on any gateway instance. Flow control as on WebSocket: while the
 * response holds WS_MAX_BUFFERED unsent bytes the subscription reads no
 * more, and a client that takes nothing for two keep-alive intervals is
 * dropped (it loses nothing: it resumes from its last event id).
 *
 * A stream in a group is told which partitions it holds, as a WebSocket
 * subscription is: an `assigned` event when it starts and after every
 * rebalance that changes them; no record of a partition follows the event
 * that took it away.
 */
import type { ServerResponse } from 'node:http';
import { GatewayError, toGatewayError, toProblem, type Logger } from '../common/index.js';
import type { ConsumedRecord, PartitionHandle, StartPosition, Subscription, SubscriptionEngine, TopicPartitions } from '../kafka/index.js';
import { encodedBody, ownedConcat, type Fallback, type FrameForm, type HeaderForm } from '../records/index.js';
import type { WireDecoder } from '../schema/index.js';
import { ResumeTokenWriter } from './resume-token.js';

export interface EventStreamOptions {
  readonly topic: string;
  readonly group?: string;
  readonly from: StartPosition;
  readonly fallback: Fallback;
  /** The form of each record's headers; `object` unless the client asks for `list`. */
  readonly headers?: HeaderForm;
  readonly keys?: readonly Buffer[];
  /** When the credentials that opened the stream expire (ms since the epoch). */
  readonly expiresAt?: number;
}

export interface EventStreamDeps {
  readonly engine: SubscriptionEngine;
  readonly logger: Logger;
  /** Unsent bytes past which the stream stops reading. */
  readonly maxBufferedBytes: number;
  readonly keepaliveMs: number;
  /** Open streams per process; more are refused with 503. */
  readonly maxStreams: number;
  /** Decodes records in the schema registry wire format. */
  readonly wire?: WireDecoder;
}

export interface EventStreamStats {
  readonly streams: number;
  /** Bytes queued for or unsent on the streams. */
  readonly bufferedBytes: number;
}

/** What `retry:` tells a client to wait before it reconnects, once at the start of every stream. */
export const RETRY_MS = 2000;

/** The response headers of an event stream; also the answer to HEAD. */
export const EVENT_STREAM_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
  // Proxies such as nginx must pass events on as they come.
  'x-accel-buffering': 'no',
} as const;

const RECORD_EVENT = Buffer.from('event: record\ndata: ');
const EVENT_END = Buffer.from('\n\n');
const KEEPALIVE = Buffer.from(': keepalive\n\n');
/** Keep-alive ticks without a byte taken by the client after which it counts as gone. */
const STALLED_TICKS = 2;
/** Timers longer than this fire at once in Node; longer waits are taken in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Open event streams, so that shutdown can end them. */
export class EventStreams {
  readonly #open = new Set<EventStream>();
  #closing = false;

  constructor(private readonly deps: EventStreamDeps) {}

  stats(): EventStreamStats {
    let bufferedBytes = 0;
    for (const stream of this.#open) bufferedBytes += stream.bufferedBytes;
    return { streams: this.#open.size, bufferedBytes };
  }

  /** The most unsent bytes any open stream has held. */
  peakBufferedBytes(): number {
    return Math.max(0, ...[...this.#open].map((s) => s.peakBufferedBytes));
  }

  /**
   * Starts the subscription and, once it holds its partitions, answers 200
   * and streams. A failure before that throws, for the caller to answer
   * with a problem; after it, the stream ends with an `error` event.
   */
  async serve(res: ServerResponse, options: EventStreamOptions): Promise<void> {
    if (this.#closing) throw new GatewayError('GW_ERR_SHUTTING_DOWN', 'The gateway is shutting down; reconnect to another instance.');
    if (this.#open.size >= this.deps.maxStreams) {
      throw new GatewayError('GW_ERR_OVERLOADED', `This gateway holds its maximum of ${this.deps.maxStreams} event streams; retry shortly or on another instance.`);
    }
    const stream = new EventStream(res, options, this.deps, () => this.#open.delete(stream));
    this.#open.add(stream);
    try {
      await stream.start();
    } catch (error) {
      this.#open.delete(stream);
      throw error;
    }
  }

  /** Shutdown: every stream ends with an `error` event saying so; new ones are refused. */
  async close(): Promise<void> {
    this.#closing = true;
    const ending = new GatewayError('GW_ERR_SHUTTING_DOWN', 'The gateway is shutting down; reconnect with Last-Event-ID to go on where this stream ended.');
    await Promise.allSettled([...this.#open].map((s) => s.end(ending)));
  }
}

class EventStream {
  readonly #subscription: Subscription;
  /**
   * Per partition, the offset after the last record written to the
   * response. What a token names is this or, where the subscription has
   * passed further (records its key filter left out), that.
   */
  readonly #sent = new Map<number, bigint>();
  readonly #queue: Array<{ from: PartitionHandle; record: ConsumedRecord }> = [];
  /** A durable group commits only what reached the socket; without one nothing is committed. */
  readonly #confirmWrites: boolean;
  #queuedBytes = 0;
  #congested = false;
  #drains = 0;
  #stall = { ticks: 0, drains: 0, unsent: 0 };
  #ended?: Promise<void>;
  /** Why the stream ended before it answered, for start() to throw. */
  #endedEarly?: GatewayError;
  #keepalive?: NodeJS.Timeout;
  #expiry?: NodeJS.Timeout;
  peakBufferedBytes = 0;

  constructor(
    private readonly res: ServerResponse,
    private readonly options: EventStreamOptions,
    private readonly deps: EventStreamDeps,
    private readonly onEnded: () => void,
  ) {
    this.#confirmWrites = options.group !== undefined;
    this.#subscription = deps.engine.create(
      { topics: [options.topic], group: options.group, from: options.from, ack: 'auto', keys: options.keys },
      {
        onRecords: (from, records) => {
          for (const record of records) {
            this.#queue.push({ from, record });
            this.#queuedBytes += record.size;
          }
          this.#pump();
        },
        // A partition a rebalance took is no longer this stream's to name: its new holder goes on from the group's commits.
        onAssignment: (assignment) => {
          const held = new Set(this.#subscription.positions().map((p) => p.partition));
          for (const partition of this.#sent.keys()) if (!held.has(partition)) this.#sent.delete(partition);
          // Before the answer starts, start() tells the assignment it ends with.
          if (this.res.headersSent) this.#tellAssignment(assignment);
        },
        onFatal: (error) => void this.end(error),
      },
    );
    // 'close' on the response: the client went away, or the response ended.
    res.once('close', () => void this.end());
    res.on('drain', () => {
      this.#drains += 1;
      this.#congested = false;
      this.#pump();
    });
    // Writes are guarded against a finished response; a failing socket ends the stream through 'close'.
    res.on('error', (error) => deps.logger.debug({ err: error }, 'event stream socket error'));
  }

  get bufferedBytes(): number {
    return this.res.writableLength + this.#queuedBytes;
  }

  async start(): Promise<void> {
    try {
      await this.#subscription.start();
    } catch (error) {
      const clientLeft = this.#ended !== undefined && this.#endedEarly === undefined;
      await this.end();
      if (clientLeft) return;
      throw this.#endedEarly ?? error;
    }
    if (this.#ended) {
      await this.#ended;
      if (this.#endedEarly) throw this.#endedEarly;
      return; // the client left while the subscription started
    }
    this.res.writeHead(200, EVENT_STREAM_HEADERS);
    this.res.write(`retry: ${RETRY_MS}\n\n`);
    // What it holds now: a rebalance between the join and this line was not told (the answer had not started).
    this.#tellAssignment(this.#subscription.assignment);
    this.#keepalive = setInterval(() => this.#tick(), this.deps.keepaliveMs);
    if (this.options.expiresAt !== undefined) this.#expireAt(this.options.expiresAt);
    this.#pump();
  }

  /**
   * A stream in a group: which partitions it holds now. Written at once,
   * ahead of queued records: those of a partition it lost are not written
   * (their handle is no longer held), so none follows the event. No `id`,
   * so the client's last event id stays that of its last record.
   */
  #tellAssignment(assignment: readonly TopicPartitions[]): void {
    if (this.options.group === undefined || this.#ended || this.res.writableEnded) return;
    this.res.write(`event: assigned\ndata: ${JSON.stringify({ group: this.options.group, partitions: assignment })}\n\n`);
  }

  #expireAt(at: number): void {
    const remaining = at - Date.now();
    this.#expiry = setTimeout(
      () => (remaining > MAX_TIMER_MS ? this.#expireAt(at) : void this.end(new GatewayError('GW_ERR_UNAUTHENTICATED', 'The credentials this stream was opened with have expired; reconnect with new ones.'))),
      Math.max(0, Math.min(remaining, MAX_TIMER_MS)),
    );
  }

  /**
   * A comment on an idle stream, so that proxies keep it open. A stream
   * with bytes still unsent needs none; if the client took none of them
   * since the last tick, twice running, it is gone or stuck, and the
   * connection is dropped.
   */
  #tick(): void {
    const unsent = this.res.writableLength;
    if (unsent === 0) {
      this.#stall.ticks = 0;
      this.res.write(KEEPALIVE);
      return;
    }
    const progressed = this.#drains !== this.#stall.drains || unsent < this.#stall.unsent;
    this.#stall = { ticks: progressed ? 0 : this.#stall.ticks + 1, drains: this.#drains, unsent };
    if (this.#stall.ticks >= STALLED_TICKS) this.res.destroy();
  }

  /**
   * The resume token after everything written so far, as a writer that
   * follows one batch: per partition held, the offset after the last record
   * written or, where the subscription has passed further, that. Within a
   * batch only the partition of the record just written moves (nothing else
   * changes a position while the batch is written), so each event's id
   * costs a patch of that partition's offset and a CRC.
   */
  #tokens(): ResumeTokenWriter {
    const positions: Array<[number, bigint]> = [];
    for (const { partition, passed } of this.#subscription.positions()) positions.push([partition, this.#position(partition, passed)]);
    return new ResumeTokenWriter(this.options.topic, positions);
  }

  #position(partition: number, passed: bigint): bigint {
    const sent = this.#sent.get(partition);
    return sent !== undefined && sent > passed ? sent : passed;
  }

  /**
   * Writes queued records while the response keeps up, then tells the
   * subscription whether it may hand over more. It is handed records only
   * while it wants them, one batch per partition at a time, so a stream
   * holds at most WS_MAX_BUFFERED unsent bytes plus one fetch batch per
   * partition it reads.
   *
   * The events of one turn leave in one write of one buffer: a write per
   * event cost more than the event's bytes. Every event still carries its
   * own id, the position right after it, so a client that loses the
   * connection part way through the write resumes after the last event it
   * received whole, neither before it (which would send it events again)
   * nor after (which would skip the rest of the write).
   */
  #pump(): void {
    if (this.#ended || !this.res.headersSent) return;
    const limit = this.deps.maxBufferedBytes;
    const form: FrameForm = { fallback: this.options.fallback, headers: this.options.headers ?? 'object', wire: this.deps.wire };
    let tokens: ResumeTokenWriter | undefined;
    while (this.#queue.length > 0 && !this.#congested) {
      const parts: Buffer[] = [];
      /** Per partition written to, its handle and last offset in this write, for a durable group to confirm once it is flushed. */
      const confirm = this.#confirmWrites ? new Map<PartitionHandle, bigint>() : undefined;
      // A write holds what the response has room for, and at least one event.
      const room = limit - this.res.writableLength;
      let bytes = 0;
      let taken = 0;
      while (taken < this.#queue.length && (bytes === 0 || bytes < room)) {
        const { from, record } = this.#queue[taken++]!;
        this.#queuedBytes -= record.size;
        if (!from.held) continue; // a rebalance took the partition: its new holder sends this record
        const { partition } = record;
        this.#sent.set(partition, record.offset + 1n);
        tokens ??= this.#tokens();
        tokens.set(partition, this.#position(partition, from.passed));
        const id = tokens.idLine();
        const body = encodedBody(record, form);
        parts.push(id, RECORD_EVENT, body, EVENT_END);
        bytes += id.length + RECORD_EVENT.length + body.length + EVENT_END.length;
        if (confirm) {
          confirm.set(from, record.offset);
        } else {
          from.written(record.offset);
          // Written, the partition may have passed to the end of its batch (records the key filter left out after this one).
          tokens.set(partition, this.#position(partition, from.passed));
        }
      }
      // One splice, not a shift per record: a replay queues whole fetches.
      this.#queue.splice(0, taken);
      if (parts.length === 0) continue;
      const flushed = confirm && ((error?: Error | null) => error || confirm.forEach((offset, from) => from.written(offset)));
      // write() says false past Node's own small high-water mark; the stream's bound is WS_MAX_BUFFERED.
      if (!this.res.write(ownedConcat(parts), flushed) && this.res.writableLength >= limit) this.#congested = true;
    }
    this.peakBufferedBytes = Math.max(this.peakBufferedBytes, this.bufferedBytes);
    this.#subscription.setDemand(!this.#congested && this.bufferedBytes < limit);
  }

  /** Ends the stream: an `error` event first when there is a reason, then the response, then the subscription. Never rejects. */
  end(error?: GatewayError): Promise<void> {
    this.#ended ??= (async () => {
      clearInterval(this.#keepalive);
      clearTimeout(this.#expiry);
      this.#queue.length = 0;
      this.#queuedBytes = 0;
      const { res } = this;
      if (!res.headersSent) {
        this.#endedEarly = error;
      } else if (!res.writableEnded) {
        if (error && !res.destroyed) res.write(`event: error\ndata: ${JSON.stringify(toProblem(toGatewayError(error)))}\n\n`);
        res.end();
        // A client that reads nothing would hold the connection open until the last bytes leave: it gets a keep-alive interval.
        if (!res.writableFinished && !res.destroyed) {
          const drop = setTimeout(() => res.destroy(), this.deps.keepaliveMs);
          drop.unref();
          res.once('close', () => clearTimeout(drop));
        }
      }
      // Never rejects (its callers do not wait): a stop that fails is logged, and the stream is counted out all the same.
      await this.#subscription.stop().catch((stopError: unknown) => this.deps.logger.warn({ err: stopError }, 'stopping an event stream failed'));
      this.onEnded();
      if (error?.code === 'GW_ERR_INTERNAL') this.deps.logger.error({ err: error.cause ?? error }, 'event stream failed');
    })();
    return this.#ended;
  }
}
