/** Metadata with the broker down: 503 in each error shape, not a hang; back to 200 when it returns. */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import request from 'supertest';
import { startBroker, type Broker } from '../kafka/broker.js';
import { conforms } from './helpers/contract.js';
import { eventually } from './helpers/env.js';
import { testGateway, type TestGateway } from './helpers/gateway.js';

let broker: Broker;
let gw: TestGateway;
before(async () => {
  broker = await startBroker();
  // No cache, so every request asks the broker; a short bound so the suite stays quick.
  gw = await testGateway({ METADATA_CACHE_TTL_MS: '0', METADATA_TIMEOUT_MS: '3000' }, broker.brokers);
});
after(async () => {
  await gw?.close();
  await broker?.stop();
});

test('metadata requests answer 503 while the broker is down, and 200 once it is back', async () => {
  conforms(await request(gw.app).get('/v1/topics').expect(200));
  await broker.halt();

  // Asked together: each waits out the same bound.
  const paths = ['/v1/topics', '/v1/cluster', '/v1/topics/anything', '/v1/consumer-groups'];
  const [created, v2, ...answers] = await Promise.all([
    request(gw.app).post('/v1/topics').send({ name: 'while-down', partitions: 1 }),
    request(gw.app).get('/topics'),
    ...paths.map((path) => request(gw.app).get(path)),
  ]);
  answers.forEach((res, i) => {
    conforms(res);
    assert.equal(res.status, 503, paths[i]);
    assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8');
    assert.equal(res.body.code, 'GW_ERR_KAFKA_UNAVAILABLE');
    assert.equal(res.headers['retry-after'], '1');
  });
  assert.equal(conforms(created!).status, 503);
  assert.equal(conforms(v2!).status, 503);
  assert.equal(v2!.body.error_code, 50302);
  // The process keeps serving.
  await request(gw.app).get('/healthz').expect(200);

  await broker.restart();
  await eventually(async () => (await request(gw.app).get('/v1/topics')).status === 200, 60_000);
});
