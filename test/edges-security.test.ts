/**
 * Security and data at the edges, as an attacker tries them on a real
 * gateway with a real broker: topic creation authorized by the topic's
 * name, text that is not text refused wherever a record enters (never
 * stored as U+FFFD), and caps per client address and per principal on
 * WebSocket connections and event streams.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import request from 'supertest';
import type { RunningGateway } from '../src/gateway.js';
import { conforms } from './helpers/contract.js';
import { eventually, uniqueName } from './helpers/env.js';
import { gatewayFor } from './helpers/scoped.js';
import { SseClient } from './helpers/sse.js';
import { WsClient, isOp } from './helpers/ws.js';

const a = uniqueName('a');
const b = uniqueName('b');
const KEYS = { alice: `alice-${a}`, bob: `bob-${b}`, root: `root-${a}` } as const;
type Who = keyof typeof KEYS;

/** alice owns `a-…*`, bob owns `b-…*`, each with every permission there; root administers everything. */
function aclFiles(): Record<string, string> {
  const dir = mkdtempSync(join(tmpdir(), 'gateway-edges-'));
  writeFileSync(join(dir, 'keys.json'), JSON.stringify(Object.entries(KEYS).map(([name, key]) => ({ name, sha256: createHash('sha256').update(key).digest('hex') }))));
  const all = ['admin', 'describe', 'produce', 'consume'];
  writeFileSync(
    join(dir, 'acl.json'),
    JSON.stringify({
      rules: [
        { principals: ['alice'], topics: [`${a}*`], operations: all },
        { principals: ['bob'], topics: [`${b}*`], operations: all },
        { principals: ['root'], topics: ['*'], operations: all },
      ],
    }),
  );
  return { AUTH_MODE: 'api-key', AUTH_API_KEYS_FILE: join(dir, 'keys.json'), AUTH_ACL_FILE: join(dir, 'acl.json') };
}

let gw: RunningGateway;
const topicA = `${a}-records`;

before(async (t) => {
  gw = await gatewayFor(t, {
    ...aclFiles(),
    WS_MAX_CONNECTIONS_PER_ADDRESS: '3',
    WS_MAX_CONNECTIONS_PER_PRINCIPAL: '2',
    SSE_MAX_STREAMS_PER_ADDRESS: '3',
    SSE_MAX_STREAMS_PER_PRINCIPAL: '2',
  });
  conforms(await request(gw.server).post('/v1/topics').set('X-API-Key', KEYS.alice).send({ name: topicA, partitions: 1 }).expect(201));
});

const as = (who: Who) => ({ 'X-API-Key': KEYS[who] });

test('topic creation is authorized on the name: admin on b-* creates nothing outside b-*', async () => {
  const planted = `${a}-planted`;
  const refused = conforms(await request(gw.server).post('/v1/topics').set(as('bob')).send({ name: planted, partitions: 1, configs: { 'retention.ms': '1000' } }).expect(403));
  assert.equal(refused.body.code, 'GW_ERR_FORBIDDEN');
  assert.match(refused.body.detail, /admin/);
  conforms(await request(gw.server).post('/v1/topics').set(as('bob')).send({ name: uniqueName('elsewhere'), partitions: 1 }).expect(403));
  conforms(await request(gw.server).get(`/v1/topics/${planted}`).set(as('root')).expect(404));
  conforms(await request(gw.server).post('/v1/topics').set(as('bob')).send({ name: `${b}-own`, partitions: 1 }).expect(201));
});

