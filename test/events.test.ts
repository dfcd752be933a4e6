/**
 * GET /v1/topics/{topic}/events against the real broker: records as
 * Server-Sent Events with resume tokens as ids; Last-Event-ID (or
 * lastEventId) resumes exactly after the last event a client saw, also on
 * another gateway instance; key filters; keep-alive comments; the refusals
 * a hostile or unlucky client causes.
 */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { before, test } from 'node:test';
import type { RunningGateway } from '../src/gateway.js';
import { decodeResumeToken, encodeResumeToken } from '../src/sse/index.js';
import { conforms } from './helpers/contract.js';
import { sharedBrokers, uniqueName } from './helpers/env.js';
import { gatewayFor } from './helpers/scoped.js';
import { createTopic } from './helpers/kafka.js';
import { parseEventStream, SseClient } from './helpers/sse.js';
import request from 'supertest';

let one: RunningGateway;
let two: RunningGateway;

before(async (t) => {
  // The second instance shares nothing with the first but the broker, as two processes behind a load balancer.
  [one, two] = await Promise.all([
    gatewayFor(t, { SSE_KEEPALIVE_MS: '200' }),
    gatewayFor(t, { SSE_KEEPALIVE_MS: '200' }),
  ]);
});

interface Produced {
  partition: number;
  offset: string;
}

async function produce(topic: string, records: ReadonlyArray<Record<string, unknown>>, gateway = one): Promise<Produced[]> {
  const res = await fetch(`${gateway.url}/v1/topics/${topic}/records`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ records }) });
  assert.equal(res.status, 200, await res.clone().text());
  return ((await res.json()) as { offsets: Produced[] }).offsets;
}

async function newTopic(prefix: string, partitions: number): Promise<string> {
  const topic = uniqueName(prefix);
  await createTopic(sharedBrokers(), topic, partitions);
  return topic;
}

const eventsUrl = (gateway: RunningGateway, topic: string, query = '') => `${gateway.url}/v1/topics/${topic}/events${query ? `?${query}` : ''}`;
const positionsOf = (records: ReadonlyArray<Record<string, unknown>>) => records.map((r) => `${String(r.partition)}/${String(r.offset)}`);

test('every record is one event: a resume token as id, event record, the record frame as data; retry once', async () => {
  const topic = await newTopic('events', 2);
  const produced = await produce(topic, [
    { key: 'a', value: { n: 1 }, partition: 0 },
    { key: 'b', value: 'text', partition: 1 },
  ]);
  const client = await SseClient.open(eventsUrl(one, topic, 'from=earliest'));
  assert.equal(client.status, 200);
  assert.match(String(client.headers['content-type']), /^text\/event-stream/);
  assert.equal(client.headers['cache-control'], 'no-cache, no-transform');
  await client.waitRecords(2);
  const [retry, ...events] = client.events;
  assert.deepEqual(retry, { retry: 2000 });
  assert.equal(client.events.filter((e) => e.retry !== undefined).length, 1, 'retry is sent once');
  for (const event of events) {
    assert.equal(event.event, 'record');
    assert.match(event.id ?? '', /^[A-Za-z0-9_-]{6,}$/);
  }
  const byPartition = Object.fromEntries(client.records.map((r) => [r.partition, r]));
  assert.deepEqual(byPartition[0], {
    topic,
    partition: 0,
    offset: produced[0]!.offset,
    timestamp: byPartition[0]!.timestamp,
    key: 'a',
    keyEncoding: 'text',
    value: { n: 1 },
    valueEncoding: 'json',
    headers: {},
  });
  assert.equal(byPartition[1]!.value, 'text');
  // format=base64: what is not JSON (here the key, stored as its bare text) comes as the bytes' base64, as on WebSocket.
  const base64 = await SseClient.open(eventsUrl(one, topic, 'from=earliest&format=base64'));
  await base64.waitRecords(2);
  const inBase64 = base64.records.find((r) => r.partition === 1)!;
  assert.deepEqual([inBase64.key, inBase64.keyEncoding, inBase64.value], [Buffer.from('b').toString('base64'), 'base64', 'text']);
  base64.drop();
  // Live: a record produced now arrives on the open stream.
  await produce(topic, [{ key: 'c', value: 3, partition: 0 }]);
  await client.waitRecords(3);
  client.drop();
  client.conforms();
});

