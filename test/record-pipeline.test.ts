/**
 * One record pipeline for every way in: the same bad record gets the same
 * status, code and JSON Pointer whether it came as a JSON body, an NDJSON
 * line, a WebSocket `produce` frame, or Confluent v2 (which keeps its own
 * error body, mapped from the same error). And a broker's rule that the
 * gateway can know in advance (a timestamp too far ahead) fails the record's
 * own request with a 400, never a shared batch with a retriable 503.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import request from 'supertest';
import type { RunningGateway } from '../src/gateway.js';
import { confluentCodes } from '../src/http/v2/conventions.js';
import type { ErrorCode } from '../src/common/errors.js';
import { conforms } from './helpers/contract.js';
import { sharedBrokers, uniqueName } from './helpers/env.js';
import { gatewayFor } from './helpers/scoped.js';
import { deleteTopics, withAdmin } from './helpers/kafka.js';
import { WsClient } from './helpers/ws.js';

const brokers = sharedBrokers();
let gateway: RunningGateway;
let ws: WsClient;
const topics: string[] = [];

before(async (t) => {
  gateway = await gatewayFor(t, { PRODUCE_LINGER_MS: '20', METADATA_CACHE_TTL_MS: '600000' });
  ws = await WsClient.connect(`${gateway.url.replace(/^http/, 'ws')}/v1/ws`);
});
after(async () => {
  await ws?.close();
  await deleteTopics(brokers, topics);
});

async function topic(partitions = 2): Promise<string> {
  const name = uniqueName('pipeline');
  topics.push(name);
  // The broker's rule for timestamps made explicit, so the test does not depend on its version's default.
  await withAdmin(brokers, (admin) =>
    admin.createTopics({ waitForLeaders: true, topics: [{ topic: name, numPartitions: partitions, configEntries: [{ name: 'message.timestamp.after.max.ms', value: '3600000' }] }] }),
  );
  return name;
}

async function latestOffsets(name: string): Promise<string[]> {
  return withAdmin(brokers, async (admin) => (await admin.fetchTopicOffsets(name)).map((o) => o.high));
}

interface Answer {
  readonly status: number;
  readonly code?: string;
  readonly errors?: unknown[];
  /** Confluent v2 only. */
  readonly errorCode?: number;
  readonly message?: string;
}

const DEEP = 20_000;
const HOURS = 3_600_000;

/** Bad records as raw JSON text (some cannot even be built as JS values and stringified), each after a good one. */
const BAD: Array<{ name: string; record: () => string; code: ErrorCode; pointer: string }> = [
  { name: 'a date that is not RFC 3339', record: () => '{"value":1,"timestamp":"Jan 31 2026"}', code: 'GW_ERR_VALIDATION', pointer: '/records/1/timestamp' },
  { name: 'a time without an offset', record: () => '{"value":1,"timestamp":"2026-01-31T12:00:00"}', code: 'GW_ERR_VALIDATION', pointer: '/records/1/timestamp' },
  { name: 'a day that does not exist', record: () => '{"value":1,"timestamp":"2026-02-30T12:00:00Z"}', code: 'GW_ERR_VALIDATION', pointer: '/records/1/timestamp' },
  { name: 'a timestamp two hours ahead', record: () => `{"value":1,"timestamp":${Date.now() + 2 * HOURS}}`, code: 'GW_ERR_VALIDATION', pointer: '/records/1/timestamp' },
  { name: 'a partition the topic lacks', record: () => '{"value":1,"partition":5}', code: 'GW_ERR_INVALID_PARTITION', pointer: '/records/1/partition' },
  { name: 'a negative partition', record: () => '{"value":1,"partition":-1}', code: 'GW_ERR_VALIDATION', pointer: '/records/1/partition' },
  { name: 'a header that is not a string', record: () => '{"value":1,"headers":{"trace":1}}', code: 'GW_ERR_VALIDATION', pointer: '/records/1/headers/trace' },
  { name: 'an unknown field', record: () => '{"value":1,"colour":"red"}', code: 'GW_ERR_VALIDATION', pointer: '/records/1/colour' },
  { name: 'a record that is not an object', record: () => '42', code: 'GW_ERR_VALIDATION', pointer: '/records/1' },
  { name: `a value nested ${DEEP} levels deep`, record: () => `{"value":${'['.repeat(DEEP)}${']'.repeat(DEEP)}}`, code: 'GW_ERR_VALIDATION', pointer: '/records/1/value' },
];

const GOOD = '{"key":"k","value":{"ok":true}}';

async function viaJson(t: string, bad: string): Promise<Answer> {
  const res = conforms(await request(gateway.server).post(`/v1/topics/${t}/records`).set('content-type', 'application/json').send(`{"records":[${GOOD},${bad}]}`));
  return { status: res.status, code: res.body.code, errors: res.body.errors };
}

async function viaNdjson(t: string, bad: string): Promise<Answer> {
  const res = conforms(await request(gateway.server).post(`/v1/topics/${t}/records`).set('content-type', 'application/x-ndjson').send(`${GOOD}\n${bad}\n`));
  return { status: res.status, code: res.body.code, errors: res.body.errors };
}

