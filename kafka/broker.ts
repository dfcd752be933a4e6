/**
 * A real single-node Apache Kafka broker (KRaft) for development and tests,
 * run from the jars that kafka/pom.xml fetches from Maven Central.
 *
 * Library: `startBroker()` returns the bootstrap address and a `stop()`.
 * CLI: `npm run kafka` runs one in the foreground until Ctrl-C (or SIGTERM,
 * or the end of npm); `--jars-only` just fetches the jars.
 *
 * The java process runs under kafka/broker-guard.mjs, in a process group of
 * its own: a terminal's Ctrl-C reaches only us, and we stop the broker in
 * order; if we die instead, however we die, the guard's stdin closes and it
 * kills java and deletes the data dir. No java process and no temporary
 * folder outlive the process that started them.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Admin } from '@platformatic/kafka';

const kafkaDir = dirname(fileURLToPath(import.meta.url));

/** Kafka release to run; KAFKA_VERSION picks another (for example 3.9.1). */
export const kafkaVersion = process.env.KAFKA_VERSION ?? '4.4.0';

function libDir(version: string): string {
  return join(kafkaDir, '.cache', version, 'lib');
}

function fetchedMarker(version: string): string {
  return join(libDir(version), '..', 'complete');
}

/** Whether the jars of this Kafka release are in the cache already. */
export function kafkaJarsFetched(version = kafkaVersion): boolean {
  return existsSync(fetchedMarker(version));
}

/** Fetches the broker jars once; later calls find them in the cache. */
export function ensureKafkaJars(version = kafkaVersion): string {
  const dir = libDir(version);
  const marker = fetchedMarker(version);
  if (existsSync(marker)) return dir;
  process.stderr.write(`Fetching Apache Kafka ${version} jars from Maven Central (once)...\n`);
  const result = spawnSync(
    'mvn',
    ['-q', '-B', '-f', join(kafkaDir, 'pom.xml'), `-Dkafka.version=${version}`, 'package'],
    { stdio: 'inherit' },
  );
  if (result.status !== 0) {
    throw new Error(`mvn could not fetch org.apache.kafka:kafka_2.13:${version} (exit ${result.status ?? result.signal})`);
  }
  if (!readdirSync(dir).some((f) => f.startsWith('kafka_2.13-'))) {
    throw new Error(`no kafka_2.13 jar in ${dir} after mvn package`);
  }
  writeFileSync(marker, new Date().toISOString());
  return dir;
}

export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  return port!;
}

/**
 * `count` distinct free ports: every listening socket stays open until all
 * are chosen, since a port closed a moment ago is often the next one handed
 * out (two listeners of one broker on one port stop it at start).
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers = Array.from({ length: count }, () => createServer().unref());
  try {
    return await Promise.all(
      servers.map(
        (server) =>
          new Promise<number>((res, rej) => {
            server.on('error', rej);
            server.listen(0, '127.0.0.1', () => {
              const address = server.address();
              res(typeof address === 'object' && address ? address.port : 0);
            });
          }),
      ),
    );
  } finally {
    await Promise.all(servers.map((server) => new Promise((res) => server.close(res))));
  }
}

export interface BrokerOptions {
  version?: string;
  /** Fixed client port; a free one when omitted. Restarting reuses it. */
  port?: number;
  /** Extra server.properties lines, e.g. a SASL listener. */
  extraProperties?: Record<string, string>;
  /** Where the broker's own log goes; a file in its data dir when omitted. */
  logFile?: string;
  /** JVM heap; small by default because tests run beside it on 2 cores. */
  heap?: string;
  /**
   * Adds a SASL_PLAINTEXT listener accepting PLAIN, SCRAM-SHA-256 and
   * SCRAM-SHA-512 for these users (SCRAM credentials are written at format
   * time, as KRaft requires).
   */
  saslUsers?: ReadonlyArray<{ username: string; password: string }>;
  /**
   * Adds an SSL listener with this PKCS12 keystore; with a truststore,
   * clients must present a certificate it trusts (mutual TLS).
   */
  tls?: { keystore: string; truststore?: string; password: string };
}

