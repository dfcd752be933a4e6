/**
 * Hostile schema patterns: with a backtracking engine, `^(a+)+$` against a
 * few dozen characters blocks the event loop for seconds, doubling with
 * each character. Patterns are matched in linear time, and the patterns
 * that cannot be are refused at PUT with a 400 that says so.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { before, test } from 'node:test';
import { Kafka, logLevel } from './helpers/kafka-client.js';
import request from 'supertest';
import type { RunningGateway } from '../src/gateway.js';
import { conforms } from './helpers/contract.js';
import { eventually, sharedBrokers, uniqueName } from './helpers/env.js';
import { gatewayFor } from './helpers/scoped.js';
import { createTopic } from './helpers/kafka.js';
import { WsClient, isOp } from './helpers/ws.js';

const HOSTILE = '^(a+)+$';
/** Far past what a backtracking engine could ever finish (2^5000 paths). */
const ATTACK = `${'a'.repeat(5000)}!`;
let gateway: RunningGateway;

before(async (t) => {
  gateway = await gatewayFor(t);
});

async function topicWithSchema(schema: object): Promise<string> {
  const topic = uniqueName('patterns');
  await createTopic(sharedBrokers(), topic, 1);
  conforms(await request(gateway.url).put(`/v1/topics/${topic}/schema`).send(schema).expect(200));
  return topic;
}

test('compiled schemas match hostile patterns in linear time (pattern, patternProperties, propertyNames)', () => {
  // In a child process, so that a backtracking engine is killed rather than hanging the suite.
  const script = `
    const { SchemaRegistry } = await import('./src/schema/registry.ts');
    const attack = ${JSON.stringify(ATTACK)};
    const results = [
      SchemaRegistry.compile({ type: 'string', pattern: ${JSON.stringify(HOSTILE)} })(attack),
      SchemaRegistry.compile({ type: 'object', patternProperties: { ${JSON.stringify(HOSTILE)}: { type: 'integer' } } })({ [attack]: 'x' }),
      SchemaRegistry.compile({ type: 'object', propertyNames: { pattern: ${JSON.stringify(HOSTILE)} } })({ [attack]: 1 }),
      SchemaRegistry.compile({ type: 'string', pattern: ${JSON.stringify(HOSTILE)} })('aaaa'),
    ];
    process.stdout.write(JSON.stringify(results));
  `;
  const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(run.signal, null, 'the validation never finished: the pattern was matched by backtracking');
  assert.equal(run.status, 0, run.stderr);
  assert.deepEqual(JSON.parse(run.stdout), [false, true, false, true]);
});

test('a hostile value against a hostile pattern is a prompt 422 over HTTP and WebSocket; other clients are served', async () => {
  const topic = await topicWithSchema({ type: 'object', properties: { name: { type: 'string', pattern: HOSTILE } } });
  const refused = conforms(await request(gateway.url).post(`/v1/topics/${topic}/records`).send({ records: [{ value: { name: ATTACK } }] }).expect(422));
  assert.match(JSON.stringify(refused.body.errors), /must match the pattern/);
  conforms(await request(gateway.url).post(`/v1/topics/${topic}/records`).send({ records: [{ value: { name: 'aaa' } }] }).expect(200));

  const client = await WsClient.connect(`${gateway.url.replace(/^http/, 'ws')}/v1/ws`);
  client.send({ op: 'produce', id: 'hostile', topic, records: [{ value: { name: ATTACK } }] });
  assert.equal((await client.next(isOp('error', 'hostile'))).status, 422);
  client.send({ op: 'produce', id: 'fine', topic, records: [{ value: { name: 'a' } }] });
  await client.next(isOp('produced', 'fine'));
  await client.close();
  conforms(await request(gateway.url).get('/healthz').expect(200));
});

test('ECMAScript pattern syntax that is linear keeps working: escapes, classes, named groups, Unicode', async () => {
  const topic = await topicWithSchema({
    type: 'object',
    properties: {
      id: { type: 'string', pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' },
      date: { type: 'string', pattern: '^(?<year>\\d{4})-\\d{2}-\\d{2}$' },
      word: { type: 'string', pattern: '^\\p{L}+$' },
      accent: { type: 'string', pattern: '^caf\\u00e9$' },
      path: { type: 'string', pattern: '^/[\\w./-]*$' },
    },
  });
  const good = { id: '123e4567-e89b-12d3-a456-426614174000', date: '2024-02-29', word: 'Grüße', accent: 'café', path: '/a/b.c' };
  conforms(await request(gateway.url).post(`/v1/topics/${topic}/records`).send({ records: [{ value: good }] }).expect(200));
  for (const [field, value] of [['id', 'nope'], ['date', '24-2-29'], ['word', 'abc1'], ['accent', 'cafe'], ['path', 'a/b']] as const) {
    const res = conforms(await request(gateway.url).post(`/v1/topics/${topic}/records`).send({ records: [{ value: { ...good, [field]: value } }] }).expect(422));
    assert.equal(res.body.errors[0].pointer, `/records/0/value/${field}`);
  }
});

test('a pattern that cannot be matched in linear time is refused at PUT with a 400 that says why', async () => {
  const topic = uniqueName('patterns');
  await createTopic(sharedBrokers(), topic, 1);
  for (const pattern of ['^(?=.*\\d)\\w+$', '(?<!x)y', '^(a)\\1$']) {
    const res = conforms(await request(gateway.url).put(`/v1/topics/${topic}/schema`).send({ type: 'string', pattern }).expect(400));
    assert.equal(res.body.code, 'GW_ERR_INVALID_SCHEMA');
    assert.match(res.body.detail, /linear time/);
    assert.ok(res.body.detail.includes(JSON.stringify(pattern)), res.body.detail);
  }
  conforms(await request(gateway.url).put(`/v1/topics/${topic}/schema`).send({ patternProperties: { '^(?=x)': {} } }).expect(400));
});

test('a stored schema with such a pattern (written before they were refused) fails closed: produce is 422, saying why', async () => {
  const topic = uniqueName('patterns');
  await createTopic(sharedBrokers(), topic, 1);
  // Written straight to the schema topic, as an older gateway would have.
  const producer = new Kafka({ brokers: [sharedBrokers()], logLevel: logLevel.NOTHING }).producer();
  await producer.connect();
  await producer.send({ topic: '_gateway_schemas', messages: [{ key: topic, value: JSON.stringify({ schema: { type: 'string', pattern: '^(?=a)' }, version: 1 }) }] });
  await producer.disconnect();
  const refused = await eventually(async () => {
    const res = await request(gateway.url).post(`/v1/topics/${topic}/records`).send({ records: [{ value: 'abc' }] });
    return res.status === 422 ? res : undefined;
  });
  conforms(refused);
  assert.match(refused.body.errors[0].message, /cannot be enforced.*admin replaces it/);
  // Replacing the schema puts the topic back in service.
  conforms(await request(gateway.url).put(`/v1/topics/${topic}/schema`).send({ type: 'string', pattern: '^a' }).expect(200));
  conforms(await request(gateway.url).post(`/v1/topics/${topic}/records`).send({ records: [{ value: 'abc' }] }).expect(200));
});
