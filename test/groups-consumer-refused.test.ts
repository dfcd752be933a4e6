/**
 * A Kafka 4.x broker configured with
 * `group.coordinator.rebalance.protocols=classic` lists
 * ConsumerGroupHeartbeat in ApiVersions and finalizes `group.version` 1,
 * yet answers every heartbeat UNSUPPORTED_VERSION. Durable members then go
 * on as classic members: a member that joined on the consumer protocol
 * before a restart turned it off joins again as a classic one, a gateway
 * that meets the refusal on its first join never answers a subscription
 * with it, and the refusal is logged once per process. A classic member
 * (as after such a move) shares a consumer-protocol group with members of
 * that protocol. One broker of this file's own, restarted once with the
 * protocol off.
 */
import assert from 'node:assert/strict';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ConnectionPool, apiVersionsV3, consumerGroupHeartbeatV1 } from '@platformatic/kafka';
import { startBroker, type Broker } from '../kafka/broker.js';
import type { Admin, Producer } from './helpers/kafka-client.js';
import { eventually, uniqueName } from './helpers/env.js';
import { adminFor, producerFor } from './helpers/scoped.js';
import { runGateway, type GatewayProcess } from './helpers/process.js';
import { WsClient, isOp, isRecord, type Frame } from './helpers/ws.js';

const REFUSED_LOG = /refuse it/;
let broker: Broker;
let admin: Admin;
let producer: Producer;
/** One gateway whose members join before the protocol is turned off, one that first joins after, one told to speak classic. */
let early: GatewayProcess;
let late: GatewayProcess;
let classic: GatewayProcess;

before(async (t) => {
  broker = await startBroker();
  admin = await adminFor(t, broker.brokers);
  producer = await producerFor(t, broker.brokers);
  const env = { KAFKA_BROKERS: broker.brokers, WS_SESSION_TIMEOUT_MS: '6000', WS_AUTO_COMMIT_INTERVAL_MS: '100' };
  [early, late, classic] = await Promise.all([runGateway(env), runGateway(env), runGateway({ ...env, WS_GROUP_PROTOCOL: 'classic' })]);
});
after(async () => {
  await Promise.all(
    [early, late, classic].map(async (gateway) => {
      if (gateway === undefined || gateway.child.exitCode !== null) return;
      gateway.child.kill('SIGTERM');
      // The process ends cleanly whatever its members met.
      assert.equal(await gateway.exit, 0);
    }),
  );
  await broker.stop();
});

const wsUrl = (gw: GatewayProcess) => `${gw.url.replace(/^http/, 'ws')}/v1/ws`;
const held = (frame: Frame | undefined) => ((frame?.partitions ?? []) as Array<{ partitions: number[] }>).flatMap((p) => p.partitions).sort((a, b) => a - b);
const latest = (ws: WsClient, sub: string) => held(ws.frames.filter((f) => (f.op === 'subscribed' || f.op === 'assigned') && (f.id === sub || f.sub === sub)).at(-1));
const refusals = (gw: GatewayProcess) => gw.lines.filter((line) => REFUSED_LOG.test(String(line.msg)));

async function topicWith(partitions: number): Promise<string> {
  const topic = uniqueName('refused');
  await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true });
  return topic;
}

async function groupType(group: string): Promise<string | undefined> {
  const groups = await admin.client.listGroups({ types: ['classic', 'consumer'] });
  return groups.get(group)?.groupType;
}

test('a classic member joins a group of consumer-protocol members: the broker gives it a share, and it reads and commits there', async () => {
  const topic = await topicWith(4);
  const group = uniqueName('mixed');
  const modern = await WsClient.connect(wsUrl(early));
  modern.send({ op: 'subscribe', id: 's', topics: [topic], group });
  await eventually(async () => latest(modern, 's').length === 4);
  const old = await WsClient.connect(wsUrl(classic));
  old.send({ op: 'subscribe', id: 's', topics: [topic], group, receipts: true });
  await old.next(isOp('subscribed', 's'));
  // The group stays a consumer-protocol one; the broker moves partitions from the first member to the classic one.
  await eventually(async () => {
    const parts = [latest(modern, 's'), latest(old, 's')];
    return parts.every((p) => p.length > 0) && JSON.stringify(parts.flat().sort()) === '[0,1,2,3]';
  }, 60_000);
  assert.equal(await groupType(group), 'consumer');
  const mine = latest(old, 's');
  await producer.send({ topic, messages: [0, 1, 2, 3].map((partition) => ({ value: `m${partition}`, partition })) });
  // The classic member places what it was given at the group's commits, reads it, and its commits are taken.
  await old.collect(isRecord('s'), mine.length);
  for (const partition of mine) await old.next((f) => f.op === 'acked' && f.partition === partition);
  for (const ws of [modern, old]) assert.equal(ws.frames.filter((f) => f.op === 'error').length, 0, JSON.stringify(ws.frames.filter((f) => f.op === 'error')));
  await Promise.all([modern.close(), old.close()]);
});

