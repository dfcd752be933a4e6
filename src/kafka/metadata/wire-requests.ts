/**
 * The Metadata and ListOffsets requests, spoken directly with the API
 * versions a client negotiated. The client's own metadata cache leaves
 * internal topics (`__consumer_offsets`) out, and its offset lookups throw
 * from a callback (an uncaught exception) for a topic missing there; the
 * gateway describes and reads internal topics too, so it asks these two
 * itself.
 */
import { consumerGroupDescribeV0, kGetApi, kGetBootstrapConnection, kGetConnection, type Admin, type Base, type Connection } from '@platformatic/kafka';

export interface PartitionMetadata {
  readonly partitionId: number;
  /** -1 while the partition has no leader. */
  readonly leader: number;
  readonly replicas: readonly number[];
  readonly isr: readonly number[];
  readonly offlineReplicas: readonly number[];
}

export interface TopicMetadata {
  readonly name: string;
  readonly id: string;
  readonly internal: boolean;
  /** Sorted by partition id. */
  readonly partitions: readonly PartitionMetadata[];
}

export interface ClusterMetadata {
  readonly clusterId: string | null;
  readonly controller: number | null;
  readonly brokers: ReadonlyArray<{ nodeId: number; host: string; port: number; rack: string | null }>;
  readonly topics: readonly TopicMetadata[];
}

interface MetadataResponse {
  clusterId: string | null;
  controllerId: number;
  brokers: Array<{ nodeId: number; host: string; port: number; rack: string | null }>;
  topics: Array<{
    errorCode: number;
    name: string | null;
    topicId: string;
    isInternal: boolean;
    partitions: Array<{ partitionIndex: number; leaderId: number; replicaNodes: number[]; isrNodes: number[]; offlineReplicas: number[] }>;
  }>;
}

interface ListOffsetsResponse {
  topics: Array<{ name: string; partitions: Array<{ partitionIndex: number; errorCode: number; offset: bigint }> }>;
}

type Api<Args extends unknown[], Response> = (connection: Connection, ...args: [...Args, (error: Error | null, response?: Response) => void]) => void;

