/**
 * Direct Kafka access for tests and benchmarks, to check what the broker
 * really holds without the gateway: a small client on @platformatic/kafka
 * with the shapes of the kafkajs calls the tests were written against
 * (offsets as strings, `{ topic, messages }` sends, `eachMessage`), so a
 * test reads as before whatever client is underneath.
 */
import {
  Admin as PltAdmin,
  ConfigResourceTypes as ClientConfigResourceTypes,
  Consumer as PltConsumer,
  MessagesStreamFallbackModes,
  MessagesStreamModes,
  Producer as PltProducer,
  type MessagesStream,
} from '@platformatic/kafka';
import { murmur2 } from '../../src/kafka/produce/murmur2.js';

export const ConfigResourceTypes = { TOPIC: 2, BROKER: 4 } as const;

/** Accepted for the shape of old call sites; the client logs nothing. */
export const logLevel = { NOTHING: 0, ERROR: 1, WARN: 2, INFO: 4, DEBUG: 5 } as const;

export interface KafkaOptions {
  readonly brokers: readonly string[];
  readonly clientId?: string;
  readonly logLevel?: number;
  readonly retry?: { retries?: number; maxRetryTime?: number };
  readonly ssl?: { ca?: string | Buffer; cert?: string | Buffer; key?: string | Buffer; rejectUnauthorized?: boolean } | boolean;
  readonly sasl?: { mechanism: string; username: string; password: string };
}

export interface Message {
  readonly key?: string | Buffer | null;
  readonly value: string | Buffer | null;
  readonly partition?: number;
  readonly headers?: Readonly<Record<string, string | Buffer>>;
  readonly timestamp?: string;
}

export interface RecordMetadata {
  readonly topicName: string;
  readonly partition: number;
  readonly errorCode: number;
  readonly baseOffset: string;
}

export interface ConsumedMessage {
  readonly offset: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: Record<string, Buffer>;
  readonly timestamp: string;
}

function baseOptions(options: KafkaOptions, clientId = options.clientId ?? 'gateway-tests') {
  const retries = options.retry?.retries ?? 5;
  return {
    clientId,
    bootstrapBrokers: [...options.brokers],
    retries,
    retryDelay: 250,
    ...(options.ssl && typeof options.ssl === 'object' ? { tls: options.ssl } : {}),
    ...(options.sasl ? { sasl: { mechanism: options.sasl.mechanism.toUpperCase() as 'PLAIN', username: options.sasl.username, password: options.sasl.password } } : {}),
  };
}

const bytes = (v: string | Buffer | null | undefined): Buffer | undefined => (v === null || v === undefined ? undefined : Buffer.isBuffer(v) ? v : Buffer.from(v));

export class Kafka {
  constructor(readonly options: KafkaOptions) {}

  admin(): Admin {
    return new Admin(new PltAdmin(baseOptions(this.options)));
  }

  producer(): Producer {
    return new Producer(new PltProducer({ ...baseOptions(this.options), idempotent: false, acks: -1 }));
  }

  consumer(options: { groupId: string; maxWaitTimeInMs?: number; sessionTimeout?: number; heartbeatInterval?: number }): Consumer {
    return new Consumer(
      new PltConsumer({
        ...baseOptions(this.options),
        groupId: options.groupId,
        maxWaitTime: options.maxWaitTimeInMs ?? 200,
        sessionTimeout: options.sessionTimeout ?? 10_000,
        rebalanceTimeout: options.sessionTimeout ?? 10_000,
        heartbeatInterval: options.heartbeatInterval ?? 1000,
      }),
    );
  }
}

export class Admin {
  constructor(readonly client: PltAdmin) {}

  async connect(): Promise<void> {
    await this.client.metadata({ topics: [] });
  }

  async disconnect(): Promise<void> {
    await this.client.close().catch(() => undefined);
  }

