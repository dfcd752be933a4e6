/**
 * Avro through the gateway against a direct client doing the same
 * serialization, on the same broker in the same run:
 *
 * - produce: JSON records in batches of 100 over HTTP with
 *   `valueFormat=avro` (the gateway checks each against the schema and
 *   writes the registry wire format) against @platformatic/kafka producers
 *   that encode the same records with avsc and the same 5-byte header;
 * - read: the topic read back as JSON through partition pages (decoded by
 *   the gateway) against a direct fetch loop decoding each record with avsc.
 *
 * `sh scripts/node.sh --import tsx bench/avro.ts [--seconds 10]`; prints
 * records per second and the gateway-to-direct ratio. Not part of
 * `npm run bench`'s report yet.
 */
import avro from 'avsc';
import { Admin, Consumer, Producer, compatibilityPartitioner } from '@platformatic/kafka';
import { startBroker, type Broker } from '../kafka/broker.js';
import { startGatewayProcess } from './lib.js';

const at = process.argv.indexOf('--seconds');
const seconds = at >= 0 ? Number(process.argv[at + 1]) : 10;
const LOOPS = 4;
const BATCH = 100;
const schema = { type: 'record', name: 'Order', namespace: 'bench', fields: [{ name: 'id', type: 'long' }, { name: 'item', type: 'string' }, { name: 'qty', type: 'int' }, { name: 'note', type: ['null', 'string'], default: null }] };
const type = avro.Type.forSchema(schema as avro.Schema, { wrapUnions: true });
const record = (n: number) => ({ id: n, item: `item-${n % 1000}`, qty: n % 7, note: n % 2 === 0 ? null : { string: 'gift wrap' } });

let broker: Broker | undefined;
let brokers = process.env.KAFKA_BROKERS;
if (!brokers) {
  broker = await startBroker({ heap: '1g' });
  brokers = broker.brokers;
}
const gateway = await startGatewayProcess(brokers);
const stamp = Date.now().toString(36);
const topics = { gateway: `bench-avro-gw-${stamp}`, direct: `bench-avro-direct-${stamp}` };
const admin = new Admin({ clientId: 'bench-avro-admin', bootstrapBrokers: [brokers] });
await admin.createTopics({ topics: Object.values(topics), partitions: 1, replicas: 1 });
await admin.close();
await new Promise((r) => setTimeout(r, 2000));

const registered = await fetch(`${gateway.url}/schema-registry/subjects/${topics.gateway}-value/versions`, {
  method: 'POST',
  headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
  body: JSON.stringify({ schema: JSON.stringify(schema) }),
});
const { id } = (await registered.json()) as { id: number };
const header = Buffer.from([0, (id >>> 24) & 255, (id >>> 16) & 255, (id >>> 8) & 255, id & 255]);

async function timed(loop: (index: number, until: number) => Promise<number>): Promise<number> {
  const until = performance.now() + seconds * 1000;
  const counts = await Promise.all(Array.from({ length: LOOPS }, (_, i) => loop(i, until)));
  return counts.reduce((a, b) => a + b, 0) / seconds;
}

const gatewayProduce = await timed(async (loop, until) => {
  let sent = 0;
  while (performance.now() < until) {
    const body = JSON.stringify({ records: Array.from({ length: BATCH }, (_, i) => ({ value: record(loop * 1e9 + sent + i) })) });
    const res = await fetch(`${gateway.url}/v1/topics/${topics.gateway}/records?valueFormat=avro`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    if (res.status !== 200) throw new Error(`gateway answered ${res.status}: ${await res.text()}`);
    sent += BATCH;
  }
  return sent;
});
const producers = Array.from({ length: LOOPS }, (_, i) => new Producer({ clientId: `bench-avro-${i}`, bootstrapBrokers: [brokers], idempotent: true, acks: -1, partitioner: compatibilityPartitioner }));
const directProduce = await timed(async (loop, until) => {
  let sent = 0;
  while (performance.now() < until) {
    const messages = Array.from({ length: BATCH }, (_, i) => ({ topic: topics.direct, value: Buffer.concat([header, type.toBuffer(record(loop * 1e9 + sent + i))]) }));
    await producers[loop]!.send({ messages });
    sent += BATCH;
  }
  return sent;
});
await Promise.all(producers.map((p) => p.close()));

async function gatewayRead(): Promise<{ count: number; perSecond: number }> {
  const started = performance.now();
  let offset = '0';
  let count = 0;
  for (;;) {
    const res = await fetch(`${gateway.url}/v1/topics/${topics.gateway}/partitions/0/records?offset=${offset}&limit=1000&maxBytes=8388608`);
    const page = (await res.json()) as { records: Array<{ value: unknown; valueSchema?: unknown }>; nextOffset: string; logEndOffset: string };
    count += page.records.length;
    if (page.records.some((r) => r.valueSchema === undefined)) throw new Error('a record was not decoded');
    offset = page.nextOffset;
    if (page.records.length === 0 || BigInt(offset) >= BigInt(page.logEndOffset)) break;
  }
  return { count, perSecond: count / ((performance.now() - started) / 1000) };
}

async function directRead(): Promise<{ count: number; perSecond: number }> {
  const consumer = new Consumer({ clientId: 'bench-avro-read', bootstrapBrokers: [brokers!], groupId: 'bench-avro-unused' });
  const metadata = await consumer.metadata({ topics: [topics.direct] });
  const { id: topicId, partitions } = metadata.topics.get(topics.direct)!;
  const end = (await consumer.listOffsets({ topics: [topics.direct] })).get(topics.direct)![0]!;
  const started = performance.now();
  let position = 0n;
  let count = 0;
  while (position < end) {
    const response = await consumer.fetch({
      node: partitions[0]!.leader,
      maxWaitTime: 100,
      topics: [{ topicId, partitions: [{ partition: 0, fetchOffset: position, partitionMaxBytes: 8 * 1024 * 1024, currentLeaderEpoch: -1, lastFetchedEpoch: -1 }] }],
    });
    for (const { partitions: answered } of response.responses) {
      for (const { records } of answered) {
        for (const batch of records ?? []) {
          for (const one of batch.records) {
            // The same work as the gateway's: the header read, the value decoded and made JSON.
            JSON.parse(type.toString(type.fromBuffer(one.value!.subarray(5))));
            count += 1;
          }
          position = batch.firstOffset + BigInt(batch.lastOffsetDelta) + 1n;
        }
      }
    }
  }
  await consumer.close(true);
  return { count, perSecond: count / ((performance.now() - started) / 1000) };
}

const gwRead = await gatewayRead();
const dRead = await directRead();
await gateway.stop();
await broker?.stop();

const row = (name: string, gw: number, direct: number) => `| ${name} | ${direct.toFixed(0)} | ${gw.toFixed(0)} | ${(gw / direct).toFixed(2)} |`;
process.stdout.write(
  [
    `Avro, ${LOOPS} loops, batches of ${BATCH}, ${seconds} s of produce; read: the whole topic (gateway ${gwRead.count} records, direct ${dRead.count})`,
    '| scenario | direct rec/s | gateway rec/s | ratio |',
    '|---|---|---|---|',
    row('produce Avro from JSON', gatewayProduce, directProduce),
    row('read Avro as JSON', gwRead.perSecond, dRead.perSecond),
    '',
  ].join('\n'),
);
