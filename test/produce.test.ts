/** POST /v1/topics/{topic}/records: formats, offsets, partitioning, and every kind of bad input. */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import request from 'supertest';
import { conforms } from './helpers/contract.js';
import { sharedBrokers, uniqueName } from './helpers/env.js';
import { appFor } from './helpers/scoped.js';
import type { TestGateway } from './helpers/gateway.js';
import { consumeAll, createTopic, deleteTopics } from './helpers/kafka.js';

let gw: TestGateway;
const brokers = sharedBrokers();
const topics: string[] = [];
async function topic(partitions = 1, configs: { name: string; value: string }[] = []): Promise<string> {
  const name = uniqueName('produce');
  topics.push(name);
  await createTopic(brokers, name, partitions, configs);
  return name;
}

before(async (t) => {
  gw = await appFor(t, { BODY_LIMIT: '64kb', PRODUCE_LINGER_MS: '5' });
});
after(async () => {
  await deleteTopics(brokers, topics);
});

const post = (path: string, body: unknown) => request(gw.app).post(path).set('content-type', 'application/json').send(JSON.stringify(body));

test('JSON records come back with partition, offset and timestamp in request order, and reach Kafka as sent', async () => {
  const t = await topic(1);
  const res = conforms(
    await post(`/v1/topics/${t}/records`, {
      records: [
        { key: 'user-1', value: { n: 1 }, headers: { trace: 'abc' } },
        { key: { id: 2 }, value: 'two', timestamp: 1_700_000_000_000 },
        { value: null },
      ],
    }),
  );
  assert.equal(res.status, 200, res.text);
  assert.equal(res.body.topic, t);
  assert.deepEqual(res.body.offsets.map((o: { offset: string }) => o.offset), ['0', '1', '2']);
  assert.equal(res.body.offsets[1].timestamp, 1_700_000_000_000);
  // The answer is written without res.json, with the same text and headers.
  assert.equal(res.text, JSON.stringify(res.body));
  assert.equal(res.headers['content-type'], 'application/json; charset=utf-8');
  assert.equal(res.headers['content-length'], String(Buffer.byteLength(res.text)));
  const got = await consumeAll(brokers, t);
  assert.equal(got.length, 3);
  assert.equal(got[0]!.key!.toString(), 'user-1', 'a JSON string key is stored as its bare text');
  assert.equal(got[0]!.value!.toString(), '{"n":1}');
  assert.deepEqual(got[0]!.headers, { trace: 'abc' });
  assert.equal(got[1]!.key!.toString(), '{"id":2}');
  assert.equal(got[1]!.value!.toString(), '"two"');
  assert.equal(got[1]!.timestamp, '1700000000000');
  assert.equal(got[2]!.value, null);
});

test('text and binary formats store bytes exactly', async () => {
  const t = await topic(1);
  const bytes = Buffer.from([0, 1, 2, 250, 255, 10, 13]);
  const res = conforms(
    await post(`/v1/topics/${t}/records`, {
      keyFormat: 'text',
      valueFormat: 'binary',
      records: [{ key: 'k', value: bytes.toString('base64') }],
    }),
  );
  assert.equal(res.status, 200, res.text);
  const text = conforms(await post(`/v1/topics/${t}/records?valueFormat=text`, { records: [{ value: 'plain "text"' }] }));
  assert.equal(text.status, 200, text.text);
  const got = await consumeAll(brokers, t);
  assert.deepEqual(got[0]!.value, bytes);
  assert.equal(got[0]!.key!.toString(), 'k');
  assert.equal(got[1]!.value!.toString(), 'plain "text"');
});

test('concurrent requests share batches yet each gets its own offsets', async () => {
  const t = await topic(3);
  const responses = await Promise.all(
    Array.from({ length: 30 }, (_, i) => post(`/v1/topics/${t}/records`, { records: [{ key: `k${i % 7}`, value: { i, part: 0 } }, { key: `k${i % 7}`, value: { i, part: 1 } }] })),
  );
  const claimed = new Map<string, unknown>();
  for (const res of responses) {
    conforms(res);
    assert.equal(res.status, 200, res.text);
    const [a, b] = res.body.offsets as { partition: number; offset: string }[];
    assert.equal(a!.partition, b!.partition, 'one key, one partition');
    assert.equal(BigInt(b!.offset), BigInt(a!.offset) + 1n, 'records of one request to one partition are consecutive');
  }
  const got = await consumeAll(brokers, t);
  for (const r of got) claimed.set(`${r.partition}/${r.offset}`, JSON.parse(r.value!.toString()));
  responses.forEach((res, i) => {
    (res.body.offsets as { partition: number; offset: string }[]).forEach((o, part) => {
      assert.deepEqual(claimed.get(`${o.partition}/${o.offset}`), { i, part }, `request ${i} record ${part} is where its answer says`);
    });
  });
  assert.equal(got.length, 60);
});

