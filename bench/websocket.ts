/**
 * WebSocket scenarios. The baseline of fan-out is the physical limit of the
 * job on this machine (bench/broadcast.ts): one consumer and a plain `ws`
 * broadcast of frames encoded once, to the same sockets, driven by the same
 * client. Also: durable subscriptions in groups (each record once per
 * group), a slow consumer beside fast ones, and as many idle subscriptions
 * as one process holds.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { Kafka, logLevel, type Admin, type Producer } from '../test/helpers/kafka-client.js';
import WebSocket from 'ws';
import { cpuSeconds, percentile, rssBytes, startGatewayProcess, type GatewayProcess, type Measurement, type ScenarioResult } from './lib.js';

export interface WebSocketBenchOptions {
  readonly brokers: string;
  readonly seconds: number;
  readonly quick: boolean;
  /** Fan-out sizes to run; each with its own rate (see FANOUT_RATES). */
  readonly counts: readonly number[];
  /** Only the fan-out scenarios (beside the event-stream fan-out of bench/sse.ts). */
  readonly fanoutOnly?: boolean;
  /** Only the idle subscriptions scenario, with this many (`--idle N`; 50,000 in a full run). */
  readonly idleOnly?: number;
  /** Only these scenarios (`--scenario`): `ws-fanout-N`, `ws-durable-groups`, `slow-consumer`, `ws-idle`. */
  readonly scenarios?: readonly string[];
}

/** Records per second fed into the topic for a fan-out of that many subscriptions (the targets). */
const FANOUT_RATES: Readonly<Record<number, number>> = { 100: 100, 1000: 100, 10000: 10 };
const FETCH_MAX_WAIT_MS = Number(process.env.WS_FETCH_MAX_WAIT_MS ?? 100);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Server {
  readonly url: string;
  readonly pid: number;
  stop(): Promise<void>;
}

export async function startBroadcast(brokers: string, topic: string): Promise<Server> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/broadcast.ts', brokers, topic], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((res, rej) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.startsWith('listening ')) res(line.slice('listening '.length));
    });
    child.once('exit', (code) => rej(new Error(`broadcast server exited with ${code}`)));
  });
  child.stdout!.resume();
  await sleep(1500); // its consumer joins and positions itself at the end of the topic
  return { url, pid: child.pid!, stop: () => new Promise<void>((res) => (child.once('exit', () => res()), child.kill('SIGTERM'))) };
}

async function gatewayServer(brokers: string, env: Record<string, string> = {}): Promise<Server> {
  const gateway: GatewayProcess = await startGatewayProcess(brokers, {
    WS_MAX_CONNECTIONS: '15000',
    // Every benchmark client comes from one address, as one anonymous principal.
    WS_MAX_CONNECTIONS_PER_ADDRESS: '1000000',
    WS_MAX_CONNECTIONS_PER_PRINCIPAL: '1000000',
    WS_FETCH_MAX_WAIT_MS: String(FETCH_MAX_WAIT_MS),
    ...env,
  });
  return { url: `${gateway.url.replace(/^http/, 'ws')}/v1/ws`, pid: gateway.pid, stop: () => gateway.stop() };
}

/**
 * Produces `rate` records per second, each carrying its send time, until
 * stopped; resolves with how many it sent. With `keyOf`, the n-th record
 * gets that key, and `sentByKey` counts what was sent under each.
 */
export function feed(producer: Producer, topic: string, rate: number, size = 100, keyOf?: (n: number) => string): { stop(): Promise<number>; readonly sentByKey: ReadonlyMap<string, number> } {
  let running = true;
  let sent = 0;
  let made = 0;
  const sentByKey = new Map<string, number>();
  const tick = rate >= 20 ? 50 : 1000 / rate;
  const perTick = Math.max(1, Math.round((rate * tick) / 1000));
  const pad = 'x'.repeat(size);
  const loop = (async () => {
    while (running) {
      const started = performance.now();
      const messages = Array.from({ length: perTick }, () => ({ key: keyOf?.(made++), value: JSON.stringify({ sentAt: Date.now(), pad }) }));
      await producer.send({ topic, messages }).then(
        () => {
          sent += perTick;
          for (const { key } of messages) if (key !== undefined) sentByKey.set(key, (sentByKey.get(key) ?? 0) + 1);
        },
        () => undefined,
      );
      await sleep(Math.max(0, tick - (performance.now() - started)));
    }
  })();
  return {
    sentByKey,
    async stop() {
      running = false;
      await loop;
      return sent;
    },
  };
}

