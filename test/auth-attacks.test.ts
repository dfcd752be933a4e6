/**
 * Attacks on authentication that the ordinary deny paths do not cover, over
 * HTTP and WebSocket on a real server: a subject posing as a role, a token
 * that never expires, and floods of bad credentials from one address.
 */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { PassThrough } from 'node:stream';
import { after, before, test } from 'node:test';
import { Kafka, logLevel } from './helpers/kafka-client.js';
import request from 'supertest';
import { startGateway, type RunningGateway } from '../src/gateway.js';
import { createLogger } from '../src/common/logger.js';
import WebSocket from 'ws';
import { BASE64_API_KEY, authFiles, base64KeyFile, base64urlProtocol, jwtFor } from './helpers/auth.js';
import { conforms } from './helpers/contract.js';
import { quietLogger, sharedBrokers, testConfig, uniqueName } from './helpers/env.js';
import { WsClient, isOp } from './helpers/ws.js';

const prefix = uniqueName('attack');
const { env, keys } = authFiles(`${prefix}-`);
const topic = `${prefix}-events`;
const secretTopic = uniqueName('secret');
const started: RunningGateway[] = [];

async function gatewayWith(overrides: Record<string, string>, logger = quietLogger()): Promise<RunningGateway> {
  const gateway = await startGateway(testConfig({ ...env, ...overrides }), logger);
  started.push(gateway);
  return gateway;
}

const wsUrl = (gateway: RunningGateway, path = '/v1/ws') => `${gateway.url.replace(/^http/, 'ws')}${path}`;

/** The refusal of a WebSocket upgrade: status, headers and problem body. */
async function refusal(connecting: Promise<WsClient>): Promise<{ status: number; body: string; headers: Record<string, string> }> {
  let failure: { status: number; body: string; headers: Record<string, string> } | undefined;
  await assert.rejects(connecting, (e: { status: number; body: string; headers: Record<string, string> }) => {
    failure = e;
    return true;
  });
  return failure!;
}

before(async () => {
  const admin = new Kafka({ brokers: [sharedBrokers()], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic }, { topic: secretTopic }], waitForLeaders: true });
  // Two groups with commits: one named in the reader's prefix, one outside it, with commits on the reader's topic.
  await admin.setOffsets({ groupId: `${prefix}-visible`, topic, partitions: [{ partition: 0, offset: '0' }] });
  await admin.setOffsets({ groupId: `${secretTopic}-hidden`, topic, partitions: [{ partition: 0, offset: '0' }] });
  await admin.disconnect();
});
after(async () => {
  await Promise.all(started.map((g) => g.stop()));
});

test('a subject named like a role does not get the role, over HTTP and WebSocket', async () => {
  const gateway = await gatewayWith({ AUTH_MODE: 'jwt' });
  // The ACL grants `role:readers`; a token whose *subject* is "role:readers" holds no role.
  const impostor = await jwtFor('role:readers');
  const denied = conforms(await request(gateway.url).get(`/v1/topics/${topic}`).set('Authorization', `Bearer ${impostor}`).expect(403));
  assert.equal(denied.body.code, 'GW_ERR_FORBIDDEN');
  conforms(await request(gateway.url).get(`/v1/topics/${topic}`).set('Authorization', `Bearer ${await jwtFor('someone', { roles: ['readers'] })}`).expect(200));

  const client = await WsClient.connect(wsUrl(gateway), { headers: { Authorization: `Bearer ${impostor}` } });
  client.send({ op: 'subscribe', id: 's', topics: [topic] });
  assert.equal((await client.next(isOp('error', 's'))).status, 403);
  await client.close();
  const single = await refusal(WsClient.connect(wsUrl(gateway, `/v1/topics/${topic}/ws`), { headers: { Authorization: `Bearer ${impostor}` } }));
  assert.equal(single.status, 403);
});

