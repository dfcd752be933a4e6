/**
 * A real three-node Apache Kafka cluster (KRaft) for fault tests, run from
 * the same Maven jars as kafka/broker.ts.
 *
 * Library: `startCluster()` returns the bootstrap list, the nodes, and what
 * fault tests do to them: halt, kill and restart one node, find and move a
 * partition's leader or a group's coordinator, restart every node in turn.
 * CLI: `node --import tsx kafka/cluster.ts` runs one in the foreground until
 * Ctrl-C (or SIGTERM, or the end of the command that started it).
 *
 * Every node is broker and controller at once (a static quorum of three),
 * and every java process (the nodes, and the Kafka admin commands run
 * against them) runs under kafka/broker-guard.mjs, as the single broker
 * does: if we die, however we die, the guards kill java and delete the
 * data, and the last one deletes the folder all nodes share.
 */
import { type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Admin, FindCoordinatorKeyTypes } from '@platformatic/kafka';
import {
  brokerJavaArgs,
  clusterId,
  endGuard,
  ensureKafkaJars,
  formatJavaArgs,
  freePorts,
  kafkaVersion,
  kraftNodeProperties,
  servingUnlessExited,
  spawnGuard,
  tail,
  waitUntilServing,
  whenParentGone,
  writeProperties,
} from './broker.js';
import { fetchMetadata, type WireMetadata } from './wire-metadata.js';

export const NODE_IDS = [1, 2, 3] as const;
export type NodeId = (typeof NODE_IDS)[number];

/** Few, so that groups spread over more than one coordinator while the topic still loads at once. */
const OFFSETS_PARTITIONS = 3;

export interface ClusterOptions {
  version?: string;
  /** JVM heap of each node; three of them run beside the tests on 2 cores. */
  heap?: string;
  /** Extra server.properties lines for every node. */
  extraProperties?: Record<string, string>;
  /** How long a start, a restart or a move may take. */
  timeoutMs?: number;
}

export interface ClusterNode {
  readonly id: NodeId;
  /** host:port of its client listener. */
  readonly address: string;
  readonly port: number;
  readonly dataDir: string;
  readonly logFile: string;
}

export interface PartitionState {
  readonly leader: number;
  readonly replicas: readonly number[];
  readonly isr: readonly number[];
}

export interface Cluster {
  /** host:port of all three nodes, comma-separated, for KAFKA_BROKERS. */
  readonly brokers: string;
  readonly nodes: readonly ClusterNode[];
  /** The folder holding every node's data dir; gone after stop(). */
  readonly dataDir: string;
  /** Whether the node's JVM runs (as far as this harness has started and halted it). */
  running(id: number): boolean;
  /** Stops the node's JVM: SIGTERM (SIGKILL after a bound), or `kill`: SIGKILL at once, as a crash would. Keeps its data. */
  halt(id: number, how?: 'graceful' | 'kill'): Promise<void>;
  /**
   * Starts a halted node again on the same ports and data; resolves once it
   * is a registered broker again and back in the ISR of every partition it
   * replicates.
   */
  restart(id: number): Promise<void>;
  /** Halts and restarts each node in turn, the cluster healthy again before the next. */
  rollingRestart(how?: 'graceful' | 'kill'): Promise<void>;
  /** Resolves once every running node is registered and every partition has a leader and its full ISR. */
  waitUntilHealthy(): Promise<void>;
  partition(topic: string, partition: number): Promise<PartitionState>;
  leaderOf(topic: string, partition: number): Promise<number>;
  /** Makes `to` (already a replica) the partition's preferred replica and leader; resolves once the cluster says so. */
  moveLeader(topic: string, partition: number, to: number): Promise<void>;
  coordinatorOf(groupId: string): Promise<number>;
  /** The __consumer_offsets partition that holds the group, so whose leader is its coordinator. */
  offsetsPartitionOf(groupId: string): number;
  /** Moves the group's coordinator to `to`; resolves once `to` answers for the group. */
  moveCoordinator(groupId: string, to: number): Promise<void>;
  /** Stops every node and deletes all data. */
  stop(): Promise<void>;
}

/** Java's String.hashCode, over UTF-16 code units as Java strings hold them. */
export function javaStringHash(text: string): number {
  let hash = 0;
  for (let i = 0; i < text.length; i++) hash = (Math.imul(hash, 31) + text.charCodeAt(i)) | 0;
  return hash;
}

/** The __consumer_offsets partition of a group: Kafka's `Utils.abs(groupId.hashCode()) % partitions`. */
export function offsetsPartitionFor(groupId: string, partitions = OFFSETS_PARTITIONS): number {
  const hash = javaStringHash(groupId);
  return (hash === -0x80000000 ? 0 : Math.abs(hash)) % partitions;
}

