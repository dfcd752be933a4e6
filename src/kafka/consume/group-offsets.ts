/**
 * A consumer group's committed offsets, read and written without being a
 * member of it: what a Kafka consumer does with manually assigned
 * partitions (`assign()` rather than `subscribe()`). The broker takes such a
 * commit (generation -1, no member id) only while the group has no active
 * members, as it does from a Java consumer.
 */
import { Admin, type BaseOptions } from '@platformatic/kafka';
import type { TopicPartitions } from './group-member.js';
import { GatewayError, partitionKey } from '../../common/index.js';
import { fromKafkaError, guardConnections, protocolErrorIds } from '../client/index.js';

/** What the broker answers a commit from outside a group that has members. */
const GROUP_IN_USE = new Set(['UNKNOWN_MEMBER_ID', 'ILLEGAL_GENERATION', 'REBALANCE_IN_PROGRESS', 'FENCED_INSTANCE_ID']);

export interface CommittedOffsets {
  /** The group's committed offsets for these partitions; -1n where it has none. */
  committed(partitions: readonly TopicPartitions[]): Promise<Map<string, bigint>>;
  /** Commits, for each partition, the offset the group reads next. */
  commit(offsets: ReadonlyArray<{ topic: string; partition: number; next: bigint }>): Promise<void>;
}

/** One admin connection pool for every group's offsets, opened on first use. */
export class GroupOffsets {
  #admin: Admin | undefined;

  constructor(private readonly options: BaseOptions) {}

  #client(): Admin {
    if (!this.#admin) {
      this.#admin = new Admin({ ...this.options, retries: 3, retryDelay: 250 });
      guardConnections(this.#admin);
    }
    return this.#admin;
  }

  of(group: string): CommittedOffsets {
    return {
      committed: async (partitions) => {
        try {
          const [answer] = await this.#client().listConsumerGroupOffsets({
            groups: [{ groupId: group, topics: partitions.map(({ topic, partitions: p }) => ({ name: topic, partitionIndexes: [...p] })) }],
          });
          const committed = new Map<string, bigint>();
          for (const topic of answer?.topics ?? []) {
            for (const p of topic.partitions) committed.set(partitionKey(topic.name, p.partitionIndex), p.committedOffset);
          }
          return committed;
        } catch (error) {
          throw fromKafkaError(error, { group });
        }
      },
      commit: async (offsets) => {
        const byTopic = new Map<string, Array<{ partition: number; offset: bigint }>>();
        for (const { topic, partition, next } of offsets) {
          const list = byTopic.get(topic) ?? [];
          list.push({ partition, offset: next });
          byTopic.set(topic, list);
        }
        try {
          await this.#client().alterConsumerGroupOffsets({ groupId: group, topics: [...byTopic].map(([name, partitionOffsets]) => ({ name, partitionOffsets })) });
        } catch (error) {
          if (protocolErrorIds(error).some((id) => GROUP_IN_USE.has(id))) {
            throw new GatewayError('GW_ERR_CONFLICT', `Group ${JSON.stringify(group)} has active members: partitions assigned by hand can be committed only while the group has none, as with a Kafka consumer.`, { cause: error });
          }
          throw fromKafkaError(error, { group });
        }
      },
    };
  }

  async close(): Promise<void> {
    await this.#admin?.close().catch(() => undefined);
  }
}
