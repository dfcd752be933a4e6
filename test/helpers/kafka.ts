/** Direct Kafka access (through the test client, test/helpers/kafka-client.ts) for tests that check what the broker really holds. */
import { Kafka, logLevel, type Admin } from './kafka-client.js';
import { uniqueName } from './env.js';

export interface ConsumedRecord {
  readonly partition: number;
  readonly offset: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: Record<string, string>;
  readonly timestamp: string;
}

export function kafkaClient(brokers: string): Kafka {
  return new Kafka({ clientId: 'gateway-tests', brokers: brokers.split(','), logLevel: logLevel.NOTHING });
}

export async function withAdmin<T>(brokers: string, use: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = kafkaClient(brokers).admin();
  await admin.connect();
  try {
    return await use(admin);
  } finally {
    await admin.disconnect();
  }
}

export async function createTopic(brokers: string, topic: string, numPartitions = 1, configEntries: { name: string; value: string }[] = []): Promise<void> {
  await withAdmin(brokers, (admin) => admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions, configEntries }] }));
}

export async function deleteTopics(brokers: string, topics: string[]): Promise<void> {
  await withAdmin(brokers, (admin) => admin.deleteTopics({ topics })).catch(() => undefined);
}

/** Every record the topic holds, read from the beginning up to the end offsets as they are now. */
export async function consumeAll(brokers: string, topic: string): Promise<ConsumedRecord[]> {
  const kafka = kafkaClient(brokers);
  const ends = await withAdmin(brokers, (admin) => admin.fetchTopicOffsets(topic));
  const remaining = new Map(ends.filter((e) => BigInt(e.high) > BigInt(e.low)).map((e) => [e.partition, BigInt(e.high)]));
  if (remaining.size === 0) return [];
  const groupId = uniqueName('test-reader');
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 200 });
  const records: ConsumedRecord[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`did not read ${topic} to its end in time`)), 60_000);
      consumer
        .run({
          autoCommit: false,
          eachMessage: async ({ partition, message }) => {
            const headers: Record<string, string> = {};
            for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v);
            records.push({ partition, offset: message.offset, key: message.key, value: message.value, headers, timestamp: message.timestamp });
            const end = remaining.get(partition);
            if (end !== undefined && BigInt(message.offset) + 1n >= end) remaining.delete(partition);
            if (remaining.size === 0) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
    await withAdmin(brokers, (admin) => admin.deleteGroups([groupId])).catch(() => undefined);
  }
  return records;
}

export interface PlainMessage {
  readonly key?: string | Buffer | null;
  readonly value: string | Buffer | null;
  readonly partition?: number;
  readonly headers?: Record<string, string | Buffer>;
}

/** Writes records as a plain Kafka producer would, bypassing the gateway. */
export async function produceDirect(brokers: string, topic: string, messages: readonly PlainMessage[]): Promise<void> {
  const producer = kafkaClient(brokers).producer();
  await producer.connect();
  try {
    await producer.send({ topic, messages: messages.map((m) => ({ ...m })) });
  } finally {
    await producer.disconnect();
  }
}

/** The group's committed offset per partition of a topic, as the broker holds it; -1 where there is none. */
export async function committedOffsets(brokers: string, group: string, topic: string): Promise<Map<number, string>> {
  const [answer] = await withAdmin(brokers, (admin) => admin.fetchOffsets({ groupId: group, topics: [topic] }));
  return new Map((answer?.partitions ?? []).map((p) => [p.partition, p.offset]));
}

/** Moves a partition's log start to `offset`, as retention would: the records before it are gone. */
export async function deleteRecordsBefore(brokers: string, topic: string, partition: number, offset: string): Promise<void> {
  await withAdmin(brokers, (admin) => admin.deleteTopicRecords({ topic, partitions: [{ partition, offset }] }));
}
