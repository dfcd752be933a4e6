/**
 * The churn of test/group-churn.test.ts on a real 3-node cluster, while the
 * group's coordinator is killed, comes back, and is then moved with every
 * node up: members of one group come and go and ack with receipts, and the
 * judge (test/helpers/group-judge.ts) finds one holder per partition at a
 * time and nothing confirmed delivered again; after it, commits go on to
 * the end of the log and every record was delivered.
 *
 * Then a share group on the same cluster while it moves under its workers:
 * a partition's leader moves to the group's coordinator, and that node,
 * leading the group and a partition, is killed and comes back. Three
 * WebSocket workers accept every record; none is lost, and none is
 * confirmed accepted twice (an answer that could not reach Kafka fails
 * with an error frame, and its record comes back to be accepted).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startCluster, type Cluster, type NodeId } from '../kafka/cluster.js';
import { startGateway, type RunningGateway } from '../src/gateway.js';
import { eventually, quietLogger, testConfig, uniqueName } from './helpers/env.js';
import { judge, record, type JudgedFrame } from './helpers/group-judge.js';
import { committedOffsets, consumeAll, createTopic, produceDirect, withAdmin } from './helpers/kafka.js';
import { WsClient } from './helpers/ws.js';
import { acceptingWorkers } from './helpers/accepting-workers.js';

const PARTITIONS = 4;
let cluster: Cluster;
let gateway: RunningGateway;

before(async () => {
  // Short share locks, so that a record whose answer failed comes back within the test (the broker's floor is 15 s).
  cluster = await startCluster({ extraProperties: { 'group.share.min.record.lock.duration.ms': '1000' } });
  gateway = await startGateway(testConfig({ WS_SESSION_TIMEOUT_MS: '6000' }, cluster.brokers), quietLogger());
});
after(async () => {
  await gateway?.stop();
  await cluster?.stop();
});

test('members of a group come and go while its coordinator is killed, comes back and moves: one holder at a time, commits go on, nothing lost', async (t) => {
  const topic = uniqueName('cluster-churn');
  const group = uniqueName('cluster-churn-g');
  await createTopic(cluster.brokers, topic, PARTITIONS);
  const wsUrl = `${gateway.url.replace(/^http/, 'ws')}/v1/ws`;
  const frames: JudgedFrame[] = [];
  const members: WsClient[] = [];
  let serial = 0;
  let ackAll = false;
  const join = async () => {
    const client = await WsClient.connect(wsUrl);
    const name = `m${serial++}`;
    record(client.socket, name, frames);
    const subscribe = { op: 'subscribe', id: 's', topics: [topic], group, from: 'earliest', ack: 'manual', receipts: true };
    client.socket.on('message', (data: Buffer) => {
      const frame = JSON.parse(data.toString()) as { op: string; id?: string; topic?: string; partition?: number; offset?: string; status?: number };
      if (frame.op === 'error' && frame.id === 's' && frame.offset === undefined && frame.status === 503) setTimeout(() => client.send(subscribe), 500);
      // Every other record is acked while the cluster moves; all of them once it is over.
      if (frame.op === 'record' && (ackAll || Number(frame.offset) % 2 === 0)) client.send({ op: 'ack', sub: 's', topic: frame.topic, partition: frame.partition, offset: frame.offset });
    });
    client.send(subscribe);
    members.push(client);
  };
  const produced: string[] = [];
  const round = async (label: string) => {
    const values = Array.from({ length: PARTITIONS * 3 }, (_, i) => `${label}-${i}`);
    await produceDirect(cluster.brokers, topic, values.map((value, i) => ({ value, partition: i % PARTITIONS })));
    produced.push(...values);
  };
  const churn = async () => {
    await join();
    await new Promise((r) => setTimeout(r, 1500));
    members.shift()!.socket.terminate();
  };

  await join();
  await join();
  await round('before');
  const coordinator = (await cluster.coordinatorOf(group)) as NodeId;
  t.diagnostic(`the group's coordinator is node ${coordinator}; killing it`);
  await cluster.halt(coordinator, 'kill');
  await churn();
  await round('coordinator-down').catch(() => undefined);
  await cluster.restart(coordinator);
  await round('coordinator-back');
  await churn();
  const current = (await cluster.coordinatorOf(group)) as NodeId;
  const to = ([1, 2, 3] as NodeId[]).find((n) => n !== current)!;
  t.diagnostic(`moving the group's coordinator to node ${to}`);
  await cluster.moveCoordinator(group, to);
  await churn();
  // From here on every record is acked, those of the last round too: set after that round, a member could be
  // handed its last records first and leave them unacked, its partition's commit short of the end for good.
  ackAll = true;
  await round('moved');
  await join(); // one more member: a rebalance with every member acking everything
  // The end of each partition, not the count of what was produced: a round that failed while the coordinator was
  // down may still have written some of its records, and those count too.
  const ends = new Map((await withAdmin(cluster.brokers, (admin) => admin.fetchTopicOffsets(topic))).map((p) => [p.partition, Number(p.high)]));
  await eventually(
    async () => {
      const offsets = await committedOffsets(cluster.brokers, group, topic);
      return [...ends].every(([p, end]) => Number(offsets.get(p) ?? -1) >= end);
    },
    90_000,
    500,
  );
  const seen = new Set(frames.filter(({ frame }) => frame.op === 'record').map(({ frame }) => String(frame.value)));
  const log = await consumeAll(cluster.brokers, topic);
  const inLog = log.map((r) => String(r.value));
  const where = log.map((r) => `${r.partition}@${r.offset}=${String(r.value)}${seen.has(String(r.value)) ? '' : '(undelivered)'}`).join(' ');
  assert.deepEqual(produced.filter((v) => !inLog.includes(v)), [], `every record the producer was told was written is in the log; it holds ${where}; ends were ${JSON.stringify([...ends])}`);
  assert.deepEqual(inLog.filter((v) => !seen.has(v)), [], `every record in the log delivered; it holds ${where}`);
  assert.deepEqual(judge(frames), []);
  assert.deepEqual(frames.filter(({ frame }) => frame.op === 'error' && Number(frame.status) >= 500 && frame.status !== 503).map(({ frame }) => frame), []);
  for (const member of members) member.socket.terminate();
});

const QUEUE_PARTITIONS = 3;

test('a share group keeps every record exactly once while a leader moves and the node leading it and the group is killed', { timeout: 240_000 }, async (t) => {
  const topic = uniqueName('cluster-queue');
  const group = uniqueName('cluster-workers');
  await createTopic(cluster.brokers, topic, QUEUE_PARTITIONS);
  await withAdmin(cluster.brokers, (admin) =>
    admin.client.incrementalAlterConfigs({
      resources: [
        {
          resourceType: 32,
          resourceName: group,
          configs: [
            { name: 'share.auto.offset.reset', configOperation: 0, value: 'earliest' },
            { name: 'share.record.lock.duration.ms', configOperation: 0, value: '5000' },
          ],
        },
      ],
    }),
  );
  // Records come in three rounds, each written just before the cluster moves, so that work is in flight through every move.
  const values: string[] = [];
  const produceRound = async () => {
    const round = Array.from({ length: 60 }, (_, i) => `r${values.length + i}`);
    await produceDirect(cluster.brokers, topic, round.map((value, i) => ({ value, partition: i % QUEUE_PARTITIONS })));
    values.push(...round);
  };
  await produceRound();

  const workers = await acceptingWorkers(gateway.url, topic, group, { credit: 1, answerAfterMs: 100 });
  const until = async (count: number, label: string) => {
    await workers.until(count, values.length, label);
    t.diagnostic(`${label}: ${workers.seen(values.length)}`);
  };

  // One kill does both: the group's coordinator is made to lead a partition first (the leader move), then killed.
  await until(20, 'working');
  await produceRound();
  const coordinator = (await cluster.coordinatorOf(group)) as NodeId;
  let moved = 0;
  while (moved < QUEUE_PARTITIONS - 1 && (await cluster.leaderOf(topic, moved)) === coordinator) moved += 1;
  const from = await cluster.leaderOf(topic, moved);
  await cluster.moveLeader(topic, moved, coordinator);
  await until(80, `leader of partition ${moved} moved from node ${from} to node ${coordinator}, the group's coordinator`);

  await produceRound();
  await cluster.halt(coordinator, 'kill');
  await until(120, `node ${coordinator}, the group's coordinator and a partition's leader, killed`);
  await cluster.restart(coordinator);
  await until(values.length, `node ${coordinator} back`);

  await workers.assertEachOnce(values);
  // Answers Kafka did not take say why: unreachable (503), or no longer this member's record (409); nothing else.
  const codes = new Set([...workers.errors.keys()].map((key) => key.split(':')[0]));
  assert.deepEqual([...codes].filter((code) => code !== 'GW_ERR_KAFKA_UNAVAILABLE' && code !== 'GW_ERR_CONFLICT'), [], workers.seen(values.length));
  await workers.close();
});
