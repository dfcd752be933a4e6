/** Shared pieces of the benchmarks: a gateway in its own process, statistics, and the result record. */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { request, type Agent } from 'node:http';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { Consumer } from '@platformatic/kafka';
import { createInterface } from 'node:readline';

export interface GatewayProcess {
  readonly url: string;
  readonly pid: number;
  stop(): Promise<void>;
}

/**
 * Starts the gateway as a separate process, as it runs in production
 * (compiled by tsc, `node dist/src/main.js`, NODE_ENV=production, as the
 * Dockerfile runs it), so that its CPU and memory are its own and not the
 * load generator's, and none of its time goes to a loader's transforms.
 * It logs at info only until it is listening; stdout is drained, not kept.
 * `script`: another server started the same way (bench/http-limit.ts);
 * `cwd`: another checkout of the gateway (BENCH_BEFORE); `nodeArgs`: flags
 * for node itself (bench/v2-read.ts opens the inspector to collect garbage).
 */
export async function startGatewayProcess(brokers: string, env: Record<string, string> = {}, script = 'src/main.ts', cwd?: string, nodeArgs: readonly string[] = []): Promise<GatewayProcess> {
  const compiled = await compile(cwd ?? process.cwd(), script);
  // BENCH_CPU_PROF=<dir>: each gateway writes a V8 CPU profile there when it stops (read with bench/profile.ts).
  const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
  const child: ChildProcess = spawn(process.execPath, [...profile, ...nodeArgs, compiled], {
    env: { ...process.env, NODE_ENV: 'production', KAFKA_BROKERS: brokers, PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
    cwd,
  });
  const url = await new Promise<string>((res, rej) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      try {
        const entry = JSON.parse(line) as { msg?: string; url?: string };
        if (entry.msg === 'gateway listening' && entry.url) res(entry.url);
      } catch {
        // not a log line
      }
    });
    child.once('exit', (code) => rej(new Error(`gateway exited with ${code}`)));
  });
  // After start-up only warnings matter; reading stdout keeps the pipe from filling.
  child.stdout!.resume();
  await waitForReady(url);
  return {
    url,
    pid: child.pid!,
    stop: () =>
      new Promise<void>((res) => {
        child.once('exit', () => res());
        child.kill('SIGTERM');
      }),
  };
}

const compilations = new Map<string, Promise<void>>();

/**
 * `script` of checkout `dir` as tsc compiles it into dist/, once per
 * checkout and run: tsconfig.bench.json (the gateway and the HTTP limit)
 * where the checkout has one, else tsconfig.build.json (`npm run build`,
 * the gateway alone: an older checkout under BENCH_BEFORE).
 */
async function compile(dir: string, script: string): Promise<string> {
  const root = resolve(dir);
  let done = compilations.get(root);
  if (done === undefined) {
    const project = existsSync(join(root, 'tsconfig.bench.json')) ? 'tsconfig.bench.json' : 'tsconfig.build.json';
    done = promisify(execFile)(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', project], { cwd: root }).then(() => undefined);
    compilations.set(root, done);
  }
  await done;
  const compiled = join(root, 'dist', script.replace(/\.ts$/, '.js'));
  if (!existsSync(compiled)) throw new Error(`${compiled} was not built (${script} is not in the checkout's build)`);
  return compiled;
}

/**
 * A GET's answer as bytes, over `agent`'s kept-alive connection with
 * node:http rather than fetch: the load generator shares the cores with
 * the gateway, so it neither decodes answers to strings nor parses them.
 */
export function getBytes(agent: Agent, url: string, accept = 'application/json'): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent, headers: { accept } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        if (res.statusCode === 200) resolve(body);
        else reject(new Error(`GET ${url}: ${res.statusCode} ${body.toString('utf8', 0, 300)}`));
      });
    });
    req.on('error', reject);
    req.end();
  });
}

const OFFSET_FIELD = Buffer.from('"offset":');

/** The records of an answer, counted without parsing it: each has one `"offset":`. */
export function countOffsets(body: Buffer): number {
  let n = 0;
  for (let at = body.indexOf(OFFSET_FIELD); at !== -1; at = body.indexOf(OFFSET_FIELD, at + OFFSET_FIELD.length)) n++;
  return n;
}

