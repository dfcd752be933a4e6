/**
 * Event streams and partition pages behind authentication: consume
 * permission on the topic for both; credentials for event streams from the
 * headers or, since EventSource cannot set headers, an access_token query
 * parameter (as for WebSocket, and only there); a JWT that expires
 * mid-stream ends it with an error event carrying the 401 problem.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import type { RunningGateway } from '../src/gateway.js';
import { authFiles, jwtFor } from './helpers/auth.js';
import { eventually, sharedBrokers, uniqueName } from './helpers/env.js';
import { gatewayFor } from './helpers/scoped.js';
import { createTopic } from './helpers/kafka.js';
import { SseClient } from './helpers/sse.js';

const prefix = uniqueName('sseauth');
const { env, keys } = authFiles(`${prefix}-`);
const topic = `${prefix}-events`;
const other = uniqueName('private');
let apiKeys: RunningGateway;
let jwt: RunningGateway;
let noQueryToken: RunningGateway;

before(async (t) => {
  await createTopic(sharedBrokers(), topic, 1);
  await createTopic(sharedBrokers(), other, 1);
  [apiKeys, jwt, noQueryToken] = await Promise.all([
    gatewayFor(t, env),
    gatewayFor(t, { ...env, AUTH_MODE: 'jwt' }),
    gatewayFor(t, { ...env, AUTH_ALLOW_QUERY_TOKEN: 'false' }),
  ]);
});

async function refused(url: string, status: number, headers: Record<string, string> = {}): Promise<SseClient> {
  const client = await SseClient.open(url, { headers });
  assert.equal(client.status, status, `${url}: ${client.status}`);
  await client.waitEnded();
  client.conforms();
  return client;
}

test('consume permission: the reader streams and pages with its key in a header; without credentials 401, without the permission 403', async () => {
  const events = `${apiKeys.url}/v1/topics/${topic}/events`;
  const page = `${apiKeys.url}/v1/topics/${topic}/partitions/0/records`;
  const stream = await SseClient.open(events, { headers: { 'x-api-key': keys.reader } });
  assert.equal(stream.status, 200);
  stream.drop();
  assert.equal((await fetch(page, { headers: { 'x-api-key': keys.reader } })).status, 200);
  const anonymous = await refused(events, 401);
  assert.match(String(anonymous.headers['www-authenticate']), /ApiKey/);
  // The writer may produce to the topic and describe it, not read it.
  await refused(events, 403, { 'x-api-key': keys.writer });
  await refused(page, 403, { 'x-api-key': keys.writer });
  await refused(`${apiKeys.url}/v1/topics/${other}/events`, 403, { 'x-api-key': keys.reader });
  await refused(`${apiKeys.url}/v1/topics/${other}/partitions/0/records`, 403, { 'x-api-key': keys.reader });
});

test('the access_token query parameter opens an event stream, only where the contract lists it and unless turned off', async () => {
  const stream = await SseClient.open(`${apiKeys.url}/v1/topics/${topic}/events?access_token=${encodeURIComponent(keys.reader)}`);
  assert.equal(stream.status, 200);
  stream.drop();
  await refused(`${apiKeys.url}/v1/topics/${topic}/events?access_token=wrong`, 401);
  // Pages are for clients that can set headers: the query token is not taken there.
  await refused(`${apiKeys.url}/v1/topics/${topic}/partitions/0/records?access_token=${encodeURIComponent(keys.reader)}`, 401);
  await refused(`${noQueryToken.url}/v1/topics/${topic}/events?access_token=${encodeURIComponent(keys.reader)}`, 401);
});

test('a JWT that expires mid-stream ends the stream with an error event carrying the 401 problem', async () => {
  // Long enough for the stream to open on a loaded machine, short enough to wait for.
  const token = await jwtFor('reader', { expiresIn: Math.floor(Date.now() / 1000) + 4 });
  const stream = await SseClient.open(`${jwt.url}/v1/topics/${topic}/events?access_token=${token}`);
  assert.equal(stream.status, 200);
  await stream.waitEnded(30_000);
  const last = stream.events.at(-1)!;
  assert.equal(last.event, 'error');
  const problem = JSON.parse(last.data!) as { status: number; code: string };
  assert.deepEqual([problem.status, problem.code], [401, 'GW_ERR_UNAUTHENTICATED']);
  stream.conforms();
  await eventually(async () => jwt.services.events.stats().streams === 0);
  // Reconnecting with the same token is refused at once.
  await refused(`${jwt.url}/v1/topics/${topic}/events?access_token=${token}`, 401);
});
