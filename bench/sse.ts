/**
 * Event-stream fan-out with key filters: N clients of
 * GET /v1/topics/{topic}/events, each with a key of its own (`key=user-<i>`),
 * on one topic fed with records whose keys cycle through all N, so every
 * record belongs to exactly one client. Every client must receive exactly
 * its records: none missing, none of another key, none twice.
 *
 * Baseline, as for the WebSocket fan-out: the limit of the job on this
 * machine (bench/broadcast.ts), one consumer and a plain HTTP server
 * writing each record's event to the streams of its key, found by one map
 * lookup, driven by the same client.
 */
import { Agent, request, type ClientRequest } from 'node:http';
import { Kafka, logLevel, type Producer } from '../test/helpers/kafka-client.js';
import { rssBytes, percentile, startGatewayProcess, type Measurement, type ScenarioResult } from './lib.js';
import { brokerConnections, feed, startBroadcast } from './websocket.js';

export interface SseBenchOptions {
  readonly brokers: string;
  readonly seconds: number;
  /** Numbers of streams to run; sizes above MAX_STREAMS are left to the WebSocket fan-out. */
  readonly counts: readonly number[];
}

/** Records per second fed into the topic, each for one stream: 2 per second per stream at 1,000. */
const RATE = 2000;
/** The scale event streams are measured at (their issue's); 10,000 is measured for WebSocket only, not run here. */
const MAX_STREAMS = 1000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const keyOf = (i: number) => `user-${i}`;

/** One stream's receipts, checked as they arrive. */
class StreamReceipts {
  readonly seen = new Set<string>();
  duplicates = 0;
  foreign = 0;
  #partial = '';

  constructor(readonly key: string) {}

  /** Parses the complete events in `chunk`; calls `onRecord` with each record's send time. */
  take(chunk: string, onRecord: (sentAt: number | undefined) => void): void {
    const blocks = (this.#partial + chunk).split('\n\n');
    this.#partial = blocks.pop()!;
    for (const block of blocks) {
      if (!block.includes('event: record')) continue;
      const data = block.slice(block.indexOf('data: ') + 'data: '.length);
      const record = JSON.parse(data) as { partition: number; offset: string; key: string; value?: { sentAt?: number } };
      if (record.key !== this.key) this.foreign += 1;
      const position = `${record.partition}:${record.offset}`;
      if (this.seen.has(position)) this.duplicates += 1;
      this.seen.add(position);
      onRecord(record.value?.sentAt);
    }
  }
}

interface SseFanoutRun {
  readonly measurement: Measurement;
  readonly delivered: number;
  readonly expected: number;
  /** Streams that got fewer or more of their own records than were produced with their key. */
  readonly wrongStreams: number;
  readonly foreign: number;
  readonly duplicates: number;
  readonly kibPerStream: number;
  readonly brokerConnections: number;
}

/** Opens `count` streams in waves; resolves once every one has answered 200. */
async function openStreams(urlOf: (i: number) => string, receipts: StreamReceipts[], onRecord: (sentAt: number | undefined) => void): Promise<ClientRequest[]> {
  const agent = new Agent({ keepAlive: false, maxSockets: Infinity });
  const requests: ClientRequest[] = [];
  for (let start = 0; start < receipts.length; start += 200) {
    await Promise.all(
      receipts.slice(start, start + 200).map(
        (stream, n) =>
          new Promise<void>((resolve, reject) => {
            const req = request(urlOf(start + n), { agent, headers: { accept: 'text/event-stream' } });
            requests.push(req);
            req.once('error', reject);
            req.once('response', (res) => {
              if (res.statusCode !== 200) return reject(new Error(`stream ${start + n}: HTTP ${res.statusCode}`));
              res.setEncoding('utf8');
              res.on('data', (chunk: string) => stream.take(chunk, onRecord));
              res.on('error', () => undefined);
              resolve();
            });
            req.end();
          }),
      ),
    );
  }
  return requests;
}

async function sseFanout(pid: number, urlOf: (i: number) => string, count: number, seconds: number, producer: Producer, topic: string, brokerPort: number): Promise<SseFanoutRun> {
  const streams = Array.from({ length: count }, (_, i) => new StreamReceipts(keyOf(i)));
  let received = 0;
  const latencies: number[] = [];
  const sampleEvery = 7;
  const onRecord = (sentAt: number | undefined) => {
    received += 1;
    if (received % sampleEvery === 0 && typeof sentAt === 'number') latencies.push(Date.now() - sentAt);
  };
  const rssBefore = rssBytes(pid);
  const requests = await openStreams(urlOf, streams, onRecord);
  await sleep(1000);
  const kibPerStream = (rssBytes(pid) - rssBefore) / count / 1024;
  const connections = brokerConnections(pid, brokerPort);
  received = 0;
  latencies.length = 0;
  const feeding = feed(producer, topic, RATE, 100, (n) => keyOf(n % count));
  await sleep(seconds * 1000);
  const sorted = [...latencies].sort((a, b) => a - b);
  const measurement = { rate: received / seconds, p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99) };
  const sent = await feeding.stop();
  const total = () => streams.reduce((n, s) => n + s.seen.size, 0);
  // Then everything sent must arrive: wait while deliveries still come in.
  for (let last = -1; total() !== last && total() < sent; ) {
    last = total();
    await sleep(1000);
  }
  for (const req of requests) req.destroy();
  await sleep(1000);
  const wrongStreams = streams.filter((s) => s.seen.size !== (feeding.sentByKey.get(s.key) ?? 0)).length;
  return {
    measurement,
    delivered: total(),
    expected: sent,
    wrongStreams,
    foreign: streams.reduce((n, s) => n + s.foreign, 0),
    duplicates: streams.reduce((n, s) => n + s.duplicates, 0),
    kibPerStream,
    brokerConnections: connections,
  };
}

