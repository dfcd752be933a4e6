/**
 * No acknowledged record is lost or duplicated while the brokers restart.
 *
 * Two real gateway processes (one coalescing concurrent requests into shared
 * batches, one sending each request alone) produce to a topic of a
 * three-node cluster of this file's own (RF 3, min.insync.replicas 2) from
 * several concurrent HTTP clients: single-record and multi-record JSON
 * requests and NDJSON streams. Meanwhile each node in turn is stopped with
 * SIGTERM and started again, then one is killed with SIGKILL and started
 * again. Afterwards a consumer of the test's own reads the topic: every
 * record answered 2xx must be there exactly once, at the partition and
 * offset its answer gave. A record answered otherwise may or may not be
 * there; its answer must be a 503 (or 429) problem, never a 500.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { NODE_IDS } from '../kafka/cluster.js';
import { startTestCluster } from './helpers/cluster.js';
import { eventually, uniqueName } from './helpers/env.js';
import { consumeAll, withAdmin } from './helpers/kafka.js';
import { runGateway, type GatewayProcess } from './helpers/process.js';

const PARTITIONS = 6;

/**
 * PRODUCE_TIMEOUT_MS bounds what a caller waits: long enough for the
 * gateway's rounds of retries to ride out a leader moving (a second or two
 * on a graceful stop) and a killed node being fenced (the brokers' 9 s
 * session timeout), short enough that a stuck request fails in reasonable
 * time. Kafka requests time out well before that, so a batch the broker
 * never answers does not hold the (serial) batches behind it for long.
 */
const GATEWAY_ENV = {
  PRODUCE_TIMEOUT_MS: '15000',
  KAFKA_REQUEST_TIMEOUT_MS: '5000',
  KAFKA_CONNECTION_TIMEOUT_MS: '2000',
  METADATA_TIMEOUT_MS: '5000',
  METADATA_CACHE_TTL_MS: '1000',
  SHUTDOWN_TIMEOUT_MS: '10000',
};
/** No answer within this long is a stuck request: the gateway's own bounds (metadata, then produce) are far below it. */
const ANSWER_BOUND_MS = 45_000;

type Kind = 'single' | 'multi' | 'ndjson';

interface SentRecord {
  readonly id: string;
  readonly key?: string;
  readonly partition?: number;
  readonly value: { readonly id: string; readonly kind: Kind };
}

interface Acked {
  readonly id: string;
  readonly partition: number;
  readonly offset: string;
}

interface Load {
  readonly acked: Acked[];
  /** Ids of records whose request was answered other than 2xx (or not at all). */
  readonly unacked: Set<string>;
  /** Non-2xx answers by status (0: no answer). */
  readonly statuses: Map<number, number>;
  /** Answers a client must never get, described for the failure message. */
  readonly unexpected: string[];
  requests: number;
  slowestMs: number;
}

interface ProduceAnswer {
  readonly offsets?: ReadonlyArray<{ readonly partition: number; readonly offset: string }>;
}

/** One client's next request: 1 record, 2-10 records, or 1-20 NDJSON lines; keys, no keys and explicit partitions mixed. */
function nextRequest(kind: Kind, client: string, seq: () => number): SentRecord[] {
  const count = kind === 'single' ? 1 : kind === 'multi' ? 2 + Math.floor(Math.random() * 9) : 1 + Math.floor(Math.random() * 20);
  return Array.from({ length: count }, () => {
    const n = seq();
    const id = `${client}-${n}`;
    const value = { id, kind };
    // Keyed records go where murmur2 puts them, unkeyed ones round-robin, some name their partition.
    if (n % 3 === 0) return { id, key: id, value };
    if (n % 3 === 1) return { id, partition: n % PARTITIONS, value };
    return { id, value };
  });
}

function body(kind: Kind, records: readonly SentRecord[]): { contentType: string; text: string } {
  const wire = records.map(({ key, partition, value }) => ({ ...(key === undefined ? {} : { key }), ...(partition === undefined ? {} : { partition }), value }));
  if (kind === 'ndjson') return { contentType: 'application/x-ndjson', text: wire.map((r) => JSON.stringify(r)).join('\n') + '\n' };
  return { contentType: 'application/json', text: JSON.stringify({ records: wire }) };
}

