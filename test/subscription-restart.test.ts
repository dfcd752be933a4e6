/**
 * A subscription outliving its consumer, on its own, with stand-ins for
 * kafkajs consumers whose joins and crashes the test drives: a failure
 * kafkajs will not retry brings a new consumer that continues each
 * partition after the last record delivered, and a refusal by the broker
 * ends the subscription. The same paths against a real broker restart are
 * in ws-outage.test.ts, where they depend on timing.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import kafkajs, { type Admin, type EachMessagePayload, type Kafka } from 'kafkajs';
import { KafkaSubscription, type ConsumedRecord } from '../src/kafka/index.js';
import { quietLogger } from './helpers/env.js';

type Listener = (event: { payload: Record<string, unknown> }) => void;

/** What the subscription uses of a kafkajs consumer, recording what was asked of it. */
class FakeConsumer {
  readonly events = { GROUP_JOIN: 'consumer.group_join', CRASH: 'consumer.crash' };
  readonly seeks: Array<{ topic: string; partition: number; offset: string }> = [];
  readonly #listeners = new Map<string, Listener[]>();
  eachMessage?: (payload: EachMessagePayload) => Promise<void>;
  disconnected = false;

  on(name: string, listener: Listener): void {
    this.#listeners.set(name, [...(this.#listeners.get(name) ?? []), listener]);
  }
  emit(name: string, payload: Record<string, unknown>): void {
    for (const listener of this.#listeners.get(name) ?? []) listener({ payload });
  }
  async connect(): Promise<void> {}
  async subscribe(): Promise<void> {}
  async run(options: { eachMessage: (payload: EachMessagePayload) => Promise<void> }): Promise<void> {
    this.eachMessage = options.eachMessage;
  }
  seek(position: { topic: string; partition: number; offset: string }): void {
    this.seeks.push(position);
  }
  pause(): void {}
  resume(): void {}
  async disconnect(): Promise<void> {
    this.disconnected = true;
  }

  joins(assignment: Record<string, number[]>): void {
    this.emit(this.events.GROUP_JOIN, { memberAssignment: assignment });
  }
  crashes(error: Error): void {
    this.emit(this.events.CRASH, { error, restart: false });
  }
  async delivers(topic: string, partition: number, offset: number): Promise<void> {
    const message = { offset: String(offset), key: null, value: Buffer.from(String(offset)), headers: {}, timestamp: '0' };
    await this.eachMessage!({ topic, partition, message } as unknown as EachMessagePayload);
  }
}

function setUp() {
  const consumers: FakeConsumer[] = [];
  // The subscription needs consumer() of the client, and of the admin only deleteGroups (when it stops) for an earliest start.
  const kafka = {
    consumer: () => {
      const consumer = new FakeConsumer();
      consumers.push(consumer);
      return consumer;
    },
  } as unknown as Kafka;
  const delivered: ConsumedRecord[] = [];
  const fatal: Error[] = [];
  const subscription = new KafkaSubscription(
    kafka,
    { deleteGroups: async () => undefined } as unknown as Admin,
    { topics: ['t'], from: { kind: 'earliest' }, clientId: 'test' },
    { onRecord: (r) => delivered.push(r), onAssignment: () => undefined, onFatal: (e) => fatal.push(e) },
    { sessionTimeoutMs: 10_000, heartbeatIntervalMs: 1000, maxWaitMs: 100, maxBytesPerPartition: 65_536 },
    quietLogger(),
  );
  return { consumers, delivered, fatal, subscription };
}

const tick = () => new Promise((r) => setImmediate(r));
// kafkajs's type declarations leave out the message its constructor reads.
const CoordinatorNotFound = kafkajs.KafkaJSGroupCoordinatorNotFound as unknown as new (message: string) => Error;
// As kafkajs gives up: its retrier wraps the last failure as the cause.
const coordinatorGone = () =>
  Object.assign(new kafkajs.KafkaJSNonRetriableError('Failed to find group coordinator'), {
    cause: new CoordinatorNotFound('Failed to find group coordinator'),
  });

test('after a failure kafkajs will not retry, a new consumer continues each partition after the last record delivered', async () => {
  const { consumers, delivered, fatal, subscription } = setUp();
  const started = subscription.start();
  await tick();
  consumers[0]!.joins({ t: [0, 1] });
  assert.deepEqual(await started, [{ topic: 't', partitions: [0, 1] }]);
  assert.deepEqual(consumers[0]!.seeks, [], 'earliest: nothing to seek on the first join');
  for (const offset of [0, 1, 2, 3, 4]) await consumers[0]!.delivers('t', 0, offset);
  for (const offset of [10, 11]) await consumers[0]!.delivers('t', 1, offset);

  consumers[0]!.crashes(coordinatorGone());
  await new Promise((r) => setTimeout(r, 700));
  assert.equal(consumers.length, 2, 'a new consumer took over');
  assert.ok(consumers[0]!.disconnected);
  assert.deepEqual(fatal, []);
  consumers[1]!.joins({ t: [0, 1] });
  await tick();
  assert.deepEqual(
    consumers[1]!.seeks.sort((a, b) => a.partition - b.partition),
    [
      { topic: 't', partition: 0, offset: '5' },
      { topic: 't', partition: 1, offset: '12' },
    ],
  );
  assert.equal(delivered.length, 7);

  // The old consumer is gone: a late event of its own changes nothing.
  consumers[0]!.crashes(coordinatorGone());
  await new Promise((r) => setTimeout(r, 700));
  assert.equal(consumers.length, 2);
  await subscription.stop();
});

test('a refusal by the broker ends the subscription at once', async () => {
  const { consumers, fatal, subscription } = setUp();
  const started = subscription.start();
  await tick();
  consumers[0]!.joins({ t: [0] });
  await started;
  consumers[0]!.crashes(Object.assign(new kafkajs.KafkaJSProtocolError('Not authorized to access topics'), { type: 'TOPIC_AUTHORIZATION_FAILED', retriable: false }));
  await tick();
  assert.equal(fatal.length, 1);
  assert.equal((fatal[0] as { code?: string }).code, 'GW_ERR_FORBIDDEN');
  assert.equal(consumers.length, 1, 'no new consumer');
  await subscription.stop();
});

test('a failure before the first join is reported, not retried', async () => {
  const { consumers, fatal, subscription } = setUp();
  const started = subscription.start();
  await tick();
  consumers[0]!.crashes(coordinatorGone());
  await assert.rejects(started);
  assert.equal(fatal.length, 1);
  assert.equal(consumers.length, 1);
  await subscription.stop();
});
