import kafkajs, { type Admin, type GroupDescription } from 'kafkajs';
import { withDeadline } from '../deadline.js';
import { GatewayError } from '../errors.js';
import { isInternalGroup, isInternalTopic } from '../internal-names.js';
import { TtlCache } from './cache.js';
import { TopicCache } from './topics.js';
import { fromAdminError } from './admin-errors.js';
import type {
  BrokerInfo,
  ClusterInfo,
  GroupDetail,
  GroupMember,
  GroupPartitionOffset,
  GroupSummary,
  PartitionInfo,
  TimestampOffset,
  TopicConfigEntry,
  TopicDetail,
  TopicSummary,
} from './metadata-types.js';

// kafkajs is CommonJS: its runtime helpers come from the default export.
const { AssignerProtocol, ConfigResourceTypes } = kafkajs;

/** describeConfigs `configSource` for a value set on the topic itself. */
const TOPIC_CONFIG_SOURCE = 1;

export interface MetadataOptions {
  /** How long answers are reused; admin changes through the gateway clear them at once. */
  readonly cacheTtlMs: number;
  /**
   * Upper bound for one answer, so that a request meets a dead broker with
   * 503 instead of waiting out every kafkajs retry.
   */
  readonly timeoutMs: number;
  /** The gateway's Kafka client id, which names its own consumer groups (marked internal). */
  readonly clientId?: string;
}

/**
 * Cluster, topic, offset and consumer-group metadata over the admin client,
 * as plain data. Structure (topics and partitions, configs, the cluster,
 * groups) is cached, so a burst of requests costs the broker one round
 * trip; topics and partitions come from the gateway's one TopicCache, which
 * the produce path reads too. Offsets and lag are never cached: an answer
 * shows every record acknowledged before the request arrived.
 */
export class MetadataService {
  readonly #admin: Admin;
  readonly #cache: TtlCache;
  readonly #timeoutMs: number;
  readonly #clientId: string;
  /** The one cache of topic structure; the produce path is given this same instance. */
  readonly topicCache: TopicCache;

  constructor(admin: Admin, options: MetadataOptions) {
    this.#admin = admin;
    this.#cache = new TtlCache(options.cacheTtlMs);
    this.#timeoutMs = options.timeoutMs;
    this.#clientId = options.clientId ?? 'kafka-gateway';
    this.topicCache = new TopicCache(admin, options);
  }

  /** Drops every cached answer, topic structure included; called after each admin change the gateway makes. */
  invalidate(): void {
    this.#cache.clear();
    this.topicCache.invalidate();
  }

