/**
 * Record headers as a Java producer writes them (a name repeated, a value
 * that is not UTF-8, a null value) reach WebSocket clients intact with
 * `headers: "list"`, and the first protocol's object form still goes to
 * clients that do not ask, with a note naming each header it cannot carry.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { ensureKafkaJars } from '../kafka/broker.js';
import type { RunningGateway } from '../src/gateway.js';
import { sharedBrokers, uniqueName } from './helpers/env.js';
import { gatewayFor } from './helpers/scoped.js';
import { createTopic, deleteTopics } from './helpers/kafka.js';
import { WsClient, isOp, isRecord } from './helpers/ws.js';

const brokers = sharedBrokers();
const topic = uniqueName('ws-headers');
const fromPython = uniqueName('ws-headers-python');
let gateway: RunningGateway;

before(async (t) => {
  await createTopic(brokers, topic, 1);
  await createTopic(brokers, fromPython, 1);
  execFileSync('java', ['-cp', `${ensureKafkaJars()}/*`, 'test/fixtures/JavaHeadersProducer.java', brokers, topic], { stdio: 'pipe' });
  const python = '.venv-clients/bin/python';
  assert.ok(existsSync(python), 'the Python producer needs scripts/generate-clients.sh install');
  execFileSync(python, ['test/fixtures/headers_producer.py', brokers, fromPython], { stdio: 'pipe' });
  gateway = await gatewayFor(t);
});
after(async () => {
  await deleteTopics(brokers, [topic, fromPython]);
});

const EVERY_HEADER = [
  { key: 'h', value: '1', encoding: 'text' },
  { key: 'h', value: '2', encoding: 'text' },
  { key: 'bin', value: Buffer.from([0xff, 0xfe, 0x00]).toString('base64'), encoding: 'base64' },
  { key: 'nothing', value: null, encoding: null },
  { key: 'text', value: 'wörld', encoding: 'text' },
];

test('headers: "list" carries every header in order, repeated names and null values included, each with its encoding', async () => {
  const client = await WsClient.connect(`${gateway.url.replace(/^http/, 'ws')}/v1/ws`);
  // Both fallbacks, to see that the two forms are encoded apart for the same record.
  client.send({ op: 'subscribe', id: 'list', topics: [topic], from: 'earliest', headers: 'list' });
  client.send({ op: 'subscribe', id: 'list64', topics: [topic], from: 'earliest', headers: 'list', format: 'base64' });
  const [record] = await client.collect(isRecord('list'), 1);
  assert.deepEqual(record!.headers, EVERY_HEADER);
  assert.equal(record!.note, undefined, 'nothing needed explaining');
  const [other] = await client.collect(isRecord('list64'), 1);
  assert.deepEqual(other!.headers, EVERY_HEADER);
  await client.close();

  const bare = await WsClient.connect(`${gateway.url.replace(/^http/, 'ws')}/v1/topics/${topic}/ws?from=earliest&headers=list`);
  assert.deepEqual((await bare.next(() => true)).headers, EVERY_HEADER);
  await bare.close();
});

test('without it the object form is unchanged for existing clients, and the note names each header it could not carry', async () => {
  const client = await WsClient.connect(`${gateway.url.replace(/^http/, 'ws')}/v1/ws`);
  client.send({ op: 'subscribe', id: 'old', topics: [topic], from: 'earliest' });
  const [record] = await client.collect(isRecord('old'), 1);
  assert.deepEqual(record!.headers, { h: '2', bin: Buffer.from([0xff, 0xfe, 0x00]).toString('base64'), text: 'wörld' });
  assert.equal(
    record!.note,
    'header "bin" is not valid UTF-8, sent as base64; header "h" repeats and only its last value is here; ask for headers: "list" (headers=list in a URL) for every value',
  );
  client.send({ op: 'subscribe', id: 'bad', topics: [topic], headers: 'map' });
  const refused = await client.next(isOp('error', 'bad'));
  assert.equal(refused.status, 400);
  await client.close();
  await assert.rejects(WsClient.connect(`${gateway.url.replace(/^http/, 'ws')}/v1/topics/${topic}/ws?headers=map`), /400/);
});

test('a Python producer\'s [("h", "1"), ("h", "2")] arrives as both headers, in order, the one that is not UTF-8 named as base64', async () => {
  const client = await WsClient.connect(`${gateway.url.replace(/^http/, 'ws')}/v1/ws`);
  client.send({ op: 'subscribe', id: 'py', topics: [fromPython], from: 'earliest', headers: 'list' });
  const [record] = await client.collect(isRecord('py'), 1);
  assert.deepEqual(record!.headers, [
    { key: 'h', value: '1', encoding: 'text' },
    { key: 'h', value: '2', encoding: 'text' },
    { key: 'raw', value: Buffer.from([0xc3, 0x28]).toString('base64'), encoding: 'base64' },
  ]);
  assert.deepEqual(record!.value, { from: 'python' });
  await client.close();
});
