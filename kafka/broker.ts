/**
 * A real single-node Apache Kafka broker (KRaft) for development and tests,
 * run from the jars that kafka/pom.xml fetches from Maven Central.
 *
 * Library: `startBroker()` returns the bootstrap address and a `stop()`.
 * CLI: `npm run kafka` runs one in the foreground until Ctrl-C (or SIGTERM,
 * or the end of npm); `--jars-only [version]` just fetches the jars.
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

/** The last release before 4.0, whose brokers speak only the classic group protocol: the tests of that path run it. */
export const classicKafkaVersion = '3.9.1';

function libDir(version: string): string {
  return join(kafkaDir, '.cache', version, 'lib');
}

function fetchedMarker(version: string): string {
  return join(libDir(version), '..', 'complete');
}

/** Whether the jars of this Kafka release are in the cache already. */
export function kafkaJarsFetched(version = kafkaVersion): boolean {
  // A cache fetched before kafka-tools joined kafka/pom.xml lacks the commands kafka/cluster.ts runs: fetch again.
  return existsSync(fetchedMarker(version)) && readdirSync(libDir(version)).some((f) => f.startsWith('kafka-tools-') && !f.startsWith('kafka-tools-api-'));
}

/** Fetches the broker jars once; later calls find them in the cache. */
export function ensureKafkaJars(version = kafkaVersion): string {
  const dir = libDir(version);
  const marker = fetchedMarker(version);
  if (kafkaJarsFetched(version)) return dir;
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
export function clusterId(): string {
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
    ...kraftNodeProperties({ id: 1, port, controllerPort, voters: `1@127.0.0.1:${controllerPort}`, dataDir, extraListeners: saslListener }),
    ...(options.saslUsers ? saslProperties(options.saslUsers) : {}),
    ...(options.tls ? tlsProperties(options.tls) : {}),
    'offsets.topic.replication.factor': '1',
    // One offsets partition loads in milliseconds; fifty make the first
    // group join wait for the coordinator.
    'offsets.topic.num.partitions': '1',
    'transaction.state.log.replication.factor': '1',
    'transaction.state.log.min.isr': '1',
    'transaction.state.log.num.partitions': '1',
    'group.initial.rebalance.delay.ms': '0',
    // Consumer-protocol (KIP-848) groups: the broker's defaults (5 s heartbeats, 45 s sessions) make every
    // rebalance in a test wait seconds; these match what the gateway's tests give classic members.
    'group.consumer.heartbeat.interval.ms': '1000',
    'group.consumer.min.heartbeat.interval.ms': '1000',
    'group.consumer.session.timeout.ms': '6000',
    'group.consumer.min.session.timeout.ms': '6000',
    // Share groups (queues) keep their state in __share_group_state, replicated 3 times by default: one copy
    // on one broker. Share groups themselves are on by default (share.version 2 on a fresh 4.4 cluster).
    'share.coordinator.state.topic.replication.factor': '1',
    'share.coordinator.state.topic.min.isr': '1',
    'share.coordinator.state.topic.num.partitions': '1',
    // Lets a test group lock records for a second or two, so that lock expiry is seen quickly (default 15 s).
    'group.share.min.record.lock.duration.ms': '1000',
    'auto.create.topics.enable': 'false',
    'num.partitions': '1',
    'log.segment.bytes': String(16 * 1024 * 1024),
    ...options.extraProperties,
  };
  const propertiesFile = join(dataDir, 'server.properties');
  writeProperties(propertiesFile, properties);
  const scram = (options.saslUsers ?? []).flatMap(({ username, password }) =>
    ['SCRAM-SHA-256', 'SCRAM-SHA-512'].flatMap((mechanism) => ['--add-scram', `${mechanism}=[name=${username},password=${password}]`]),
  );
  const logFile = options.logFile ?? join(dataDir, 'broker.log');
  const run = brokerJavaArgs(classpath, options.heap ?? '512m', propertiesFile);
  const format = formatJavaArgs(classpath, clusterId(), propertiesFile, scram);
  let guard: ChildProcess | undefined;

  /** Starts a guard, which formats the log dir first when given `format`, and resolves once the broker serves. */
  const launch = async (formatFirst: boolean) => {
    const specFile = join(dataDir, formatFirst ? 'guard-first.json' : 'guard.json');
    guard = spawnGuard(specFile, { dataDir, logFile, run, ...(formatFirst ? { format } : {}) });
    await servingUnlessExited(guard, logFile, waitUntilServing(`127.0.0.1:${port}`));
  };

  const stop = async () => {
    const running = guard;
    guard = undefined;
    await endGuard(running, 'stop');
    rmSync(dataDir, { recursive: true, force: true });
  };
  const halt = async (how: 'graceful' | 'kill') => {
    const running = guard;
    guard = undefined;
    await endGuard(running, how === 'kill' ? 'crash' : 'halt');
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
    halt: (how = 'graceful') => halt(how),
    restart: () => launch(false),
    stop,
  };
}

