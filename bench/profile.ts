/**
 * Where a gateway spent its CPU: reads V8 CPU profiles (from
 * `BENCH_CPU_PROF=<dir> npm run bench`) and prints self time by module
 * (an npm package, a folder of src/, or node's internals) and by function.
 *
 *   tsx bench/profile.ts <dir or .cpuprofile files...> [--top N]
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}
interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
}
interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

const args = process.argv.slice(2);
const topAt = args.indexOf('--top');
const top = topAt >= 0 ? Number(args[topAt + 1]) : 25;
const inputs = args.filter((a, i) => a !== '--top' && i !== topAt + 1);
const files = inputs.flatMap((input) =>
  statSync(input).isDirectory()
    ? readdirSync(input)
        .filter((f) => f.endsWith('.cpuprofile'))
        .map((f) => join(input, f))
    : [input],
);
if (files.length === 0) {
  process.stderr.write('usage: tsx bench/profile.ts <dir or .cpuprofile files...> [--top N]\n');
  process.exit(2);
}

/** The module a frame belongs to: `kafkajs`, `src/ws`, `node:internal`, or V8's own buckets such as `(garbage collector)`. */
function moduleOf({ url, functionName }: CallFrame): string {
  if (url === '') return functionName.startsWith('(') ? functionName : '(native)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1];
  if (pkg) return pkg;
  const own = /\/(src\/[^/]+|bench|scripts)\//.exec(url)?.[1];
  if (own) return own.replace(/\.ts$/, '');
  if (url.startsWith('node:')) return 'node:internal';
  return url;
}

for (const file of files) {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfMs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfMs.set(id, (selfMs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000));
  const total = [...selfMs.values()].reduce((a, b) => a + b, 0);
  const add = (into: Map<string, number>, key: string, ms: number) => into.set(key, (into.get(key) ?? 0) + ms);
  const modules = new Map<string, number>();
  const functions = new Map<string, number>();
  for (const [id, ms] of selfMs) {
    const frame = byId.get(id)!.callFrame;
    add(modules, moduleOf(frame), ms);
    add(functions, `${frame.functionName || '(anonymous)'} ${moduleOf(frame)}:${frame.lineNumber + 1}`, ms);
  }
  const busy = total - (modules.get('(idle)') ?? 0);
  const table = (title: string, rows: Map<string, number>) => {
    process.stdout.write(`\n${title}\n`);
    for (const [key, ms] of [...rows].sort((a, b) => b[1] - a[1]).slice(0, top)) {
      process.stdout.write(`  ${((100 * ms) / total).toFixed(1).padStart(5)}%  ${(ms / 1000).toFixed(2).padStart(7)} s  ${key}\n`);
    }
  };
  process.stdout.write(`\n${file}: ${(total / 1000).toFixed(1)} s sampled, ${((100 * busy) / total).toFixed(0)}% busy\n`);
  table('self time by module', modules);
  table('self time by function', functions);
}
