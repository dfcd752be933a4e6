/**
 * Confluent REST Proxy v2 consumer instances end to end, as a v2 client
 * drives them, against gateways on real ports and the real broker: create,
 * subscribe, poll in json and binary, commit, committed offsets, seek,
 * assign, delete; two instances of one group splitting partitions; an
 * instance expiring while idle and leaving its group; the instance limit;
 * and every answer checked against openapi.yaml.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import request from 'supertest';
import { startGateway, type RunningGateway } from '../src/gateway.js';
import { conforms } from './helpers/contract.js';
import { eventually, quietLogger, sharedBrokers, testConfig, uniqueName } from './helpers/env.js';
import { gatewayFor } from './helpers/scoped.js';
import { committedOffsets, createTopic, deleteTopics, produceDirect } from './helpers/kafka.js';

const brokers = sharedBrokers();
const V2 = 'application/vnd.kafka.v2+json';
const JSON_V2 = 'application/vnd.kafka.json.v2+json';
const BINARY_V2 = 'application/vnd.kafka.binary.v2+json';
const topics: string[] = [];
let gateway: RunningGateway;

before(async (t) => {
  gateway = await gatewayFor(t, { WS_SESSION_TIMEOUT_MS: '6000', CONSUMER_REQUEST_TIMEOUT_MS: '1000' });
});
after(async () => {
  await deleteTopics(brokers, topics);
});

async function topicWith(partitions: number, topic = uniqueName('v2-consumer')): Promise<string> {
  topics.push(topic);
  await createTopic(brokers, topic, partitions);
  return topic;
}

type Agent = ReturnType<typeof request>;
const post = (agent: Agent, path: string, body?: unknown, type = V2) => {
  const req = agent.post(path).set('content-type', type);
  return body === undefined ? req : req.send(JSON.stringify(body));
};

interface V2Record {
  topic: string;
  key: unknown;
  value: unknown;
  partition: number;
  offset: number;
}

/** Polls until `count` records came back (each poll waits at most the request timeout). */
async function readAll(agent: Agent, base: string, accept: string, count: number): Promise<V2Record[]> {
  const records: V2Record[] = [];
  await eventually(async () => {
    const res = conforms(await agent.get(`${base}/records?timeout=500`).set('accept', accept));
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers['content-type'], `${accept}; charset=utf-8`);
    records.push(...(res.body as V2Record[]));
    return records.length >= count;
  }, 60_000, 0);
  return records;
}

async function createInstance(agent: Agent, group: string, body: Record<string, unknown>): Promise<string> {
  const res = conforms(await post(agent, `/consumers/${group}`, body));
  assert.equal(res.status, 200, res.text);
  // The path from /consumers on: behind ADVERTISED_URL the base_uri may carry a prefix of the balancer's.
  const { pathname } = new URL(res.body.base_uri as string);
  return pathname.slice(pathname.indexOf('/consumers/'));
}