/** The server.properties lines of one combined broker and controller on loopback, plaintext between nodes. */
export function kraftNodeProperties(node: {
  id: number;
  port: number;
  controllerPort: number;
  /** controller.quorum.voters: a static quorum, so formatting needs no --standalone or --initial-controllers. */
  voters: string;
  dataDir: string;
  /** More client listeners, each `,NAME://host:port`, advertised as well. */
  extraListeners?: string;
}): Record<string, string> {
  const extra = node.extraListeners ?? '';
  return {
    'process.roles': 'broker,controller',
    'node.id': String(node.id),
    'controller.quorum.voters': node.voters,
    listeners: `PLAINTEXT://127.0.0.1:${node.port},CONTROLLER://127.0.0.1:${node.controllerPort}${extra}`,
    'advertised.listeners': `PLAINTEXT://127.0.0.1:${node.port}${extra}`,
    'controller.listener.names': 'CONTROLLER',
    'inter.broker.listener.name': 'PLAINTEXT',
    'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,SSL:SSL',
    'log.dirs': join(node.dataDir, 'logs'),
  };
}

export function writeProperties(file: string, properties: Record<string, string>): void {
  writeFileSync(
    file,
    Object.entries(properties)
      .map(([k, v]) => `${k}=${v}`)
      .join('\n') + '\n',
  );
}

/** The JVM of one node: a fixed small heap and a quick-starting compiler, because tests run beside it on 2 cores. */
export function brokerJavaArgs(classpath: string, heap: string, propertiesFile: string): string[] {
  return [`-Xmx${heap}`, `-Xms${heap}`, '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-cp', classpath, 'kafka.Kafka', propertiesFile];
}

export function formatJavaArgs(classpath: string, id: string, propertiesFile: string, extra: readonly string[] = []): string[] {
  return ['-cp', classpath, 'kafka.tools.StorageTool', 'format', '-t', id, '-c', propertiesFile, ...extra];
}

/** What kafka/broker-guard.mjs reads from its spec file. */
export interface GuardSpec {
  /** Deleted when the guard's input ends without `halt` or `crash`. */
  dataDir: string;
  logFile: string;
  run: string[];
  /** StorageTool arguments, run before `run` on a first start. */
  format?: string[];
  /** Removed too once empty, so that the last guard of several takes their shared folder with it. */
  rootDir?: string;
}

/** Starts a guard in a process group of its own (so a terminal's Ctrl-C reaches only us) and hands it the spec. */
export function spawnGuard(specFile: string, spec: GuardSpec): ChildProcess {
  writeFileSync(specFile, JSON.stringify(spec));
  return spawn(process.execPath, [guardScript, specFile], { detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
}

/** Waits for `serving`, failing at once with the log's end if the guard (so java) exits first. */
export async function servingUnlessExited(guard: ChildProcess, logFile: string, serving: Promise<void>): Promise<void> {
  const exited = new Promise<never>((_, rej) =>
    guard.once('exit', (code) => rej(new Error(`broker exited with ${code} during start:\n${tail(logFile)}`))),
  );
  try {
    await Promise.race([serving, exited]);
  } finally {
    exited.catch(() => undefined);
    serving.catch(() => undefined);
  }
}

/** Ends a guard: `halt` and `crash` keep the data, `stop` deletes it with the broker. */
export async function endGuard(guard: ChildProcess | undefined, how: 'halt' | 'crash' | 'stop'): Promise<void> {
  if (!guard || guard.exitCode !== null || guard.signalCode !== null) return;
  const exited = new Promise<void>((res) => guard.once('exit', () => res()));
  guard.stdin?.end(how === 'stop' ? '' : `${how}\n`);
  await exited;
}

/** The end of a log file, for an error message. */
export function tail(file: string): string {
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

/**
 * Resolves once the broker answers metadata and its group coordinator is up;
 * `probeGroups` are looked up for the coordinator (a cluster names one group
 * per partition of __consumer_offsets).
 */
export async function waitUntilServing(brokers: string, timeoutMs = 60_000, probeGroups: readonly string[] = ['broker-harness-probe']): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    const admin = new Admin({ clientId: 'broker-harness', bootstrapBrokers: brokers.split(','), connectTimeout: 1000, retries: 0 });
    try {
      await admin.metadata({ topics: [], forceUpdate: true });
      // A group lookup creates __consumer_offsets and fails until its
      // coordinator has loaded: after this, consumers join at once.
      if (probeGroups.length > 0) await admin.describeGroups({ groups: [...probeGroups] });
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
  // `--jars-only 3.9.1` fetches another release's jars beside the default's.
  const named = process.argv[process.argv.indexOf('--jars-only') + 1];
  ensureKafkaJars(named && /^\d+\.\d+\.\d+$/.test(named) ? named : kafkaVersion);
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