test('a token without exp is refused, over HTTP and WebSocket, unless allowed, which is warned about at start', async () => {
  const gateway = await gatewayWith({ AUTH_MODE: 'jwt' });
  const forever = await jwtFor('reader', { expiresIn: null });
  const refused = conforms(await request(gateway.url).get(`/v1/topics/${topic}`).set('Authorization', `Bearer ${forever}`).expect(401));
  assert.match(refused.body.detail, /no expiry \(exp/);
  const upgrade = await refusal(WsClient.connect(wsUrl(gateway), { headers: { Authorization: `Bearer ${forever}` } }));
  assert.equal(upgrade.status, 401);
  assert.match(JSON.parse(upgrade.body).detail, /exp/);

  let logged = '';
  const lines = new PassThrough().on('data', (chunk: Buffer) => (logged += chunk.toString()));
  const lenient = await gatewayWith({ AUTH_MODE: 'jwt', AUTH_JWT_ALLOW_NO_EXP: 'true' }, createLogger('info', lines));
  assert.match(logged, /"level":40.*AUTH_JWT_ALLOW_NO_EXP=true/, 'a warning at start');
  conforms(await request(lenient.url).get(`/v1/topics/${topic}`).set('Authorization', `Bearer ${forever}`).expect(200));
  const client = await WsClient.connect(wsUrl(lenient), { headers: { Authorization: `Bearer ${forever}` } });
  await client.close();
});

/** A GET from a chosen local address (any 127.x address reaches a loopback listener on Linux). */
function getFrom(url: string, localAddress: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { localAddress, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject).end();
  });
}

test('200 bad credentials from one address: all but a burst and its refill are 429 (on by default)', async () => {
  const gateway = await gatewayWith({});
  const statuses: number[] = [];
  const started = Date.now();
  for (let i = 0; i < 200; i++) statuses.push((await request(gateway.url).get('/v1/cluster').set('X-API-Key', `guess-${i}`)).status);
  const seconds = (Date.now() - started) / 1000;
  assert.deepEqual(statuses.slice(0, 20), Array(20).fill(401), 'a burst of 20 failures is answered 401');
  assert.deepEqual(new Set(statuses), new Set([401, 429]));
  // The default refill is one attempt a second: no more 401s than the burst plus what refilled meanwhile.
  const failures = statuses.filter((s) => s === 401).length;
  assert.ok(failures <= 20 + Math.ceil(seconds) + 1, `${failures} answers of 401 in ${seconds} s`);
});

test('once limited, everything from the address is 429 with Retry-After, unchecked; other addresses are not', async () => {
  const gateway = await gatewayWith({ AUTH_FAILURE_RATE_PER_MINUTE: '1', AUTH_FAILURE_BURST: '3' });
  const statuses: number[] = [];
  for (let i = 0; i < 10; i++) statuses.push((await request(gateway.url).get('/v1/cluster').set('X-API-Key', `guess-${i}`)).status);
  assert.deepEqual(statuses, [401, 401, 401, ...Array(7).fill(429)]);

  const limited = conforms(await request(gateway.url).get('/v1/cluster').set('X-API-Key', 'one-more-guess').expect(429));
  assert.equal(limited.body.code, 'GW_ERR_TOO_MANY_REQUESTS');
  assert.ok(Number(limited.headers['retry-after']) >= 1);
  assert.equal(limited.headers['www-authenticate'], undefined, 'the credentials were not even looked at');
  // While the address is limited, even a right key is not checked: guessing cannot succeed there.
  conforms(await request(gateway.url).get('/v1/cluster').set('X-API-Key', keys.reader).expect(429));
  const upgrade = await refusal(WsClient.connect(wsUrl(gateway), { headers: { 'X-API-Key': keys.reader } }));
  assert.equal(upgrade.status, 429);
  assert.ok(Number(upgrade.headers['retry-after']) >= 1);
  assert.equal(JSON.parse(upgrade.body).code, 'GW_ERR_TOO_MANY_REQUESTS');
  // Another address is unaffected.
  assert.equal(await getFrom(`${gateway.url}/v1/cluster`, '127.0.0.2', { 'X-API-Key': keys.reader }), 200);
});

test('bad credentials at WebSocket upgrades are limited the same way', async () => {
  const gateway = await gatewayWith({ AUTH_FAILURE_RATE_PER_MINUTE: '1', AUTH_FAILURE_BURST: '5' });
  const statuses: number[] = [];
  for (let i = 0; i < 12; i++) statuses.push((await refusal(WsClient.connect(wsUrl(gateway), { headers: { 'X-API-Key': `guess-${i}` } }))).status);
  assert.deepEqual(statuses, [...Array(5).fill(401), ...Array(7).fill(429)]);
  conforms(await request(gateway.url).get('/v1/cluster').set('X-API-Key', keys.reader).expect(429));
});

