/**
 * A share group on a real 3-node cluster while it moves under its
 * workers: a partition's leader moves, the node leading another is killed
 * and comes back, and the group's coordinator is killed and comes back.
 * Three WebSocket workers accept every record; none is lost, and none is
 * confirmed accepted twice (an answer that could not reach Kafka fails
 * with an error frame, and its record comes back to be accepted).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startCluster, type Cluster, type NodeId } from '../kafka/cluster.js';
import { startGateway, type RunningGateway } from '../src/gateway.js';
import { eventually, quietLogger, testConfig, uniqueName } from './helpers/env.js';
import { createTopic, produceDirect, withAdmin } from './helpers/kafka.js';
import { WsClient, isOp, type Frame } from './helpers/ws.js';

const PARTITIONS = 3;
let cluster: Cluster;
let gateway: RunningGateway;

before(async () => {
  // Short locks, so that a record whose answer failed comes back within the test (the broker's floor is 15 s).
  cluster = await startCluster({ extraProperties: { 'group.share.min.record.lock.duration.ms': '1000' } });
  gateway = await startGateway(testConfig({ WS_SESSION_TIMEOUT_MS: '6000' }, cluster.brokers), quietLogger());
});
after(async () => {
  await gateway?.stop();
  await cluster?.stop();
});

test('a share group keeps every record exactly once while a leader moves, a leader is killed and its coordinator is killed', { timeout: 240_000 }, async (t) => {
  const topic = uniqueName('cluster-queue');
  const group = uniqueName('cluster-workers');
  await createTopic(cluster.brokers, topic, PARTITIONS);
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
  // Records come in four rounds, each written just before the cluster moves, so that work is in flight through every move.
  const values: string[] = [];
  const produceRound = async () => {
    const round = Array.from({ length: 60 }, (_, i) => `r${values.length + i}`);
    await produceDirect(cluster.brokers, topic, round.map((value, i) => ({ value, partition: i % PARTITIONS })));
    values.push(...round);
  };
  await produceRound();

  const confirmed = new Map<string, number>();
  const pending = new Map<string, string>();
  const errors = new Map<string, number>();
  let answers = 0;
  let delivered = 0;
  const url = `${gateway.url.replace(/^http/, 'ws')}/v1/ws`;
  const workers: WsClient[] = [];
  const startWorker = async () => {
    const ws = await WsClient.connect(url);
    ws.socket.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as Frame;
      if (frame.op === 'record') {
        delivered += 1;
        const id = `a${answers++}`;
        pending.set(id, String(frame.value));
        setTimeout(() => {
          ws.send({ op: 'answer', id, sub: 'w', topic: frame.topic, partition: frame.partition, offset: frame.offset, outcome: 'accept' });
          ws.send({ op: 'credit', sub: 'w', n: 1 });
        }, 100);
      } else if (frame.op === 'answered') {
        const value = pending.get(String(frame.id))!;
        confirmed.set(value, (confirmed.get(value) ?? 0) + 1);
      } else if (frame.op === 'error') {
        // An answer that did not reach Kafka: its record is delivered again.
        const key = `${String(frame.code)}: ${String(frame.detail)}`;
        errors.set(key, (errors.get(key) ?? 0) + 1);
      }
    });
    ws.send({ op: 'subscribe', id: 'w', topics: [topic], shareGroup: group, credit: 1 });
    await ws.next(isOp('subscribed', 'w'), 60_000);
    workers.push(ws);
  };
  await Promise.all([startWorker(), startWorker(), startWorker()]);
  const seen = () => `${confirmed.size} of ${values.length} confirmed, ${delivered} deliveries, ${answers} answers sent; errors: ${JSON.stringify([...errors])}`;
  const until = async (count: number, label: string) => {
    await eventually(async () => confirmed.size >= count, 120_000, 250).catch((error: unknown) => {
      throw new Error(`${label}: ${String(error)}; ${seen()}`);
    });
    t.diagnostic(`${label}: ${seen()}`);
  };

  await until(20, 'working');
  await produceRound();
  const moving = await cluster.partition(topic, 0);
  const to = moving.replicas.find((n) => n !== moving.leader)!;
  await cluster.moveLeader(topic, 0, to);
  await until(80, `leader of partition 0 moved from node ${moving.leader} to node ${to}`);

  await produceRound();
  const killed = (await cluster.leaderOf(topic, 1)) as NodeId;
  await cluster.halt(killed, 'kill');
  await until(120, `node ${killed}, leading partition 1, killed`);
  await cluster.restart(killed);
  await until(150, `node ${killed} back`);

  await produceRound();
  const coordinator = (await cluster.coordinatorOf(group)) as NodeId;
  await cluster.halt(coordinator, 'kill');
  await until(190, `node ${coordinator}, the group's coordinator, killed`);
  await cluster.restart(coordinator);
  await until(values.length, `node ${coordinator} back`);

  await new Promise((r) => setTimeout(r, 2000)); // a second accept of anything would arrive by now
  assert.deepEqual([...confirmed.keys()].sort(), [...values].sort(), 'none lost');
  assert.deepEqual(
    [...confirmed].filter(([, n]) => n > 1),
    [],
    'none accepted twice',
  );
  // Answers Kafka did not take say why: unreachable (503), or no longer this member's record (409); nothing else.
  const codes = new Set([...errors.keys()].map((key) => key.split(':')[0]));
  assert.deepEqual([...codes].filter((code) => code !== 'GW_ERR_KAFKA_UNAVAILABLE' && code !== 'GW_ERR_CONFLICT'), [], seen());
  await Promise.all(workers.map((ws) => ws.close()));
});
