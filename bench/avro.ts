/**
 * Avro through the gateway against a direct client doing the same
 * serialization, on the same broker in the same run, alternating rounds:
 *
 * - avro-produce: JSON records in batches of 100 over HTTP with
 *   `valueFormat=avro` (the gateway checks each against the schema and
 *   writes the registry wire format), 4 loops, against @platformatic/kafka
 *   producers (one per loop) that encode the same records with avsc and the
 *   same 5-byte header;
 * - avro-read: the same number of records read back from the start as JSON
 *   through partition pages of 1,000 (decoded by the gateway) against a
 *   direct fetch loop decoding each record with avsc and making it JSON.
 *
 * Part of `npm run bench`; `npm run bench -- --only avro` runs these alone.
 */
import avro from 'avsc';
import { Admin, Consumer, Producer, compatibilityPartitioner } from '@platformatic/kafka';
import { alternate, cpuSeconds, median, startGatewayProcess, type GatewayProcess, type Measurement, type ScenarioResult } from './lib.js';

export interface AvroBenchOptions {
  readonly brokers: string;
  readonly seconds: number;
  readonly rounds: number;
  /** Records each read round reads from the start. */
  readonly records: number;
}

const LOOPS = 4;
const BATCH = 100;
const PAGE = 1000;
const schema = { type: 'record', name: 'Order', namespace: 'bench', fields: [{ name: 'id', type: 'long' }, { name: 'item', type: 'string' }, { name: 'qty', type: 'int' }, { name: 'note', type: ['null', 'string'], default: null }] };
const type = avro.Type.forSchema(schema as avro.Schema, { wrapUnions: true });
const record = (n: number) => ({ id: n, item: `item-${n % 1000}`, qty: n % 7, note: n % 2 === 0 ? null : { string: 'gift wrap' } });

/** `LOOPS` concurrent loops for `seconds`; records per second and the CPU seconds `cpu` measured. */
async function timed(seconds: number, cpu: () => number, loop: (index: number, until: number) => Promise<number>): Promise<Measurement> {
  const before = cpu();
  const started = performance.now();
  const until = started + seconds * 1000;
  const counts = await Promise.all(Array.from({ length: LOOPS }, (_, i) => loop(i, until)));
  const sent = counts.reduce((a, b) => a + b, 0);
  return { rate: sent / ((performance.now() - started) / 1000), cpuPer100k: (cpu() - before) * (100_000 / sent) };
}

const ownCpu = () => {
  const used = process.cpuUsage();
  return (used.user + used.system) / 1e6;
};

