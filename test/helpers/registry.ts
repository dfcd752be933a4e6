import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The Python with confluent-kafka's schema registry clients (test/python/requirements.txt), installed by the test command's preflight. */
export function registryPython(): string {
  return process.env.REGISTRY_PYTHON ?? join(process.cwd(), '.venv-registry/bin/python');
}

/** What confluent-kafka's deserializer of `format`, asking the registry at `registryUrl`, reads from `topic`, from its start: the first `count` values. */
export async function registryClientReads(registryUrl: string, brokers: string, topic: string, format: 'avro' | 'json' | 'protobuf', count: number, timeoutMs = 120_000): Promise<unknown[]> {
  const { stdout } = await run(registryPython(), ['test/python/registry_clients.py', 'consume', registryUrl, brokers, topic, format, String(count)], { timeout: timeoutMs });
  return JSON.parse(stdout) as unknown[];
}
