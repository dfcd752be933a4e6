/**
 * Subscriptions as a hostile or unlucky client drives them: acks for what
 * was never delivered or is not the subscription's, ids used twice, frames
 * sent faster than subscriptions start, sockets that close mid-start, and a
 * reader that stops reading while the topic fills (memory measured from
 * outside the gateway process).
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import type { Admin, Producer } from './helpers/kafka-client.js';
import type { RunningGateway } from '../src/gateway.js';
import { eventually, uniqueName } from './helpers/env.js';
import { adminFor, gatewayFor, producerFor } from './helpers/scoped.js';
import { runGateway } from './helpers/process.js';
import { WsClient, isOp, isRecord, type Frame } from './helpers/ws.js';

let gateway: RunningGateway;
let wsUrl: string;
let admin: Admin;
let producer: Producer;

before(async (t) => {
  gateway = await gatewayFor(t, { WS_SESSION_TIMEOUT_MS: '6000', WS_MAX_SUBSCRIPTIONS: '20' });
  wsUrl = `${gateway.url.replace(/^http/, 'ws')}/v1/ws`;
  admin = await adminFor(t);
  producer = await producerFor(t);
});

async function topicWith(partitions: number, records: Array<{ value: string; partition?: number }> = []): Promise<string> {
  const topic = uniqueName('wssub');
  await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true });
  if (records.length > 0) await producer.send({ topic, messages: records });
  return topic;
}

async function committed(group: string, topic: string): Promise<Record<number, string>> {
  const [offsets] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
  return Object.fromEntries((offsets?.partitions ?? []).map((p) => [p.partition, p.offset]));
}

/** Members of a group of either protocol (Kafka's DescribeGroups sees classic groups only), 0 for a group the broker does not know. */
async function members(group: string): Promise<number> {
  const found = await gateway.services.metadata.group(group).catch(() => undefined);
  return found?.members.length ?? 0;
}

const errorFor = (id: string) => (f: Frame) => f.op === 'error' && f.id === id;

test('ack commits only a held partition and a delivered offset; anything else is an error frame and commits nothing', async () => {
  const topic = await topicWith(2, [{ value: 'a', partition: 0 }, { value: 'b', partition: 0 }, { value: 'c', partition: 0 }]);
  const other = await topicWith(1, [{ value: 'x' }]);
  const group = uniqueName('acks');
  const client = await WsClient.connect(wsUrl);
  client.send({ op: 'subscribe', id: 's', topics: [topic], group, from: 'earliest', ack: 'manual' });
  await client.next(isOp('subscribed', 's'));
  const records = await client.collect(isRecord('s'), 3);

  const refusals: Array<[string, Record<string, unknown>, number, RegExp]> = [
    ['never-delivered', { topic, partition: 0, offset: '1000000' }, 400, /was not delivered/],
    ['other-topic', { topic: other, partition: 0, offset: '0' }, 400, /does not read topic/],
    ['no-such-partition', { topic, partition: 7, offset: '0' }, 400, /does not hold partition 7/],
    ['nothing-delivered-there', { topic, partition: 1, offset: '0' }, 400, /was not delivered/],
    ['beyond-int64', { topic, partition: 0, offset: '9223372036854775808' }, 400, /2\^63/],
    ['not-a-number', { topic, partition: 0, offset: '12345678901234567890123' }, 400, /offset/],
  ];
  for (const [id, fields, status, detail] of refusals) {
    client.send({ op: 'ack', id, sub: 's', ...fields });
    const error = await client.next(errorFor(id));
    assert.equal(error.status, status, `${id}: ${JSON.stringify(error)}`);
    assert.match(String(error.detail), detail, id);
  }
  assert.deepEqual(await committed(group, other), { 0: '-1' }, 'an ack naming another topic moved nothing there');
  assert.deepEqual(await committed(group, topic), { 0: '-1', 1: '-1' });

  client.send({ op: 'ack', id: 'good', sub: 's', topic, partition: 0, offset: String(records[1]!.offset) });
  await eventually(async () => (await committed(group, topic))[0] === '2');
  assert.equal(client.frames.filter(errorFor('good')).length, 0);
  await client.close();
});