test('a json instance subscribes, polls, commits, reads its commits back, seeks, and is deleted', async () => {
  const topic = await topicWith(1);
  const group = uniqueName('v2-json');
  const agent = request(gateway.url);
  const created = conforms(await post(agent, `/consumers/${group}`, { name: 'reader-1', format: 'json', 'auto.offset.reset': 'earliest', 'auto.commit.enable': 'false' }));
  assert.equal(created.status, 200, created.text);
  // The base_uri names this gateway: clients send every later request there.
  assert.deepEqual(created.body, { instance_id: 'reader-1', base_uri: `${gateway.url}/consumers/${group}/instances/reader-1` });
  const base = `/consumers/${group}/instances/reader-1`;

  conforms(await post(agent, `${base}/subscription`, { topics: [topic] }).expect(204));
  assert.deepEqual(conforms(await agent.get(`${base}/subscription`).expect(200)).body, { topics: [topic] });
  const produced = conforms(await post(agent, `/topics/${topic}`, { records: [{ key: 'k0', value: { n: 0 } }, { key: 'k1', value: [1] }, { value: 'two' }, { key: null, value: null }] }, JSON_V2));
  assert.equal(produced.status, 200, produced.text);

  const records = await readAll(agent, base, JSON_V2, 4);
  assert.deepEqual(records, [
    { topic, key: 'k0', value: { n: 0 }, partition: 0, offset: 0 },
    { topic, key: 'k1', value: [1], partition: 0, offset: 1 },
    { topic, key: null, value: 'two', partition: 0, offset: 2 },
    { topic, key: null, value: null, partition: 0, offset: 3 },
  ]);
  assert.deepEqual(conforms(await agent.get(`${base}/assignments`).expect(200)).body, { partitions: [{ topic, partition: 0 }] });

  // Commit one record by offset; Confluent commits offset + 1.
  const committed = conforms(await post(agent, `${base}/offsets`, { offsets: [{ topic, partition: 0, offset: 1 }] }));
  assert.equal(committed.status, 200, committed.text);
  assert.deepEqual(committed.body, []);
  assert.equal((await committedOffsets(brokers, group, topic)).get(0), '2');
  // A GET with a body, as Confluent's committed-offsets read is.
  const read = conforms(await agent.get(`${base}/offsets`).set('content-type', V2).send(JSON.stringify({ partitions: [{ topic, partition: 0 }] })).expect(200));
  assert.deepEqual(read.body, { offsets: [{ topic, partition: 0, offset: 2, metadata: '' }] });
  // Without a body: everything the reads returned.
  conforms(await post(agent, `${base}/offsets`).expect(200));
  assert.equal((await committedOffsets(brokers, group, topic)).get(0), '4');

  conforms(await post(agent, `${base}/positions`, { offsets: [{ topic, partition: 0, offset: 2 }] }).expect(204));
  assert.deepEqual((await readAll(agent, base, JSON_V2, 2)).map((r) => r.offset), [2, 3]);
  conforms(await post(agent, `${base}/positions/beginning`, { partitions: [{ topic, partition: 0 }] }).expect(204));
  assert.deepEqual((await readAll(agent, base, JSON_V2, 4)).map((r) => r.offset), [0, 1, 2, 3]);
  conforms(await post(agent, `${base}/positions/end`, { partitions: [{ topic, partition: 0 }] }).expect(204));
  conforms(await post(agent, `/topics/${topic}`, { records: [{ value: 'after the end' }] }, JSON_V2).expect(200));
  assert.deepEqual((await readAll(agent, base, JSON_V2, 1)).map((r) => r.value), ['after the end']);
  const timestamps = conforms(await post(agent, `${base}/positions`, { timestamps: [{ topic, partition: 0, timestamp: '2000-01-01T00:00:00Z' }] }));
  assert.equal(timestamps.status, 204, timestamps.text);
  assert.equal((await readAll(agent, base, JSON_V2, 5))[0]!.offset, 0);

  conforms(await agent.delete(`${base}/subscription`).expect(204));
  assert.deepEqual(conforms(await agent.get(`${base}/subscription`).expect(200)).body, { topics: [] });
  conforms(await agent.delete(base).expect(204));
  const gone = conforms(await agent.get(`${base}/subscription`).expect(404));
  assert.deepEqual(gone.body, { error_code: 40403, message: 'Consumer instance not found.' });
  await eventually(async () => (await gateway.services.metadata.group(group)).members.length === 0);
});

test('a binary instance with partitions assigned by hand reads base64 from the group\'s commits, and commits without joining', async () => {
  const topic = await topicWith(2);
  const group = uniqueName('v2-binary');
  const agent = request(gateway.url);
  await produceDirect(brokers, topic, [
    { key: Buffer.from([1, 2]), value: Buffer.from([0xff, 0x00, 0x7f]), partition: 1 },
    { key: null, value: Buffer.from('second'), partition: 1 },
  ]);
  // Without a format: binary, as in Confluent; with latest by default, but the group's commit wins.
  const base = await createInstance(agent, group, {});
  // Committing by hand only: closing an auto-committing instance commits everything it returned.
  const viaAdmin = conforms(await post(agent, `/consumers/${group}`, { format: 'binary', 'auto.offset.reset': 'earliest', 'auto.commit.enable': false }));
  const other = new URL(viaAdmin.body.base_uri as string).pathname;
  conforms(await post(agent, `${other}/assignments`, { partitions: [{ topic, partition: 1 }] }).expect(204));
  const first = await readAll(agent, other, BINARY_V2, 2);
  assert.deepEqual(first[0], { topic, key: Buffer.from([1, 2]).toString('base64'), value: Buffer.from([0xff, 0x00, 0x7f]).toString('base64'), partition: 1, offset: 0 });
  assert.deepEqual(first[1], { topic, key: null, value: Buffer.from('second').toString('base64'), partition: 1, offset: 1 });
  conforms(await post(agent, `${other}/offsets`, { offsets: [{ topic, partition: 1, offset: 0 }] }).expect(200));
  assert.equal((await committedOffsets(brokers, group, topic)).get(1), '1');
  conforms(await agent.delete(other).expect(204));

  conforms(await post(agent, `${base}/assignments`, { partitions: [{ topic, partition: 1 }] }).expect(204));
  assert.deepEqual(conforms(await agent.get(`${base}/assignments`).expect(200)).body, { partitions: [{ topic, partition: 1 }] });
  // An Accept without an embedded format takes the instance's.
  const again = await readAll(agent, base, BINARY_V2, 1);
  assert.equal(again[0]!.offset, 1, 'it starts at the group\'s commit');
  const generic = conforms(await agent.get(`${base}/records?timeout=100`).set('accept', V2).expect(200));
  assert.equal(generic.headers['content-type'], `${BINARY_V2}; charset=utf-8`);
  const mismatch = conforms(await agent.get(`${base}/records`).set('accept', JSON_V2).expect(406));
  assert.equal(mismatch.body.error_code, 40601);
  conforms(await agent.delete(base).expect(204));
});

