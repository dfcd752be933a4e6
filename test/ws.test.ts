/**
 * WebSocket subscriptions on real sockets against the real broker: the
 * protocol, consumer groups (ephemeral and durable), credit, bad frames,
 * the single-topic endpoint, limits and cleanup.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import type { Admin, Producer } from './helpers/kafka-client.js';
import type { RunningGateway } from '../src/gateway.js';
import { eventually, uniqueName } from './helpers/env.js';
import { adminFor, gatewayFor, producerFor } from './helpers/scoped.js';
import { WsClient, isOp, isRecord } from './helpers/ws.js';
import { brokerMembers } from './helpers/group-members.js';

let gateway: RunningGateway;
let wsUrl: string;
let admin: Admin;
let producer: Producer;

before(async (t) => {
  gateway = await gatewayFor(t, { WS_SESSION_TIMEOUT_MS: '6000', WS_MAX_SUBSCRIPTIONS: '3' });
  wsUrl = gateway.url.replace(/^http/, 'ws');
  admin = await adminFor(t);
  producer = await producerFor(t);
});

async function topicWith(partitions: number, records: Array<{ key?: string; value: string | Buffer; partition?: number }> = []): Promise<string> {
  const topic = uniqueName('ws');
  await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true });
  if (records.length > 0) await producer.send({ topic, messages: records });
  return topic;
}

async function groups(): Promise<string[]> {
  return (await admin.listGroups()).groups.map((g) => g.groupId);
}

test('subscribe from earliest: subscribed names the partitions, then every record arrives decoded; no group on the broker', async () => {
  const topic = await topicWith(2, [
    { key: 'a', value: JSON.stringify({ n: 1 }), partition: 0 },
    { key: 'b', value: 'plain text', partition: 1 },
    { value: Buffer.from([0xff, 0xfe, 0x00]), partition: 1 },
  ]);
  const groupsBefore = await groups();
  const client = await WsClient.connect(`${wsUrl}/v1/ws`);
  client.send({ op: 'subscribe', id: 's1', topics: [topic], from: 'earliest' });
  const subscribed = await client.next(isOp('subscribed', 's1'));
  assert.deepEqual(subscribed.partitions, [{ topic, partitions: [0, 1] }]);
  assert.equal(subscribed.ephemeral, true);
  assert.equal(subscribed.group, null);
  const records = await client.collect(isRecord('s1'), 3);
  const byKey = (k: unknown) => records.find((r) => r.key === k)!;
  assert.deepEqual(byKey('a').value, { n: 1 });
  assert.equal(byKey('a').valueEncoding, 'json');
  assert.equal(byKey('a').offset, '0');
  assert.equal(byKey('b').value, 'plain text');
  assert.equal(byKey('b').valueEncoding, 'text');
  const binary = records.find((r) => r.key === null)!;
  assert.equal(binary.valueEncoding, 'base64');
  assert.deepEqual(Buffer.from(String(binary.value), 'base64'), Buffer.from([0xff, 0xfe, 0x00]));
  assert.equal(typeof binary.timestamp, 'number');

  // A subscription without a group reads on its own positions: no group on the broker reads the topic for it.
  const newGroups = (await groups()).filter((g) => !groupsBefore.includes(g));
  for (const group of (await admin.describeGroups(newGroups)).groups) {
    for (const member of group.members) {
      assert.ok(!member.assignments.some((a) => a.topic === topic), `group ${group.groupId} reads ${topic}`);
    }
  }
  await client.close();
});

test('from latest (default) sends only what is produced after subscribing', async () => {
  const topic = await topicWith(1, [{ value: 'old' }]);
  const client = await WsClient.connect(`${wsUrl}/v1/ws`);
  client.send({ op: 'subscribe', id: 'l', topics: [topic] });
  await client.next(isOp('subscribed', 'l'));
  await producer.send({ topic, messages: [{ value: 'new' }] });
  const [record] = await client.collect(isRecord('l'), 1);
  assert.equal(record!.value, 'new');
  await client.close();
});

test('credit sent right behind its subscribe frame, before the subscription has started, is kept', async () => {
  const topic = await topicWith(1, Array.from({ length: 5 }, (_, i) => ({ value: String(i) })));
  const client = await WsClient.connect(`${wsUrl}/v1/ws`);
  client.send({ op: 'subscribe', id: 'early', topics: [topic], from: 'earliest', credit: 0 });
  client.send({ op: 'credit', id: 'more', sub: 'early', n: 3 });
  const records = await client.collect(isRecord('early'), 3);
  assert.deepEqual(records.map((r) => r.value), [0, 1, 2]);
  assert.equal(client.frames.filter((f) => f.op === 'error').length, 0, JSON.stringify(client.frames.filter((f) => f.op === 'error')));
  await client.close();
});

test('credit: no more records than granted, the rest after more credit', async () => {
  const topic = await topicWith(1, Array.from({ length: 5 }, (_, i) => ({ value: String(i) })));
  const client = await WsClient.connect(`${wsUrl}/v1/ws`);
  client.send({ op: 'subscribe', id: 'c', topics: [topic], from: 'earliest', credit: 2 });
  await client.collect(isRecord('c'), 2);
  // Give the gateway every chance to overshoot before checking it did not.
  await client.send({ op: 'subscribe', id: 'probe', topics: [topic], from: 'earliest' });
  await client.collect(isRecord('probe'), 5);
  assert.equal(client.frames.filter(isRecord('c')).length, 2);
  client.send({ op: 'credit', sub: 'c', n: 3 });
  const all = await client.collect(isRecord('c'), 5);
  assert.deepEqual(all.map((r) => r.value), [0, 1, 2, 3, 4]);
  await client.close();
});

test('bad frames get error frames with their id; the connection and other subscriptions go on', async () => {
  const topic = await topicWith(1);
  const client = await WsClient.connect(`${wsUrl}/v1/ws`);
  client.send({ op: 'subscribe', id: 'ok', topics: [topic] });
  await client.next(isOp('subscribed', 'ok'));

  client.send('{"op": "subscribe", ');
  const malformed = await client.next((f) => f.op === 'error' && f.code === 'GW_ERR_MALFORMED_JSON');
  assert.equal(malformed.status, 400);

  client.send({ op: 'dance', id: 'd1' });
  const unknownOp = await client.next(isOp('error', 'd1'));
  assert.match(String(unknownOp.detail), /Unknown op "dance"/);

  client.send({ op: 'subscribe', id: 'missing', topics: [uniqueName('nope')] });
  const unknownTopic = await client.next(isOp('error', 'missing'));
  assert.equal(unknownTopic.status, 404);
  assert.equal(unknownTopic.code, 'GW_ERR_TOPIC_NOT_FOUND');

  client.send({ op: 'subscribe', id: 'badoffset', topics: [topic], from: { [topic]: { '0': '-5' } } });
  const badOffset = await client.next(isOp('error', 'badoffset'));
  assert.equal(badOffset.status, 400);

  // A start offset for a partition the topic does not have is a mistake to say, not to pass over, with or without a group.
  for (const group of [undefined, uniqueName('nopartition')]) {
    client.send({ op: 'subscribe', id: 'nopartition', topics: [topic], ...(group ? { group } : {}), from: { [topic]: { '0': '0', '3': '0' } } });
    const noPartition = await client.next(isOp('error', 'nopartition'));
    assert.equal(noPartition.status, 400);
    assert.match(JSON.stringify(noPartition.errors), new RegExp(`/from/${topic}/3`));
  }

  client.send({ op: 'credit', id: 'cr', sub: 'ok', n: -1 });
  const badCredit = await client.next(isOp('error', 'cr'));
  assert.match(JSON.stringify(badCredit.errors), /\/n/);

  client.send({ op: 'credit', id: 'cr2', sub: 'nobody', n: 1 });
  assert.equal((await client.next(isOp('error', 'cr2'))).status, 404);

  client.send({ op: 'subscribe', id: 'ok', topics: [topic] });
  assert.equal((await client.next((f) => f.op === 'error' && f.id === 'ok')).status, 409);

  await producer.send({ topic, messages: [{ value: 'still here' }] });
  const [record] = await client.collect(isRecord('ok'), 1);
  assert.equal(record!.value, 'still here');
  await client.close();
});

test('subscriptions per connection are limited with a clear error frame', async () => {
  const topic = await topicWith(1);
  const client = await WsClient.connect(`${wsUrl}/v1/ws`);
  for (const id of ['a', 'b', 'c']) {
    client.send({ op: 'subscribe', id, topics: [topic] });
    await client.next(isOp('subscribed', id));
  }
  client.send({ op: 'subscribe', id: 'd', topics: [topic] });
  const refused = await client.next(isOp('error', 'd'));
  assert.equal(refused.status, 429);
  assert.match(String(refused.detail), /At most 3 subscriptions/);
  client.send({ op: 'unsubscribe', id: 'a' });
  await client.next(isOp('unsubscribed', 'a'));
  client.send({ op: 'subscribe', id: 'd', topics: [topic] });
  await client.next(isOp('subscribed', 'd'));
  await client.close();
});

test('durable group, manual ack: a reconnect resumes after the last ack, nothing acknowledged again, nothing lost', async () => {
  const topic = await topicWith(1, Array.from({ length: 6 }, (_, i) => ({ value: String(i) })));
  const group = uniqueName('durable');
  const first = await WsClient.connect(`${wsUrl}/v1/ws`);
  first.send({ op: 'subscribe', id: 'd', topics: [topic], group, from: 'earliest', ack: 'manual' });
  const subscribed = await first.next(isOp('subscribed', 'd'));
  assert.equal(subscribed.group, group);
  assert.equal(subscribed.ephemeral, false);
  const records = await first.collect(isRecord('d'), 6);
  first.send({ op: 'ack', id: 'ack1', sub: 'd', topic, partition: 0, offset: String(records[2]!.offset) });
  await eventually(async () => {
    const [committed] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    return committed?.partitions[0]?.offset === '3';
  });
  await first.close();

  const second = await WsClient.connect(`${wsUrl}/v1/ws`);
  second.send({ op: 'subscribe', id: 'd', topics: [topic], group, from: 'earliest', ack: 'manual' });
  const again = await second.collect(isRecord('d'), 3);
  assert.deepEqual(again.map((r) => r.offset), ['3', '4', '5']);
  await second.close();
  assert.ok((await groups()).includes(group), 'a durable group stays');
});

test('two connections in one group share the partitions and rebalance when one leaves', async () => {
  const topic = await topicWith(4);
  const group = uniqueName('shared');
  const a = await WsClient.connect(`${wsUrl}/v1/ws`);
  a.send({ op: 'subscribe', id: 'x', topics: [topic], group });
  await a.next(isOp('subscribed', 'x'));
  const b = await WsClient.connect(`${wsUrl}/v1/ws`);
  b.send({ op: 'subscribe', id: 'x', topics: [topic], group });
  await b.next(isOp('subscribed', 'x'));
  const held = (f: Record<string, unknown>) => (f.partitions as Array<{ partitions: number[] }>).flatMap((p) => p.partitions);
  // Under the consumer protocol b hears of its share after `subscribed`, once a has given it up.
  const latest = (c: WsClient) => held(c.frames.filter((f) => f.op === 'subscribed' || f.op === 'assigned').at(-1)!);
  await eventually(async () => latest(a).length === 2 && latest(b).length === 2);
  assert.deepEqual([...latest(a), ...latest(b)].sort(), [0, 1, 2, 3]);
  await b.close();
  const aBack = await a.next((f) => f.op === 'assigned' && held(f).length === 4, 40_000);
  assert.deepEqual(held(aBack).sort(), [0, 1, 2, 3]);
  await a.close();
});

test('the single-topic endpoint sends bare records', async () => {
  const topic = await topicWith(1, [{ key: 'k', value: '{"hello":"world"}' }]);
  const client = await WsClient.connect(`${wsUrl}/v1/topics/${topic}/ws?from=earliest`);
  const record = await client.next(() => true);
  assert.equal(record.op, undefined);
  assert.equal(record.topic, topic);
  assert.deepEqual(record.value, { hello: 'world' });
  await client.close();
});

test('refused upgrades answer HTTP problems before any frame', async () => {
  await assert.rejects(WsClient.connect(`${wsUrl}/v1/topics/${uniqueName('nope')}/ws`), (e: { status: number; body: string }) => {
    assert.equal(e.status, 404);
    assert.equal(JSON.parse(e.body).code, 'GW_ERR_TOPIC_NOT_FOUND');
    return true;
  });
  await assert.rejects(WsClient.connect(`${wsUrl}/v1/nowhere`), (e: { status: number }) => e.status === 404);
  const topic = await topicWith(1);
  await assert.rejects(WsClient.connect(`${wsUrl}/v1/topics/${topic}/ws?from=yesterday`), (e: { status: number; body: string }) => {
    assert.equal(e.status, 400);
    assert.match(JSON.parse(e.body).detail, /from/);
    return true;
  });
});

test('a frame over the size limit closes with 1009; opening and closing many sockets leaks nothing', async (t) => {
  const small = await gatewayFor(t, { WS_MAX_FRAME: '1kb' });
  const url = small.url.replace(/^http/, 'ws');
  const client = await WsClient.connect(`${url}/v1/ws`);
  client.send({ op: 'subscribe', id: 'x'.repeat(2000), topics: ['t'] });
  assert.equal((await client.waitClosed()).code, 1009);

  const topic = await topicWith(1);
  // The gateway's own reader of the schema topic starts with the gateway and stays: counted once it is there.
  await small.services.schemas.ready();
  const streamsBefore = small.services.subscriptions.stats().partitionStreams;
  const clients = await Promise.all(Array.from({ length: 10 }, () => WsClient.connect(`${url}/v1/ws`)));
  await Promise.all(
    clients.map(async (c, i) => {
      c.send({ op: 'subscribe', id: `s${i}`, topics: [topic] });
      await c.next(isOp('subscribed'));
    }),
  );
  assert.equal(small.services.webSockets.stats().subscriptions, 10);
  await Promise.all(clients.map((c) => c.close()));
  await eventually(async () => {
    const { connections, subscriptions, bufferedBytes } = small.services.webSockets.stats();
    return connections === 0 && subscriptions === 0 && bufferedBytes === 0;
  });
  // What remains is the gateway's own reader of the schema topic; the sockets' subscriptions let their partition
  // streams go as they end, which may be a moment after the sockets are counted gone.
  await eventually(async () => small.services.subscriptions.stats().partitionStreams === streamsBefore, 10_000).catch(() => undefined);
  assert.equal(small.services.subscriptions.stats().partitionStreams, streamsBefore);
});

test('shutdown closes sockets with 1001', async (t) => {
  const own = await gatewayFor(t);
  const topic = await topicWith(1);
  const client = await WsClient.connect(`${own.url.replace(/^http/, 'ws')}/v1/ws`);
  client.send({ op: 'subscribe', id: 's', topics: [topic] });
  await client.next(isOp('subscribed', 's'));
  await own.stop();
  assert.equal((await client.waitClosed()).code, 1001);
});

test('a plain GET on a WebSocket endpoint answers 426 saying how to connect', async () => {
  const request = (await import('supertest')).default;
  const { conforms } = await import('./helpers/contract.js');
  for (const path of ['/v1/ws', '/v1/topics/anything/ws']) {
    const res = conforms(await request(gateway.server).get(path).expect(426));
    assert.equal(res.headers.upgrade, 'websocket');
    assert.match(res.body.detail, /WebSocket endpoint/);
  }
});

test('a client that stops reading: gateway memory stays bounded, another client keeps its stream', async (t) => {
  const bound = 256 * 1024;
  const own = await gatewayFor(t, { WS_MAX_BUFFERED: String(bound) });
  const url = own.url.replace(/^http/, 'ws');
  const topic = await topicWith(1);
  const slow = await WsClient.connect(`${url}/v1/ws`);
  const fast = await WsClient.connect(`${url}/v1/ws`);
  for (const c of [slow, fast]) {
    c.send({ op: 'subscribe', id: 's', topics: [topic] });
    await c.next(isOp('subscribed', 's'));
  }
  // The slow client's socket stops reading: TCP fills, then the gateway's send buffer.
  (slow.socket as unknown as { _socket: { pause(): void } })._socket.pause();
  const value = 'x'.repeat(1024);
  const total = 4000;
  for (let i = 0; i < total; i += 500) {
    await producer.send({ topic, messages: Array.from({ length: 500 }, () => ({ value })) });
  }
  await fast.collect(isRecord('s'), total, 60_000);
  const stats = own.services.webSockets.stats();
  const peak = own.services.webSockets.peakBufferedBytes();
  // The bound, plus what one fetch of the paused partition may still bring in.
  const fetchSlack = Math.min(1024 * 1024, Math.max(64 * 1024, bound / 4));
  assert.ok(peak <= bound + fetchSlack + 64 * 1024, `peak unsent bytes ${peak} exceed the bound ${bound} + fetch ${fetchSlack}`);
  assert.ok(stats.bufferedBytes <= bound + fetchSlack + 64 * 1024);
  assert.ok(slow.frames.length < total, 'the slow client has not read everything');
  slow.socket.terminate();
  await fast.close();
});

test('a peer that stops answering pings is terminated and its group membership released', async (t) => {
  const own = await gatewayFor(t, { WS_PING_INTERVAL_MS: '200' });
  const topic = await topicWith(1);
  const group = uniqueName('ping');
  const client = await WsClient.connect(`${own.url.replace(/^http/, 'ws')}/v1/ws`, { autoPong: false });
  client.send({ op: 'subscribe', id: 's', topics: [topic], group });
  await client.next(isOp('subscribed', 's'));
  await client.waitClosed();
  await eventually(async () => own.services.webSockets.stats().connections === 0);
  await eventually(async () => (await brokerMembers(admin, group)) === 0);
});
