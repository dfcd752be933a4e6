/**
 * WebSocket deny paths: credentials checked at the upgrade (401 before any
 * frame) from each place a client can put them, origins, a subscribe frame
 * for a forbidden topic on an allowed connection, and a JWT that expires
 * closing the socket with 4401.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { Kafka, logLevel } from './helpers/kafka-client.js';
import type { RunningGateway } from '../src/gateway.js';
import { authFiles, jwtFor } from './helpers/auth.js';
import { sharedBrokers, uniqueName } from './helpers/env.js';
import { gatewayFor } from './helpers/scoped.js';
import { WsClient, isOp } from './helpers/ws.js';

const prefix = uniqueName('wsauth');
const { env, keys } = authFiles(`${prefix}-`);
const allowed = `${prefix}-events`;
const forbidden = uniqueName('private');
let gateway: RunningGateway;
let url: string;

before(async (t) => {
  const kafka = new Kafka({ brokers: [sharedBrokers()], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: allowed }, { topic: forbidden }], waitForLeaders: true });
  await admin.disconnect();
  gateway = await gatewayFor(t, { ...env, AUTH_MODE: 'jwt', ALLOWED_ORIGINS: 'https://app.example.com' });
  url = gateway.url.replace(/^http/, 'ws');
});

async function refusedWith(connecting: Promise<WsClient>, status: number): Promise<{ body: string; headers: Record<string, string> }> {
  let failure: { status: number; body: string; headers: Record<string, string> } | undefined;
  await assert.rejects(connecting, (e: { status: number; body: string; headers: Record<string, string> }) => {
    failure = e;
    return true;
  });
  assert.equal(failure?.status, status);
  return failure!;
}

test('no credentials: 401 at the upgrade, with WWW-Authenticate and a problem body', async () => {
  const refused = await refusedWith(WsClient.connect(`${url}/v1/ws`), 401);
  assert.equal(JSON.parse(refused.body).code, 'GW_ERR_UNAUTHENTICATED');
  assert.match(refused.headers['www-authenticate'] ?? '', /^Bearer/);
});

test('malformed, wrongly signed and expired tokens: 401', async () => {
  await refusedWith(WsClient.connect(`${url}/v1/ws`, { headers: { Authorization: 'Bearer nonsense' } }), 401);
  const forged = (await jwtFor('reader')).replace(/\.[^.]+$/, '.c2lnbmF0dXJl');
  await refusedWith(WsClient.connect(`${url}/v1/ws`, { headers: { Authorization: `Bearer ${forged}` } }), 401);
  const expired = await jwtFor('reader', { expiresIn: Math.floor(Date.now() / 1000) - 5 });
  const refused = await refusedWith(WsClient.connect(`${url}/v1/ws?access_token=${expired}`), 401);
  assert.match(JSON.parse(refused.body).detail, /expired/);
});

test('credentials from the header, the subprotocol and the query all work', async () => {
  const token = await jwtFor('reader');
  const viaHeader = await WsClient.connect(`${url}/v1/ws`, { headers: { Authorization: `Bearer ${token}` } });
  const viaProtocol = await WsClient.connect(`${url}/v1/ws`, { protocols: ['kafka-gateway', `bearer.${token}`] });
  assert.equal(viaProtocol.socket.protocol, 'kafka-gateway', 'the token is never echoed as the protocol');
  const viaQuery = await WsClient.connect(`${url}/v1/ws?access_token=${token}`);
  for (const client of [viaHeader, viaProtocol, viaQuery]) {
    client.send({ op: 'subscribe', id: 's', topics: [allowed] });
    await client.next(isOp('subscribed', 's'));
    await client.close();
  }
});

test('a forbidden topic: error frame on an allowed connection, 403 on the single-topic endpoint', async () => {
  const token = await jwtFor('reader');
  const client = await WsClient.connect(`${url}/v1/ws`, { headers: { Authorization: `Bearer ${token}` } });
  client.send({ op: 'subscribe', id: 'nope', topics: [forbidden] });
  const denied = await client.next(isOp('error', 'nope'));
  assert.equal(denied.status, 403);
  client.send({ op: 'subscribe', id: 'missing', topics: [`${uniqueName('absent')}`] });
  assert.equal((await client.next(isOp('error', 'missing'))).status, 403, 'no hint whether a forbidden topic exists');
  client.send({ op: 'subscribe', id: 'fine', topics: [allowed] });
  await client.next(isOp('subscribed', 'fine'));
  await client.close();
  await refusedWith(WsClient.connect(`${url}/v1/topics/${forbidden}/ws`, { headers: { Authorization: `Bearer ${token}` } }), 403);
  // A writer may not consume.
  await refusedWith(WsClient.connect(`${url}/v1/topics/${allowed}/ws`, { headers: { Authorization: `Bearer ${await jwtFor('writer')}` } }), 403);
});

test('origins: a listed one is let in, another refused with 403', async () => {
  const token = await jwtFor('reader');
  const listed = await WsClient.connect(`${url}/v1/ws`, { headers: { Authorization: `Bearer ${token}` }, origin: 'https://app.example.com' });
  await listed.close();
  const refused = await refusedWith(WsClient.connect(`${url}/v1/ws`, { headers: { Authorization: `Bearer ${token}` }, origin: 'https://evil.example' }), 403);
  assert.match(JSON.parse(refused.body).detail, /Origin/);
});

test('a JWT that expires closes the socket with 4401', async () => {
  const token = await jwtFor('reader', { expiresIn: Math.floor(Date.now() / 1000) + 2 });
  const client = await WsClient.connect(`${url}/v1/ws`, { headers: { Authorization: `Bearer ${token}` } });
  const closed = await client.waitClosed();
  assert.equal(closed.code, 4401);
  assert.match(closed.reason, /expired/);
});

test('API keys work at the upgrade too', async (t) => {
  const apiKeyGateway = await gatewayFor(t, env);
  const wsUrl = apiKeyGateway.url.replace(/^http/, 'ws');
  await refusedWith(WsClient.connect(`${wsUrl}/v1/ws`, { headers: { 'X-API-Key': 'wrong' } }), 401);
  const client = await WsClient.connect(`${wsUrl}/v1/ws`, { headers: { 'X-API-Key': keys.reader } });
  client.send({ op: 'subscribe', id: 's', topics: [allowed] });
  await client.next(isOp('subscribed', 's'));
  await client.close();
});
