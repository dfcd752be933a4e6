/**
 * A subscription as pure logic, with the broker played by the test: the
 * partition streams are real, their fetches answered by hand; partition
 * counts, log offsets and the group (its generations and commits) are a
 * fake broker's. Positions, demand, which acks are refused and how, and
 * what a rebalance that takes a partition away does.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type GatewayError } from '../../../src/common/errors.js';
import { quietLogger } from '../../helpers/env.js';
import type { ConsumedRecord } from '../../../src/kafka/consume/consumed-record.js';
import type { GroupMember, MemberEvents, TopicPartitions } from '../../../src/kafka/consume/group-member.js';
import { PartitionStream, type FetchQueue } from '../../../src/kafka/consume/partition-stream.js';
import { Subscription, type PartitionHandle, type SubscriptionContext, type SubscriptionOptions } from '../../../src/kafka/consume/subscription.js';

const tick = () => new Promise((r) => setImmediate(r));
const record = (topic: string, partition: number, offset: bigint, key: string | null = null): ConsumedRecord => ({
  topic,
  partition,
  offset,
  timestamp: 0,
  key: key === null ? null : Buffer.from(key),
  keyId: key === null ? null : Buffer.from(key).toString('latin1'),
  value: null,
  headers: [],
  size: 100,
});

/** The broker as the subscription sees it: topics with a log range per partition, and a group that commits. */
class FakeBroker implements FetchQueue {
  readonly streams = new Map<string, PartitionStream>();
  readonly needs: PartitionStream[] = [];
  readonly commits: Array<{ topic: string; partition: number; next: bigint }> = [];
  readonly committedOffsets = new Map<string, bigint>();
  member?: { events: MemberEvents; left: boolean };

  constructor(readonly logs: Record<string, Array<{ start: bigint; end: bigint }>>) {}

  need(stream: PartitionStream): void {
    this.needs.push(stream);
  }

  /** Answers the stream's outstanding fetch with records up to `to` (exclusive). */
  answer(topic: string, partition: number, to: bigint, keys: Array<string | null> = []): void {
    const stream = this.streams.get(`${topic}:${partition}`)!;
    const from = stream.nextFetchOffset()!;
    const records = Array.from({ length: Number(to - from) }, (_, i) => record(topic, partition, from + BigInt(i), keys[i] ?? null));
    stream.fetched(from, { records, next: to }, to);
  }

  context(): SubscriptionContext {
    return {
      acquire: (topic, partition) => {
        const k = `${topic}:${partition}`;
        let stream = this.streams.get(k);
        if (!stream) {
          stream = new PartitionStream(topic, partition, this, { cacheBytes: 100_000, deliveryBytes: 100_000 });
          this.streams.set(k, stream);
        }
        return stream;
      },
      release: (stream, reader) => stream.detach(reader),
      partitionCount: async (topic) => this.logs[topic]?.length ?? 0,
      logOffsets: async (topic, partitions, timestamp) =>
        new Map(partitions.map((p) => [p, timestamp === -2n ? this.logs[topic]![p]!.start : this.logs[topic]![p]!.end])),
      joinGroup: async (_group, _topics, events) => {
        const member = { events, left: false };
        this.member = member;
        const committed = async (partitions: readonly TopicPartitions[]) =>
          new Map(partitions.flatMap(({ topic, partitions: list }) => list.map((p) => [`${topic}:${p}`, this.committedOffsets.get(`${topic}:${p}`) ?? -1n] as const)));
        return {
          groupId: 'g',
          join: async () => events.onJoin({ memberId: 'm1', generationId: 1, assignment: [{ topic: 't', partitions: [0, 1] }] }),
          committed,
          commit: async (offsets: ReadonlyArray<{ topic: string; partition: number; next: bigint }>) => {
            this.commits.push(...offsets);
          },
          leave: async () => {
            member.left = true;
          },
        } as unknown as GroupMember;
      },
      groupOffsets: () => ({ committed: async () => new Map(), commit: async (offsets) => void this.commits.push(...offsets) }),
      stopped: () => undefined,
      autoCommitIntervalMs: 60_000,
      clientId: 'gateway',
      logger: quietLogger(),
    };
  }
}