  async createTopics({ topics, waitForLeaders = true }: { topics: Array<{ topic: string; numPartitions?: number; replicationFactor?: number; configEntries?: Array<{ name: string; value: string }> }>; waitForLeaders?: boolean }): Promise<boolean> {
    for (const t of topics) {
      try {
        await this.client.createTopics({
          topics: [t.topic],
          partitions: t.numPartitions ?? 1,
          // -1: the broker's default.replication.factor, as kafkajs did (1 on the test broker, 3 on the cluster of kafka/cluster.ts).
          replicas: t.replicationFactor ?? -1,
          configs: (t.configEntries ?? []).map(({ name, value }) => ({ name, value })),
        });
      } catch (error) {
        if (JSON.stringify(error).includes('TOPIC_ALREADY_EXISTS')) return false;
        throw error;
      }
      if (waitForLeaders) await this.#waitForLeaders(t.topic, t.numPartitions ?? 1);
    }
    return true;
  }

  async #waitForLeaders(topic: string, count: number): Promise<void> {
    for (let i = 0; i < 100; i++) {
      try {
        const metadata = await this.client.metadata({ topics: [topic], forceUpdate: true });
        const partitions = metadata.topics.get(topic)?.partitions ?? [];
        if (partitions.length >= count && partitions.every((p) => p.leader >= 0)) {
          await this.client.listOffsets({ topics: [{ name: topic, partitions: partitions.map((_, partitionIndex) => ({ partitionIndex, timestamp: -1n })) }] });
          return;
        }
      } catch {
        // not there yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`topic ${topic} has no leaders`);
  }

  async deleteTopics({ topics }: { topics: string[] }): Promise<void> {
    await this.client.deleteTopics({ topics });
  }

  async createPartitions({ topicPartitions }: { topicPartitions: Array<{ topic: string; count: number }> }): Promise<void> {
    await this.client.createPartitions({ topics: topicPartitions.map(({ topic, count }) => ({ name: topic, count }) as { name: string; count: number; assignments: [] }) });
  }

  listTopics(): Promise<string[]> {
    return this.client.listTopics({ includeInternals: true });
  }

  async fetchTopicMetadata({ topics }: { topics?: string[] } = {}): Promise<{ topics: Array<{ name: string; partitions: Array<{ partitionId: number; leader: number; replicas: number[]; isr: number[] }> }> }> {
    const names = topics ?? (await this.listTopics());
    const metadata = await this.client.metadata({ topics: names, forceUpdate: true });
    return {
      // The client's metadata leaves internal topics out.
      topics: [...metadata.topics].filter(([, t]) => t !== undefined).map(([name, t]) => ({
        name,
        partitions: t.partitions.map((p, partitionId) => ({ partitionId, leader: p.leader, replicas: p.replicas, isr: p.isr })),
      })),
    };
  }

  async #offsets(topic: string, timestamp: bigint): Promise<Map<number, bigint>> {
    const metadata = await this.client.metadata({ topics: [topic], forceUpdate: true });
    const count = metadata.topics.get(topic)?.partitionsCount ?? 0;
    const answer = await this.client.listOffsets({ topics: [{ name: topic, partitions: Array.from({ length: count }, (_, partitionIndex) => ({ partitionIndex, timestamp })) }] });
    return new Map(answer.flatMap((t) => t.partitions.map((p) => [p.partitionIndex, p.offset] as const)));
  }

