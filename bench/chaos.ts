/**
 * Chaos run: the gateway, as its own process, in front of a three-node KRaft
 * cluster (kafka/cluster.ts) whose nodes are restarted one at a time
 * (SIGTERM and SIGKILL alternating) and whose group coordinators move now
 * and then, while clients use every way of reading and writing at once:
 *
 * - produce over HTTP: a few clients, every record with a unique id in its
 *   value, no retries with the same id; every 2xx answer's partition and
 *   offset are kept;
 * - 1,000 WebSocket subscriptions on one shared client process: most
 *   without a group, reading every partition from the start, checked for
 *   order, gaps and repeats per partition as they arrive; some durable
 *   (`group`, `ack: "manual"`), whose clients come and go at random and
 *   come back with the same group;
 * - 100 event streams that drop and resume with Last-Event-ID, each checked
 *   for order and gaps per partition across its resumes;
 * - 5 Confluent v2 consumer instances of one group, polling and committing.
 *
 * At the end, with every node back: the topic is read directly (no gateway)
 * and compared with the acknowledged offsets; each group's committed offsets
 * with what its members were delivered; each stream and subscription with
 * the end of the topic. Prints the figures and writes bench/results/chaos.json.
 * Exits non-zero if an acknowledged record is missing or duplicated, a group
 * or stream has a gap, a subscription or stream never caught up, a request
 * got 500, or the gateway process exited.
 *
 *   sh scripts/node.sh --import tsx bench/chaos.ts [--quick | --minutes N] [--rate N]
 *
 * Sends only to 127.0.0.1. Bounded: the run itself, then at most a few
 * minutes to settle and check (a hard deadline ends it otherwise).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, writeFileSync } from 'node:fs';
import { Agent, request, type ClientRequest } from 'node:http';
import { createServer } from 'node:net';
import { cpus } from 'node:os';
import { createInterface } from 'node:readline';
import WebSocket from 'ws';
import { kafkaVersion } from '../kafka/broker.js';
import { NODE_IDS, startCluster, type Cluster, type NodeId } from '../kafka/cluster.js';
import { consumeAll, withAdmin } from '../test/helpers/kafka.js';
import { percentile, rssBytes } from './lib.js';

// ---------------------------------------------------------------- options

const argv = process.argv.slice(2);
const option = (name: string): string | undefined => {
  const at = argv.indexOf(name);
  return at >= 0 ? argv[at + 1] : undefined;
};
const quick = argv.includes('--quick');
const minutes = Number(option('--minutes') ?? (quick ? 2 : 10));
if (!(minutes > 0 && minutes <= 120)) throw new Error('--minutes takes a number of minutes from 0 to 120');
const RATE = Number(option('--rate') ?? 40);
if (!(RATE > 0 && RATE <= 2000)) throw new Error('--rate takes records per second, 1 to 2000');

const PARTITIONS = 6;
const PRODUCERS = 3;
const WS_SUBSCRIPTIONS = 1000;
const DURABLE_GROUPS = 5;
const DURABLE_MEMBERS = 10;
const EPHEMERAL = WS_SUBSCRIPTIONS - DURABLE_GROUPS * DURABLE_MEMBERS;
const EPHEMERAL_PER_CONNECTION = 10;
const SSE_STREAMS = 100;
const V2_INSTANCES = 5;
/** A durable member leaves this often (one of all of them, at random), and comes back 1 to 5 s later. */
const CHURN_MS = 2000;
/** Each event stream drops at a random time within this many ms, then resumes 0.5 to 2 s later. */
const SSE_DROP_MS = 20_000;
/** Time between the end of one fault (node back and healthy) and the next. */
const FAULT_GAP_MS = quick ? 8000 : 15_000;
/** How long a halted node stays down. */
const DOWN_MS = 5000;
/** After the load stops: how long everyone may take to catch up, at most. */
const SETTLE_MS = 90_000;
const RSS_EVERY_MS = 10_000;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const random = (n: number) => Math.floor(Math.random() * n);
const began = Date.now();
const at = () => `${((Date.now() - began) / 1000).toFixed(0).padStart(4)} s`;
const say = (text: string) => process.stdout.write(`[${at()}] ${text}\n`);
const topic = `chaos-${Date.now().toString(36)}`;
const LOG_FILE = 'bench/results/chaos-gateway.log';

// ---------------------------------------------------------------- tallies

/** Every answer that was not a success, by scenario, status and problem type or code. */
const failures = new Map<string, number>();
/** The first few bodies of each kind, for evidence. */
const failureExamples = new Map<string, string>();
/** What the faults are doing now: calm, a node down, a node starting again, a coordinator moving. */
let phase = 'calm';
/** The same failures by the phase they happened in. */
const failuresByPhase = new Map<string, Record<string, number>>();
function tally(kind: string, example?: string): void {
  failures.set(kind, (failures.get(kind) ?? 0) + 1);
  const phases = failuresByPhase.get(kind) ?? {};
  phases[phase] = (phases[phase] ?? 0) + 1;
  failuresByPhase.set(kind, phases);
  if (example !== undefined && !failureExamples.has(kind)) failureExamples.set(kind, example.slice(0, 500));
}

/** `status code` from a problem+json, a Confluent error or an error frame. */
function problemKind(status: number | undefined, body: string): string {
  try {
    const problem = JSON.parse(body) as { code?: string; type?: string; error_code?: number; status?: number };
    const code = problem.code ?? (problem.error_code !== undefined ? String(problem.error_code) : problem.type?.split('/').pop());
    return `${status ?? problem.status ?? '?'} ${code ?? '?'}`;
  } catch {
    return `${status ?? '?'} (not JSON)`;
  }
}

