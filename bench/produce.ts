/**
 * Produce scenarios: the gateway over HTTP against a direct
 * @platformatic/kafka producer (the gateway's own client) sending the same
 * records at the same concurrency on the same broker, and kafkajs as a
 * second baseline (installed on first use), so the change of client shows in
 * numbers.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import autocannon from 'autocannon';
import { Admin, Producer, compatibilityPartitioner } from '@platformatic/kafka';
import { alternate, alternateWithLimit, cpuSeconds, percentile, startGatewayProcess, type GatewayProcess, type Measurement, type ScenarioResult } from './lib.js';

/** One way to send `messages` to a topic and wait for the broker's acknowledgement. */
type Send = (topic: string, messages: ReadonlyArray<{ key: string; value: string | Buffer }>) => Promise<unknown>;
/** The sender a concurrent loop uses: the same for every loop, or one of its own. */
type SenderFor = (loop: number) => Send;

export interface ProduceBenchOptions {
  readonly brokers: string;
  readonly seconds: number;
  readonly rounds: number;
  /** Only the scenarios of these names (`--scenario`); every one when undefined. */
  readonly scenarios?: readonly string[];
}

const VALUE_1KIB = { payload: 'x'.repeat(1000) };
/** 1,000 bytes that are not text, sent base64-encoded with valueFormat=binary. */
const BINARY_1KIB = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 131 + 7) % 256));

/** What one scenario sends: the records as the direct client sends them and as an HTTP body carries them. */
interface Payload {
  readonly direct: (i: number) => { key: string; value: string | Buffer };
  readonly body: (i: number) => { key: string; value: unknown };
  /** The query string of the produce request. */
  readonly query: string;
}
const JSON_PAYLOAD: Payload = {
  direct: (i) => ({ key: String(i), value: JSON.stringify(VALUE_1KIB) }),
  body: (i) => ({ key: String(i), value: VALUE_1KIB }),
  query: '',
};
const BINARY_PAYLOAD: Payload = {
  direct: (i) => ({ key: String(i), value: BINARY_1KIB }),
  body: (i) => ({ key: String(i), value: BINARY_1KIB.toString('base64') }),
  query: '?valueFormat=binary',
};

