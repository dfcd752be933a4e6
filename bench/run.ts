/**
 * `npm run bench [-- --quick]`: every scenario, each against its baseline
 * on the same broker in the same run: a direct @platformatic/kafka producer
 * for produce (and kafkajs as a second baseline, in the details),
 * the physical limit of the job (one consumer, a plain ws broadcast) for
 * fan-out. Writes
 * bench/results/latest.json and docs/benchmarks.md. Targets are reported,
 * never asserted: absolute numbers on a shared 2-core machine are noise,
 * ratios less so.
 *
 * `npm run bench -- --render` rewrites docs/benchmarks.md from the last
 * results and docs/benchmarks-notes.md without running anything.
 *
 * For a look at one part, e.g. under BENCH_CPU_PROF: `--only produce`,
 * `--only avro` (Avro produce and partition-page reads, bench/avro.ts; `--avro-records N`),
 * `--only v2` (Confluent v2 consumer-instance reads; `--v2-records N`),
 * `--only ws --idle N` (only the idle subscriptions scenario, N of them),
 * `--only replay` (partition pages and one event stream reading a filled
 * topic from the start, bench/replay.ts; `--replay-records N`),
 * `--only ws`, `--only queues` (share group workers, bench/queues.ts), `--only sse` (the event-stream fan-out beside the
 * WebSocket fan-out of the same size), or `--only groups` (1,000 durable members in 100 groups beside 1,000 ephemeral
 * subscriptions: broker connections and memory per member, bench/groups.ts), and `--subscriptions 1000` (fan-out
 * sizes, comma-separated), `--rounds N` and `--seconds S` (per round),
 * `--scenario a,b` (with `--only produce`: only the produce scenarios of
 * these names, e.g. batched-produce-binary; with `--only ws`: only these of
 * ws-fanout-N, ws-durable-groups, slow-consumer, ws-idle; with `--only v2`:
 * v2-read-json or v2-read-binary).
 * Such a partial run writes bench/results/partial.json and leaves the
 * report alone, unless given `--merge`: then its scenarios replace those of
 * the same name in bench/results/latest.json and docs/benchmarks.md.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem, platform, release } from 'node:os';
import { startBroker, kafkaVersion, type Broker } from '../kafka/broker.js';
import { runAvroBenchmarks } from './avro.js';
import type { ScenarioResult } from './lib.js';
import { runGroupsBenchmark } from './groups-scenario.js';
import { runProduceBenchmarks } from './produce.js';
import { runQueueBenchmarks } from './queues.js';
import { runReplayBenchmarks } from './replay.js';
import { runSseBenchmarks } from './sse.js';
import { runV2ReadBenchmarks } from './v2-read.js';
import { runWebSocketBenchmarks } from './websocket.js';

if (process.argv.includes('--render')) {
  const last = JSON.parse(readFileSync('bench/results/latest.json', 'utf8')) as { machine: Machine; results: ScenarioResult[] };
  writeFileSync('docs/benchmarks.md', renderMarkdown(last.machine, last.results, readFileSync('docs/benchmarks-notes.md', 'utf8')));
  process.stdout.write('Wrote docs/benchmarks.md from bench/results/latest.json\n');
  process.exit(0);
}

const quick = process.argv.includes('--quick');
const option = (name: string): string | undefined => {
  const at = process.argv.indexOf(name);
  return at >= 0 ? process.argv[at + 1] : undefined;
};
const seconds = Number(option('--seconds') ?? (quick ? 3 : 10));
const rounds = Number(option('--rounds') ?? (quick ? 1 : 3));
if (!(seconds > 0) || !Number.isInteger(rounds) || rounds < 1) throw new Error('--seconds takes a positive number, --rounds a whole number');
const only = option('--only');
if (only !== undefined && !['produce', 'avro', 'v2', 'replay', 'ws', 'sse', 'queues', 'groups'].includes(only)) throw new Error('--only takes produce, avro, v2, replay, ws, sse, queues or groups');
const counts = option('--subscriptions')?.split(',').map(Number) ?? (quick ? [1000] : [1000, 10000]);
if (counts.some((n) => !Number.isInteger(n) || n < 1)) throw new Error('--subscriptions takes whole numbers, e.g. 100,1000');
const partial = only !== undefined || option('--scenario') !== undefined || option('--subscriptions') !== undefined || option('--seconds') !== undefined || option('--rounds') !== undefined;

let broker: Broker | undefined;
let brokers = process.env.KAFKA_BROKERS;
if (!brokers) {
  broker = await startBroker({ heap: '1g' });
  brokers = broker.brokers;
}
process.stdout.write(`Benchmarks against Kafka at ${brokers} (${quick ? 'quick' : 'full'}: ${rounds} round(s) of ${seconds} s)\n`);

const version = (pkg: string) => (JSON.parse(readFileSync(`node_modules/${pkg}/package.json`, 'utf8')) as { version: string }).version;
const machine: Machine = {
  cpus: `${cpus().length} x ${cpus()[0]?.model ?? 'unknown'}`,
  memoryGiB: Math.round(totalmem() / 1024 ** 3),
  os: `${platform()} ${release()}`,
  node: process.version,
  kafka: kafkaVersion,
  client: `@platformatic/kafka ${version('@platformatic/kafka')}`,
  date: new Date().toISOString(),
  mode: quick ? 'quick' : 'full',
};

const results: ScenarioResult[] = [];
const began = performance.now();
const elapsed = () => `${((performance.now() - began) / 1000).toFixed(0)} s`;
try {
  if (only === undefined || only === 'produce') {
    results.push(...(await runProduceBenchmarks({ brokers, seconds, rounds, scenarios: option('--scenario')?.split(',') })));
    process.stdout.write(`  (produce scenarios done at ${elapsed()})\n`);
  }
  if (only === undefined || only === 'avro') {
    results.push(...(await runAvroBenchmarks({ brokers, seconds, rounds, records: Number(option('--avro-records') ?? (quick ? 20_000 : 50_000)) })));
    process.stdout.write(`  (Avro scenarios done at ${elapsed()})\n`);
  }
  if (only === undefined || only === 'v2') {
    results.push(...(await runV2ReadBenchmarks({ brokers, rounds, records: Number(option('--v2-records') ?? (quick ? 20_000 : 100_000)), scenarios: only === 'v2' ? option('--scenario')?.split(',') : undefined })));
    process.stdout.write(`  (v2 read scenarios done at ${elapsed()})\n`);
  }
  if (only === undefined || only === 'replay') {
    results.push(...(await runReplayBenchmarks({ brokers, rounds, records: Number(option('--replay-records') ?? (quick ? 20_000 : 100_000)) })));
    process.stdout.write(`  (page and event-stream replay scenarios done at ${elapsed()})\n`);
  }
  if (only === undefined || only === 'ws' || only === 'sse') {
    const idle = option('--idle');
    results.push(
      ...(await runWebSocketBenchmarks({ brokers, seconds, counts, quick, fanoutOnly: only === 'sse', idleOnly: idle === undefined ? undefined : Number(idle), scenarios: only === 'ws' ? option('--scenario')?.split(',') : undefined })),
    );
    process.stdout.write(`  (WebSocket scenarios done at ${elapsed()})\n`);
  }
  if (only === undefined || only === 'queues') {
    results.push(...(await runQueueBenchmarks({ brokers, seconds, rounds, workers: 100 })));
    process.stdout.write(`  (queue scenarios done at ${elapsed()})\n`);
  }
  if (only === undefined || only === 'sse') {
    results.push(...(await runSseBenchmarks({ brokers, seconds, counts })));
    process.stdout.write(`  (event-stream scenarios done at ${elapsed()})\n`);
  }
  if (only === undefined || only === 'groups') {
    // Durable members beside ephemeral subscriptions (connections, memory, heartbeats), in a gateway process of its own.
    // Targets are reported, never asserted: a miss is printed by the scenario and the run goes on.
    const durable = runGroupsBenchmark({ brokers, quick });
    if (durable) results.push(durable);
    process.stdout.write(`  (durable member scenario done at ${elapsed()}; bench/results/groups.json)\n`);
  }
} finally {
  await broker?.stop();
}

mkdirSync('bench/results', { recursive: true });
if (partial && process.argv.includes('--merge')) {
  // The scenarios of this run replace those of the same name in the last full results (others are kept, in order).
  const last = JSON.parse(readFileSync('bench/results/latest.json', 'utf8')) as { machine: Machine; results: ScenarioResult[] };
  const fresh = new Map(results.map((r) => [r.name, r]));
  const merged = [...last.results.map((r) => fresh.get(r.name) ?? r), ...results.filter((r) => !last.results.some((l) => l.name === r.name))];
  const mergedMachine = { ...machine, mode: `${last.machine.mode}; ${results.map((r) => r.name).join(', ')} from a partial run on ${machine.date}` };
  writeFileSync('bench/results/partial.json', JSON.stringify({ machine, results }, null, 2));
  writeFileSync('bench/results/latest.json', JSON.stringify({ machine: mergedMachine, results: merged }, null, 2));
  writeFileSync('docs/benchmarks.md', renderMarkdown(mergedMachine, merged, readFileSync('docs/benchmarks-notes.md', 'utf8')));
  process.stdout.write(`\n${renderTable(results)}\nMerged into bench/results/latest.json and docs/benchmarks.md\n`);
} else if (partial) {
  writeFileSync('bench/results/partial.json', JSON.stringify({ machine, results }, null, 2));
  process.stdout.write(`\n${renderTable(results)}\nWrote bench/results/partial.json\n`);
} else {
  writeFileSync('bench/results/latest.json', JSON.stringify({ machine, results }, null, 2));
  writeFileSync('docs/benchmarks.md', renderMarkdown(machine, results, readFileSync('docs/benchmarks-notes.md', 'utf8')));
  process.stdout.write(`\n${renderTable(results)}\nWrote bench/results/latest.json and docs/benchmarks.md\n`);
}

function fmt(n: number | undefined, digits = 0): string {
  return n === undefined || Number.isNaN(n) ? '—' : n.toFixed(digits);
}

function renderTable(rs: readonly ScenarioResult[]): string {
  const rows = rs.map(
    (r) =>
      `| ${r.name} | ${fmt(r.baseline.rate)} | ${fmt(r.gateway.rate)} | **${fmt(r.ratio, 2)}** | ${r.limit ? `${fmt(r.limit.rate)} / **${fmt(r.limitRatio, 2)}**` : '—'} | ${cpu(r)} | ${fmt(r.baseline.p50Ms, 1)} / ${fmt(r.baseline.p99Ms, 1)} | ${fmt(r.gateway.p50Ms, 1)} / ${fmt(r.gateway.p99Ms, 1)} | ${r.target} | ${r.met === undefined ? '—' : r.met ? 'met' : 'missed'} |`,
  );
  return [
    '| scenario | baseline rec/s | gateway rec/s | ratio | HTTP limit rec/s / gateway ratio to it | CPU s per 100k records: baseline / limit / gateway | baseline p50/p99 ms | gateway p50/p99 ms | target | |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---|---|',
    ...rows,
  ].join('\n');
}

function cpu(r: ScenarioResult): string {
  if (r.gateway.cpuPer100k === undefined) return '—';
  return [r.baseline.cpuPer100k, r.limit?.cpuPer100k, r.gateway.cpuPer100k].map((c) => fmt(c, 2)).join(' / ');
}

function renderChart(rs: readonly ScenarioResult[]): string {
  const width = 640;
  const bar = 22;
  const rows = rs
    .map((r, i) => {
      const y = 30 + i * (bar + 10);
      const w = Math.max(1, Math.min(1.5, r.ratio) * 300);
      return `<text x="10" y="${y + 16}" font-size="12">${r.name}</text><rect x="250" y="${y}" width="${w.toFixed(0)}" height="${bar}" fill="${r.met === false ? '#d9534f' : '#5b9bd5'}"/><text x="${(255 + w).toFixed(0)}" y="${y + 16}" font-size="12">${fmt(r.ratio, 2)}</text>`;
    })
    .join('');
  const height = 40 + rs.length * (bar + 10);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif"><text x="10" y="16" font-size="13">gateway / baseline (1.0 = as good as the direct client or the limit)</text><line x1="550" y1="24" x2="550" y2="${height}" stroke="#999" stroke-dasharray="4"/>${rows}</svg>\n`;
}

function renderMarkdown(m: Machine, rs: readonly ScenarioResult[], notes: string): string {
  writeFileSync('docs/benchmarks.svg', renderChart(rs));
  const details = rs
    .filter((r) => r.extra)
    .map((r) => `- **${r.name}**: ${Object.entries(r.extra!).map(([k, v]) => `${k} = ${typeof v === 'number' ? fmt(v, 2) : JSON.stringify(v)}`).join(', ')}`)
    .join('\n');
  return `# Benchmarks

Generated by \`npm run bench${m.mode === 'quick' ? ' -- --quick' : ''}\` on ${m.date}${m.mode.includes('partial') ? ` (${m.mode})` : ''}. Each scenario runs the
gateway and its baseline doing the same work on the same broker and reports
the ratio: for produce a direct @platformatic/kafka producer, the gateway's own
client (alternating rounds, median; kafkajs as a second baseline in the details),
for WebSocket fan-out the limit of the job on this machine, one consumer and
a plain \`ws\` broadcast of frames encoded once to the same sockets, and for
event-stream fan-out with key filters the same consumer writing each record
to the streams of its key.
Absolute figures on a shared 2-core machine are noise, the ratio much less so.

Machine: ${m.cpus}, ${m.memoryGiB} GiB, ${m.os}; Node ${m.node}, Apache Kafka ${m.kafka} (single KRaft node on the same machine), ${m.client ?? 'kafkajs (results from before the change of client)'}.

${renderTable(rs)}

![gateway to direct ratio per scenario](benchmarks.svg)

${details}

${notes}`;
}

interface Machine {
  readonly cpus: string;
  readonly memoryGiB: number;
  readonly os: string;
  readonly node: string;
  readonly kafka: string;
  readonly client: string;
  readonly date: string;
  readonly mode: string;
}
