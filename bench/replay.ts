/**
 * Reading what a topic already holds over plain HTTP, against a direct
 * consumer reading the same records and JSON-encoding them as the gateway
 * writes them, in the same run, alternating:
 *
 * - `page-read`: stateless partition pages
 *   (GET /v1/topics/{topic}/partitions/0/records) of one partition holding
 *   RECORDS records, page after page from offset 0 to the end.
 * - `sse-replay`: one event stream (GET /v1/topics/{topic}/events) from the
 *   start of a 3-partition topic holding RECORDS records, until every
 *   record's event has arrived.
 *
 * Each record is a JSON value of about 250 bytes with a text key. The
 * direct consumer fetches every partition from offset 0 (no group) and
 * writes each record as the body a page or an event carries (for events
 * with its `id:` line), so the ratio is what HTTP and the gateway's own
 * work (paging, the shared partition stream, resume tokens, flow control)
 * cost on top of reading and encoding.
 */
import { Agent, request } from 'node:http';
import { Producer } from '@platformatic/kafka';
import { alternate, countOffsets, cpuSeconds, getBytes, median, readDirectly, startGatewayProcess, type DirectReadEncoder, type GatewayProcess, type Measurement, type ScenarioResult } from './lib.js';

export interface ReplayBenchOptions {
  readonly brokers: string;
  readonly rounds: number;
  /** Records each read covers. */
  readonly records: number;
}

/** Records per page: the most a page takes (openapi.yaml). */
const PAGE_LIMIT = 10_000;
const PAGE_MAX_BYTES = 10 * 1024 * 1024;
const PAD = 'x'.repeat(200);

async function fill(brokers: string, topic: string, partitions: number, count: number): Promise<void> {
  const producer = new Producer({ clientId: 'bench-replay-fill', bootstrapBrokers: [brokers], autocreateTopics: false });
  await producer.metadata({ topics: [topic], autocreateTopics: false });
  for (let sent = 0; sent < count; ) {
    const n = Math.min(1000, count - sent);
    await producer.send({
      messages: Array.from({ length: n }, (_, i) => ({
        topic,
        key: Buffer.from(`key-${sent + i}`),
        value: Buffer.from(JSON.stringify({ i: sent + i, at: Date.now(), pad: PAD })),
        partition: (sent + i) % partitions,
      })),
    });
    sent += n;
  }
  await producer.close();
}

/**
 * The direct reader's encoder: each record written as the JSON body the
 * gateway sends (key as text, value parsed as JSON), with an event's `id:`
 * line when `events`.
 */
function recordBodies(topic: string, events: boolean): DirectReadEncoder {
  let parts: string[] = [];
  return {
    record: (partition, offset, timestamp, key, value) => {
      const body = JSON.stringify({
        topic,
        partition,
        offset: String(offset),
        timestamp,
        key: key?.toString('utf8') ?? null,
        keyEncoding: key ? 'text' : null,
        value: value ? (JSON.parse(value.toString('utf8')) as unknown) : null,
        valueEncoding: value ? 'json' : null,
        headers: {},
      });
      parts.push(events ? `id: ${partition}-${offset}\nevent: record\ndata: ${body}\n\n` : body);
    },
    endFetch: () => {
      const bytes = Buffer.byteLength(events ? parts.join('') : `[${parts.join(',')}]`);
      parts = [];
      return bytes;
    },
  };
}

/** Pages of partition 0 from offset 0 until `count` records; counted by their offsets, not parsed (getBytes). */
async function pages(gateway: GatewayProcess, topic: string, count: number): Promise<Measurement> {
  const cpu = cpuSeconds(gateway.pid);
  const started = performance.now();
  let read = 0;
  let offset = '0';
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    while (read < count) {
      const page = await getBytes(agent, `${gateway.url}/v1/topics/${topic}/partitions/0/records?offset=${offset}&limit=${PAGE_LIMIT}&maxBytes=${PAGE_MAX_BYTES}`);
      const n = countOffsets(page);
      const next = /"nextOffset":"(\d+)"/.exec(page.toString('latin1', Math.max(0, page.length - 200)))?.[1];
      if (next === undefined) throw new Error('a page without nextOffset');
      if (n === 0) throw new Error(`an empty page at ${offset} after ${read} records`);
      read += n;
      offset = next;
    }
  } finally {
    agent.destroy();
  }
  const elapsed = (performance.now() - started) / 1000;
  return { rate: read / elapsed, cpuPer100k: (cpuSeconds(gateway.pid) - cpu) * (100_000 / read) };
}

