/**
 * The three-node cluster the fault tests break: topics are replicated on
 * all three nodes, a partition leader and a group coordinator move where
 * a test says, a node killed outright is fenced and comes back into the
 * ISR after a restart, and stop leaves no java process and no folder.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { NODE_IDS, type NodeId } from '../kafka/cluster.js';
import { startTestCluster } from './helpers/cluster.js';
import { createTopic, consumeAll, produceDirect } from './helpers/kafka.js';

function javaProcessesFor(dir: string): string[] {
  try {
    return execFileSync('pgrep', ['-f', dir], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

/** A node other than `id`. */
function other(id: number): NodeId {
  return NODE_IDS.find((n) => n !== id)!;
}

test('a three-node cluster replicates, moves leaders and coordinators, and survives a killed node', async (t) => {
  const cluster = await startTestCluster(t);
  assert.equal(cluster.brokers.split(',').length, 3);
  assert.deepEqual(
    cluster.nodes.map((n) => n.id),
    [1, 2, 3],
  );
  assert.equal(new Set(cluster.nodes.map((n) => n.port)).size, 3, 'each node listens on a port of its own');

  await t.test('a topic created without a replication factor has three replicas, all in sync', async () => {
    await createTopic(cluster.brokers, 'replicated', 2);
    for (const index of [0, 1]) {
      const state = await cluster.partition('replicated', index);
      assert.deepEqual([...state.replicas].sort(), [1, 2, 3]);
      assert.deepEqual([...state.isr].sort(), [1, 2, 3]);
      assert.ok(state.replicas.includes(state.leader));
    }
    const offsets = await cluster.partition('__consumer_offsets', 0);
    assert.equal(offsets.isr.length, 3, '__consumer_offsets is replicated on all three nodes too');
  });

  await t.test('moveLeader makes another node lead the partition', async () => {
    const before = await cluster.leaderOf('replicated', 0);
    const to = other(before);
    const started = Date.now();
    await cluster.moveLeader('replicated', 0, to);
    t.diagnostic(`leader of replicated-0 moved from node ${before} to node ${to} in ${Date.now() - started} ms`);
    assert.equal(await cluster.leaderOf('replicated', 0), to);
    assert.equal((await cluster.partition('replicated', 0)).replicas[0], to, 'the new leader is the preferred replica');
    await produceDirect(cluster.brokers, 'replicated', [{ value: 'after the move', partition: 0 }]);
  });

  await t.test('moveCoordinator moves a group to another node', async () => {
    const group = 'harness-group';
    const before = await cluster.coordinatorOf(group);
    assert.equal(await cluster.leaderOf('__consumer_offsets', cluster.offsetsPartitionOf(group)), before, 'the coordinator leads the partition the group hashes to');
    const to = other(before);
    const started = Date.now();
    await cluster.moveCoordinator(group, to);
    t.diagnostic(`coordinator of ${group} moved from node ${before} to node ${to} in ${Date.now() - started} ms`);
    assert.equal(await cluster.coordinatorOf(group), to);
  });

  await t.test('a node killed outright leaves the ISR, and after a restart is back in it', async () => {
    const victim = await cluster.leaderOf('replicated', 0);
    const killed = Date.now();
    await cluster.halt(victim, 'kill');
    assert.equal(cluster.running(victim), false);
    // Its broker session expires, the controller fences it: leadership and ISR move without it.
    for (;;) {
      const state = await cluster.partition('replicated', 0);
      if (!state.isr.includes(victim) && state.leader !== victim && state.leader >= 0) break;
      assert.ok(Date.now() - killed < 60_000, `node ${victim} still in the ISR of replicated-0 a minute after it was killed`);
      await new Promise((r) => setTimeout(r, 100));
    }
    t.diagnostic(`node ${victim} was fenced (out of the ISR, leadership moved) ${Date.now() - killed} ms after SIGKILL`);
    // Two replicas left meet min.insync.replicas=2: acks=all writes go on.
    await produceDirect(cluster.brokers, 'replicated', [{ value: 'while a node is down', partition: 0 }]);

    const restarted = Date.now();
    await cluster.restart(victim);
    t.diagnostic(`node ${victim} restarted and back in every ISR in ${Date.now() - restarted} ms`);
    assert.ok((await cluster.partition('replicated', 0)).isr.includes(victim));
    assert.ok((await cluster.partition('__consumer_offsets', 0)).isr.includes(victim));
    const values = (await consumeAll(cluster.brokers, 'replicated')).map((r) => String(r.value));
    assert.deepEqual(values.sort(), ['after the move', 'while a node is down']);
  });

  await t.test('stop leaves no java process and no folder', async () => {
    assert.ok(javaProcessesFor(cluster.dataDir).length >= 3, 'three nodes should be running');
    await cluster.stop();
    assert.deepEqual(javaProcessesFor(cluster.dataDir), []);
    assert.equal(existsSync(cluster.dataDir), false, `${cluster.dataDir} is left behind`);
  });
});