test('an ack for a partition a rebalance took away is 409, and commits nothing', async () => {
  const topic = await topicWith(2, [{ value: 'p0', partition: 0 }, { value: 'p1', partition: 1 }]);
  const group = uniqueName('acks-rebalance');
  const first = await WsClient.connect(wsUrl);
  first.send({ op: 'subscribe', id: 's', topics: [topic], group, from: 'earliest', ack: 'manual' });
  await first.next(isOp('subscribed', 's'));
  const delivered = await first.collect(isRecord('s'), 2);
  const second = await WsClient.connect(wsUrl);
  second.send({ op: 'subscribe', id: 's', topics: [topic], group, from: 'earliest', ack: 'manual' });
  await second.next(isOp('subscribed', 's'));
  // The partition moves once the first member has given it up (and said so), so its `assigned` comes first.
  const kept = await first.next((f) => f.op === 'assigned' && (f.partitions as Array<{ partitions: number[] }>).flatMap((p) => p.partitions).length === 1);
  const taken = [0, 1].find((p) => !(kept.partitions as Array<{ partitions: number[] }>)[0]!.partitions.includes(p))!;
  const lost = delivered.find((r) => r.partition === taken)!;
  first.send({ op: 'ack', id: 'late', sub: 's', topic, partition: taken, offset: String(lost.offset) });
  const error = await first.next(errorFor('late'));
  assert.equal(error.status, 409);
  assert.match(String(error.detail), /rebalance/);
  assert.equal((await committed(group, topic))[taken], '-1');
  await Promise.all([first.close(), second.close()]);
});

test('a subscribe frame reusing an open id is refused; subscribe and unsubscribe back to back leak nothing', async () => {
  const topic = await topicWith(1);
  const group = uniqueName('dup');
  const baseline = gateway.services.subscriptions.stats().subscriptions;
  const client = await WsClient.connect(wsUrl);
  client.send({ op: 'subscribe', id: 'twice', topics: [topic], group });
  client.send({ op: 'subscribe', id: 'twice', topics: [topic], group });
  await client.next(isOp('subscribed', 'twice'));
  assert.equal((await client.next(errorFor('twice'))).status, 409);
  assert.equal(client.frames.filter(isOp('subscribed', 'twice')).length, 1);

  const churn = uniqueName('churn');
  for (let i = 0; i < 30; i++) {
    client.send({ op: 'subscribe', id: 'again', topics: [topic], group: churn });
    client.send({ op: 'unsubscribe', id: 'again' });
  }
  await client.collect(isOp('unsubscribed', 'again'), 30);
  await eventually(async () => gateway.services.subscriptions.stats().subscriptions === baseline + 1);
  await eventually(async () => (await members(churn)) === 0);
  assert.equal(await members(group), 1, 'the first "twice" is still a member, the second never became one');
  await client.close();
  await eventually(async () => (await members(group)) === 0);
  await eventually(async () => gateway.services.subscriptions.stats().subscriptions === baseline);
});

test('200 subscribe frames sent back to back open exactly WS_MAX_SUBSCRIPTIONS', async () => {
  const topic = await topicWith(1);
  const client = await WsClient.connect(wsUrl);
  for (let i = 0; i < 200; i++) client.send({ op: 'subscribe', id: `s${i}`, topics: [topic] });
  await eventually(async () => client.frames.filter((f) => f.op === 'subscribed' || f.op === 'error').length === 200);
  assert.equal(client.frames.filter((f) => f.op === 'subscribed').length, 20);
  const refused = client.frames.filter((f) => f.op === 'error');
  assert.ok(refused.every((f) => f.status === 429));
  assert.equal(refused.length, 180);
  await client.close();
});