/** What the clients received: every frame counted, one in `sampleEvery` parsed for its latency. */
class Receipts {
  count = 0;
  readonly latencies: number[] = [];
  constructor(private readonly sampleEvery: number) {}

  frame(data: WebSocket.RawData): void {
    this.count += 1;
    if (this.count % this.sampleEvery !== 0) return;
    const sentAt = (JSON.parse(data.toString()) as { value?: { sentAt?: number } }).value?.sentAt;
    if (typeof sentAt === 'number') this.latencies.push(Date.now() - sentAt);
  }

  reset(): void {
    this.count = 0;
    this.latencies.length = 0;
  }

  measure(seconds: number): Measurement {
    const sorted = [...this.latencies].sort((a, b) => a - b);
    return { rate: this.count / seconds, p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99) };
  }
}

/** Opens `connections` sockets with `perConnection` subscriptions each, in waves; resolves once all are subscribed. */
async function subscribe(url: string, topic: string, connections: number, perConnection: number, onFrame: (data: WebSocket.RawData, socket: number) => void): Promise<WebSocket[]> {
  const sockets: WebSocket[] = [];
  for (let start = 0; start < connections; start += 200) {
    await Promise.all(
      Array.from({ length: Math.min(200, connections - start) }, async (_, i) => {
        const index = start + i;
        const ws = new WebSocket(url, { perMessageDeflate: false });
        sockets.push(ws);
        await new Promise<void>((res, rej) => {
          let subscribed = 0;
          let ready = false;
          ws.once('error', rej);
          ws.once('open', () => {
            for (let s = 0; s < perConnection; s++) ws.send(JSON.stringify({ op: 'subscribe', id: `s${s}`, topics: [topic] }));
          });
          ws.on('message', (data) => {
            if (ready) return onFrame(data, index);
            const frame = JSON.parse(data.toString()) as { op: string };
            if (frame.op === 'subscribed' && ++subscribed === perConnection) {
              ready = true;
              res();
            } else if (frame.op === 'error') rej(new Error(JSON.stringify(frame)));
          });
        });
      }),
    );
  }
  return sockets;
}

/** Connections from `pid` to the broker's port, from the kernel's socket table. */
export function brokerConnections(pid: number, brokerPort: number): number {
  try {
    const out = execFileSync('ss', ['-tnp', 'state', 'established', `( dport = :${brokerPort} )`], { encoding: 'utf8' });
    return out.split('\n').filter((line) => line.includes(`pid=${pid},`)).length;
  } catch {
    return NaN;
  }
}

interface FanoutRun {
  readonly measurement: Measurement;
  readonly delivered: number;
  readonly expected: number;
  readonly idleCpuPercent: number;
  readonly kibPerSubscription: number;
  readonly brokerConnections: number;
}

/** One fan-out run against one server: subscriptions opened, held idle, then fed at `rate`; every delivery counted. */
async function fanout(server: Server, topic: string, subscriptions: number, rate: number, seconds: number, producer: Producer, brokerPort: number): Promise<FanoutRun> {
  const receipts = new Receipts(Math.max(1, Math.round(subscriptions / 50)));
  const rssBefore = rssBytes(server.pid);
  const sockets = await subscribe(server.url, topic, subscriptions, 1, (data) => receipts.frame(data));
  await sleep(1000);
  const kibPerSubscription = (rssBytes(server.pid) - rssBefore) / subscriptions / 1024;
  const connections = brokerConnections(server.pid, brokerPort);
  const idleSeconds = 5;
  const cpuBefore = cpuSeconds(server.pid);
  await sleep(idleSeconds * 1000);
  const idleCpuPercent = (100 * (cpuSeconds(server.pid) - cpuBefore)) / idleSeconds;
  receipts.reset();
  const feeding = feed(producer, topic, rate);
  await sleep(seconds * 1000);
  const measurement = receipts.measure(seconds);
  const sent = await feeding.stop();
  // Then everything sent must arrive: wait while deliveries still come in (a few quiet seconds end it: on a loaded machine either side can pause for one).
  for (let last = -1, quiet = 0; quiet < 5 && receipts.count < sent * subscriptions; ) {
    quiet = receipts.count === last ? quiet + 1 : 0;
    last = receipts.count;
    await sleep(1000);
  }
  const delivered = receipts.count;
  for (const ws of sockets) ws.terminate();
  await sleep(1000);
  return { measurement, delivered, expected: sent * subscriptions, idleCpuPercent, kibPerSubscription, brokerConnections: connections };
}