const count = (map: Map<number, number>, status: number) => map.set(status, (map.get(status) ?? 0) + 1);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A client posting one kind of request to one gateway in a loop until `stopped()`. */
async function client(load: Load, url: string, topic: string, kind: Kind, name: string, stopped: () => boolean): Promise<void> {
  let n = 0;
  while (!stopped()) {
    const records = nextRequest(kind, name, () => n++);
    const { contentType, text } = body(kind, records);
    const started = Date.now();
    let status = 0;
    let answer = '';
    let type = '';
    try {
      const res = await fetch(`${url}/v1/topics/${topic}/records`, {
        method: 'POST',
        headers: { 'content-type': contentType },
        body: text,
        signal: AbortSignal.timeout(ANSWER_BOUND_MS),
      });
      status = res.status;
      type = res.headers.get('content-type') ?? '';
      answer = await res.text();
    } catch (error) {
      load.unexpected.push(`${name}: no answer after ${Date.now() - started} ms: ${String(error)}`);
    }
    load.requests += 1;
    load.slowestMs = Math.max(load.slowestMs, Date.now() - started);
    if (status >= 200 && status < 300) {
      const offsets = (JSON.parse(answer) as ProduceAnswer).offsets ?? [];
      if (offsets.length !== records.length) {
        load.unexpected.push(`${name}: ${records.length} records answered with ${offsets.length} offsets: ${answer}`);
        for (const r of records) load.unacked.add(r.id);
        continue;
      }
      records.forEach((r, i) => {
        const { partition, offset } = offsets[i]!;
        if (r.partition !== undefined && r.partition !== partition) load.unexpected.push(`${r.id} named partition ${r.partition} and was answered at ${partition}`);
        load.acked.push({ id: r.id, partition, offset });
      });
    } else {
      if (status !== 0) count(load.statuses, status);
      for (const r of records) load.unacked.add(r.id);
      if (status === 503 || status === 429) {
        let problemStatus: unknown;
        try {
          problemStatus = (JSON.parse(answer) as { status?: unknown }).status;
        } catch {
          problemStatus = undefined;
        }
        if (!type.startsWith('application/problem+json') || problemStatus !== status) load.unexpected.push(`${name}: ${status} that is not a problem (${type}): ${answer}`);
      } else if (status !== 0) {
        load.unexpected.push(`${name}: ${status} ${answer}`);
      }
      // As Retry-After asks, in spirit: a moment, not a hammering of a gateway that just said Kafka is away.
      await sleep(200);
    }
    // A steady load, not a flood: the cluster shares two cores with everything else.
    await sleep(15);
  }
}

/** Stops a gateway gracefully once the test is over, whatever its outcome. */
function stopAfter(t: TestContext, gateway: GatewayProcess): void {
  t.after(async () => {
    if (gateway.child.exitCode === null) gateway.child.kill('SIGTERM');
    await gateway.exit;
  });
}