async function createTopic(brokers: string, topic: string): Promise<void> {
  const admin = new Admin({ clientId: 'bench-admin', bootstrapBrokers: [brokers] });
  await admin.createTopics({ topics: [topic], partitions: 6, replicas: 1 });
  for (let i = 0; i < 100; i++) {
    const metadata = await admin.metadata({ topics: [topic], forceUpdate: true });
    if (metadata.topics.get(topic)?.partitions.every((p) => p.leader >= 0)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  await admin.close();
}

/**
 * The gateway's client, as direct producers: idempotent, acks from all
 * in-sync replicas, Java's partitioner. One producer per concurrent loop:
 * @platformatic/kafka's idempotent producer takes each batch's sequence
 * number when it builds the request and advances it only when the answer
 * comes, so two send() calls in flight on one producer reuse a sequence.
 * The broker then takes the second batch for a duplicate and acknowledges
 * it unwritten (on this machine 1,500 of 445,800 acknowledged records were
 * missing after 3 s), and later batches fail with
 * OUT_OF_ORDER_SEQUENCE_NUMBER. The gateway keeps its own sequences
 * (src/kafka/produce/producer-session.ts) and is not affected.
 */
function platformaticProducers(brokers: string): { senderFor: SenderFor; close(): Promise<void> } {
  const producers: Producer[] = [];
  return {
    senderFor: (loop) => {
      const producer = (producers[loop] ??= new Producer({ clientId: `bench-direct-${loop}`, bootstrapBrokers: [brokers], idempotent: true, acks: -1, partitioner: compatibilityPartitioner }));
      return (topic, messages) => producer.send({ messages: messages.map((m) => ({ topic, key: Buffer.from(m.key), value: typeof m.value === 'string' ? Buffer.from(m.value) : m.value })) });
    },
    close: async () => {
      await Promise.all(producers.map((p) => p.close()));
    },
  };
}

/**
 * kafkajs, the client the gateway used before, for the second baseline.
 * Its producers, like the direct ones above, send one request at a time.
 * It is not a dependency of the gateway: it is installed once into
 * bench/.kafkajs (git-ignored) when a benchmark asks for it.
 */
async function kafkajsProducer(brokers: string): Promise<{ senderFor: SenderFor; close(): Promise<void>; version: string }> {
  const dir = resolve('bench/.kafkajs');
  if (!existsSync(join(dir, 'node_modules/kafkajs/package.json'))) {
    process.stdout.write('  installing kafkajs into bench/.kafkajs for the second baseline (once)\n');
    execFileSync('npm', ['install', '--prefix', dir, '--no-save', '--no-package-lock', '--no-audit', '--no-fund', 'kafkajs@2.2.4'], { stdio: 'inherit' });
  }
  const require = createRequire(join(dir, 'package.json'));
  // kafkajs is CommonJS and untyped here: only the calls below are used.
  const kafkajs = require('kafkajs') as {
    Kafka: new (options: object) => { producer(options: object): { connect(): Promise<void>; disconnect(): Promise<void>; send(options: object): Promise<unknown> } };
    Partitioners: { DefaultPartitioner: unknown };
    logLevel: { NOTHING: number };
  };
  const version = (require('kafkajs/package.json') as { version: string }).version;
  const kafka = new kafkajs.Kafka({ brokers: [brokers], clientId: 'bench-kafkajs', logLevel: kafkajs.logLevel.NOTHING });
  // One producer per loop, as for the direct client, so the two clients are compared doing the same thing.
  const producers: Array<{ connected: Promise<void>; disconnect(): Promise<void>; send(options: object): Promise<unknown> }> = [];
  return {
    senderFor: (loop) => {
      producers[loop] ??= (() => {
        const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: kafkajs.Partitioners.DefaultPartitioner });
        return { connected: producer.connect(), disconnect: () => producer.disconnect(), send: (options: object) => producer.send(options) };
      })();
      const producer = producers[loop];
      return async (topic, messages) => {
        await producer.connected;
        return producer.send({ topic, acks: -1, messages });
      };
    },
    close: async () => {
      await Promise.all(producers.map((p) => p.disconnect()));
    },
    version,
  };
}

/** `concurrency` loops, each sending `batch` records per send until time is up; a failed send is counted, never hidden. */
async function direct(senderFor: SenderFor, topic: string, batch: number, concurrency: number, seconds: number, payload: Payload = JSON_PAYLOAD): Promise<Measurement> {
  const messages = Array.from({ length: batch }, (_, i) => payload.direct(i));
  const cpu = process.cpuUsage();
  const latencies: number[] = [];
  let records = 0;
  let errors = 0;
  const deadline = performance.now() + seconds * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, loop) => {
      const send = senderFor(loop);
      while (performance.now() < deadline) {
        const t0 = performance.now();
        try {
          await send(topic, messages);
          records += batch;
          latencies.push(performance.now() - t0);
        } catch (error) {
          if (errors++ === 0) process.stdout.write(`    direct send failed: ${(error as Error).message}\n`);
        }
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  latencies.sort((a, b) => a - b);
  return { rate: records / elapsed, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99), errors, cpuPer100k: per100k((used.user + used.system) / 1e6, records) };
}

function per100k(cpu: number, records: number): number | undefined {
  return records > 0 ? (cpu * 100_000) / records : undefined;
}