async function viaWebSocket(t: string, bad: string, id: string): Promise<Answer> {
  ws.send(`{"op":"produce","id":"${id}","topic":"${t}","records":[${GOOD},${bad}]}`);
  const frame = await ws.next((f) => f.id === id && (f.op === 'error' || f.op === 'produced'));
  return { status: frame.op === 'produced' ? 200 : (frame.status as number), code: frame.code as string, errors: frame.errors as unknown[] };
}

async function viaConfluent(t: string, bad: string): Promise<Answer> {
  const res = conforms(await request(gateway.server).post(`/topics/${t}`).set('content-type', 'application/vnd.kafka.json.v2+json').send(`{"records":[${GOOD},${bad}]}`));
  return { status: res.status, errorCode: res.body.error_code, message: res.body.message };
}

const sorted = (errors: unknown[] | undefined) => (errors ?? []).map((e) => JSON.stringify(e)).sort();

test('the same bad record gets the same answer through every transport, and nothing of its request is produced', async () => {
  const t = await topic(2);
  for (const [i, { name, record, code, pointer }] of BAD.entries()) {
    const bad = record();
    const json = await viaJson(t, bad);
    assert.equal(json.status, 400, `${name} (JSON): ${JSON.stringify(json)}`);
    assert.equal(json.code, code, `${name} (JSON)`);
    assert.ok(json.errors?.length, `${name} (JSON) lists its errors`);
    for (const e of json.errors as Array<{ pointer: string; index: number }>) {
      assert.equal(e.pointer, pointer, `${name} (JSON)`);
      assert.equal(e.index, 1, `${name} (JSON)`);
    }
    for (const [transport, answer] of [
      ['NDJSON', await viaNdjson(t, bad)],
      ['WebSocket', await viaWebSocket(t, bad, `bad-${i}`)],
    ] as const) {
      assert.deepEqual(
        { status: answer.status, code: answer.code, errors: sorted(answer.errors) },
        { status: json.status, code: json.code, errors: sorted(json.errors) },
        `${name}: ${transport} answers as JSON does`,
      );
    }
    const confluent = await viaConfluent(t, bad);
    const [status, errorCode] = confluentCodes({ code, status: json.status });
    assert.deepEqual({ status: confluent.status, errorCode: confluent.errorCode }, { status, errorCode }, `${name} (Confluent v2): ${confluent.message}`);
    assert.ok(confluent.message?.includes(pointer.replace('/records/1', '')), `${name} (Confluent v2) names the field: ${confluent.message}`);
  }
  assert.deepEqual(await latestOffsets(t), ['0', '0'], 'no good record of a refused request was produced');
  // The connection and the gateway go on.
  assert.equal((await viaWebSocket(t, GOOD, 'good')).status, 200);
  assert.equal((await viaJson(t, GOOD)).status, 200);
});

test('one caller\'s record stamped two hours ahead fails only its own request, with a 400, among concurrent good ones', async () => {
  const t = await topic(1);
  const good = Array.from({ length: 60 }, (_, i) => request(gateway.server).post(`/v1/topics/${t}/records`).send({ records: [{ value: { i } }] }));
  const bad = request(gateway.server).post(`/v1/topics/${t}/records`).send({ records: [{ value: 'late', timestamp: Date.now() + 2 * HOURS }] });
  const [refused, ...accepted] = await Promise.all([bad, ...good]);
  conforms(refused!);
  assert.equal(refused!.status, 400, refused!.text);
  assert.equal(refused!.headers['retry-after'], undefined, 'not retriable: it can never succeed');
  for (const res of accepted) assert.equal(conforms(res).status, 200, res.text);
  assert.deepEqual(await latestOffsets(t), ['60'], 'every good record once, the bad one not at all');
});

test('a record the broker refuses after the gateway\'s own checks fails only its own request in a shared batch', async () => {
  const t = await topic(1);
  // Warm the gateway's view of the topic's rules (a one-hour window), then narrow the window behind its back.
  conforms(await request(gateway.server).post(`/v1/topics/${t}/records`).send({ records: [{ value: 'warm' }] }).expect(200));
  await withAdmin(brokers, (admin) =>
    admin.alterConfigs({ validateOnly: false, resources: [{ type: 2, name: t, configEntries: [{ name: 'message.timestamp.after.max.ms', value: '1000' }] }] }),
  );
  const ahead = Date.now() + 10 * 60_000;
  const good = Array.from({ length: 30 }, (_, i) => request(gateway.server).post(`/v1/topics/${t}/records`).send({ records: [{ value: { i } }] }));
  const bad = request(gateway.server).post(`/v1/topics/${t}/records`).send({ records: [{ value: 'ahead', timestamp: ahead }] });
  const [refused, ...accepted] = await Promise.all([bad, ...good]);
  assert.equal(conforms(refused!).status, 400, refused!.text);
  assert.equal(refused!.body.kafkaError, 'INVALID_TIMESTAMP', 'the broker refused it, not the gateway');
  for (const res of accepted) assert.equal(conforms(res).status, 200, res.text);
  assert.deepEqual(await latestOffsets(t), ['31'], 'each good record exactly once');
});
