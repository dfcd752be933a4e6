/**
 * Durable subscriptions are real members of their consumer group: they
 * share partitions with a Python (librdkafka) consumer of the same group,
 * through joins and leaves on both sides,
 * and across two gateway processes, where killing one hands its partitions
 * to the other within the session timeout without redelivering what was
 * committed.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { before, test } from 'node:test';
import { ensureKafkaJars } from '../kafka/broker.js';
import type { Admin, Producer } from './helpers/kafka-client.js';
import { eventually, sharedBrokers, uniqueName } from './helpers/env.js';
import { adminFor, producerFor } from './helpers/scoped.js';
import { runGateway, type GatewayProcess } from './helpers/process.js';
import { WsClient, isOp, isRecord, type Frame } from './helpers/ws.js';

let admin: Admin;
let producer: Producer;

before(async (t) => {
  admin = await adminFor(t);
  producer = await producerFor(t);
});

async function topicWith(partitions: number): Promise<string> {
  const topic = uniqueName('groups');
  await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true });
  return topic;
}

/** One record per partition per round, so every member has something to read. */
async function produceRound(topic: string, partitions: number, round: number): Promise<string[]> {
  const values = Array.from({ length: partitions }, (_, p) => `r${round}-p${p}`);
  await producer.send({ topic, messages: values.map((value, partition) => ({ value, partition })) });
  return values;
}

const held = (frame: Frame) => (frame.partitions as Array<{ partitions: number[] }>).flatMap((p) => p.partitions);
const wsUrl = (gw: GatewayProcess) => `${gw.url.replace(/^http/, 'ws')}/v1/ws`;

test('a WebSocket subscriber and a Python consumer in one group split the partitions and read each record once', async () => {
  const python = '.venv-clients/bin/python';
  assert.ok(existsSync(python), 'the Python consumer needs scripts/generate-clients.sh install');
  const topic = await topicWith(4);
  const group = uniqueName('with-python');
  const gw = await runGateway({ WS_SESSION_TIMEOUT_MS: '6000' });
  const consumer = spawn(python, ['test/fixtures/group_consumer.py', sharedBrokers(), group, topic], { stdio: ['pipe', 'pipe', 'inherit'] });
  try {
    const fromPython: Array<{ partition: number; value: string }> = [];
    let pythonHolds: number[] = [];
    createInterface({ input: consumer.stdout }).on('line', (line) => {
      const event = JSON.parse(line) as { assigned?: number[]; partition?: number; value?: string };
      if (event.assigned) pythonHolds = event.assigned;
      else fromPython.push({ partition: event.partition!, value: event.value! });
    });
    await eventually(async () => pythonHolds.length === 4, 60_000);
    const ws = await WsClient.connect(wsUrl(gw));
    ws.send({ op: 'subscribe', id: 'w', topics: [topic], group });
    await ws.next(isOp('subscribed', 'w'));
    // The group settles with two partitions each (roundrobin, which both offer).
    await eventually(async () => pythonHolds.length === 2 && held(ws.frames.filter((f) => f.op === 'subscribed' || f.op === 'assigned').at(-1)!).length === 2, 60_000);
    const wsHolds = held(ws.frames.filter((f) => f.op === 'subscribed' || f.op === 'assigned').at(-1)!);
    assert.deepEqual([...wsHolds, ...pythonHolds].sort(), [0, 1, 2, 3]);

    const produced = [...(await produceRound(topic, 4, 0)), ...(await produceRound(topic, 4, 1))];
    await eventually(async () => ws.frames.filter(isRecord('w')).length + fromPython.length >= produced.length, 60_000);
    await new Promise((r) => setTimeout(r, 500)); // anything read twice would arrive by now
    const fromWs = ws.frames.filter(isRecord('w')).map((f) => ({ partition: Number(f.partition), value: String(f.value) }));
    assert.deepEqual([...fromWs, ...fromPython].map((r) => r.value).sort(), [...produced].sort(), 'each record read once, by one member');
    assert.ok(fromWs.every((r) => wsHolds.includes(r.partition)));
    assert.ok(fromPython.every((r) => pythonHolds.includes(r.partition)));
    await ws.close();
  } finally {
    consumer.stdin.end();
    await new Promise((r) => consumer.once('exit', r));
    gw.child.kill('SIGTERM');
    await gw.exit;
  }
});

