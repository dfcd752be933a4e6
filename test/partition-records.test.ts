/**
 * GET /v1/topics/{topic}/partitions/{partition}/records: stateless pages of
 * one partition from an offset, against the real broker; bounded by limit
 * and maxBytes, with nextOffset for the next page; 416 outside the log.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import request from 'supertest';
import type { RunningGateway } from '../src/gateway.js';
import { conforms } from './helpers/contract.js';
import { sharedBrokers, uniqueName } from './helpers/env.js';
import { gatewayFor } from './helpers/scoped.js';
import { createTopic, deleteRecordsBefore } from './helpers/kafka.js';

let gateway: RunningGateway;
let topic: string;

interface Page {
  topic: string;
  partition: number;
  records: Array<{ partition: number; offset: string; key: unknown; value: unknown; valueEncoding: string; headers: Record<string, string> }>;
  nextOffset: string;
  logStartOffset: string;
  logEndOffset: string;
}

async function produce(records: ReadonlyArray<Record<string, unknown>>, extra: Record<string, unknown> = {}): Promise<void> {
  conforms(await request(gateway.url).post(`/v1/topics/${topic}/records`).send({ records, ...extra }).expect(200));
}

before(async (t) => {
  gateway = await gatewayFor(t);
  topic = uniqueName('pages');
  await createTopic(sharedBrokers(), topic, 2);
  await produce(Array.from({ length: 25 }, (_, i) => ({ key: `k${i}`, value: { i }, partition: 0, headers: { n: String(i) } })));
  await produce([{ key: 'p1', value: 'one', partition: 1 }]);
});

const page = async (query: string, partition = 0, status = 200): Promise<Page> =>
  conforms(await request(gateway.url).get(`/v1/topics/${topic}/partitions/${partition}/records?${query}`).expect(status)).body as Page;

test('pages through a partition with nextOffset, from earliest to the end, stateless', async () => {
  const first = await page('limit=10');
  assert.deepEqual(first.records.map((r) => r.offset), ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
  assert.deepEqual(first.records[3], { topic, partition: 0, offset: '3', timestamp: (first.records[3] as unknown as { timestamp: number }).timestamp, key: 'k3', keyEncoding: 'text', value: { i: 3 }, valueEncoding: 'json', headers: { n: '3' } });
  assert.equal(first.nextOffset, '10');
  assert.equal(first.logStartOffset, '0');
  assert.equal(first.logEndOffset, '25');
  const second = await page(`offset=${first.nextOffset}&limit=10`);
  assert.equal(second.records[0]!.offset, '10');
  const third = await page(`offset=${second.nextOffset}&limit=10`);
  assert.deepEqual(third.records.map((r) => r.offset), ['20', '21', '22', '23', '24']);
  assert.equal(third.nextOffset, '25');
  // At the end: an empty page, and the offset the next record will get.
  const end = await page('offset=25');
  assert.deepEqual(end.records, []);
  assert.equal(end.nextOffset, '25');
  // The default page is up to 100 from the start; the other partition is its own log.
  assert.equal((await page('')).records.length, 25);
  const other = await page('offset=earliest', 1);
  assert.deepEqual(other.records.map((r) => r.value), ['one']);
});

test('limit: 100 records by default, up to 10,000 across the broker\'s batches', async () => {
  const many = uniqueName('pages-many');
  await createTopic(sharedBrokers(), many, 1);
  // Three produce requests are three batches in the log at least: a page reads on past each.
  for (let start = 0; start < 240; start += 80) {
    conforms(await request(gateway.url).post(`/v1/topics/${many}/records`).send({ records: Array.from({ length: 80 }, (_, i) => ({ value: start + i })) }).expect(200));
  }
  const get = async (query: string) => conforms(await request(gateway.url).get(`/v1/topics/${many}/partitions/0/records?${query}`).expect(200)).body as Page;
  const byDefault = await get('');
  assert.equal(byDefault.records.length, 100);
  assert.equal(byDefault.nextOffset, '100');
  const rest = await get(`offset=${byDefault.nextOffset}&limit=10000`);
  assert.deepEqual(rest.records.map((r) => r.value), Array.from({ length: 140 }, (_, i) => 100 + i));
  assert.equal(rest.nextOffset, '240');
});

test('maxBytes bounds a page but never leaves it empty; format=base64 sends bytes that are not JSON as base64', async () => {
  const big = uniqueName('pages-big');
  await createTopic(sharedBrokers(), big, 1);
  conforms(await request(gateway.url).post(`/v1/topics/${big}/records`).send({ valueFormat: 'text', records: Array.from({ length: 5 }, (_, i) => ({ value: `${i}${'x'.repeat(999)}` })) }).expect(200));
  const get = async (query: string) => conforms(await request(gateway.url).get(`/v1/topics/${big}/partitions/0/records?${query}`).expect(200)).body as Page;
  const two = await get('maxBytes=2500');
  assert.equal(two.records.length, 2);
  assert.equal(two.nextOffset, '2');
  const one = await get('offset=2&maxBytes=1');
  assert.equal(one.records.length, 1, 'a record larger than maxBytes still comes, alone');
  assert.equal(one.nextOffset, '3');
  const base64 = await get('offset=4&format=base64');
  assert.equal(base64.records[0]!.valueEncoding, 'base64');
  assert.equal(Buffer.from(String(base64.records[0]!.value), 'base64').toString(), `4${'x'.repeat(999)}`);
});

test('416 for an offset past the end or below the log start, saying the valid range', async () => {
  const past = await page('offset=26', 0, 416);
  assert.equal((past as unknown as { code: string }).code, 'GW_ERR_RANGE_NOT_SATISFIABLE');
  assert.deepEqual([(past as unknown as { logStartOffset: string }).logStartOffset, (past as unknown as { logEndOffset: string }).logEndOffset], ['0', '25']);
  const huge = await page('offset=9223372036854775807', 0, 416);
  assert.match((huge as unknown as { detail: string }).detail, /0 to 24/);
  const trimmed = uniqueName('pages-trimmed');
  await createTopic(sharedBrokers(), trimmed, 1);
  conforms(await request(gateway.url).post(`/v1/topics/${trimmed}/records`).send({ records: Array.from({ length: 6 }, (_, i) => ({ value: i })) }).expect(200));
  await deleteRecordsBefore(sharedBrokers(), trimmed, 0, '4');
  const below = conforms(await request(gateway.url).get(`/v1/topics/${trimmed}/partitions/0/records?offset=1`).expect(416)).body as { logStartOffset: string; logEndOffset: string; detail: string };
  assert.deepEqual([below.logStartOffset, below.logEndOffset], ['4', '6']);
  const fromStart = conforms(await request(gateway.url).get(`/v1/topics/${trimmed}/partitions/0/records`).expect(200)).body as Page;
  assert.deepEqual(fromStart.records.map((r) => r.value), [4, 5], 'earliest is the log start, wherever retention put it');
});

test('404 for an unknown topic, 400 for a partition out of range or a bad parameter', async () => {
  conforms(await request(gateway.url).get('/v1/topics/no-such-topic-for-pages/partitions/0/records').expect(404));
  const outOfRange = conforms(await request(gateway.url).get(`/v1/topics/${topic}/partitions/2/records`).expect(400));
  assert.equal(outOfRange.body.code, 'GW_ERR_INVALID_PARTITION');
  assert.match(outOfRange.body.detail, /partitions 0 to 1/);
  for (const [query, parameter] of [
    ['limit=0', 'limit'],
    ['limit=10001', 'limit'],
    ['maxBytes=0', 'maxBytes'],
    ['offset=-1', 'offset'],
    ['offset=latest', 'offset'],
    ['offset=99999999999999999999', 'offset'],
    ['format=hex', 'format'],
  ] as const) {
    const res = conforms(await request(gateway.url).get(`/v1/topics/${topic}/partitions/0/records?${query}`).expect(400));
    assert.equal(res.body.parameter, parameter, query);
  }
  conforms(await request(gateway.url).get(`/v1/topics/${topic}/partitions/-1/records`).expect(400));
  conforms(await request(gateway.url).get(`/v1/topics/${topic}/partitions/2147483648/records`).expect(400));
});