  async fetchTopicOffsets(topic: string): Promise<Array<{ partition: number; offset: string; high: string; low: string }>> {
    const [lows, highs] = await Promise.all([this.#offsets(topic, -2n), this.#offsets(topic, -1n)]);
    return [...highs].sort(([a], [b]) => a - b).map(([partition, high]) => ({ partition, offset: String(high), high: String(high), low: String(lows.get(partition) ?? 0n) }));
  }

  async fetchOffsets({ groupId, topics }: { groupId: string; topics?: string[] }): Promise<Array<{ topic: string; partitions: Array<{ partition: number; offset: string; metadata: string | null }> }>> {
    const names = topics ?? [];
    const [group] = await this.client.listConsumerGroupOffsets({ groups: [groupId] });
    const committed = new Map((group?.topics ?? []).map((t) => [t.name, new Map(t.partitions.map((p) => [p.partitionIndex, p.committedOffset]))]));
    const result = [];
    for (const topic of names.length > 0 ? names : [...committed.keys()]) {
      const metadata = await this.client.metadata({ topics: [topic] }).catch(() => undefined);
      const count = metadata?.topics.get(topic)?.partitionsCount ?? committed.get(topic)?.size ?? 0;
      result.push({
        topic,
        partitions: Array.from({ length: count }, (_, partition) => ({ partition, offset: String(committed.get(topic)?.get(partition) ?? -1n), metadata: null })),
      });
    }
    return result;
  }

  async setOffsets({ groupId, topic, partitions }: { groupId: string; topic: string; partitions: Array<{ partition: number; offset: string }> }): Promise<void> {
    await this.client.alterConsumerGroupOffsets({ groupId, topics: [{ name: topic, partitionOffsets: partitions.map(({ partition, offset }) => ({ partition, offset: BigInt(offset) })) }] });
  }

  async describeGroups(ids: string[]): Promise<{ groups: Array<{ groupId: string; state: string; protocol: string; protocolType: string; members: Array<{ memberId: string; clientId: string; clientHost: string; assignments: Array<{ topic: string; partitions: number[] }> }> }> }> {
    const described = await this.client.describeGroups({ groups: ids });
    return {
      groups: [...described.values()].map((g) => ({
        groupId: g.id,
        state: g.state,
        protocol: g.protocol,
        protocolType: g.protocolType,
        members: [...g.members.values()].map((m) => ({
          memberId: m.id,
          clientId: m.clientId,
          clientHost: m.clientHost,
          assignments: [...(m.assignments?.values() ?? [])].map(({ topic, partitions }) => ({ topic, partitions: [...partitions] })),
        })),
      })),
    };
  }

  async listGroups(): Promise<{ groups: Array<{ groupId: string; protocolType: string }> }> {
    // Both protocols: the client lists classic groups only unless told, and the gateway's members run the consumer protocol.
    const groups = await this.client.listGroups({ types: ['classic', 'consumer'] });
    return { groups: [...groups.values()].map((g) => ({ groupId: g.id, protocolType: g.protocolType })) };
  }

  async deleteGroups(ids: string[]): Promise<void> {
    await this.client.deleteGroups({ groups: ids });
  }

  async describeConfigs({ resources }: { resources: Array<{ type: number; name: string; configNames?: string[] }>; includeSynonyms?: boolean }): Promise<{ resources: Array<{ resourceName: string; configEntries: Array<{ configName: string; configValue: string | null; isDefault: boolean }> }> }> {
    const described = await this.client.describeConfigs({
      resources: resources.map((r) => ({ resourceType: (r.type === 4 ? ClientConfigResourceTypes.BROKER : ClientConfigResourceTypes.TOPIC) as 2, resourceName: r.name, configurationKeys: r.configNames ?? null })),
    });
    return {
      resources: described.map((d) => ({
        resourceName: d.resourceName,
        configEntries: d.configs.map((c) => ({ configName: c.name, configValue: c.value ?? null, isDefault: c.configSource === 5 })),
      })),
    };
  }

  async alterConfigs({ resources }: { validateOnly?: boolean; resources: Array<{ type: number; name: string; configEntries: Array<{ name: string; value: string }> }> }): Promise<void> {
    await this.client.alterConfigs({
      resources: resources.map((r) => ({ resourceType: ClientConfigResourceTypes.TOPIC, resourceName: r.name, configs: r.configEntries.map(({ name, value }) => ({ name, value })) })),
    });
  }

  async deleteTopicRecords({ topic, partitions }: { topic: string; partitions: Array<{ partition: number; offset: string }> }): Promise<void> {
    await this.client.deleteRecords({ topics: [{ name: topic, partitions: partitions.map((p) => ({ partition: p.partition, offset: BigInt(p.offset) })) }] });
  }

  async describeCluster(): Promise<{ clusterId: string; controller: number; brokers: Array<{ nodeId: number; host: string; port: number }> }> {
    const metadata = await this.client.metadata({ topics: [], forceUpdate: true });
    return { clusterId: metadata.id, controller: metadata.controllerId, brokers: [...metadata.brokers].map(([nodeId, b]) => ({ nodeId, host: b.host, port: b.port })) };
  }
}

/** Sends with the Java client's partitioner for keyed records, as the gateway and other clients place them. */
export class Producer {
  #roundRobin = 0;

  constructor(readonly client: PltProducer) {}

  async connect(): Promise<void> {
    await this.client.metadata({ topics: [] });
  }

  async disconnect(): Promise<void> {
    await this.client.close().catch(() => undefined);
  }

  async send({ topic, messages }: { topic: string; messages: Message[]; acks?: number }): Promise<RecordMetadata[]> {
    const metadata = await this.client.metadata({ topics: [topic] });
    const count = metadata.topics.get(topic)?.partitionsCount ?? 1;
    const result = await this.client.send({
      // Given here, not only to the constructor: send() reads acks from its own options and otherwise takes 1
      // (the leader alone) for a producer that is not idempotent, so a leader killed right after an answer lost records.
      acks: -1,
      messages: messages.map((m) => {
        const key = bytes(m.key);
        return {
          topic,
          key,
          value: bytes(m.value),
          partition: m.partition ?? (key ? (murmur2(key) & 0x7fffffff) % count : this.#roundRobin++ % count),
          headers: m.headers ? new Map(Object.entries(m.headers).map(([k, v]) => [Buffer.from(k), bytes(v)!])) : undefined,
          timestamp: m.timestamp === undefined ? undefined : BigInt(m.timestamp),
        };
      }),
    });
    return (result.offsets ?? []).map((o) => ({ topicName: o.topic, partition: o.partition, errorCode: 0, baseOffset: String(o.offset) }));
  }
}

export class Consumer {
  #stream?: MessagesStream<Buffer, Buffer, Buffer, Buffer>;
  #topics: string[] = [];
  #fromBeginning = false;

  constructor(readonly client: PltConsumer) {}

  async connect(): Promise<void> {
    await this.client.metadata({ topics: [] });
  }

  async subscribe({ topic, topics, fromBeginning = false }: { topic?: string; topics?: string[]; fromBeginning?: boolean }): Promise<void> {
    this.#topics = topics ?? (topic ? [topic] : []);
    this.#fromBeginning = fromBeginning;
  }

  async run({ eachMessage, autoCommit = true }: { autoCommit?: boolean; eachMessage: (payload: { topic: string; partition: number; message: ConsumedMessage }) => Promise<void> }): Promise<void> {
    const fallback = this.#fromBeginning ? MessagesStreamFallbackModes.EARLIEST : MessagesStreamFallbackModes.LATEST;
    const stream = await this.client.consume({ topics: this.#topics, mode: MessagesStreamModes.COMMITTED, fallbackMode: fallback, autocommit: autoCommit });
    this.#stream = stream as MessagesStream<Buffer, Buffer, Buffer, Buffer>;
    stream.on('data', (message) => {
      const headers: Record<string, Buffer> = {};
      for (const [k, v] of message.headers) headers[k.toString()] = v;
      void eachMessage({
        topic: message.topic,
        partition: message.partition,
        message: { offset: String(message.offset), key: message.key ?? null, value: message.value ?? null, headers, timestamp: String(message.timestamp) },
      });
    });
    stream.on('error', () => undefined);
  }

  async commitOffsets(offsets: Array<{ topic: string; partition: number; offset: string }>): Promise<void> {
    await this.client.commit({ offsets: offsets.map(({ topic, partition, offset }) => ({ topic, partition, offset: BigInt(offset), leaderEpoch: -1 })) });
  }

  async disconnect(): Promise<void> {
    await this.#stream?.close().catch(() => undefined);
    await (this.client.close(true) as unknown as Promise<void>).catch(() => undefined);
  }
}
