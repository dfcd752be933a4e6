/**
 * WebSocket scenarios: many subscriptions, each with its own consumer
 * group, on one topic fed at a fixed rate, against the same number of
 * direct kafkajs consumers (each its own group) on the same broker; and a
 * slow consumer beside fast ones.
 */
import { execFileSync } from 'node:child_process';
import { Kafka, logLevel, type Consumer, type Producer } from 'kafkajs';
import WebSocket from 'ws';
import { cpuSeconds, percentile, rssBytes, startGatewayProcess, type GatewayProcess, type Measurement, type ScenarioResult } from './lib.js';

export interface WebSocketBenchOptions {
  readonly brokers: string;
  readonly seconds: number;
  /** Fan-out sizes to run. */
  readonly counts: readonly number[];
}

const RATE_PER_SECOND = 1000;
// The gateway's WS_FETCH_MAX_WAIT_MS (its default unless set), and the direct consumers' maxWaitTimeInMs alike.
const FETCH_MAX_WAIT_MS = Number(process.env.WS_FETCH_MAX_WAIT_MS ?? 100);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Produces `rate` records per second, each carrying its send time, until stopped. */
function feed(producer: Producer, topic: string, rate: number): { stop(): Promise<number> } {
  let running = true;
  let sent = 0;
  const tick = 50;
  const perTick = Math.max(1, Math.round((rate * tick) / 1000));
  const loop = (async () => {
    while (running) {
      const started = performance.now();
      const messages = Array.from({ length: perTick }, () => ({ value: JSON.stringify({ sentAt: Date.now(), pad: 'x'.repeat(100) }) }));
      await producer.send({ topic, messages }).catch(() => undefined);
      sent += perTick;
      await sleep(Math.max(0, tick - (performance.now() - started)));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return sent;
    },
  };
}

interface Receipts {
  count: number;
  latencies: number[];
}

function record(receipts: Receipts, sentAt: unknown): void {
  receipts.count += 1;
  // Sample latencies so 1,000 subscribers do not make the measurement the bottleneck.
  if (typeof sentAt === 'number' && receipts.count % 7 === 0) receipts.latencies.push(Date.now() - sentAt);
}

function summarize(receipts: Receipts, seconds: number): Measurement {
  const sorted = receipts.latencies.sort((a, b) => a - b);
  return { rate: receipts.count / seconds, p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99) };
}

/** Connections from `pid` to the broker's port, from the kernel's socket table. */
function brokerConnections(pid: number, brokerPort: number): number {
  try {
    const out = execFileSync('ss', ['-tnp', 'state', 'established', `( dport = :${brokerPort} )`], { encoding: 'utf8' });
    return out.split('\n').filter((line) => line.includes(`pid=${pid},`)).length;
  } catch {
    return NaN;
  }
}

async function directConsumers(kafka: Kafka, topic: string, count: number, seconds: number, producer: Producer): Promise<Measurement> {
  const receipts: Receipts = { count: 0, latencies: [] };
  const consumers: Consumer[] = [];
  for (let i = 0; i < count; i++) {
    const consumer = kafka.consumer({ groupId: `bench-direct-${Date.now()}-${i}`, maxWaitTimeInMs: FETCH_MAX_WAIT_MS, sessionTimeout: 10_000, heartbeatInterval: 1000 });
    consumers.push(consumer);
  }
  await Promise.all(
    consumers.map(async (consumer) => {
      const joined = new Promise<void>((res) => consumer.on(consumer.events.GROUP_JOIN, () => res()));
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: false });
      await consumer.run({
        eachMessage: async ({ message }) => {
          record(receipts, (JSON.parse(String(message.value)) as { sentAt?: number }).sentAt);
        },
      });
      await joined;
    }),
  );
  await sleep(1000);
  receipts.count = 0;
  receipts.latencies = [];
  const feeding = feed(producer, topic, RATE_PER_SECOND);
  await sleep(seconds * 1000);
  await feeding.stop();
  const result = summarize(receipts, seconds);
  await Promise.all(consumers.map((c) => c.disconnect()));
  return result;
}

async function openSubscriptions(gateway: GatewayProcess, topic: string, count: number, receipts: Receipts): Promise<WebSocket[]> {
  const url = `${gateway.url.replace(/^http/, 'ws')}/v1/ws`;
  const sockets: WebSocket[] = [];
  // Open in waves: a thousand simultaneous group joins is a thundering herd no real fleet produces.
  for (let start = 0; start < count; start += 50) {
    await Promise.all(
      Array.from({ length: Math.min(50, count - start) }, async () => {
        const ws = new WebSocket(url);
        sockets.push(ws);
        await new Promise<void>((res, rej) => {
          ws.once('error', rej);
          ws.once('open', () => ws.send(JSON.stringify({ op: 'subscribe', id: 's', topics: [topic] })));
          ws.on('message', (data) => {
            const frame = JSON.parse(data.toString()) as { op: string; value?: { sentAt?: number } };
            if (frame.op === 'subscribed') res();
            else if (frame.op === 'record') record(receipts, frame.value?.sentAt);
            else if (frame.op === 'error') rej(new Error(JSON.stringify(frame)));
          });
        });
      }),
    );
  }
  return sockets;
}