test('bad input gets a problem+json naming what to fix, and nothing is produced', async () => {
  const t = await topic(2);
  const cases: [string, unknown, number, RegExp][] = [
    [`/v1/topics/${t}/records`, { records: [] }, 400, /empty/],
    [`/v1/topics/${t}/records`, { records: [{ value: 1, partition: 2 }] }, 400, /partition/],
    [`/v1/topics/${t}/records`, { records: [{ value: 1, partition: 'x' }] }, 400, /partition/],
    [`/v1/topics/${t}/records`, { records: [{ value: 1, headers: { a: 1 } }] }, 400, /header/],
    [`/v1/topics/${t}/records`, { records: [{ value: 1, extra: true }] }, 400, /unknown field/],
    [`/v1/topics/${t}/records`, { records: 'nope' }, 400, /records/],
    [`/v1/topics/${t}/records`, { valueFormat: 'binary', records: [{ value: 'not base64!' }] }, 400, /base64/],
    [`/v1/topics/${t}/records`, { valueFormat: 'text', records: [{ value: 5 }] }, 400, /string/],
    [`/v1/topics/${t}/records`, { valueFormat: 'yaml', records: [{ value: 5 }] }, 400, /one of/],
    [`/v1/topics/${t}/records`, { records: [{ value: 1, timestamp: 'yesterday' }] }, 400, /timestamp/],
    [`/v1/topics/no-such-topic-${Date.now()}/records`, { records: [{ value: 1 }] }, 404, /does not exist/],
    ['/v1/topics/bad%20name/records', { records: [{ value: 1 }] }, 400, /not valid/],
    ['/v1/topics/_gateway_schemas/records', { records: [{ value: 1 }] }, 403, /internal/],
    ['/v1/topics/__consumer_offsets/records', { records: [{ value: 1 }] }, 403, /internal/],
  ];
  for (const [path, body, status, detail] of cases) {
    const res = conforms(await post(path, body));
    assert.equal(res.status, status, `${JSON.stringify(body)}: ${res.text}`);
    assert.match(String(res.headers['content-type']), /application\/problem\+json/);
    assert.match(`${res.body.detail} ${JSON.stringify(res.body.errors ?? [])}`, detail, res.text);
  }
  const typed = conforms(await post(`/v1/topics/${t}/records`, { records: [{ value: 1 }, { value: 2, partition: -1 }] }));
  assert.deepEqual(typed.body.errors[0], { index: 1, pointer: '/records/1/partition', message: typed.body.errors[0].message });

  const malformed = conforms(await request(gw.app).post(`/v1/topics/${t}/records`).set('content-type', 'application/json').send('{"records": ['));
  assert.equal(malformed.status, 400);
  const wrongType = conforms(await request(gw.app).post(`/v1/topics/${t}/records`).set('content-type', 'text/plain').send('hi'));
  assert.equal(wrongType.status, 415);
  const tooBig = conforms(await post(`/v1/topics/${t}/records`, { records: [{ value: 'x'.repeat(70 * 1024) }] }));
  assert.equal(tooBig.status, 413);
  assert.deepEqual(await consumeAll(brokers, t), []);
  // The process goes on serving.
  conforms(await post(`/v1/topics/${t}/records`, { records: [{ value: 'ok' }] }).expect(200));
});

test('a record bigger than the topic accepts is refused with 413 naming the broker limit', async () => {
  const t = await topic(1, [{ name: 'max.message.bytes', value: '2000' }]);
  const res = conforms(await post(`/v1/topics/${t}/records`, { records: [{ value: 'small' }, { value: 'y'.repeat(5000) }] }));
  assert.equal(res.status, 413, res.text);
  assert.equal(res.body.limitBytes, 2000);
  assert.match(res.body.detail, /2000/);
  assert.equal(res.body.errors[0].index, 1);
  assert.deepEqual(await consumeAll(brokers, t), []);
});

// Computed with the Java client's own partitioner code
// (org.apache.kafka.common.utils.Utils: toPositive(murmur2(utf8 bytes)) % 6, kafka-clients 4.4.0).
const JAVA_PARTITIONS_OF_6: [unknown, number][] = [
  ['user-1', 2],
  ['user-2', 2],
  ['order-42', 0],
  ['a', 4],
  ['héllo', 0],
  ['0', 2],
  ['kafka-gateway', 2],
  [{ id: 2 }, 4],
];

