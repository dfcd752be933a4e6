/**
 * What the selected test files need from the machine, checked before any
 * test runs: the test command installs what it can (Kafka's jars, the
 * client generators, Chromium when it runs as root with apt-get) saying so
 * as it goes, and names everything else that is missing, with how to get
 * it, in one message, instead of failing minutes later one test at a time.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { basename, delimiter, join } from 'node:path';
import { classicKafkaVersion, kafkaJarsFetched } from '../kafka/broker.js';

/** The browser the page test drives; CHROMIUM_PATH names another. */
export function chromiumPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.CHROMIUM_PATH ?? '/usr/bin/chromium';
}

export interface Missing {
  /** What is missing, and which tests need it. */
  readonly what: string;
  /** How to get it. */
  readonly how: string;
}

export interface Install {
  /** What is installed, where from, and for what; said before it runs unless `quiet` (it then speaks for itself). */
  readonly say: string;
  readonly quiet?: boolean;
  readonly command: string;
  readonly args: readonly string[];
}

export interface Plan {
  readonly missing: readonly Missing[];
  readonly installs: readonly Install[];
}

/** The executable `name` on the PATH of `env`, if any. */
export function onPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** The first `major.minor` a command prints about its version, or undefined when it does not run. */
function versionOf(command: string, args: readonly string[], env: NodeJS.ProcessEnv): [number, number] | undefined {
  const result = spawnSync(command, args, { encoding: 'utf8', env, timeout: 30_000 });
  if (result.status !== 0) return undefined;
  const match = /(\d+)\.(\d+)/.exec(`${result.stdout}\n${result.stderr}`);
  return match ? [Number(match[1]), Number(match[2])] : undefined;
}

function atLeast(found: [number, number] | undefined, major: number, minor = 0): boolean {
  return found !== undefined && (found[0] > major || (found[0] === major && found[1] >= minor));
}

function shown(found: [number, number] | undefined): string {
  return found ? `found ${found.join('.')}` : 'found none';
}

/** Which test files need what, by file name. */
/** Where the test command installs schemathesis (test/schemathesis/requirements.txt). */
export const SCHEMATHESIS_VENV = '.venv-schemathesis';

/** Apicurio Registry as test/apicurio/pom.xml builds it, for test/schema-apicurio.test.ts. */
export const APICURIO_JAR = 'test/apicurio/target/apicurio-registry-1-runner.jar';
/** Written instead when that build fails: why, for the test to skip with (or, in CI, fail with). */
export const APICURIO_FAILED = 'test/apicurio/build-failed.txt';

/**
 * Whether this is a CI run (`CI` set to anything but `false` or `0`, as .ci/run and CI services set it). There a
 * test that cannot run for want of something the test command installs fails instead of skipping: a skip would pass
 * unnoticed, and the run would no longer test what it claims to.
 */
export function inCi(env: NodeJS.ProcessEnv = process.env): boolean {
  const value = (env.CI ?? '').trim().toLowerCase();
  return value !== '' && value !== 'false' && value !== '0';
}

function needs(files: readonly string[]): { apicurio: boolean; browser: boolean; classicBroker: boolean; clients: boolean; devCommand: boolean; kcat: boolean; registryClients: boolean; schemathesis: boolean } {
  const names = new Set(files.map((f) => basename(f)));
  return {
    apicurio: names.has('schema-apicurio.test.ts'),
    browser: [...names].some((name) => /^browser(-[\w-]+)?\.test\.ts$/.test(name)) || names.has('docs-page.test.ts'),
    // test/groups-classic.test.ts runs a broker of the last release before 4.0 beside the suite's.
    classicBroker: names.has('groups-classic.test.ts'),
    // The Python consumers of test/ws-groups.test.ts and test/groups-classic.test.ts and the producer of
    // test/ws-headers.test.ts live in the client generators' virtualenv.
    clients: names.has('clients.test.ts') || names.has('ws-groups.test.ts') || names.has('ws-headers.test.ts') || names.has('groups-classic.test.ts'),
    devCommand: names.has('dev-command.test.ts') || names.has('readme-examples.test.ts'),
    kcat: names.has('partitioner.test.ts') || names.has('produce-compression.test.ts'),
    registryClients: names.has('schema-registry.test.ts') || names.has('schema-formats.test.ts') || names.has('schema-apicurio.test.ts'),
    schemathesis: names.has('schemathesis.test.ts'),
  };
}

/**
 * What running `files` needs that the machine lacks, and what the test
 * command will install first. Pure apart from looking at the machine, so a
 * test can ask it about a machine with nothing on its PATH.
 */
