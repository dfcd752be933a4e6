/**
 * The test command on a machine that lacks what the tests need: it says so
 * before any broker starts or any test runs, in one message naming
 * everything missing and how to get each, and fails. Run as a fresh
 * machine would see it: a PATH with node alone, no Chromium.
 */
import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { APICURIO_FAILED, plan } from '../scripts/preflight.js';

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

function run(args: string[], env: NodeJS.ProcessEnv, cwd?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
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

test('Apicurio Registry in CI: a machine without Maven is told so, and a failed build stops the run; elsewhere both leave the test to skip', () => {
  const apicurioNeeds = (env: NodeJS.ProcessEnv) => plan(['test/schema-apicurio.test.ts'], env).missing.filter((m) => m.what.includes('Apicurio'));
  assert.equal(apicurioNeeds({ ...bareMachine(), CI: 'true' }).length, 1, 'in CI, Maven for Apicurio is named as missing');
  assert.deepEqual(apicurioNeeds({ ...bareMachine(), CI: 'false' }), [], 'elsewhere the test skips without it');

  // A copy of test/apicurio whose build fails as one would when Maven Central is out of reach.
  const root = mkdtempSync(join(tmpdir(), 'gateway-apicurio-build-'));
  try {
    mkdirSync(join(root, 'test/apicurio'), { recursive: true });
    copyFileSync('test/apicurio/pom.xml', join(root, 'test/apicurio/pom.xml'));
    writeFileSync(join(root, 'mvn'), '#!/bin/sh\necho "[ERROR] Could not transfer artifact io.apicurio:apicurio-registry-app from central"\nexit 1\n', { mode: 0o755 });
    const build = (ci: string) => {
      const env = { ...process.env, PATH: `${root}:${process.env.PATH ?? ''}`, CI: ci };
      const install = plan(['test/schema-apicurio.test.ts'], env, root).installs.find((i) => i.say.startsWith('Building Apicurio Registry'));
      assert.ok(install, `CI=${ci}: the build is planned`);
      return spawnSync(install.command, install.args, { env, encoding: 'utf8' });
    };
    const inCi = build('true');
    assert.equal(inCi.status, 1, `in CI the failed build fails the test command before any test: ${inCi.stderr}`);
    assert.match(inCi.stderr, /mvn package in test\/apicurio failed:\n.*Could not transfer artifact/);
    assert.match(inCi.stderr, /CI is set, where test\/schema-apicurio\.test\.ts must run: the run stops here/);
    assert.match(readFileSync(join(root, APICURIO_FAILED), 'utf8'), /Could not transfer artifact/);
    const elsewhere = build('');
    assert.equal(elsewhere.status, 0, `elsewhere the run goes on: ${elsewhere.stderr}`);
    assert.match(elsewhere.stderr, /test\/schema-apicurio\.test\.ts will be skipped, naming why/);
    assert.match(readFileSync(join(root, APICURIO_FAILED), 'utf8'), /Could not transfer artifact/, 'the reason is kept for the test to skip with');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('test/schema-apicurio.test.ts without a built Apicurio Registry fails in CI and skips, naming why, elsewhere', { timeout: 120_000 }, async () => {
  // Run where no registry was built: a folder of its own, with a failed build's reason.
  const dir = mkdtempSync(join(tmpdir(), 'gateway-no-apicurio-'));
  try {
    mkdirSync(join(dir, 'test/apicurio'), { recursive: true });
    writeFileSync(join(dir, APICURIO_FAILED), 'mvn package in test/apicurio failed: no route to Maven Central\n');
    assert.ok(!existsSync(join(dir, 'test/apicurio/target')));
    const args = ['--import', import.meta.resolve('tsx'), '--test', '--test-reporter=spec', resolve('test/schema-apicurio.test.ts')];
    // A test runner started inside a test file's process would otherwise take itself for a nested run, and run nothing.
    const { CI: _ci, NODE_TEST_CONTEXT: _context, ...withoutCi } = process.env;
    const [inCi, elsewhere] = await Promise.all([run(args, { ...withoutCi, CI: 'true' }, dir), run(args, withoutCi, dir)]);
    assert.equal(inCi.code, 1, `it fails in CI: ${inCi.stdout}${inCi.stderr}`);
    assert.match(inCi.stdout, /no route to Maven Central[\s\S]*CI is set: this test may not be skipped there/);
    assert.equal(elsewhere.code, 0, `it skips elsewhere: ${elsewhere.stdout}${elsewhere.stderr}`);
    assert.match(elsewhere.stdout, /# Apicurio Registry could not be built from Maven Central here: mvn package in test\/apicurio failed: no route to Maven Central/);
    assert.match(elsewhere.stdout, /skipped 1/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