test('a socket that closes while its subscriptions start leaves no subscription and no group member', async () => {
  const topic = await topicWith(2);
  const groups = Array.from({ length: 5 }, () => uniqueName('gone'));
  const baseline = gateway.services.subscriptions.stats().subscriptions;
  const client = await WsClient.connect(wsUrl);
  groups.forEach((group, i) => client.send({ op: 'subscribe', id: `g${i}`, topics: [topic], group }));
  for (let i = 0; i < 5; i++) client.send({ op: 'subscribe', id: `e${i}`, topics: [topic] });
  client.socket.terminate();
  await eventually(async () => gateway.services.webSockets.stats().connections === 0);
  await eventually(async () => gateway.services.subscriptions.stats().subscriptions === baseline);
  for (const group of groups) await eventually(async () => (await members(group)) === 0);
  // And none joins later either.
  await new Promise((r) => setTimeout(r, 1500));
  for (const group of groups) assert.equal(await members(group), 0, `${group} has a member with no socket`);
});

test('/metrics tells what subscriptions read and how far behind the end of the log the slowest is', async () => {
  const big = 'x'.repeat(300_000);
  const topic = await topicWith(1);
  for (let i = 0; i < 5; i++) await producer.send({ topic, messages: [{ value: big }] });
  const client = await WsClient.connect(wsUrl);
  // One record of credit: the subscription reads one fetch (1 MiB here, three of these records) and then waits.
  client.send({ op: 'subscribe', id: 'slow', topics: [topic], from: 'earliest', credit: 1 });
  await client.collect(isRecord('slow'), 1);
  const gauges = async () => {
    const text = await (await fetch(`${gateway.url}/metrics`)).text();
    const value = (line: string) => Number(text.split('\n').find((l) => l.startsWith(line))?.slice(line.length).trim());
    return {
      ephemeral: value(`gateway_subscriptions{topic="${topic}",kind="ephemeral"}`),
      lag: value(`gateway_subscription_max_lag_records{topic="${topic}"}`),
    };
  };
  const seen = await eventually(async () => {
    const now = await gauges();
    return now.lag > 0 ? now : undefined;
  });
  assert.equal(seen.ephemeral, 1);
  assert.ok(seen.lag >= 1 && seen.lag <= 4, `lag ${seen.lag}`);
  client.send({ op: 'credit', sub: 'slow', n: 10 });
  await client.collect(isRecord('slow'), 5);
  await eventually(async () => (await gauges()).lag === 0);
  await client.close();
  await eventually(async () => Number.isNaN((await gauges()).ephemeral));
});