export function plan(files: readonly string[], env: NodeJS.ProcessEnv = process.env, root = process.cwd()): Plan {
  const missing: Missing[] = [];
  const installs: Install[] = [];
  const need = needs(files);
  const isRoot = process.getuid?.() === 0;
  const aptGet = onPath('apt-get', env);

  // Every run starts brokers (the suite's, and the outage and security tests' own).
  const java = onPath('java', env) ? versionOf('java', ['-version'], env) : undefined;
  if (!atLeast(java, 17)) {
    missing.push({ what: `Java 17+ for the Kafka broker the tests run (${shown(java)})`, how: 'apt-get install -y openjdk-17-jre-headless, or any JDK 17+ on the PATH' });
  }
  if (!kafkaJarsFetched()) {
    if (onPath('mvn', env)) {
      installs.push({ say: "Fetching Apache Kafka's jars from Maven Central into kafka/.cache (once)", command: process.execPath, args: ['--import', 'tsx', join(root, 'kafka/broker.ts'), '--jars-only'] });
    } else {
      missing.push({ what: "Maven, to fetch Apache Kafka's jars once into kafka/.cache", how: 'apt-get install -y maven' });
    }
  }
  if (need.classicBroker && !kafkaJarsFetched(classicKafkaVersion)) {
    if (onPath('mvn', env)) {
      installs.push({
        say: `Fetching Apache Kafka ${classicKafkaVersion}'s jars from Maven Central into kafka/.cache (once), for the classic group protocol in test/groups-classic.test.ts`,
        command: process.execPath,
        args: ['--import', 'tsx', join(root, 'kafka/broker.ts'), '--jars-only', classicKafkaVersion],
      });
    } else {
      missing.push({ what: `Maven, to fetch Apache Kafka ${classicKafkaVersion}'s jars once into kafka/.cache for test/groups-classic.test.ts`, how: 'apt-get install -y maven' });
    }
  }

  if (need.browser && !existsSync(chromiumPath(env))) {
    if (isRoot && aptGet) {
      installs.push({
        say: 'Installing Chromium with apt-get for the browser tests (once; a minute or two)',
        command: 'sh',
        args: ['-c', 'DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null'],
      });
    } else {
      missing.push({
        what: `Chromium at ${chromiumPath(env)}, for the browser tests (test/browser*.test.ts, test/docs-page.test.ts)`,
        how: 'apt-get install -y chromium (as root), or set CHROMIUM_PATH to a Chromium or Chrome binary',
      });
    }
  }

  if (need.kcat && !onPath('kcat', env)) {
    if (isRoot && aptGet) {
      installs.push({
        say: "Installing kcat with apt-get, librdkafka's partitioner for test/partitioner.test.ts (once)",
        command: 'sh',
        args: ['-c', 'DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kcat >/dev/null'],
      });
    } else {
      missing.push({ what: "kcat, librdkafka's command-line client, for test/partitioner.test.ts", how: 'apt-get install -y kcat (as root)' });
    }
  }

  if (need.clients) {
    const python = onPath('python3', env) ? versionOf('python3', ['-c', 'import sys, venv; print("%d.%d" % sys.version_info[:2])'], env) : undefined;
    const go = onPath('go', env) ? versionOf('go', ['env', 'GOVERSION'], env) : undefined;
    if (!atLeast(python, 3, 11)) {
      missing.push({ what: `Python 3.11+ with venv, for the generated Python client in test/clients.test.ts (${shown(python)})`, how: 'apt-get install -y python3 python3-venv (3.11 or later)' });
    }
    if (!atLeast(go, 1, 25)) {
      missing.push({ what: `Go 1.25+, for the generated Go client in test/clients.test.ts (${shown(go)})`, how: 'https://go.dev/dl/ (unpack to /usr/local/go and add /usr/local/go/bin to PATH)' });
    }
    const mvn = onPath('mvn', env);
    if (!mvn) {
      missing.push({ what: 'Maven, to fetch OpenAPI Generator once for the generated Java client in test/clients.test.ts', how: 'apt-get install -y maven' });
    }
    if (atLeast(python, 3, 11) && atLeast(go, 1, 25) && mvn) {
      // Quick and silent when they are there; says what it fetches when they are not.
      installs.push({ say: 'Installing the client generators for test/clients.test.ts', quiet: true, command: join(root, 'scripts/generate-clients.sh'), args: ['install'] });
    }
  }

  if (need.registryClients) {
    const python = onPath('python3', env) ? versionOf('python3', ['-c', 'import sys, venv; print("%d.%d" % sys.version_info[:2])'], env) : undefined;
    if (!atLeast(python, 3, 9)) {
      missing.push({ what: `Python 3.9+ with venv, for confluent-kafka's schema registry clients in test/schema-*.test.ts (${shown(python)})`, how: 'apt-get install -y python3 python3-venv' });
    } else {
      const venv = join(root, '.venv-registry');
      const requirements = join(root, 'test/python/requirements.txt');
      // Quick and silent when installed; says what it fetches when not (the copy of the requirements is written last).
      installs.push({
        say: "Installing confluent-kafka's schema registry clients (pinned in test/python/requirements.txt)",
        quiet: true,
        command: 'sh',
        args: [
          '-c',
          `cmp -s "$1" "$2/requirements.txt" 2>/dev/null && exit 0; echo "Installing confluent-kafka's schema registry clients from PyPI into .venv-registry/ (once)..." >&2; ` +
            `python3 -m venv "$2" && "$2/bin/pip" install --quiet --disable-pip-version-check -r "$1" && cp "$1" "$2/requirements.txt"`,
          'sh',
          requirements,
          venv,
        ],
      });
    }
  }

  if (need.apicurio && !onPath('mvn', env) && inCi(env)) {
    missing.push({ what: 'Maven, to build Apicurio Registry once into test/apicurio/target/ for test/schema-apicurio.test.ts (CI runs it; elsewhere it is skipped)', how: 'apt-get install -y maven' });
  } else if (need.apicurio && onPath('mvn', env)) {
    // Quick and silent when built from the same pom.xml. Elsewhere than in CI a build that fails (a Maven Central outage)
    // does not stop the run: the test skips, saying why, as a third-party registry is a second opinion beside the
    // gateway's own registry in test/schema-formats.test.ts. In CI it stops the run before any test, naming why.
    const ci = inCi(env);
    installs.push({
      say: 'Building Apicurio Registry for test/schema-apicurio.test.ts',
      quiet: true,
      command: 'sh',
      args: [
        '-c',
        'cd "$1" && [ -f target/apicurio-registry-1-runner.jar ] && cmp -s pom.xml target/pom.xml.built && exit 0; ' +
          'echo "Building Apicurio Registry from Maven Central into test/apicurio/target/ (once; a minute or two)..." >&2; rm -rf target build-failed.txt; ' +
          'if mvn -q -B package -DskipTests > build.log 2>&1; then cp pom.xml target/pom.xml.built; rm -f build.log; ' +
          'else { echo "mvn package in test/apicurio failed:"; tail -n 20 build.log; } > build-failed.txt; rm -rf target; cat build-failed.txt >&2; echo "$2" >&2; exit "$3"; fi',
        'sh',
        join(root, 'test/apicurio'),
        ci ? 'CI is set, where test/schema-apicurio.test.ts must run: the run stops here.' : 'test/schema-apicurio.test.ts will be skipped, naming why.',
        ci ? '1' : '0',
      ],
    });
  }

  if (need.schemathesis) {
    const python = onPath('python3', env) ? versionOf('python3', ['-c', 'import sys, venv; print("%d.%d" % sys.version_info[:2])'], env) : undefined;
    if (!atLeast(python, 3, 10)) {
      missing.push({ what: `Python 3.10+ with venv, for schemathesis in test/schemathesis.test.ts (${shown(python)})`, how: 'apt-get install -y python3 python3-venv' });
    } else {
      // Quick and silent when the virtualenv matches the pinned list; says what it fetches when it does not.
      const venv = join(root, SCHEMATHESIS_VENV);
      const requirements = join(root, 'test/schemathesis/requirements.txt');
      installs.push({
        say: 'Installing schemathesis for test/schemathesis.test.ts',
        quiet: true,
        command: 'sh',
        args: [
          '-c',
          'cmp -s "$1" "$2/requirements.txt" 2>/dev/null && exit 0; echo "Installing schemathesis (pinned in test/schemathesis/requirements.txt) from PyPI into .venv-schemathesis/ (once)..." >&2; python3 -m venv "$2" && "$2/bin/pip" install --quiet --disable-pip-version-check -r "$1" && cp "$1" "$2/requirements.txt"',
          'sh',
          requirements,
          venv,
        ],
      });
    }
  }

  if (need.devCommand) {
    for (const tool of ['curl', 'bash', 'npm']) {
      if (!onPath(tool, env)) missing.push({ what: `${tool}, to run the README's examples against \`npm run dev\``, how: tool === 'npm' ? 'it comes with Node.js' : `apt-get install -y ${tool}` });
    }
  }
  return { missing, installs };
}

/** The one message naming everything missing. */
export function missingMessage(missing: readonly Missing[]): string {
  return [
    `npm test needs ${missing.length === 1 ? 'one thing' : `${missing.length} things`} this machine does not have:`,
    ...missing.map((m) => `  - ${m.what}\n      get it: ${m.how}`),
    'Install them and run `npm test` again; or run only the test files you need: npx tsx scripts/test.ts test/<file>.test.ts',
    '',
  ].join('\n');
}

/**
 * Checks the machine for `files`: installs what it can, saying so, and
 * answers the message naming what is missing, or undefined when the tests
 * can run.
 */
export function preflight(files: readonly string[], env: NodeJS.ProcessEnv = process.env): string | undefined {
  const { missing, installs } = plan(files, env);
  if (missing.length > 0) return missingMessage(missing);
  for (const install of installs) {
    if (!install.quiet) process.stdout.write(`${install.say}...\n`);
    const result = spawnSync(install.command, install.args, { stdio: 'inherit', env });
    if (result.status !== 0) return `${install.say} failed (exit ${result.status ?? result.signal}); see the output above.\n`;
  }
  return undefined;
}