test('two instances of one group split the partitions and read every record once', { timeout: 180_000 }, async () => {
  const topic = await topicWith(4);
  const group = uniqueName('v2-split');
  const agent = request(gateway.url);
  const a = await createInstance(agent, group, { format: 'json', 'auto.offset.reset': 'earliest' });
  const b = await createInstance(agent, group, { format: 'json', 'auto.offset.reset': 'earliest' });
  conforms(await post(agent, `${a}/subscription`, { topics: [topic] }).expect(204));
  conforms(await post(agent, `${b}/subscription`, { topics: [topic] }).expect(204));
  const held = async (base: string) => {
    conforms(await agent.get(`${base}/records?timeout=200`).set('accept', JSON_V2).expect(200));
    return (conforms(await agent.get(`${base}/assignments`).expect(200)).body.partitions as Array<{ partition: number }>).map((p) => p.partition);
  };
  await eventually(async () => {
    const [fromA, fromB] = [await held(a), await held(b)];
    return fromA.length === 2 && fromB.length === 2 && new Set([...fromA, ...fromB]).size === 4;
  }, 90_000, 100);
  const values = Array.from({ length: 20 }, (_, i) => i);
  await produceDirect(brokers, topic, values.map((i) => ({ value: JSON.stringify(i), partition: i % 4 })));
  const seen: number[] = [];
  await eventually(async () => {
    for (const base of [a, b]) {
      const res = conforms(await agent.get(`${base}/records?timeout=200`).set('accept', JSON_V2).expect(200));
      seen.push(...(res.body as V2Record[]).map((r) => r.value as number));
    }
    return seen.length >= 20;
  }, 60_000, 0);
  assert.deepEqual([...seen].sort((x, y) => x - y), values, 'every record once, across the two');
  conforms(await agent.delete(a).expect(204));
  conforms(await agent.delete(b).expect(204));
});

