/**
 * Which HTTP/1.1 upgrade offers the gateway takes. Node hands every request
 * that carries `Connection: upgrade` and an `Upgrade` header to the server's
 * `upgrade` event once anybody listens to it, whatever protocol it offers,
 * and stops parsing the connection as HTTP. Java's HttpClient and
 * `curl --http2` offer HTTP/2 that way (`Upgrade: h2c`) on every plain
 * request, bodies included; such a request is an ordinary HTTP/1.1 request
 * whose offer the server may ignore (RFC 9110 section 7.8). Only a WebSocket
 * upgrade is taken; any other request is given back to the HTTP server
 * without its offer, body and all, and is answered as what it is.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';

const tokens = (header: string | undefined) => (header ?? '').split(',').map((token) => token.trim().toLowerCase());

/** `Upgrade: websocket` with `Connection: upgrade`, in any case, as RFC 6455 section 4.1 asks of a client. */
export function isWebSocketUpgrade(req: IncomingMessage): boolean {
  return tokens(req.headers.upgrade).includes('websocket') && tokens(req.headers.connection).includes('upgrade');
}

/** The headers that make the offer; the rest of the request stays as it came. */
const OFFER_HEADERS = new Set(['upgrade', 'http2-settings']);

/** The request's head as it would have arrived without the upgrade offer. */
function headWithoutOffer(req: IncomingMessage): Buffer {
  const lines = [`${req.method ?? 'GET'} ${req.url ?? '/'} HTTP/${req.httpVersion}`];
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i]!;
    let value = req.rawHeaders[i + 1]!;
    const lower = name.toLowerCase();
    if (OFFER_HEADERS.has(lower)) continue;
    if (lower === 'connection') {
      value = value
        .split(',')
        .map((token) => token.trim())
        .filter((token) => token !== '' && !OFFER_HEADERS.has(token.toLowerCase()))
        .join(', ');
      if (value === '') continue;
    }
    lines.push(`${name}: ${value}`);
  }
  // Header values reached Node as bytes read as latin1; written back the same way they are the same bytes.
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
}

/**
 * Serves an upgrade request that is not a WebSocket upgrade as plain
 * HTTP/1.1: its head without the offer and the bytes Node had already read
 * past it (`head`, the start of the body) go back in front of the socket,
 * and the server parses the connection again, this request and any that
 * follow on it (keep-alive).
 */
export function serveAsHttp(server: Server, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  const handBack = () => {
    if (socket.destroyed) return;
    // From here the HTTP server's own error listener has the socket.
    socket.off('error', whileWaiting);
    socket.unshift(head.length > 0 ? Buffer.concat([headWithoutOffer(req), head]) : headWithoutOffer(req));
    server.emit('connection', socket);
  };
  // A pipelined offer can come while an earlier answer on the connection is still being made. Handed back now, this
  // request would wait behind that answer in a queue the new parser never sees move, and never be answered.
  const inFlight = answering.get(socket);
  if (inFlight) {
    // Node took the HTTP server's error listener off the socket with the upgrade: a client resetting the connection
    // while the offer waits would otherwise raise an uncaught exception. The error destroys the socket; the answer in
    // flight then closes, and the offer is dropped with its connection.
    socket.on('error', whileWaiting);
    inFlight.then.push(handBack);
  } else handBack();
}

/** The socket's error listener while an offer waits; the error itself ends the connection (autoDestroy). */
function whileWaiting(): void {}

/** Answers being made on a connection, and what waits for them to be done. */
const answering = new WeakMap<Duplex, { count: number; then: Array<() => void> }>();

/** Counts every connection's answers in flight, for serveAsHttp; call once per server, before it serves. */
export function countAnswers(server: Server): void {
  server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket;
    const entry = answering.get(socket) ?? { count: 0, then: [] };
    entry.count += 1;
    answering.set(socket, entry);
    // 'close' comes after the answer is written (or the connection is gone), once Node has let go of the socket.
    res.once('close', () => {
      entry.count -= 1;
      if (entry.count > 0) return;
      answering.delete(socket);
      for (const next of entry.then) next();
    });
  });
}