/** One group name per __consumer_offsets partition, so that a lookup of them all waits for every coordinator. */
function probeGroups(partitions: number): string[] {
  const groups: string[] = [];
  for (let i = 0; groups.length < partitions; i++) {
    const name = `cluster-harness-probe-${i}`;
    if (offsetsPartitionFor(name, partitions) === groups.length) groups.push(name);
  }
  return groups;
}

interface NodeState extends ClusterNode {
  readonly controllerPort: number;
  readonly run: string[];
  readonly format: string[];
  guard?: ChildProcess;
  formatted: boolean;
}

export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const version = options.version ?? kafkaVersion;
  const classpath = `${ensureKafkaJars(version)}/*`;
  const timeoutMs = options.timeoutMs ?? 120_000;
  // All at once: a port closed a moment ago is often the next one handed out, so no two listeners may ever share one.
  const ports = await freePorts(NODE_IDS.length * 2);
  const voters = NODE_IDS.map((id, i) => `${id}@127.0.0.1:${ports[NODE_IDS.length + i]!}`).join(',');
  const id = clusterId();
  // From here to the guards' start nothing awaits: the folder never exists without an owner.
  const root = mkdtempSync(join(tmpdir(), 'kafka-gateway-cluster-'));
  const nodes: NodeState[] = NODE_IDS.map((nodeId, i) => {
    const dataDir = join(root, `node-${nodeId}`);
    mkdirSync(dataDir);
    const port = ports[i]!;
    const controllerPort = ports[NODE_IDS.length + i]!;
    const propertiesFile = join(dataDir, 'server.properties');
    writeProperties(propertiesFile, {
      ...kraftNodeProperties({ id: nodeId, port, controllerPort, voters, dataDir }),
      'default.replication.factor': '3',
      'min.insync.replicas': '2',
      'offsets.topic.replication.factor': '3',
      'offsets.topic.num.partitions': String(OFFSETS_PARTITIONS),
      'transaction.state.log.replication.factor': '3',
      'transaction.state.log.min.isr': '2',
      'transaction.state.log.num.partitions': '3',
      'share.coordinator.state.topic.replication.factor': '3',
      'share.coordinator.state.topic.min.isr': '2',
      'share.coordinator.state.topic.num.partitions': '3',
      'group.initial.rebalance.delay.ms': '0',
      // Consumer-protocol (KIP-848) groups: the broker's defaults (5 s heartbeats, 45 s sessions) make every
      // rebalance in a test wait seconds; these match what the gateway's tests give classic members.
      'group.consumer.heartbeat.interval.ms': '1000',
      'group.consumer.min.heartbeat.interval.ms': '1000',
      'group.consumer.session.timeout.ms': '6000',
      'group.consumer.min.session.timeout.ms': '6000',
      'auto.create.topics.enable': 'false',
      // Leaders stay where a test put them: the controller would otherwise move them back to the preferred replica within minutes.
      'auto.leader.rebalance.enable': 'false',
      'num.partitions': '1',
      'log.segment.bytes': String(16 * 1024 * 1024),
      ...options.extraProperties,
    });
    return {
      id: nodeId,
      address: `127.0.0.1:${port}`,
      port,
      controllerPort,
      dataDir,
      logFile: join(dataDir, 'broker.log'),
      run: brokerJavaArgs(classpath, options.heap ?? '384m', propertiesFile),
      format: formatJavaArgs(classpath, id, propertiesFile),
      formatted: false,
    };
  });
  const brokers = nodes.map((n) => n.address).join(',');
  let tools = 0;

  const node = (nodeId: number): NodeState => {
    const found = nodes.find((n) => n.id === nodeId);
    if (!found) throw new Error(`no node ${nodeId} in this cluster (nodes are ${NODE_IDS.join(', ')})`);
    return found;
  };
  // A node whose JVM ended on its own (its guard exited) counts as halted: restart() may start it again.
  const running = (n: NodeState) => n.guard !== undefined && n.guard.exitCode === null && n.guard.signalCode === null;
  const live = () => nodes.filter(running).map((n) => n.address);

  /** Starts the node's guard (formatting its log dir the first time); resolves once `ready` does. */
  const launch = async (n: NodeState, ready: () => Promise<void>) => {
    const first = !n.formatted;
    n.guard = spawnGuard(join(n.dataDir, first ? 'guard-first.json' : 'guard.json'), {
      dataDir: n.dataDir,
      logFile: n.logFile,
      run: n.run,
      rootDir: root,
      ...(first ? { format: n.format } : {}),
    });
    n.formatted = true;
    await servingUnlessExited(n.guard, n.logFile, ready()).catch((error: unknown) => {
      throw new Error(`node ${n.id}: ${error instanceof Error ? error.message : String(error)}`);
    });
  };

  const halt = async (nodeId: number, how: 'graceful' | 'kill' = 'graceful') => {
    const n = node(nodeId);
    const guard = n.guard;
    n.guard = undefined;
    await endGuard(guard, how === 'kill' ? 'crash' : 'halt');
  };

  const stop = async () => {
    await Promise.all(
      nodes.map((n) => {
        const guard = n.guard;
        n.guard = undefined;
        return endGuard(guard, 'stop');
      }),
    );
    rmSync(root, { recursive: true, force: true });
  };

  /** Metadata of every topic (internal ones included), from the first running node that answers. */
  const metadata = async (): Promise<WireMetadata> => {
    let lastError: unknown = new Error('no node is running');
    for (const address of live()) {
      try {
        return await fetchMetadata(address);
      } catch (error) {
        lastError = error;
      }
    }
    throw lastError;
  };

  const partition = async (topic: string, index: number): Promise<PartitionState> => {
    const state = (await metadata()).topics.get(topic)?.partitions[index];
    if (!state) throw new Error(`no partition ${topic}-${index}`);
    return { leader: state.leader, replicas: state.replicas, isr: state.isr };
  };

  /** Resolves once `check` holds on the metadata of a running node. */
  const until = (what: string, check: (meta: WireMetadata) => boolean) => poll(what, timeoutMs, async () => check(await metadata()));

  const waitUntilHealthy = () =>
    until('the cluster to have every running node registered and every partition led, with its full ISR', (meta) => {
      const registered = nodes.filter(running).every((n) => meta.brokers.has(n.id));
      return registered && everyPartition(meta, (p) => p.leader >= 0 && p.isr.length === p.replicas.length);
    });

  const restart = async (nodeId: number) => {
    const n = node(nodeId);
    if (running(n)) throw new Error(`node ${nodeId} is running: halt it first`);
    await launch(n, async () => {
      await poll(`node ${nodeId} to answer metadata as a registered broker`, timeoutMs, async () => (await fetchMetadata(n.address)).brokers.has(nodeId));
      await until(`node ${nodeId} to be back in the ISR of every partition it replicates`, (meta) =>
        everyPartition(meta, (p) => !p.replicas.includes(nodeId) || p.isr.includes(nodeId)),
      );
    });
  };

  /**
   * Runs one of Kafka's admin commands (a main class in the kafka-tools jar)
   * under a guard of its own, so that it dies with us as the nodes do, and
   * answers what it printed. `files` are written into its dir first.
   */
  const tool = async (mainClass: string, args: (dir: string) => string[], files: Record<string, string> = {}) => {
    const dir = join(root, `tool-${++tools}`);
    mkdirSync(dir);
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    const logFile = join(dir, 'output.log');
    const run = ['-Xmx128m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-cp', classpath, mainClass, '--bootstrap-server', live().join(','), ...args(dir)];
    const guard = spawnGuard(join(dir, 'guard.json'), { dataDir: dir, logFile, run, rootDir: root });
    const timer = setTimeout(() => void endGuard(guard, 'stop'), timeoutMs);
    try {
      const code = await new Promise<number | null>((res) => guard.once('exit', (c) => res(c)));
      const output = tail(logFile);
      if (code !== 0) throw new Error(`${mainClass} ${args(dir).join(' ')} failed (${code}):\n${output}`);
      return output;
    } finally {
      clearTimeout(timer);
      rmSync(dir, { recursive: true, force: true });
    }
  };

  const leaderOf = async (topic: string, index: number) => (await partition(topic, index)).leader;

  const moveLeader = async (topic: string, index: number, to: number) => {
    const { replicas } = await partition(topic, index);
    if (!replicas.includes(to)) throw new Error(`node ${to} is not a replica of ${topic}-${index} (replicas ${replicas.join(',')})`);
    const order = [to, ...replicas.filter((r) => r !== to)];
    if (replicas[0] !== to) {
      // The same replicas in another order: no data moves, the reassignment completes as the controller applies it.
      const plan = JSON.stringify({ version: 1, partitions: [{ topic, partition: index, replicas: order }] });
      await tool('org.apache.kafka.tools.reassign.ReassignPartitionsCommand', (dir) => ['--reassignment-json-file', join(dir, 'plan.json'), '--execute'], {
        'plan.json': plan,
      });
      await until(`${topic}-${index} to have replicas ${order.join(',')}`, (meta) => sameList(meta.topics.get(topic)?.partitions[index]?.replicas, order));
    }
    // Preferred election fails while the new leader is not yet in the ISR (just restarted, say): wait for it.
    await until(`node ${to} to be in the ISR of ${topic}-${index}`, (meta) => meta.topics.get(topic)?.partitions[index]?.isr.includes(to) === true);
    if ((await leaderOf(topic, index)) !== to) {
      await tool('org.apache.kafka.tools.LeaderElectionCommand', () => ['--election-type', 'PREFERRED', '--topic', topic, '--partition', String(index)]);
    }
    // Every running node, asked alone, names the new leader: a client bootstrapping from any of them sees the move.
    await Promise.all(
      nodes.filter(running).map((n) =>
        poll(
          `node ${n.id} to see node ${to} lead ${topic}-${index}`,
          timeoutMs,
          async () => (await fetchMetadata(n.address)).topics.get(topic)?.partitions[index]?.leader === to,
        ),
      ),
    );
  };

  const coordinatorOf = (groupId: string) =>
    withAdmin(live().join(','), async (admin) => {
      const [found] = await admin.findCoordinator({ keyType: FindCoordinatorKeyTypes.GROUP, keys: [groupId] });
      if (!found) throw new Error(`no coordinator found for group ${groupId}`);
      return found.nodeId;
    });

  const moveCoordinator = async (groupId: string, to: number) => {
    await moveLeader('__consumer_offsets', offsetsPartitionFor(groupId), to);
    // The new leader loads the partition before it answers for the group; a lookup fails until then.
    await poll(`node ${to} to coordinate group ${groupId}`, timeoutMs, async () => {
      if ((await coordinatorOf(groupId)) !== to) return false;
      await withAdmin(node(to).address, (admin) => admin.describeGroups({ groups: [groupId] }));
      return true;
    });
  };

  const rollingRestart = async (how: 'graceful' | 'kill' = 'graceful') => {
    for (const nodeId of NODE_IDS) {
      await halt(nodeId, how);
      await restart(nodeId);
      await waitUntilHealthy();
    }
  };

  try {
    // All three at once: none serves until a quorum of controllers elects a leader.
    await Promise.all(nodes.map((n) => launch(n, () => waitUntilServing(n.address, timeoutMs, []))));
    // Asking for one group of each offsets partition creates __consumer_offsets (it needs all three nodes registered) and waits for every coordinator.
    await waitUntilServing(brokers, timeoutMs, probeGroups(OFFSETS_PARTITIONS));
    await waitUntilHealthy();
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    brokers,
    nodes: nodes.map(({ id: nodeId, address, port, dataDir, logFile }) => ({ id: nodeId, address, port, dataDir, logFile })),
    dataDir: root,
    running: (nodeId) => running(node(nodeId)),
    halt,
    restart,
    rollingRestart,
    waitUntilHealthy,
    partition,
    leaderOf,
    moveLeader,
    coordinatorOf,
    offsetsPartitionOf: (groupId) => offsetsPartitionFor(groupId),
    moveCoordinator,
    stop,
  };
}