export interface Broker {
  /** host:port for KAFKA_BROKERS. */
  readonly brokers: string;
  /** host:port of the SASL_PLAINTEXT listener, when saslUsers were given. */
  readonly saslBrokers?: string;
  /** host:port of the SSL listener, when tls was given. */
  readonly sslBrokers?: string;
  readonly port: number;
  readonly dataDir: string;
  /** Stops the JVM (SIGTERM, then SIGKILL after a bound; `kill` sends SIGKILL at once, as a crash would). Keeps the data. */
  halt(how?: 'graceful' | 'kill'): Promise<void>;
  /** Starts the JVM again on the same ports and data, as after an outage. */
  restart(): Promise<void>;
  /** Stops the JVM and deletes its data. */
  stop(): Promise<void>;
}

const guardScript = join(kafkaDir, 'broker-guard.mjs');

/**
 * A KRaft cluster id as Kafka's `StorageTool random-uuid` makes one (16
 * random bytes, base64url, never starting with '-'), without a JVM start.
 */
function clusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

export async function startBroker(options: BrokerOptions = {}): Promise<Broker> {
  const version = options.version ?? kafkaVersion;
  const classpath = `${ensureKafkaJars(version)}/*`;
  // A fixed client port (a restart) may be free at this moment too: it is never handed to another listener.
  const free = (await freePorts(5)).filter((p) => p !== options.port);
  const port = options.port ?? free.shift()!;
  const controllerPort = free.shift()!;
  const saslPort = options.saslUsers ? free.shift() : undefined;
  const sslPort = options.tls ? free.shift() : undefined;
  // From here to the guard's start nothing awaits: the data dir never exists without an owner.
  const dataDir = mkdtempSync(join(tmpdir(), 'kafka-gateway-broker-'));
  const saslListener =
    (saslPort ? `,SASL_PLAINTEXT://127.0.0.1:${saslPort}` : '') + (sslPort ? `,SSL://127.0.0.1:${sslPort}` : '');
  const properties: Record<string, string> = {
    'process.roles': 'broker,controller',
    'node.id': '1',
    'controller.quorum.voters': `1@127.0.0.1:${controllerPort}`,
    listeners: `PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}${saslListener}`,
    'advertised.listeners': `PLAINTEXT://127.0.0.1:${port}${saslListener}`,
    'controller.listener.names': 'CONTROLLER',
    'inter.broker.listener.name': 'PLAINTEXT',
    'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,SSL:SSL',
    ...(options.saslUsers ? saslProperties(options.saslUsers) : {}),
    ...(options.tls ? tlsProperties(options.tls) : {}),
    'log.dirs': join(dataDir, 'logs'),
    'offsets.topic.replication.factor': '1',
    // One offsets partition loads in milliseconds; fifty make the first
    // group join wait for the coordinator.
    'offsets.topic.num.partitions': '1',
    'transaction.state.log.replication.factor': '1',
    'transaction.state.log.min.isr': '1',
    'transaction.state.log.num.partitions': '1',
    'group.initial.rebalance.delay.ms': '0',
    'auto.create.topics.enable': 'false',
    'num.partitions': '1',
    'log.segment.bytes': String(16 * 1024 * 1024),
    ...options.extraProperties,
  };
  const propertiesFile = join(dataDir, 'server.properties');
  writeFileSync(
    propertiesFile,
    Object.entries(properties)
      .map(([k, v]) => `${k}=${v}`)
      .join('\n') + '\n',
  );
  const scram = (options.saslUsers ?? []).flatMap(({ username, password }) =>
    ['SCRAM-SHA-256', 'SCRAM-SHA-512'].flatMap((mechanism) => ['--add-scram', `${mechanism}=[name=${username},password=${password}]`]),
  );
  const logFile = options.logFile ?? join(dataDir, 'broker.log');
  const heap = options.heap ?? '512m';
  const run = [`-Xmx${heap}`, `-Xms${heap}`, '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-cp', classpath, 'kafka.Kafka', propertiesFile];
  const format = ['-cp', classpath, 'kafka.tools.StorageTool', 'format', '-t', clusterId(), '-c', propertiesFile, ...scram];
  let guard: ChildProcess | undefined;

  /** Starts a guard, which formats the log dir first when given `format`, and resolves once the broker serves. */
  const launch = async (formatFirst: boolean) => {
    const specFile = join(dataDir, formatFirst ? 'guard-first.json' : 'guard.json');
    writeFileSync(specFile, JSON.stringify({ dataDir, logFile, run, ...(formatFirst ? { format } : {}) }));
    const started = spawn(process.execPath, [guardScript, specFile], { detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
    guard = started;
    const exited = new Promise<never>((_, rej) =>
      started.once('exit', (code) => rej(new Error(`broker exited with ${code} during start:\n${tail(logFile)}`))),
    );
    try {
      await Promise.race([waitUntilServing(`127.0.0.1:${port}`), exited]);
    } finally {
      exited.catch(() => undefined);
    }
  };

  /** Ends the guard: `halt` and `crash` keep the data, `stop` deletes it with the broker. */
  const end = async (how: 'halt' | 'crash' | 'stop') => {
    const running = guard;
    guard = undefined;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise<void>((res) => running.once('exit', () => res()));
    running.stdin?.end(how === 'stop' ? '' : `${how}\n`);
    await exited;
  };

  const stop = async () => {
    await end('stop');
    rmSync(dataDir, { recursive: true, force: true });
  };

  try {
    await launch(true);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    brokers: `127.0.0.1:${port}`,
    saslBrokers: saslPort ? `127.0.0.1:${saslPort}` : undefined,
    sslBrokers: sslPort ? `127.0.0.1:${sslPort}` : undefined,
    port,
    dataDir,
    halt: (how = 'graceful') => end(how === 'kill' ? 'crash' : 'halt'),
    restart: () => launch(false),
    stop,
  };
}

/** The end of a log file, for an error message. */
function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-30).join('\n');
  } catch {
    return `(no log at ${file})`;
  }
}

