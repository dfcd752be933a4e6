/**
 * The test command: starts one real Kafka broker for the whole suite (unless
 * KAFKA_BROKERS names one), runs every test file with node's test runner,
 * and stops the broker however the run ends.
 *
 *   tsx scripts/test.ts [test files...]
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { startBroker, type Broker } from '../kafka/broker.js';
import { coverageDir, spec } from '../test/helpers/contract.js';

function testFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'helpers' ? [] : testFiles(path);
    return name.endsWith('.test.ts') ? [relative(process.cwd(), path)] : [];
  });
}

const wholeSuite = process.argv.slice(2).length === 0;
const files = wholeSuite ? testFiles('test').sort() : process.argv.slice(2);
rmSync(coverageDir, { recursive: true, force: true });
let broker: Broker | undefined;
const env = { ...process.env };
if (!env.KAFKA_BROKERS) {
  broker = await startBroker();
  env.KAFKA_BROKERS = broker.brokers;
  process.stdout.write(`Kafka broker for the tests at ${broker.brokers}\n`);
}

const stopBroker = async () => {
  await broker?.stop().catch((error: unknown) => process.stderr.write(`stopping the broker failed: ${String(error)}\n`));
};
let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    interrupted = true;
  });
}

const concurrency = env.TEST_CONCURRENCY ?? '2';
const child = spawn(
  process.execPath,
  ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...files],
  { stdio: 'inherit', env },
);
const code = await new Promise<number>((res) => child.once('exit', (c, signal) => res(c ?? (signal ? 1 : 0))));
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
