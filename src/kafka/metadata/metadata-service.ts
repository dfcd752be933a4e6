import { withDeadline, GatewayError, isInternalGroup, isInternalTopic, partitionKey, splitPartitionKey } from '../../common/index.js';
import { TtlCache } from './ttl-cache.js';
import type { GroupDescription, KafkaAdmin } from './admin-client.js';
import { fromKafkaError } from '../client/index.js';
import { TopicCache } from './topic-cache.js';
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

export interface MetadataOptions {
  /** How long answers are reused; admin changes through the gateway clear them at once. */
  readonly cacheTtlMs: number;
  /**
   * Upper bound for one answer, so that a request meets a dead broker with
   * 503 instead of waiting out every retry.
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
  readonly #admin: KafkaAdmin;
  readonly #cache: TtlCache;
  readonly #timeoutMs: number;
  readonly #clientId: string;
  /** The one cache of topic structure; the produce path is given this same instance. */
  readonly topicCache: TopicCache;

  constructor(admin: KafkaAdmin, options: MetadataOptions) {
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
      throw fromKafkaError(error, context);
    }
  }

  cluster(): Promise<ClusterInfo> {
    return this.#cache.get('cluster', () =>
      this.call('the cluster description', async () => {
        const { clusterId, controller, brokers } = await this.#admin.cluster([]);
        const info: BrokerInfo[] = [...brokers].sort((a, b) => a.nodeId - b.nodeId);
        return { clusterId: clusterId ?? '', controller, brokers: info };
      }),
    );
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
      .map(([name, { partitions }]) => ({
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

  /** True when the topic exists; asked before calls that would fail slowly on an unknown topic. */
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
    const ids = partitions.map((p) => p.partitionId);
    const [[starts, ends], configs] = await Promise.all([
      this.call(`the offsets of topic ${JSON.stringify(topic)}`, () => Promise.all([this.#admin.offsets(topic, ids, -2n), this.#admin.offsets(topic, ids, -1n)]), { topic }),
      this.#cache.get(`configs:${topic}:${all ? 'all' : 'set'}`, () => this.call(`the configs of topic ${JSON.stringify(topic)}`, () => this.#configs(topic, all), { topic })),
    ]);
    const partitionDetails: PartitionInfo[] = partitions.map((p) => ({
      partition: p.partitionId,
      leader: p.leader >= 0 ? p.leader : null,
      replicas: [...p.replicas],
      isr: [...p.isr],
      offlineReplicas: [...p.offlineReplicas],
      earliestOffset: String(starts.get(p.partitionId) ?? 0n),
      latestOffset: String(ends.get(p.partitionId) ?? 0n),
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
    const entries = [...(await this.#admin.topicConfigs(topic))].sort((a, b) => a.name.localeCompare(b.name));
    const configs: Record<string, TopicConfigEntry> = {};
    for (const entry of entries) {
      if (!all && !entry.overridden) continue;
      configs[entry.name] = { value: entry.sensitive ? null : entry.value, overridden: entry.overridden, readOnly: entry.readOnly, sensitive: entry.sensitive };
    }
    return configs;
  }

  /** Per partition, the first offset at or after `timestampMs`. */
  async offsetsAt(topic: string, timestampMs: number): Promise<TimestampOffset[]> {
    const ids = (await this.#partitionMetadata(topic)).map((p) => p.partitionId);
    return this.call(
      `offsets by time for topic ${JSON.stringify(topic)}`,
      async () => {
        const [atTime, ends] = await Promise.all([this.#admin.offsets(topic, ids, BigInt(timestampMs)), this.#admin.offsets(topic, ids, -1n)]);
        // No record at or after the time: the end, where the next one will be.
        return ids.map((partition) => ({ partition, offset: String((atTime.get(partition) ?? -1n) >= 0n ? atTime.get(partition)! : (ends.get(partition) ?? 0n)) }));
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
        const groups = await this.#admin.groups();
        if (groups.length === 0) return [];
        const described = await this.#admin.describeGroups(groups.map((g) => g.groupId));
        const states = new Map(described.map((g) => [g.groupId, g.state]));
        return groups
          .map(({ groupId, protocolType }) => ({
            groupId,
            protocolType,
            state: stateName(states.get(groupId)),
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
        const groups = await this.#admin.groups();
        if (groups.length === 0) return new Map<string, readonly string[]>();
        const ids = groups.map((g) => g.groupId);
        const described = await this.#admin.describeGroups(ids);
        const topics = new Map<string, Set<string>>(ids.map((id) => [id, new Set<string>()]));
        for (const group of described) {
          for (const member of group.members) for (const a of member.assignments) topics.get(group.groupId)?.add(a.topic);
        }
        await Promise.all(
          ids.map(async (groupId) => {
            // A group deleted meanwhile has no topics: it is then shown to admins only, never to more.
            const committed = await this.#admin.committedOffsets(groupId).catch(() => []);
            for (const { topic } of committed) topics.get(groupId)?.add(topic);
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
          const [described, committed] = await Promise.all([this.#admin.describeGroups([groupId]), this.#admin.committedOffsets(groupId)]);
          const group = described.find((g) => g.groupId === groupId);
          // Brokers describe a group they do not know as Dead rather than failing.
          if (!group || stateName(group.state) === 'Dead') {
            throw new GatewayError('GW_ERR_GROUP_NOT_FOUND', `Consumer group ${JSON.stringify(groupId)} does not exist.`);
          }
          const members = group.members.map(member);
          const owner = new Map<string, string>();
          for (const m of members) for (const a of m.assignments) for (const p of a.partitions) owner.set(partitionKey(a.topic, p), m.memberId);
          const commits = new Map<string, string>();
          for (const { topic, partition, offset } of committed) commits.set(partitionKey(topic, partition), String(offset));
          const topics = new Set([...committed.map((c) => c.topic), ...members.flatMap((m) => m.assignments.map((a) => a.topic))]);
          // A topic deleted since the group committed keeps its commits; offset lookups on it would fail, so only existing topics are asked.
          const existing = new Map((await this.topicCache.all()).entries());
          const latest = new Map<string, Map<number, bigint>>();
          await Promise.all(
            [...topics].filter((topic) => existing.has(topic)).map(async (topic) => {
              latest.set(topic, await this.#admin.offsets(topic, existing.get(topic)!.partitions.map((p) => p.partitionId), -1n));
            }),
          );
          const offsets: GroupPartitionOffset[] = [];
          for (const topic of [...topics].sort()) {
            const partitions = new Set<number>();
            for (const key of [...commits.keys(), ...owner.keys()]) {
              const [keyTopic, partition] = splitPartitionKey(key);
              if (keyTopic === topic) partitions.add(partition);
            }
            for (const partition of [...partitions].sort((a, b) => a - b)) {
              const key = partitionKey(topic, partition);
              const committedOffset = commits.get(key) ?? null;
              const latestOffset = String(latest.get(topic)?.get(partition) ?? 0n);
              const lag = committedOffset === null ? null : maxZero(BigInt(latestOffset) - BigInt(committedOffset)).toString();
              offsets.push({ topic, partition, committedOffset, latestOffset, lag, memberId: owner.get(key) ?? null });
            }
          }
          const totalLag = offsets.reduce((sum, o) => sum + (o.lag === null ? 0n : BigInt(o.lag)), 0n).toString();
          return {
            groupId,
            internal: isInternalGroup(groupId, this.#clientId),
            state: stateName(group.state),
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

function member(described: GroupDescription['members'][number]): GroupMember {
  // Brokers report the host as the socket address, e.g. "/127.0.0.1".
  return { memberId: described.memberId, clientId: described.clientId, host: described.clientHost.replace(/^\//, ''), assignments: described.assignments.map((a) => ({ topic: a.topic, partitions: [...a.partitions] })) };
}

/** Kafka's group states as the API names them (Stable, Empty, PreparingRebalance, ...); the client spells them in capitals. */
const STATE_NAMES = new Map(['Stable', 'Empty', 'Dead', 'PreparingRebalance', 'CompletingRebalance', 'Assigning', 'Reconciling'].map((name) => [name.toUpperCase(), name]));

function stateName(state: string | undefined): string {
  if (state === undefined) return 'Unknown';
  return STATE_NAMES.get(state.replaceAll('_', '').toUpperCase()) ?? state;
}
