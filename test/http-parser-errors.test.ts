/**
 * Requests Node's HTTP parser refuses (oversized headers or URL, malformed
 * framing), sent on raw sockets as a fuzzer or a broken client would: each
 * is answered with problem+json and the connection is closed, for plain
 * requests and WebSocket upgrades alike, and the gateway goes on serving.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { before, test } from 'node:test';
import request from 'supertest';
import type { RunningGateway } from '../src/gateway.js';
import { conforms } from './helpers/contract.js';
import { gatewayFor } from './helpers/scoped.js';

let gateway: RunningGateway;
before(async (t) => {
  gateway = await gatewayFor(t);
});

/** Sends raw bytes and reads until the server closes the connection. */
function exchange(raw: string): Promise<string> {
  const { hostname, port } = new URL(gateway.url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let answer = '';
    socket.on('data', (chunk) => (answer += chunk.toString('latin1')));
    socket.on('end', () => resolve(answer));
    socket.on('close', () => resolve(answer));
    socket.on('error', (error: NodeJS.ErrnoException) => (error.code === 'ECONNRESET' ? resolve(answer) : reject(error)));
    socket.write(raw, 'latin1');
  });
}

function parse(answer: string): { status: number; headers: Record<string, string>; body: Record<string, unknown> } {
  const [head = '', body = ''] = answer.split('\r\n\r\n');
  const [statusLine = '', ...lines] = head.split('\r\n');
  const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
  return { status: Number(statusLine.split(' ')[1]), headers, body: JSON.parse(body) as Record<string, unknown> };
}

const host = () => `Host: ${new URL(gateway.url).host}`;
const upgrade = 'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==';

const CASES: ReadonlyArray<readonly [name: string, raw: () => string, status: number, code: string]> = [
  ['an oversized header', () => `GET /v1/cluster HTTP/1.1\r\n${host()}\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431, 'GW_ERR_HEADERS_TOO_LARGE'],
  ['an oversized URL', () => `GET /v1/topics/${'t'.repeat(20_000)} HTTP/1.1\r\n${host()}\r\n\r\n`, 431, 'GW_ERR_HEADERS_TOO_LARGE'],
  ['an oversized WebSocket upgrade', () => `GET /v1/ws HTTP/1.1\r\n${host()}\r\n${upgrade}\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431, 'GW_ERR_HEADERS_TOO_LARGE'],
  ['a malformed WebSocket upgrade', () => `GET /v1/ws HTTP/1.1\r\n${host()}\r\n${upgrade}\r\nBad Header: x\r\n\r\n`, 400, 'GW_ERR_BAD_REQUEST'],
  ['a method with a space', () => `GE T /v1/cluster HTTP/1.1\r\n${host()}\r\n\r\n`, 400, 'GW_ERR_BAD_REQUEST'],
  ['a header name with a space', () => `GET /v1/cluster HTTP/1.1\r\n${host()}\r\nBad Header: x\r\n\r\n`, 400, 'GW_ERR_BAD_REQUEST'],
  ['a control character in a header value', () => `GET /v1/cluster HTTP/1.1\r\n${host()}\r\nX-A: a\u0001b\r\n\r\n`, 400, 'GW_ERR_BAD_REQUEST'],
  ['an unknown HTTP version', () => `GET /v1/cluster HTTP/9.9\r\n${host()}\r\n\r\n`, 400, 'GW_ERR_BAD_REQUEST'],
  ['two different Content-Lengths', () => `POST /v1/topics HTTP/1.1\r\n${host()}\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}`, 400, 'GW_ERR_BAD_REQUEST'],
  ['Content-Length with chunked', () => `POST /v1/topics HTTP/1.1\r\n${host()}\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n`, 400, 'GW_ERR_BAD_REQUEST'],
  ['a chunk size that is not hex', () => `POST /v1/topics HTTP/1.1\r\n${host()}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`, 400, 'GW_ERR_BAD_REQUEST'],
  ['HTTP/1.1 without Host', () => 'GET /v1/cluster HTTP/1.1\r\nConnection: close\r\n\r\n', 400, 'GW_ERR_BAD_REQUEST'],
  ['a WebSocket upgrade without Host', () => `GET /v1/ws HTTP/1.1\r\n${upgrade}\r\n\r\n`, 400, 'GW_ERR_BAD_REQUEST'],
];

for (const [name, raw, status, code] of CASES) {
  test(`${name}: ${status} problem+json, connection closed`, async () => {
    const answer = parse(await exchange(raw()));
    assert.equal(answer.status, status);
    assert.match(answer.headers['content-type'] ?? '', /^application\/problem\+json/);
    assert.equal(answer.headers.connection, 'close');
    assert.equal(answer.body.code, code);
    assert.equal(answer.body.status, status);
    assert.equal(typeof answer.body.title, 'string');
    assert.match(String(answer.body.detail), /\w/);
    assert.doesNotMatch(String(answer.body.detail), /aaaa|tttt|Bad Header/, 'the client\'s bytes are not echoed');
  });
}

test('the gateway goes on serving after all of them', async () => {
  conforms(await request(gateway.url).get('/healthz').expect(200));
});