async function fanoutScenario(brokers: string, topic: string, count: number, seconds: number, producer: Producer, brokerPort: number): Promise<ScenarioResult> {
  const rate = FANOUT_RATES[count] ?? 100;
  process.stdout.write(`  WebSocket fan-out: ${count} subscriptions, ${rate} records/s in\n`);
  const limitServer = await startBroadcast(brokers, topic);
  const limit = await fanout(limitServer, topic, count, rate, seconds, producer, brokerPort).finally(() => limitServer.stop());
  process.stdout.write(`    limit (one consumer, plain broadcast): ${limit.measurement.rate.toFixed(0)}/s, p99 ${limit.measurement.p99Ms} ms, ${limit.delivered}/${limit.expected}\n`);
  const gatewayServerProcess = await gatewayServer(brokers);
  const gateway = await fanout(gatewayServerProcess, topic, count, rate, seconds, producer, brokerPort).finally(() => gatewayServerProcess.stop());
  process.stdout.write(`    gateway: ${gateway.measurement.rate.toFixed(0)}/s, p99 ${gateway.measurement.p99Ms} ms, ${gateway.delivered}/${gateway.expected}\n`);
  const ratio = gateway.measurement.rate / limit.measurement.rate;
  const everything = gateway.delivered === gateway.expected;
  const p99 = gateway.measurement.p99Ms ?? Infinity;
  const targets: Record<number, { text: string; met: boolean }> = {
    1000: { text: 'every record delivered, p99 < 100 ms, >= 0.7 of the limit', met: everything && p99 < 100 && ratio >= 0.7 },
    10000: {
      text: 'every record delivered, p99 < 250 ms, < 32 KiB and < 5% CPU per idle process, < 20 broker connections',
      met: everything && p99 < 250 && gateway.kibPerSubscription < 32 && gateway.idleCpuPercent < 5 && gateway.brokerConnections < 20,
    },
  };
  return {
    name: `ws-fanout-${count}`,
    description: `${count} subscriptions without a group, one topic of 3 partitions fed at ${rate} records/s; baseline: one consumer and a plain ws broadcast of frames encoded once, to the same sockets`,
    target: targets[count]?.text ?? 'report',
    baseline: limit.measurement,
    gateway: gateway.measurement,
    ratio,
    met: targets[count]?.met,
    extra: {
      delivered: `${gateway.delivered} of ${gateway.expected}`,
      limitDelivered: `${limit.delivered} of ${limit.expected}`,
      gatewayKiBPerIdleSubscription: gateway.kibPerSubscription,
      gatewayIdleCpuPercent: gateway.idleCpuPercent,
      gatewayBrokerConnections: gateway.brokerConnections,
      limitKiBPerIdleSubscription: limit.kibPerSubscription,
      limitIdleCpuPercent: limit.idleCpuPercent,
    },
    rounds: [{ baseline: limit.measurement, gateway: gateway.measurement }],
  };
}