/** What the socket side receives: every batch with the handle it came from. */
function receiver() {
  const got: Array<{ from: PartitionHandle; offsets: bigint[] }> = [];
  const assignments: TopicPartitions[][] = [];
  const fatal: GatewayError[] = [];
  return {
    got,
    assignments,
    fatal,
    events: {
      onRecords: (from: PartitionHandle, records: readonly ConsumedRecord[]) => got.push({ from, offsets: records.map((r) => r.offset) }),
      onAssignment: (assignment: readonly TopicPartitions[]) => assignments.push([...assignment]),
      onFatal: (error: GatewayError) => fatal.push(error),
    },
  };
}

const options = (over: Partial<SubscriptionOptions> = {}): SubscriptionOptions => ({ topics: ['t'], from: { kind: 'earliest' }, ack: 'manual', ...over });

test('without a group it holds every partition, placed where "from" says', async () => {
  const broker = new FakeBroker({ t: [{ start: 3n, end: 10n }, { start: 0n, end: 4n }] });
  for (const [from, expected] of [
    [{ kind: 'earliest' }, [3n, 0n]],
    [{ kind: 'latest' }, [10n, 4n]],
    [{ kind: 'offsets', offsets: { t: { '0': '5' } } }, [5n, 4n]],
    [{ kind: 'offsets', offsets: { t: { '1': '2' } }, unlisted: 'earliest' }, [3n, 2n]],
  ] as const) {
    const sub = new Subscription(options({ from }), receiver().events, broker.context());
    assert.deepEqual(await sub.start(), [{ topic: 't', partitions: [0, 1] }]);
    assert.deepEqual(sub.positions().map((p) => p.position), expected, JSON.stringify(from));
    await sub.stop();
  }
});

test('start offsets outside the log or naming a partition the topic lacks are refused with a pointer', async () => {
  const broker = new FakeBroker({ t: [{ start: 3n, end: 10n }] });
  await assert.rejects(new Subscription(options({ from: { kind: 'offsets', offsets: { t: { '0': '11' } } } }), receiver().events, broker.context()).start(), (e: GatewayError) => {
    assert.equal(e.code, 'GW_ERR_VALIDATION');
    assert.deepEqual(e.errors?.map((f) => f.pointer), ['/from/t/0']);
    return true;
  });
  await assert.rejects(new Subscription(options({ from: { kind: 'offsets', offsets: { t: { '4': '0' } } } }), receiver().events, broker.context()).start(), (e: GatewayError) => {
    assert.equal(e.code, 'GW_ERR_VALIDATION');
    assert.deepEqual(e.errors?.map((f) => f.pointer), ['/from/t/4']);
    return true;
  });
  await assert.rejects(new Subscription(options({ from: { kind: 'offsets', offsets: { other: { '0': '0' } } } }), receiver().events, broker.context()).start(), /does not read/);
});

test('records flow only while there is demand, and the position moves past what was handed', async () => {
  const broker = new FakeBroker({ t: [{ start: 0n, end: 0n }] });
  const r = receiver();
  const sub = new Subscription(options(), r.events, broker.context());
  await sub.start();
  await tick();
  assert.equal(broker.needs.length, 0, 'no fetch without demand');
  sub.setDemand(true);
  await tick();
  assert.equal(broker.needs.length, 1);
  broker.answer('t', 0, 3n);
  await tick();
  assert.deepEqual(r.got.map((g) => g.offsets), [[0n, 1n, 2n]]);
  assert.equal(sub.positions()[0]!.position, 3n);
  sub.setDemand(false);
  assert.equal(sub.wanting, false);
  await sub.stop();
});