function everyPartition(meta: WireMetadata, check: (p: PartitionState) => boolean): boolean {
  return [...meta.topics.values()].every((topic) => topic.partitions.every((p) => p !== undefined && check(p)));
}

function sameList(a: readonly number[] | undefined, b: readonly number[]): boolean {
  return a !== undefined && a.length === b.length && a.every((x, i) => x === b[i]);
}

async function withAdmin<T>(brokers: string, use: (admin: Admin) => Promise<T>): Promise<T> {
  // No retries: the callers poll, and a node just killed must not hold a call for the client's own backoff.
  const admin = new Admin({ clientId: 'cluster-harness', bootstrapBrokers: brokers.split(','), connectTimeout: 1000, retries: 0 });
  try {
    return await use(admin);
  } finally {
    await admin.close().catch(() => undefined);
  }
}

/** Calls `check` until it answers true, errors counting as not yet. */
async function poll(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
      lastError = undefined;
    } catch (error) {
      lastError = error;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError === undefined ? '' : `: ${String(lastError)}`}`);
}

// CLI: run a cluster in the foreground.
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const started = Date.now();
  const cluster = await startCluster();
  process.stdout.write(
    `Kafka ${kafkaVersion} cluster (KRaft, 3 nodes) serving at ${cluster.brokers} (started in ${((Date.now() - started) / 1000).toFixed(1)} s); Ctrl-C stops it.\n` +
      cluster.nodes.map((n) => `  node ${n.id}: ${n.address}, log ${n.logFile}\n`).join(''),
  );
  let stopping = false;
  const shutdown = () => {
    if (stopping) return;
    stopping = true;
    void cluster.stop().then(() => process.exit(0));
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
  whenParentGone(shutdown);
}