test('a member joined on the consumer protocol goes on as a classic member when a broker restart turns the protocol off', async () => {
  const topic = await topicWith(2);
  const group = uniqueName('turned-off');
  const gw = early;
  const ws = await WsClient.connect(wsUrl(gw));
  ws.send({ op: 'subscribe', id: 's', topics: [topic], group, receipts: true });
  await ws.next(isOp('subscribed', 's'));
  await eventually(async () => latest(ws, 's').length === 2);
  assert.equal(await groupType(group), 'consumer');

  await broker.halt();
  appendFileSync(join(broker.dataDir, 'server.properties'), 'group.coordinator.rebalance.protocols=classic\n');
  await broker.restart();

  // It let go of everything when refused, then holds both partitions again, as a classic member.
  await eventually(async () => (await groupType(group)) === 'classic' && latest(ws, 's').length === 2, 60_000);
  assert.ok(ws.frames.some((f) => f.op === 'assigned' && held(f).length === 0), 'the client was told its partitions were taken');
  await producer.send({ topic, messages: [{ value: 'a', partition: 0 }, { value: 'b', partition: 1 }] });
  await ws.collect(isRecord('s'), 2);
  // Its commits go through under the classic protocol: each partition's receipt comes.
  await ws.next((f) => f.op === 'acked' && f.partition === 0);
  await ws.next((f) => f.op === 'acked' && f.partition === 1);
  assert.equal(ws.frames.filter((f) => f.op === 'error').length, 0, JSON.stringify(ws.frames.filter((f) => f.op === 'error')));
  assert.equal(refusals(gw).length, 1);
  await ws.close();
});

test('where the broker lists the consumer protocol but refuses it, durable members join as classic ones: no subscription refused, logged once', async () => {
  // What Kafka does (the broker was restarted above with the protocol off): listed, feature finalized, refused.
  const pool = new ConnectionPool('probe');
  try {
    const connection = await pool.get({ host: '127.0.0.1', port: broker.port });
    const versions = await apiVersionsV3.api.async(connection, 'probe', '1');
    assert.ok(versions.apiKeys.some((api) => api.name === 'ConsumerGroupHeartbeat'));
    assert.ok(((versions.finalizedFeatures ?? []).find((f) => f.name === 'group.version')?.maxVersionLevel ?? 0) >= 1);
    const answer = await consumerGroupHeartbeatV1.api.async(connection, 'probe', 'probe-member-00000000', 0, null, null, 30_000, ['t'], null, null, []).catch((error: unknown) => error);
    assert.equal((answer as { response?: { errorCode?: number } }).response?.errorCode, 35, 'UNSUPPORTED_VERSION');
  } finally {
    await pool.close();
  }

  const topic = await topicWith(3);
  const other = await topicWith(1);
  const group = uniqueName('refused');
  const acking = uniqueName('refused-acks');
  await producer.send({ topic: other, messages: [{ value: 'x' }, { value: 'y' }, { value: 'z' }] });
  // A process whose first members meet the refusal, together.
  const gw = late;
  const clients = await Promise.all(Array.from({ length: 4 }, () => WsClient.connect(wsUrl(gw))));
  const [a, b, c, d] = clients as [WsClient, WsClient, WsClient, WsClient];
  for (const ws of [a, b, c]) ws.send({ op: 'subscribe', id: 's', topics: [topic], group });
  d.send({ op: 'subscribe', id: 's', topics: [other], group: acking, from: 'earliest', ack: 'manual', receipts: true });
  await Promise.all(clients.map((ws) => ws.next(isOp('subscribed', 's'))));

  // The broker's classic group holds the three, and the split is complete and disjoint.
  await eventually(async () => {
    const parts = [a, b, c].map((ws) => latest(ws, 's'));
    return parts.every((p) => p.length === 1) && JSON.stringify(parts.flat().sort()) === '[0,1,2]';
  }, 60_000);
  const described = (await admin.describeGroups([group])).groups[0]!;
  assert.equal(described.protocol, 'roundrobin');
  assert.equal(described.members.length, 3);
  assert.equal(await groupType(group), 'classic');

  // A Confluent v2 instance joins its group on its first read, as a classic member too, and reads.
  const v2Group = uniqueName('refused-v2');
  const V2 = 'application/vnd.kafka.v2+json';
  const v2 = (path: string, body?: unknown) =>
    fetch(`${gw.url}${path}`, { method: body === undefined ? 'GET' : 'POST', headers: { 'content-type': V2, accept: V2 }, body: body === undefined ? undefined : JSON.stringify(body) });
  assert.equal((await v2(`/consumers/${v2Group}`, { name: 'i', format: 'binary', 'auto.offset.reset': 'earliest' })).status, 200);
  assert.equal((await v2(`/consumers/${v2Group}/instances/i/subscription`, { topics: [other] })).status, 204);
  const read: unknown[] = [];
  await eventually(async () => {
    const res = await fetch(`${gw.url}/consumers/${v2Group}/instances/i/records?timeout=200`, { headers: { accept: 'application/vnd.kafka.binary.v2+json' } });
    assert.equal(res.status, 200, await res.clone().text());
    read.push(...((await res.json()) as unknown[]));
    return read.length === 3;
  });

  // Manual acks commit as a classic member.
  await d.collect(isRecord('s'), 3);
  d.send({ op: 'ack', id: 'k', sub: 's', topic: other, partition: 0, offset: '2' });
  await d.next(isOp('acked', 'k'));

  for (const ws of clients) assert.equal(ws.frames.filter((f) => f.op === 'error').length, 0, JSON.stringify(ws.frames.filter((f) => f.op === 'error')));
  assert.equal(refusals(gw).length, 1, 'the refusal is logged once');
  await Promise.all(clients.map((ws) => ws.close()));
});
