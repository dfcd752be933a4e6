/**
 * Queues: one partition, 100 workers whose handler takes 20 ms.
 *
 * - Share group through the gateway: 100 WebSocket clients subscribed with
 *   `shareGroup`, credit 1, each accepting a record 20 ms after it arrives.
 * - The same clients in a consumer group (ack manual, credit 1): one member
 *   holds the partition, so at most 1000 / 20 = 50 records/s get done.
 * - The baseline: 100 Java KafkaShareConsumers (kafka-clients, one thread
 *   each, one record per poll) in one JVM doing the same work directly.
 *
 * Each run reads a backlog produced before it, as a new group from the
 * start, and counts records accepted (confirmed by Kafka) in the window.
 *
 *   tsx bench/queues.ts [--seconds 10] [--workers 100]   (own broker unless KAFKA_BROKERS is set)
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import WebSocket from 'ws';
import { ensureKafkaJars, startBroker, type Broker } from '../kafka/broker.js';
import { Kafka, logLevel } from '../test/helpers/kafka-client.js';
import { alternate, startGatewayProcess, type Measurement, type ScenarioResult } from './lib.js';

const HANDLER_MS = 20;

interface QueueOptions {
  readonly brokers: string;
  readonly seconds: number;
  readonly rounds: number;
  readonly workers: number;
}

let serial = 0;
const unique = (prefix: string) => `${prefix}-${process.pid}-${Date.now().toString(36)}-${serial++}`;

async function backlog(brokers: string, count: number): Promise<string> {
  const kafka = new Kafka({ clientId: 'bench-queues', brokers: brokers.split(','), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  const producer = kafka.producer();
  await admin.connect();
  await producer.connect();
  const topic = unique('bench-queue');
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
  const value = 'x'.repeat(100);
  for (let i = 0; i < count; i += 1000) await producer.send({ topic, messages: Array.from({ length: Math.min(1000, count - i) }, () => ({ value })) });
  await producer.disconnect();
  await admin.disconnect();
  return topic;
}

async function startFromEarliest(brokers: string, group: string): Promise<void> {
  const kafka = new Kafka({ clientId: 'bench-queues', brokers: brokers.split(','), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.client.incrementalAlterConfigs({ resources: [{ resourceType: 32, resourceName: group, configs: [{ name: 'share.auto.offset.reset', configOperation: 0, value: 'earliest' }] }] });
  await admin.disconnect();
}

/** `workers` WebSocket clients doing 20 ms of work per record; resolves with the records done per second in the window. */
async function webSocketWorkers(url: string, workers: number, seconds: number, subscribe: Record<string, unknown>, answerOf: (frame: Record<string, unknown>, id: string) => Record<string, unknown>): Promise<Measurement> {
  let counting = false;
  let done = 0;
  let errors = 0;
  const sockets = await Promise.all(
    Array.from(
      { length: workers },
      () =>
        new Promise<WebSocket>((resolve, reject) => {
          const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/v1/ws`, { perMessageDeflate: false });
          let answers = 0;
          ws.on('message', (data) => {
            const frame = JSON.parse(data.toString()) as Record<string, unknown>;
            if (frame.op === 'subscribed') resolve(ws);
            else if (frame.op === 'record') {
              setTimeout(() => {
                if (ws.readyState !== ws.OPEN) return;
                ws.send(JSON.stringify(answerOf(frame, `a${answers++}`)));
                ws.send(JSON.stringify({ op: 'credit', sub: 'w', n: 1 }));
                // Consumer group acks have no reply: the record counts when its ack goes.
                if (counting && frame.deliveryCount === undefined) done += 1;
              }, HANDLER_MS);
            } else if (frame.op === 'answered') {
              if (counting) done += 1;
            } else if (frame.op === 'error') {
              errors += 1;
            }
          });
          ws.once('open', () => ws.send(JSON.stringify({ op: 'subscribe', id: 'w', credit: 1, ...subscribe })));
          ws.once('error', reject);
        }),
    ),
  );
  // Members settle before the window opens.
  await new Promise((r) => setTimeout(r, 3000));
  counting = true;
  const began = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  counting = false;
  const elapsed = (performance.now() - began) / 1000;
  await Promise.all(sockets.map((ws) => new Promise((r) => (ws.once('close', r), ws.close()))));
  return { rate: done / elapsed, errors };
}

async function javaWorkers(brokers: string, topic: string, group: string, workers: number, seconds: number): Promise<Measurement> {
  const child = spawn('java', ['-cp', `${ensureKafkaJars()}/*`, 'bench/JavaShareWorkers.java', brokers, group, topic, String(workers), String(HANDLER_MS), String(seconds)], { stdio: ['ignore', 'pipe', 'ignore'] });
  const result = await new Promise<{ accepted: number; seconds: number }>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      const event = JSON.parse(line) as { accepted?: number; seconds?: number };
      if (event.accepted !== undefined) resolve(event as { accepted: number; seconds: number });
    });
    child.once('exit', (code) => reject(new Error(`Java share workers exited with ${code}`)));
  });
  return { rate: result.accepted / result.seconds };
}

export async function runQueueBenchmarks({ brokers, seconds, rounds, workers }: QueueOptions): Promise<ScenarioResult[]> {
  process.stdout.write(`Queue: 1 partition, ${workers} workers, ${HANDLER_MS} ms per record\n`);
  const perRun = Math.ceil(workers * (1000 / HANDLER_MS) * (seconds + 10) * 1.2);
  const gateway = await startGatewayProcess(brokers, { WS_MAX_CONNECTIONS: String(workers * 2) });
  try {
    let consumerGroup: Measurement | undefined;
    const measured = await alternate(
      rounds,
      async () => {
        const topic = await backlog(brokers, perRun);
        const group = unique('bench-share-java');
        await startFromEarliest(brokers, group);
        return javaWorkers(brokers, topic, group, workers, seconds);
      },
      async () => {
        const topic = await backlog(brokers, perRun);
        const group = unique('bench-share-ws');
        await startFromEarliest(brokers, group);
        const share = await webSocketWorkers(gateway.url, workers, seconds, { topics: [topic], shareGroup: group }, (frame, id) => ({
          op: 'answer',
          id,
          sub: 'w',
          topic: frame.topic,
          partition: frame.partition,
          offset: frame.offset,
          outcome: 'accept',
        }));
        consumerGroup ??= await webSocketWorkers(gateway.url, workers, seconds, { topics: [topic], group: unique('bench-consumer-group'), from: 'earliest', ack: 'manual' }, (frame) => ({
          op: 'ack',
          sub: 'w',
          topic: frame.topic,
          partition: frame.partition,
          offset: frame.offset,
        }));
        process.stdout.write(`      consumer group, same workers: ${consumerGroup.rate.toFixed(0)}/s\n`);
        return share;
      },
    );
    return [
      {
        name: `queue: 1 partition, ${workers} ws workers (${HANDLER_MS} ms each)`,
        description: `Records/s accepted by ${workers} WebSocket workers of one share group on a one-partition topic, each taking ${HANDLER_MS} ms per record, against ${workers} Java KafkaShareConsumers doing the same work directly.`,
        target: 'ratio ≥ 0.5; > 2× the consumer group',
        baseline: measured.baseline,
        gateway: measured.gateway,
        ratio: measured.ratio,
        met: measured.ratio >= 0.5 && measured.gateway.rate > 2 * (consumerGroup?.rate ?? Infinity),
        extra: { consumerGroupRate: consumerGroup?.rate, shareOverConsumerGroup: consumerGroup ? measured.gateway.rate / consumerGroup.rate : undefined, ceiling: workers * (1000 / HANDLER_MS) },
        rounds: measured.rounds,
      },
    ];
  } finally {
    await gateway.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const option = (name: string, fallback: number) => {
    const at = process.argv.indexOf(name);
    return at >= 0 ? Number(process.argv[at + 1]) : fallback;
  };
  let broker: Broker | undefined;
  let brokers = process.env.KAFKA_BROKERS;
  if (!brokers) {
    broker = await startBroker({ heap: '1g' });
    brokers = broker.brokers;
  }
  try {
    const [result] = await runQueueBenchmarks({ brokers, seconds: option('--seconds', 10), rounds: option('--rounds', 1), workers: option('--workers', 100) });
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await broker?.stop();
  }
}
