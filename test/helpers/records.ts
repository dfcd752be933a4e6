/**
 * The broker's truth, read without the gateway: a plain consumer (the test client) in
 * a group of its own, from the earliest offset.
 */
import { Kafka, logLevel } from './kafka-client.js';
import { eventually, sharedBrokers, uniqueName } from './env.js';

export interface StoredRecord {
  partition: number;
  offset: string;
  key: string | null;
  value: string | null;
  headers: Record<string, string>;
}

/** Reads `count` records of `topic` from the beginning; fails if they do not all arrive in `timeoutMs`. */
export async function readRecords(topic: string, count: number, brokers = sharedBrokers(), timeoutMs = 60_000): Promise<StoredRecord[]> {
  const kafka = new Kafka({ clientId: 'test-reader', brokers: brokers.split(','), logLevel: logLevel.NOTHING });
  const groupId = uniqueName('test-reader');
  const consumer = kafka.consumer({ groupId });
  const records: StoredRecord[] = [];
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        records.push({
          partition,
          offset: message.offset,
          key: message.key?.toString('utf8') ?? null,
          value: message.value?.toString('utf8') ?? null,
          headers: Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)])),
        });
      },
    });
    await eventually(async () => records.length >= count, timeoutMs);
    return records;
  } finally {
    await consumer.disconnect();
    // The group existed only for this read; leave no litter on the broker.
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.disconnect();
  }
}
