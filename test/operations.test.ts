import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { before, test } from 'node:test';
import request from 'supertest';
import { parse } from 'yaml';
import { conforms } from './helpers/contract.js';
import { testGateway, type TestGateway } from './helpers/gateway.js';
import { appFor } from './helpers/scoped.js';

let gw: TestGateway;
before(async (t) => {
  gw = await appFor(t);
});

test('/healthz answers while the process runs', async () => {
  const res = conforms(await request(gw.app).get('/healthz').expect(200));
  assert.deepEqual(res.body, { status: 'ok' });
});

test('/readyz is 200 when the broker answers', async () => {
  const res = conforms(await request(gw.app).get('/readyz').expect(200));
  assert.equal(res.body.status, 'ready');
});

test('/openapi.yaml serves the file, requiring no credentials while authentication is off', async () => {
  const res = conforms(await request(gw.app).get('/openapi.yaml').expect(200));
  const served = parse(res.text) as Record<string, unknown>;
  const file = parse(readFileSync('openapi.yaml', 'utf8')) as Record<string, unknown>;
  assert.deepEqual(served.security, []);
  const withoutSecurity = (doc: Record<string, unknown>) => JSON.stringify(doc, (key, value: unknown) => (key === 'security' ? undefined : value));
  assert.equal(withoutSecurity(served), withoutSecurity(file));
});

test('/metrics has process metrics and a request histogram labelled by route', async () => {
  await request(gw.app).get('/healthz');
  await request(gw.app).get('/no/such/path/123');
  await request(gw.app).post('/v1/topics').send({ partitions: 0 }).expect(400);
  const res = conforms(await request(gw.app).get('/metrics').expect(200));
  assert.match(res.text, /process_cpu_user_seconds_total/);
  assert.match(res.text, /http_request_duration_seconds_bucket\{[^}]*route="\/healthz"/);
  assert.match(res.text, /route="unmatched"/);
  // Refused before any handler ran, and still counted under its operation.
  assert.match(res.text, /http_request_duration_seconds_bucket\{[^}]*route="\/v1\/topics",status="400"/);
  assert.doesNotMatch(res.text, /no\/such\/path/, 'raw paths must not become labels');
});

test('an unknown route is a 404 problem', async () => {
  const res = await request(gw.app).get('/nope').expect(404);
  assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8');
  assert.equal(res.body.code, 'GW_ERR_NOT_FOUND');
  assert.match(res.body.detail, /GET \/nope/);
});

test('X-Request-Id is echoed when given and generated when not', async () => {
  const given = await request(gw.app).get('/healthz').set('X-Request-Id', 'abc-123');
  assert.equal(given.headers['x-request-id'], 'abc-123');
  const generated = await request(gw.app).get('/healthz');
  assert.match(generated.headers['x-request-id'] ?? '', /^[0-9a-f-]{36}$/);
  for (const unusable of ['x'.repeat(200), 'a b/c;d']) {
    const res = await request(gw.app).get('/healthz').set('X-Request-Id', unusable);
    assert.match(res.headers['x-request-id'] ?? '', /^[0-9a-f-]{36}$/, 'an unusable id is replaced, not echoed');
  }
});

test('security headers are on every answer', async () => {
  const res = await request(gw.app).get('/docs');
  assert.equal(res.headers['x-content-type-options'], 'nosniff');
  assert.equal(res.headers['x-frame-options'], 'DENY');
  assert.match(res.headers['content-security-policy'] ?? '', /default-src 'self'/);
  assert.equal(res.headers['x-powered-by'], undefined);
});

test('CORS: same origin and listed origins are allowed, others refused at preflight', async () => {
  const listed = await testGateway({ ALLOWED_ORIGINS: 'https://app.example.com' });
  try {
    const preflight = await request(listed.app)
      .options('/readyz')
      .set('Origin', 'https://app.example.com')
      .set('Access-Control-Request-Method', 'GET')
      .expect(204);
    assert.equal(preflight.headers['access-control-allow-origin'], 'https://app.example.com');
    assert.match(preflight.headers['access-control-allow-headers'] ?? '', /Authorization/);
    const refused = await request(listed.app).options('/readyz').set('Origin', 'https://evil.example').set('Access-Control-Request-Method', 'GET').expect(403);
    assert.equal(refused.body.code, 'GW_ERR_FORBIDDEN');
    const simple = await request(listed.app).get('/healthz').set('Origin', 'https://evil.example').expect(200);
    assert.equal(simple.headers['access-control-allow-origin'], undefined);
  } finally {
    await listed.close();
  }
});