const errorName = (error: unknown) => (error instanceof Error ? ((error.cause as { code?: string } | undefined)?.code ?? error.name) : 'error');

// ---------------------------------------------------------------- the gateway process

interface GatewayExit {
  readonly atSeconds: number;
  readonly code: number | null;
  readonly signal: string | null;
  readonly stderr: string;
}

/** The gateway as a child process on a fixed port, restarted if it exits on its own; its log goes to a file. */
class GatewayProcess {
  child?: ChildProcess;
  readonly exits: GatewayExit[] = [];
  /** Log lines at error or fatal, and at warn, counted by message, with the first of each kept. */
  readonly errorLines = new Map<string, { count: number; first: string }>();
  readonly warnLines = new Map<string, { count: number; first: string }>();
  #stopping = false;
  #stderr = '';
  readonly #log = createWriteStream(LOG_FILE);

  constructor(
    readonly port: number,
    readonly brokers: string,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.#stderr = '';
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env: {
        ...process.env,
        KAFKA_BROKERS: this.brokers,
        HOST: '127.0.0.1',
        PORT: String(this.port),
        LOG_LEVEL: 'info',
        WS_MAX_CONNECTIONS: '2000',
        SSE_MAX_STREAMS: '1000',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    child.stderr!.on('data', (chunk: Buffer) => {
      this.#stderr = (this.#stderr + chunk.toString()).slice(-4000);
      this.#log.write(`[stderr] ${chunk.toString()}`);
    });
    const listening = new Promise<void>((res, rej) => {
      createInterface({ input: child.stdout! }).on('line', (line) => {
        this.#log.write(`${line}\n`);
        let entry: { level?: number; msg?: string };
        try {
          entry = JSON.parse(line) as { level?: number; msg?: string };
        } catch {
          return;
        }
        if (entry.msg === 'gateway listening') res();
        const bucket = (entry.level ?? 0) >= 50 ? this.errorLines : (entry.level ?? 0) >= 40 ? this.warnLines : undefined;
        if (bucket) {
          const seen = bucket.get(entry.msg ?? '?');
          if (seen) seen.count += 1;
          else bucket.set(entry.msg ?? '?', { count: 1, first: line.slice(0, 1500) });
        }
      });
      child.once('exit', (code) => rej(new Error(`gateway exited with ${code} while starting: ${this.#stderr}`)));
    });
    child.once('exit', (code, signal) => {
      if (this.#stopping) return;
      this.exits.push({ atSeconds: (Date.now() - began) / 1000, code, signal, stderr: this.#stderr.slice(-2000) });
      say(`GATEWAY EXITED (code ${code}, signal ${signal}); starting it again`);
      this.#log.write(`[chaos] gateway exited with code ${code}, signal ${signal}\n`);
      setTimeout(() => void this.start().catch((error: unknown) => say(`gateway did not start again: ${String(error)}`)), 1000);
    });
    await listening;
  }

  get pid(): number | undefined {
    return this.child?.exitCode === null ? this.child.pid : undefined;
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      await new Promise<void>((res) => {
        child.once('exit', () => res());
        child.kill('SIGTERM');
      });
    }
    await new Promise<void>((res) => this.#log.end(() => res()));
  }

  /** Kills the process at once (when this script itself is dying). */
  kill(): void {
    this.#stopping = true;
    this.child?.kill('SIGKILL');
  }
}

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const server = createServer();
    server.once('error', rej);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => res(port));
    });
  });
}

// ---------------------------------------------------------------- per-partition order checks

/** Next offset expected per partition of one reader, with what came out of order. */
class Positions {
  readonly next: number[] = Array.from({ length: PARTITIONS }, () => 0);
  gaps = 0;
  repeats = 0;
  received = 0;
  /** The first few gaps: partition, expected, got. */
  readonly firstGaps: Array<{ partition: number; expected: number; got: number }> = [];

  take(partition: number, offset: number): void {
    this.received += 1;
    const expected = this.next[partition]!;
    if (offset === expected) this.next[partition] = expected + 1;
    else if (offset < expected) this.repeats += 1;
    else {
      this.gaps += offset - expected;
      if (this.firstGaps.length < 5) this.firstGaps.push({ partition, expected, got: offset });
      this.next[partition] = offset + 1;
    }
  }

  /** Records of the topic (up to `ends`) this reader has not reached. */
  behind(ends: readonly number[]): number {
    return ends.reduce((n, end, p) => n + Math.max(0, end - this.next[p]!), 0);
  }
}

// ---------------------------------------------------------------- produce over HTTP

interface Acked {
  readonly partition: number;
  readonly offset: number;
}
const acked = new Map<string, Acked>();
const attempted = new Set<string>();
const produceLatencies: number[] = [];
let produceRequests = 0;

async function produceLoop(url: string, client: number, running: () => boolean): Promise<void> {
  let seq = 0;
  const perClient = RATE / PRODUCERS;
  while (running()) {
    const count = 1 + random(4);
    const ids = Array.from({ length: count }, () => `c${client}-${seq++}`);
    for (const id of ids) attempted.add(id);
    const started = performance.now();
    produceRequests += 1;
    try {
      const res = await fetch(`${url}/v1/topics/${topic}/records`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ records: ids.map((id) => ({ key: id, value: { id, at: Date.now() } })) }),
        signal: AbortSignal.timeout(30_000),
      });
      const text = await res.text();
      if (res.status === 200) {
        const body = JSON.parse(text) as { offsets: Array<{ partition: number; offset: string }> };
        body.offsets.forEach((o, i) => acked.set(ids[i]!, { partition: o.partition, offset: Number(o.offset) }));
        produceLatencies.push(performance.now() - started);
      } else tally(`produce ${problemKind(res.status, text)}`, text);
    } catch (error) {
      tally(`produce network ${errorName(error)}`, String(error));
    }
    await sleep(Math.max(0, (count / perClient) * 1000 - (performance.now() - started)));
  }
}

