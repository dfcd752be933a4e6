/**
 * WebSocket close codes and times come from the gateway's one error table
 * and its one timestamp parser: a client's own mistake on the single-topic
 * endpoint is a policy violation (1008), not the gateway failing (1011),
 * and `from` is read exactly as record timestamps and query parameters are.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { RunningGateway } from '../src/gateway.js';
import { ERRORS } from '../src/common/errors.js';
import { sharedBrokers, uniqueName } from './helpers/env.js';
import { gatewayFor } from './helpers/scoped.js';
import { createTopic, deleteTopics, kafkaClient } from './helpers/kafka.js';
import { WsClient, isOp } from './helpers/ws.js';

const brokers = sharedBrokers();
let gateway: RunningGateway;
let wsUrl: string;
let topic: string;

async function withProducer(use: (producer: ReturnType<ReturnType<typeof kafkaClient>['producer']>) => Promise<unknown>): Promise<void> {
  const producer = kafkaClient(brokers).producer();
  await producer.connect();
  try {
    await use(producer);
  } finally {
    await producer.disconnect();
  }
}

before(async (t) => {
  gateway = await gatewayFor(t);
  wsUrl = gateway.url.replace(/^http/, 'ws');
  topic = uniqueName('ws-close');
  await createTopic(brokers, topic, 1);
  await withProducer(async (producer) => producer.send({ topic, messages: [{ value: '{"n":1}' }] }));
});
after(async () => {
  await deleteTopics(brokers, [topic]);
});

test('a frame sent to the single-topic endpoint closes it with 1008, the code the error table gives', async () => {
  const client = await WsClient.connect(`${wsUrl}/v1/topics/${topic}/ws?from=earliest`);
  // Once a record arrives the subscription has joined its group; the mistake comes after.
  await client.next(() => true);
  client.send({ op: 'subscribe', id: 'x', topics: [topic] });
  const closed = await client.waitClosed();
  assert.equal(closed.code, ERRORS.GW_ERR_BAD_REQUEST.wsCloseCode);
  assert.equal(closed.code, 1008);
  assert.match(closed.reason, /only sends records/);
});

test('every error a client can cause closes with a code that is not 1011', () => {
  for (const [code, spec] of Object.entries(ERRORS)) {
    if (spec.status < 500) assert.notEqual(spec.wsCloseCode, 1011, code);
  }
});

test('from takes epoch milliseconds or RFC 3339 with an offset, and nothing else', async () => {
  for (const from of ['2026-01-31T12:00:00', 'Jan 31 2026', '2026-02-30T12:00:00Z', '2026-01-31']) {
    await assert.rejects(WsClient.connect(`${wsUrl}/v1/topics/${topic}/ws?from=${encodeURIComponent(from)}`), (e: { status: number; body: string }) => {
      assert.equal(e.status, 400, from);
      assert.match(JSON.parse(e.body).detail, /RFC 3339/);
      return true;
    });
  }
  const ok = await WsClient.connect(`${wsUrl}/v1/topics/${topic}/ws?from=${encodeURIComponent('2026-01-31T12:00:00+01:00')}`);
  await ok.next(() => true);
  await ok.close();

  const client = await WsClient.connect(`${wsUrl}/v1/ws`);
  client.send({ op: 'subscribe', id: 'local-time', topics: [topic], from: '2026-01-31T12:00:00' });
  const error = await client.next(isOp('error', 'local-time'));
  assert.equal(error.status, 400);
  assert.equal((error.errors as Array<{ pointer: string }>)[0]?.pointer, '/from');
  client.send({ op: 'subscribe', id: 'utc', topics: [topic], from: '2026-01-31T12:00:00Z' });
  await client.next(isOp('subscribed', 'utc'));
  await client.close();
});