/** One event stream from the start of the topic until `count` record events; counted, not parsed. */
async function stream(gateway: GatewayProcess, topic: string, count: number): Promise<Measurement> {
  const cpu = cpuSeconds(gateway.pid);
  const started = performance.now();
  const agent = new Agent({ keepAlive: false });
  const marker = 'event: record\n';
  const read = await new Promise<number>((resolve, reject) => {
    const req = request(`${gateway.url}/v1/topics/${topic}/events?from=earliest`, { agent, headers: { accept: 'text/event-stream' } });
    req.once('error', reject);
    req.once('response', (res) => {
      if (res.statusCode !== 200) return reject(new Error(`events: HTTP ${res.statusCode}`));
      res.setEncoding('latin1');
      let n = 0;
      let tail = '';
      res.on('data', (chunk: string) => {
        const text = tail + chunk;
        for (let at = text.indexOf(marker); at !== -1; at = text.indexOf(marker, at + marker.length)) n++;
        // Too short to hold a whole marker (counted already), long enough for one the chunk's end cut.
        tail = text.slice(-(marker.length - 1));
        if (n >= count) {
          req.destroy();
          resolve(n);
        }
      });
      res.on('error', () => undefined);
      res.once('end', () => reject(new Error(`the stream ended after ${n} events`)));
    });
    req.end();
  });
  const elapsed = (performance.now() - started) / 1000;
  agent.destroy();
  return { rate: read / elapsed, cpuPer100k: (cpuSeconds(gateway.pid) - cpu) * (100_000 / read) };
}

export async function runReplayBenchmarks({ brokers, rounds, records }: ReplayBenchOptions): Promise<ScenarioResult[]> {
  const suffix = Date.now().toString(36);
  const gateway = await startGatewayProcess(brokers, { AUTO_CREATE_TOPICS: 'false' });
  // BENCH_BEFORE=<dir>: a checkout of the gateway before a change (its node_modules linked), measured in the same rounds.
  const beforeDir = process.env.BENCH_BEFORE;
  const old = beforeDir ? await startGatewayProcess(brokers, { AUTO_CREATE_TOPICS: 'false' }, 'src/main.ts', beforeDir) : undefined;
  const results: ScenarioResult[] = [];
  try {
    const scenarios = [
      { name: 'page-read', topic: `bench-pages-${suffix}`, partitions: 1, read: (g: GatewayProcess, t: string) => pages(g, t, records), events: false },
      { name: 'sse-replay', topic: `bench-replay-${suffix}`, partitions: 3, read: (g: GatewayProcess, t: string) => stream(g, t, records), events: true },
    ];
    for (const { name, topic, partitions, read, events } of scenarios) {
      const created = await fetch(`${gateway.url}/v1/topics`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: topic, partitions, replicationFactor: 1 }),
      });
      if (!created.ok) throw new Error(`creating ${topic}: ${created.status} ${await created.text()}`);
      process.stdout.write(`  ${name}: filling ${topic} (${partitions} partition(s)) with ${records} records\n`);
      await fill(brokers, topic, partitions, records);
      process.stdout.write(`  ${name}: ${events ? 'one event stream replaying' : `pages of ${PAGE_LIMIT} reading`} ${records} records from the start\n`);
      const befores: Measurement[] = [];
      const compared = await alternate(
        rounds,
        () => readDirectly(brokers, topic, records, PAGE_MAX_BYTES, recordBodies(topic, events)),
        async () => {
          if (old) {
            const m = await read(old, topic);
            befores.push(m);
            process.stdout.write(`      gateway before: ${m.rate.toFixed(0)}/s, ${m.cpuPer100k!.toFixed(2)} cpu-s/100k\n`);
          }
          return read(gateway, topic);
        },
      );
      const cpuOf = (ms: Measurement[]) => median(ms.map((m) => m.cpuPer100k!));
      results.push({
        name,
        description: events
          ? `one event stream (GET /v1/topics/{topic}/events?from=earliest) replaying ${records} JSON records of about 250 bytes from a 3-partition topic; baseline: a direct consumer fetching the same records and writing each as the same event (body and id line)`
          : `stateless pages of ${PAGE_LIMIT} records (GET /v1/topics/{topic}/partitions/0/records) reading ${records} JSON records of about 250 bytes from one partition; baseline: a direct consumer fetching the same records and writing each as the same body`,
        target: 'report records/s against the direct consumer',
        ...compared,
        met: undefined,
        extra: {
          directCpuPer100k: cpuOf(compared.rounds.map((r) => r.baseline)),
          gatewayCpuPer100k: cpuOf(compared.rounds.map((r) => r.gateway)),
          ...(befores.length > 0
            ? {
                beforeRate: median(befores.map((m) => m.rate)),
                beforeRatio: median(befores.map((m, i) => m.rate / compared.rounds[i]!.baseline.rate)),
                beforeCpuPer100k: cpuOf(befores),
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
