/**
 * The test command: starts one real Kafka broker for the whole suite (unless
 * KAFKA_BROKERS names one), runs every test file with node's test runner,
 * and stops the broker however the run ends.
 *
 *   tsx scripts/test.ts [test files...]
 */
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { startBroker, type Broker } from '../kafka/broker.js';

function testFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'helpers' ? [] : testFiles(path);
    return name.endsWith('.test.ts') ? [relative(process.cwd(), path)] : [];
  });
}

const files = process.argv.slice(2).length > 0 ? process.argv.slice(2) : testFiles('test').sort();
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
process.exit(interrupted ? 130 : code);