test('keys land on the partition the Java client would choose (murmur2)', async () => {
  const t = await topic(6);
  const res = conforms(await post(`/v1/topics/${t}/records`, { records: JAVA_PARTITIONS_OF_6.map(([key]) => ({ key, value: 1 })) }));
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.body.offsets.map((o: { partition: number }) => o.partition), JAVA_PARTITIONS_OF_6.map(([, p]) => p));
  const got = await consumeAll(brokers, t);
  for (const [key, partition] of JAVA_PARTITIONS_OF_6) {
    const stored = typeof key === 'string' ? key : JSON.stringify(key);
    assert.equal(got.find((r) => r.key?.toString() === stored)?.partition, partition, `key ${stored}`);
  }
});

test('NDJSON bodies are produced line by line', async () => {
  const t = await topic(2);
  const lines = Array.from({ length: 200 }, (_, i) => JSON.stringify({ key: `k${i}`, value: { i } })).join('\n');
  const res = conforms(await request(gw.app).post(`/v1/topics/${t}/records`).set('content-type', 'application/x-ndjson').send(`${lines}\n\n`));
  assert.equal(res.status, 200, res.text);
  assert.equal(res.body.offsets.length, 200);
  const got = await consumeAll(brokers, t);
  assert.equal(got.length, 200);
  const binary = conforms(
    await request(gw.app).post(`/v1/topics/${t}/records?valueFormat=binary`).set('content-type', 'application/x-ndjson').send(`{"value":"${Buffer.from([1, 2, 3]).toString('base64')}","partition":1}`),
  );
  assert.equal(binary.status, 200, binary.text);
  assert.equal(binary.body.offsets[0].partition, 1);

  const badLine = conforms(await request(gw.app).post(`/v1/topics/${t}/records`).set('content-type', 'application/x-ndjson').send('{"value":1}\n{"value":\n'));
  assert.equal(badLine.status, 400);
  assert.equal(badLine.body.errors[0].index, 1);
  const empty = conforms(await request(gw.app).post(`/v1/topics/${t}/records`).set('content-type', 'application/x-ndjson').send('\n'));
  assert.equal(empty.status, 400);
  const longLine = conforms(await request(gw.app).post(`/v1/topics/${t}/records`).set('content-type', 'application/x-ndjson').send(`{"value":"${'z'.repeat(70 * 1024)}"}`));
  assert.equal(longLine.status, 413);
  const missing = conforms(await request(gw.app).post(`/v1/topics/missing-${Date.now()}/records`).set('content-type', 'application/x-ndjson').send('{"value":1}'));
  assert.equal(missing.status, 404);
});

const V2 = 'application/vnd.kafka.v2+json';
const v2post = (path: string, type: string, body: unknown) => request(gw.app).post(path).set('content-type', type).send(JSON.stringify(body));