function call<T>(run: (callback: (error: Error | null, value?: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => run((error, value) => (error ? reject(error) : resolve(value as T))));
}

/** An answer that carries errors for some of its parts comes as an error holding the whole answer. */
function partial<T extends object>(error: unknown, field: keyof T): T {
  const response = (error as { response?: T }).response;
  if (response && field in response) return response;
  throw error;
}

/** The brokers and the topics named (every topic, internal ones included, when `topics` is null); unknown topics are left out. */
export async function describeCluster(client: Base, topics: readonly string[] | null): Promise<ClusterMetadata> {
  const api = await call<Api<[string[] | null, boolean, boolean], MetadataResponse>>((cb) => client[kGetApi]('Metadata', cb));
  const connection = await call<Connection>((cb) => client[kGetBootstrapConnection](cb));
  const response = await call<MetadataResponse>((cb) => api(connection, topics === null ? null : [...topics], false, false, cb)).catch((error: unknown) =>
    partial<MetadataResponse>(error, 'topics'),
  );
  return {
    clusterId: response.clusterId,
    controller: response.controllerId >= 0 ? response.controllerId : null,
    brokers: response.brokers.map(({ nodeId, host, port, rack }) => ({ nodeId, host, port, rack })),
    topics: response.topics
      .filter((t) => t.errorCode === 0 && t.name !== null)
      .map((t) => ({
        name: t.name!,
        id: t.topicId,
        internal: t.isInternal,
        partitions: t.partitions
          .map((p) => ({ partitionId: p.partitionIndex, leader: p.leaderId, replicas: p.replicaNodes, isr: p.isrNodes, offlineReplicas: p.offlineReplicas }))
          .sort((a, b) => a.partitionId - b.partitionId),
      })),
  };
}

const READ_COMMITTED = 1;

/**
 * Per partition of a topic: its start (-2n), its end (-1n), or the first
 * offset at or after a time in ms (-1n where there is none). Rejects with
 * the client's error for a topic that does not exist or a partition that
 * failed.
 */
export async function listOffsets(client: Base, topic: string, partitions: readonly number[], timestamp: bigint): Promise<Map<number, bigint>> {
  if (partitions.length === 0) return new Map();
  const cluster = await describeCluster(client, [topic]);
  const found = cluster.topics[0];
  if (!found) throw Object.assign(new Error(`Unknown topic ${topic}.`), { unknownTopic: true });
  const byLeader = new Map<number, number[]>();
  for (const partition of partitions) {
    const leader = found.partitions[partition]?.leader ?? -1;
    if (leader < 0) throw Object.assign(new Error(`no leader for ${topic}/${partition}`), { canRetry: true });
    byLeader.set(leader, [...(byLeader.get(leader) ?? []), partition]);
  }
  const api = await call<Api<[number, number, unknown[]], ListOffsetsResponse>>((cb) => client[kGetApi]('ListOffsets', cb));
  const offsets = new Map<number, bigint>();
  await Promise.all(
    [...byLeader].map(async ([leader, list]) => {
      const broker = cluster.brokers.find((b) => b.nodeId === leader);
      if (!broker) throw Object.assign(new Error(`broker ${leader} leads ${topic} but is not in the metadata yet`), { canRetry: true });
      const connection = await call<Connection>((cb) => client[kGetConnection](broker, cb));
      const response = await call<ListOffsetsResponse>((cb) =>
        api(connection, -1, READ_COMMITTED, [{ name: topic, partitions: list.map((partitionIndex) => ({ partitionIndex, currentLeaderEpoch: -1, timestamp })) }], cb),
      );
      for (const t of response.topics) for (const p of t.partitions) offsets.set(p.partitionIndex, p.offset);
    }),
  );
  return offsets;
}

interface ConsumerGroupDescribeResponse {
  groups: Array<{
    errorCode: number;
    groupId: string;
    groupState: string;
    assignorName: string;
    members: Array<{ memberId: string; clientId: string; clientHost: string; assignment: { topicPartitions: Array<{ topicName: string; partitions: number[] }> } | null }>;
  }>;
}

export interface ConsumerGroupDescription {
  readonly groupId: string;
  readonly state: string;
  readonly assignor: string;
  readonly members: ReadonlyArray<{ memberId: string; clientId: string; clientHost: string; assignments: ReadonlyArray<{ topic: string; partitions: readonly number[] }> }>;
}

/**
 * The groups among `groupIds` that run the consumer protocol (KIP-848),
 * described with ConsumerGroupDescribe at their coordinators. The client's
 * describeGroups speaks only DescribeGroups, which such groups answer as
 * unknown. Groups of the classic protocol, and unknown ones, are left out;
 * so is everything on brokers without the API.
 */
export async function describeConsumerGroups(client: Admin, groupIds: readonly string[]): Promise<Map<string, ConsumerGroupDescription>> {
  const described = new Map<string, ConsumerGroupDescription>();
  if (groupIds.length === 0) return described;
  const apis = await client.listApis();
  if (!apis.some((a) => a.name === 'ConsumerGroupDescribe')) return described;
  const coordinators = await client.findCoordinator({ keyType: 0, keys: [...groupIds] });
  const byBroker = new Map<string, { host: string; port: number; groups: string[] }>();
  for (const { key, host, port } of coordinators) {
    const at = `${host}:${port}`;
    const entry = byBroker.get(at) ?? { host, port, groups: [] };
    entry.groups.push(key);
    byBroker.set(at, entry);
  }
  await Promise.all(
    [...byBroker.values()].map(async ({ host, port, groups }) => {
      const connection = await call<Connection>((cb) => client[kGetConnection]({ host, port }, cb));
      const response = await (consumerGroupDescribeV0.api.async(connection, groups, false) as Promise<ConsumerGroupDescribeResponse>).catch((error: unknown) =>
        partial<ConsumerGroupDescribeResponse>(error, 'groups'),
      );
      for (const group of response.groups) {
        if (group.errorCode !== 0) continue; // not a consumer-protocol group (or not one at all)
        described.set(group.groupId, {
          groupId: group.groupId,
          state: group.groupState,
          assignor: group.assignorName,
          members: group.members.map((m) => ({
            memberId: m.memberId,
            clientId: m.clientId,
            clientHost: m.clientHost,
            assignments: (m.assignment?.topicPartitions ?? []).map(({ topicName, partitions }) => ({ topic: topicName, partitions: [...partitions].sort((a, b) => a - b) })),
          })),
        });
      }
    }),
  );
  return described;
}