async function viaGateway(gateway: GatewayProcess, topic: string, count: number, seconds: number, producer: Producer, brokerPort: number) {
  const receipts: Receipts = { count: 0, latencies: [] };
  const rssBefore = rssBytes(gateway.pid);
  const sockets = await openSubscriptions(gateway, topic, count, receipts);
  await sleep(1000);
  const rssHeld = rssBytes(gateway.pid);
  const connections = brokerConnections(gateway.pid, brokerPort);
  // What the subscriptions cost at rest, before a record flows: fetch loops and heartbeats.
  const idleSeconds = 3;
  const cpuBefore = cpuSeconds(gateway.pid);
  await sleep(idleSeconds * 1000);
  const idleCpuPercent = (100 * (cpuSeconds(gateway.pid) - cpuBefore)) / idleSeconds;
  receipts.count = 0;
  receipts.latencies = [];
  const feeding = feed(producer, topic, RATE_PER_SECOND);
  await sleep(seconds * 1000);
  await feeding.stop();
  const measurement = summarize(receipts, seconds);
  for (const ws of sockets) ws.close();
  await sleep(2000);
  return { measurement, bytesPerSubscription: (rssHeld - rssBefore) / count, brokerConnectionsPerSubscription: connections / count, idleCpuPercent };
}

/** One subscriber stops reading while others go on: peak gateway memory, and the others' rate with and without it. */
async function slowConsumer(gateway: GatewayProcess, topic: string, seconds: number, producer: Producer): Promise<ScenarioResult> {
  const others = 10;
  const run = async (withSlow: boolean) => {
    const receipts: Receipts = { count: 0, latencies: [] };
    const sockets = await openSubscriptions(gateway, topic, others, receipts);
    let slow: WebSocket | undefined;
    if (withSlow) {
      [slow] = await openSubscriptions(gateway, topic, 1, { count: 0, latencies: [] });
      (slow as unknown as { _socket: { pause(): void } })._socket.pause();
    }
    await sleep(500);
    receipts.count = 0;
    receipts.latencies = [];
    let peak = 0;
    const sampler = setInterval(() => (peak = Math.max(peak, rssBytes(gateway.pid))), 100);
    // The slow scenario feeds big records so that the stalled socket really fills.
    const feeding = feed(producer, topic, RATE_PER_SECOND * 2);
    await sleep(seconds * 1000);
    await feeding.stop();
    clearInterval(sampler);
    for (const ws of sockets) ws.close();
    slow?.terminate();
    await sleep(1500);
    return { measurement: summarize(receipts, seconds), peak };
  };
  const without = await run(false);
  const withSlow = await run(true);
  const ratio = withSlow.measurement.rate / without.measurement.rate;
  return {
    name: 'slow-consumer',
    description: `${others} subscribers, then the same with one more that stops reading (2,000 records/s in); baseline = without the slow one`,
    target: "others' rate does not drop (ratio >= 0.95); memory stays under the bound",
    baseline: without.measurement,
    gateway: withSlow.measurement,
    ratio,
    met: ratio >= 0.95,
    extra: { peakRssMiB: withSlow.peak / 1024 ** 2, peakRssWithoutSlowMiB: without.peak / 1024 ** 2, wsMaxBufferedMiB: 4 },
    rounds: [{ baseline: without.measurement, gateway: withSlow.measurement }],
  };
}

export async function runWebSocketBenchmarks(options: WebSocketBenchOptions): Promise<ScenarioResult[]> {
  const { brokers, seconds, counts } = options;
  const brokerPort = Number(brokers.split(',')[0]!.split(':').pop());
  const kafka = new Kafka({ brokers: [brokers], clientId: 'bench-ws', logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const topic = `bench-fanout-${Date.now().toString(36)}`;
  await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true });
  await admin.disconnect();
  const producer = kafka.producer();
  await producer.connect();
  const results: ScenarioResult[] = [];
  // Each scenario gets a fresh gateway: releasing a thousand consumer groups
  // takes the previous one a while, and that must not count against the next.
  const withGateway = async <T>(run: (gateway: GatewayProcess) => Promise<T>): Promise<T> => {
    const gateway = await startGatewayProcess(brokers, { WS_MAX_CONNECTIONS: '5000', WS_FETCH_MAX_WAIT_MS: String(FETCH_MAX_WAIT_MS) });
    try {
      return await run(gateway);
    } finally {
      await gateway.stop();
    }
  };
  try {
    for (const count of counts) {
      process.stdout.write(`  WebSocket fan-out: ${count} subscriptions, ${RATE_PER_SECOND} records/s in\n`);
      const baseline = await directConsumers(kafka, topic, count, seconds, producer);
      process.stdout.write(`    direct: ${baseline.rate.toFixed(0)}/s delivered, p99 ${baseline.p99Ms} ms\n`);
      const { measurement, bytesPerSubscription, brokerConnectionsPerSubscription, idleCpuPercent } = await withGateway((gateway) =>
        viaGateway(gateway, topic, count, seconds, producer, brokerPort),
      );
      process.stdout.write(`    gateway: ${measurement.rate.toFixed(0)}/s delivered, p99 ${measurement.p99Ms} ms\n`);
      results.push({
        name: `ws-fanout-${count}`,
        description: `${count} subscriptions, each its own consumer group, one topic fed at ${RATE_PER_SECOND} records/s; baseline: ${count} direct kafkajs consumers`,
        target: count === 1000 ? 'held on one process with p99 < 100 ms' : 'report',
        baseline,
        gateway: measurement,
        ratio: measurement.rate / baseline.rate,
        met: count === 1000 ? (measurement.p99Ms ?? Infinity) < 100 && measurement.rate > 0.95 * RATE_PER_SECOND * count : undefined,
        extra: { gatewayKiBPerSubscription: bytesPerSubscription / 1024, brokerConnectionsPerSubscription, gatewayIdleCpuPercent: idleCpuPercent },
        rounds: [{ baseline, gateway: measurement }],
      });
    }
    process.stdout.write('  slow consumer beside fast ones\n');
    results.push(await withGateway((gateway) => slowConsumer(gateway, topic, seconds, producer)));
  } finally {
    await producer.disconnect();
  }
  return results;
}