test('Confluent v2 produce answers in Confluent shape and errors', async () => {
  const t = await topic(3);
  const json = conforms(await v2post(`/topics/${t}`, 'application/vnd.kafka.json.v2+json', { records: [{ key: 'k', value: { a: 1 } }, { value: [1, 2], partition: 2 }] }));
  assert.equal(json.status, 200, json.text);
  assert.match(String(json.headers['content-type']), /application\/vnd\.kafka\.v2\+json/);
  assert.deepEqual(Object.keys(json.body.offsets[1]).sort(), ['error', 'error_code', 'offset', 'partition']);
  assert.equal(json.body.offsets[1].partition, 2);
  assert.equal(typeof json.body.offsets[1].offset, 'number');
  assert.equal(json.body.offsets[1].error_code, null);
  assert.equal(json.body.key_schema_id, null);
  assert.equal(json.body.value_schema_id, null);

  const binary = conforms(await v2post(`/topics/${t}/partitions/1`, 'application/vnd.kafka.binary.v2+json', { records: [{ key: Buffer.from('kk').toString('base64'), value: Buffer.from([9, 8, 7]).toString('base64') }] }));
  assert.equal(binary.status, 200, binary.text);
  assert.equal(binary.body.offsets[0].partition, 1);
  const got = await consumeAll(brokers, t);
  assert.ok(got.some((r) => r.key?.toString() === '"k"' && r.value?.toString() === '{"a":1}'), 'Confluent JSON-encodes string keys');
  assert.deepEqual(got.find((r) => r.partition === 1)?.value, Buffer.from([9, 8, 7]));

  const cases: [string, string, unknown, number, number][] = [
    [`/topics/missing-${Date.now()}`, 'application/vnd.kafka.json.v2+json', { records: [{ value: 1 }] }, 404, 40401],
    [`/topics/${t}/partitions/7`, 'application/vnd.kafka.json.v2+json', { records: [{ value: 1 }] }, 404, 40402],
    [`/topics/${t}`, 'application/vnd.kafka.binary.v2+json', { records: [{ value: '***' }] }, 422, 422],
    [`/topics/${t}`, 'application/vnd.kafka.json.v2+json', { records: [{ value: 1 }], bogus: 1 }, 422, 422],
    // Avro needs a value schema (docs/confluent-v2.md); a media type the gateway does not take is 415.
    [`/topics/${t}`, 'application/vnd.kafka.avro.v2+json', { records: [{ value: 1 }] }, 422, 42202],
    [`/topics/${t}`, 'application/vnd.kafka.avro.v1+json', { records: [{ value: 1 }] }, 415, 415],
  ];
  for (const [path, type, body, status, code] of cases) {
    const res = conforms(await v2post(path, type, body));
    assert.equal(res.status, status, `${path} ${type}: ${res.text}`);
    assert.equal(res.body.error_code, code, res.text);
    assert.equal(typeof res.body.message, 'string');
    assert.match(String(res.headers['content-type']), new RegExp(V2.replaceAll('.', '\\.').replace('+', '\\+')));
  }
  const malformed = conforms(await request(gw.app).post(`/topics/${t}`).set('content-type', 'application/vnd.kafka.json.v2+json').send('{"records":'));
  assert.equal(malformed.status, 400);
  assert.equal(malformed.body.error_code, 400);
});

test('NDJSON keeps characters that are split across chunks of the body, and refuses bytes that are not UTF-8', async () => {
  const t = await topic(1);
  const values = ['wörld', '日本語', '💥🚀 emoji', 'ascii'];
  const body = Buffer.from(values.map((value) => JSON.stringify({ value })).join('\n'), 'utf8');
  // Cut the body inside every multi-byte character: each piece is its own chunk on the wire.
  const cuts: number[] = [];
  for (let i = 1; i < body.length; i++) if ((body[i]! & 0xc0) === 0x80) cuts.push(i);
  assert.ok(cuts.length > 10, 'the body has multi-byte characters to cut');
  const res = await new Promise<{ status: number; text: string }>((resolve, reject) => {
    const server = gw.app.listen(0, '127.0.0.1', async () => {
      const { port } = server.address() as AddressInfo;
      const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: `/v1/topics/${t}/records`, headers: { 'content-type': 'application/x-ndjson' } }, (response) => {
        let text = '';
        response.on('data', (chunk: Buffer) => (text += chunk.toString()));
        response.on('end', () => server.close(() => resolve({ status: response.statusCode ?? 0, text })));
      });
      req.on('error', reject);
      let start = 0;
      for (const cut of [...cuts, body.length]) {
        req.write(body.subarray(start, cut));
        start = cut;
        // Long enough that the server reads each piece on its own rather than several at once.
        await new Promise((r) => setTimeout(r, 25));
      }
      req.end();
    });
  });
  assert.equal(res.status, 200, res.text);
  const got = await consumeAll(brokers, t);
  assert.deepEqual(got.map((r) => JSON.parse(r.value!.toString('utf8'))), values);

  const invalid = conforms(
    await request(gw.app).post(`/v1/topics/${t}/records`).set('content-type', 'application/x-ndjson').send(Buffer.concat([Buffer.from('{"value":"a'), Buffer.from([0xff, 0xfe]), Buffer.from('"}\n')])),
  );
  assert.equal(invalid.status, 400);
  assert.match(invalid.body.errors[0].message, /UTF-8/);
});

test('produced records and bytes are counted per topic in /metrics', async () => {
  const t = await topic(1);
  conforms(await post(`/v1/topics/${t}/records`, { records: [{ key: 'ab', value: 'xyz' }, { value: null }] }).expect(200));
  conforms(await request(gw.app).post(`/v1/topics/${t}/records`).set('content-type', 'application/x-ndjson').send('{"value":1}\n').expect(200));
  const metrics = conforms(await request(gw.app).get('/metrics').expect(200)).text;
  assert.match(metrics, new RegExp(`gateway_produced_records_total\\{topic="${t}"\\} 3`));
  // Keys and values as stored: "ab" (2) + "\"xyz\"" (5) + "1" (1).
  assert.match(metrics, new RegExp(`gateway_produced_bytes_total\\{topic="${t}"\\} 8`));
});
