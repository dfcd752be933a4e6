/**
 * The test command on a machine that lacks what the tests need: it says so
 * before any broker starts or any test runs, in one message naming
 * everything missing and how to get each, and fails. Run as a fresh
 * machine would see it: a PATH with node alone, no Chromium.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { plan } from '../scripts/preflight.js';

let bareBin: string;
before(() => {
  bareBin = mkdtempSync(join(tmpdir(), 'gateway-bare-path-'));
  symlinkSync(process.execPath, join(bareBin, 'node'));
});
after(() => {
  rmSync(bareBin, { recursive: true, force: true });
});

/** The environment of a machine with node and nothing else. */
function bareMachine(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: bareBin, CHROMIUM_PATH: join(bareBin, 'no-chromium') };
  delete env.KAFKA_BROKERS;
  return env;
}

function run(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

test('the test command names everything missing, with how to get it, in one message before any test runs', async () => {
  const files = ['test/browser.test.ts', 'test/clients.test.ts', 'test/readme-examples.test.ts', 'test/produce.test.ts'];
  const { code, stdout, stderr } = await run(['--import', 'tsx', 'scripts/test.ts', ...files], bareMachine());
  assert.equal(code, 1, `the run fails: ${stdout}${stderr}`);
  assert.equal(stderr.match(/needs \d+ things this machine does not have/g)?.length, 1, `one message: ${stderr}`);
  for (const wanted of [/Java 17\+/, /Maven, to fetch OpenAPI Generator/, /Chromium at .*no-chromium.*\n.*apt-get install -y chromium.*CHROMIUM_PATH/, /Python 3\.11\+/, /Go 1\.25\+.*\n.*go\.dev\/dl/, /curl/, /bash/, /npm/]) {
    assert.match(stderr, wanted);
  }
  assert.doesNotMatch(stdout, /Kafka broker for the tests/, 'no broker was started');
  assert.doesNotMatch(stdout + stderr, /ℹ tests/, 'no test ran');
});

test('a selection asks only for what its files need', () => {
  const onlyProduce = plan(['test/produce.test.ts'], bareMachine());
  assert.deepEqual(
    onlyProduce.missing.map((m) => m.what.split(' ')[0]),
    ['Java'],
    'produce tests need the broker, not Chromium, Python, Go or curl',
  );
  const consoleTests = plan(['test/browser-tail.test.ts'], bareMachine());
  assert.ok(
    consoleTests.missing.some((m) => m.what.startsWith('Chromium')),
    'each of the console’s browser test files needs Chromium',
  );
  const here = plan(['test/browser.test.ts', 'test/clients.test.ts', 'test/readme-examples.test.ts']);
  assert.deepEqual(here.missing, [], 'this machine runs the whole suite');
});

test('a first install of the client generators says what it fetches before it starts', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gateway-first-install-'));
  // A python3 that fails at once stands in for the minute a real first install takes.
  writeFileSync(join(dir, 'python3'), '#!/bin/sh\nexit 3\n', { mode: 0o755 });
  const result = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const env = { ...process.env, CLIENTS_VENV: join(dir, 'venv'), PATH: `${dir}:${process.env.PATH ?? ''}` };
    execFile('scripts/generate-clients.sh', ['install'], { env }, (error, _stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stderr }),
    );
  });
  rmSync(dir, { recursive: true, force: true });
  assert.notEqual(result.code, 0);
  assert.match(result.stderr, /Installing the Python client generator \(openapi-python-client.*\) from PyPI into .*venv\/ \(once\)/);
});
