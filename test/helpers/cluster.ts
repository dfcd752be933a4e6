/**
 * A three-node Kafka cluster of its own for a test file that breaks nodes
 * (kafka/cluster.ts): one per file, since a test that kills a node would
 * disturb every other file on a shared one.
 *
 *   test('...', async (t) => {
 *     const cluster = await startTestCluster(t);
 *     await t.test('...', async () => { await cluster.halt(2, 'kill'); ... });
 *   });
 */
import { startCluster, type Cluster, type ClusterOptions } from '../../kafka/cluster.js';

/** What a node:test context offers to run code once the test and its subtests are over. */
interface Finishing {
  after(fn: () => Promise<void>): void;
  diagnostic?(message: string): void;
}

/** Starts a cluster that is stopped (nodes ended, data deleted) once `t` is over, whatever its outcome. */
export async function startTestCluster(t: Finishing, options: ClusterOptions = {}): Promise<Cluster> {
  const started = Date.now();
  const cluster = await startCluster(options);
  t.after(() => cluster.stop());
  t.diagnostic?.(`3-node Kafka cluster at ${cluster.brokers} started in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return cluster;
}
