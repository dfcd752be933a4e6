/**
 * A group read of one of Kafka's own topics used to end the process: the
 * client's assignor looked the topic up in a metadata cache that leaves
 * internal topics out, and threw inside a socket callback. The gateway now
 * refuses it with a 400 before any member joins, on every transport, and
 * the process serves on. Reading them without a group still works.
 * A real gateway process, so that an exit shows.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { uniqueName } from './helpers/env.js';
import { runGateway, type GatewayProcess } from './helpers/process.js';
import { SseClient } from './helpers/sse.js';
import { WsClient, isOp } from './helpers/ws.js';

let gateway: GatewayProcess;
let exited: number | null | undefined;

before(async () => {
  gateway = await runGateway();
  void gateway.exit.then((code) => (exited = code));
});
after(async () => {
  if (exited === undefined) {
    gateway.child.kill('SIGTERM');
    await gateway.exit;
  }
});

async function stillServing(): Promise<void> {
  // The crash came seconds after the request, once the member had joined: give it that long.
  await new Promise((r) => setTimeout(r, 3000));
  assert.equal(exited, undefined, `the gateway exited: ${gateway.stderr().slice(-1500)}`);
  assert.equal((await fetch(`${gateway.url}/healthz`)).status, 200);
}

test('an event stream in a group on __consumer_offsets is a 400 saying why; the process serves on', async () => {
  const stream = await SseClient.open(`${gateway.url}/v1/topics/__consumer_offsets/events?group=${uniqueName('g-sse')}`);
  assert.equal(stream.status, 400, stream.text);
  await stream.waitEnded();
  const problem = JSON.parse(stream.text) as { code: string; detail: string };
  assert.equal(problem.code, 'GW_ERR_BAD_REQUEST');
  assert.match(problem.detail, /__consumer_offsets.*without a group/);
  await stillServing();
});

test('a WebSocket subscription in a group to __consumer_offsets gets an error frame; the socket and the process go on', async () => {
  const ws = await WsClient.connect(`${gateway.url.replace(/^http/, 'ws')}/v1/ws`);
  ws.send({ op: 'subscribe', id: 'internal', topics: ['__consumer_offsets'], group: uniqueName('g-ws') });
  const error = await ws.next(isOp('error'));
  assert.equal(error.status, 400, JSON.stringify(error));
  assert.equal(error.id, 'internal');
  // Without a group the same topic is read as any other.
  ws.send({ op: 'subscribe', id: 'plain', topics: ['__consumer_offsets'], from: 'latest' });
  await ws.next(isOp('subscribed', 'plain'));
  assert.equal(ws.closed, undefined);
  await ws.close();
  await stillServing();
});

test('a Confluent v2 instance subscribed to __consumer_offsets is refused when it reads; the process serves on', async () => {
  const group = uniqueName('g-v2');
  const type = 'application/vnd.kafka.v2+json';
  const post = (path: string, body: unknown) => fetch(`${gateway.url}${path}`, { method: 'POST', headers: { 'content-type': type }, body: JSON.stringify(body) });
  const created = await post(`/consumers/${group}`, { name: 'i', format: 'binary' });
  assert.equal(created.status, 200, await created.clone().text());
  const base = `/consumers/${group}/instances/i`;
  const subscribed = await post(`${base}/subscription`, { topics: ['__consumer_offsets'] });
  const read = await fetch(`${gateway.url}${base}/records?timeout=500`, { headers: { accept: 'application/vnd.kafka.binary.v2+json' } });
  // Refused at the subscription or at the first read, with Confluent's error shape; never a 5xx.
  const refusal = subscribed.status === 204 ? read : subscribed;
  assert.ok(refusal.status >= 400 && refusal.status < 500, `${refusal.status}: ${await refusal.clone().text()}`);
  const body = (await refusal.json()) as { error_code: number; message: string };
  assert.match(body.message, /__consumer_offsets/);
  await fetch(`${gateway.url}${base}`, { method: 'DELETE' });
  await stillServing();
});