function gatewayProduce(gateway: GatewayProcess, topic: string, seconds: number, start: number): Promise<Measurement> {
  return timed(seconds, () => cpuSeconds(gateway.pid), async (loop, until) => {
    let sent = 0;
    while (performance.now() < until) {
      const body = JSON.stringify({ records: Array.from({ length: BATCH }, (_, i) => ({ value: record(start + loop * 1e8 + sent + i) })) });
      const res = await fetch(`${gateway.url}/v1/topics/${topic}/records?valueFormat=avro`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      if (res.status !== 200) throw new Error(`gateway answered ${res.status}: ${await res.text()}`);
      sent += BATCH;
    }
    return sent;
  });
}

function directProduce(producers: readonly Producer[], topic: string, header: Buffer, seconds: number, start: number): Promise<Measurement> {
  return timed(seconds, ownCpu, async (loop, until) => {
    let sent = 0;
    while (performance.now() < until) {
      const messages = Array.from({ length: BATCH }, (_, i) => ({ topic, value: Buffer.concat([header, type.toBuffer(record(start + loop * 1e8 + sent + i))]) }));
      await producers[loop]!.send({ messages });
      sent += BATCH;
    }
    return sent;
  });
}

async function gatewayRead(gateway: GatewayProcess, topic: string, count: number): Promise<Measurement> {
  const cpu = cpuSeconds(gateway.pid);
  const started = performance.now();
  let offset = '0';
  let read = 0;
  while (read < count) {
    const res = await fetch(`${gateway.url}/v1/topics/${topic}/partitions/0/records?offset=${offset}&limit=${Math.min(PAGE, count - read)}&maxBytes=8388608`);
    const page = (await res.json()) as { records: Array<{ value: unknown; valueSchema?: unknown }>; nextOffset: string };
    if (page.records.some((r) => r.valueSchema === undefined)) throw new Error('a record was not decoded');
    if (page.records.length === 0) throw new Error(`the topic ended after ${read} of ${count} records`);
    read += page.records.length;
    offset = page.nextOffset;
  }
  return { rate: read / ((performance.now() - started) / 1000), cpuPer100k: (cpuSeconds(gateway.pid) - cpu) * (100_000 / read) };
}

async function directRead(brokers: string, topic: string, count: number): Promise<Measurement> {
  const consumer = new Consumer({ clientId: 'bench-avro-read', bootstrapBrokers: [brokers], groupId: 'bench-avro-unused' });
  try {
    const metadata = await consumer.metadata({ topics: [topic] });
    const { id: topicId, partitions } = metadata.topics.get(topic)!;
    const cpu = ownCpu();
    const started = performance.now();
    let position = 0n;
    let read = 0;
    while (read < count) {
      const response = await consumer.fetch({
        node: partitions[0]!.leader,
        maxWaitTime: 100,
        topics: [{ topicId, partitions: [{ partition: 0, fetchOffset: position, partitionMaxBytes: 8 * 1024 * 1024, currentLeaderEpoch: -1, lastFetchedEpoch: -1 }] }],
      });
      for (const { partitions: answered } of response.responses) {
        for (const { records } of answered) {
          for (const batch of records ?? []) {
            for (const one of batch.records) {
              if (read >= count) break;
              // The same work as the gateway's: the header read, the value decoded and made JSON.
              JSON.parse(type.toString(type.fromBuffer(one.value!.subarray(5))));
              read += 1;
            }
            position = batch.firstOffset + BigInt(batch.lastOffsetDelta) + 1n;
          }
        }
      }
    }
    return { rate: read / ((performance.now() - started) / 1000), cpuPer100k: (ownCpu() - cpu) * (100_000 / read) };
  } finally {
    await consumer.close(true);
  }
}

/** CPU seconds per 100,000 records of each side, median of the rounds (the gateway's process; the direct client's, this one). */
function cpuOf(rounds: ReadonlyArray<{ baseline: Measurement; gateway: Measurement }>): Record<string, number> {
  return { directCpuPer100k: median(rounds.map((r) => r.baseline.cpuPer100k!)), gatewayCpuPer100k: median(rounds.map((r) => r.gateway.cpuPer100k!)) };
}

export async function runAvroBenchmarks({ brokers, seconds, rounds, records }: AvroBenchOptions): Promise<ScenarioResult[]> {
  const stamp = Date.now().toString(36);
  const topics = { gateway: `bench-avro-gw-${stamp}`, direct: `bench-avro-direct-${stamp}` };
  const admin = new Admin({ clientId: 'bench-avro-admin', bootstrapBrokers: [brokers] });
  await admin.createTopics({ topics: Object.values(topics), partitions: 1, replicas: 1 });
  await admin.close();
  const gateway = await startGatewayProcess(brokers);
  const producers = Array.from({ length: LOOPS }, (_, i) => new Producer({ clientId: `bench-avro-${i}`, bootstrapBrokers: [brokers], idempotent: true, acks: -1, partitioner: compatibilityPartitioner }));
  try {
    const registered = await fetch(`${gateway.url}/schema-registry/subjects/${topics.gateway}-value/versions`, {
      method: 'POST',
      headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
      body: JSON.stringify({ schema: JSON.stringify(schema) }),
    });
    if (!registered.ok) throw new Error(`registering the schema: ${registered.status} ${await registered.text()}`);
    const { id } = (await registered.json()) as { id: number };
    const header = Buffer.from([0, (id >>> 24) & 255, (id >>> 16) & 255, (id >>> 8) & 255, id & 255]);

    process.stdout.write(`  avro-produce: ${LOOPS} loops of HTTP batches of ${BATCH} JSON records as Avro, ${seconds} s a side a round\n`);
    let round = 0;
    const produce = await alternate(
      rounds,
      () => directProduce(producers, topics.direct, header, seconds, round * 1e9),
      () => gatewayProduce(gateway, topics.gateway, seconds, round++ * 1e9),
    );
    // Enough on both topics for every read round: the produce rounds usually wrote more.
    const topUp = Math.ceil(records / BATCH);
    for (let i = 0; i < topUp; i++) {
      await producers[0]!.send({ messages: Array.from({ length: BATCH }, (_, j) => ({ topic: topics.direct, value: Buffer.concat([header, type.toBuffer(record(i * BATCH + j))]) })) });
      const res = await fetch(`${gateway.url}/v1/topics/${topics.gateway}/records?valueFormat=avro`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ records: Array.from({ length: BATCH }, (_, j) => ({ value: record(i * BATCH + j) })) }),
      });
      if (res.status !== 200) throw new Error(`gateway answered ${res.status}: ${await res.text()}`);
    }

    process.stdout.write(`  avro-read: ${records} records from the start as JSON, partition pages of ${PAGE}\n`);
    const read = await alternate(
      rounds,
      () => directRead(brokers, topics.direct, records),
      () => gatewayRead(gateway, topics.gateway, records),
    );
    return [
      {
        name: 'avro-produce',
        description: `JSON records produced as Avro (registry wire format, schema checked per record) over HTTP in batches of ${BATCH}, ${LOOPS} loops; baseline: @platformatic/kafka producers (one per loop) sending the same records encoded with avsc behind the same 5-byte header`,
        target: 'reported: gateway / direct',
        ...produce,
        met: undefined,
        extra: cpuOf(produce.rounds),
      },
      {
        name: 'avro-read',
        description: `${records} Avro records read from the start as JSON through partition pages of ${PAGE} (decoded by the gateway, one HTTP request at a time); baseline: a direct fetch loop decoding each record with avsc and making it JSON`,
        target: 'reported: gateway / direct',
        ...read,
        met: undefined,
        extra: cpuOf(read.rounds),
      },
    ];
  } finally {
    await Promise.all(producers.map((p) => p.close()));
    await gateway.stop();
  }
}