test('resume after a dropped connection, on another gateway instance: no gap, no duplicate', async () => {
  const topic = await newTopic('events-resume', 3);
  const first = await produce(topic, Array.from({ length: 30 }, (_, i) => ({ key: `k${i}`, value: i, partition: i % 3 })));
  const client = await SseClient.open(eventsUrl(one, topic, 'from=earliest'));
  await client.waitRecords(12);
  // The connection breaks after the 12th event the client saw (more may be in flight and are lost).
  const seen = client.records.slice(0, 12);
  const lastId = client.events.filter((e) => e.event === 'record')[11]!.id!;
  client.drop();
  const later = await produce(topic, Array.from({ length: 15 }, (_, i) => ({ key: `m${i}`, value: 100 + i, partition: i % 3 })));
  const resumed = await SseClient.open(eventsUrl(two, topic, 'from=latest'), { headers: { 'last-event-id': lastId } });
  assert.equal(resumed.status, 200);
  const total = first.length + later.length;
  await resumed.waitRecords(total - 12);
  // Nothing more comes: a few keep-alives pass with no further record.
  await resumed.until((c) => c.comments.length >= 3);
  const all = [...seen, ...resumed.records];
  assert.equal(all.length, total, 'every record exactly once');
  assert.deepEqual(new Set(positionsOf(all)), new Set([...first, ...later].map((p) => `${p.partition}/${p.offset}`)));
  // Per partition, in offset order across the two connections.
  for (const partition of [0, 1, 2]) {
    const offsets = all.filter((r) => r.partition === partition).map((r) => Number(r.offset));
    assert.deepEqual(offsets, [...offsets].sort((a, b) => a - b));
  }
  resumed.drop();
  resumed.conforms();

  // The query parameter does the same for clients that cannot set headers; the header wins over it.
  const viaQuery = await SseClient.open(eventsUrl(one, topic, `lastEventId=${lastId}`));
  await viaQuery.waitRecords(total - 12);
  await viaQuery.until((c) => c.comments.length >= 2);
  assert.deepEqual(new Set(positionsOf(viaQuery.records)), new Set(positionsOf(resumed.records)));
  assert.equal(viaQuery.records.length, total - 12);
  viaQuery.drop();
  const lastOfAll = resumed.lastEventId!;
  const both = await SseClient.open(eventsUrl(two, topic, `lastEventId=${lastId}`), { headers: { 'last-event-id': lastOfAll } });
  await both.until((c) => c.comments.length >= 2);
  assert.equal(both.records.length, 0, 'the header (the newer id) wins');
  both.drop();
});

