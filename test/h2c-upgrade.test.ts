/**
 * Requests that offer HTTP/2 (`Upgrade: h2c`), as Java's HttpClient and
 * `curl --http2` send every plain request, are served as the HTTP/1.1
 * requests they are: bodies reach their handler intact, keep-alive goes on,
 * and only `Upgrade: websocket` with `Connection: upgrade` is a WebSocket
 * upgrade.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import type { Duplex } from 'node:stream';
import { promisify } from 'node:util';
import type { RunningGateway } from '../src/gateway.js';
import { checkExchange } from './helpers/contract.js';
import { eventually, sharedBrokers, uniqueName } from './helpers/env.js';
import { gatewayFor } from './helpers/scoped.js';
import { createTopic, consumeAll, deleteTopics } from './helpers/kafka.js';
import { WsClient } from './helpers/ws.js';

const run = promisify(execFile);
const brokers = sharedBrokers();
const topic = uniqueName('h2c');
let gateway: RunningGateway;

before(async (t) => {
  await createTopic(brokers, topic, 1);
  gateway = await gatewayFor(t);
});
after(async () => {
  await deleteTopics(brokers, [topic]);
});

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/**
 * Writes `pieces` to one connection, each on its own after a pause so the
 * server reads them apart, and reads `count` answers (Content-Length framed).
 */
function exchange(pieces: readonly string[], count: number): Promise<Answer[]> {
  const { hostname, port } = new URL(gateway.url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let buffered = Buffer.alloc(0);
    const answers: Answer[] = [];
    const timer = setTimeout(() => reject(new Error(`only ${answers.length} of ${count} answers: ${JSON.stringify(answers)} ${buffered.toString("latin1")}`)), 20_000);
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      for (;;) {
        const end = buffered.indexOf('\r\n\r\n');
        if (end === -1) return;
        const [statusLine = '', ...lines] = buffered.subarray(0, end).toString('latin1').split('\r\n');
        const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
        const length = Number(headers['content-length'] ?? 0);
        if (buffered.length < end + 4 + length) return;
        answers.push({ status: Number(statusLine.split(' ')[1]), headers, body: buffered.subarray(end + 4, end + 4 + length).toString('utf8') });
        buffered = buffered.subarray(end + 4 + length);
        if (answers.length === count) {
          clearTimeout(timer);
          socket.end();
          resolve(answers);
          return;
        }
      }
    });
    socket.on('error', reject);
    void (async () => {
      for (const piece of pieces) {
        socket.write(piece, 'utf8');
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
  });
}

const host = () => `Host: ${new URL(gateway.url).host}`;
// What Java's HttpClient adds to each request on a new connection.
const H2C_OFFER = 'Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAEAAEAAAAIAAAABAAMAAABkAAQBAAAAAAUAAEAA';

test('a GET offering h2c is answered as HTTP/1.1, and the connection goes on serving', async () => {
  const [cluster, health] = await exchange([`GET /v1/cluster HTTP/1.1\r\n${host()}\r\n${H2C_OFFER}\r\n\r\n`, `GET /healthz HTTP/1.1\r\n${host()}\r\n${H2C_OFFER}\r\n\r\n`], 2);
  assert.equal(cluster!.status, 200, cluster!.body);
  checkExchange({ method: 'GET', path: '/v1/cluster', status: cluster!.status, contentType: cluster!.headers['content-type'] ?? '', text: cluster!.body });
  assert.ok(Array.isArray((JSON.parse(cluster!.body) as { brokers: unknown }).brokers));
  assert.equal(health!.status, 200);
});

/**
 * A Confluent v2 consumer instance subscribed to an empty topic, for `use`: the request line of a read that waits
 * its whole 1 s timeout, during which a request pipelined behind it arrives; deleted afterwards.
 */
async function withWaitingRead(use: (slowRead: string, path: string) => Promise<void>): Promise<void> {
  const empty = uniqueName('h2c-empty');
  await createTopic(brokers, empty, 1);
  const v2 = { 'content-type': 'application/vnd.kafka.v2+json' };
  let path: string | undefined;
  try {
    const created = (await (await fetch(`${gateway.url}/consumers/${uniqueName('h2c-group')}`, { method: 'POST', headers: v2, body: '{}' })).json()) as { base_uri: string };
    path = new URL(created.base_uri).pathname;
    assert.equal((await fetch(`${gateway.url}${path}/subscription`, { method: 'POST', headers: v2, body: JSON.stringify({ topics: [empty] }) })).status, 204);
    await use(`GET ${path}/records?timeout=1000 HTTP/1.1\r\n${host()}\r\nAccept: application/vnd.kafka.binary.v2+json\r\n\r\n`, path);
  } finally {
    if (path) await fetch(`${gateway.url}${path}`, { method: 'DELETE', headers: v2 });
    await deleteTopics(brokers, [empty]);
  }
}

test('an offer pipelined behind an answer still being made is answered after it, on the same connection', async () => {
  await withWaitingRead(async (slowRead) => {
    const [read, health] = await exchange([slowRead, `GET /healthz HTTP/1.1\r\n${host()}\r\n${H2C_OFFER}\r\n\r\n`], 2);
    assert.equal(read!.status, 200, read!.body);
    assert.equal(health!.status, 200);
  });
});