  /** Runs one broker conversation under the deadline, mapping its failure onto the error table. */
  async call<T>(what: string, work: () => Promise<T>, context: { topic?: string; group?: string } = {}): Promise<T> {
    try {
      return await withDeadline(work(), this.#timeoutMs, () => {
        throw new GatewayError('GW_ERR_KAFKA_UNAVAILABLE', `Kafka did not answer ${what} within ${this.#timeoutMs} ms; retry shortly.`);
      });
    } catch (error) {
      throw fromAdminError(error, context);
    }
  }

  cluster(): Promise<ClusterInfo> {
    return this.#cache.get('cluster', () =>
      this.call('the cluster description', async () => {
        const { clusterId, controller, brokers } = await this.#admin.describeCluster();
        const racks = await this.#racks(brokers.map((b) => b.nodeId));
        const info: BrokerInfo[] = brokers
          .map(({ nodeId, host, port }) => ({ nodeId, host, port, rack: racks.get(nodeId) ?? null }))
          .sort((a, b) => a.nodeId - b.nodeId);
        return { clusterId, controller: controller ?? null, brokers: info };
      }),
    );
  }

  /** kafkajs's describeCluster leaves the rack out; each broker's `broker.rack` config carries it. */
  async #racks(nodeIds: readonly number[]): Promise<Map<number, string>> {
    if (nodeIds.length === 0) return new Map();
    const { resources } = await this.#admin.describeConfigs({
      resources: nodeIds.map((id) => ({ type: ConfigResourceTypes.BROKER, name: String(id), configNames: ['broker.rack'] })),
      includeSynonyms: false,
    });
    const racks = new Map<number, string>();
    for (const resource of resources) {
      const value = resource.configEntries.find((e) => e.configName === 'broker.rack')?.configValue;
      if (value) racks.set(Number(resource.resourceName), value);
    }
    return racks;
  }

  /** Every topic with its partition count and replication factor, from one metadata request. */
  topics(options: { internal?: boolean; prefix?: string } = {}): Promise<TopicSummary[]> {
    return this.#allTopics().then((all) =>
      all.filter((t) => (options.internal || !t.internal) && (!options.prefix || t.name.startsWith(options.prefix))),
    );
  }

  async #allTopics(): Promise<TopicSummary[]> {
    const all = await this.call('the topic list', () => this.topicCache.all());
    return [...all]
      .map(([name, partitions]) => ({
        name,
        internal: isInternalTopic(name),
        partitions: partitions.length,
        replicationFactor: partitions[0]?.replicas.length ?? 0,
      }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Partitions of one topic (leaders, replicas, ISR); 404 for an unknown topic. */
  #partitionMetadata(topic: string) {
    return this.call(`the metadata of topic ${JSON.stringify(topic)}`, () => this.topicCache.partitions(topic), { topic });
  }

  /** True when the topic exists; used before calls that kafkajs would retry for long on an unknown topic. */
  async requireTopic(topic: string): Promise<void> {
    await this.#partitionMetadata(topic);
  }

  /**
   * One topic in full: partitions with their earliest and latest offsets, and
   * its configs (only those set on the topic, or all with `allConfigs`).
   */
  async topic(topic: string, options: { allConfigs?: boolean } = {}): Promise<TopicDetail> {
    // Asked first, because offset lookups on an unknown topic retry for seconds before failing.
    const partitions = await this.#partitionMetadata(topic);
    const all = options.allConfigs ?? false;
    const [offsets, configs] = await Promise.all([
      this.call(`the offsets of topic ${JSON.stringify(topic)}`, () => this.#admin.fetchTopicOffsets(topic), { topic }),
      this.#cache.get(`configs:${topic}:${all ? 'all' : 'set'}`, () => this.call(`the configs of topic ${JSON.stringify(topic)}`, () => this.#configs(topic, all), { topic })),
    ]);
    const byPartition = new Map(offsets.map((o) => [o.partition, o]));
    const partitionDetails: PartitionInfo[] = partitions.map((p) => ({
      partition: p.partitionId,
      leader: p.leader >= 0 ? p.leader : null,
      replicas: p.replicas,
      isr: p.isr,
      offlineReplicas: p.offlineReplicas ?? [],
      earliestOffset: byPartition.get(p.partitionId)?.low ?? '0',
      latestOffset: byPartition.get(p.partitionId)?.high ?? '0',
    }));
    return {
      name: topic,
      internal: isInternalTopic(topic),
      partitions: partitionDetails.length,
      replicationFactor: partitionDetails[0]?.replicas.length ?? 0,
      partitionDetails,
      configs,
    };
  }

  async #configs(topic: string, all: boolean): Promise<Record<string, TopicConfigEntry>> {
    const { resources } = await this.#admin.describeConfigs({
      resources: [{ type: ConfigResourceTypes.TOPIC, name: topic }],
      includeSynonyms: false,
    });
    const configs: Record<string, TopicConfigEntry> = {};
    const entries = [...(resources[0]?.configEntries ?? [])].sort((a, b) => a.configName.localeCompare(b.configName));
    for (const entry of entries) {
      // kafkajs types configSource loosely; older brokers only send isDefault.
      const source = (entry as { configSource?: number }).configSource;
      const overridden = source === undefined ? !entry.isDefault : source === TOPIC_CONFIG_SOURCE;
      if (!all && !overridden) continue;
      configs[entry.configName] = {
        value: entry.isSensitive ? null : entry.configValue,
        overridden,
        readOnly: entry.readOnly,
        sensitive: entry.isSensitive,
      };
    }
    return configs;
  }

  /** Per partition, the first offset at or after `timestampMs`. */
  async offsetsAt(topic: string, timestampMs: number): Promise<TimestampOffset[]> {
    await this.#partitionMetadata(topic);
    return this.call(
      `offsets by time for topic ${JSON.stringify(topic)}`,
      async () => {
        const offsets = await this.#admin.fetchTopicOffsetsByTimestamp(topic, timestampMs);
        return offsets.map(({ partition, offset }) => ({ partition, offset })).sort((a, b) => a.partition - b.partition);
      },
      { topic },
    );
  }

  /** Every consumer group the brokers know, with its state; the gateway's own groups only when `internal` is asked for. */
  groups(options: { internal?: boolean } = {}): Promise<GroupSummary[]> {
    return this.#allGroups().then((all) => all.filter((g) => options.internal || !g.internal));
  }

  #allGroups(): Promise<GroupSummary[]> {
    return this.#cache.get('groups', () =>
      this.call('the consumer group list', async () => {
        const { groups } = await this.#admin.listGroups();
        if (groups.length === 0) return [];
        const described = await this.#admin.describeGroups(groups.map((g) => g.groupId));
        const states = new Map(described.groups.map((g) => [g.groupId, g.state]));
        return groups
          .map(({ groupId, protocolType }) => ({
            groupId,
            protocolType,
            state: states.get(groupId) ?? 'Unknown',
            internal: isInternalGroup(groupId, this.#clientId),
          }))
          .sort((a, b) => a.groupId.localeCompare(b.groupId));
      }),
    );
  }

  /**
   * For every group, the topics it has committed offsets on or is assigned:
   * what decides who may see the group. One offset lookup per group, so it
   * is asked for only where a listing must be filtered.
   */
  groupTopics(): Promise<ReadonlyMap<string, readonly string[]>> {
    return this.#cache.get('group-topics', () =>
      this.call('the topics of the consumer groups', async () => {
        const { groups } = await this.#admin.listGroups();
        if (groups.length === 0) return new Map<string, readonly string[]>();
        const ids = groups.map((g) => g.groupId);
        const described = await this.#admin.describeGroups(ids);
        const topics = new Map<string, Set<string>>(ids.map((id) => [id, new Set<string>()]));
        for (const group of described.groups) {
          for (const member of group.members.map(decodeMember)) for (const a of member.assignments) topics.get(group.groupId)?.add(a.topic);
        }
        await Promise.all(
          ids.map(async (groupId) => {
            // A group deleted meanwhile has no topics: it is then shown to admins only, never to more.
            const committed = await this.#admin.fetchOffsets({ groupId }).catch(() => []);
            for (const { topic, partitions } of committed) {
              if (partitions.some((p) => Number(p.offset) >= 0)) topics.get(groupId)?.add(topic);
            }
          }),
        );
        return new Map([...topics].map(([id, set]) => [id, [...set]]));
      }),
    );
  }

  /** One group: members and their partitions, committed offsets, lag. 404 for a group the brokers do not know. */
  group(groupId: string): Promise<GroupDetail> {
    // Committed offsets and lag are never cached: a commit must show at once.
    return this.call(
        `the consumer group ${JSON.stringify(groupId)}`,
        async () => {
          const [{ groups }, committed] = await Promise.all([
            this.#admin.describeGroups([groupId]),
            this.#admin.fetchOffsets({ groupId }),
          ]);
          const group = groups.find((g) => g.groupId === groupId);
          // Brokers describe a group they do not know as Dead rather than failing.
          if (!group || group.state === 'Dead') {
            throw new GatewayError('GW_ERR_GROUP_NOT_FOUND', `Consumer group ${JSON.stringify(groupId)} does not exist.`);
          }
          const members = group.members.map(decodeMember);
          const owner = new Map<string, string>();
          for (const m of members) for (const a of m.assignments) for (const p of a.partitions) owner.set(`${a.topic}:${p}`, m.memberId);
          const commits = new Map<string, string>();
          for (const { topic, partitions } of committed) {
            for (const { partition, offset } of partitions) if (Number(offset) >= 0) commits.set(`${topic}:${partition}`, offset);
          }
          const topics = new Set([...committed.map((c) => c.topic), ...members.flatMap((m) => m.assignments.map((a) => a.topic))]);
          // A topic deleted since the group committed keeps its commits; kafkajs would
          // retry offset lookups on it for seconds, so only existing topics are asked.
          const existing = new Set((await this.#allTopics()).map((t) => t.name));
          const latest = new Map<string, Map<number, string>>();
          await Promise.all(
            [...topics].filter((topic) => existing.has(topic)).map(async (topic) => {
              const offsets = await this.#admin.fetchTopicOffsets(topic);
              latest.set(topic, new Map(offsets.map((o) => [o.partition, o.high])));
            }),
          );
          const offsets: GroupPartitionOffset[] = [];
          for (const topic of [...topics].sort()) {
            const partitions = new Set<number>();
            for (const key of [...commits.keys(), ...owner.keys()]) {
              const at = key.lastIndexOf(':');
              if (key.slice(0, at) === topic) partitions.add(Number(key.slice(at + 1)));
            }
            for (const partition of [...partitions].sort((a, b) => a - b)) {
              const key = `${topic}:${partition}`;
              const committedOffset = commits.get(key) ?? null;
              const latestOffset = latest.get(topic)?.get(partition) ?? '0';
              const lag = committedOffset === null ? null : maxZero(BigInt(latestOffset) - BigInt(committedOffset)).toString();
              offsets.push({ topic, partition, committedOffset, latestOffset, lag, memberId: owner.get(key) ?? null });
            }
          }
          const totalLag = offsets.reduce((sum, o) => sum + (o.lag === null ? 0n : BigInt(o.lag)), 0n).toString();
          return {
            groupId,
            internal: isInternalGroup(groupId, this.#clientId),
            state: group.state,
            protocolType: group.protocolType,
            protocol: group.protocol,
            members,
            offsets,
            totalLag,
          };
        },
        { group: groupId },
    );
  }
}

function maxZero(n: bigint): bigint {
  return n < 0n ? 0n : n;
}

/** A member's assignment is the consumer protocol's bytes; a member of another protocol (e.g. Connect) may not decode. */
function decodeMember(member: GroupDescription['members'][number]): GroupMember {
  let assignments: GroupMember['assignments'] = [];
  try {
    const decoded = member.memberAssignment.length > 0 ? AssignerProtocol.MemberAssignment.decode(member.memberAssignment) : null;
    if (decoded) {
      assignments = Object.entries(decoded.assignment)
        .map(([topic, partitions]) => ({ topic, partitions: [...partitions].sort((a, b) => a - b) }))
        .sort((a, b) => a.topic.localeCompare(b.topic));
    }
  } catch {
    assignments = [];
  }
  // Brokers report the host as the socket address, e.g. "/127.0.0.1".
  return { memberId: member.memberId, clientId: member.clientId, host: member.clientHost.replace(/^\//, ''), assignments };
}
