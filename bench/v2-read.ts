/**
 * Confluent v2 reads by polling: a consumer instance of the gateway reading
 * a pre-filled topic from the start (JSON and binary formats), against a
 * direct consumer reading the same records and JSON-encoding them as v2
 * answers them, in the same run, alternating. Reports records/s, the time
 * from creating the instance to its first record, and the gateway's
 * resident memory before, at its peak during the read and after the
 * instance is deleted, each after a full garbage collection (through the
 * gateway's inspector). BENCH_BEFORE=<checkout> reads through the gateway of
 * another checkout too, in the same rounds.
 */
import { Agent } from 'node:http';
import { Producer } from '@platformatic/kafka';
import { freePort } from '../kafka/broker.js';
import { alternate, countOffsets, cpuSeconds, getBytes, median, readDirectly, rssBytes, startGatewayProcess, type DirectReadEncoder, type GatewayProcess, type Measurement, type ScenarioResult } from './lib.js';

export interface V2ReadBenchOptions {
  readonly brokers: string;
  readonly rounds: number;
  /** Records in each topic. */
  readonly records: number;
  /** Only these scenarios (v2-read-json, v2-read-binary); all when undefined. */
  readonly scenarios?: readonly string[];
}

const V2 = 'application/vnd.kafka.v2+json';
const PARTITIONS = 6;

async function fill(brokers: string, topic: string, count: number, value: (i: number) => Buffer): Promise<void> {
  const producer = new Producer({ clientId: 'bench-v2-fill', bootstrapBrokers: [brokers], autocreateTopics: false });
  await producer.metadata({ topics: [topic], autocreateTopics: false });
  for (let sent = 0; sent < count; ) {
    const n = Math.min(500, count - sent);
    await producer.send({ messages: Array.from({ length: n }, (_, i) => ({ topic, key: Buffer.from(String(sent + i)), value: value(sent + i), partition: (sent + i) % PARTITIONS })) });
    sent += n;
  }
  await producer.close();
}

/** The direct reader's encoder: each fetch's records JSON-encoded as a v2 answer. */
function v2Answer(topic: string, format: 'json' | 'binary'): DirectReadEncoder {
  const embed = (b: Buffer | null) => (b === null ? null : format === 'json' ? (JSON.parse(b.toString('utf8')) as unknown) : b.toString('base64'));
  let answer: unknown[] = [];
  return {
    record: (partition, offset, _timestamp, key, value) => answer.push({ topic, key: embed(key), value: embed(value), partition, offset: Number(offset) }),
    endFetch: () => {
      const bytes = answer.length === 0 ? 0 : JSON.stringify(answer).length;
      answer = [];
      return bytes;
    },
  };
}

