/**
 * The broker stopped and restarted under live subscriptions, gracefully
 * (SIGTERM) and as a crash (SIGKILL): every subscription resumes on its own
 * with no gap and no repeat, a client that leaves while the broker is away
 * leaves no member behind in its group, and nothing escapes as an uncaught
 * exception or rejection.
 */
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { after, before, test } from 'node:test';
import { Kafka, logLevel, type Admin, type Producer } from './helpers/kafka-client.js';
import { startBroker, type Broker } from '../kafka/broker.js';
import { startGateway, type RunningGateway } from '../src/gateway.js';
import { createLogger } from '../src/common/logger.js';
import { eventually, testConfig, uniqueName } from './helpers/env.js';
import { WsClient, isOp, isRecord, type Frame } from './helpers/ws.js';
import { brokerMembers } from './helpers/group-members.js';

let broker: Broker;
let gateway: RunningGateway;
let producer: Producer;
let admin: Admin;
const topic = uniqueName('outage');
// The gateway's warnings and errors, kept to explain a failure.
const logLines: string[] = [];
const logStream = new PassThrough();
logStream.on('data', (chunk: Buffer) => logLines.push(...chunk.toString().split('\n').filter(Boolean)));
// Anything that escapes would take a real gateway process down (src/main.ts exits on it).
const escaped: Array<{ event: string; error: unknown }> = [];
const onUncaught = (event: string) => (error: unknown) => escaped.push({ event, error });
const uncaught = onUncaught('uncaughtException');
const unhandled = onUncaught('unhandledRejection');

before(async () => {
  process.on('uncaughtException', uncaught);
  process.on('unhandledRejection', unhandled);
  broker = await startBroker();
  const kafka = new Kafka({ brokers: [broker.brokers], logLevel: logLevel.NOTHING, retry: { retries: 20, maxRetryTime: 2000 } });
  admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true });
  producer = kafka.producer();
  await producer.connect();
  gateway = await startGateway(testConfig({ WS_SESSION_TIMEOUT_MS: '6000', WS_AUTO_COMMIT_INTERVAL_MS: '100', WS_MAX_CONNECTIONS_PER_ADDRESS: '100000' }, broker.brokers), createLogger(process.env.OUTAGE_LOG === 'debug' ? 'debug' : 'warn', logStream));
});
after(async () => {
  if (process.env.OUTAGE_LOG) (await import('node:fs')).writeFileSync(process.env.OUTAGE_LOG_FILE ?? '/tmp/outage-debug.log', logLines.join('\n'));
  await gateway?.stop();
  await producer?.disconnect().catch(() => undefined);
  await admin?.disconnect().catch(() => undefined);
  await broker?.stop();
  process.off('uncaughtException', uncaught);
  process.off('unhandledRejection', unhandled);
});

const values = (frames: readonly Frame[]) => frames.map((f) => Number(f.value));

function explain(client: WsClient, sub: string): string {
  return [
    `${sub}: frames other than records:`,
    ...client.frames.filter((f) => f.op !== 'record').map((f) => JSON.stringify(f)),
    'Gateway log (warn and above):',
    ...logLines.slice(-40),
  ].join('\n');
}

/** Every value from `from` to `to - 1`, each exactly once. */
async function expectExactly(client: WsClient, sub: string, from: number, to: number): Promise<void> {
  const expected = Array.from({ length: to - from }, (_, i) => from + i);
  await eventually(async () => client.frames.filter(isRecord(sub)).length >= expected.length, 90_000).catch(() => undefined);
  const got = values(client.frames.filter(isRecord(sub))).filter((v) => v >= from);
  assert.deepEqual([...got].sort((a, b) => a - b), expected, explain(client, sub));
}

async function produce(from: number, count: number): Promise<void> {
  await producer.send({ topic, messages: Array.from({ length: count }, (_, i) => ({ key: String(from + i), value: String(from + i) })) });
}

async function subscribe(url: string, sub: string, extra: Record<string, unknown> = {}): Promise<WsClient> {
  const client = await WsClient.connect(url);
  client.send({ op: 'subscribe', id: sub, topics: [topic], ...extra });
  await client.next(isOp('subscribed', sub));
  return client;
}

