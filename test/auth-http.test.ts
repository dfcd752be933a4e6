/**
 * Authentication and authorization on real HTTP with a real broker: every
 * deny path (missing, malformed, wrong and expired credentials; a valid one
 * on a topic it may not touch), listings filtered to what the caller may
 * describe, 403s that do not reveal whether a topic exists, rate limits,
 * and no credential in any log line.
 */
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { before, test } from 'node:test';
import request from 'supertest';
import { createApp } from '../src/app.js';
import { createLogger } from '../src/common/logger.js';
import { buildServices, type GatewayServices } from '../src/services.js';
import { authFiles, jwtFor } from './helpers/auth.js';
import { conforms } from './helpers/contract.js';
import { testConfig, uniqueName } from './helpers/env.js';
import { appFor } from './helpers/scoped.js';
import { testGateway, type TestGateway } from './helpers/gateway.js';

const prefix = uniqueName('authz');
const { env, keys } = authFiles(`${prefix}-`);
const allowed = `${prefix}-orders`;
const other = uniqueName('secret');
let gw: TestGateway;

before(async (t) => {
  gw = await appFor(t, env);
  // Two topics: one the writer and reader may use, one only the admin may.
  for (const name of [allowed, other]) {
    conforms(await request(gw.app).post('/v1/topics').set('X-API-Key', keys.admin).send({ name, partitions: 1 }).expect(201));
  }
});

test('no credentials: 401 with WWW-Authenticate, as problem+json', async () => {
  const res = conforms(await request(gw.app).get('/v1/topics').expect(401));
  assert.equal(res.body.code, 'GW_ERR_UNAUTHENTICATED');
  assert.match(res.headers['www-authenticate'] ?? '', /^ApiKey realm="kafka-gateway"/);
});

test('a wrong API key is 401; operations endpoints need none', async () => {
  conforms(await request(gw.app).get('/v1/cluster').set('X-API-Key', 'not-a-key').expect(401));
  conforms(await request(gw.app).get('/readyz').expect(200));
  conforms(await request(gw.app).get('/openapi.yaml').expect(200));
});

test('a reader may describe its topics but not administer them', async () => {
  conforms(await request(gw.app).get(`/v1/topics/${allowed}`).set('X-API-Key', keys.reader).expect(200));
  const res = conforms(await request(gw.app).delete(`/v1/topics/${allowed}`).set('X-API-Key', keys.reader).expect(403));
  assert.equal(res.body.code, 'GW_ERR_FORBIDDEN');
  conforms(await request(gw.app).post('/v1/topics').set('X-API-Key', keys.writer).send({ name: `${prefix}-new` }).expect(403));
  conforms(await request(gw.app).patch(`/v1/topics/${allowed}/configs`).set('X-API-Key', keys.writer).send({ 'retention.ms': '1000' }).expect(403));
  conforms(await request(gw.app).post(`/v1/topics/${allowed}/partitions`).set('X-API-Key', keys.reader).send({ partitions: 2 }).expect(403));
});

test('a forbidden topic answers the same 403 whether or not it exists', async () => {
  const existing = conforms(await request(gw.app).get(`/v1/topics/${other}`).set('X-API-Key', keys.reader).expect(403));
  const missing = conforms(await request(gw.app).get(`/v1/topics/${uniqueName('nothing')}`).set('X-API-Key', keys.reader).expect(403));
  assert.equal(existing.body.code, missing.body.code);
  assert.doesNotMatch(existing.body.detail, /exist/);
  conforms(await request(gw.app).get(`/topics/${other}`).set('X-API-Key', keys.reader).expect(403));
});

test('listings show only the topics the caller may describe', async () => {
  const reader = conforms(await request(gw.app).get('/v1/topics').set('X-API-Key', keys.reader).expect(200));
  const names = (reader.body.topics as Array<{ name: string }>).map((t) => t.name);
  assert.ok(names.includes(allowed));
  assert.ok(!names.includes(other));
  const admin = conforms(await request(gw.app).get('/v1/topics').set('X-API-Key', keys.admin).expect(200));
  assert.ok((admin.body.topics as Array<{ name: string }>).some((t) => t.name === other));
  const v2 = conforms(await request(gw.app).get('/topics').set('X-API-Key', keys.reader).expect(200));
  assert.ok(v2.body.includes(allowed) && !v2.body.includes(other));
});

test('JWT mode: valid, expired, wrongly signed, malformed and role-based tokens', async () => {
  const jwtGw = await testGateway({ ...env, AUTH_MODE: 'jwt' });
  try {
    conforms(await request(jwtGw.app).get(`/v1/topics/${allowed}`).set('Authorization', `Bearer ${await jwtFor('reader')}`).expect(200));
    conforms(await request(jwtGw.app).get(`/v1/topics/${allowed}`).set('Authorization', `Bearer ${await jwtFor('someone', { roles: ['readers'] })}`).expect(200));
    const expired = conforms(
      await request(jwtGw.app)
        .get(`/v1/topics/${allowed}`)
        .set('Authorization', `Bearer ${await jwtFor('reader', { expiresIn: Math.floor(Date.now() / 1000) - 10 })}`)
        .expect(401),
    );
    assert.match(expired.body.detail, /expired/);
    assert.match(expired.headers['www-authenticate'] ?? '', /^Bearer/);
    const forged = (await jwtFor('admin')).replace(/\.[^.]+$/, '.c2lnbmF0dXJl');
    conforms(await request(jwtGw.app).get('/v1/cluster').set('Authorization', `Bearer ${forged}`).expect(401));
    conforms(await request(jwtGw.app).get('/v1/cluster').set('Authorization', 'Bearer garbage').expect(401));
    conforms(await request(jwtGw.app).get(`/v1/topics/${other}`).set('Authorization', `Bearer ${await jwtFor('reader')}`).expect(403));
  } finally {
    await jwtGw.close();
  }
});