test('a topic deleted under a subscription ends it with 404; partitions raised through the gateway are all subscribed at once, and by another tool within the metadata TTL', async () => {
  const topic = await topicWith(1, [{ value: 'a' }]);
  const client = await WsClient.connect(wsUrl);
  client.send({ op: 'subscribe', id: 'gone', topics: [topic], from: 'earliest' });
  await client.next(isRecord('gone'));
  await admin.deleteTopics({ topics: [topic] });
  const ended = await client.next(errorFor('gone'), 30_000);
  assert.equal(ended.code, 'GW_ERR_TOPIC_NOT_FOUND', JSON.stringify(ended));
  assert.equal(ended.status, 404);

  const raised = await topicWith(1);
  client.send({ op: 'subscribe', id: 'one', topics: [raised] });
  assert.deepEqual((await client.next(isOp('subscribed', 'one'))).partitions, [{ topic: raised, partitions: [0] }]);
  const res = await fetch(`${gateway.url}/v1/topics/${raised}/partitions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ partitions: 3 }) });
  assert.equal(res.status, 200);
  client.send({ op: 'subscribe', id: 'three', topics: [raised] });
  assert.deepEqual((await client.next(isOp('subscribed', 'three'))).partitions, [{ topic: raised, partitions: [0, 1, 2] }]);

  await admin.createPartitions({ topicPartitions: [{ topic: raised, count: 4 }] });
  let attempt = 0;
  await eventually(async () => {
    const id = `four-${attempt++}`;
    client.send({ op: 'subscribe', id, topics: [raised] });
    const subscribed = await client.next(isOp('subscribed', id));
    client.send({ op: 'unsubscribe', id });
    return (subscribed.partitions as Array<{ partitions: number[] }>)[0]!.partitions.length === 4;
  });
  await client.close();
});

test('a reader that stops reading costs its gateway process a bounded amount, measured from outside, while others get everything', async (t) => {
  const bound = 32 * 1024 * 1024;
  // Two gateway processes under the same traffic; one of them also serves a client that stopped reading.
  // The difference in their memory is what the stalled client costs, whatever the garbage collector keeps in both.
  // A small heap makes both collect garbage often, so what RSS shows is mostly what is held.
  const start = () => runGateway({ WS_MAX_BUFFERED: String(bound) }, ['--max-old-space-size=96']);
  const [withStalled, without] = await Promise.all([start(), start()]);
  try {
    const topic = await topicWith(1);
    const ws = (gw: { url: string }) => `${gw.url.replace(/^http/, 'ws')}/v1/ws`;
    const stalled = await WsClient.connect(ws(withStalled));
    const readers = await Promise.all([WsClient.connect(ws(withStalled)), WsClient.connect(ws(without))]);
    for (const c of [stalled, ...readers]) {
      c.send({ op: 'subscribe', id: 's', topics: [topic] });
      await c.next(isOp('subscribed', 's'));
    }
    (stalled.socket as unknown as { _socket: { pause(): void } })._socket.pause();
    const value = 'x'.repeat(4000);
    const batch = Array.from({ length: 200 }, () => ({ value }));
    const sent = 30_000;
    for (let i = 0; i < sent; i += batch.length) await producer.send({ topic, messages: batch });
    await Promise.all(readers.map((r) => r.collect(isRecord('s'), sent, 180_000)));
    // Garbage a process has not collected yet shows in one sample (on a loaded machine, tens of MiB); what the
    // stalled client holds shows in all of them. So each process counts with its smallest RSS over a few seconds.
    // 2.75 times plus 10 MiB: once, on a loaded machine, 92.7 MiB for 32 MiB unsent (RSS still held memory freed but
    // not yet given back), over the 90 MiB of 2.5 times; the design this replaced (3 times plus 5 MB) stays above it.
    const limit = bound * 2.75 + 10 * 1024 * 1024;
    let [stalledLeast, withoutLeast] = [Infinity, Infinity];
    for (let sample = 0; sample < 20; sample++) {
      if (sample > 0) await new Promise((r) => setTimeout(r, 250));
      [stalledLeast, withoutLeast] = [Math.min(stalledLeast, withStalled.rss()), Math.min(withoutLeast, without.rss())];
    }
    const cost = stalledLeast - withoutLeast;
    const unsent = Number(/^gateway_websocket_unsent_bytes (\d+)$/m.exec(await (await fetch(`${withStalled.url}/metrics`)).text())?.[1]);
    const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
    t.diagnostic(`120 MB went past; the stalled client holds ${mib(unsent)} unsent and costs its gateway ${mib(cost)}`);
    // It holds at most WS_MAX_BUFFERED plus one fetch batch (a quarter of it, at most 1 MiB) and the frame that crossed the line.
    assert.ok(unsent <= bound + 1024 * 1024 + 64 * 1024, `the stalled client holds ${unsent} unsent bytes`);
    // Which cost 1.8 to 2.3 times their size in process memory (Node 20 and 24, see docs/websocket.md); the design this
    // replaced cost 3 times plus 5 MB, frames cut from Node's shared buffer pool 4 times on Node 24, no bound over 200 MiB.
    assert.ok(cost < limit, `the stalled client costs its gateway ${mib(cost)} (WS_MAX_BUFFERED is 32 MiB)`);
    assert.ok(stalled.frames.length < sent);
    stalled.socket.terminate();
    await Promise.all(readers.map((r) => r.close()));
  } finally {
    for (const gw of [withStalled, without]) gw.child.kill('SIGTERM');
    await Promise.all([withStalled.exit, without.exit]);
  }
});
