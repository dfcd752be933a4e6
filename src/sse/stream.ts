/**
 * Server-Sent Events: a subscription of the shared engine, pushed over a
 * plain HTTP response. Each record is one `record` event whose id is a
 * resume token naming the position in every partition the stream reads,
 * so `Last-Event-ID` continues exactly after the last event a client saw,
 * on any gateway instance. Flow control as on WebSocket: while the
 * response holds WS_MAX_BUFFERED unsent bytes the subscription reads no
 * more.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayError, toGatewayError, toProblem } from '../errors.js';
import { encodeResumeToken, type ConsumedRecord, type PartitionHandle, type StartPosition, type Subscription, type SubscriptionEngine } from '../kafka/index.js';
import type { Logger } from '../logger.js';
import { encodedBody } from '../ws/encoding.js';
import type { Fallback } from '../ws/protocol.js';

export interface EventStreamOptions {
  readonly topic: string;
  readonly group?: string;
  readonly from: StartPosition;
  readonly fallback: Fallback;
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
  /** What `retry:` tells a client to wait before reconnecting. */
  readonly retryMs: number;
}

const encoder = (text: string) => Buffer.from(text, 'utf8');
const RECORD_EVENT = encoder('event: record\ndata: ');
const KEEPALIVE = encoder(': keepalive\n\n');

/** Open event streams, so that shutdown can end them. */
export class EventStreams {
  readonly #open = new Set<EventStream>();

  constructor(private readonly deps: EventStreamDeps) {}

  get count(): number {
    return this.#open.size;
  }

  /**
   * Starts the subscription and, once it holds its partitions, answers 200
   * and streams. A failure before that throws, for the caller to answer
   * with a problem; after it, the stream ends with an `error` event.
   */
  async serve(req: IncomingMessage, res: ServerResponse, options: EventStreamOptions): Promise<void> {
    const stream = new EventStream(req, res, options, this.deps, () => this.#open.delete(stream));
    this.#open.add(stream);
    try {
      await stream.start();
    } catch (error) {
      this.#open.delete(stream);
      throw error;
    }
  }

  /** Shutdown: every stream ends with an `error` event saying so. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.#open].map((s) => s.end(new GatewayError('GW_ERR_SHUTTING_DOWN', 'The gateway is shutting down; reconnect with Last-Event-ID.'))));
  }
}

class EventStream {
  readonly #subscription: Subscription;
  /** The next offset to read in every partition, after what was sent: what each event's id encodes. */
  readonly #positions = new Map<number, bigint>();
  readonly #queue: Array<{ from: PartitionHandle; record: ConsumedRecord }> = [];
  #queuedBytes = 0;
  #congested = false;
  #ended?: Promise<void>;
  #keepalive?: NodeJS.Timeout;
  #expiry?: NodeJS.Timeout;

  constructor(
    req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly options: EventStreamOptions,
    private readonly deps: EventStreamDeps,
    private readonly onEnded: () => void,
  ) {
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
        onAssignment: () => undefined,
        onFatal: (error) => void this.end(error),
      },
    );
    req.once('close', () => void this.end());
    res.on('drain', () => {
      this.#congested = false;
      this.#pump();
    });
  }

  async start(): Promise<void> {
    try {
      await this.#subscription.start();
    } catch (error) {
      await this.#subscription.stop();
      throw error;
    }
    if (this.#ended) return;
    for (const { partition, position } of this.#subscription.positions()) this.#positions.set(partition, position);
    this.res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      // Proxies such as nginx must pass events on as they come.
      'x-accel-buffering': 'no',
    });
    this.res.write(`retry: ${this.deps.retryMs}\n\n`);
    this.#keepalive = setInterval(() => this.#write(KEEPALIVE), this.deps.keepaliveMs);
    if (this.options.expiresAt !== undefined) {
      const remaining = Math.max(0, this.options.expiresAt - Date.now());
      this.#expiry = setTimeout(() => void this.end(new GatewayError('GW_ERR_UNAUTHENTICATED', 'The credentials this stream was opened with have expired; reconnect with new ones.')), Math.min(remaining, 2 ** 31 - 1));
    }
    this.#pump();
  }

  #write(chunk: Buffer, onWritten?: () => void): void {
    if (!this.res.write(chunk, onWritten && ((error) => error || onWritten()))) this.#congested = true;
  }

  #pump(): void {
    if (this.#ended || !this.res.headersSent) return;
    const { topic } = this.options;
    while (this.#queue.length > 0 && !this.#congested) {
      const { from, record } = this.#queue.shift()!;
      this.#queuedBytes -= record.size;
      if (!from.held) continue;
      this.#positions.set(record.partition, record.offset + 1n);
      const id = encodeResumeToken(topic, this.#positions);
      // One write per event: its id, its data (the shared record frame, encoded once), the blank line.
      this.#write(Buffer.concat([encoder(`id: ${id}\n`), RECORD_EVENT, encodedBody(record, this.options.fallback), encoder('\n\n')]), () => from.written(record.offset));
    }
    const wanting = !this.#congested && this.res.writableLength + this.#queuedBytes < this.deps.maxBufferedBytes;
    this.#subscription.setDemand(wanting);
  }

  /** Ends the stream: an `error` event first when there is a reason, then the response, then the subscription. */
  end(error?: GatewayError): Promise<void> {
    this.#ended ??= (async () => {
      clearInterval(this.#keepalive);
      clearTimeout(this.#expiry);
      if (error && this.res.headersSent && !this.res.writableEnded) {
        const problem = toProblem(toGatewayError(error));
        this.res.write(`event: error\ndata: ${JSON.stringify(problem)}\n\n`);
      }
      if (this.res.headersSent) this.res.end();
      await this.#subscription.stop();
      this.onEnded();
      if (error && error.status >= 500 && error.code === 'GW_ERR_INTERNAL') this.deps.logger.error({ err: error.cause ?? error }, 'event stream failed');
    })();
    return this.#ended;
  }
}
