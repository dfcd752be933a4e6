/**
 * No request, frame or Kafka answer about a topic and a group ends the
 * process: a seeded, stateful fuzz over every operation that takes both
 * (WebSocket subscribe, ack, unsubscribe and abrupt close; event streams;
 * Confluent v2 instances created, subscribed, read, committed, moved,
 * deleted; group descriptions), against regular topics, Kafka's own
 * (`__consumer_offsets`, `__transaction_state`), missing ones and bad names,
 * in shared, fresh and hostile groups, with and without auth (keys of
 * several principals, wrong ones, none). The gateway is its own process:
 * at the end it must still be running and answering, and no answer may
 * have been a 5xx other than a 503 (Kafka busy).
 *
 * GROUP_FUZZ_SEED and GROUP_FUZZ_STEPS replay or lengthen a run.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { authFiles } from './helpers/auth.js';
import { sharedBrokers, uniqueName } from './helpers/env.js';
import { createTopic, produceDirect } from './helpers/kafka.js';
import { runGateway, type GatewayProcess } from './helpers/process.js';
import { WsClient, type Frame } from './helpers/ws.js';
import { seededRandom } from './helpers/seeded.js';

const SEED = Number(process.env.GROUP_FUZZ_SEED ?? 2024);
const STEPS = Number(process.env.GROUP_FUZZ_STEPS ?? 150);
const prefix = uniqueName('gfz');
let regular: string;

before(async () => {
  regular = `${prefix}-t`;
  await createTopic(sharedBrokers(), regular, 3);
  await produceDirect(sharedBrokers(), regular, Array.from({ length: 30 }, (_, i) => ({ value: `v${i}`, partition: i % 3 })));
});

async function fuzz(gw: GatewayProcess, seed: number, credentials: ReadonlyArray<Record<string, string>>): Promise<string[]> {
  const rand = seededRandom(seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rand() * list.length)]!;
  const topics = [regular, regular, '__consumer_offsets', '__transaction_state', `${prefix}-missing`, 'bad name!', '__'];
  const groups = [`${prefix}-g1`, `${prefix}-g2`, `${prefix}-g${Math.floor(rand() * 1000)}`, '__consumer_offsets', 'kafka-gateway-schemas', 'x'.repeat(300), ' '];
  const offsets = ['0', '5', '-1', '9223372036854775807', '9223372036854775808', 'abc', 5 as unknown as string];
  const failures: string[] = [];
  const wsUrl = `${gw.url.replace(/^http/, 'ws')}/v1/ws`;
  const sockets: WsClient[] = [];
  const connect = async () => {
    const headers = pick(credentials);
    const client = await WsClient.connect(wsUrl, { headers }).catch(() => undefined);
    if (client) sockets.push(client);
  };
  const http = async (method: string, path: string, body?: unknown, type = 'application/vnd.kafka.v2+json') => {
    const res = await fetch(`${gw.url}${path}`, {
      method,
      headers: { ...pick(credentials), 'content-type': type, accept: 'application/vnd.kafka.binary.v2+json, application/vnd.kafka.v2+json, application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    }).catch((error: unknown) => ({ status: -1, text: async () => String(error) }));
    const text = await res.text().catch(() => '');
    if (res.status >= 500 && res.status !== 503) failures.push(`${method} ${path} -> ${res.status} ${text.slice(0, 200)}`);
    if (res.status === -1 && gw.child.exitCode !== null) failures.push(`${method} ${path}: the gateway is gone`);
  };
  for (let i = 0; i < 3; i++) await connect();
  for (let step = 0; step < STEPS; step++) {
    const topic = pick(topics);
    const group = pick(groups);
    const choice = Math.floor(rand() * 9);
    const socket = sockets.length > 0 ? pick(sockets) : undefined;
    const sub = `s${Math.floor(rand() * 4)}`;
    switch (choice) {
      case 0:
      case 1:
        socket?.send({ op: 'subscribe', id: sub, topics: rand() < 0.8 ? [topic] : [topic, pick(topics)], ...(rand() < 0.8 ? { group } : {}), ack: pick(['auto', 'manual']), from: pick(['earliest', 'latest']), ...(rand() < 0.3 ? { receipts: true } : {}) });
        break;
      case 2:
        socket?.send({ op: 'ack', sub, topic, partition: Math.floor(rand() * 4), offset: pick(offsets) });
        break;
      case 3:
        socket?.send({ op: 'unsubscribe', id: sub });
        break;
      case 4:
        if (socket && rand() < 0.5) {
          sockets.splice(sockets.indexOf(socket), 1);
          socket.socket.terminate();
        }
        await connect();
        break;
      case 5: {
        const controller = new AbortController();
        setTimeout(() => controller.abort(), 200 + Math.floor(rand() * 300));
        const res = await fetch(`${gw.url}/v1/topics/${encodeURIComponent(topic)}/events?group=${encodeURIComponent(group)}&from=earliest`, { headers: pick(credentials), signal: controller.signal }).catch(() => undefined);
        if (res && res.status >= 500 && res.status !== 503) failures.push(`events ${topic} ${group} -> ${res.status}`);
        await res?.body?.cancel().catch(() => undefined);
        break;
      }
      case 6: {
        const name = `i${Math.floor(rand() * 3)}`;
        const base = `/consumers/${encodeURIComponent(group)}/instances/${name}`;
        await http('POST', `/consumers/${encodeURIComponent(group)}`, { name, format: 'binary', 'auto.offset.reset': 'earliest', 'auto.commit.enable': pick(['true', 'false']) });
        await http('POST', `${base}/subscription`, { topics: [topic] });
        await http('GET', `${base}/records?timeout=100`);
        break;
      }
      case 7: {
        const base = `/consumers/${encodeURIComponent(group)}/instances/i${Math.floor(rand() * 3)}`;
        const partition = Math.floor(rand() * 4);
        await http('POST', `${base}/offsets`, rand() < 0.5 ? undefined : { offsets: [{ topic, partition, offset: Number(pick(offsets)) }] });
        await http('POST', `${base}/positions`, { offsets: [{ topic, partition, offset: Number(pick(offsets)) }] });
        await http('GET', `${base}/assignments`);
        if (rand() < 0.3) await http('DELETE', base);
        break;
      }
      case 8:
        // Deleting a group while its members come and go: 204, 404 or 409, never a 500.
        await http(rand() < 0.7 ? 'GET' : 'DELETE', `/v1/consumer-groups/${encodeURIComponent(group)}`);
        break;
    }
    if (gw.child.exitCode !== null) {
      failures.push(`the gateway exited with ${gw.child.exitCode} at step ${step}`);
      break;
    }
  }
  await new Promise((r) => setTimeout(r, 1000));
  for (const socket of sockets) {
    const bad = socket.frames.filter((f: Frame) => f.op === 'error' && Number(f.status) >= 500 && f.status !== 503);
    failures.push(...bad.map((f) => `error frame ${JSON.stringify(f).slice(0, 300)}`));
    socket.socket.terminate();
  }
  const health = await fetch(`${gw.url}/healthz`).catch(() => undefined);
  if (health?.status !== 200) failures.push(`/healthz answered ${health?.status ?? 'nothing'} at the end`);
  return failures;
}

test('without auth: no sequence of group operations on any topic ends the process or answers 500', async () => {
  const gw = await runGateway({ WS_SESSION_TIMEOUT_MS: '6000', CONSUMER_REQUEST_TIMEOUT_MS: '200', WS_MAX_SUBSCRIPTIONS: '8' });
  try {
    assert.deepEqual(await fuzz(gw, SEED, [{}]), []);
  } finally {
    gw.child.kill('SIGTERM');
    await gw.exit;
  }
});

test('with auth: no sequence of group operations by any principal, or none, ends the process or answers 500', async () => {
  const { env, keys } = authFiles(prefix);
  const gw = await runGateway({ ...env, WS_SESSION_TIMEOUT_MS: '6000', CONSUMER_REQUEST_TIMEOUT_MS: '200', WS_MAX_SUBSCRIPTIONS: '8' });
  try {
    const credentials: Array<Record<string, string>> = [{ 'x-api-key': keys.admin }, { 'x-api-key': keys.reader }, { 'x-api-key': keys.writer }, { 'x-api-key': 'wrong' }, {}];
    assert.deepEqual(await fuzz(gw, SEED + 1, credentials), []);
  } finally {
    gw.child.kill('SIGTERM');
    await gw.exit;
  }
});
