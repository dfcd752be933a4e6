/** Produce over WebSocket goes through the HTTP route's checks: same answer, same schema violations. */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import request from 'supertest';
import type { RunningGateway } from '../src/gateway.js';
import { conforms } from './helpers/contract.js';
import { uniqueName } from './helpers/env.js';
import { gatewayFor } from './helpers/scoped.js';
import { readRecords } from './helpers/records.js';
import { WsClient, isOp } from './helpers/ws.js';

let gateway: RunningGateway;
let topic: string;
before(async (t) => {
  gateway = await gatewayFor(t);
  topic = uniqueName('wsproduce');
  conforms(await request(gateway.server).post('/v1/topics').send({ name: topic, partitions: 1 }).expect(201));
});

test('a produce frame answers produced with the offsets, and the records are in Kafka', async () => {
  const client = await WsClient.connect(`${gateway.url.replace(/^http/, 'ws')}/v1/ws`);
  client.send({ op: 'produce', id: 'p1', topic, records: [{ key: 'a', value: { n: 1 } }, { key: 'b', value: { n: 2 } }] });
  const produced = await client.next(isOp('produced', 'p1'));
  assert.equal(produced.topic, topic);
  assert.deepEqual((produced.offsets as Array<{ offset: string }>).map((o) => o.offset), ['0', '1']);
  const records = await readRecords(topic, 2);
  assert.deepEqual(records.map((r) => JSON.parse(String(r.value))), [{ n: 1 }, { n: 2 }]);
  await client.close();
});

test('schema violations answer exactly as over HTTP, and nothing is produced', async () => {
  conforms(
    await request(gateway.server)
      .put(`/v1/topics/${topic}/schema`)
      .send({ type: 'object', required: ['n'], properties: { n: { type: 'integer' } } })
      .expect(200),
  );
  const bad = { records: [{ value: { n: 3 } }, { value: { n: 'four' } }] };
  const http = conforms(await request(gateway.server).post(`/v1/topics/${topic}/records`).send(bad).expect(422));
  const client = await WsClient.connect(`${gateway.url.replace(/^http/, 'ws')}/v1/ws`);
  client.send({ op: 'produce', id: 'p2', topic, ...bad });
  const error = await client.next(isOp('error', 'p2'));
  assert.equal(error.status, 422);
  assert.equal(error.code, http.body.code);
  assert.deepEqual(error.errors, http.body.errors);
  client.send({ op: 'produce', id: 'p3', topic, records: [{ value: { n: 5 } }] });
  const ok = await client.next(isOp('produced', 'p3'));
  assert.deepEqual((ok.offsets as Array<{ offset: string }>).map((o) => o.offset), ['2'], 'the refused batch took no offsets');
  await client.close();
});
