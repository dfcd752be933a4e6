/**
 * Durable members on the classic group protocol, as on every broker before
 * Kafka 4.0: a broker of the last such release (3.9.1) of this file's own.
 * Members of one group subscribed to different topics (two WebSocket
 * subscriptions and a Python confluent-kafka consumer) split every
 * partition of every subscribed topic between them, each only partitions
 * of its own topics; a member leaving hands its partitions to the others;
 * and a group read of one of Kafka's own topics is refused while the
 * process serves on. The broker's own record of each member's assignment
 * is the judge, beside the `assigned` frames and the records read.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { after, before, test } from 'node:test';
import { ConnectionPool, joinGroupV3, leaveGroupV3 } from '@platformatic/kafka';
import { classicKafkaVersion, startBroker, type Broker } from '../kafka/broker.js';
import { assignRoundRobin } from '../src/kafka/consume/classic-assignor.js';
import type { Admin, Producer } from './helpers/kafka-client.js';
import { eventually, uniqueName } from './helpers/env.js';
import { adminFor, producerFor } from './helpers/scoped.js';
import { runGateway, type GatewayProcess } from './helpers/process.js';
import { seededRandom } from './helpers/seeded.js';
import { SseClient } from './helpers/sse.js';
import { WsClient, isOp, isRecord, type Frame } from './helpers/ws.js';

const PARTITIONS = 3;
let broker: Broker;
let gateway: GatewayProcess;
let exited: number | null | undefined;
let admin: Admin;
let producer: Producer;

before(async (t) => {
  broker = await startBroker({ version: classicKafkaVersion });
  admin = await adminFor(t, broker.brokers);
  producer = await producerFor(t, broker.brokers);
  gateway = await runGateway({ KAFKA_BROKERS: broker.brokers, WS_SESSION_TIMEOUT_MS: '6000' });
  void gateway.exit.then((code) => (exited = code));
});
after(async () => {
  if (exited === undefined) {
    gateway.child.kill('SIGTERM');
    await gateway.exit;
  }
  await broker.stop();
});

type Pair = `${string}/${number}`;
const pair = (topic: string, partition: number): Pair => `${topic}/${partition}`;
const everyPartition = (...topics: string[]) => topics.flatMap((topic) => Array.from({ length: PARTITIONS }, (_, p) => pair(topic, p))).sort();

test('the roundrobin assignment: Kafka\'s own split, only subscribed topics, whatever order the members come in', () => {
  const members = [
    { memberId: 'b', topics: ['t1'] },
    { memberId: 'c', topics: ['t2'] },
    { memberId: 'a', topics: ['t1', 't2', '__consumer_offsets'] },
    { memberId: 'd', topics: ['__transaction_state'] },
  ];
  const counts = (topic: string) => (topic.startsWith('__') ? undefined : 3);
  const expected = new Map([
    ['a', [{ topic: 't1', partitions: [0, 2] }, { topic: 't2', partitions: [1] }]],
    ['b', [{ topic: 't1', partitions: [1] }]],
    ['c', [{ topic: 't2', partitions: [0, 2] }]],
    // A topic the leader has no metadata for (Kafka's own) is nobody's; its subscriber is still answered.
    ['d', []],
  ]);
  assert.deepEqual(assignRoundRobin(members, counts), expected);
  assert.deepEqual(assignRoundRobin([...members].reverse(), counts), expected);

  // Random groups: complete, disjoint, and each member only partitions of its own topics.
  const random = seededRandom(24);
  const pick = (n: number) => Math.floor(random() * n);
  for (let round = 0; round < 300; round++) {
    const topics = Array.from({ length: 1 + pick(4) }, (_, i) => ({ name: `t${i}`, partitions: pick(6) }));
    const group = Array.from({ length: 1 + pick(6) }, (_, i) => ({ memberId: `m${pick(1000)}-${i}`, topics: topics.filter(() => random() < 0.5).map((t) => t.name) }));
    const assignment = assignRoundRobin(group, (name) => topics.find((t) => t.name === name)?.partitions);
    const owners = new Map<Pair, string>();
    for (const member of group) {
      for (const { topic, partitions } of assignment.get(member.memberId)!) {
        assert.ok(member.topics.includes(topic), `${member.memberId} got ${topic} without subscribing to it`);
        for (const p of partitions) {
          assert.equal(owners.get(pair(topic, p)), undefined, `${pair(topic, p)} given twice`);
          owners.set(pair(topic, p), member.memberId);
        }
      }
    }
    const subscribed = topics.filter((t) => group.some((m) => m.topics.includes(t.name)));
    assert.equal(owners.size, subscribed.reduce((sum, t) => sum + t.partitions, 0), 'every subscribed partition has an owner');
  }
});

/** The partitions the broker records for each member of the group, by client id and member id. */
async function brokerAssignments(group: string): Promise<{ protocol: string; members: Array<{ clientId: string; held: Pair[] }> }> {
  const described = (await admin.describeGroups([group])).groups[0]!;
  return {
    protocol: described.protocol,
    members: described.members.map((m) => ({ clientId: m.clientId, held: m.assignments.flatMap(({ topic, partitions }) => partitions.map((p) => pair(topic, p))).sort() })),
  };
}

