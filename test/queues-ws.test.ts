/**
 * Queues over WebSocket: subscriptions that name a share group (KIP-932)
 * on the real broker. Records carry their delivery count; answers accept,
 * release or reject them; released records come back counted twice,
 * rejected ones go to the dead-letter topic and never come back; a client
 * that vanishes loses its records to another after the lock; ten members
 * on one partition all get work; across members every record is accepted
 * once; and a Java KafkaShareConsumer shares the work with a WebSocket
 * client in the same group.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { before, test } from 'node:test';
import { ensureKafkaJars } from '../kafka/broker.js';
import type { RunningGateway } from '../src/gateway.js';
import type { Admin, Producer } from './helpers/kafka-client.js';
import { eventually, sharedBrokers, uniqueName } from './helpers/env.js';
import { runGateway } from './helpers/process.js';
import { adminFor, gatewayFor, producerFor } from './helpers/scoped.js';
import { WsClient, isOp, isRecord, type Frame } from './helpers/ws.js';

let admin: Admin;
let producer: Producer;
let gateway: RunningGateway;
let wsUrl: string;

before(async (t) => {
  admin = await adminFor(t);
  producer = await producerFor(t);
  gateway = await gatewayFor(t);
  wsUrl = `${gateway.url.replace(/^http/, 'ws')}/v1/ws`;
});

/** A one-partition topic with `count` records v0..v(count-1), and a share group reading it from the start. */
async function queue(count: number, settings: Record<string, string> = {}): Promise<{ topic: string; group: string }> {
  const topic = uniqueName('queue');
  const group = uniqueName('workers');
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
  if (count > 0) await producer.send({ topic, messages: Array.from({ length: count }, (_, i) => ({ value: `v${i}` })) });
  await setGroup(group, { 'share.auto.offset.reset': 'earliest', ...settings });
  return { topic, group };
}

async function setGroup(group: string, configs: Record<string, string>): Promise<void> {
  await admin.client.incrementalAlterConfigs({
    resources: [{ resourceType: 32, resourceName: group, configs: Object.entries(configs).map(([name, value]) => ({ name, configOperation: 0, value })) }],
  });
}

async function worker(topic: string, group: string, extra: Record<string, unknown> = {}, id = 'q'): Promise<WsClient> {
  const ws = await WsClient.connect(wsUrl);
  ws.send({ op: 'subscribe', id, topics: [topic], shareGroup: group, ...extra });
  await ws.next(isOp('subscribed', id));
  return ws;
}

const answer = (ws: WsClient, record: Frame, outcome: string, id?: string) =>
  ws.send({ op: 'answer', sub: record.sub, topic: record.topic, partition: record.partition, offset: record.offset, outcome, ...(id ? { id } : {}) });

test('a released record comes back with delivery count 2; a rejected one never comes back and lands in the dead-letter topic', async () => {
  const { topic, group } = await queue(2);
  const dlq = `dlq.${topic}`;
  await admin.createTopics({ topics: [{ topic: dlq, numPartitions: 1, configEntries: [{ name: 'errors.deadletterqueue.group.enable', value: 'true' }] }] });
  await setGroup(group, { 'errors.deadletterqueue.topic.name': dlq, 'errors.deadletterqueue.copy.record.enable': 'true' });
  const ws = await worker(topic, group);
  const first = await ws.collect(isRecord('q'), 2);
  assert.deepEqual(
    first.map((r) => [r.value, r.deliveryCount]),
    [
      ['v0', 1],
      ['v1', 1],
    ],
  );
  assert.ok(typeof first[0]!.lockExpiresAt === 'number' && first[0]!.lockExpiresAt > Date.now() - 1000);
  answer(ws, first[0]!, 'release', 'r1');
  answer(ws, first[1]!, 'reject', 'r2');
  await ws.next(isOp('answered', 'r1'));
  await ws.next(isOp('answered', 'r2'));
  const again = await ws.next((f) => isRecord('q')(f) && f.deliveryCount === 2);
  assert.equal(again.value, 'v0');
  answer(ws, again, 'accept', 'a1');
  await ws.next(isOp('answered', 'a1'));
  // The rejected record is in the dead-letter topic, with where it came from.
  const letters = await readAll(dlq, 1);
  assert.equal(letters[0]!.value, 'v1');
  assert.equal(letters[0]!.headers['__dlq.errors.topic'], topic);
  assert.equal(letters[0]!.headers['__dlq.errors.offset'], '1');
  assert.equal(letters[0]!.headers['__dlq.errors.group'], group);
  // And it never comes back: nothing else arrives while a new record goes through.
  await producer.send({ topic, messages: [{ value: 'v2' }] });
  const third = await ws.next((f) => isRecord('q')(f) && f.value === 'v2');
  answer(ws, third, 'accept', 'a2');
  await ws.next(isOp('answered', 'a2'));
  assert.deepEqual(
    ws.frames.filter(isRecord('q')).map((r) => r.value),
    ['v0', 'v1', 'v0', 'v2'],
  );
  // Answering a record no longer held is refused with a frame saying so, and sends nothing to Kafka.
  answer(ws, first[1]!, 'accept', 'late');
  const refused = await ws.next(isOp('error', 'late'));
  assert.equal(refused.status, 404);
  await ws.close();
});

