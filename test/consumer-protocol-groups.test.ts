/**
 * Durable members on the broker-side consumer group protocol (KIP-848):
 * the broker sees a `consumer` group, gives each member partitions of the
 * topics it subscribed to (mixed subscriptions starve nobody), and a
 * partition moves from one member to another only after the first has
 * stopped delivering it and told its client: a judge reading both sockets
 * sees no partition delivered by two members at once, and no record lost.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import request from 'supertest';
import type { Admin, Producer } from './helpers/kafka-client.js';
import { eventually, uniqueName } from './helpers/env.js';
import { adminFor, gatewayFor, producerFor } from './helpers/scoped.js';
import { WsClient, isOp, isRecord, type Frame } from './helpers/ws.js';
import { conforms } from './helpers/contract.js';

let admin: Admin;
let producer: Producer;
let httpUrl: string;
let wsUrl: string;

before(async (t) => {
  admin = await adminFor(t);
  producer = await producerFor(t);
  const gateway = await gatewayFor(t, { WS_SESSION_TIMEOUT_MS: '6000', WS_AUTO_COMMIT_INTERVAL_MS: '100', CONSUMER_REQUEST_TIMEOUT_MS: '500' });
  httpUrl = gateway.url;
  wsUrl = `${gateway.url.replace(/^http/, 'ws')}/v1/ws`;
});

async function topicWith(partitions: number): Promise<string> {
  const topic = uniqueName('kip848');
  await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true });
  return topic;
}

async function produce(topic: string, partitions: number, perPartition: number, tag: string): Promise<string[]> {
  const messages = Array.from({ length: partitions * perPartition }, (_, i) => ({ value: `${tag}-${i}`, partition: i % partitions }));
  await producer.send({ topic, messages });
  return messages.map((m) => m.value);
}

const held = (frame: Frame) => (frame.partitions as Array<{ partitions: number[] }>).flatMap((p) => p.partitions);
const latest = (c: WsClient) => held(c.frames.filter((f) => f.op === 'subscribed' || f.op === 'assigned').at(-1)!);

test('a durable WebSocket member joins a consumer-protocol group where the broker speaks it', async () => {
  const topic = await topicWith(2);
  const group = uniqueName('kip848-type');
  const ws = await WsClient.connect(wsUrl);
  ws.send({ op: 'subscribe', id: 's', topics: [topic], group });
  await ws.next(isOp('subscribed', 's'));
  await eventually(async () => latest(ws).length === 2);
  const groups = await admin.client.listGroups({ types: ['consumer'] });
  assert.equal(groups.get(group)?.groupType, 'consumer', `group ${group} is listed as ${JSON.stringify(groups.get(group))}`);
  // The gateway's own group routes see it as they see a classic group.
  const listed = await fetch(`${httpUrl}/v1/consumer-groups`);
  assert.equal(listed.status, 200);
  assert.ok(JSON.stringify(await listed.json()).includes(group), 'listed by GET /v1/consumer-groups');
  const described = await fetch(`${httpUrl}/v1/consumer-groups/${group}`);
  const body = await described.text();
  assert.equal(described.status, 200, body);
  assert.ok(body.includes(topic), body);
  await ws.close();
});

test('two v2 instances of one group subscribed to different topics each read every partition of their own topic', async () => {
  const [mix1, mix2] = [await topicWith(3), await topicWith(3)];
  const group = uniqueName('kip848-mixed');
  const agent = request(httpUrl);
  const V2 = 'application/vnd.kafka.v2+json';
  const instance = async (name: string, topic: string) => {
    const created = await agent.post(`/consumers/${group}`).set('content-type', V2).send(JSON.stringify({ name, format: 'binary', 'auto.offset.reset': 'earliest' }));
    assert.equal(created.status, 200, created.text);
    const base = `/consumers/${group}/instances/${name}`;
    const subscribed = await agent.post(`${base}/subscription`).set('content-type', V2).send(JSON.stringify({ topics: [topic] }));
    assert.equal(subscribed.status, 204, subscribed.text);
    return base;
  };
  const first = await instance('one', mix1);
  const second = await instance('two', mix2);
  const values1 = await produce(mix1, 3, 10, 'a');
  const values2 = await produce(mix2, 3, 10, 'b');
  const read = new Map<string, string[]>([
    [first, []],
    [second, []],
  ]);
  await eventually(async () => {
    for (const [base, list] of read) {
      const res = await agent.get(`${base}/records?timeout=300`).set('accept', 'application/vnd.kafka.binary.v2+json');
      assert.equal(res.status, 200, res.text);
      list.push(...(res.body as Array<{ value: string }>).map((r) => Buffer.from(r.value, 'base64').toString()));
    }
    return read.get(first)!.length >= 30 && read.get(second)!.length >= 30;
  }, 60_000);
  assert.deepEqual([...read.get(first)!].sort(), [...values1].sort());
  assert.deepEqual([...read.get(second)!].sort(), [...values2].sort());
  const assignment = async (base: string) => ((await agent.get(`${base}/assignments`)).body as { partitions: Array<{ topic: string; partition: number }> }).partitions;
  assert.deepEqual((await assignment(first)).map((p) => `${p.topic}/${p.partition}`).sort(), [0, 1, 2].map((p) => `${mix1}/${p}`));
  assert.deepEqual((await assignment(second)).map((p) => `${p.topic}/${p.partition}`).sort(), [0, 1, 2].map((p) => `${mix2}/${p}`));
  await Promise.all([agent.delete(first), agent.delete(second)]);
});

/**
 * The judge: from the frames of every member, in the order the test
 * received them, a partition is a member's from the frame that gives it
 * to it until the frame that takes it away (or its socket closes). A record of a partition
 * delivered by a member that does not hold it, or while another holds it,
 * is a violation.
 */
