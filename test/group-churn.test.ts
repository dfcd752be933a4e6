/**
 * Consumer groups under churn, judged from outside: members of several
 * groups connect, vanish without a word or leave cleanly, and ack at random
 * with receipts, while records keep coming and the broker restarts in the
 * middle. The judge (test/helpers/group-judge.ts) reads only what the
 * clients received: no partition is delivered by two members of a group at
 * once, nothing the group confirmed as committed comes again, and every
 * record is delivered until it is acked.
 *
 * Seeded (CHURN_SEED) and short here (CHURN_SECONDS, 12 by default); run it
 * for minutes with a larger CHURN_SECONDS.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startBroker, type Broker } from '../kafka/broker.js';
import { startGateway, type RunningGateway } from '../src/gateway.js';
import { Kafka, logLevel, type Producer } from './helpers/kafka-client.js';
import { eventually, quietLogger, testConfig, uniqueName } from './helpers/env.js';
import { judge, record, type JudgedFrame } from './helpers/group-judge.js';
import { WsClient } from './helpers/ws.js';
import { seededRandom } from './helpers/seeded.js';

const SECONDS = Number(process.env.CHURN_SECONDS ?? 12);
const SEED = Number(process.env.CHURN_SEED ?? 24);
const GROUPS = 3;
const PARTITIONS = 4;
const MAX_MEMBERS = 4;

let broker: Broker;
let gateway: RunningGateway;
let producer: Producer;
const escaped: unknown[] = [];
const onEscape = (error: unknown) => escaped.push(error);

before(async () => {
  process.on('uncaughtException', onEscape);
  process.on('unhandledRejection', onEscape);
  broker = await startBroker();
  const kafka = new Kafka({ brokers: [broker.brokers], logLevel: logLevel.NOTHING, retry: { retries: 30, maxRetryTime: 2000 } });
  producer = kafka.producer();
  await producer.connect();
  gateway = await startGateway(testConfig({ WS_SESSION_TIMEOUT_MS: '6000', WS_AUTO_COMMIT_INTERVAL_MS: '200' }, broker.brokers), quietLogger());
});
after(async () => {
  await gateway?.stop();
  await producer?.disconnect().catch(() => undefined);
  await broker?.stop();
  process.off('uncaughtException', onEscape);
  process.off('unhandledRejection', onEscape);
});

interface Member {
  readonly name: string;
  readonly client: WsClient;
}

test(`${GROUPS} groups, members coming and going for ${SECONDS} s with a broker restart: one holder per partition, nothing confirmed comes again, nothing lost`, async () => {
  const rand = seededRandom(SEED);
  const topic = uniqueName('churn');
  const admin = new Kafka({ brokers: [broker.brokers], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }], waitForLeaders: true });
  await admin.disconnect();
  const wsUrl = `${gateway.url.replace(/^http/, 'ws')}/v1/ws`;
  const groups = Array.from({ length: GROUPS }, (_, g) => ({ name: uniqueName(`churn-g${g}`), frames: [] as JudgedFrame[], members: [] as Member[] }));
  let serial = 0;

  const join = async (group: (typeof groups)[number]): Promise<Member | undefined> => {
    const name = `m${serial++}`;
    const client = await WsClient.connect(wsUrl).catch(() => undefined);
    if (!client) return undefined;
    const subscribe = { op: 'subscribe', id: 's', topics: [topic], group: group.name, from: 'earliest', ack: 'manual', receipts: true };
    record(client.socket, name, group.frames);
    client.socket.on('message', (data: Buffer) => {
      const frame = JSON.parse(data.toString()) as { op: string; id?: string; topic?: string; partition?: number; offset?: string; status?: number };
      // A subscribe refused while the broker is away is tried again, as a client would.
      if (frame.op === 'error' && frame.id === 's' && frame.offset === undefined && frame.status === 503) {
        setTimeout(() => client.send(subscribe), 300);
        return;
      }
      // Acks at random, some at once and some a little later, many never: those records must come again.
      if (frame.op !== 'record' || rand() < 0.4) return;
      const ack = () => client.send({ op: 'ack', sub: 's', topic: frame.topic, partition: frame.partition, offset: frame.offset });
      if (rand() < 0.5) ack();
      else setTimeout(ack, Math.floor(rand() * 300));
    });
    client.send(subscribe);
    const member = { name, client };
    group.members.push(member);
    return member;
  };

  const produced: string[] = [];
  let producing = true;
  const writer = (async () => {
    for (let round = 0; producing; round++) {
      const messages = Array.from({ length: PARTITIONS }, (_, partition) => ({ value: `r${round}p${partition}`, partition }));
      // During the restart a send fails; its records were never acknowledged, so they are not expected either.
      const sent = await producer.send({ topic, messages }).then(
        () => true,
        () => false,
      );
      if (sent) produced.push(...messages.map((m) => m.value));
      await new Promise((r) => setTimeout(r, 50));
    }
  })();

  for (const group of groups) await join(group);
  const started = Date.now();
  let restarting: Promise<void> | undefined;
  while (Date.now() - started < SECONDS * 1000) {
    // The churn goes on while the broker is away and while it comes back.
    if (!restarting && Date.now() - started > (SECONDS * 1000) / 4) restarting = broker.halt('graceful').then(() => broker.restart());
    const group = groups[Math.floor(rand() * GROUPS)]!;
    const choice = rand();
    if (group.members.length < 2 || (choice < 0.45 && group.members.length < MAX_MEMBERS)) {
      await join(group);
    } else {
      const member = group.members.splice(Math.floor(rand() * group.members.length), 1)[0]!;
      // Vanishing without a word (no close frame, no FIN handshake) and leaving cleanly, both.
      if (choice < 0.75) member.client.socket.terminate();
      else member.client.socket.close();
    }
    await new Promise((r) => setTimeout(r, 200 + Math.floor(rand() * 500)));
  }
  await restarting;
  producing = false;
  await writer;

  // The churn is over: whoever is left acks everything, and the group catches up to the end of the log.
  for (const group of groups) {
    const survivor = group.members.at(-1) ?? (await join(group))!;
    survivor.client.socket.on('message', (data: Buffer) => {
      const frame = JSON.parse(data.toString()) as { op: string; topic?: string; partition?: number; offset?: string };
      if (frame.op === 'record') survivor.client.send({ op: 'ack', sub: 's', topic: frame.topic, partition: frame.partition, offset: frame.offset });
    });
  }
  for (const group of groups) {
    await eventually(
      async () => {
        const seen = new Set(group.frames.filter(({ frame }) => frame.op === 'record').map(({ frame }) => String(frame.value)));
        return produced.every((value) => seen.has(value));
      },
      60_000,
      250,
    ).catch(() => undefined);
  }
  for (const group of groups) {
    const seen = new Set(group.frames.filter(({ frame }) => frame.op === 'record').map(({ frame }) => String(frame.value)));
    const missing = produced.filter((value) => !seen.has(value));
    if (missing.length > 0) {
      const last = group.members.map((m) => `${m.name}: ${JSON.stringify(group.frames.filter((f) => f.member === m.name && (f.frame.op === 'assigned' || f.frame.op === 'subscribed' || f.frame.op === 'error')).slice(-3).map((f) => f.frame))}`);
      const committed = await gateway.services.subscriptions.committedOffsets(group.name, [{ topic, partitions: [0, 1, 2, 3] }]);
      const lastRecords = [0, 1, 2, 3].map((p) => group.frames.filter((f) => f.frame.op === 'record' && f.frame.partition === p).slice(-2).map((f) => `${f.member}:${String(f.frame.offset)}=${String(f.frame.value)}`));
      console.error(JSON.stringify({ last, committed: [...committed].map(([k, v]) => `${k}=${v}`), lastRecords }, null, 1));
    }
    assert.deepEqual(missing.slice(0, 20), [], `${group.name}: ${missing.length} of ${produced.length} records never delivered`);
    assert.deepEqual(judge(group.frames).slice(0, 20), [], `${group.name}: what the judge saw`);
    const acked = group.frames.filter(({ frame }) => frame.op === 'acked').length;
    const errors = group.frames.filter(({ frame }) => frame.op === 'error');
    assert.ok(acked > 0, `${group.name}: no ack was ever confirmed`);
    // An ack is answered with acked, or an error frame naming it: never a 500.
    assert.deepEqual(errors.filter(({ frame }) => Number(frame.status) >= 500 && frame.status !== 503).map(({ frame }) => frame), []);
  }
  for (const group of groups) for (const member of group.members) member.client.socket.terminate();
  assert.deepEqual(escaped, [], 'nothing escaped as an uncaught exception or unhandled rejection');
  // Every member of the run is gone from the engine (the gateway's own readers, such as the schema topic's, may remain).
  await eventually(async () => !gateway.services.subscriptions.stats().topics.some((t) => t.topic === topic && t.durable + t.ephemeral > 0), 30_000);
});