test('ten members on a one-partition topic all get work, and every record is accepted exactly once', async () => {
  const { topic, group } = await queue(0);
  const workers = await Promise.all(Array.from({ length: 10 }, () => worker(topic, group, { credit: 1 })));
  const accepted: string[] = [];
  const busy = new Set<number>();
  workers.forEach((ws, index) => {
    ws.socket.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as Frame;
      if (frame.op !== 'record') return;
      busy.add(index);
      accepted.push(String(frame.value));
      // A slow handler: the next record goes to whoever is free.
      setTimeout(() => {
        answer(ws, frame, 'accept');
        ws.send({ op: 'credit', sub: 'q', n: 1 });
      }, 50);
    });
  });
  const values = Array.from({ length: 200 }, (_, i) => `m${i}`);
  for (let i = 0; i < values.length; i += 20) await producer.send({ topic, messages: values.slice(i, i + 20).map((value) => ({ value })) });
  await eventually(async () => accepted.length >= values.length, 60_000);
  await new Promise((r) => setTimeout(r, 1000)); // a duplicate would arrive by now
  assert.deepEqual([...accepted].sort(), [...values].sort(), 'every record once');
  assert.equal(busy.size, 10, `members that got work: ${[...busy].join(', ')}`);
  await Promise.all(workers.map((ws) => ws.close()));
});

test('a client that vanishes mid-lock loses its records to another member after the lock, and a holder is told when its lock expired', async () => {
  const { topic, group } = await queue(3, { 'share.record.lock.duration.ms': '2000' });
  const holder = await worker(topic, group);
  const held = await holder.collect(isRecord('q'), 3);
  assert.deepEqual(
    held.map((r) => r.deliveryCount),
    [1, 1, 1],
  );
  // It answers nothing: the locks expire and it is told.
  const expired = await holder.next(isOp('lockExpired', 'q'), 15_000);
  assert.ok((expired.records as unknown[]).length >= 1);
  // Now it vanishes without a close frame, holding the records delivered again.
  await holder.next((f) => isRecord('q')(f) && f.deliveryCount === 2, 15_000);
  holder.socket.terminate();
  const other = await worker(topic, group);
  const taken = await other.collect(isRecord('q'), 3, 30_000);
  assert.deepEqual(taken.map((r) => r.value).sort(), ['v0', 'v1', 'v2']);
  assert.ok(taken.every((r) => Number(r.deliveryCount) >= 2));
  await other.close();
});

test('a Java KafkaShareConsumer and a WebSocket client in one share group share the work, each record accepted once', { timeout: 120_000 }, async () => {
  const { topic, group } = await queue(0);
  const java = spawn('java', ['-cp', `${ensureKafkaJars()}/*`, 'test/fixtures/JavaShareConsumer.java', sharedBrokers(), group, topic, '30'], { stdio: ['pipe', 'pipe', 'pipe'] });
  // Kept for the failure message only: the client logs nothing useful otherwise (no SLF4J binding).
  let javaErrors = '';
  java.stderr.on('data', (chunk: Buffer) => (javaErrors += chunk.toString()));
  try {
    const fromJava: string[] = [];
    let javaReady = false;
    createInterface({ input: java.stdout }).on('line', (line) => {
      const event = JSON.parse(line) as { ready?: boolean; value?: string };
      if (event.ready) javaReady = true;
      else fromJava.push(event.value!);
    });
    const ws = await worker(topic, group, { credit: 1 });
    const fromWs: string[] = [];
    ws.socket.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as Frame;
      if (frame.op !== 'record') return;
      fromWs.push(String(frame.value));
      setTimeout(() => {
        answer(ws, frame, 'accept');
        ws.send({ op: 'credit', sub: 'q', n: 1 });
      }, 30);
    });
    await eventually(async () => javaReady || java.exitCode !== null, 60_000);
    assert.ok(javaReady, `the Java share consumer did not start: ${javaErrors}`);
    const values = Array.from({ length: 60 }, (_, i) => `j${i}`);
    for (let i = 0; i < values.length; i += 10) {
      await producer.send({ topic, messages: values.slice(i, i + 10).map((value) => ({ value })) });
      await new Promise((r) => setTimeout(r, 200));
    }
    await eventually(async () => fromJava.length + fromWs.length >= values.length, 60_000);
    await new Promise((r) => setTimeout(r, 1000)); // a duplicate would arrive by now
    assert.deepEqual([...fromJava, ...fromWs].sort(), [...values].sort(), 'every record accepted once, by one of them');
    assert.ok(fromJava.length > 0, 'the Java consumer got work');
    assert.ok(fromWs.length > 0, 'the WebSocket client got work');
    await ws.close();
  } finally {
    java.stdin.end();
    await new Promise((r) => java.once('exit', r));
  }
});

