/**
 * Requests Node's HTTP parser refuses before any route sees them
 * (oversized headers or URL, malformed framing) are answered here, as
 * problem+json like every other error, through the server's `clientError`
 * event. This covers WebSocket upgrades too: their request line and headers
 * are parsed the same way.
 */
import { STATUS_CODES, maxHeaderSize } from 'node:http';
import type { Duplex } from 'node:stream';
import { GatewayError, PROBLEM_CONTENT_TYPE, toProblem } from '../common/index.js';

interface ParserError extends Error {
  readonly code?: string;
  /** llhttp's reason, a fixed text such as "Invalid header value char"; never the client's bytes. */
  readonly reason?: string;
}

function toGatewayError(error: ParserError): GatewayError {
  switch (error.code) {
    case 'HPE_HEADER_OVERFLOW':
      return new GatewayError('GW_ERR_HEADERS_TOO_LARGE', `The request line and headers together exceed ${maxHeaderSize} bytes; send a shorter URL or fewer or smaller headers.`);
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return new GatewayError('GW_ERR_PAYLOAD_TOO_LARGE', 'The chunk extensions of the request body are too large.');
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new GatewayError('GW_ERR_REQUEST_TIMEOUT', 'The request headers did not arrive in time.');
    default: {
      const reason = error.reason ?? error.code ?? 'unknown parse error';
      return new GatewayError('GW_ERR_BAD_REQUEST', `The request is not valid HTTP/1.1 (${reason}); nothing was done.`);
    }
  }
}

/** For the server's `clientError` event: answer when it is still possible, then close the connection. */
export function answerClientError(error: ParserError, socket: Duplex): void {
  // Node's own handler checks the same: no answer has begun on this socket.
  // The in-flight response is only reachable through this private field.
  const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } | null })._httpMessage;
  if (error.code !== 'ECONNRESET' && socket.writable && !inFlight?.headersSent) {
    const gatewayError = toGatewayError(error);
    const body = JSON.stringify(toProblem(gatewayError));
    socket.write(
      [
        `HTTP/1.1 ${gatewayError.status} ${STATUS_CODES[gatewayError.status] ?? ''}`,
        `Content-Type: ${PROBLEM_CONTENT_TYPE}`,
        `Content-Length: ${Buffer.byteLength(body)}`,
        'X-Content-Type-Options: nosniff',
        'Connection: close',
        '',
        body,
      ].join('\r\n'),
    );
  }
  socket.destroy();
}