test('a connection cut part way through one write of many events resumes after the last whole event: nothing twice, nothing missing', async () => {
  const topic = await newTopic('events-cut', 3);
  // Already in the log when the stream starts: each partition's records are handed over together and leave in one write.
  const produced = await produce(topic, Array.from({ length: 300 }, (_, i) => ({ key: `k${i}`, value: { i, pad: 'x'.repeat(50) }, partition: i % 3 })));
  const whole = await SseClient.open(eventsUrl(one, topic, 'from=earliest'));
  await whole.waitRecords(produced.length);
  whole.drop();
  // Cuts inside an id line, inside a data line and between events, at about a third and two thirds of the bytes.
  const length = Buffer.byteLength(whole.text);
  for (const cut of [Math.floor(length / 3), Math.floor(length / 3) + 7, Math.floor((2 * length) / 3) + 31]) {
    const received = await new Promise<string>((resolve, reject) => {
      const req = httpRequest(eventsUrl(one, topic, 'from=earliest'), { headers: { accept: 'text/event-stream' } });
      req.once('error', reject);
      req.once('response', (res) => {
        const chunks: Buffer[] = [];
        let bytes = 0;
        res.on('data', (chunk: Buffer) => {
          chunks.push(chunk);
          bytes += chunk.length;
          if (bytes < cut) return;
          // The network breaks here: the bytes after the cut never arrive.
          req.destroy();
          resolve(Buffer.concat(chunks).subarray(0, cut).toString('utf8'));
        });
        res.on('error', () => undefined);
      });
      req.end();
    });
    // As an EventSource does: an event counts once its blank line arrived; its id is the one a reconnect sends.
    const { events } = parseEventStream(received);
    const seen = events.filter((e) => e.event === 'record');
    assert.ok(seen.length > 0 && seen.length < produced.length, `the cut at byte ${cut} falls inside the replay`);
    const lastId = seen.at(-1)!.id!;
    const resumed = await SseClient.open(eventsUrl(two, topic, 'from=latest'), { headers: { 'last-event-id': lastId } });
    await resumed.waitRecords(produced.length - seen.length);
    // Nothing more comes: keep-alives pass with no further record.
    await resumed.until((c) => c.comments.length >= 2);
    resumed.drop();
    const all = [...seen.map((e) => JSON.parse(e.data!) as Record<string, unknown>), ...resumed.records];
    assert.equal(all.length, produced.length, `cut at byte ${cut}: every record exactly once`);
    assert.deepEqual(new Set(positionsOf(all)), new Set(produced.map((p) => `${p.partition}/${p.offset}`)));
  }
});

test('a token names every partition: a key filter moves the partitions it skips, and partitions added since start from their beginning', async () => {
  const topic = await newTopic('events-filtered-resume', 2);
  await produce(topic, [
    { key: 'x', value: 1, partition: 0 },
    { key: 'y', value: 2, partition: 1 },
    { key: 'y', value: 3, partition: 1 },
  ]);
  const client = await SseClient.open(eventsUrl(one, topic, 'from=earliest&key=x'));
  await client.waitRecords(1);
  await client.until((c) => c.comments.length >= 2);
  await produce(topic, [{ key: 'x', value: 4, partition: 0 }]);
  await client.waitRecords(2);
  // Partition 1 holds nothing for this filter, yet the token has moved past what it holds: a resume does not read it again.
  assert.deepEqual(decodeResumeToken(topic, client.lastEventId!), new Map([[0, 2n], [1, 2n]]));
  client.drop();
  conforms(await request(one.url).post(`/v1/topics/${topic}/partitions`).send({ partitions: 3 }).expect(200));
  // Through the other instance, whose producer has not seen the topic before (the first one's does not learn of the new partition).
  await produce(
    topic,
    [
      { key: 'x', value: 5, partition: 2 },
      { key: 'y', value: 6, partition: 1 },
      { key: 'x', value: 7, partition: 1 },
    ],
    two,
  );
  const resumed = await SseClient.open(eventsUrl(two, topic, 'key=x'), { headers: { 'last-event-id': client.lastEventId! } });
  await resumed.waitRecords(2);
  await resumed.until((c) => c.comments.length >= 3);
  assert.deepEqual(resumed.records.map((r) => r.value).sort(), [5, 7]);
  resumed.drop();
});

