/**
 * The clients generated from openapi.yaml (scripts/generate-clients.sh), each
 * run against a live gateway on a real port and the real broker: TypeScript
 * (openapi-typescript + openapi-fetch, in process), Python
 * (openapi-python-client, a child process), Go (oapi-codegen, `go run`) and
 * Java (OpenAPI Generator, `-g java --library native`, run with `java`).
 * Every program prints the same ClientReport, checked by checkReport().
 *
 * The first run installs the Python generator into .venv-clients/,
 * downloads the Go modules and OpenAPI Generator's jar; later runs only
 * regenerate (Java only when openapi.yaml or its program changed).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { Kafka, logLevel } from './helpers/kafka-client.js';
import { exercise, sampleRecords, type ClientReport } from '../clients/typescript/example.js';
import { startGateway, type RunningGateway } from '../src/gateway.js';
import { checkExchange, spec } from './helpers/contract.js';
import { eventually, quietLogger, sharedBrokers, testConfig, uniqueName } from './helpers/env.js';
import { readRecords } from './helpers/records.js';
import { startRecordingProxy, type RecordingProxy } from './helpers/recording-proxy.js';

const run = promisify(execFile);
const generate = (...args: string[]) => run('scripts/generate-clients.sh', args, { timeout: 600_000, maxBuffer: 16 << 20 });
const languages = ['typescript', 'python', 'go', 'java'] as const;
const PARTITIONS = 2;

const kafka = new Kafka({ clientId: 'clients-test', brokers: sharedBrokers().split(','), logLevel: logLevel.NOTHING });
const admin = kafka.admin();
const topics = Object.fromEntries(languages.map((l) => [l, uniqueName(`clients-${l}`)])) as Record<(typeof languages)[number], string>;
let gateway: RunningGateway;
// The clients talk to the gateway through this, so every answer they got is checked against the spec.
let proxy: RecordingProxy;

before(
  async () => {
    await generate('install');
    await Promise.all([generate('python'), generate('go'), generate('java')]);
    await admin.connect();
    await admin.createTopics({ topics: Object.values(topics).map((topic) => ({ topic, numPartitions: PARTITIONS })), waitForLeaders: true });
    gateway = await startGateway(testConfig(), quietLogger());
    await eventually(async () => (await fetch(`${gateway.url}/readyz`)).ok);
    proxy = await startRecordingProxy(gateway.url);
  },
  { timeout: 900_000 },
);

after(async () => {
  await proxy?.close();
  await gateway?.stop();
  await admin.deleteTopics({ topics: Object.values(topics) }).catch(() => undefined);
  await admin.disconnect();
});

function hasOperation(method: string, path: string): boolean {
  return Boolean(spec.paths[path]?.[method]);
}

/**
 * The same checks for every language. Produce and topic metadata are asked
 * for as soon as openapi.yaml has them, so a client program that does not
 * call them yet fails here instead of passing unnoticed.
 */
async function checkReport(language: (typeof languages)[number], report: ClientReport): Promise<void> {
  const exchanges = proxy.take();
  assert.ok(exchanges.length > 0, `${language}: the client sent nothing through the recording proxy`);
  for (const exchange of exchanges) checkExchange(exchange);
  assert.equal(report.health, 'ok');
  assert.equal(report.ready, 'ready');
  assert.equal(report.openapi, '3.1.0');

  if (hasOperation('post', '/v1/topics/{topic}/records')) {
    assert.ok(report.produced, `${language}: openapi.yaml has produce; the ${language} client must call it (see its PRODUCE block)`);
    const expected = sampleRecords(language);
    assert.equal(report.produced.length, expected.length);
    const stored = await readRecords(topics[language], expected.length);
    for (const [i, record] of expected.entries()) {
      const found = stored.find((s) => s.key === record.key);
      assert.ok(found, `${language}: record ${record.key} is not on the broker`);
      assert.deepEqual(JSON.parse(found.value ?? 'null'), record.value);
      assert.deepEqual(report.produced[i], { partition: found.partition, offset: found.offset }, `${language}: offset of record ${i}`);
    }
  } else {
    assert.equal(report.produced, null);
  }

  assert.equal(report.partitions, PARTITIONS, `${language}: partitions of the topic through getTopic`);
}

test('clients/typescript/schema.d.ts is what openapi-typescript generates from openapi.yaml', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'schema-'));
  try {
    await generate('typescript', join(dir, 'schema.d.ts'));
    assert.ok(
      readFileSync(join(dir, 'schema.d.ts'), 'utf8') === readFileSync('clients/typescript/schema.d.ts', 'utf8'),
      'clients/typescript/schema.d.ts is stale: run `scripts/generate-clients.sh typescript` and commit it',
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the TypeScript client (openapi-fetch) works against a running gateway', async () => {
  await checkReport('typescript', await exercise(proxy.url, topics.typescript));
});

test('the Python client (openapi-python-client) works against a running gateway', { timeout: 300_000 }, async () => {
  const { stdout } = await run('../../.venv-clients/bin/python', ['example.py', proxy.url, topics.python], { cwd: 'clients/python', timeout: 300_000 });
  await checkReport('python', JSON.parse(stdout) as ClientReport);
});

test('the Go client (oapi-codegen) works against a running gateway', { timeout: 300_000 }, async () => {
  const { stdout } = await run('go', ['run', '.', proxy.url, topics.go], { cwd: 'clients/go', timeout: 300_000 });
  await checkReport('go', JSON.parse(stdout) as ClientReport);
});

test('the Java client (OpenAPI Generator, native HttpClient) works against a running gateway', { timeout: 300_000 }, async () => {
  const { stdout } = await run('java', ['-cp', 'clients/java/.cache/build:clients/java/.cache/lib/*', 'Example', proxy.url, topics.java], { timeout: 300_000 });
  const report = JSON.parse(stdout) as ClientReport & { admin: { created: string; partitions: number; retentionMs: string; deleted: boolean } };
  await checkReport('java', report);
  // Admin through the generated client: created with a config, changed, grown, deleted; the broker agrees.
  assert.deepEqual(report.admin, { created: `${topics.java}-admin`, partitions: 2, retentionMs: '7200000', deleted: true });
  await eventually(async () => !(await admin.listTopics()).includes(report.admin.created));
});

test('readRecords sees what a plain Kafka producer wrote', { timeout: 120_000 }, async () => {
  // The read-back the client checks rely on, proven on its own before produce goes through the gateway.
  const topic = uniqueName('clients-readback');
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
  const producer = kafka.producer();
  try {
    await producer.connect();
    await producer.send({ topic, messages: [{ key: 'k', value: '{"n":1}', headers: { h: 'v' } }] });
    const [record] = await readRecords(topic, 1);
    assert.deepEqual(record, { partition: 0, offset: '0', key: 'k', value: '{"n":1}', headers: { h: 'v' } });
  } finally {
    await producer.disconnect();
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
  }
});