test('no acknowledged record is lost or duplicated while every node of the cluster restarts, gracefully and killed', { timeout: 360_000 }, async (t) => {
  const began = Date.now();
  const elapsed = () => `${((Date.now() - began) / 1000).toFixed(1)} s`;
  const cluster = await startTestCluster(t);

  const topic = uniqueName('cluster-produce');
  await withAdmin(cluster.brokers, (admin) =>
    admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS, replicationFactor: 3, configEntries: [{ name: 'min.insync.replicas', value: '2' }] }] }),
  );
  await cluster.waitUntilHealthy();
  for (let p = 0; p < PARTITIONS; p++) assert.equal((await cluster.partition(topic, p)).isr.length, 3, `partition ${p} has three replicas in sync`);

  const coalescing = await runGateway({ ...GATEWAY_ENV, KAFKA_BROKERS: cluster.brokers });
  stopAfter(t, coalescing);
  const alone = await runGateway({ ...GATEWAY_ENV, KAFKA_BROKERS: cluster.brokers, PRODUCE_COALESCE: 'false' });
  stopAfter(t, alone);
  const gateways = { coalescing, alone };
  const exits: string[] = [];
  for (const [name, gateway] of Object.entries(gateways)) void gateway.exit.then((code) => exits.push(`${name} gateway exited with ${code}`));

  const load: Load = { acked: [], unacked: new Set(), statuses: new Map(), unexpected: [], requests: 0, slowestMs: 0 };
  let stop = false;
  const kinds: Kind[] = ['single', 'multi', 'ndjson'];
  // Three clients of each kind on the coalescing gateway (so requests share batches), one of each on the other.
  const clients = [
    ...kinds.flatMap((kind) => [0, 1, 2].map((i) => client(load, coalescing.url, topic, kind, `c-${kind}-${i}`, () => stop))),
    ...kinds.map((kind) => client(load, alone.url, topic, kind, `a-${kind}`, () => stop)),
  ];
  const phases: string[] = [];
  const mark = (phase: string) =>
    phases.push(`${phase} at ${elapsed()}: ${load.acked.length} records acked, ${load.unacked.size} not, in ${[...load.statuses.values()].reduce((a, b) => a + b, 0)} non-2xx answers`);

  try {
    await eventually(async () => load.acked.length >= 300, 60_000, 100);
    mark('load running');
    for (const id of NODE_IDS) {
      await cluster.halt(id, 'graceful');
      mark(`node ${id} stopped (SIGTERM)`);
      await cluster.restart(id);
      await cluster.waitUntilHealthy();
      mark(`node ${id} back`);
    }
    // The node leading most of the topic's partitions: killing it moves the most leaders at once.
    const leaders = await Promise.all(Array.from({ length: PARTITIONS }, (_, p) => cluster.leaderOf(topic, p)));
    const victim = NODE_IDS.reduce((best, id) => (leaders.filter((l) => l === id).length > leaders.filter((l) => l === best).length ? id : best));
    await cluster.halt(victim, 'kill');
    mark(`node ${victim} killed (SIGKILL), leading ${leaders.filter((l) => l === victim).length} partitions`);
    // Two nodes still make min.insync.replicas: once the controller has fenced the dead node (the brokers' session timeout) and moved its leaders, records are acknowledged again without it.
    const killedAt = load.acked.length;
    await eventually(async () => load.acked.length >= killedAt + 300, 60_000, 100);
    mark(`acknowledging again without node ${victim}`);
    await cluster.restart(victim);
    await cluster.waitUntilHealthy();
    mark(`node ${victim} back`);
    // The gateways recover: records are acknowledged again once the cluster is whole.
    const settled = load.acked.length;
    await eventually(async () => load.acked.length >= settled + 300, 60_000, 100);
    mark('recovered');
  } finally {
    stop = true;
    await Promise.all(clients);
  }
  for (const phase of phases) t.diagnostic(phase);

  const stored = await consumeAll(cluster.brokers, topic);
  const copies = new Map<string, Array<{ partition: number; offset: string }>>();
  for (const record of stored) {
    const { id } = JSON.parse(record.value!.toString()) as { id: string };
    let list = copies.get(id);
    if (!list) copies.set(id, (list = []));
    list.push({ partition: record.partition, offset: record.offset });
  }
  const missing: string[] = [];
  const duplicated: string[] = [];
  const misplaced: string[] = [];
  let found = 0;
  for (const a of load.acked) {
    const at = copies.get(a.id) ?? [];
    if (at.length === 0) missing.push(`${a.id} (answered ${a.partition}@${a.offset})`);
    else if (at.length > 1) duplicated.push(`${a.id} at ${at.map((c) => `${c.partition}@${c.offset}`).join(', ')}`);
    else if (at[0]!.partition !== a.partition || at[0]!.offset !== a.offset) misplaced.push(`${a.id} answered ${a.partition}@${a.offset}, stored ${at[0]!.partition}@${at[0]!.offset}`);
    else found += 1;
  }
  const unackedStored = [...load.unacked].filter((id) => copies.has(id)).length;
  const unackedTwice = [...load.unacked].filter((id) => (copies.get(id)?.length ?? 0) > 1).length;
  const statuses = [...load.statuses].map(([status, n]) => `${status}: ${n}`).join(', ') || 'none';
  t.diagnostic(
    `${load.requests} requests, slowest answer ${load.slowestMs} ms; acked ${load.acked.length}, found ${found}, missing ${missing.length}, ` +
      `duplicated ${duplicated.length}, misplaced ${misplaced.length}; non-2xx by status: ${statuses}; ` +
      `${load.unacked.size} records not acked, ${unackedStored} of them stored (${unackedTwice} more than once); ${stored.length} records in the topic; total ${elapsed()}`,
  );

  assert.deepEqual(exits, [], 'the gateways ran throughout');
  // Stopped here, while the cluster still runs (its own stop comes first among the after hooks): a clean stop is part of surviving the faults.
  for (const gateway of Object.values(gateways)) gateway.child.kill('SIGTERM');
  const stopCodes = await Promise.all(Object.values(gateways).map((gateway) => gateway.exit));

  const logs = Object.entries(gateways).flatMap(([name, gateway]) => gateway.lines.map((line) => ({ name, line })));
  const warnings = new Map<string, number>();
  for (const { name, line } of logs) {
    if (Number(line.level) < 40) continue;
    const reason = (line.err as { message?: unknown } | undefined)?.message;
    const what = `${name}: ${String(line.msg)}${reason === undefined ? '' : ` (${String(reason).slice(0, 120)})`}`;
    warnings.set(what, (warnings.get(what) ?? 0) + 1);
  }
  for (const [msg, n] of warnings) t.diagnostic(`gateway log: ${n} x ${msg}`);

  const uncaught = [...logs.map(({ line }) => JSON.stringify(line)), coalescing.stderr(), alone.stderr()].filter((text) => /uncaught/i.test(text));
  assert.deepEqual(uncaught, [], 'no uncaught failure in the gateways');
  assert.ok(load.acked.length > 0, 'records were acknowledged');
  assert.deepEqual(missing.slice(0, 20), [], `${missing.length} acknowledged records are missing`);
  assert.deepEqual(duplicated.slice(0, 20), [], `${duplicated.length} acknowledged records are stored more than once`);
  assert.deepEqual(misplaced.slice(0, 20), [], `${misplaced.length} acknowledged records are not where their answer said`);
  assert.deepEqual(load.unexpected.slice(0, 20), [], `${load.unexpected.length} answers were neither 2xx nor a 503/429 problem`);
  assert.deepEqual(stopCodes, [0, 0], 'the gateways stop cleanly');
});
