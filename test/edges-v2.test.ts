/**
 * Confluent v2 clients written against other v2 servers, on a real gateway
 * with a real broker: consumer settings those servers take, paths with a
 * trailing slash, and the media types docs/confluent-v2.md promises.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { before, test } from 'node:test';
import request from 'supertest';
import type { RunningGateway } from '../src/gateway.js';
import { conforms, spec } from './helpers/contract.js';
import { eventually, uniqueName } from './helpers/env.js';
import { gatewayFor } from './helpers/scoped.js';

const V2 = 'application/vnd.kafka.v2+json';
const BINARY_V2 = 'application/vnd.kafka.binary.v2+json';
let gw: RunningGateway;
const topic = uniqueName('v2-edges');

before(async (t) => {
  gw = await gatewayFor(t, { CONSUMER_REQUEST_TIMEOUT_MS: '500' });
  conforms(await request(gw.server).post('/v1/topics').send({ name: topic, partitions: 1 }).expect(201));
  conforms(await request(gw.server).post(`/v1/topics/${topic}/records`).send({ records: [{ value: 'one' }, { value: 'two' }] }).expect(200));
});

const post = (path: string, body: unknown, type = V2) => request(gw.server).post(path).set('content-type', type).send(JSON.stringify(body));

test('consumer settings other v2 servers accept are taken: applied where they mean something, ignored otherwise', async () => {
  const group = uniqueName('v2-settings');
  const body = {
    format: 'binary',
    'auto.offset.reset': 'earliest',
    'auto.commit.enable': 'true',
    'fetch.min.bytes': 100000,
    'consumer.request.timeout.ms': 11000,
    'topic.metadata.refresh.interval.ms': 100,
    'isolation.level': 'read_committed',
    'session.timeout.ms': '10000',
  };
  const created = conforms(await post(`/consumers/${group}`, body).expect(200));
  const base = `/consumers/${group}/instances/${created.body.instance_id}`;
  conforms(await post(`${base}/subscription`, { topics: [topic] }).expect(204));
  // auto.offset.reset earliest applied: both records come back; fetch.min.bytes is more than they hold, so each read waits its timeout.
  const values: string[] = [];
  await eventually(async () => {
    const res = conforms(await request(gw.server).get(`${base}/records?timeout=300`).set('accept', BINARY_V2).expect(200));
    values.push(...(res.body as Array<{ value: string }>).map((r) => JSON.parse(Buffer.from(r.value, 'base64').toString()) as string));
    return values.length >= 2;
  });
  assert.deepEqual(values, ['one', 'two']);
  conforms(await request(gw.server).delete(base).set('content-type', V2).expect(204));

  // The Kafka spelling of auto commit is the same setting: a bad value is refused as Confluent refuses one.
  const badCommit = conforms(await post(`/consumers/${group}`, { 'enable.auto.commit': 'maybe' }).expect(422));
  assert.equal(badCommit.body.error_code, 42204);
  // Only what is malformed is refused: a setting with an object for a value, a field that is no setting at all.
  conforms(await post(`/consumers/${group}`, { 'isolation.level': { level: 'x' } }).expect(422));
  const unknown = conforms(await post(`/consumers/${group}`, { foo: 1 }).expect(422));
  assert.match(unknown.body.message, /foo/);
});

test('v2 paths with a trailing slash are served as without it', async () => {
  const group = uniqueName('v2-slash');
  const created = await post(`/consumers/${group}/`, { name: 'slashed', format: 'binary', 'auto.offset.reset': 'earliest' }).expect(200);
  assert.equal(created.body.instance_id, 'slashed');
  const base = `/consumers/${group}/instances/slashed`;
  await post(`${base}/subscription/`, { topics: [topic] }).expect(204);
  const subscription = await request(gw.server).get(`${base}/subscription/`).set('accept', V2).expect(200);
  assert.deepEqual(subscription.body, { topics: [topic] });
  await request(gw.server).delete(`${base}/`).set('content-type', V2).expect(204);
  // The gateway's own API keeps exact paths.
  await request(gw.server).get('/v1/topics/').expect(404);
});

test('media types: consumer requests take application/json as openapi.yaml and docs/confluent-v2.md say; produce does not', async () => {
  const group = uniqueName('v2-media');
  conforms(await post(`/consumers/${group}`, { name: 'plain' }, 'application/json').expect(200));
  conforms(await post(`/consumers/${group}/instances/plain/subscription`, { topics: [topic] }, 'application/json').expect(204));
  conforms(await post(`/consumers/${group}`, { name: 'text' }, 'text/plain').expect(415));
  conforms(await post(`/topics/${topic}`, { records: [{ value: 'x' }] }, 'application/json').expect(415));
  await request(gw.server).delete(`/consumers/${group}/instances/plain`).set('content-type', V2).expect(204);

  // Every media type the contract takes for a consumer request is named in the docs' section on media types.
  const docs = readFileSync('docs/confluent-v2.md', 'utf8');
  const section = docs.slice(docs.indexOf('## Media types'), docs.indexOf('\n## ', docs.indexOf('## Media types') + 1));
  const bodies = (spec as unknown as { components: { requestBodies: Record<string, { content: Record<string, unknown> }> } }).components.requestBodies;
  for (const [name, body] of Object.entries(bodies)) {
    if (!name.startsWith('V2')) continue;
    for (const mediaType of Object.keys(body.content)) assert.ok(section.includes(`\`${mediaType}\``), `${name}: ${mediaType} is not in docs/confluent-v2.md`);
  }
  assert.doesNotMatch(section, /^[^\n]*Others get 415\.\n/m, 'no sentence says every other type is refused everywhere');
});