// ---------------------------------------------------------------- WebSocket subscriptions without a group

interface RecordFrame {
  op: string;
  sub?: string;
  id?: string;
  partition?: number;
  offset?: string;
  status?: number;
  code?: string;
  partitions?: unknown;
}

/** One socket with several subscriptions without a group, reading every partition from the start; it comes back where it was if the gateway drops it. */
class EphemeralConnection {
  readonly subs: Positions[];
  ws?: WebSocket;
  subscribed = 0;
  reconnects = 0;
  #closing = false;
  #restarting = false;

  constructor(
    readonly wsUrl: string,
    count: number,
  ) {
    this.subs = Array.from({ length: count }, () => new Positions());
  }

  open(): Promise<void> {
    const ws = new WebSocket(this.wsUrl, { perMessageDeflate: false });
    this.ws = ws;
    this.subscribed = 0;
    return new Promise<void>((res) => {
      ws.once('open', () => {
        this.subs.forEach((positions, i) => {
          const from = { [topic]: Object.fromEntries(positions.next.map((offset, p) => [String(p), String(offset)])) };
          ws.send(JSON.stringify({ op: 'subscribe', id: `e${i}`, topics: [topic], from }));
        });
      });
      ws.on('message', (data) => {
        const frame = JSON.parse(data.toString()) as RecordFrame;
        if (frame.op === 'record') this.subs[Number(frame.sub!.slice(1))]!.take(frame.partition!, Number(frame.offset));
        else if (frame.op === 'subscribed') {
          if (++this.subscribed === this.subs.length) res();
        } else if (frame.op === 'error') {
          tally(`ws ${problemKind(frame.status, data.toString())}`, data.toString());
          // A subscription that failed to start or was ended: start it again from where it is.
          this.#restarting = true;
          ws.close();
        }
      });
      ws.on('error', (error) => tally(`ws socket error ${errorName(error)}`, String(error)));
      ws.once('close', (code) => {
        res();
        if (this.#closing) return;
        if (!this.#restarting) tally(`ws closed ${code}`);
        this.#restarting = false;
        this.reconnects += 1;
        setTimeout(() => void this.open(), 1000);
      });
    });
  }

  close(): void {
    this.#closing = true;
    this.ws?.terminate();
  }
}

// ---------------------------------------------------------------- durable subscriptions, manual acks, clients coming and going

/** What one group's members were delivered, per partition. */
class GroupDeliveries {
  readonly delivered: Array<Set<number>> = Array.from({ length: PARTITIONS }, () => new Set<number>());
  deliveries = 0;
  constructor(readonly group: string) {}

  take(partition: number, offset: number): void {
    this.deliveries += 1;
    this.delivered[partition]!.add(offset);
  }

  /** Offsets below the committed ones that no member was ever delivered. */
  gaps(committed: readonly number[]): { count: number; first: Array<{ partition: number; offset: number }> } {
    let count = 0;
    const first: Array<{ partition: number; offset: number }> = [];
    committed.forEach((upTo, p) => {
      for (let offset = 0; offset < upTo; offset++) {
        if (this.delivered[p]!.has(offset)) continue;
        count += 1;
        if (first.length < 10) first.push({ partition: p, offset });
      }
    });
    return { count, first };
  }
}

class DurableMember {
  ws?: WebSocket;
  connected = false;
  sessions = 0;
  readonly #acks = new Map<number, number>();
  #timer?: NodeJS.Timeout;
  #closing = false;
  #restarting = false;

  constructor(
    readonly wsUrl: string,
    readonly deliveries: GroupDeliveries,
  ) {}

  open(): Promise<void> {
    const ws = new WebSocket(this.wsUrl, { perMessageDeflate: false });
    this.ws = ws;
    this.sessions += 1;
    this.#acks.clear();
    let subscribed = false;
    return new Promise<void>((res) => {
      ws.once('open', () => ws.send(JSON.stringify({ op: 'subscribe', id: 'd', topics: [topic], group: this.deliveries.group, from: 'earliest', ack: 'manual' })));
      ws.on('message', (data) => {
        const frame = JSON.parse(data.toString()) as RecordFrame;
        if (frame.op === 'record') {
          const offset = Number(frame.offset);
          this.deliveries.take(frame.partition!, offset);
          this.#acks.set(frame.partition!, Math.max(offset, this.#acks.get(frame.partition!) ?? -1));
        } else if (frame.op === 'assigned') {
          // Acks for partitions held before the rebalance could name offsets from before where the new holding starts.
          this.#acks.clear();
        } else if (frame.op === 'subscribed') {
          subscribed = true;
          this.connected = true;
          this.#timer = setInterval(() => this.flush(), 500);
          res();
        } else if (frame.op === 'error') {
          // Acks refused after a rebalance (409, 400) are the protocol at work; anything else ends this session.
          const kind = problemKind(frame.status, data.toString());
          tally(`ws-durable ${subscribed ? '' : 'subscribe '}${kind}`, data.toString());
          if (!subscribed || (frame.status !== 409 && frame.status !== 400)) {
            this.#restarting = true;
            ws.close();
          }
        }
      });
      ws.on('error', (error) => tally(`ws-durable socket error ${errorName(error)}`, String(error)));
      ws.once('close', (code) => {
        res();
        if (this.ws !== ws) return; // an old session, already replaced
        clearInterval(this.#timer);
        this.connected = false;
        if (this.#closing) return;
        // Closed by the gateway (1001, 1011, 1013...) or by us after an error frame, not by churn: come back.
        if (!this.#restarting) tally(`ws-durable closed ${code}`);
        this.#restarting = false;
        setTimeout(() => void this.open(), 1000);
      });
    });
  }

  flush(): void {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return;
    for (const [partition, offset] of this.#acks) this.ws.send(JSON.stringify({ op: 'ack', sub: 'd', topic, partition, offset: String(offset) }));
    this.#acks.clear();
  }

  /** Leaves: cleanly (acks sent first, then a close frame) or abruptly (the socket just dies, unacked records with it). */
  leave(clean: boolean): void {
    this.#closing = true;
    if (clean) {
      this.flush();
      this.ws?.close(1000);
    } else this.ws?.terminate();
  }

  async rejoin(): Promise<void> {
    this.#closing = false;
    await this.open();
  }

  async finish(): Promise<void> {
    this.flush();
    await sleep(0);
    this.#closing = true;
    this.ws?.close(1000);
  }
}

// ---------------------------------------------------------------- event streams that drop and resume

class EventStream {
  readonly positions = new Positions();
  lastId?: string;
  drops = 0;
  resumes = 0;
  open = false;
  #req?: ClientRequest;
  #partial = '';
  #closing = false;

  constructor(
    readonly url: string,
    readonly agent: Agent,
  ) {}

  connect(): Promise<void> {
    this.#partial = '';
    return new Promise<void>((res) => {
      const headers: Record<string, string> = { accept: 'text/event-stream' };
      if (this.lastId !== undefined) {
        headers['last-event-id'] = this.lastId;
        this.resumes += 1;
      }
      const req = request(`${this.url}/v1/topics/${topic}/events?from=earliest`, { agent: this.agent, headers });
      this.#req = req;
      let settled = false;
      const retry = (delay: number) => {
        this.open = false;
        if (!settled) {
          settled = true;
          res();
        }
        if (!this.#closing && this.#req === req) setTimeout(() => void this.connect(), delay);
      };
      req.once('error', (error) => {
        if (this.#req !== req || this.#closing) return;
        tally(`sse network ${errorName(error)}`, String(error));
        retry(2000);
      });
      req.once('response', (response) => {
        if (response.statusCode !== 200) {
          let body = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => (body += chunk));
          response.on('end', () => {
            tally(`sse ${problemKind(response.statusCode, body)}`, body);
            retry(2000);
          });
          return;
        }
        this.open = true;
        if (!settled) {
          settled = true;
          res();
        }
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => this.#take(chunk));
        response.on('error', () => undefined);
        response.once('close', () => {
          if (this.#req !== req || this.#closing) return;
          tally('sse ended by the gateway');
          retry(2000);
        });
      });
      req.end();
    });
  }

  #take(chunk: string): void {
    const blocks = (this.#partial + chunk).split('\n\n');
    this.#partial = blocks.pop()!;
    for (const block of blocks) {
      let id: string | undefined;
      let event = 'message';
      let data = '';
      for (const line of block.split('\n')) {
        if (line.startsWith('id: ')) id = line.slice(4);
        else if (line.startsWith('event: ')) event = line.slice(7);
        else if (line.startsWith('data: ')) data += line.slice(6);
      }
      if (event === 'record') {
        const record = JSON.parse(data) as { partition: number; offset: string };
        this.positions.take(record.partition, Number(record.offset));
      } else if (event === 'error') tally(`sse event ${problemKind(undefined, data)}`, data);
      if (id !== undefined) this.lastId = id;
    }
  }

  /** Drops the connection as a broken network would, and resumes after `afterMs`. */
  drop(afterMs: number): void {
    const req = this.#req;
    this.#req = undefined;
    this.open = false;
    this.drops += 1;
    req?.destroy();
    setTimeout(() => void (this.#closing ? undefined : this.connect()), afterMs);
  }

  close(): void {
    this.#closing = true;
    this.#req?.destroy();
  }
}

// ---------------------------------------------------------------- Confluent v2 consumer instances

/** Binary: the records' keys are plain text (the /v1 API stores string keys bare), which a json instance refuses. */
const V2_BINARY = 'application/vnd.kafka.binary.v2+json';
const V2 = 'application/vnd.kafka.v2+json';

class V2Instance {
  baseUri?: string;
  reads = 0;
  commits = 0;
  recreated = 0;

  constructor(
    readonly url: string,
    readonly name: string,
    readonly deliveries: GroupDeliveries,
  ) {}

  async #call(method: string, url: string, body?: unknown, accept = V2): Promise<{ status: number; text: string }> {
    const res = await fetch(url, {
      method,
      headers: { accept, ...(body === undefined ? {} : { 'content-type': V2 }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    return { status: res.status, text: await res.text() };
  }

  async create(): Promise<void> {
    const made = await this.#call('POST', `${this.url}/consumers/${this.deliveries.group}`, {
      name: this.name,
      format: 'binary',
      'auto.offset.reset': 'earliest',
      'auto.commit.enable': 'false',
    });
    if (made.status === 409) {
      // Left from before a lost answer: delete it and make it again.
      await this.#call('DELETE', `${this.url}/consumers/${this.deliveries.group}/instances/${this.name}`);
      throw new Error('instance existed');
    }
    if (made.status !== 200) throw Object.assign(new Error(`create: ${made.status}`), { kind: problemKind(made.status, made.text), body: made.text });
    this.baseUri = (JSON.parse(made.text) as { base_uri: string }).base_uri;
    const sub = await this.#call('POST', `${this.baseUri}/subscription`, { topics: [topic] });
    if (sub.status !== 204 && sub.status !== 200) throw Object.assign(new Error(`subscribe: ${sub.status}`), { kind: problemKind(sub.status, sub.text), body: sub.text });
  }

  async loop(running: () => boolean): Promise<void> {
    while (running()) {
      try {
        if (!this.baseUri) await this.create();
        const read = await this.#call('GET', `${this.baseUri}/records?timeout=1000`, undefined, V2_BINARY);
        this.reads += 1;
        if (read.status !== 200) {
          tally(`v2 read ${problemKind(read.status, read.text)}`, read.text);
          if (read.status === 404) {
            this.baseUri = undefined;
            this.recreated += 1;
          }
          await sleep(500);
          continue;
        }
        const records = JSON.parse(read.text) as Array<{ partition: number; offset: number }>;
        for (const r of records) this.deliveries.take(r.partition, Number(r.offset));
        if (records.length > 0) {
          const commit = await this.#call('POST', `${this.baseUri}/offsets`);
          if (commit.status === 200 || commit.status === 204) this.commits += 1;
          else tally(`v2 commit ${problemKind(commit.status, commit.text)}`, commit.text);
        }
      } catch (error) {
        const kind = (error as { kind?: string }).kind;
        tally(`v2 ${kind ?? `network ${errorName(error)}`}`, (error as { body?: string }).body ?? String(error));
        await sleep(1000);
      }
    }
  }

  async remove(): Promise<void> {
    if (this.baseUri) await this.#call('DELETE', this.baseUri).catch(() => undefined);
  }
}

// ---------------------------------------------------------------- faults

interface FaultEvent {
  readonly atSeconds: number;
  readonly what: string;
  readonly tookSeconds: number;
  readonly error?: string;
}

async function faults(cluster: Cluster, groups: readonly string[], running: () => boolean, events: FaultEvent[]): Promise<void> {
  let round = 0;
  const step = async (what: string, action: () => Promise<void>) => {
    const started = Date.now();
    say(`fault: ${what}`);
    try {
      await action();
      events.push({ atSeconds: (started - began) / 1000, what, tookSeconds: (Date.now() - started) / 1000 });
    } catch (error) {
      say(`fault step failed: ${what}: ${String(error)}`);
      events.push({ atSeconds: (started - began) / 1000, what, tookSeconds: (Date.now() - started) / 1000, error: String(error).slice(0, 500) });
    }
  };
  while (running()) {
    await sleep(FAULT_GAP_MS);
    if (!running()) break;
    const id: NodeId = NODE_IDS[round % NODE_IDS.length]!;
    const how = round % 2 === 0 ? 'graceful' : 'kill';
    const signal = how === 'graceful' ? 'SIGTERM' : 'SIGKILL';
    await step(`node ${id} ${signal}, down ${DOWN_MS / 1000} s, restarted`, async () => {
      phase = `node down (${signal})`;
      await cluster.halt(id, how);
      await sleep(DOWN_MS);
      phase = `node starting again (after ${signal})`;
      await cluster.restart(id);
      await cluster.waitUntilHealthy();
    }).finally(() => (phase = 'calm'));
    if (round % 2 === 1 && running()) {
      const group = groups[random(groups.length)]!;
      const from = await cluster.coordinatorOf(group).catch(() => -1);
      const others = NODE_IDS.filter((n) => n !== from);
      const to: NodeId = others[random(others.length)]!;
      phase = 'coordinator moving';
      await step(`coordinator of ${group} from node ${from} to node ${to}`, () => cluster.moveCoordinator(group, to)).finally(() => (phase = 'calm'));
    }
    round += 1;
  }
}

// ---------------------------------------------------------------- the run

mkdirSync('bench/results', { recursive: true });
/** What must be stopped if this script dies or runs out of time. */
const live: { cluster?: Cluster; gateway?: GatewayProcess } = {};
const hardDeadline = setTimeout(
  () => {
    say('HARD DEADLINE: the run did not finish in time; stopping everything');
    live.gateway?.kill();
    void live.cluster?.stop().finally(() => process.exit(3));
  },
  minutes * 60_000 + 15 * 60_000,
);
hardDeadline.unref();

process.once('exit', () => live.gateway?.kill());
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    live.gateway?.kill();
    void (live.cluster?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
  });
}

say(`chaos run: ${minutes} min, ${RATE} records/s over HTTP, ${WS_SUBSCRIPTIONS} WebSocket subscriptions (${EPHEMERAL} without a group, ${DURABLE_GROUPS}x${DURABLE_MEMBERS} durable), ${SSE_STREAMS} event streams, ${V2_INSTANCES} v2 instances`);
const clusterStarted = Date.now();
const theCluster = await startCluster({ heap: '384m' });
live.cluster = theCluster;
say(`cluster up at ${theCluster.brokers} in ${((Date.now() - clusterStarted) / 1000).toFixed(0)} s`);
await withAdmin(theCluster.brokers, (admin) => admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS, replicationFactor: 3 }], waitForLeaders: true }));

const theGateway = new GatewayProcess(await freePort(), theCluster.brokers);
live.gateway = theGateway;
await theGateway.start();
const url = theGateway.url;
const wsUrl = `${url.replace(/^http/, 'ws')}/v1/ws`;
say(`gateway at ${url} (pid ${theGateway.pid}), log in ${LOG_FILE}`);

const rss: Array<{ atSeconds: number; rssMiB: number }> = [];
const sampleRss = () => {
  const pid = theGateway.pid;
  if (pid !== undefined) {
    try {
      rss.push({ atSeconds: Math.round((Date.now() - began) / 1000), rssMiB: Math.round((rssBytes(pid) / 1024 ** 2) * 10) / 10 });
    } catch {
      // exited between the check and the read
    }
  }
};
sampleRss();
const rssTimer = setInterval(sampleRss, RSS_EVERY_MS);

// Readers first, all from the start of the (empty) topic.
const ephemeral: EphemeralConnection[] = [];
for (let left = EPHEMERAL; left > 0; left -= EPHEMERAL_PER_CONNECTION) ephemeral.push(new EphemeralConnection(wsUrl, Math.min(EPHEMERAL_PER_CONNECTION, left)));
for (let i = 0; i < ephemeral.length; i += 20) await Promise.all(ephemeral.slice(i, i + 20).map((c) => c.open()));
say(`${ephemeral.reduce((n, c) => n + c.subscribed, 0)} subscriptions without a group on ${ephemeral.length} sockets`);

const groupNames = Array.from({ length: DURABLE_GROUPS }, (_, g) => `${topic}-durable-${g}`);
const groups = groupNames.map((name) => new GroupDeliveries(name));
const members = groups.flatMap((g) => Array.from({ length: DURABLE_MEMBERS }, () => new DurableMember(wsUrl, g)));
for (const group of groups) await Promise.all(members.filter((m) => m.deliveries === group).map((m) => m.open()));
say(`${members.filter((m) => m.connected).length} durable subscriptions in ${DURABLE_GROUPS} groups`);

const sseAgent = new Agent({ keepAlive: false, maxSockets: Infinity });
const streams = Array.from({ length: SSE_STREAMS }, () => new EventStream(url, sseAgent));
await Promise.all(streams.map((s) => s.connect()));
say(`${streams.filter((s) => s.open).length} event streams`);

const v2Group = new GroupDeliveries(`${topic}-v2`);
const instances = Array.from({ length: V2_INSTANCES }, (_, i) => new V2Instance(url, `reader-${i}`, v2Group));

// Load and faults.
let loading = true;
const isLoading = () => loading;
let reading = true;
const isReading = () => reading;
const producing = Array.from({ length: PRODUCERS }, (_, i) => produceLoop(url, i, isLoading));
const polling = instances.map((instance) => instance.loop(isReading));

const churn = (async () => {
  while (loading) {
    await sleep(CHURN_MS);
    const present = members.filter((m) => m.connected);
    const member = present[random(present.length)];
    if (!member || !loading) continue;
    member.leave(Math.random() < 0.5);
    void sleep(1000 + random(4000)).then(() => member.rejoin());
  }
})();

const sseDrops = setInterval(() => {
  // On average every stream drops once per SSE_DROP_MS.
  for (const stream of streams) if (stream.open && Math.random() < 1000 / SSE_DROP_MS) stream.drop(500 + random(1500));
}, 1000);

const faultEvents: FaultEvent[] = [];
const faulting = faults(theCluster, [...groupNames, v2Group.group], isLoading, faultEvents);

const progress = setInterval(() => {
  const last = rss.at(-1);
  say(
    `acked ${acked.size}, failures ${[...failures.values()].reduce((a, b) => a + b, 0)}, ws deliveries ${ephemeral.reduce((n, c) => n + c.subs.reduce((m, s) => m + s.received, 0), 0)}, durable ${groups.reduce((n, g) => n + g.deliveries, 0)}, sse ${streams.reduce((n, s) => n + s.positions.received, 0)}, v2 ${v2Group.deliveries}, gateway rss ${last?.rssMiB ?? '?'} MiB, exits ${theGateway.exits.length}`,
  );
}, 30_000);

await sleep(minutes * 60_000);
say('load ends; waiting for the fault under way to finish');
loading = false;
clearInterval(sseDrops);
await Promise.all(producing);
await churn;
await faulting;

// Settle: every node up and healthy, every member and stream back, then everyone catches up to the end of the topic.
for (const id of NODE_IDS) if (!theCluster.running(id)) await theCluster.restart(id).catch((error: unknown) => say(`restart of node ${id} failed: ${String(error)}`));
await theCluster.waitUntilHealthy().catch((error: unknown) => say(`cluster not healthy: ${String(error)}`));
await sleep(6000); // members rejoining after churn
for (const member of members) if (!member.connected) await member.rejoin();
for (const stream of streams) if (!stream.open) await stream.connect();

const endOffsets = async (): Promise<number[]> => {
  const offsets = await withAdmin(theCluster.brokers, (admin) => admin.fetchTopicOffsets(topic));
  const ends = Array.from({ length: PARTITIONS }, () => 0);
  for (const o of offsets) ends[o.partition] = Number(o.high);
  return ends;
};
const committedOf = async (group: string): Promise<number[]> => {
  const [answer] = await withAdmin(theCluster.brokers, (admin) => admin.fetchOffsets({ groupId: group, topics: [topic] }));
  const committed = Array.from({ length: PARTITIONS }, () => 0);
  for (const p of answer?.partitions ?? []) committed[p.partition] = Math.max(0, Number(p.offset));
  return committed;
};
const ends = await endOffsets();
const total = ends.reduce((a, b) => a + b, 0);
say(`topic holds ${total} records; waiting up to ${SETTLE_MS / 1000} s for every reader to reach the end`);
const behindAll = async () => {
  const ws = ephemeral.reduce((n, c) => n + c.subs.reduce((m, s) => m + s.behind(ends), 0), 0);
  const sse = streams.reduce((n, s) => n + s.positions.behind(ends), 0);
  let durable = 0;
  for (const g of [...groups, v2Group]) {
    const committed = await committedOf(g.group).catch(() => [] as number[]);
    durable += ends.reduce((n, end, p) => n + Math.max(0, end - (committed[p] ?? 0)), 0);
  }
  return { ws, sse, durable };
};
const settleStarted = Date.now();
let behind = await behindAll();
while (behind.ws + behind.sse + behind.durable > 0 && Date.now() - settleStarted < SETTLE_MS) {
  await sleep(2000);
  behind = await behindAll();
}
say(`settled in ${((Date.now() - settleStarted) / 1000).toFixed(0)} s: behind at the end: ws ${behind.ws}, sse ${behind.sse}, group commits ${behind.durable}`);

reading = false;
await Promise.all(polling);
await Promise.all(instances.map((i) => i.remove()));
await Promise.all(members.map((m) => m.finish()));
for (const c of ephemeral) c.close();
for (const s of streams) s.close();
clearInterval(progress);
clearInterval(rssTimer);
sampleRss();

// ---------------------------------------------------------------- checks

const committedByGroup = new Map<string, number[]>();
for (const g of [...groups, v2Group]) committedByGroup.set(g.group, await committedOf(g.group));

say('reading the topic directly (without the gateway)');
const stored = await consumeAll(theCluster.brokers, topic);
const positionsOfId = new Map<string, string[]>();
let unreadable = 0;
for (const record of stored) {
  let id: string | undefined;
  try {
    id = (JSON.parse(record.value?.toString('utf8') ?? 'null') as { id?: string } | null)?.id;
  } catch {
    id = undefined;
  }
  if (id === undefined) {
    unreadable += 1;
    continue;
  }
  const list = positionsOfId.get(id) ?? [];
  list.push(`${record.partition}:${record.offset}`);
  positionsOfId.set(id, list);
}
let found = 0;
let misplaced = 0;
const missingIds: string[] = [];
for (const [id, where] of acked) {
  const positions = positionsOfId.get(id);
  if (!positions) missingIds.push(id);
  else if (positions.includes(`${where.partition}:${where.offset}`)) found += 1;
  else misplaced += 1;
}
let duplicated = 0;
const duplicatedIds: Array<{ id: string; at: string[] }> = [];
for (const [id, where] of positionsOfId) {
  if (where.length < 2) continue;
  duplicated += where.length - 1;
  if (duplicatedIds.length < 10) duplicatedIds.push({ id, at: where });
}
let writtenUnacked = 0;
for (const id of attempted) if (!acked.has(id) && positionsOfId.has(id)) writtenUnacked += 1;
const unattempted = [...positionsOfId.keys()].filter((id) => !attempted.has(id)).length;

const groupGaps = [...groups, v2Group].map((g) => {
  const committed = committedByGroup.get(g.group)!;
  const gaps = g.gaps(committed);
  return {
    group: g.group,
    kind: g === v2Group ? 'confluent-v2' : 'websocket ack: manual',
    committed: committed.reduce((a, b) => a + b, 0),
    lag: ends.reduce((n, end, p) => n + Math.max(0, end - committed[p]!), 0),
    deliveries: g.deliveries,
    gaps: gaps.count,
    firstGaps: gaps.first,
  };
});
const sseResults = streams.map((s, i) => ({
  stream: i,
  received: s.positions.received,
  drops: s.drops,
  resumes: s.resumes,
  gaps: s.positions.gaps,
  repeats: s.positions.repeats,
  behind: s.positions.behind(ends),
  firstGaps: s.positions.firstGaps,
}));
const wsSubs = ephemeral.flatMap((c) => c.subs);
const wsResults = {
  subscriptions: wsSubs.length,
  reconnects: ephemeral.reduce((n, c) => n + c.reconnects, 0),
  received: wsSubs.reduce((n, s) => n + s.received, 0),
  gaps: wsSubs.reduce((n, s) => n + s.gaps, 0),
  repeats: wsSubs.reduce((n, s) => n + s.repeats, 0),
  behind: wsSubs.reduce((n, s) => n + s.behind(ends), 0),
  subscriptionsWithGaps: wsSubs.filter((s) => s.gaps > 0).length,
  subscriptionsBehind: wsSubs.filter((s) => s.behind(ends) > 0).length,
  firstGaps: wsSubs.flatMap((s) => s.firstGaps).slice(0, 10),
};
const fiveHundreds = Object.fromEntries([...failures].filter(([kind]) => / 5\d\d /.test(` ${kind} `)));
const internalErrors = [...failures].filter(([kind]) => / 500 /.test(` ${kind} `)).reduce((n, [, c]) => n + c, 0);
const sortedLatencies = [...produceLatencies].sort((a, b) => a - b);

const result = {
  mode: quick ? 'quick' : 'full',
  minutes,
  date: new Date(began).toISOString(),
  machine: `${cpus().length} x ${cpus()[0]?.model ?? 'unknown'}`,
  node: process.version,
  kafka: `${kafkaVersion}, 3 KRaft nodes (broker+controller), replication 3, min.insync.replicas 2`,
  topic: { name: topic, partitions: PARTITIONS, records: total, ends },
  load: {
    rateTarget: RATE,
    producers: PRODUCERS,
    produceRequests,
    wsSubscriptions: { withoutGroup: EPHEMERAL, durable: DURABLE_GROUPS * DURABLE_MEMBERS, groups: DURABLE_GROUPS },
    durableSessions: members.reduce((n, m) => n + m.sessions, 0),
    sseStreams: SSE_STREAMS,
    v2Instances: V2_INSTANCES,
  },
  faults: faultEvents,
  produce: {
    acked: acked.size,
    found,
    missing: missingIds.length,
    misplaced,
    duplicated,
    attemptedNotAcked: attempted.size - acked.size,
    writtenButNotAcked: writtenUnacked,
    unknownInTopic: unattempted + unreadable,
    missingIds: missingIds.slice(0, 20),
    duplicatedIds,
    p50Ms: Math.round(percentile(sortedLatencies, 50)),
    p99Ms: Math.round(percentile(sortedLatencies, 99)),
    maxMs: Math.round(sortedLatencies.at(-1) ?? NaN),
  },
  groups: groupGaps,
  sse: {
    streams: sseResults.length,
    drops: sseResults.reduce((n, s) => n + s.drops, 0),
    resumes: sseResults.reduce((n, s) => n + s.resumes, 0),
    received: sseResults.reduce((n, s) => n + s.received, 0),
    gaps: sseResults.reduce((n, s) => n + s.gaps, 0),
    repeats: sseResults.reduce((n, s) => n + s.repeats, 0),
    behind: sseResults.reduce((n, s) => n + s.behind, 0),
    streamsWithGaps: sseResults.filter((s) => s.gaps > 0).map((s) => ({ stream: s.stream, gaps: s.gaps, firstGaps: s.firstGaps })),
    streamsBehind: sseResults.filter((s) => s.behind > 0).map((s) => ({ stream: s.stream, behind: s.behind })),
  },
  ws: wsResults,
  v2: { reads: instances.reduce((n, i) => n + i.reads, 0), commits: instances.reduce((n, i) => n + i.commits, 0), recreated: instances.reduce((n, i) => n + i.recreated, 0) },
  failures: Object.fromEntries([...failures].sort((a, b) => b[1] - a[1])),
  failuresByPhase: Object.fromEntries(failuresByPhase),
  fiveHundreds,
  failureExamples: Object.fromEntries(failureExamples),
  gatewayExits: theGateway.exits,
  gatewayErrorLogs: Object.fromEntries(theGateway.errorLines),
  gatewayWarnLogs: Object.fromEntries([...theGateway.warnLines].map(([msg, v]) => [msg, v.count])),
  rss,
};

await theGateway.stop();
await theCluster.stop();
writeFileSync('bench/results/chaos.json', `${JSON.stringify(result, null, 2)}\n`);

const groupGapTotal = groupGaps.reduce((n, g) => n + g.gaps, 0);
const problems: string[] = [];
if (result.produce.missing > 0) problems.push(`${result.produce.missing} acknowledged records missing`);
if (result.produce.misplaced > 0) problems.push(`${result.produce.misplaced} acknowledged records not at their acknowledged offset`);
if (duplicated > 0) problems.push(`${duplicated} records written twice`);
if (groupGapTotal > 0) problems.push(`${groupGapTotal} records below a group's commit never delivered`);
if (result.sse.gaps > 0 || result.sse.behind > 0) problems.push(`event streams: ${result.sse.gaps} skipped, ${result.sse.behind} never reached`);
if (wsResults.gaps > 0 || wsResults.behind > 0) problems.push(`subscriptions without a group: ${wsResults.gaps} skipped, ${wsResults.behind} never reached`);
if (internalErrors > 0) problems.push(`${internalErrors} answers or frames with status 500`);
if (theGateway.exits.length > 0) problems.push(`the gateway process exited ${theGateway.exits.length} time(s)`);

const rssValues = rss.map((r) => r.rssMiB);
const lines = [
  '',
  `Chaos run (${result.mode}, ${minutes} min): ${faultEvents.length} faults (${faultEvents.filter((f) => f.error).length} failed to complete)`,
  `  produce:  acked ${acked.size}, found ${found}, missing ${missingIds.length}, misplaced ${misplaced}, duplicated ${duplicated} (not acked ${attempted.size - acked.size}, of which written ${writtenUnacked}); p50 ${result.produce.p50Ms} ms, p99 ${result.produce.p99Ms} ms, max ${result.produce.maxMs} ms`,
  ...groupGaps.map((g) => `  group ${g.group} (${g.kind}): committed ${g.committed} of ${total}, ${g.deliveries} deliveries, gaps ${g.gaps}`),
  `  event streams: ${result.sse.streams}, ${result.sse.drops} drops, ${result.sse.resumes} resumes, ${result.sse.received} records; gaps ${result.sse.gaps}, repeats ${result.sse.repeats}, not reached ${result.sse.behind}`,
  `  ws without group: ${wsResults.subscriptions} subscriptions, ${wsResults.received} records, ${wsResults.reconnects} reconnects; gaps ${wsResults.gaps}, repeats ${wsResults.repeats}, not reached ${wsResults.behind}`,
  `  v2 instances: ${result.v2.reads} reads, ${result.v2.commits} commits, ${result.v2.recreated} made again`,
  `  failures by kind: ${failures.size === 0 ? 'none' : ''}`,
  ...[...failures]
    .sort((a, b) => b[1] - a[1])
    .map(([kind, count]) => `    ${count} x ${kind} (${Object.entries(failuresByPhase.get(kind) ?? {}).map(([p, n]) => `${n} ${p}`).join(', ')})`),
  `  5xx: ${Object.keys(fiveHundreds).length === 0 ? 'none' : Object.entries(fiveHundreds).map(([k, c]) => `${c} x ${k}`).join(', ')}`,
  `  gateway exits: ${theGateway.exits.length}; error log lines: ${[...theGateway.errorLines].map(([m, v]) => `${v.count} x ${m}`).join(', ') || 'none'}`,
  `  gateway RSS: start ${rssValues[0] ?? '?'} MiB, peak ${Math.max(...rssValues)} MiB, end ${rssValues.at(-1) ?? '?'} MiB (${rss.length} samples, every ${RSS_EVERY_MS / 1000} s)`,
  problems.length === 0 ? 'PASS: nothing lost, nothing twice, no gaps, no 500, no exits' : `FAIL: ${problems.join('; ')}`,
  'Wrote bench/results/chaos.json',
  '',
];
process.stdout.write(lines.join('\n'));
clearTimeout(hardDeadline);
process.exit(problems.length === 0 ? 0 : 1);
