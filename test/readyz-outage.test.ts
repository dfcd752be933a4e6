/** /readyz follows the broker: 503 with a reason while it is down, 200 again once it is back. */
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
  gw = await testGateway({}, broker.brokers);
});
after(async () => {
  await gw?.close();
  await broker?.stop();
});

test('/readyz turns 503 when the broker stops and 200 when it returns', async () => {
  conforms(await request(gw.app).get('/readyz').expect(200));
  await broker.halt();
  const down = await eventually(async () => {
    const res = await request(gw.app).get('/readyz');
    return res.status === 503 ? res : undefined;
  });
  conforms(down);
  assert.equal(down.body.status, 'unavailable');
  assert.match(down.body.reason, /Kafka|broker/);
  assert.equal(down.headers['retry-after'], '1');
  // The process keeps serving while Kafka is away.
  await request(gw.app).get('/healthz').expect(200);

  await broker.restart();
  await eventually(async () => (await request(gw.app).get('/readyz')).status === 200, 60_000);
});