/** Durable subscriptions: `groups` groups of `members` each on a 12-partition topic; each group must get every record once. */
async function durableScenario(brokers: string, admin: Admin, producer: Producer, seconds: number): Promise<ScenarioResult> {
  const groups = 10;
  const members = 10;
  const rate = 100;
  process.stdout.write(`  Durable: ${groups} groups of ${members} subscriptions, 12 partitions, ${rate} records/s in\n`);
  const topic = `bench-durable-${Date.now().toString(36)}`;
  await admin.createTopics({ topics: [{ topic, numPartitions: 12 }], waitForLeaders: true });
  const server = await gatewayServer(brokers, { WS_SESSION_TIMEOUT_MS: '10000' });
  const groupIds = Array.from({ length: groups }, (_, g) => `bench-durable-${Date.now().toString(36)}-${g}`);
  const seen = groupIds.map(() => new Map<string, number>());
  const latencies: number[] = [];
  const sockets: WebSocket[] = [];
  try {
    for (const [g, group] of groupIds.entries()) {
      for (let m = 0; m < members; m++) {
        const ws = new WebSocket(server.url, { perMessageDeflate: false });
        sockets.push(ws);
        await new Promise<void>((res, rej) => {
          ws.once('error', rej);
          ws.once('open', () => ws.send(JSON.stringify({ op: 'subscribe', id: 'd', topics: [topic], group, from: 'latest' })));
          ws.on('message', (data) => {
            const frame = JSON.parse(data.toString()) as { op: string; partition?: number; offset?: string; value?: { sentAt?: number } };
            if (frame.op === 'subscribed') res();
            else if (frame.op === 'record') {
              const key = `${frame.partition}:${frame.offset}`;
              seen[g]!.set(key, (seen[g]!.get(key) ?? 0) + 1);
              if (typeof frame.value?.sentAt === 'number' && Math.random() < 0.2) latencies.push(Date.now() - frame.value.sentAt);
            } else if (frame.op === 'error') rej(new Error(JSON.stringify(frame)));
          });
        });
      }
    }
    // Every member of every group has joined; let the last rebalances settle before feeding.
    await sleep(5000);
    const committed = async () => {
      let total = 0;
      for (const groupId of groupIds) {
        const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
        for (const p of offsets?.partitions ?? []) total += Math.max(0, Number(p.offset));
      }
      return total;
    };
    const committedBefore = await committed();
    const feeding = feed(producer, topic, rate);
    await sleep(seconds * 1000);
    const committedDuring = (await committed()) - committedBefore;
    const sent = await feeding.stop();
    await sleep(3000);
    const ends = await admin.fetchTopicOffsets(topic);
    let maxLag = 0;
    for (const groupId of groupIds) {
      const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
      const lag = ends.reduce((sum, end) => sum + Number(end.high) - Math.max(0, Number(offsets?.partitions.find((p) => p.partition === end.partition)?.offset ?? 0)), 0);
      maxLag = Math.max(maxLag, lag);
    }
    const unique = seen.map((m) => m.size);
    const duplicates = seen.map((m) => [...m.values()].reduce((n, c) => n + c - 1, 0));
    const exactlyOnce = unique.every((u) => u === sent) && duplicates.every((d) => d === 0);
    const sorted = latencies.sort((a, b) => a - b);
    const gateway = { rate: unique.reduce((a, b) => a + b, 0) / seconds, p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99) };
    const expected = { rate: (sent * groups) / seconds };
    process.stdout.write(`    each group: ${unique.join(', ')} of ${sent} unique; duplicates ${duplicates.join(', ')}\n`);
    return {
      name: 'ws-durable-groups',
      description: `${groups} groups of ${members} durable subscriptions (auto ack) on a 12-partition topic fed at ${rate} records/s; baseline: every record once per group`,
      target: 'each group receives every record exactly once across its members; report commit rate and lag',
      baseline: expected,
      gateway,
      ratio: gateway.rate / expected.rate,
      met: exactlyOnce,
      extra: {
        recordsPerGroup: unique.join(' '),
        duplicatesPerGroup: duplicates.join(' '),
        committedRecordsPerSecond: committedDuring / seconds,
        maxGroupLagAfterFeed: maxLag,
        gatewayBrokerConnections: brokerConnections(server.pid, Number(brokers.split(',')[0]!.split(':').pop())),
      },
      rounds: [{ baseline: expected, gateway }],
    };
  } finally {
    for (const ws of sockets) ws.terminate();
    await server.stop();
  }
}

/** One subscriber stops reading while others go on: the others' rate with and without it, and peak gateway memory. */
async function slowConsumer(brokers: string, topic: string, seconds: number, producer: Producer): Promise<ScenarioResult> {
  const others = 10;
  process.stdout.write('  slow consumer beside fast ones\n');
  const server = await gatewayServer(brokers);
  const run = async (withSlow: boolean) => {
    const receipts = new Receipts(3);
    const sockets = await subscribe(server.url, topic, others, 1, (data) => receipts.frame(data));
    let slow: WebSocket | undefined;
    if (withSlow) {
      [slow] = await subscribe(server.url, topic, 1, 1, () => undefined);
      (slow as unknown as { _socket: { pause(): void } })._socket.pause();
    }
    await sleep(500);
    receipts.reset();
    let peak = 0;
    const sampler = setInterval(() => (peak = Math.max(peak, rssBytes(server.pid))), 100);
    // Big records, so that the stalled socket really fills.
    const feeding = feed(producer, topic, 2000, 1000);
    await sleep(seconds * 1000);
    const measurement = receipts.measure(seconds);
    await feeding.stop();
    clearInterval(sampler);
    for (const ws of sockets) ws.terminate();
    slow?.terminate();
    await sleep(1500);
    return { measurement, peak };
  };
  try {
    const without = await run(false);
    const withSlow = await run(true);
    const ratio = withSlow.measurement.rate / without.measurement.rate;
    return {
      name: 'slow-consumer',
      description: `${others} subscribers, then the same with one more that stops reading (2,000 records/s of 1 KB in); baseline = without the slow one`,
      target: "others' rate does not drop (ratio >= 0.95); memory stays under the bound",
      baseline: without.measurement,
      gateway: withSlow.measurement,
      ratio,
      met: ratio >= 0.95,
      extra: { peakRssMiB: withSlow.peak / 1024 ** 2, peakRssWithoutSlowMiB: without.peak / 1024 ** 2, wsMaxBufferedMiB: 4 },
      rounds: [{ baseline: without.measurement, gateway: withSlow.measurement }],
    };
  } finally {
    await server.stop();
  }
}

