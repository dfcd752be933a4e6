/**
 * Topics and groups Kafka and the gateway keep for themselves: whoever
 * asks, over HTTP or WebSocket, with auth off or as an admin of `*`, they
 * are never deleted, reconfigured, repartitioned, given schemas or produced
 * to; they may be described; listings show them only on request, marked
 * `internal: true`.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, test } from 'node:test';
import { Kafka, logLevel } from './helpers/kafka-client.js';
import request from 'supertest';
import type { RunningGateway } from '../src/gateway.js';
import { authFiles } from './helpers/auth.js';
import { conforms } from './helpers/contract.js';
import { sharedBrokers, uniqueName } from './helpers/env.js';
import { gatewayFor } from './helpers/scoped.js';
import { WsClient, isOp } from './helpers/ws.js';

// Throwaway topics in the internal namespaces come first in every check, so
// that code which fails to refuse harms them rather than the real ones.
const kafkaLike = `__${uniqueName('kgw-internal')}`;
const gatewayLike = `_gateway_${uniqueName('kgw-internal')}`;
const INTERNAL = [kafkaLike, gatewayLike, '__consumer_offsets', '_gateway_schemas'];
const { env, keys } = authFiles(`${uniqueName('internal')}-`);

type Agent = ReturnType<typeof request.agent>;
let open: RunningGateway;
let secured: RunningGateway;
const legacyReader = `kafka-gateway-schemas-${randomUUID()}`;

before(async (t) => {
  const kafka = new Kafka({ brokers: [sharedBrokers()], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: kafkaLike }, { topic: gatewayLike }], waitForLeaders: true });
  // A schema reader group as gateways before this one left behind (the gateway now reads the schema topic without a group).
  await admin.setOffsets({ groupId: legacyReader, topic: kafkaLike, partitions: [{ partition: 0, offset: '0' }] });
  await admin.disconnect();
  open = await gatewayFor(t);
  secured = await gatewayFor(t, env);
  // The schema topic exists once the gateway has started following it.
  await open.services.schemas.ready();
});

/** Every change and produce request on a topic, as a client would send it. */
function changes(topic: string) {
  const path = `/v1/topics/${encodeURIComponent(topic)}`;
  return [
    (r: Agent) => r.delete(path),
    (r: Agent) => r.patch(`${path}/configs`).send({ 'cleanup.policy': 'delete' }),
    (r: Agent) => r.post(`${path}/partitions`).send({ partitions: 60 }),
    (r: Agent) => r.put(`${path}/schema`).send({ type: 'object' }),
    (r: Agent) => r.delete(`${path}/schema`),
    (r: Agent) => r.post(`${path}/records`).send({ records: [{ value: 1 }] }),
    (r: Agent) =>
      r.post(`/topics/${encodeURIComponent(topic)}`).set('Content-Type', 'application/vnd.kafka.json.v2+json').send(JSON.stringify({ records: [{ value: 1 }] })),
  ];
}

for (const [mode, gateway, credentials] of [
  ['auth off', () => open, {}],
  ['an admin of every topic', () => secured, { 'X-API-Key': keys.admin }],
] as const) {
  test(`${mode}: every change and produce on an internal topic is 403; describe is allowed`, async () => {
    const agent = request.agent(gateway().server).set(credentials);
    for (const topic of INTERNAL) {
      for (const send of changes(topic)) {
        const res = conforms(await send(agent));
        assert.equal(res.status, 403, `${topic}: ${res.text}`);
        assert.match(res.body.detail ?? res.body.message, /internal/);
      }
      const described = conforms(await agent.get(`/v1/topics/${encodeURIComponent(topic)}`).expect(200));
      assert.equal(described.body.internal, true, `${topic} is marked internal`);
    }
    const created = conforms(await agent.post('/v1/topics').send({ name: `_gateway_${uniqueName('new')}`, partitions: 1 }).expect(403));
    assert.match(created.body.detail, /internal/);
    conforms(await agent.post('/v1/topics').send({ name: `__${uniqueName('new')}`, partitions: 1 }).expect(403));
    // Nothing was changed: the topics are all still there, as they were.
    const listed = conforms(await agent.get('/v1/topics?internal=true').expect(200));
    const byName = new Map((listed.body.topics as Array<{ name: string; partitionCount: number }>).map((t) => [t.name, t]));
    for (const topic of INTERNAL) assert.ok(byName.has(topic), `${topic} still exists`);
    assert.equal(byName.get(kafkaLike)?.partitionCount, 1);
  });

  test(`${mode}: a WebSocket produce frame to an internal topic gets a 403 error frame`, async () => {
    const url = `${gateway().url.replace(/^http/, 'ws')}/v1/ws`;
    const client = await WsClient.connect(url, { headers: credentials });
    for (const [i, topic] of INTERNAL.entries()) {
      client.send({ op: 'produce', id: `p${i}`, topic, records: [{ value: 1 }] });
      const error = await client.next(isOp('error', `p${i}`));
      assert.equal(error.status, 403);
      assert.match(String(error.detail), /internal/);
    }
    await client.close();
  });
}

test('listings hide internal topics and the gateway\'s own groups unless internal=true, which marks them', async () => {
  const agent = request(open.server);
  const topics = conforms(await agent.get('/v1/topics').expect(200)).body.topics as Array<{ name: string; internal: boolean }>;
  assert.deepEqual(topics.filter((t) => INTERNAL.includes(t.name) || t.internal), [], 'no internal topic by default');
  const all = conforms(await agent.get('/v1/topics?internal=true').expect(200)).body.topics as Array<{ name: string; internal: boolean }>;
  for (const name of INTERNAL) assert.equal(all.find((t) => t.name === name)?.internal, true, `${name} listed as internal`);

  const v2 = conforms(await agent.get('/topics').expect(200)).body as string[];
  assert.deepEqual(v2.filter((name) => INTERNAL.includes(name)), [], 'Confluent v2 hides them too');
  const v2All = conforms(await agent.get('/topics?internal=true').expect(200)).body as string[];
  for (const name of INTERNAL) assert.ok(v2All.includes(name), `${name} in the v2 listing with internal=true`);
  conforms(await agent.get('/topics?internal=maybe').expect(422)); // Confluent answers validation failures with 422

  const schemaGroup = /^kafka-gateway-schemas-[0-9a-f-]{36}$/;
  const groups = conforms(await agent.get('/v1/consumer-groups').expect(200)).body.groups as Array<{ groupId: string; internal: boolean }>;
  assert.deepEqual(groups.filter((g) => schemaGroup.test(g.groupId) || g.internal), [], 'the schema readers are not listed by default');
  const allGroups = conforms(await agent.get('/v1/consumer-groups?internal=true').expect(200)).body.groups as Array<{ groupId: string; internal: boolean }>;
  const readers = allGroups.filter((g) => schemaGroup.test(g.groupId));
  assert.ok(readers.some((g) => g.groupId === legacyReader), 'a schema reader group is listed with internal=true');
  assert.ok(readers.every((g) => g.internal));
  const detail = conforms(await agent.get(`/v1/consumer-groups/${legacyReader}`).expect(200));
  assert.equal(detail.body.internal, true);
  conforms(await agent.get('/v1/consumer-groups?internal=maybe').expect(400));
});