test('valid credentials never use up the failure budget', async () => {
  const gateway = await gatewayWith({ AUTH_FAILURE_RATE_PER_MINUTE: '1', AUTH_FAILURE_BURST: '2' });
  for (let i = 0; i < 30; i++) conforms(await request(gateway.url).get('/v1/cluster').set('X-API-Key', keys.reader).expect(200));
  conforms(await request(gateway.url).get('/v1/cluster').set('X-API-Key', 'wrong').expect(401));
});

test('every credential can travel as a WebSocket subprotocol: base64url.<credential>, with a real ws client', async () => {
  const gateway = await gatewayWith({ AUTH_API_KEYS_FILE: base64KeyFile('reader') });
  // The documented key cannot be offered as bearer.<key>: clients refuse the characters before connecting.
  assert.throws(() => new WebSocket(wsUrl(gateway), ['kafka-gateway', `bearer.${BASE64_API_KEY}`]), SyntaxError);
  const client = await WsClient.connect(wsUrl(gateway), { protocols: ['kafka-gateway', base64urlProtocol(BASE64_API_KEY)] });
  assert.equal(client.socket.protocol, 'kafka-gateway', 'the credential is never echoed');
  client.send({ op: 'subscribe', id: 's', topics: [topic] });
  await client.next(isOp('subscribed', 's'));
  await client.close();
  const single = await WsClient.connect(wsUrl(gateway, `/v1/topics/${topic}/ws`), { protocols: ['kafka-gateway', base64urlProtocol(BASE64_API_KEY)] });
  await single.close();
  for (const wrong of [base64urlProtocol('not-the-key'), 'base64url.', 'base64url.x']) {
    assert.equal((await refusal(WsClient.connect(wsUrl(gateway), { protocols: ['kafka-gateway', wrong] }))).status, 401, wrong);
  }

  const jwtGateway = await gatewayWith({ AUTH_MODE: 'jwt' });
  const token = await jwtFor('reader');
  for (const protocol of [base64urlProtocol(token), `bearer.${token}`]) {
    const viaJwt = await WsClient.connect(wsUrl(jwtGateway), { protocols: ['kafka-gateway', protocol] });
    await viaJwt.close();
  }
});

test('consumer groups are listed and described only to principals whose ACL names the group, whatever topics it reads', async () => {
  const gateway = await gatewayWith({});
  const groupIds = async (key: string, query = '') =>
    (conforms(await request(gateway.url).get(`/v1/consumer-groups${query}`).set('X-API-Key', key).expect(200)).body.groups as Array<{ groupId: string }>).map(
      (g) => g.groupId,
    );
  const reader = await groupIds(keys.reader);
  assert.ok(reader.includes(`${prefix}-visible`));
  assert.ok(!reader.includes(`${secretTopic}-hidden`), "a group outside the reader's group rules is not listed, though it commits on the reader's topic");
  assert.ok(!(await groupIds(keys.reader, '?internal=true')).some((g) => /-schemas-/.test(g)), "the gateway's own groups neither");
  const admin = await groupIds(keys.admin);
  assert.ok(admin.includes(`${prefix}-visible`) && admin.includes(`${secretTopic}-hidden`));

  conforms(await request(gateway.url).get(`/v1/consumer-groups/${prefix}-visible`).set('X-API-Key', keys.reader).expect(200));
  const hidden = conforms(await request(gateway.url).get(`/v1/consumer-groups/${secretTopic}-hidden`).set('X-API-Key', keys.reader).expect(404));
  const missing = conforms(await request(gateway.url).get(`/v1/consumer-groups/${secretTopic}-nowhere`).set('X-API-Key', keys.reader).expect(404));
  assert.deepEqual(
    { ...hidden.body, detail: hidden.body.detail.replace('hidden', 'X'), instance: undefined },
    { ...missing.body, detail: missing.body.detail.replace('nowhere', 'X'), instance: undefined },
    'a hidden group is answered exactly as a missing one',
  );
  conforms(await request(gateway.url).get(`/v1/consumer-groups/${secretTopic}-hidden`).set('X-API-Key', keys.admin).expect(200));
});
