/**
 * A spec-driven fuzzer as API teams run one: schemathesis (from PyPI, in
 * .venv-schemathesis/, installed by the test command) against the
 * openapi.yaml a running gateway serves, with its response checks on: no
 * server error, no status the operation does not document, no answer whose
 * content type, headers or body break the contract: examples, fuzzing
 * (random values within and outside each schema) and stateful sequences
 * that follow the contract's links (a v2 instance from its creation on),
 * from a fixed seed and a bounded number of examples, once without auth
 * and once with API keys. test/fuzz.test.ts stays: it sends inputs that once broke
 * the gateway and frames no OpenAPI tool generates.
 *
 * The run owns its topics: every `topic` path parameter names one made for
 * it (test/schemathesis/schemathesis.toml). Operations that would grow the
 * shared broker without bound (creating topics under generated names,
 * adding up to 2^31 partitions) or delete what the run needs are left out;
 * the other tests cover them.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import request from 'supertest';
import { SCHEMATHESIS_VENV } from '../scripts/preflight.js';
import type { RunningGateway } from '../src/gateway.js';
import { uniqueName } from './helpers/env.js';
import { gatewayFor } from './helpers/scoped.js';

const schemathesis = join(SCHEMATHESIS_VENV, 'bin', 'st');
const SEED = '20261206';
const CHECKS = ['not_a_server_error', 'status_code_conformance', 'content_type_conformance', 'response_headers_conformance', 'response_schema_conformance'];
const LEFT_OUT = ['createTopic', 'addPartitions', 'deleteTopic'];
// The coverage phase (boundary values of every schema, about 50 s a run here) is left to a deeper run by hand:
// FUZZ_PHASES=examples,coverage,fuzzing,stateful FUZZ_EXAMPLES=10 npx tsx scripts/test.ts test/schemathesis.test.ts
const PHASES = process.env.FUZZ_PHASES ?? 'examples,fuzzing,stateful';
// Kafka answers topic changes slower than the fuzzer's default 10 s wait on a busy machine; the gateway's own bound is lower.
const GATEWAY = { METADATA_TIMEOUT_MS: '5000', PRODUCE_TIMEOUT_MS: '5000', CONSUMER_REQUEST_TIMEOUT_MS: '200', RATE_LIMIT_PER_SECOND: '0', AUTH_FAILURE_RATE_PER_MINUTE: '0' };

before(() => {
  assert.ok(existsSync(schemathesis), `schemathesis is missing at ${schemathesis}: run the tests through scripts/test.ts, which installs it`);
});

/** Runs schemathesis against a gateway; resolves with its exit code and output. */
function run(gateway: RunningGateway, topic: string, headers: readonly string[], phases: string): Promise<{ code: number | null; output: string }> {
  const args = [
    '--no-color',
    '--config-file',
    'test/schemathesis/schemathesis.toml',
    'run',
    `${gateway.url}/openapi.yaml`,
    '--checks',
    CHECKS.join(','),
    '--seed',
    SEED,
    '--phases',
    phases,
    '--max-examples',
    process.env.FUZZ_EXAMPLES ?? '2',
    '--workers',
    '1',
    '--request-timeout',
    '20',
    '--no-shrink',
    '--generation-database',
    'none',
    ...LEFT_OUT.flatMap((id) => ['--exclude-operation-id', id]),
    ...headers.flatMap((header) => ['--header', header]),
  ];
  return new Promise((resolve, reject) => {
    // hooks.py teaches it NDJSON bodies.
    const env = { ...process.env, FUZZ_TOPIC: topic, NO_COLOR: '1', PYTHONPATH: 'test/schemathesis', SCHEMATHESIS_HOOKS: 'hooks' };
    const child = spawn(schemathesis, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, output }));
  });
}

async function fuzzTopic(gateway: RunningGateway, topic: string, headers: Record<string, string> = {}): Promise<void> {
  await request(gateway.server).post('/v1/topics').set(headers).send({ name: topic, partitions: 2 }).expect(201);
  await request(gateway.server).post(`/v1/topics/${topic}/records`).set(headers).send({ records: [{ key: 'k', value: { n: 1 }, headers: { h: 'v' } }, { value: 'text' }] }).expect(200);
}

function assertPassed({ code, output }: { code: number | null; output: string }): void {
  // The summary and every failure with its curl line, for whoever reads a red run.
  assert.equal(code, 0, output.slice(-20_000));
  assert.doesNotMatch(output, /Server error|Undocumented HTTP status|Response violates schema|Undocumented Content-Type/);
}

test('schemathesis finds no server error, undocumented status or answer breaking its schema, without auth', async (t) => {
  const gateway = await gatewayFor(t, GATEWAY);
  const topic = uniqueName('fuzz-open');
  await fuzzTopic(gateway, topic);
  assertPassed(await run(gateway, topic, [], PHASES));
});

test('schemathesis finds none with API keys either, as a principal owning one prefix', async (t) => {
  const prefix = uniqueName('fuzz-owned');
  const dir = mkdtempSync(join(tmpdir(), 'gateway-fuzz-auth-'));
  const key = `fuzz-key-${prefix}`;
  writeFileSync(join(dir, 'keys.json'), JSON.stringify([{ name: 'fuzzer', sha256: createHash('sha256').update(key).digest('hex') }]));
  writeFileSync(join(dir, 'acl.json'), JSON.stringify({ rules: [{ principals: ['fuzzer'], topics: [`${prefix}*`], operations: ['produce', 'consume', 'describe', 'admin'] }] }));
  const gateway = await gatewayFor(t, { ...GATEWAY, AUTH_MODE: 'api-key', AUTH_API_KEYS_FILE: join(dir, 'keys.json'), AUTH_ACL_FILE: join(dir, 'acl.json') });
  const topic = `${prefix}-topic`;
  await fuzzTopic(gateway, topic, { 'X-API-Key': key });
  assertPassed(await run(gateway, topic, [`X-API-Key: ${key}`], PHASES));
});
