/**
 * What the metadata service answers with: plain data, none of the client's types, so
 * routes can shape it for HTTP (v1 or Confluent v2) without knowing the
 * client. Offsets and lags are strings because they are 64-bit integers.
 */

export interface BrokerInfo {
  readonly nodeId: number;
  readonly host: string;
  readonly port: number;
  /** `broker.rack`, or null when the broker has none. */
  readonly rack: string | null;
}

export interface ClusterInfo {
  readonly clusterId: string;
  /** Node id of the active controller, or null when the cluster does not say. */
  readonly controller: number | null;
  readonly brokers: readonly BrokerInfo[];
}

export interface TopicSummary {
  readonly name: string;
  /** Kafka's (`__*`) or the gateway's (`_gateway_*`): listed only on request, never changed through the gateway. */
  readonly internal: boolean;
  readonly partitions: number;
  readonly replicationFactor: number;
}

export interface PartitionInfo {
  readonly partition: number;
  /** Node id of the leader, or null while the partition has none. */
  readonly leader: number | null;
  readonly replicas: readonly number[];
  readonly isr: readonly number[];
  readonly offlineReplicas: readonly number[];
  readonly earliestOffset: string;
  readonly latestOffset: string;
}

export interface TopicConfigEntry {
  /** Null when the broker marks the value sensitive. */
  readonly value: string | null;
  /** True when the value was set on this topic rather than inherited. */
  readonly overridden: boolean;
  readonly readOnly: boolean;
  readonly sensitive: boolean;
}

export interface TopicDetail extends TopicSummary {
  readonly partitionDetails: readonly PartitionInfo[];
  readonly configs: Readonly<Record<string, TopicConfigEntry>>;
}

export interface TimestampOffset {
  readonly partition: number;
  /**
   * The first offset whose record timestamp is at or after the time; when no
   * record is that recent, the partition's end (where the next record goes).
   */
  readonly offset: string;
}

export interface GroupSummary {
  readonly groupId: string;
  /** One of the gateway's own groups (it reads the schema topic with one), listed only on request. */
  readonly internal: boolean;
  readonly protocolType: string;
  readonly state: string;
}

export interface GroupMember {
  readonly memberId: string;
  readonly clientId: string;
  readonly host: string;
  readonly assignments: readonly { readonly topic: string; readonly partitions: readonly number[] }[];
}

export interface GroupPartitionOffset {
  readonly topic: string;
  readonly partition: number;
  /** Null when the group has not committed on this partition. */
  readonly committedOffset: string | null;
  readonly latestOffset: string;
  /** latestOffset - committedOffset; null without a committed offset. */
  readonly lag: string | null;
  /** The member the partition is assigned to now, if any. */
  readonly memberId: string | null;
}

export interface GroupDetail extends GroupSummary {
  /** The partition assignor in use (e.g. RoundRobinAssigner), empty when the group has no members. */
  readonly protocol: string;
  readonly members: readonly GroupMember[];
  readonly offsets: readonly GroupPartitionOffset[];
  /** Sum of the known lags. */
  readonly totalLag: string;
}

export interface NewTopic {
  readonly name: string;
  /** Omitted: the broker's default (`num.partitions`). */
  readonly partitions?: number;
  /** Omitted: the broker's default (`default.replication.factor`). */
  readonly replicationFactor?: number;
  readonly configs?: Readonly<Record<string, string>>;
}