/** autocannon POSTing the same batch to the gateway (or the HTTP limit), with the CPU its process spent. */
async function viaGateway(gateway: GatewayProcess, topic: string, batch: number, connections: number, seconds: number, payload: Payload = JSON_PAYLOAD): Promise<Measurement> {
  const body = JSON.stringify({ records: Array.from({ length: batch }, (_, i) => payload.body(i)) });
  const cpu = cpuSeconds(gateway.pid);
  const result = await autocannon({
    url: `${gateway.url}/v1/topics/${topic}/records${payload.query}`,
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
    cpuPer100k: per100k(cpuSeconds(gateway.pid) - cpu, result['2xx'] * batch),
  };
}

/**
 * CPU seconds per 100,000 records of each side, for the details, and each
 * round's ratios: on a machine shared with other work the rates of a side
 * swing from round to round, and the spread of the ratios shows how far
 * the median can be trusted.
 */
function cpuFigures(r: {
  baseline: Measurement;
  limit: Measurement;
  gateway: Measurement;
  rounds: ReadonlyArray<{ baseline: Measurement; limit: Measurement; gateway: Measurement }>;
}): Record<string, number | string | undefined> {
  const each = (f: (round: (typeof r.rounds)[number]) => number) => r.rounds.map((round) => f(round).toFixed(2)).join(' ');
  return {
    directCpuPer100k: r.baseline.cpuPer100k,
    limitCpuPer100k: r.limit.cpuPer100k,
    gatewayCpuPer100k: r.gateway.cpuPer100k,
    limitRate: r.limit.rate,
    limitP99Ms: r.limit.p99Ms,
    limitRatioPerRound: each((round) => round.gateway.rate / round.limit.rate),
    directRatioPerRound: each((round) => round.gateway.rate / round.baseline.rate),
  };
}

export async function runProduceBenchmarks(options: ProduceBenchOptions): Promise<ScenarioResult[]> {
  const { brokers, seconds, rounds } = options;
  const wanted = (name: string) => options.scenarios === undefined || options.scenarios.includes(name);
  const producer = platformaticProducers(brokers);
  // Installed and connected on first use only, so a run of the binary scenario alone needs no kafkajs.
  let kafkajsOnce: ReturnType<typeof kafkajsProducer> | undefined;
  const suffix = Date.now().toString(36);
  const topics = { batched: `bench-batched-${suffix}`, single: `bench-single-${suffix}`, schema: `bench-schema-${suffix}` };
  for (const topic of Object.values(topics)) await createTopic(brokers, topic);
  /** kafkajs doing the same work, once, and how the direct client compares with it (the vendor's claim). */
  const secondBaseline = async (topic: string, batch: number, concurrency: number, ours: Measurement) => {
    const kafkajs = await (kafkajsOnce ??= kafkajsProducer(brokers));
    const other = await direct(kafkajs.senderFor, topic, batch, concurrency, seconds);
    process.stdout.write(`    kafkajs ${kafkajs.version}: ${other.rate.toFixed(0)}/s, p99 ${other.p99Ms?.toFixed(1)} ms\n`);
    return { kafkajsRate: other.rate, kafkajsP99Ms: other.p99Ms, gatewayToKafkajs: ours.rate / other.rate, platformaticToKafkajs: 0 };
  };
  const results: ScenarioResult[] = [];

  const gateway = await startGatewayProcess(brokers);
  const limit = await startGatewayProcess(brokers, {}, 'bench/http-limit.ts');
  // BENCH_BEFORE=<dir>: a checkout of the gateway before a change (its node_modules linked), measured in the same rounds.
  const beforeDir = process.env.BENCH_BEFORE;
  const old = beforeDir ? await startGatewayProcess(brokers, {}, 'src/main.ts', beforeDir) : undefined;
  const beforeFigures = (r: { before?: { gateway: Measurement; ratio: number; limitRatio: number } }) =>
    r.before ? { beforeRate: r.before.gateway.rate, beforeRatio: r.before.ratio, beforeLimitRatio: r.before.limitRatio, beforeCpuPer100k: r.before.gateway.cpuPer100k, beforeP99Ms: r.before.gateway.p99Ms } : {};
  try {
    const batchedScenarios = [
      { name: 'batched-produce', payload: JSON_PAYLOAD, what: '100 JSON records of 1 KiB per request' },
      { name: 'batched-produce-binary', payload: BINARY_PAYLOAD, what: '100 binary records of 1,000 bytes per request (base64 in the body)' },
    ].filter((s) => wanted(s.name));
    for (const { name, payload, what } of batchedScenarios) {
      process.stdout.write(`  ${name}: ${what}, 16 connections\n`);
      const batched = await alternateWithLimit(
        rounds,
        () => direct(producer.senderFor, topics.batched, 100, 16, seconds, payload),
        () => viaGateway(limit, topics.batched, 100, 16, seconds, payload),
        () => viaGateway(gateway, topics.batched, 100, 16, seconds, payload),
        old && (() => viaGateway(old, topics.batched, 100, 16, seconds, payload)),
      );
      const extra: Record<string, unknown> = { ...cpuFigures(batched), ...beforeFigures(batched) };
      if (payload === JSON_PAYLOAD) {
        const batchedKafkajs = await secondBaseline(topics.batched, 100, 16, batched.gateway);
        batchedKafkajs.platformaticToKafkajs = batched.baseline.rate / batchedKafkajs.kafkajsRate;
        Object.assign(extra, batchedKafkajs);
      }
      results.push({
        name,
        description: `${what}, 16 concurrent connections; baseline: a direct @platformatic/kafka producer; limit: a plain node:http server handing the same records to the same producer`,
        target: 'gateway >= 85% of the HTTP limit and >= 60% of direct records/s',
        ...batched,
        met: batched.limitRatio >= 0.85 && batched.ratio >= 0.6,
        extra,
      });
    }

    if (wanted('single-record-coalescing')) {
      process.stdout.write('  single record per request, 64 connections, coalescing on (the defaults)\n');
      const single = await alternateWithLimit(
        rounds,
        () => direct(producer.senderFor, topics.single, 1, 64, seconds),
        () => viaGateway(limit, topics.single, 1, 64, seconds),
        () => viaGateway(gateway, topics.single, 1, 64, seconds),
        old && (() => viaGateway(old, topics.single, 1, 64, seconds)),
      );
      const p99Ratio = (single.gateway.p99Ms ?? NaN) / (single.baseline.p99Ms ?? NaN);
      const singleKafkajs = await secondBaseline(topics.single, 1, 64, single.gateway);
      singleKafkajs.platformaticToKafkajs = single.baseline.rate / singleKafkajs.kafkajsRate;
      results.push({
        name: 'single-record-coalescing',
        description: '1 record per request, 64 concurrent connections, concurrent requests sharing batches (defaults); limit: a plain node:http server handing the same records to the same producer',
        target: 'gateway >= 60% of direct records/s and p99 within 2x',
        ...single,
        met: single.ratio >= 0.6 && p99Ratio <= 2,
        extra: { p99Ratio, ...cpuFigures(single), ...beforeFigures(single), ...singleKafkajs },
      });
    }

    if (wanted('schema-validation')) {
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
    }
  } finally {
    await gateway.stop();
    await limit.stop();
    await old?.stop();
  }

  // Coalescing off: every request its own batch, one at a time, to show what sharing batches buys.
  if (wanted('single-record-no-coalescing')) {
    const gw = await startGatewayProcess(brokers, { PRODUCE_COALESCE: 'false', PRODUCE_LINGER_MS: '0' });
    try {
      process.stdout.write('  single record per request, 64 connections, coalescing off\n');
      const single = await alternate(
        rounds,
        () => direct(producer.senderFor, topics.single, 1, 64, seconds),
        () => viaGateway(gw, topics.single, 1, 64, seconds),
      );
      results.push({
        name: 'single-record-no-coalescing',
        description: '1 record per request, 64 concurrent connections, every request its own batch (PRODUCE_COALESCE=false)',
        target: 'report: what coalescing buys',
        ...single,
        met: undefined,
        extra: { p99Ratio: (single.gateway.p99Ms ?? NaN) / (single.baseline.p99Ms ?? NaN) },
      });
    } finally {
      await gw.stop();
    }
  }

  await producer.close();
  await (await kafkajsOnce)?.close();
  return results;
}