/** What a direct reader hands its encoder for each record of a fetch. */
export interface DirectReadEncoder {
  record(partition: number, offset: bigint, timestamp: number, key: Buffer | null, value: Buffer | null): void;
  /** The fetch's records are all handed over: the bytes written for them. */
  endFetch(): number;
}

/**
 * The leanest reader, the baseline of reads through the gateway: fetches
 * of every partition of `topic` from offset 0, no group, until `count`
 * records, each fetch's records encoded by `encoder` as the gateway would
 * send them. Records/s, CPU per 100,000 records and the time to the first.
 */
export async function readDirectly(brokers: string, topic: string, count: number, partitionMaxBytes: number, encoder: DirectReadEncoder): Promise<Measurement & { firstRecordMs: number }> {
  const consumer = new Consumer({ clientId: 'bench-direct-read', bootstrapBrokers: [brokers], groupId: 'bench-direct-read-unused', retries: 5 });
  const metadata = await consumer.metadata({ topics: [topic] });
  const { id: topicId, partitions } = metadata.topics.get(topic)!;
  const positions = partitions.map(() => 0n);
  const cpu = process.cpuUsage();
  const started = performance.now();
  let firstMs: number | undefined;
  let read = 0;
  let bytes = 0;
  while (read < count) {
    const response = await consumer.fetch({
      node: partitions[0]!.leader,
      maxWaitTime: 100,
      topics: [{ topicId, partitions: positions.map((fetchOffset, partition) => ({ partition, fetchOffset, partitionMaxBytes, currentLeaderEpoch: -1, lastFetchedEpoch: -1 })) }],
    });
    let fetched = 0;
    for (const { partitions: answered } of response.responses) {
      for (const { partitionIndex, records } of answered) {
        for (const batch of records ?? []) {
          for (const record of batch.records) {
            const offset = batch.firstOffset + BigInt(record.offsetDelta);
            if (offset < positions[partitionIndex]!) continue;
            encoder.record(partitionIndex, offset, Number(batch.firstTimestamp + record.timestampDelta), record.key ?? null, record.value ?? null);
            fetched++;
          }
          positions[partitionIndex] = batch.firstOffset + BigInt(batch.lastOffsetDelta) + 1n;
        }
      }
    }
    bytes += encoder.endFetch();
    if (fetched > 0) firstMs ??= performance.now() - started;
    read += fetched;
  }
  const elapsed = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  await consumer.close(true);
  if (bytes === 0) throw new Error('nothing read');
  return { rate: read / elapsed, firstRecordMs: firstMs ?? NaN, cpuPer100k: ((used.user + used.system) / 1e6) * (100_000 / read) };
}

async function waitForReady(url: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    const res = await fetch(`${url}/readyz`).catch(() => undefined);
    if (res?.status === 200) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('gateway did not become ready');
}

/** Resident memory of a process, from /proc (Linux). */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1];
  return kb ? Number(kb) * 1024 : NaN;
}

/** CPU time a process has used, user plus system, from /proc (Linux; clock ticks of 10 ms). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may hold spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index]!;
}

export function median(values: readonly number[]): number {
  return percentile([...values].sort((a, b) => a - b), 50);
}

export interface Measurement {
  /** Records per second. */
  readonly rate: number;
  readonly p50Ms?: number;
  readonly p99Ms?: number;
  readonly errors?: number;
  /** CPU seconds the side's process spent per 100,000 records (user plus system). */
  readonly cpuPer100k?: number;
}

export interface ScenarioResult {
  readonly name: string;
  readonly description: string;
  readonly target: string;
  readonly baseline: Measurement;
  readonly gateway: Measurement;
  /** gateway / baseline records per second (median of the alternating rounds). */
  readonly ratio: number;
  readonly met: boolean | undefined;
  readonly extra?: Record<string, unknown>;
  readonly rounds: ReadonlyArray<{ baseline: Measurement; gateway: Measurement; limit?: Measurement }>;
  /** A second reference where there is one: the best any HTTP server could do (produce), measured in the same rounds. */
  readonly limit?: Measurement;
  /** gateway / limit records per second (median of the rounds). */
  readonly limitRatio?: number;
}

/** One side's measurement in a round, as the round's line shows it. */
const show = (m: Measurement) => `${m.rate.toFixed(0)}/s${m.errors ? ` (${m.errors} failed)` : ''}${m.cpuPer100k === undefined ? '' : ` ${m.cpuPer100k.toFixed(2)} cpu-s/100k`}`;