/** What a WebSocket subscription holds after its last `subscribed` or `assigned` frame. */
function wsHolds(ws: WsClient, sub: string): Pair[] {
  const last = ws.frames.filter((f) => (f.op === 'subscribed' || f.op === 'assigned') && (f.id === sub || f.sub === sub)).at(-1);
  return ((last?.partitions ?? []) as Array<{ topic: string; partitions: number[] }>).flatMap(({ topic, partitions }) => partitions.map((p) => pair(topic, p))).sort();
}

interface PythonMember {
  readonly child: ChildProcess;
  held: Pair[];
  readonly records: Array<{ topic: string; partition: number; value: string }>;
  leave(): Promise<void>;
}

function pythonMember(group: string, topics: string[]): PythonMember {
  const python = '.venv-clients/bin/python';
  assert.ok(existsSync(python), 'the Python consumer needs scripts/generate-clients.sh install');
  const child = spawn(python, ['test/fixtures/group_consumer.py', broker.brokers, group, topics.join(',')], { stdio: ['pipe', 'pipe', 'inherit'] });
  const gone = new Promise((r) => child.once('exit', r));
  const member: PythonMember = {
    child,
    held: [],
    records: [],
    leave: async () => {
      child.stdin.end();
      await gone;
    },
  };
  createInterface({ input: child.stdout }).on('line', (line) => {
    const event = JSON.parse(line) as { held?: Array<[string, number]>; topic?: string; partition?: number; value?: string };
    if (event.held) member.held = event.held.map(([t, p]) => pair(t, p)).sort();
    else member.records.push({ topic: event.topic!, partition: event.partition!, value: event.value! });
  });
  return member;
}