function tlsProperties(tls: NonNullable<BrokerOptions['tls']>): Record<string, string> {
  const prefix = 'listener.name.ssl.ssl';
  return {
    [`${prefix}.keystore.location`]: tls.keystore,
    [`${prefix}.keystore.type`]: 'PKCS12',
    [`${prefix}.keystore.password`]: tls.password,
    [`${prefix}.key.password`]: tls.password,
    ...(tls.truststore
      ? {
          [`${prefix}.truststore.location`]: tls.truststore,
          [`${prefix}.truststore.type`]: 'PKCS12',
          [`${prefix}.truststore.password`]: tls.password,
          [`${prefix}.client.auth`]: 'required',
        }
      : {}),
  };
}

function saslProperties(users: ReadonlyArray<{ username: string; password: string }>): Record<string, string> {
  const plainUsers = users.map(({ username, password }) => `user_${username}="${password}"`).join(' ');
  return {
    'sasl.enabled.mechanisms': 'PLAIN,SCRAM-SHA-256,SCRAM-SHA-512',
    'listener.name.sasl_plaintext.plain.sasl.jaas.config': `org.apache.kafka.common.security.plain.PlainLoginModule required ${plainUsers};`,
    'listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config': 'org.apache.kafka.common.security.scram.ScramLoginModule required;',
    'listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config': 'org.apache.kafka.common.security.scram.ScramLoginModule required;',
  };
}

/** Resolves once the broker answers metadata and its group coordinator is up. */
export async function waitUntilServing(brokers: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    const admin = new Admin({ clientId: 'broker-harness', bootstrapBrokers: [brokers], connectTimeout: 1000, retries: 0 });
    try {
      await admin.metadata({ topics: [], forceUpdate: true });
      // A group lookup creates __consumer_offsets and fails until its
      // coordinator has loaded: after this, consumers join at once.
      await admin.describeGroups({ groups: ['broker-harness-probe'] });
      return;
    } catch (error) {
      lastError = error;
    } finally {
      await admin.close().catch(() => undefined);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`broker at ${brokers} did not start serving within ${timeoutMs} ms: ${String(lastError)}`);
}

/**
 * Calls `then` once the process that started this one is gone, however it
 * went (a SIGKILL included): the tools that start a broker live no longer
 * than the command that started them. The parent's death shows as a change
 * of our parent pid (we are handed to init or a subreaper).
 */
export function whenParentGone(then: () => void, intervalMs = 500): void {
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    then();
  }, intervalMs);
  timer.unref();
}

// CLI: run a broker in the foreground.
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url) && process.argv.includes('--jars-only')) {
  ensureKafkaJars();
} else if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const broker = await startBroker({ port: process.env.KAFKA_PORT ? Number(process.env.KAFKA_PORT) : undefined });
  process.stdout.write(`Kafka ${kafkaVersion} (KRaft) serving at ${broker.brokers}; Ctrl-C stops it.\n`);
  let stopping = false;
  const shutdown = () => {
    if (stopping) return;
    stopping = true;
    void broker.stop().then(() => process.exit(0));
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
  whenParentGone(shutdown);
}