test('a key filter hands over only matching records, and what it left out still counts as passed once the rest is written', async () => {
  const broker = new FakeBroker({ t: [{ start: 0n, end: 0n }] });
  const r = receiver();
  const sub = new Subscription(options({ keys: [Buffer.from('a')] }), r.events, broker.context());
  await sub.start();
  sub.setDemand(true);
  await tick();
  broker.answer('t', 0, 4n, ['a', 'b', 'a', 'b']);
  await tick();
  assert.deepEqual(r.got.map((g) => g.offsets), [[0n, 2n]]);
  assert.equal(sub.positions()[0]!.passed, 0n, 'nothing written yet');
  r.got[0]!.from.written(0n);
  r.got[0]!.from.written(2n);
  assert.equal(sub.positions()[0]!.passed, 4n, 'past the filtered-out record at the end of the batch');
  await sub.stop();
});

test('acks: a record not delivered, a topic not read or a partition never held is a 400; a commit goes to the group as offset + 1', async () => {
  const broker = new FakeBroker({ t: [{ start: 0n, end: 0n }, { start: 0n, end: 0n }] });
  const r = receiver();
  const sub = new Subscription(options({ group: 'g' }), r.events, broker.context());
  await sub.start();
  sub.setDemand(true);
  await tick();
  broker.answer('t', 0, 2n);
  await tick();
  const code = (e: unknown) => (e as GatewayError).code;
  await assert.rejects(sub.ack('t', 0, '0'), (e) => code(e) === 'GW_ERR_VALIDATION', 'handed but not yet written');
  r.got[0]!.from.written(0n);
  await sub.ack('t', 0, '0');
  assert.deepEqual(broker.commits, [{ topic: 't', partition: 0, next: 1n }]);
  await assert.rejects(sub.ack('t', 0, '1'), (e) => code(e) === 'GW_ERR_VALIDATION', 'not written');
  await assert.rejects(sub.ack('other', 0, '0'), (e) => code(e) === 'GW_ERR_VALIDATION' && /does not read topic/.test((e as Error).message));
  await assert.rejects(sub.ack('t', 7, '0'), (e) => code(e) === 'GW_ERR_VALIDATION' && /does not hold partition/.test((e as Error).message));
  await assert.rejects(sub.ack('t', 0, String(2n ** 63n)), (e) => code(e) === 'GW_ERR_VALIDATION');
  await sub.stop();
});

test('a rebalance that takes a partition away: it stops delivering, its handle says so, and an ack for it is a 409', async () => {
  const broker = new FakeBroker({ t: [{ start: 0n, end: 0n }, { start: 0n, end: 0n }] });
  const r = receiver();
  const sub = new Subscription(options({ group: 'g' }), r.events, broker.context());
  assert.deepEqual(await sub.start(), [{ topic: 't', partitions: [0, 1] }]);
  sub.setDemand(true);
  await tick();
  broker.answer('t', 1, 2n);
  await tick();
  const handle = r.got[0]!.from;
  handle.written(0n);
  broker.member!.events.onJoin({ memberId: 'm1', generationId: 2, assignment: [{ topic: 't', partitions: [0] }] });
  await tick();
  await tick();
  assert.deepEqual(r.assignments, [[{ topic: 't', partitions: [0] }]]);
  assert.equal(handle.held, false, 'queued records of the partition must not be sent');
  assert.equal(broker.streams.get('t:1')!.readerCount, 0, 'the partition stream was released');
  await assert.rejects(sub.ack('t', 1, '0'), (e: GatewayError) => e.code === 'GW_ERR_CONFLICT');
  await sub.stop();
  assert.equal(broker.member!.left, true);
});

test('seek moves a held partition; a partition not held is a 409, an offset outside Kafka\'s range a 400', async () => {
  const broker = new FakeBroker({ t: [{ start: 2n, end: 9n }] });
  const sub = new Subscription(options(), receiver().events, broker.context());
  await sub.start();
  assert.equal(await sub.seek('t', 0, 'end'), 9n);
  assert.equal(await sub.seek('t', 0, 'beginning'), 2n);
  assert.equal(await sub.seek('t', 0, 5n), 5n);
  assert.equal(sub.positions()[0]!.position, 5n);
  await assert.rejects(sub.seek('t', 3, 0n), (e: GatewayError) => e.code === 'GW_ERR_CONFLICT');
  await assert.rejects(sub.seek('t', 0, -1n), (e: GatewayError) => e.code === 'GW_ERR_VALIDATION');
  await sub.stop();
});