/** The medians of one side's rounds (CPU seconds per 100,000 records: the table's CPU column); errors are summed. */
function medianOf(ms: readonly Measurement[]): Measurement {
  const of = (f: (m: Measurement) => number | undefined) => (ms[0] && f(ms[0]) === undefined ? undefined : median(ms.map((m) => f(m)!)));
  return {
    rate: median(ms.map((m) => m.rate)),
    p50Ms: of((m) => m.p50Ms),
    p99Ms: of((m) => m.p99Ms),
    cpuPer100k: of((m) => m.cpuPer100k),
    errors: ms.reduce((n, m) => n + (m.errors ?? 0), 0),
  };
}

/** Runs baseline and gateway alternately, so drift on a shared machine hits both alike, and keeps the median of each. */
export async function alternate(
  rounds: number,
  baseline: () => Promise<Measurement>,
  gateway: () => Promise<Measurement>,
): Promise<{ baseline: Measurement; gateway: Measurement; ratio: number; rounds: Array<{ baseline: Measurement; gateway: Measurement }> }> {
  const results: Array<{ baseline: Measurement; gateway: Measurement }> = [];
  for (let i = 0; i < rounds; i++) {
    const b = await baseline();
    const g = await gateway();
    results.push({ baseline: b, gateway: g });
    process.stdout.write(`    round ${i + 1}: direct ${show(b)}, gateway ${show(g)}\n`);
  }
  const ratios = results.map((r) => r.gateway.rate / r.baseline.rate);
  return { baseline: medianOf(results.map((r) => r.baseline)), gateway: medianOf(results.map((r) => r.gateway)), ratio: median(ratios), rounds: results };
}

/**
 * Three sides in turn each round (the baseline, the limit, the gateway;
 * every other round the other way round), so drift on a shared machine
 * hits all alike; medians of each side and of the
 * per-round ratios. `before`: a fourth side, the gateway as it was before a
 * change (BENCH_BEFORE), measured in the same rounds.
 */
export async function alternateWithLimit(
  rounds: number,
  baseline: () => Promise<Measurement>,
  limit: () => Promise<Measurement>,
  gateway: () => Promise<Measurement>,
  before?: () => Promise<Measurement>,
): Promise<{
  baseline: Measurement;
  limit: Measurement;
  gateway: Measurement;
  ratio: number;
  limitRatio: number;
  before?: { gateway: Measurement; ratio: number; limitRatio: number };
  rounds: Array<{ baseline: Measurement; gateway: Measurement; limit: Measurement; before?: Measurement }>;
}> {
  const results: Array<{ baseline: Measurement; gateway: Measurement; limit: Measurement; before?: Measurement }> = [];
  for (let i = 0; i < rounds; i++) {
    // Every other round in reverse order, so that no side always runs first after a pause or right after another's load.
    let b: Measurement, l: Measurement, old: Measurement | undefined, g: Measurement;
    if (i % 2 === 0) {
      b = await baseline();
      l = await limit();
      old = await before?.();
      g = await gateway();
    } else {
      g = await gateway();
      old = await before?.();
      l = await limit();
      b = await baseline();
    }
    results.push({ baseline: b, limit: l, gateway: g, ...(old ? { before: old } : {}) });
    process.stdout.write(`    round ${i + 1}: direct ${show(b)}, HTTP limit ${show(l)},${old ? ` gateway before ${show(old)},` : ''} gateway ${show(g)}\n`);
  }
  const olds = results.flatMap((r) => (r.before ? [{ ...r, before: r.before }] : []));
  return {
    baseline: medianOf(results.map((r) => r.baseline)),
    limit: medianOf(results.map((r) => r.limit)),
    gateway: medianOf(results.map((r) => r.gateway)),
    ratio: median(results.map((r) => r.gateway.rate / r.baseline.rate)),
    limitRatio: median(results.map((r) => r.gateway.rate / r.limit.rate)),
    ...(olds.length > 0
      ? {
          before: {
            gateway: medianOf(olds.map((r) => r.before)),
            ratio: median(olds.map((r) => r.before.rate / r.baseline.rate)),
            limitRatio: median(olds.map((r) => r.before.rate / r.limit.rate)),
          },
        }
      : {}),
    rounds: results,
  };
}