test('members on different topics split every partition once, each only its own topics; leaving members hand theirs over', async () => {
  const mix1 = uniqueName('mix1');
  const mix2 = uniqueName('mix2');
  await admin.createTopics({ topics: [mix1, mix2].map((topic) => ({ topic, numPartitions: PARTITIONS })), waitForLeaders: true });
  const group = uniqueName('classic-mixed');
  const wsUrl = `${gateway.url.replace(/^http/, 'ws')}/v1/ws`;

  // The first member leads the group, so the gateway's assignor splits it.
  const a = await WsClient.connect(wsUrl);
  a.send({ op: 'subscribe', id: 'a', topics: [mix1], group });
  await a.next(isOp('subscribed', 'a'), 60_000);
  const b = await WsClient.connect(wsUrl);
  b.send({ op: 'subscribe', id: 'b', topics: [mix2], group });
  await b.next(isOp('subscribed', 'b'), 60_000);
  await eventually(async () => wsHolds(a, 'a').join() === everyPartition(mix1).join() && wsHolds(b, 'b').join() === everyPartition(mix2).join(), 30_000).catch(() => {
    assert.fail(`each member holds all of its own topic: a ${wsHolds(a, 'a').join()}, b ${wsHolds(b, 'b').join()}`);
  });

  // A stranger subscribed to both topics, and to one of Kafka's own that the leader cannot see.
  const python = pythonMember(group, [mix1, mix2, '__consumer_offsets']);
  try {
    const split = async (expectedMembers: number) => {
      assert.equal(exited, undefined, `the gateway exited: ${gateway.stderr().slice(-1500)}`);
      const { protocol, members } = await brokerAssignments(group);
      if (members.length !== expectedMembers) return false;
      const all = members.flatMap((m) => m.held).sort();
      // Complete and disjoint as the broker holds it, and as each member says it holds it.
      if (all.join() !== everyPartition(mix1, mix2).join()) return false;
      const told = [...wsHolds(a, 'a'), ...(b.closed ? [] : wsHolds(b, 'b')), ...python.held].sort();
      return told.join() === all.join() && { protocol, members };
    };
    const three = await eventually(() => split(3), 45_000);
    assert.equal(three.protocol, 'roundrobin', 'a classic group');
    assert.ok(wsHolds(a, 'a').length > 0 && wsHolds(a, 'a').every((p) => p.startsWith(`${mix1}/`)), `a holds only ${mix1}: ${wsHolds(a, 'a').join()}`);
    assert.ok(wsHolds(b, 'b').length > 0 && wsHolds(b, 'b').every((p) => p.startsWith(`${mix2}/`)), `b holds only ${mix2}: ${wsHolds(b, 'b').join()}`);
    assert.ok(python.held.some((p) => p.startsWith(`${mix1}/`)) && python.held.some((p) => p.startsWith(`${mix2}/`)), `python holds some of each: ${python.held.join()}`);

    // Every record is read once, by the member holding its partition.
    const produced: string[] = [];
    for (const topic of [mix1, mix2]) {
      const values = Array.from({ length: PARTITIONS * 2 }, (_, i) => `${topic}-${i}`);
      await producer.send({ topic, messages: values.map((value, i) => ({ value, partition: i % PARTITIONS })) });
      produced.push(...values);
    }
    const fromWs = (ws: WsClient, sub: string) => ws.frames.filter(isRecord(sub)).map((f: Frame) => ({ topic: String(f.topic), partition: Number(f.partition), value: String(f.value) }));
    const read = () => [...fromWs(a, 'a'), ...fromWs(b, 'b'), ...python.records];
    await eventually(async () => read().length >= produced.length, 30_000).catch(() => assert.fail(`read ${read().length} of ${produced.length}: ${JSON.stringify(read())}`));
    await new Promise((r) => setTimeout(r, 500)); // anything read twice would arrive by now
    assert.deepEqual(read().map((r) => r.value).sort(), [...produced].sort(), 'each record read once');
    for (const [holds, records] of [
      [wsHolds(a, 'a'), fromWs(a, 'a')],
      [wsHolds(b, 'b'), fromWs(b, 'b')],
      [python.held, python.records],
    ] as const) {
      assert.ok(records.every((r) => holds.includes(pair(r.topic, r.partition))), 'read only from partitions held');
    }

    // b leaves: its partitions of mix2 go to the one member left subscribed to mix2.
    await b.close();
    const two = await eventually(() => split(2), 45_000);
    assert.ok(everyPartition(mix2).every((p) => python.held.includes(p)), `python took all of ${mix2}: ${python.held.join()}`);
    assert.equal(two.members.length, 2);

    // The stranger leaves: mix1 is the gateway member's alone, mix2 nobody's (nobody subscribes to it).
    await python.leave();
    await eventually(async () => {
      const { members } = await brokerAssignments(group);
      return members.length === 1 && members[0]!.held.join() === everyPartition(mix1).join() && wsHolds(a, 'a').join() === everyPartition(mix1).join();
    }, 45_000);
    await a.close();
  } finally {
    if (python.child.exitCode === null) await python.leave();
    a.socket.terminate();
    b.socket.terminate();
  }
  assert.equal(exited, undefined, `the gateway exited: ${gateway.stderr().slice(-1500)}`);
});