function judge(members: ReadonlyArray<{ name: string; frames: Array<{ at: number; frame: Frame }> }>): string[] {
  const events = members.flatMap(({ name, frames }) => frames.map(({ at, frame }) => ({ at, name, frame }))).sort((a, b) => a.at - b.at);
  const holder = new Map<number, string>();
  const holds = new Map<string, Set<number>>();
  const violations: string[] = [];
  for (const { name, frame } of events) {
    if (frame.op === 'subscribed' || frame.op === 'assigned' || frame.op === 'closed') {
      const now = new Set(held(frame));
      for (const p of holds.get(name) ?? []) if (!now.has(p) && holder.get(p) === name) holder.delete(p);
      for (const p of now) {
        const other = holder.get(p);
        if (other !== undefined && other !== name) violations.push(`${name} was given partition ${p} while ${other} held it`);
        holder.set(p, name);
      }
      holds.set(name, now);
    } else if (frame.op === 'record') {
      const p = Number(frame.partition);
      if (holder.get(p) !== name) violations.push(`${name} delivered ${p}@${String(frame.offset)} while ${holder.get(p) ?? 'nobody'} held it`);
    }
  }
  return violations;
}

test('a partition moves only after its old member stopped delivering it: the judge sees one holder at a time, and nothing lost', async () => {
  const topic = await topicWith(4);
  const group = uniqueName('kip848-handover');
  const clients: Array<{ name: string; client: WsClient; frames: Array<{ at: number; frame: Frame }> }> = [];
  let tick = 0;
  const join = async (name: string) => {
    const client = await WsClient.connect(wsUrl);
    const entry = { name, client, frames: [] as Array<{ at: number; frame: Frame }> };
    client.socket.on('message', (data) => entry.frames.push({ at: tick++, frame: JSON.parse(data.toString()) as Frame }));
    // A closed socket receives nothing more: whatever its member held is free from then on.
    client.socket.on('close', () => entry.frames.push({ at: tick++, frame: { op: 'closed', partitions: [] } }));
    client.send({ op: 'subscribe', id: 's', topics: [topic], group, from: 'earliest' });
    await client.next(isOp('subscribed', 's'));
    clients.push(entry);
    return entry;
  };
  const produced: string[] = [];
  let producing = true;
  const writer = (async () => {
    for (let round = 0; producing; round++) {
      produced.push(...(await produce(topic, 4, 5, `r${round}`)));
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  const a = await join('a');
  await eventually(async () => latest(a.client).length === 4);
  const b = await join('b');
  await eventually(async () => latest(a.client).length === 2 && latest(b.client).length === 2);
  const c = await join('c');
  await eventually(async () => latest(a.client).length + latest(b.client).length + latest(c.client).length === 4 && latest(c.client).length >= 1);
  await a.client.close();
  await eventually(async () => latest(b.client).length + latest(c.client).length === 4);
  producing = false;
  await writer;
  const delivered = () => new Set(clients.flatMap(({ client }) => client.frames.filter(isRecord('s')).map((f) => String(f.value))));
  await eventually(async () => delivered().size === produced.length, 60_000);
  assert.deepEqual(judge(clients), []);
  assert.deepEqual([...delivered()].sort(), [...produced].sort(), 'every record delivered');
  await Promise.all([b.client.close(), c.client.close()]);
});

test('deleting a group: 409 while a member is in it, then 204 with its committed offsets, and 404 for a group the brokers do not know', async () => {
  const topic = await topicWith(1);
  const group = uniqueName('kip848-delete');
  const agent = request(httpUrl);
  const [value] = await produce(topic, 1, 1, 'del');
  const ws = await WsClient.connect(wsUrl);
  ws.send({ op: 'subscribe', id: 's', topics: [topic], group, from: 'earliest' });
  const record = await ws.next(isRecord('s'));
  assert.equal(record.value, value);
  await eventually(async () => ((await agent.get(`/v1/consumer-groups/${group}`)).body as { offsets?: Array<{ committedOffset: string | null }> }).offsets?.[0]?.committedOffset === '1');

  const busy = conforms(await agent.delete(`/v1/consumer-groups/${group}`).expect(409));
  assert.equal(busy.body.code, 'GW_ERR_CONFLICT');
  assert.match(busy.body.detail, /members/);
  conforms(await agent.get(`/v1/consumer-groups/${group}`).expect(200));

  await ws.close();
  // The member's leave reaches the coordinator a moment after its socket closes.
  await eventually(async () => (await agent.delete(`/v1/consumer-groups/${group}`)).status === 204);
  conforms(await agent.get(`/v1/consumer-groups/${group}`).expect(404));
  const gone = conforms(await agent.delete(`/v1/consumer-groups/${group}`).expect(404));
  assert.equal(gone.body.code, 'GW_ERR_GROUP_NOT_FOUND');
  conforms(await agent.delete(`/v1/consumer-groups/${uniqueName('nogroup')}`).expect(404));
  const [committed] = await admin.client.listConsumerGroupOffsets({ groups: [group] });
  assert.ok((committed?.topics ?? []).every((t) => t.partitions.every((p) => p.committedOffset < 0n)), 'the committed offsets went with the group');

  // A member joining the group again starts from its reset position, not from the deleted commit.
  const again = await WsClient.connect(wsUrl);
  again.send({ op: 'subscribe', id: 's', topics: [topic], group, from: 'earliest' });
  assert.equal((await again.next(isRecord('s'))).value, value);
  await again.close();
});
