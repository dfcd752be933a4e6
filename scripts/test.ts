/**
 * The test command: checks up front that the machine has what the selected
 * tests need (installing what it can, see scripts/preflight.ts), starts one
 * real Kafka broker for the whole suite (unless KAFKA_BROKERS names one),
 * runs every test file with node's test runner, and stops the broker
 * however the run ends: Ctrl-C, SIGTERM (forwarded to the test runner),
 * npm killed outright, or this process killed (the broker's guard).
 *
 *   tsx scripts/test.ts [test files...]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { startBroker, whenParentGone, type Broker } from '../kafka/broker.js';
import { coverageDir, spec } from '../test/helpers/contract.js';
import { preflight } from './preflight.js';

function testFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'helpers' ? [] : testFiles(path);
    return name.endsWith('.test.ts') ? [relative(process.cwd(), path)] : [];
  });
}

const wholeSuite = process.argv.slice(2).length === 0;
const files = wholeSuite ? testFiles('test').sort() : process.argv.slice(2);

let broker: Broker | undefined;
let child: ChildProcess | undefined = undefined;
let interrupted = false;
const stopBroker = async () => {
  await broker?.stop().catch((error: unknown) => process.stderr.write(`stopping the broker failed: ${String(error)}\n`));
};
const interrupt = (signal: NodeJS.Signals) => {
  if (interrupted) return;
  interrupted = true;
  // Before the tests run there is only the broker to stop; after, the runner stops its files first.
  if (child) child.kill(signal);
  else void stopBroker().then(() => process.exit(130));
};
process.on('SIGINT', () => interrupt('SIGINT'));
process.on('SIGTERM', () => interrupt('SIGTERM'));
whenParentGone(() => interrupt('SIGTERM'));

const unmet = preflight(files);
if (unmet) {
  process.stderr.write(unmet);
  process.exit(1);
}

rmSync(coverageDir, { recursive: true, force: true });
const env = { ...process.env };
if (!env.KAFKA_BROKERS) {
  broker = await startBroker();
  env.KAFKA_BROKERS = broker.brokers;
  process.stdout.write(`Kafka broker for the tests at ${broker.brokers}\n`);
}

// Files that start a 3-node cluster of their own (test/cluster-*.test.ts) run after the others and one at a
// time: three JVMs each, beside the shared broker, on two cores.
const isClusterFile = (file: string) => /(^|\/)cluster-[^/]*\.test\.ts$/.test(file);
const phases = [
  { files: files.filter((f) => !isClusterFile(f)), concurrency: env.TEST_CONCURRENCY ?? '2' },
  { files: files.filter(isClusterFile), concurrency: '1' },
].filter((phase) => phase.files.length > 0);

/** Runs one phase's files with node's test runner; its exit code. */
async function runPhase(phase: { files: string[]; concurrency: string }): Promise<number> {
  const runner = spawn(
    process.execPath,
    ['--import', 'tsx', '--test', `--test-concurrency=${phase.concurrency}`, '--test-reporter=spec', ...phase.files],
    { stdio: 'inherit', env },
  );
  child = runner;
  return new Promise<number>((res) => runner.once('exit', (c, signal) => res(c ?? (signal ? 1 : 0))));
}

let code = 0;
for (const phase of phases) {
  if (interrupted) break;
  code = (await runPhase(phase)) || code;
}
await stopBroker();
process.exit(interrupted ? 130 : code || (wholeSuite ? checkContractCoverage() : 0));

/**
 * Every operation in openapi.yaml must have been exercised by some test
 * through conforms(); an untested operation fails the run.
 */
function checkContractCoverage(): number {
  const covered = new Set(
    (existsSync(coverageDir) ? readdirSync(coverageDir, { withFileTypes: true }) : []).flatMap((f) => readFileSync(join(coverageDir, f.name), 'utf8').split('\n')),
  );
  const operations = Object.values(spec.paths).flatMap((item) =>
    Object.values(item).flatMap((op: { operationId?: string }) => (op.operationId ? [op.operationId] : [])),
  );
  const missing = operations.filter((id) => !covered.has(id));
  if (missing.length === 0) {
    process.stdout.write(`contract: all ${operations.length} operations in openapi.yaml were exercised and conform\n`);
    return 0;
  }
  process.stdout.write(`contract: ${missing.length} operations in openapi.yaml have no test response: ${missing.join(', ')}\n`);
  return 1;
}