/** As many idle subscriptions as one process holds, ten per connection, up to 50,000: memory and CPU at rest. */
async function idleMoonshot(brokers: string, topic: string, brokerPort: number, target = 50_000): Promise<ScenarioResult> {
  const perConnection = 10;
  process.stdout.write(`  Idle: up to ${target} subscriptions, ${perConnection} per connection\n`);
  const server = await gatewayServer(brokers, { WS_MAX_SUBSCRIPTIONS: String(perConnection) });
  const sockets: WebSocket[] = [];
  let held = 0;
  let stoppedBy = 'reached the target';
  try {
    const rssBefore = rssBytes(server.pid);
    for (let opened = 0; opened < target / perConnection; opened += 500) {
      try {
        sockets.push(...(await subscribe(server.url, topic, Math.min(500, target / perConnection - opened), perConnection, () => undefined)));
        held = sockets.length * perConnection;
      } catch (error) {
        stoppedBy = (error as Error).message.slice(0, 200);
        break;
      }
    }
    await sleep(2000);
    const kib = (rssBytes(server.pid) - rssBefore) / held / 1024;
    const cpuBefore = cpuSeconds(server.pid);
    await sleep(5000);
    const idleCpuPercent = (100 * (cpuSeconds(server.pid) - cpuBefore)) / 5;
    process.stdout.write(`    held ${held}: ${kib.toFixed(1)} KiB each, ${idleCpuPercent.toFixed(1)}% CPU idle\n`);
    const measurement = { rate: held };
    return {
      name: `ws-idle-${target}`,
      description: `moonshot: up to ${target} idle subscriptions without a group on one process, ${perConnection} per connection; "rates" are subscriptions held`,
      target: 'report how far it gets',
      baseline: { rate: target },
      gateway: measurement,
      ratio: held / target,
      met: undefined,
      extra: { held, stoppedBy, kibPerIdleSubscription: kib, idleCpuPercent, brokerConnections: brokerConnections(server.pid, brokerPort) },
      rounds: [{ baseline: { rate: target }, gateway: measurement }],
    };
  } finally {
    for (const ws of sockets) ws.terminate();
    await server.stop();
  }
}

export async function runWebSocketBenchmarks(options: WebSocketBenchOptions): Promise<ScenarioResult[]> {
  const { brokers, seconds, counts, quick, fanoutOnly = false, idleOnly, scenarios } = options;
  const wanted = (name: string) => scenarios === undefined || scenarios.includes(name);
  const brokerPort = Number(brokers.split(',')[0]!.split(':').pop());
  const kafka = new Kafka({ brokers: [brokers], clientId: 'bench-ws', logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const topic = `bench-fanout-${Date.now().toString(36)}`;
  await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true });
  const producer = kafka.producer();
  await producer.connect();
  const results: ScenarioResult[] = [];
  try {
    if (idleOnly !== undefined) return [await idleMoonshot(brokers, topic, brokerPort, idleOnly)];
    for (const count of counts) if (wanted(`ws-fanout-${count}`)) results.push(await fanoutScenario(brokers, topic, count, seconds, producer, brokerPort));
    if (!quick && !fanoutOnly && wanted('ws-durable-groups')) results.push(await durableScenario(brokers, admin, producer, seconds));
    if (!fanoutOnly && wanted('slow-consumer')) results.push(await slowConsumer(brokers, topic, seconds, producer));
    if (!quick && !fanoutOnly && wanted('ws-idle')) results.push(await idleMoonshot(brokers, topic, brokerPort));
  } finally {
    await producer.disconnect();
    await admin.disconnect();
  }
  return results;
}