test('one durable group across two gateways: a gateway killed outright hands its partitions over, nothing committed comes again', async () => {
  const topic = await topicWith(4);
  const group = uniqueName('two-gateways');
  const env = { WS_SESSION_TIMEOUT_MS: '6000', WS_AUTO_COMMIT_INTERVAL_MS: '100' };
  const [doomed, survivor] = await Promise.all([runGateway(env), runGateway(env)]);
  try {
    const a = await WsClient.connect(wsUrl(doomed));
    a.send({ op: 'subscribe', id: 's', topics: [topic], group, from: 'earliest' });
    await a.next(isOp('subscribed', 's'));
    const b = await WsClient.connect(wsUrl(survivor));
    b.send({ op: 'subscribe', id: 's', topics: [topic], group, from: 'earliest' });
    await b.next(isOp('subscribed', 's'));
    // Under the consumer protocol b may be told of its partitions after `subscribed`, once a has given them up.
    const latest = (c: WsClient) => held(c.frames.filter((f) => f.op === 'subscribed' || f.op === 'assigned').at(-1)!);
    await eventually(async () => latest(a).length === 2 && latest(b).length === 2);
    assert.deepEqual([...latest(a), ...latest(b)].sort(), [0, 1, 2, 3]);

    const produced: string[] = [];
    for (let round = 0; round < 5; round++) produced.push(...(await produceRound(topic, 4, round)));
    await eventually(async () => a.frames.filter(isRecord('s')).length + b.frames.filter(isRecord('s')).length >= produced.length);
    // Everything delivered so far is committed (auto ack) before the gateway dies.
    await eventually(async () => {
      const [offsets] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
      return offsets?.partitions.every((p) => p.offset === '5');
    });

    doomed.child.kill('SIGKILL');
    await doomed.exit;
    for (let round = 5; round < 10; round++) produced.push(...(await produceRound(topic, 4, round)));
    // Within the session timeout the group notices, and the survivor holds everything.
    const bAll = await b.next((f) => f.op === 'assigned' && held(f).length === 4, 30_000);
    assert.deepEqual(held(bAll).sort(), [0, 1, 2, 3]);
    await eventually(async () => new Set([...a.frames, ...b.frames].filter(isRecord('s')).map((f) => f.value)).size === produced.length, 60_000);
    const values = [...a.frames, ...b.frames].filter(isRecord('s')).map((f) => String(f.value));
    assert.deepEqual([...new Set(values)].sort(), [...produced].sort(), 'no record lost');
    assert.equal(values.length, produced.length, 'none delivered twice: everything the dead gateway delivered was committed');
    b.socket.close();
    a.socket.terminate();
  } finally {
    survivor.child.kill('SIGTERM');
    await survivor.exit;
  }
});