test('a read answers as soon as records are there, however long it may wait, and an instance holds at most CONSUMER_BUFFER_BYTES ahead of its reads', { timeout: 120_000 }, async (t) => {
  // Fetches of 64 KiB per partition (WS_MAX_BUFFERED / 4): the buffer's bound plus one delivery stays far below the topic.
  const bufferBytes = 20 * 1024;
  const deliveryBytes = 64 * 1024;
  const own = await gatewayFor(t, { CONSUMER_BUFFER_BYTES: String(bufferBytes), WS_MAX_BUFFERED: '256kb', CONSUMER_REQUEST_TIMEOUT_MS: '600000' });
  const agent = request(own.server);
  const topic = await topicWith(1);
  const total = 400;
  const value = 'v'.repeat(1000);
  await produceDirect(brokers, topic, Array.from({ length: total }, (_, i) => ({ key: String(i), value })));
  const metric = async (name: string) => {
    const text = (await agent.get('/metrics').expect(200)).text;
    return Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);
  };
  const group = uniqueName('v2-prefetch');
  const base = await createInstance(agent, group, { name: 'ahead', format: 'binary', 'auto.offset.reset': 'earliest', 'auto.commit.enable': 'false', 'consumer.request.timeout.ms': 600_000 });
  conforms(await post(agent, `${base}/subscription`, { topics: [topic] }).expect(204));
  assert.equal(await metric('gateway_consumer_instances'), 1);
  // Before any read the instance fetches ahead, up to its bound and one delivery more, and no further.
  const ahead = await eventually(async () => {
    const bytes = await metric('gateway_consumer_instance_buffered_bytes');
    return bytes >= bufferBytes && bytes;
  });
  assert.ok(ahead < bufferBytes + deliveryBytes, `${ahead} bytes buffered`);
  for (let i = 0; i < 5; i++) {
    const bytes = await metric('gateway_consumer_instance_buffered_bytes');
    assert.ok(bytes < bufferBytes + deliveryBytes, `${bytes} bytes buffered`);
  }
  // Each read may wait ten minutes: it answers with what is there instead, and the next batch is fetched meanwhile.
  const offsets: number[] = [];
  let reads = 0;
  while (offsets.length < total) {
    const res = conforms(await agent.get(`${base}/records?timeout=600000`).set('accept', BINARY_V2).expect(200));
    const records = res.body as V2Record[];
    assert.ok(records.length > 0, 'a read with records waiting answers with them');
    offsets.push(...records.map((r) => r.offset));
    assert.ok((await metric('gateway_consumer_instance_buffered_bytes')) < bufferBytes + deliveryBytes);
    reads += 1;
  }
  assert.deepEqual(offsets, Array.from({ length: total }, (_, i) => i), 'every record once, in order');
  assert.ok(reads > 1, `${reads} reads: the bound held the instance to part of the topic at a time`);
  // Deleted, it holds nothing.
  conforms(await agent.delete(base).expect(204));
  assert.equal(await metric('gateway_consumer_instances'), 0);
  assert.equal(await metric('gateway_consumer_instance_buffered_bytes'), 0);
});

test('all instances of a process together hold at most CONSUMER_BUFFER_TOTAL_BYTES ahead of their reads, and each still reads everything', { timeout: 120_000 }, async (t) => {
  const totalBytes = 20 * 1024;
  const deliveryBytes = 64 * 1024;
  const own = await gatewayFor(t, { CONSUMER_BUFFER_BYTES: '1mb', CONSUMER_BUFFER_TOTAL_BYTES: String(totalBytes), WS_MAX_BUFFERED: '256kb', CONSUMER_REQUEST_TIMEOUT_MS: '600000' });
  const agent = request(own.server);
  const topic = await topicWith(1);
  const total = 300;
  await produceDirect(brokers, topic, Array.from({ length: total }, (_, i) => ({ key: String(i), value: 'w'.repeat(1000) })));
  const buffered = async () => Number(/^gateway_consumer_instance_buffered_bytes (\S+)$/m.exec((await agent.get('/metrics').expect(200)).text)?.[1]);
  const bases = await Promise.all(
    ['one', 'two', 'three'].map(async (name) => {
      const base = await createInstance(agent, uniqueName('v2-total'), { name, format: 'binary', 'auto.offset.reset': 'earliest', 'auto.commit.enable': 'false', 'consumer.request.timeout.ms': 600_000 });
      conforms(await post(agent, `${base}/subscription`, { topics: [topic] }).expect(204));
      return base;
    }),
  );
  // Each instance of its own group fetches ahead; together they stop near the process's bound, far below their own (1 MiB each).
  await eventually(async () => (await buffered()) >= totalBytes);
  const bound = totalBytes + bases.length * deliveryBytes;
  for (let i = 0; i < 5; i++) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    const now = await buffered();
    assert.ok(now < bound, `${now} bytes buffered by all instances (bound ${totalBytes} plus one delivery each)`);
  }
  for (const base of bases) {
    const offsets: number[] = [];
    while (offsets.length < total) {
      const records = conforms(await agent.get(`${base}/records?timeout=600000`).set('accept', BINARY_V2).expect(200)).body as V2Record[];
      assert.ok(records.length > 0, 'an instance past the process bound still fetches when a read waits for it');
      offsets.push(...records.map((r) => r.offset));
      assert.ok((await buffered()) < bound);
    }
    assert.deepEqual(offsets, Array.from({ length: total }, (_, i) => i), 'every record once, in order');
  }
  await Promise.all(bases.map((base) => agent.delete(base).expect(204)));
  assert.equal(await buffered(), 0);
});