test('a client that leaves while its offer waits behind an answer in flight: its connection is let go, nothing stays behind, and the gateway goes on serving', { timeout: 60_000 }, async () => {
  const { server } = gateway;
  const connections = () => new Promise<number>((resolve, reject) => server.getConnections((error, count) => (error ? reject(error) : resolve(count))));
  const listeners = () => Object.fromEntries(['connection', 'request', 'upgrade', 'clientError'].map((event) => [event, server.listenerCount(event)]));
  const escaped: unknown[] = [];
  const onEscape = (error: unknown) => escaped.push(error);
  process.on('uncaughtException', onEscape);
  const before = { connections: await connections(), listeners: listeners() };
  try {
    await withWaitingRead(async (slowRead, path) => {
      // destroy() ends the connection with a FIN; resetAndDestroy() with a RST, which the server's side reads as an error.
      const cases = [
        { leave: 'destroy', reads: 1 },
        { leave: 'resetAndDestroy', reads: 1 },
        { leave: 'resetAndDestroy', reads: 2 },
      ] as const;
      for (const { leave, reads } of cases) {
        const offered = new Promise<Duplex>((resolve) => server.once('upgrade', (_req: unknown, socket: Duplex) => resolve(socket)));
        const { hostname, port } = new URL(gateway.url);
        const client = connect(Number(port), hostname);
        client.on('error', () => {});
        await once(client, 'connect');
        client.write(`${slowRead.repeat(reads)}GET /healthz HTTP/1.1\r\n${host()}\r\n${H2C_OFFER}\r\n\r\n`);
        // Handed to the upgrade event, the offer now waits for the reads' answers, each taking its whole second.
        const serverSide = await offered;
        client[leave]();
        await eventually(async () => serverSide.destroyed, 30_000, 50);
        // Not more than before: keep-alive connections of this file's fetch calls may close meanwhile.
        await eventually(async () => (await connections()) <= before.connections, 30_000, 50);
        // The consumer instance was not left holding the read the client gave up on: it answers the next one.
        const next = await fetch(`${gateway.url}${path}/records?timeout=0`, { headers: { accept: 'application/vnd.kafka.binary.v2+json' } });
        assert.equal(next.status, 200, `${leave} behind ${reads}: ${await next.text()}`);
      }
    });
  } finally {
    process.off('uncaughtException', onEscape);
  }
  assert.deepEqual(escaped, [], 'no exception escaped');
  assert.deepEqual(listeners(), before.listeners, 'the server holds no listener more than before');
  const [health] = await exchange([`GET /healthz HTTP/1.1\r\n${host()}\r\n${H2C_OFFER}\r\n\r\n`], 1);
  assert.equal(health!.status, 200, 'the gateway goes on serving offers');
});

test('a POST offering h2c reaches its handler with its whole body, sent in pieces', async () => {
  const body = JSON.stringify({ records: [{ key: 'h2c', value: { text: 'wörld', n: 1 } }] });
  const bytes = Buffer.byteLength(body);
  const head = `POST /v1/topics/${topic}/records HTTP/1.1\r\n${host()}\r\nContent-Type: application/json\r\nContent-Length: ${bytes}\r\n${H2C_OFFER}\r\n\r\n`;
  // The head and the first bytes of the body in one write (Node reads them together), the rest later.
  const [answer] = await exchange([head + body.slice(0, 10), body.slice(10, 30), body.slice(30)], 1);
  assert.equal(answer!.status, 200, answer!.body);
  checkExchange({ method: 'POST', path: `/v1/topics/${topic}/records`, status: answer!.status, contentType: answer!.headers['content-type'] ?? '', text: answer!.body });
  const chunked = `POST /v1/topics/${topic}/records HTTP/1.1\r\n${host()}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n${H2C_OFFER}\r\n\r\n`;
  const second = JSON.stringify({ records: [{ key: 'h2c-chunked', value: 2 }] });
  const [chunkedAnswer] = await exchange([chunked, `${Buffer.byteLength(second).toString(16)}\r\n${second}\r\n`, '0\r\n\r\n'], 1);
  assert.equal(chunkedAnswer!.status, 200, chunkedAnswer!.body);
  const stored = await consumeAll(brokers, topic);
  assert.deepEqual(
    stored.map((r) => [r.key?.toString(), JSON.parse(r.value!.toString()) as unknown]),
    [['h2c', { text: 'wörld', n: 1 }], ['h2c-chunked', 2]],
  );
});

test('curl --http2 (an h2c upgrade offer) gets the same answer as HTTP/1.1', { timeout: 60_000 }, async () => {
  const { stdout } = await run('curl', ['-sS', '--http2', '-o', '/dev/null', '-w', '%{http_code} %{http_version}', `${gateway.url}/v1/cluster`]);
  // The gateway ignores the offer: the answer is HTTP/1.1, not a switch to HTTP/2.
  assert.equal(stdout, '200 1.1');
  const post = await run('curl', ['-sS', '--http2', '-H', 'content-type: application/json', '--data', JSON.stringify({ records: [{ value: 3 }] }), `${gateway.url}/v1/topics/${topic}/records`]);
  assert.equal((JSON.parse(post.stdout) as { offsets: Array<{ offset: string }> }).offsets[0]!.offset, '2');
});

test('Upgrade: websocket without Connection: upgrade is a plain request (426), with both a WebSocket', async () => {
  const [plain] = await exchange([`GET /v1/ws HTTP/1.1\r\n${host()}\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`], 1);
  assert.equal(plain!.status, 426, plain!.body);
  // Header names and tokens in any case.
  const [upgraded] = await exchange([`GET /v1/ws HTTP/1.1\r\n${host()}\r\nUPGRADE: WebSocket\r\nconnection: keep-alive, UPGRADE\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`], 1);
  assert.equal(upgraded!.status, 101);
  const client = await WsClient.connect(`${gateway.url.replace('http', 'ws')}/v1/ws`);
  await client.close();
});