/** Posts raw bytes, as a client that does not encode text would. */
function postBytes(path: string, contentType: string, body: Buffer, who: Who = 'alice'): Promise<{ status: number; body: Record<string, unknown> }> {
  const { hostname, port } = new URL(gw.url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ hostname, port, path, method: 'POST', headers: { 'content-type': contentType, 'content-length': body.length, ...as(who) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown> }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const pointers = (body: Record<string, unknown>) => ((body.errors ?? []) as Array<{ pointer: string }>).map((e) => e.pointer);

test('bytes that are not UTF-8 and lone surrogates are refused with a pointer wherever a record enters; nothing is stored', async () => {
  const path = `/v1/topics/${topicA}/records`;
  const raw = Buffer.concat([Buffer.from('{"records":[{"key":"'), Buffer.from([0xff, 0xfe]), Buffer.from('","value":"'), Buffer.from([0xc0, 0xaf]), Buffer.from('"}]}')]);
  const badBytes = await postBytes(path, 'application/json', raw);
  assert.equal(badBytes.status, 400, JSON.stringify(badBytes.body));
  assert.deepEqual(pointers(badBytes.body), ['/records/0/key']);

  const header = Buffer.concat([Buffer.from('{"records":[{"value":"v","headers":{"'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('":"x"}}]}')]);
  const badHeader = await postBytes(path, 'application/json', header);
  assert.equal(badHeader.status, 400);
  assert.match(pointers(badHeader.body)[0] ?? '', /^\/records\/0\/headers\//);

  const surrogate = await postBytes(path, 'application/json', Buffer.from('{"records":[{"key":"ok","value":"v","headers":{"h":"\\ud800"}}]}'));
  assert.equal(surrogate.status, 400);
  assert.deepEqual(pointers(surrogate.body), ['/records/0/headers/h']);
  // Upper-case hex after another escape is found too; an escaped backslash before `ud800` is plain text.
  const upper = await postBytes(path, 'application/json', Buffer.from('{"records":[{"key":"ok","value":"\\u0041\\uDBFF"}]}'));
  assert.equal(upper.status, 400);
  assert.deepEqual(pointers(upper.body), ['/records/0/value']);
  const escapedBackslash = await postBytes(path, 'application/json', Buffer.from('{"records":[{"key":"\\\\ud800","value":"v"}]}'));
  assert.equal(escapedBackslash.status, 200, JSON.stringify(escapedBackslash.body));

  const ndjson = await postBytes(path, 'application/x-ndjson', Buffer.from('{"value":"fine"}\n{"key":"\\udc00x","value":"v"}\n'));
  assert.equal(ndjson.status, 400, JSON.stringify(ndjson.body));
  assert.deepEqual(pointers(ndjson.body), ['/records/1/key']);

  const v2 = await postBytes(`/topics/${topicA}`, 'application/vnd.kafka.json.v2+json', Buffer.from('{"records":[{"value":{"t":"\\ud83d"}}]}'));
  // Confluent v2 answers a body it cannot take with 422, its own convention.
  assert.equal(v2.status, 422, JSON.stringify(v2.body));
  assert.match(String(v2.body.message), /\/records\/0\/value\/t/);

  const ws = await WsClient.connect(`${gw.url.replace('http', 'ws')}/v1/ws`, { headers: as('alice') });
  try {
    ws.send(`{"op":"produce","id":"p1","topic":${JSON.stringify(topicA)},"records":[{"key":"\\ud800","value":"v"}]}`);
    const error = await ws.next(isOp('error', 'p1'));
    assert.equal(error.status, 400);
    assert.deepEqual(((error.errors ?? []) as Array<{ pointer: string }>).map((e) => e.pointer), ['/records/0/key']);
  } finally {
    await ws.close();
  }

  // A paired surrogate is text, and one valid record went through the NDJSON body before its bad line: that is all the topic holds.
  conforms(await request(gw.server).post(path).set(as('alice')).send({ records: [{ key: '\ud83d\ude00', value: 'emoji' }] }).expect(200));
  const page = conforms(await request(gw.server).get(`/v1/topics/${topicA}/partitions/0/records?offset=earliest`).set(as('alice')).expect(200));
  const stored = (page.body.records as Array<{ key: unknown; value: unknown }>).map((r) => [r.key, r.value]);
  assert.ok(!JSON.stringify(stored).includes('\ufffd'), JSON.stringify(stored));
  assert.deepEqual(stored.at(-1), ['\ud83d\ude00', 'emoji']);
});

const wsUrl = () => `${gw.url.replace('http', 'ws')}/v1/ws`;
const refusal = async (opening: Promise<unknown>) => {
  const error = (await opening.then(
    () => assert.fail('the connection was accepted'),
    (e: unknown) => e,
  )) as { status: number; body: string; headers: Record<string, string> };
  return error;
};

test('WebSocket connections are capped per principal and per client address; a closed one frees its slot', async () => {
  const open: WsClient[] = [];
  try {
    const connect = (who: Who, localAddress: string) => WsClient.connect(wsUrl(), { headers: as(who), localAddress });
    open.push(await connect('alice', '127.0.0.1'), await connect('alice', '127.0.0.1'));
    const principalCap = await refusal(connect('alice', '127.0.0.2'));
    assert.equal(principalCap.status, 429);
    assert.match(principalCap.body, /alice holds its maximum of 2 WebSocket connections/);
    assert.ok(Number(principalCap.headers['retry-after']) > 0);
    open.push(await connect('bob', '127.0.0.1'));
    const addressCap = await refusal(connect('bob', '127.0.0.1'));
    assert.equal(addressCap.status, 429);
    assert.match(addressCap.body, /client address holds its maximum of 3/);
    // Another client, from another address, is served: one client does not take every slot.
    open.push(await connect('root', '127.0.0.3'));
    await open.shift()!.close();
    // The gateway sees the close a moment after the client does.
    for (let i = 0; ; i++) {
      const again = await connect('alice', '127.0.0.1').catch((e: unknown) => (i < 100 ? undefined : Promise.reject(e)));
      if (again) {
        open.push(again);
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    await Promise.all(open.map((c) => c.close()));
  }
});

test('event streams are capped per principal and per client address; a closed one frees its slot', async () => {
  const url = `${gw.url}/v1/topics/${topicA}/events`;
  const open: SseClient[] = [];
  const openAs = async (who: Who, localAddress: string, expected: number) => {
    const client = await SseClient.open(url, { headers: as(who), localAddress });
    open.push(client);
    assert.equal(client.status, expected, client.text);
    if (expected !== 200) await client.waitEnded();
    return client;
  };
  try {
    await openAs('alice', '127.0.0.1', 200);
    await openAs('alice', '127.0.0.1', 200);
    const principalCap = await openAs('alice', '127.0.0.2', 429);
    assert.match(principalCap.text, /alice holds its maximum of 2 event streams/);
    principalCap.conforms();
    await openAs('root', '127.0.0.1', 200);
    const addressCap = await openAs('root', '127.0.0.1', 429);
    assert.match(addressCap.text, /client address holds its maximum of 3 event streams/);
    await openAs('root', '127.0.0.3', 200);
    const first = open[0]!;
    first.drop();
    await first.waitEnded();
    await eventuallyStatus(() => SseClient.open(url, { headers: as('alice'), localAddress: '127.0.0.4' }), open);
  } finally {
    for (const client of open) client.drop();
  }
});

/** The gateway sees a dropped stream's close a moment after the client: retry until the slot is free. */
async function eventuallyStatus(opening: () => Promise<SseClient>, open: SseClient[]): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const client = await opening();
    open.push(client);
    if (client.status === 200) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail('the slot of a closed stream was never freed');
}

test('groups have owners: a principal cannot join, commit to, seek in or describe a group outside its ACL, on any transport', async () => {
  const groupA = `${a}-workers`;
  const topicB = `${b}-records`;
  conforms(await request(gw.server).post('/v1/topics').set(as('bob')).send({ name: topicB, partitions: 1 }).expect(201));
  const streams: SseClient[] = [];
  const sockets: WsClient[] = [];
  try {
    // alice's rule names no groups, so her topic prefix is her group prefix: she joins her group.
    const owner = await SseClient.open(`${gw.url}/v1/topics/${topicA}/events?group=${groupA}`, { headers: as('alice'), localAddress: '127.0.0.5' });
    streams.push(owner);
    assert.equal(owner.status, 200, owner.text);

    // bob may consume b-* only: reading his own topic as a member of alice's group is refused everywhere.
    const sse = await SseClient.open(`${gw.url}/v1/topics/${topicB}/events?group=${groupA}`, { headers: as('bob'), localAddress: '127.0.0.6' });
    streams.push(sse);
    assert.equal(sse.status, 403, sse.text);
    assert.match(sse.text, /bob may not consume consumer group/);
    sse.conforms();

    const single = await refusal(WsClient.connect(`${gw.url.replace('http', 'ws')}/v1/topics/${topicB}/ws?group=${groupA}`, { headers: as('bob'), localAddress: '127.0.0.6' }));
    assert.equal(single.status, 403, single.body);

    const ws = await WsClient.connect(wsUrl(), { headers: as('bob'), localAddress: '127.0.0.6' });
    sockets.push(ws);
    ws.send({ op: 'subscribe', id: 's1', topics: [topicB], group: groupA, ack: 'manual' });
    const error = await ws.next(isOp('error', 's1'));
    assert.equal(error.status, 403);
    ws.send({ op: 'subscribe', id: 's2', topics: [topicB], group: `${b}-own` });
    await ws.next((f) => f.op === 'subscribed' && f.id === 's2');

    const v2 = 'application/vnd.kafka.v2+json';
    const create = conforms(await request(gw.server).post(`/consumers/${groupA}`).set(as('bob')).set('Content-Type', v2).send({ name: 'intruder', format: 'json' }).expect(403));
    assert.equal(create.body.error_code, 40301);
    conforms(await request(gw.server).post(`/consumers/${groupA}/instances/anyone/offsets`).set(as('bob')).set('Content-Type', v2).send({}).expect(403));
    conforms(await request(gw.server).post(`/consumers/${groupA}/instances/anyone/positions/beginning`).set(as('bob')).set('Content-Type', v2).send({ partitions: [{ topic: topicB, partition: 0 }] }).expect(403));
    conforms(await request(gw.server).delete(`/consumers/${groupA}/instances/anyone`).set(as('bob')).set('Content-Type', v2).expect(403));
    const own = conforms(await request(gw.server).post(`/consumers/${b}-v2`).set(as('bob')).set('Content-Type', v2).send({ name: 'mine', format: 'json' }).expect(200));
    assert.equal(own.body.instance_id, 'mine');
    conforms(await request(gw.server).delete(`/consumers/${b}-v2/instances/mine`).set(as('bob')).set('Content-Type', v2).expect(204));

    // Describing: alice sees her group; to bob it is answered as a group that does not exist, and it is not listed.
    conforms(await request(gw.server).get(`/v1/consumer-groups/${groupA}`).set(as('alice')).expect(200));
    const hidden = conforms(await request(gw.server).get(`/v1/consumer-groups/${groupA}`).set(as('bob')).expect(404));
    assert.equal(hidden.body.code, 'GW_ERR_GROUP_NOT_FOUND');
    const listed = conforms(await request(gw.server).get('/v1/consumer-groups').set(as('bob')).expect(200));
    assert.ok(!(listed.body.groups as Array<{ groupId: string }>).some((g) => g.groupId === groupA));
    const rootList = conforms(await request(gw.server).get('/v1/consumer-groups').set(as('root')).expect(200));
    assert.ok((rootList.body.groups as Array<{ groupId: string }>).some((g) => g.groupId === groupA));

    // Deleting needs admin on the group: bob is refused by the name alone; alice is told her own member is still in it.
    const intruder = conforms(await request(gw.server).delete(`/v1/consumer-groups/${groupA}`).set(as('bob')).expect(403));
    assert.match(intruder.body.detail, /bob may not admin consumer group/);
    conforms(await request(gw.server).delete(`/v1/consumer-groups/${b}-nowhere`).set(as('alice')).expect(403));
    const busy = conforms(await request(gw.server).delete(`/v1/consumer-groups/${groupA}`).set(as('alice')).expect(409));
    assert.equal(busy.body.code, 'GW_ERR_CONFLICT');
    owner.drop();
    await eventually(async () => (await request(gw.server).delete(`/v1/consumer-groups/${groupA}`).set(as('alice'))).status === 204);
    conforms(await request(gw.server).get(`/v1/consumer-groups/${groupA}`).set(as('alice')).expect(404));
  } finally {
    for (const s of streams) s.drop();
    await Promise.all(sockets.map((s) => s.close()));
  }
});
