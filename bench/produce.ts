/**
 * Produce scenarios: the gateway over HTTP against a kafkajs producer
 * sending the same records at the same concurrency on the same broker.
 */
import autocannon from 'autocannon';
import { Kafka, logLevel, Partitioners, type Producer } from 'kafkajs';
import { alternate, percentile, startGatewayProcess, type GatewayProcess, type Measurement, type ScenarioResult } from './lib.js';

export interface ProduceBenchOptions {
  readonly brokers: string;
  readonly seconds: number;
  readonly rounds: number;
}

const VALUE_1KIB = { payload: 'x'.repeat(1000) };

async function createTopic(kafka: Kafka, topic: string): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 6 }], waitForLeaders: true });
  await admin.disconnect();
}

/** `concurrency` loops, each sending `batch` records per send until time is up. */
async function direct(producer: Producer, topic: string, batch: number, concurrency: number, seconds: number): Promise<Measurement> {
  const messages = Array.from({ length: batch }, (_, i) => ({ key: String(i), value: JSON.stringify(VALUE_1KIB) }));
  const latencies: number[] = [];
  let records = 0;
  let errors = 0;
  const deadline = performance.now() + seconds * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        const t0 = performance.now();
        try {
          await producer.send({ topic, acks: -1, messages });
          records += batch;
          latencies.push(performance.now() - t0);
        } catch {
          errors += 1;
        }
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { rate: records / elapsed, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99), errors };
}

/** autocannon POSTing the same batch to the gateway. */
async function viaGateway(gateway: GatewayProcess, topic: string, batch: number, connections: number, seconds: number): Promise<Measurement> {
  const body = JSON.stringify({ records: Array.from({ length: batch }, (_, i) => ({ key: String(i), value: VALUE_1KIB })) });
  const result = await autocannon({
    url: `${gateway.url}/v1/topics/${topic}/records`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    connections,
    duration: seconds,
  });
  return {
    rate: (result['2xx'] * batch) / (result.duration || seconds),
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    errors: result.non2xx + result.errors + result.timeouts,
  };
}

export async function runProduceBenchmarks(options: ProduceBenchOptions): Promise<ScenarioResult[]> {
  const { brokers, seconds, rounds } = options;
  const kafka = new Kafka({ brokers: [brokers], clientId: 'bench-direct', logLevel: logLevel.NOTHING });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 5, createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const suffix = Date.now().toString(36);
  const topics = { batched: `bench-batched-${suffix}`, single: `bench-single-${suffix}`, schema: `bench-schema-${suffix}` };
  for (const topic of Object.values(topics)) await createTopic(kafka, topic);
  const results: ScenarioResult[] = [];

  const gateway = await startGatewayProcess(brokers);
  try {
    process.stdout.write('  batched produce: 100 x 1 KiB per request, 16 connections\n');
    const batched = await alternate(
      rounds,
      () => direct(producer, topics.batched, 100, 16, seconds),
      () => viaGateway(gateway, topics.batched, 100, 16, seconds),
    );
    results.push({
      name: 'batched-produce',
      description: '100 records of 1 KiB per request, 16 concurrent connections',
      target: 'gateway >= 80% of direct records/s',
      ...batched,
      met: batched.ratio >= 0.8,
    });

    process.stdout.write('  schema validation: batched produce to a topic with a JSON Schema vs without\n');
    const schema = {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      type: 'object',
      required: ['payload'],
      properties: { payload: { type: 'string', maxLength: 2000 } },
      additionalProperties: false,
    };
    const put = await fetch(`${gateway.url}/v1/topics/${topics.schema}/schema`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(schema),
    });
    if (!put.ok) throw new Error(`schema PUT failed: ${put.status} ${await put.text()}`);
    const validated = await alternate(
      rounds,
      () => viaGateway(gateway, topics.batched, 100, 16, seconds),
      () => viaGateway(gateway, topics.schema, 100, 16, seconds),
    );
    results.push({
      name: 'schema-validation',
      description: 'batched produce with a JSON Schema on the topic (gateway) vs without (baseline)',
      target: 'validation costs at most 10% of throughput (ratio >= 0.9)',
      ...validated,
      met: validated.ratio >= 0.9,
    });
  } finally {
    await gateway.stop();
  }

  // Coalescing off (every request its own batch) and on (the defaults), at the same concurrency.
  for (const coalesce of [false, true]) {
    const gw = await startGatewayProcess(brokers, coalesce ? {} : { PRODUCE_COALESCE: 'false', PRODUCE_LINGER_MS: '0' });
    try {
      process.stdout.write(`  single record per request, 64 connections, coalescing ${coalesce ? 'on' : 'off'}\n`);
      const single = await alternate(
        rounds,
        () => direct(producer, topics.single, 1, 64, seconds),
        () => viaGateway(gw, topics.single, 1, 64, seconds),
      );
      const p99Ratio = (single.gateway.p99Ms ?? NaN) / (single.baseline.p99Ms ?? NaN);
      results.push({
        name: coalesce ? 'single-record-coalescing' : 'single-record-no-coalescing',
        description: `1 record per request, 64 concurrent connections, ${coalesce ? 'concurrent requests sharing batches (defaults)' : 'every request its own batch (PRODUCE_COALESCE=false)'}`,
        target: coalesce ? 'gateway >= 60% of direct records/s and p99 within 2x' : 'report: what coalescing buys',
        ...single,
        met: coalesce ? single.ratio >= 0.6 && p99Ratio <= 2 : undefined,
        extra: { p99Ratio },
      });
    } finally {
      await gw.stop();
    }
  }

  await producer.disconnect();
  return results;
}
