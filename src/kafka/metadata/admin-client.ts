/**
 * The administration and metadata requests the gateway makes, on
 * @platformatic/kafka's Admin client, answered as plain data. Metadata and
 * offsets go through wire-requests.ts, which sees internal topics and
 * broker racks too.
 */
import { ConfigResourceTypes, IncrementalAlterConfigOperationTypes, type Admin } from '@platformatic/kafka';
import { describeCluster, describeConsumerGroups, listOffsets, type ClusterMetadata } from './wire-requests.js';

export type { ClusterMetadata, PartitionMetadata, TopicMetadata } from './wire-requests.js';

export interface ConfigEntry {
  readonly name: string;
  readonly value: string | null;
  readonly readOnly: boolean;
  readonly sensitive: boolean;
  /** Set on the resource itself rather than inherited from the broker or a default. */
  readonly overridden: boolean;
}

export interface GroupDescription {
  readonly groupId: string;
  readonly state: string;
  readonly protocolType: string;
  readonly protocol: string;
  readonly members: ReadonlyArray<{ memberId: string; clientId: string; clientHost: string; assignments: ReadonlyArray<{ topic: string; partitions: readonly number[] }> }>;
}

const TOPIC_CONFIG_SOURCE = 1;

export class KafkaAdmin {
  constructor(readonly client: Admin) {}

  /** The brokers and the topics named (every topic, internal ones included, when none are named). */
  cluster(topics: readonly string[] | null = null): Promise<ClusterMetadata> {
    return describeCluster(this.client, topics);
  }

  /**
   * Per partition of a topic: its start (-2n), its end (-1n), or the first
   * offset at or after a time in ms (-1n where there is none).
   */
  offsets(topic: string, partitions: readonly number[], timestamp: bigint): Promise<Map<number, bigint>> {
    return listOffsets(this.client, topic, partitions, timestamp);
  }

  /** A topic's configs (`keys` only, when given). */
  async topicConfigs(topic: string, keys?: readonly string[]): Promise<ConfigEntry[]> {
    return this.#configs(ConfigResourceTypes.TOPIC, topic, keys);
  }

  /** A broker's configs (`keys` only, when given). */
  async brokerConfigs(nodeId: number, keys?: readonly string[]): Promise<ConfigEntry[]> {
    return this.#configs(ConfigResourceTypes.BROKER, String(nodeId), keys);
  }

  async #configs(resourceType: number, resourceName: string, keys?: readonly string[]): Promise<ConfigEntry[]> {
    const [description] = await this.client.describeConfigs({
      resources: [{ resourceType: resourceType as 2, resourceName, configurationKeys: keys ? [...keys] : null }],
      includeSynonyms: false,
    });
    return (description?.configs ?? []).map((c) => ({
      name: c.name,
      value: c.value ?? null,
      readOnly: c.readOnly,
      sensitive: c.isSensitive,
      overridden: c.configSource === TOPIC_CONFIG_SOURCE,
    }));
  }

  /** Sets (string) or removes (null) topic config overrides, leaving the others as they are. */
  async alterTopicConfigs(topic: string, changes: Readonly<Record<string, string | null>>): Promise<void> {
    await this.client.incrementalAlterConfigs({
      resources: [
        {
          resourceType: ConfigResourceTypes.TOPIC,
          resourceName: topic,
          configs: Object.entries(changes).map(([name, value]) =>
            value === null ? { name, configOperation: IncrementalAlterConfigOperationTypes.DELETE, value: null } : { name, configOperation: IncrementalAlterConfigOperationTypes.SET, value },
          ),
        },
      ],
    });
  }

  /** Creates a topic; partitions and replication left out take the broker's defaults. */
  async createTopic(topic: { name: string; partitions?: number; replicationFactor?: number; configs?: Readonly<Record<string, string>> }): Promise<void> {
    await this.client.createTopics({
      topics: [topic.name],
      ...(topic.partitions === undefined ? {} : { partitions: topic.partitions }),
      ...(topic.replicationFactor === undefined ? {} : { replicas: topic.replicationFactor }),
      configs: Object.entries(topic.configs ?? {}).map(([name, value]) => ({ name, value })),
    });
  }

  async deleteTopic(name: string): Promise<void> {
    await this.client.deleteTopics({ topics: [name] });
  }

  async createPartitions(name: string, count: number): Promise<void> {
    // No assignments (null on the wire): the broker places the new partitions. An empty list would be refused as a wrong assignment.
    await this.client.createPartitions({ topics: [{ name, count } as { name: string; count: number; assignments: [] }] });
  }

  async groups(): Promise<Array<{ groupId: string; protocolType: string; state: string }>> {
    // The client lists classic groups only unless told: consumer-protocol (KIP-848) groups are groups too.
    const groups = await this.client.listGroups({ types: ['classic', 'consumer'] });
    return [...groups.values()].map((g) => ({ groupId: g.id, protocolType: g.protocolType, state: g.state }));
  }

  async describeGroups(ids: readonly string[]): Promise<GroupDescription[]> {
    if (ids.length === 0) return [];
    const consumer = await describeConsumerGroups(this.client, ids);
    const classic = ids.filter((id) => !consumer.has(id));
    const fromConsumer = [...consumer.values()].map(({ groupId, state, assignor, members }) => ({ groupId, state, protocolType: 'consumer', protocol: assignor, members }));
    if (classic.length === 0) return fromConsumer;
    const described = await this.client.describeGroups({ groups: classic });
    const fromClassic = [...described.values()].map((group) => ({
      groupId: group.id,
      state: group.state,
      protocolType: group.protocolType,
      protocol: group.protocol,
      members: [...group.members.values()].map((member) => ({
        memberId: member.id,
        clientId: member.clientId,
        clientHost: member.clientHost,
        assignments: [...(member.assignments?.values() ?? [])]
          .map(({ topic, partitions }) => ({ topic, partitions: [...partitions].sort((a, b) => a - b) }))
          .sort((a, b) => a.topic.localeCompare(b.topic)),
      })),
    }));
    return [...fromConsumer, ...fromClassic];
  }

  /** A group's committed offsets (only those it has: no -1 entries). */
  async committedOffsets(groupId: string): Promise<Array<{ topic: string; partition: number; offset: bigint }>> {
    const [group] = await this.client.listConsumerGroupOffsets({ groups: [groupId] });
    return (group?.topics ?? []).flatMap((t) =>
      t.partitions.filter((p) => p.committedOffset >= 0n).map((p) => ({ topic: t.name, partition: p.partitionIndex, offset: p.committedOffset })),
    );
  }

  async deleteGroups(ids: readonly string[]): Promise<void> {
    if (ids.length > 0) await this.client.deleteGroups({ groups: [...ids] });
  }
}