test('a bad resume token is a 400 naming where it came from; a token of another topic too', async () => {
  const topic = await newTopic('events-bad-token', 2);
  const other = await newTopic('events-other', 2);
  const otherToken = encodeResumeToken(other, new Map([[0, 0n], [1, 0n]]));
  const good = encodeResumeToken(topic, new Map([[0, 0n], [1, 0n]]));
  const damaged = `${good.slice(0, -2)}${good.endsWith('AA') ? 'BB' : 'AA'}`;
  const cases: Array<[string, Record<string, string>, string, RegExp]> = [
    ['not base64url', { 'last-event-id': 'not a token!' }, '/header/Last-Event-ID', /not base64url/],
    ['another topic', { 'last-event-id': otherToken }, '/header/Last-Event-ID', /not made for topic/],
    ['damaged', { 'last-event-id': damaged }, '/header/Last-Event-ID', /damaged/],
    ['too short', { 'last-event-id': 'AAAA' }, '/header/Last-Event-ID', /too short/],
    ['long', { 'last-event-id': 'A'.repeat(12_001) }, '/header/Last-Event-ID', /longer than/],
  ];
  for (const [name, headers, pointer, detail] of cases) {
    const res = conforms(await request(one.url).get(`/v1/topics/${topic}/events`).set(headers).expect(400));
    assert.equal(res.body.code, 'GW_ERR_VALIDATION', name);
    assert.equal(res.body.errors[0].pointer, pointer, name);
    assert.match(res.body.detail, detail, name);
  }
  // Past what a request's headers may hold at all: Node's parser refuses it, as problem+json.
  const huge = await fetch(`${one.url}/v1/topics/${topic}/events`, { headers: { accept: 'text/event-stream', 'last-event-id': 'A'.repeat(20_000) } });
  assert.equal(huge.status, 431);
  const viaQuery = conforms(await request(one.url).get(`/v1/topics/${topic}/events`).query({ lastEventId: otherToken }).expect(400));
  assert.equal(viaQuery.body.errors[0].pointer, '/query/lastEventId');
  // Offsets the log does not hold (a token from before retention, or made up) are refused too.
  const beyond = encodeResumeToken(topic, new Map([[0, 99n]]));
  const outside = conforms(await request(one.url).get(`/v1/topics/${topic}/events`).set('last-event-id', beyond).expect(400));
  assert.match(outside.body.detail, /outside/);
  assert.equal(outside.body.errors[0].pointer, '/header/Last-Event-ID');
  // A partition the topic does not have (a token from a deleted and recreated topic, or made up); also with a group.
  const noSuchPartition = encodeResumeToken(topic, new Map([[0, 0n], [1, 0n], [7, 0n]]));
  for (const query of [{}, { group: uniqueName('events-bad-token') }]) {
    const missing = conforms(await request(one.url).get(`/v1/topics/${topic}/events`).query(query).set('last-event-id', noSuchPartition).timeout(30_000).expect(400));
    assert.match(missing.body.detail, /Partition 7 .* does not exist/);
    assert.equal(missing.body.errors[0].pointer, '/header/Last-Event-ID');
  }
  assert.equal(one.services.events.stats().streams, 0, 'nothing was left open');
});

test('a client that does not accept text/event-stream gets 406; HEAD gets the headers; other refusals are problems', async () => {
  const topic = await newTopic('events-refusals', 1);
  const refused = conforms(await request(one.url).get(`/v1/topics/${topic}/events`).set('accept', 'application/json').expect(406));
  assert.equal(refused.body.code, 'GW_ERR_NOT_ACCEPTABLE');
  const head = await request(one.url).head(`/v1/topics/${topic}/events`).expect(200);
  assert.match(String(head.headers['content-type']), /^text\/event-stream/);
  conforms(await request(one.url).get('/v1/topics/no-such-topic-here/events').expect(404));
  const badFrom = conforms(await request(one.url).get(`/v1/topics/${topic}/events`).query({ from: 'yesterday' }).expect(400));
  assert.equal(badFrom.body.errors[0].pointer, '/query/from');
  const badKey = conforms(await request(one.url).get(`/v1/topics/${topic}/events`).query({ key: '%%', keyFormat: 'base64' }).expect(400));
  assert.equal(badKey.body.errors[0].pointer, '/query/key/0');
});