async function call(gateway: GatewayProcess, method: string, path: string, body?: unknown, accept = V2): Promise<Response> {
  const res = await fetch(`${gateway.url}${path}`, {
    method,
    headers: { accept, ...(body === undefined ? {} : { 'content-type': V2 }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return res;
}

interface GatewayRead extends Measurement {
  readonly firstRecordMs: number;
  readonly rssBeforeMiB: number;
  readonly rssPeakMiB: number;
  readonly rssAfterMiB: number;
  /** V8 heap in use plus memory outside it (buffers), from the gateway's /metrics, each after a full collection: what it still holds, which RSS need not show. */
  readonly heapBeforeMiB: number;
  readonly heapAfterMiB: number;
  /** Record bytes the instance held ahead of its reads, at most, sampled with RSS. */
  readonly bufferedPeakMiB: number;
}

/**
 * A full garbage collection in the gateway, through its inspector (the
 * gateway runs with --inspect on a port of its own): what is measured
 * after it is what the process still holds, not garbage V8 has not
 * collected yet.
 */
async function collectGarbage(inspectPort: number): Promise<void> {
  const [target] = (await (await fetch(`http://127.0.0.1:${inspectPort}/json/list`)).json()) as Array<{ webSocketDebuggerUrl: string }>;
  const socket = new WebSocket(target!.webSocketDebuggerUrl);
  try {
    await new Promise<void>((resolve, reject) => {
      socket.onopen = () => socket.send(JSON.stringify({ id: 1, method: 'HeapProfiler.collectGarbage' }));
      socket.onmessage = (event) => {
        if ((JSON.parse(String(event.data)) as { id?: number }).id === 1) resolve();
      };
      socket.onerror = () => reject(new Error('the gateway\'s inspector did not answer'));
    });
  } finally {
    socket.close();
  }
}

/** Heap used plus external memory (Buffers) of the gateway, from its default process metrics. */
async function bufferedMiB(gateway: GatewayProcess): Promise<number> {
  const text = await (await fetch(`${gateway.url}/metrics`)).text();
  return Number(/^gateway_consumer_instance_buffered_bytes (\S+)$/m.exec(text)?.[1] ?? NaN) / 1024 ** 2;
}

async function heldMiB(gateway: GatewayProcess): Promise<number> {
  const text = await (await fetch(`${gateway.url}/metrics`)).text();
  const metric = (name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  return (metric('nodejs_heap_size_used_bytes') + metric('nodejs_external_memory_bytes')) / 1024 ** 2;
}

/** One v2 instance reading the topic from the start until it has every record, then deleted. */
async function viaGateway(gateway: GatewayProcess, inspectPort: number, topic: string, count: number, format: 'json' | 'binary', round: number): Promise<GatewayRead> {
  const group = `bench-v2-${format}-${Date.now().toString(36)}-${round}`;
  const mib = () => rssBytes(gateway.pid) / 1024 ** 2;
  await collectGarbage(inspectPort);
  const rssBefore = mib();
  const heapBefore = await heldMiB(gateway);
  let rssPeak = rssBefore;
  let bufferedPeak = 0;
  const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, mib())), 100);
  // The gauge through /metrics twice a second: scraped every 100 ms, the scrapes took a tenth of the gateway's CPU during a read
  // (its default process metrics), a load the direct reader does not carry. A gateway before the change has no such gauge: NaN, left out.
  const gaugeSampler = setInterval(() => void bufferedMiB(gateway).then((b) => (bufferedPeak = b > bufferedPeak ? b : bufferedPeak), () => undefined), 500);
  const cpu = cpuSeconds(gateway.pid);
  const started = performance.now();
  let firstMs: number | undefined;
  let read = 0;
  try {
    await call(gateway, 'POST', `/consumers/${group}`, { name: 'reader', format, 'auto.offset.reset': 'earliest', 'auto.commit.enable': 'false' });
    const base = `/consumers/${group}/instances/reader`;
    await call(gateway, 'POST', `${base}/subscription`, { topics: [topic] });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      while (read < count) {
        const n = countOffsets(await getBytes(agent, `${gateway.url}${base}/records?timeout=1000`, `application/vnd.kafka.${format}.v2+json`));
        if (n > 0) firstMs ??= performance.now() - started;
        read += n;
      }
    } finally {
      agent.destroy();
    }
    const elapsed = (performance.now() - started) / 1000;
    const used = cpuSeconds(gateway.pid) - cpu;
    await call(gateway, 'DELETE', base);
    clearInterval(sampler);
    clearInterval(gaugeSampler);
    // Memory after the read: what the process keeps once the instance is gone and the collector has run.
    await new Promise((r) => setTimeout(r, 3000));
    await collectGarbage(inspectPort);
    return {
      rate: read / elapsed,
      cpuPer100k: used * (100_000 / read),
      firstRecordMs: firstMs ?? NaN,
      rssBeforeMiB: rssBefore,
      rssPeakMiB: rssPeak,
      rssAfterMiB: mib(),
      heapBeforeMiB: heapBefore,
      heapAfterMiB: await heldMiB(gateway),
      bufferedPeakMiB: bufferedPeak,
    };
  } finally {
    clearInterval(sampler);
    clearInterval(gaugeSampler);
  }
}

export async function runV2ReadBenchmarks({ brokers, rounds, records, scenarios }: V2ReadBenchOptions): Promise<ScenarioResult[]> {
  const results: ScenarioResult[] = [];
  const suffix = Date.now().toString(36);
  const topics = { json: `bench-v2-json-${suffix}`, binary: `bench-v2-binary-${suffix}` };
  const inspectPort = await freePort();
  const gateway = await startGatewayProcess(brokers, { AUTO_CREATE_TOPICS: 'false' }, undefined, undefined, [`--inspect=127.0.0.1:${inspectPort}`]);
  // BENCH_BEFORE=<dir>: a checkout of the gateway before a change (its node_modules linked), read through in the same rounds.
  const beforeDir = process.env.BENCH_BEFORE;
  const beforePort = beforeDir ? await freePort() : 0;
  const old = beforeDir ? await startGatewayProcess(brokers, { AUTO_CREATE_TOPICS: 'false' }, 'src/main.ts', beforeDir, [`--inspect=127.0.0.1:${beforePort}`]) : undefined;
  try {
    for (const format of (['json', 'binary'] as const).filter((f) => scenarios === undefined || scenarios.includes(`v2-read-${f}`))) {
      const topic = topics[format];
      const created = await fetch(`${gateway.url}/v1/topics`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: topic, partitions: PARTITIONS, replicationFactor: 1 }),
      });
      if (!created.ok) throw new Error(`creating ${topic}: ${created.status} ${await created.text()}`);
      const payload = { payload: 'x'.repeat(1000) };
      const binary = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 131 + 7) % 256));
      process.stdout.write(`  v2-read-${format}: filling ${topic} with ${records} records\n`);
      await fill(brokers, topic, records, format === 'json' ? (i) => Buffer.from(JSON.stringify({ ...payload, i })) : () => binary);
      process.stdout.write(`  v2-read-${format}: a v2 consumer instance reading ${records} records from the start\n`);
      const reads: GatewayRead[] = [];
      const beforeReads: GatewayRead[] = [];
      const directFirst: number[] = [];
      const directRates: number[] = [];
      let round = 0;
      const compared = await alternate(
        rounds,
        async () => {
          const r = await readDirectly(brokers, topic, records, 1024 * 1024, v2Answer(topic, format));
          directFirst.push(r.firstRecordMs);
          directRates.push(r.rate);
          return r;
        },
        async () => {
          if (old) {
            const b = await viaGateway(old, beforePort, topic, records, format, round);
            beforeReads.push(b);
            process.stdout.write(`      before the change: ${b.rate.toFixed(0)}/s ${b.cpuPer100k!.toFixed(2)} cpu-s/100k, first record after ${b.firstRecordMs.toFixed(0)} ms; heap and buffers after a full collection ${b.heapBeforeMiB.toFixed(0)} MiB before, ${b.heapAfterMiB.toFixed(0)} after\n`);
          }
          const r = await viaGateway(gateway, inspectPort, topic, records, format, round++);
          reads.push(r);
          process.stdout.write(
            `      first record after ${r.firstRecordMs.toFixed(0)} ms; RSS ${r.rssBeforeMiB.toFixed(0)} MiB before, ${r.rssPeakMiB.toFixed(0)} peak, ${r.rssAfterMiB.toFixed(0)} after; heap and buffers after a full collection ${r.heapBeforeMiB.toFixed(0)} MiB before, ${r.heapAfterMiB.toFixed(0)} after; instance buffer at most ${r.bufferedPeakMiB.toFixed(1)} MiB\n`,
          );
          return r;
        },
      );
      const med = (f: (r: GatewayRead) => number) => median(reads.map(f));
      results.push({
        name: `v2-read-${format}`,
        description: `a Confluent v2 consumer instance (format ${format}) reading ${records} records of 1 KiB from the start of a 6-partition topic; baseline: a direct consumer fetching the same records and JSON-encoding them as v2 answers them`,
        target: 'gateway >= 50% of direct records/s; heap and buffers back down after the read (within 16 MiB)',
        ...compared,
        met: compared.ratio >= 0.5 && med((r) => r.heapAfterMiB - r.heapBeforeMiB) < 16,
        extra: {
          firstRecordMs: med((r) => r.firstRecordMs),
          directFirstRecordMs: median(directFirst),
          rssBeforeMiB: med((r) => r.rssBeforeMiB),
          rssPeakMiB: med((r) => r.rssPeakMiB),
          rssAfterMiB: med((r) => r.rssAfterMiB),
          heapBeforeMiB: med((r) => r.heapBeforeMiB),
          heapAfterMiB: med((r) => r.heapAfterMiB),
          bufferedPeakMiB: med((r) => r.bufferedPeakMiB),
          ...(beforeReads.length > 0
            ? {
                beforeRate: median(beforeReads.map((r) => r.rate)),
                beforeRatio: median(beforeReads.map((r, i) => r.rate / directRates[i]!)),
                beforeCpuPer100k: median(beforeReads.map((r) => r.cpuPer100k!)),
                beforeFirstRecordMs: median(beforeReads.map((r) => r.firstRecordMs)),
                beforeHeapGrowthMiB: median(beforeReads.map((r) => r.heapAfterMiB - r.heapBeforeMiB)),
                beforeRssPeakMiB: median(beforeReads.map((r) => r.rssPeakMiB)),
              }
            : {}),
        },
      });
    }
  } finally {
    await Promise.all([gateway.stop(), old?.stop()]);
  }
  return results;
}