test('rate limit per principal: 429 with Retry-After, others unaffected', async () => {
  const limited = await testGateway({ ...env, RATE_LIMIT_PER_SECOND: '1', RATE_LIMIT_BURST: '2' });
  try {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await request(limited.app).get('/v1/cluster').set('X-API-Key', keys.reader)).status);
    assert.deepEqual(statuses.slice(0, 2), [200, 200]);
    const refused = conforms(await request(limited.app).get('/v1/cluster').set('X-API-Key', keys.reader).expect(429));
    assert.ok(Number(refused.headers['retry-after']) >= 1);
    conforms(await request(limited.app).get('/v1/cluster').set('X-API-Key', keys.admin).expect(200));
  } finally {
    await limited.close();
  }
});

test('credentials never reach the logs', async () => {
  const lines = new PassThrough();
  let logged = '';
  lines.on('data', (chunk: Buffer) => {
    logged += chunk.toString();
  });
  const services: GatewayServices = buildServices(testConfig({ ...env, AUTH_MODE: 'jwt', LOG_LEVEL: 'debug' }), createLogger('debug', lines));
  await services.start();
  await services.kafka.connect();
  try {
    const app = createApp(services).app;
    const token = await jwtFor('reader');
    await request(app).get(`/v1/topics/${allowed}`).set('Authorization', `Bearer ${token}`).expect(200);
    await request(app).get(`/v1/topics/${other}`).set('Authorization', `Bearer ${token}`).expect(403);
    await request(app).get('/v1/cluster').set('Authorization', 'Bearer wrong-token-value').expect(401);
    assert.match(logged, /"route":"\/v1\/topics\/\{topic\}"/, 'the requests were logged');
    for (const secret of [token, token.split('.')[2]!, 'wrong-token-value', keys.reader, env.AUTH_JWT_SECRET!]) {
      assert.ok(!logged.includes(secret), 'a credential appeared in the logs');
    }
  } finally {
    await services.close();
  }
});

test('produce needs produce, schema changes need admin, both checked before the body is read', async () => {
  const records = { records: [{ value: { n: 1 } }] };
  conforms(await request(gw.app).post(`/v1/topics/${allowed}/records`).set('X-API-Key', keys.writer).send(records).expect(200));
  conforms(await request(gw.app).post(`/v1/topics/${allowed}/records`).set('X-API-Key', keys.reader).send(records).expect(403));
  conforms(await request(gw.app).post(`/v1/topics/${other}/records`).set('X-API-Key', keys.writer).send(records).expect(403));
  conforms(await request(gw.app).post(`/v1/topics/${allowed}/records`).send(records).expect(401));
  conforms(await request(gw.app).put(`/v1/topics/${allowed}/schema`).set('X-API-Key', keys.writer).send({ type: 'object' }).expect(403));
  conforms(await request(gw.app).get(`/v1/topics/${allowed}/schema`).set('X-API-Key', keys.reader).expect(404));
  const v2 = conforms(
    await request(gw.app)
      .post(`/topics/${other}`)
      .set('X-API-Key', keys.writer)
      .set('Content-Type', 'application/vnd.kafka.json.v2+json')
      .send(JSON.stringify({ records: [{ value: 1 }] }))
      .expect(403),
  );
  assert.equal(v2.body.error_code, 40301, 'Confluent clients get their own error shape');
});

test('a v2 consumer instance is its creator\'s: a pattern takes only topics it may read, another principal finds none, no credentials is 40101', async () => {
  const V2 = 'application/vnd.kafka.v2+json';
  const group = `${prefix}-group`;
  const base = `/consumers/${group}/instances/mine`;
  const as = (key: string | undefined, req: request.Test) => (key === undefined ? req : req.set('X-API-Key', key)).set('content-type', V2);
  conforms(await as(keys.reader, request(gw.app).post(`/consumers/${group}`)).send('{"name":"mine"}').expect(200));
  try {
    conforms(await as(keys.reader, request(gw.app).post(`${base}/subscription`)).send('{"topic_pattern":".*"}').expect(204));
    const subscribed = conforms(await as(keys.reader, request(gw.app).get(`${base}/subscription`)).expect(200)).body.topics as string[];
    assert.ok(subscribed.includes(allowed), `${allowed} is in ${subscribed.join(', ')}`);
    assert.ok(!subscribed.includes(other), `the pattern took ${other}, which the reader may not consume`);
    const named = conforms(await as(keys.reader, request(gw.app).post(`${base}/subscription`)).send(JSON.stringify({ topics: [other] })).expect(403));
    assert.equal(named.body.error_code, 40301);
    assert.deepEqual(conforms(await as(keys.reader, request(gw.app).get(`${base}/subscription`)).expect(200)).body.topics, subscribed, 'a refused subscribe changes nothing');
    // Even an admin finds no instance it did not create.
    const stranger = conforms(await as(keys.admin, request(gw.app).get(`${base}/subscription`)).expect(404));
    assert.equal(stranger.body.error_code, 40403);
    const anonymous = conforms(await as(undefined, request(gw.app).get('/brokers')).expect(401));
    assert.equal(anonymous.body.error_code, 40101);
    assert.match(anonymous.headers['www-authenticate'] ?? '', /^ApiKey/);
  } finally {
    conforms(await as(keys.reader, request(gw.app).delete(base)).expect(204));
  }
});