test('1,001 keys are a 400; 10,000 key parameters are refused before any handler', async () => {
  const topic = await newTopic('events-many-keys', 1);
  const many = Array.from({ length: 1001 }, (_, i) => `key=${i}`).join('&');
  const tooMany = conforms(await request(one.url).get(`/v1/topics/${topic}/events?${many}&from=earliest`).expect(400));
  assert.match(JSON.stringify(tooMany.body.errors), /\/query\/key/);
  // 10,000 parameters do not fit in the request line Node accepts: 431 from the parser, the process unharmed.
  const huge = Array.from({ length: 10_000 }, (_, i) => `key=${i}`).join('&');
  const res = await fetch(`${one.url}/v1/topics/${topic}/events?${huge}`, { headers: { accept: 'text/event-stream' } });
  assert.equal(res.status, 431);
  assert.equal(res.headers.get('content-type'), 'application/problem+json');
  // Exactly 1,000 are fine, and the parameters after them are not lost.
  const thousand = Array.from({ length: 1000 }, (_, i) => `key=k${i}`).join('&');
  await produce(topic, [{ key: 'k999', value: 1 }, { key: 'zzz', value: 2 }]);
  const client = await SseClient.open(eventsUrl(one, topic, `${thousand}&from=earliest`));
  await client.waitRecords(1);
  await client.until((c) => c.comments.length >= 2);
  assert.deepEqual(client.records.map((r) => r.key), ['k999']);
  client.drop();
});

test('a filter that matches nothing sends only keep-alive comments', async () => {
  const topic = await newTopic('events-nothing', 2);
  const client = await SseClient.open(eventsUrl(one, topic, 'from=earliest&key=nobody'));
  await produce(topic, Array.from({ length: 20 }, (_, i) => ({ key: `k${i % 4}`, value: i, partition: i % 2 })));
  const probe = await SseClient.open(eventsUrl(one, topic, 'from=earliest'));
  await probe.waitRecords(20);
  await client.until((c) => c.comments.length >= 4);
  assert.deepEqual(client.events, [{ retry: 2000 }], 'no event but the retry');
  assert.ok(client.comments.every((c) => c === 'keepalive'));
  assert.ok(/^retry: 2000\n\n(: keepalive\n\n)+$/.test(client.text), client.text);
  client.drop();
  probe.drop();
});

test('150 clients with distinct key filters on one topic each receive exactly their records', async () => {
  const count = 150;
  const topic = await newTopic('events-fanout', 3);
  const clients: SseClient[] = [];
  // In waves, as a crowd of browsers arrives; the benchmark (bench/sse.ts) takes 1,000.
  for (let start = 0; start < count; start += 50) {
    clients.push(...(await Promise.all(Array.from({ length: 50 }, (_, i) => SseClient.open(eventsUrl(one, topic, `key=user-${start + i}`))))));
  }
  assert.deepEqual(new Set(clients.map((c) => c.status)), new Set([200]));
  // Each client's records, with keys that other clients must not see (user-1 is not user-10 or user-100).
  const records = Array.from({ length: 4 * count }, (_, i) => ({ key: `user-${i % count}`, value: { i } }));
  for (let start = 0; start < records.length; start += 200) await produce(topic, records.slice(start, start + 200));
  await Promise.all(clients.map((c) => c.waitRecords(4)));
  // A record sent twice or to the wrong client would have come before the next keep-alives.
  await Promise.all(clients.map((c) => c.until((x) => x.comments.length >= 2)));
  for (const [i, client] of clients.entries()) {
    assert.equal(client.records.length, 4, `client ${i}`);
    assert.ok(client.records.every((r) => r.key === `user-${i}`), `client ${i} got only its key`);
    assert.deepEqual(client.records.map((r) => (r.value as { i: number }).i).sort((a, b) => a - b), Array.from({ length: 4 }, (_, n) => i + count * n));
    client.drop();
  }
});