test('a stranger whose subscription cannot be read is given nothing while a gateway member leads; the process serves on', async () => {
  const topic = uniqueName('garbled');
  await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }], waitForLeaders: true });
  const group = uniqueName('classic-garbled');
  const ws = await WsClient.connect(`${gateway.url.replace(/^http/, 'ws')}/v1/ws`);
  ws.send({ op: 'subscribe', id: 'a', topics: [topic], group });
  await ws.next(isOp('subscribed', 'a'), 60_000);
  // A client of nobody's making joins offering roundrobin with bytes that are no subscription; the leader reads them.
  const pool = new ConnectionPool('intruder', {});
  try {
    const connection = await pool.get({ host: '127.0.0.1', port: broker.port });
    const joined = await joinGroupV3.api.async(connection, group, 6000, 6000, '', null, 'consumer', [{ name: 'roundrobin', metadata: Buffer.from([0x7f, 0xff, 0xff, 0xff, 0x01]) }]);
    assert.notEqual(joined.leader, joined.memberId, 'the gateway member leads');
    // Described through the gateway, whose Admin decodes every member's bytes as well (the test's own would throw).
    const described = await eventually(async () => {
      assert.equal(exited, undefined, `the gateway exited: ${gateway.stderr().slice(-1500)}`);
      const answer = await fetch(`${gateway.url}/v1/consumer-groups/${group}`);
      assert.equal(answer.status, 200, await answer.clone().text());
      const body = (await answer.json()) as { state: string; members: Array<{ memberId: string; assignments: Array<{ topic: string; partitions: number[] }> }> };
      return body.state === 'Stable' && body.members.length === 2 && body;
    }, 30_000);
    const holds = (memberId: string) => described.members.find((m) => m.memberId === memberId)!.assignments.flatMap(({ topic: t, partitions }) => partitions.map((p) => pair(t, p)));
    assert.deepEqual(holds(joined.leader), everyPartition(topic), 'the gateway member holds every partition');
    assert.deepEqual(holds(joined.memberId), [], 'the stranger holds none');
    await leaveGroupV3.api.async(connection, group, [{ memberId: joined.memberId, groupInstanceId: null }]);
  } finally {
    await pool.close();
  }
  await eventually(async () => wsHolds(ws, 'a').join() === everyPartition(topic).join(), 30_000);
  await ws.close();
  assert.equal(exited, undefined, `the gateway exited: ${gateway.stderr().slice(-1500)}`);
});

test('a group read of __consumer_offsets is a 400 on the classic path too; the process serves on', async () => {
  const stream = await SseClient.open(`${gateway.url}/v1/topics/__consumer_offsets/events?group=${uniqueName('g-sse')}`);
  assert.equal(stream.status, 400, stream.text);
  await stream.waitEnded();
  assert.match((JSON.parse(stream.text) as { detail: string }).detail, /__consumer_offsets.*without a group/);

  const ws = await WsClient.connect(`${gateway.url.replace(/^http/, 'ws')}/v1/ws`);
  ws.send({ op: 'subscribe', id: 'internal', topics: ['__consumer_offsets'], group: uniqueName('g-ws') });
  const error = await ws.next(isOp('error', 'internal'));
  assert.equal(error.status, 400, JSON.stringify(error));
  await ws.close();

  // The crash this replaces came seconds after the request, once a member had joined: give it that long.
  await new Promise((r) => setTimeout(r, 3000));
  assert.equal(exited, undefined, `the gateway exited: ${gateway.stderr().slice(-1500)}`);
  assert.equal((await fetch(`${gateway.url}/healthz`)).status, 200);
});