test('a Python consumer, a WebSocket member and a v2 instance share a group: disjoint, complete splits as the Python consumer and the WebSocket member leave and join again', async () => {
  const pythonPath = '.venv-clients/bin/python';
  assert.ok(existsSync(pythonPath), 'the Python consumer needs scripts/generate-clients.sh install');
  const topic = await topicWith(6);
  const group = uniqueName('strangers');
  const gw = await runGateway({ WS_SESSION_TIMEOUT_MS: '6000', CONSUMER_REQUEST_TIMEOUT_MS: '300' });
  const python = (protocol: 'consumer' | 'classic') => {
    const child = spawn(pythonPath, ['test/fixtures/group_consumer.py', sharedBrokers(), group, topic, protocol], { stdio: ['pipe', 'pipe', 'inherit'] });
    const state = { child, holds: [] as number[], gone: false };
    createInterface({ input: child.stdout }).on('line', (line) => {
      const event = JSON.parse(line) as { assigned?: number[] };
      if (event.assigned) state.holds = event.assigned;
    });
    child.once('exit', () => (state.gone = true));
    return state;
  };
  const leave = async (member: ReturnType<typeof python>) => {
    if (member.child.exitCode !== null) return;
    member.child.stdin.end();
    await new Promise((r) => member.child.once('exit', r));
  };
  const V2 = 'application/vnd.kafka.v2+json';
  const base = `/consumers/${group}/instances/v2`;
  let py = python('consumer');
  let ws: WsClient | undefined;
  try {
    await eventually(async () => py.holds.length === 6, 60_000);
    const join = async () => {
      const client = await WsClient.connect(wsUrl(gw));
      client.send({ op: 'subscribe', id: 'w', topics: [topic], group });
      await client.next(isOp('subscribed', 'w'));
      return client;
    };
    ws = await join();
    const latestWs = () => (ws === undefined || ws.closed ? [] : held(ws.frames.filter((f) => f.op === 'subscribed' || f.op === 'assigned').at(-1)!));
    const v2 = async (method: 'post' | 'get', path: string, body?: unknown) => {
      const res = await fetch(`${gw.url}${path}`, { method: method.toUpperCase(), headers: { 'content-type': V2, accept: V2 }, body: body === undefined ? undefined : JSON.stringify(body) });
      return { status: res.status, body: res.status === 204 ? undefined : ((await res.json()) as unknown) };
    };
    assert.equal((await v2('post', `/consumers/${group}`, { name: 'v2', format: 'binary', 'auto.offset.reset': 'earliest' })).status, 200);
    assert.equal((await v2('post', `${base}/subscription`, { topics: [topic] })).status, 204);
    let v2Holds: number[] = [];
    // A v2 instance joins on its first read and holds its share while it keeps reading.
    const poll = async () => {
      await fetch(`${gw.url}${base}/records?timeout=100`, { headers: { accept: 'application/vnd.kafka.binary.v2+json' } });
      const { body } = await v2('get', `${base}/assignments`);
      v2Holds = (body as { partitions: Array<{ partition: number }> }).partitions.map((p) => p.partition);
    };
    // Every partition held by exactly one of `expected` members: six partitions in all, none twice.
    const split = async (expected: number) => {
      await eventually(async () => {
        await poll();
        const parts = [py.gone ? [] : py.holds, latestWs(), v2Holds];
        const all = parts.flat().sort((a, b) => a - b);
        return parts.filter((p) => p.length > 0).length === expected && JSON.stringify(all) === JSON.stringify([0, 1, 2, 3, 4, 5]);
      }, 60_000);
    };
    await split(3);
    // The Python consumer leaves: its partitions go to the other two, none twice, none lost.
    await leave(py);
    await split(2);
    // It joins again, on the classic protocol this time: the broker runs one group of both kinds of member.
    py = python('classic');
    await split(3);
    // A gateway member leaves, and joins again.
    await ws.close();
    await split(2);
    ws = await join();
    await split(3);
    // Both leave at once: the v2 instance holds everything.
    await Promise.all([leave(py), ws.close()]);
    await eventually(async () => {
      await poll();
      return v2Holds.length === 6;
    }, 60_000);
  } finally {
    await leave(py);
    if (ws && !ws.closed) await ws.close();
    gw.child.kill('SIGTERM');
    await gw.exit;
  }
});

test('Java KafkaConsumers on both protocols and a WebSocket member share a group: disjoint, complete splits as members join and leave', async () => {
  const topic = await topicWith(6);
  const group = uniqueName('java-strangers');
  const gw = await runGateway({ WS_SESSION_TIMEOUT_MS: '6000' });
  const java = (protocol: 'consumer' | 'classic') => {
    const child = spawn('java', ['-cp', `${ensureKafkaJars()}/*`, 'test/fixtures/JavaGroupConsumer.java', sharedBrokers(), group, topic, protocol], { stdio: ['pipe', 'pipe', 'inherit'] });
    const state = { child, holds: [] as number[], gone: false };
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.startsWith('{')) state.holds = (JSON.parse(line) as { assigned: number[] }).assigned;
    });
    child.once('exit', () => (state.gone = true));
    return state;
  };
  const modern = java('consumer');
  const classic = java('classic');
  try {
    const ws = await WsClient.connect(wsUrl(gw));
    ws.send({ op: 'subscribe', id: 'w', topics: [topic], group });
    await ws.next(isOp('subscribed', 'w'));
    const latestWs = () => (ws.closed ? [] : held(ws.frames.filter((f) => f.op === 'subscribed' || f.op === 'assigned').at(-1)!));
    const split = (members: number) =>
      eventually(async () => {
        const parts = [modern.gone ? [] : modern.holds, classic.gone ? [] : classic.holds, latestWs()];
        const all = parts.flat().sort((a, b) => a - b);
        return parts.filter((p) => p.length > 0).length === members && JSON.stringify(all) === JSON.stringify([0, 1, 2, 3, 4, 5]);
      }, 90_000);
    await split(3);
    modern.child.stdin!.end();
    await new Promise((r) => modern.child.once('exit', r));
    await split(2);
    await ws.close();
    await split(1);
    assert.equal(classic.holds.length, 6);
  } finally {
    for (const { child } of [modern, classic]) {
      if (child.exitCode === null) {
        child.stdin!.end();
        await new Promise((r) => child.once('exit', r));
      }
    }
    gw.child.kill('SIGTERM');
    await gw.exit;
  }
});