test('records held through a gateway process that dies go to another member when their locks expire', async () => {
  const { topic, group } = await queue(2, { 'share.record.lock.duration.ms': '2000' });
  const doomed = await runGateway();
  try {
    const ws = await WsClient.connect(`${doomed.url.replace(/^http/, 'ws')}/v1/ws`);
    ws.send({ op: 'subscribe', id: 'q', topics: [topic], shareGroup: group });
    await ws.collect(isRecord('q'), 2);
    // The process dies holding both records: nobody releases them, only their locks end.
    doomed.child.kill('SIGKILL');
    await doomed.exit;
  } finally {
    if (doomed.child.exitCode === null) doomed.child.kill('SIGKILL');
  }
  const other = await worker(topic, group);
  const taken = await other.collect(isRecord('q'), 2, 30_000);
  assert.deepEqual(taken.map((r) => r.value).sort(), ['v0', 'v1']);
  assert.deepEqual(
    taken.map((r) => r.deliveryCount),
    [2, 2],
  );
  for (const record of taken) answer(other, record, 'accept');
  await other.close();
});

test('bad share frames get error frames and the connection goes on', async () => {
  const { topic, group } = await queue(1);
  const ws = await worker(topic, group);
  const record = await ws.next(isRecord('q'));
  ws.send({ op: 'answer', id: 'bad1', sub: 'q', topic, partition: 0, offset: '0', outcome: 'maybe' });
  assert.equal((await ws.next(isOp('error', 'bad1'))).status, 400);
  ws.send({ op: 'answer', id: 'bad2', sub: 'nope', topic, partition: 0, offset: '0', outcome: 'accept' });
  assert.equal((await ws.next(isOp('error', 'bad2'))).status, 404);
  ws.send({ op: 'answer', id: 'bad3', sub: 'q', topic, partition: 0, offset: '5', lastOffset: '1', outcome: 'accept' });
  assert.equal((await ws.next(isOp('error', 'bad3'))).status, 400);
  ws.send({ op: 'answer', id: 'bad4', sub: 'q', topic, partition: 7, offset: '0', outcome: 'accept' });
  assert.equal((await ws.next(isOp('error', 'bad4'))).status, 404);
  ws.send({ op: 'subscribe', id: 'bad5', topics: [topic], shareGroup: group, group: 'x' });
  assert.equal((await ws.next(isOp('error', 'bad5'))).status, 400);
  ws.send({ op: 'subscribe', id: 'q', topics: [topic], shareGroup: group });
  // By id alone: the answers refused above name sub q too.
  assert.equal((await ws.next((f) => f.op === 'error' && f.id === 'q')).status, 409);
  ws.send({ op: 'subscribe', id: 'bad6', topics: ['no-such-topic-here'], shareGroup: group });
  assert.equal((await ws.next(isOp('error', 'bad6'))).status, 404);
  answer(ws, record, 'renew', 'renewed');
  await ws.next(isOp('answered', 'renewed'));
  answer(ws, record, 'accept', 'ok');
  await ws.next(isOp('answered', 'ok'));
  ws.send({ op: 'unsubscribe', id: 'q' });
  await ws.next(isOp('unsubscribed', 'q'));
  await ws.close();
});

/** Every record of a one-partition topic, once at least `count` are there. */
async function readAll(topic: string, count: number): Promise<Array<{ value: string; headers: Record<string, string> }>> {
  const res = await eventually(async () => {
    const response = await fetch(`${gateway.url}/v1/topics/${topic}/partitions/0/records?offset=0&limit=100`);
    const body = (await response.json()) as { records: Array<{ value: string; headers: Record<string, string> }> };
    return body.records.length >= count ? body.records : undefined;
  }, 30_000);
  return res;
}