test('an idle instance expires and leaves its group; the instance limit answers 429', { timeout: 120_000 }, async () => {
  const topic = await topicWith(1);
  const group = uniqueName('v2-idle');
  const short = await startGateway(
    testConfig({ CONSUMER_INSTANCE_TIMEOUT_MS: '5000', CONSUMER_MAX_INSTANCES: '2', WS_SESSION_TIMEOUT_MS: '6000', ADVERTISED_URL: 'http://gateway.example.com/gw-2' }),
    quietLogger(),
  );
  try {
    const agent = request(short.url);
    const created = conforms(await post(agent, `/consumers/${group}`, { format: 'json' }));
    // base_uri names the process as ADVERTISED_URL says, not the host the request came to: sticky routing by base_uri.
    assert.match(created.body.base_uri as string, new RegExp(`^http://gateway\\.example\\.com/gw-2/consumers/${group}/instances/rest-consumer-[0-9a-f-]{36}$`));
    const base = new URL(created.body.base_uri as string).pathname.replace(/^\/gw-2/, '');
    conforms(await post(agent, `${base}/subscription`, { topics: [topic] }).expect(204));
    await eventually(async () => {
      conforms(await agent.get(`${base}/records?timeout=100`).set('accept', JSON_V2).expect(200));
      return (await short.services.metadata.group(group)).members.length === 1;
    });
    await createInstance(agent, uniqueName('v2-idle-other'), {});
    // Within the instance timeout of the last read (5 s, room for a loaded machine): both instances still count.
    const full = conforms(await post(agent, `/consumers/${uniqueName('v2-full')}`, {}));
    assert.equal(full.status, 429, full.text);
    assert.equal(full.body.error_code, 42901);
    // Nobody asks for it any more: it expires, leaves the group, and makes room.
    await eventually(async () => (await short.services.metadata.group(group)).members.length === 0, 30_000);
    assert.equal(conforms(await agent.get(`${base}/subscription`)).body.error_code, 40403);
    conforms(await post(agent, `/consumers/${uniqueName('v2-room')}`, {}).expect(200));
    // Another gateway process holds none of this one's instances.
    const elsewhere = conforms(await request(gateway.url).get(`${base}/assignments`).expect(404));
    assert.equal(elsewhere.body.error_code, 40403);
  } finally {
    await short.stop();
  }
});