async function sseFanoutScenario(brokers: string, topic: string, count: number, seconds: number, producer: Producer, brokerPort: number): Promise<ScenarioResult> {
  process.stdout.write(`  Event-stream fan-out: ${count} streams with a key each, ${RATE} records/s in\n`);
  const limitServer = await startBroadcast(brokers, topic);
  const limitUrl = limitServer.url.replace(/^ws/, 'http');
  const limit = await sseFanout(limitServer.pid, (i) => `${limitUrl}/events?key=${keyOf(i)}`, count, seconds, producer, topic, brokerPort).finally(() => limitServer.stop());
  process.stdout.write(`    limit (one consumer, a map from key to streams): ${limit.measurement.rate.toFixed(0)}/s, p99 ${limit.measurement.p99Ms} ms, ${limit.delivered}/${limit.expected}\n`);
  const gatewayProcess = await startGatewayProcess(brokers, {
    SSE_MAX_STREAMS: String(count + 100),
    // Every benchmark client comes from one address, as one anonymous principal.
    SSE_MAX_STREAMS_PER_ADDRESS: '1000000',
    SSE_MAX_STREAMS_PER_PRINCIPAL: '1000000',
    WS_FETCH_MAX_WAIT_MS: process.env.WS_FETCH_MAX_WAIT_MS ?? '100' });
  const gateway = await sseFanout(gatewayProcess.pid, (i) => `${gatewayProcess.url}/v1/topics/${topic}/events?key=${keyOf(i)}`, count, seconds, producer, topic, brokerPort).finally(() =>
    gatewayProcess.stop(),
  );
  process.stdout.write(
    `    gateway: ${gateway.measurement.rate.toFixed(0)}/s, p99 ${gateway.measurement.p99Ms} ms, ${gateway.delivered}/${gateway.expected}; ${gateway.wrongStreams} streams off, ${gateway.foreign} foreign, ${gateway.duplicates} twice\n`,
  );
  const exact = gateway.delivered === gateway.expected && gateway.wrongStreams === 0 && gateway.foreign === 0 && gateway.duplicates === 0;
  return {
    name: `sse-fanout-${count}`,
    description: `${count} event streams, each with its own key= filter, on one topic of 3 partitions fed at ${RATE} records/s with keys cycling through all of them (each record for one stream); baseline: one consumer and a plain HTTP server writing each record's event to the streams of its key`,
    target: 'every stream receives exactly its records (none missing, none foreign, none twice); report delivered/s and p99 beside ws-fanout',
    baseline: limit.measurement,
    gateway: gateway.measurement,
    ratio: gateway.measurement.rate / limit.measurement.rate,
    met: exact,
    extra: {
      delivered: `${gateway.delivered} of ${gateway.expected}`,
      streamsOff: gateway.wrongStreams,
      foreign: gateway.foreign,
      duplicates: gateway.duplicates,
      limitDelivered: `${limit.delivered} of ${limit.expected}`,
      gatewayKiBPerIdleStream: gateway.kibPerStream,
      gatewayBrokerConnections: gateway.brokerConnections,
      limitKiBPerIdleStream: limit.kibPerStream,
    },
    rounds: [{ baseline: limit.measurement, gateway: gateway.measurement }],
  };
}

export async function runSseBenchmarks({ brokers, seconds, counts }: SseBenchOptions): Promise<ScenarioResult[]> {
  const sizes = counts.filter((n) => n <= MAX_STREAMS);
  if (sizes.length < counts.length) process.stdout.write(`  Event-stream fan-out: sizes above ${MAX_STREAMS} are left out\n`);
  if (sizes.length === 0) return [];
  const brokerPort = Number(brokers.split(',')[0]!.split(':').pop());
  const kafka = new Kafka({ brokers: [brokers], clientId: 'bench-sse', logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const topic = `bench-sse-${Date.now().toString(36)}`;
  await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true });
  const producer = kafka.producer();
  await producer.connect();
  const results: ScenarioResult[] = [];
  try {
    for (const count of sizes) results.push(await sseFanoutScenario(brokers, topic, count, seconds, producer, brokerPort));
  } finally {
    await producer.disconnect();
    await admin.disconnect();
  }
  return results;
}
