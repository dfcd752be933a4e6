import WebSocket from 'ws';

export type Frame = Record<string, unknown> & { op?: string };

/** A WebSocket test client that keeps every frame and waits for the ones a test expects. */
export class WsClient {
  readonly frames: Frame[] = [];
  readonly #waiters: Array<{ match: (f: Frame) => boolean; resolve: (f: Frame) => void }> = [];
  closed?: { code: number; reason: string };
  readonly #closedWaiters: Array<(c: { code: number; reason: string }) => void> = [];

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as Frame;
      this.frames.push(frame);
      for (const waiter of [...this.#waiters]) {
        if (waiter.match(frame)) {
          this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
          waiter.resolve(frame);
        }
      }
    });
    socket.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      for (const w of this.#closedWaiters) w(this.closed);
    });
  }

  static connect(url: string, options: WebSocket.ClientOptions & { protocols?: string[] } = {}): Promise<WsClient> {
    const socket = new WebSocket(url, options.protocols ?? [], options);
    return new Promise((res, rej) => {
      socket.once('open', () => res(new WsClient(socket)));
      socket.once('unexpected-response', (_req, response) => {
        let body = '';
        response.on('data', (c: Buffer) => (body += c.toString()));
        response.on('end', () => rej(Object.assign(new Error(`upgrade refused: ${response.statusCode}`), { status: response.statusCode, body, headers: response.headers })));
      });
      socket.once('error', rej);
    });
  }

  send(frame: unknown): void {
    this.socket.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** The first frame (already received or yet to come) that matches. */
  next(match: (f: Frame) => boolean, timeoutMs = 30_000): Promise<Frame> {
    const seen = this.frames.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((res, rej) => {
      const timer = setTimeout(() => rej(new Error(`no matching frame within ${timeoutMs} ms; got ${JSON.stringify(this.frames.slice(-5))}`)), timeoutMs);
      this.#waiters.push({ match, resolve: (f) => (clearTimeout(timer), res(f)) });
    });
  }

  /** Resolves once `count` frames match. */
  async collect(match: (f: Frame) => boolean, count: number, timeoutMs = 30_000): Promise<Frame[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.frames.filter(match).length < count) {
      if (Date.now() > deadline) throw new Error(`only ${this.frames.filter(match).length} of ${count} frames within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
    return this.frames.filter(match).slice(0, count);
  }

  waitClosed(): Promise<{ code: number; reason: string }> {
    if (this.closed) return Promise.resolve(this.closed);
    return new Promise((res) => this.#closedWaiters.push(res));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    const done = this.waitClosed();
    this.socket.close();
    await done;
  }
}

export const isRecord = (sub: string) => (f: Frame) => f.op === 'record' && f.sub === sub;
export const isOp = (op: string, id?: string) => (f: Frame) => f.op === op && (id === undefined || f.id === id || f.sub === id);