test('consumer instance errors use Confluent\'s codes', async () => {
  const topic = await topicWith(1);
  const group = uniqueName('v2-errors');
  const agent = request(gateway.url);
  const code = async (res: request.Response | PromiseLike<request.Response>, status: number, errorCode: number) => {
    const answer = conforms(await res);
    assert.equal(answer.status, status, answer.text);
    assert.equal(answer.headers['content-type'], `${V2}; charset=utf-8`);
    assert.equal(answer.body.error_code, errorCode, answer.text);
    assert.equal(typeof answer.body.message, 'string');
    return answer.body as { error_code: number; message: string };
  };
  await code(post(agent, `/consumers/${group}`, { 'auto.offset.reset': 'sometimes' }), 422, 42204);
  await code(post(agent, `/consumers/${group}`, { 'fetch.min.bytes': 'many' }), 422, 42204);
  await code(post(agent, `/consumers/${group}`, { format: 'xml' }), 422, 422);
  await code(post(agent, `/consumers/${group}`, { bogus: 1 }), 422, 422);
  // From the earliest: the record below may be written before the instance has joined its group.
  const base = await createInstance(agent, group, { name: 'once', format: 'json', 'auto.offset.reset': 'earliest', 'fetch.min.bytes': '1', 'consumer.request.timeout.ms': 200 });
  await code(post(agent, `/consumers/${group}`, { name: 'once' }), 409, 40902);
  // Reading before subscribing, and seeking a partition it does not hold, are Confluent's illegal states.
  assert.match((await code(agent.get(`${base}/records`).set('accept', JSON_V2), 409, 40903)).message, /not subscribed/);
  conforms(await post(agent, `${base}/subscription`, { topics: [topic] }).expect(204));
  await code(post(agent, `${base}/assignments`, { partitions: [{ topic, partition: 0 }] }), 409, 40903);
  await code(post(agent, `${base}/subscription`, { topics: [topic], topic_pattern: 'x.*' }), 422, 422);
  await code(post(agent, `${base}/positions`, { offsets: [{ topic, partition: 5, offset: 0 }] }), 409, 40903);
  // Commits: only partitions it holds and records a read returned, each problem said once.
  assert.equal((await code(post(agent, `${base}/offsets`, { offsets: [{ topic, partition: 5, offset: 0 }] }), 409, 40903)).message, `Illegal state: No current assignment for partition ${topic}-5.`);
  assert.equal((await code(post(agent, `${base}/offsets`, { offsets: [{ topic: `${topic}-other`, partition: 0, offset: 0 }] }), 409, 40903)).message, `Illegal state: No current assignment for partition ${topic}-other-0.`);
  await eventually(async () => (conforms(await agent.get(`${base}/assignments`).expect(200)).body.partitions as unknown[]).length === 1);
  const unread = (await code(post(agent, `${base}/offsets`, { offsets: [{ topic, partition: 0, offset: 7 }] }), 422, 422)).message;
  assert.equal(unread.split('not delivered').length, 2, `said once: ${unread}`);
  await code(agent.get(`/consumers/${group}/instances/nobody/records`).set('accept', JSON_V2), 404, 40403);
  await code(agent.delete(`/consumers/${group}/instances/nobody`), 404, 40403);
  await code(agent.get(`${base}/records`).set('accept', 'text/html'), 406, 40601);
  // A record that is not JSON, read by a json instance: a 500 naming it, not a dropped record.
  await produceDirect(brokers, topic, [{ value: 'not json' }]);
  await eventually(async () => {
    const res = conforms(await agent.get(`${base}/records?timeout=200`).set('accept', JSON_V2));
    return res.status === 500 && res.body.error_code === 50002 && /offset 0 is not JSON/.test(res.body.message as string);
  });
  conforms(await post(agent, `${base}/positions/end`, { partitions: [{ topic, partition: 0 }] }).expect(204));
  conforms(await agent.get(`${base}/records?timeout=100`).set('accept', JSON_V2).expect(200));
  // A topic_pattern resolves against the topics there are, in linear time: (a+)+b would backtrack for ever on this name.
  conforms(await agent.delete(`${base}/subscription`).expect(204));
  await topicWith(1, `${'a'.repeat(48)}-${uniqueName('v2')}`);
  conforms(await post(agent, `${base}/subscription`, { topic_pattern: '(a+)+b' }).expect(204));
  assert.deepEqual(conforms(await agent.get(`${base}/subscription`).expect(200)).body, { topics: [] });
  await code(post(agent, `${base}/subscription`, { topic_pattern: '(?=v2).*' }), 422, 422);
  conforms(await post(agent, `${base}/subscription`, { topic_pattern: `${topic.slice(0, -2)}.*` }).expect(204));
  assert.ok((conforms(await agent.get(`${base}/subscription`).expect(200)).body.topics as string[]).includes(topic));
  conforms(await agent.delete(base).expect(204));
  // max_bytes: one record at least, then as many as fit.
  const sized = await topicWith(1);
  const small = await createInstance(agent, uniqueName('v2-small'), { format: 'binary', 'auto.offset.reset': 'earliest' });
  await produceDirect(brokers, sized, [{ value: 'x'.repeat(100) }, { value: 'y'.repeat(100) }]);
  conforms(await post(agent, `${small}/assignments`, { partitions: [{ topic: sized, partition: 0 }] }).expect(204));
  const bounded = await eventually(async () => {
    const res = conforms(await agent.get(`${small}/records?max_bytes=150`).set('accept', BINARY_V2).expect(200));
    return (res.body as V2Record[]).length > 0 ? res : undefined;
  });
  assert.equal((bounded.body as V2Record[]).length, 1, 'the second record would pass max_bytes');
  conforms(await agent.delete(small).expect(204));
  // A record that is not JSON behind good ones: the read answers the good ones (auto commit commits them), the next names it.
  const mixed = await topicWith(1);
  const json = await createInstance(agent, uniqueName('v2-mixed'), { format: 'json', 'auto.offset.reset': 'earliest' });
  await produceDirect(brokers, mixed, [{ value: '{"n":1}' }, { value: '{"n":2}' }, { value: 'not json' }]);
  conforms(await post(agent, `${json}/assignments`, { partitions: [{ topic: mixed, partition: 0 }] }).expect(204));
  const good = await eventually(async () => {
    const res = conforms(await agent.get(`${json}/records?timeout=500`).set('accept', JSON_V2));
    return res.status === 200 && (res.body as V2Record[]).length === 2 ? res : undefined;
  });
  assert.deepEqual((good.body as V2Record[]).map((r) => r.value), [{ n: 1 }, { n: 2 }]);
  const bad = conforms(await agent.get(`${json}/records?timeout=200`).set('accept', JSON_V2));
  assert.equal(bad.status, 500);
  assert.match(String(bad.body.message), /offset 2 is not JSON/);
  conforms(await agent.delete(json).expect(204));
});
