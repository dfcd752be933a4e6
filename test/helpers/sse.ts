/**
 * A Server-Sent Events client for tests, over a plain node:http request: it
 * keeps the raw text, every parsed event and comment, and can stop reading
 * its socket (a stalled reader) or drop the connection (a broken network).
 * Parsing follows the WHATWG rules (fields, blank line dispatch, comments).
 */
import { request, type IncomingHttpHeaders, type IncomingMessage, type ClientRequest } from 'node:http';
import { checkExchange } from './contract.js';
import { parseBlock, parseEventStream, splitBlocks, type SseEvent } from './event-stream.js';

export { parseEventStream, type SseEvent };

export interface SseOptions {
  readonly headers?: Record<string, string>;
  readonly method?: string;
  /** The client address to connect from (another loopback address is another client). */
  readonly localAddress?: string;
}

export class SseClient {
  text = '';
  /** Complete events and comments so far, parsed as they arrive. */
  readonly events: SseEvent[] = [];
  readonly comments: string[] = [];
  #partial = '';
  #ended = false;
  readonly #endWaiters: Array<() => void> = [];

  private constructor(
    readonly url: string,
    readonly path: string,
    private readonly req: ClientRequest,
    readonly response: IncomingMessage,
  ) {
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => {
      this.text += chunk;
      const { blocks, rest } = splitBlocks(this.#partial + chunk);
      this.#partial = rest;
      for (const block of blocks) {
        const { event, comments } = parseBlock(block);
        if (event) this.events.push(event);
        this.comments.push(...comments);
      }
    });
    const ended = () => {
      this.#ended = true;
      for (const waiter of this.#endWaiters.splice(0)) waiter();
    };
    response.on('end', ended);
    response.on('close', ended);
    response.on('error', () => undefined);
    req.on('error', () => undefined);
  }

  /** Opens the stream; resolves once the answer's headers arrive, whatever its status. */
  static open(url: string, options: SseOptions = {}): Promise<SseClient> {
    const { pathname, search } = new URL(url);
    return new Promise((resolve, reject) => {
      const req = request(url, { method: options.method ?? 'GET', localAddress: options.localAddress, headers: { accept: 'text/event-stream', ...options.headers } });
      req.once('response', (response) => resolve(new SseClient(url, `${pathname}${search}`, req, response)));
      req.once('error', reject);
      req.end();
    });
  }

  get status(): number {
    return this.response.statusCode ?? 0;
  }

  get headers(): IncomingHttpHeaders {
    return this.response.headers;
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** The parsed data of every `record` event so far. */
  get records(): Array<Record<string, unknown>> {
    return this.events.filter((e) => e.event === 'record').map((e) => JSON.parse(e.data ?? 'null') as Record<string, unknown>);
  }

  /** How many `record` events have arrived, without parsing their data. */
  get recordCount(): number {
    let n = 0;
    for (const e of this.events) if (e.event === 'record') n += 1;
    return n;
  }

  /** The id of the last event that had one: what an EventSource would send as Last-Event-ID. */
  get lastEventId(): string | undefined {
    return this.events.filter((e) => e.id !== undefined).at(-1)?.id;
  }

  /** Resolves once `check` holds for what has arrived; fails after `timeoutMs` saying what did. */
  async until(check: (client: SseClient) => boolean, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check(this)) {
      if (Date.now() > deadline) throw new Error(`the event stream did not get there within ${timeoutMs} ms; it has: ${this.text.slice(-600)}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** Resolves once `count` record events have arrived. */
  async waitRecords(count: number, timeoutMs?: number): Promise<Array<Record<string, unknown>>> {
    await this.until((c) => c.recordCount >= count, timeoutMs);
    return this.records;
  }

  /** Resolves once the gateway has ended the answer (or the connection is gone). */
  waitEnded(timeoutMs = 30_000): Promise<void> {
    if (this.#ended) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the event stream did not end within ${timeoutMs} ms`)), timeoutMs);
      this.#endWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Stops reading the socket: the gateway sees a client that takes nothing. */
  stall(): void {
    this.response.pause();
    this.response.socket.pause();
  }

  /** Drops the connection, as a broken network would. */
  drop(): void {
    this.req.destroy();
  }

  /** Checks the exchange so far against openapi.yaml (every complete event against the event schema). */
  conforms(): void {
    checkExchange({ method: 'GET', path: this.path, status: this.status, contentType: String(this.headers['content-type'] ?? ''), text: this.text });
  }
}