test('subscriptions resume after a graceful broker restart with no gap and no repeat', async () => {
  const url = `${gateway.url.replace(/^http/, 'ws')}/v1/ws`;
  const group = uniqueName('outage-group');
  const durable = await subscribe(url, 'd', { group, from: 'earliest' });
  const ephemeral = await subscribe(url, 'e', { from: 'earliest' });
  // From latest with no group: nothing committed anywhere, so it must continue where its delivery stopped.
  const latest = await subscribe(url, 'l');
  // Many readers of the same partitions, all on one shared fetch, all through the restart.
  const crowd = await Promise.all(Array.from({ length: 100 }, () => subscribe(url, 'c')));

  await produce(0, 10);
  await durable.collect(isRecord('d'), 10);
  // What was delivered is committed (auto ack) before the broker goes: a commit the halt overtook would bring records back by design.
  await eventually(async () => {
    const [offsets] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    return offsets?.partitions.reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0) === 10;
  });
  await broker.halt();
  await new Promise((r) => setTimeout(r, 2000));
  await broker.restart();
  await produce(10, 10);

  await expectExactly(durable, 'd', 0, 20);
  await expectExactly(ephemeral, 'e', 0, 20);
  await expectExactly(latest, 'l', 0, 20);
  for (const client of crowd) await expectExactly(client, 'c', 0, 20);
  await Promise.all([durable, ephemeral, latest, ...crowd].map((c) => c.close()));
});

/** Produces one record every `everyMs` until stopped; values whose send failed may or may not be in the log. */
function feed(from: number, everyMs: number) {
  const certain: number[] = [];
  const uncertain: number[] = [];
  let next = from;
  let running = true;
  const loop = (async () => {
    while (running) {
      const value = next++;
      await producer.send({ topic, messages: [{ key: String(value), value: String(value) }] }).then(
        () => certain.push(value),
        () => uncertain.push(value),
      );
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { certain, uncertain };
    },
  };
}

test('a broker killed outright under load: a thousand subscriptions resume, and a client that left meanwhile leaves no member in its group', async () => {
  const url = `${gateway.url.replace(/^http/, 'ws')}/v1/ws`;
  const group = uniqueName('ghost');
  const leaver = await subscribe(url, 'g', { group, from: 'earliest' });
  const crowd: WsClient[] = [];
  for (let i = 0; i < 1000; i += 100) crowd.push(...(await Promise.all(Array.from({ length: 100 }, () => subscribe(url, 'c')))));
  await produce(100, 10);
  await leaver.collect(isRecord('g'), 30); // everything so far, from earliest
  for (const client of crowd) await client.collect(isRecord('c'), 10);
  // Auto-acknowledged: the group's commits reach the end of the log, so its next member starts after what was delivered.
  const ends = await admin.fetchTopicOffsets(topic);
  await eventually(async () => {
    const [committed] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    return ends.every((end) => committed?.partitions.find((p) => p.partition === end.partition)?.offset === end.high);
  });

  // Records keep coming while the broker is killed and while it is away.
  const load = feed(1000, 20);
  await new Promise((r) => setTimeout(r, 500));
  await broker.halt('kill');
  // The client goes while the gateway cannot reach the broker to say so.
  await leaver.close();
  await new Promise((r) => setTimeout(r, 1000));
  await broker.restart();
  await new Promise((r) => setTimeout(r, 1000));
  const { certain, uncertain } = await load.stop();

  // Asked of the broker, not the gateway: the member is gone once its session runs out, and stays gone.
  await eventually(async () => (await brokerMembers(admin, group)) === 0, 30_000);
  await new Promise((r) => setTimeout(r, 3000));
  assert.equal((await brokerMembers(admin, group)), 0, 'a member with no socket joined the group again');

  // Every subscription of the crowd: everything certainly written, nothing twice, no gap.
  for (const client of crowd) {
    await eventually(async () => values(client.frames.filter(isRecord('c'))).filter((v) => v >= 1000).length >= certain.length, 60_000).catch(() => undefined);
    const got = values(client.frames.filter(isRecord('c'))).filter((v) => v >= 1000);
    assert.equal(new Set(got).size, got.length, explain(client, 'c'));
    const missing = certain.filter((v) => !got.includes(v));
    assert.deepEqual(missing, [], explain(client, 'c'));
    assert.ok(got.every((v) => certain.includes(v) || uncertain.includes(v)));
  }

  // A later client of the group gets every partition and the records produced since.
  await produce(5000, 10);
  const successor = await subscribe(url, 'g', { group });
  assert.deepEqual((successor.frames.find(isOp('subscribed', 'g'))!.partitions as unknown[])[0], { topic, partitions: [0, 1] });
  await expectExactly(successor, 'g', 5000, 5010);
  await Promise.all([successor, ...crowd].map((c) => c.close()));
});

test('nothing escaped as an uncaught exception or unhandled rejection', () => {
  assert.deepEqual(
    escaped.map(({ event, error }) => `${event}: ${error instanceof Error ? error.stack : String(error)}`),
    [],
  );
});
