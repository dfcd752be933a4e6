/**
 * The physical limit of fan-out on this machine, for the WebSocket and
 * event-stream benchmarks: one Kafka consumer reading the topic and a plain
 * server writing each record, encoded once, to every connected WebSocket
 * (corked per batch, as the gateway does), and to the event streams
 * (`GET /events?key=k`) whose key is the record's, found by one map lookup.
 * It has none of the gateway's work: no subscriptions, positions, resume
 * tokens, flow control or authentication.
 *
 *   tsx bench/broadcast.ts BROKERS TOPIC   (prints "listening <ws url>"; the event streams are on its http twin)
 */
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Consumer } from '@platformatic/kafka';
import { WebSocketServer, type WebSocket } from 'ws';

const [brokers, topic] = process.argv.slice(2) as [string, string];
const sockets = new Set<WebSocket>();
/** Event streams by the key they asked for. */
const streams = new Map<string, Set<ServerResponse>>();
const http = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const key = url.searchParams.get('key');
  if (url.pathname !== '/events' || key === null) {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
  res.write('retry: 2000\n\n');
  let set = streams.get(key);
  if (!set) streams.set(key, (set = new Set()));
  set.add(res);
  res.on('close', () => {
    set.delete(res);
    if (set.size === 0) streams.delete(key);
  });
});
const server = new WebSocketServer({ server: http, perMessageDeflate: false });
const listening = new Promise<void>((res) => http.listen(0, '127.0.0.1', () => res()));
server.on('connection', (ws) => {
  sockets.add(ws);
  ws.on('close', () => sockets.delete(ws));
  ws.on('error', () => undefined);
  // Answers subscribe frames as the gateway would, so that the same client drives both.
  ws.on('message', (data) => {
    const frame = JSON.parse(data.toString()) as { op?: string; id?: string };
    if (frame.op === 'subscribe') ws.send(JSON.stringify({ op: 'subscribed', id: frame.id, group: null, ephemeral: true, partitions: [] }));
  });
});

let corked = false;
function broadcast(record: { partition: number; offset: bigint; timestamp: bigint; key: Buffer | null; value: Buffer | null }): void {
  const value = record.value?.toString() ?? '';
  let parsed: unknown = value;
  try {
    parsed = JSON.parse(value);
  } catch {
    // sent as text
  }
  const frame = Buffer.from(
    JSON.stringify({
      op: 'record',
      sub: 's',
      topic,
      partition: record.partition,
      offset: String(record.offset),
      timestamp: Number(record.timestamp),
      key: null,
      keyEncoding: null,
      value: parsed,
      valueEncoding: typeof parsed === 'string' ? 'text' : 'json',
      headers: {},
    }),
  );
  if (!corked) {
    corked = true;
    for (const ws of sockets) (ws as unknown as { _socket: { cork(): void } })._socket.cork();
    setImmediate(() => {
      corked = false;
      for (const ws of sockets) (ws as unknown as { _socket: { uncork(): void } })._socket.uncork();
    });
  }
  for (const ws of sockets) ws.send(frame);
  const key = record.key?.toString('utf8');
  const listeners = key === undefined ? undefined : streams.get(key);
  if (listeners) {
    const data = JSON.stringify({
      topic,
      partition: record.partition,
      offset: String(record.offset),
      timestamp: Number(record.timestamp),
      key,
      keyEncoding: 'text',
      value: parsed,
      valueEncoding: typeof parsed === 'string' ? 'text' : 'json',
      headers: {},
    });
    const event = Buffer.from(`id: ${record.partition}-${record.offset}\nevent: record\ndata: ${data}\n\n`);
    for (const res of listeners) res.write(event);
  }
}

// The leanest reader there is: one fetch at a time for every partition from the end of the log, no group.
const consumer = new Consumer({ clientId: 'bench-broadcast', bootstrapBrokers: [brokers], groupId: 'bench-broadcast-unused', retries: 5 });
const metadata = await consumer.metadata({ topics: [topic] });
const { id: topicId, partitions } = metadata.topics.get(topic)!;
const ends = (await consumer.listOffsets({ topics: [topic] })).get(topic)!;
const positions = partitions.map((_, p) => ends[p]!);
let running = true;
const reading = (async () => {
  while (running) {
    const response = await consumer.fetch({
      node: partitions[0]!.leader,
      maxWaitTime: 100,
      topics: [{ topicId, partitions: positions.map((fetchOffset, partition) => ({ partition, fetchOffset, partitionMaxBytes: 1024 * 1024, currentLeaderEpoch: -1, lastFetchedEpoch: -1 })) }],
    });
    for (const { partitions: answered } of response.responses) {
      for (const { partitionIndex, records } of answered) {
        for (const batch of records ?? []) {
          for (const record of batch.records) {
            const offset = batch.firstOffset + BigInt(record.offsetDelta);
            if (offset < positions[partitionIndex]!) continue;
            broadcast({ partition: partitionIndex, offset, timestamp: batch.firstTimestamp + record.timestampDelta, key: record.key, value: record.value });
          }
          positions[partitionIndex] = batch.firstOffset + BigInt(batch.lastOffsetDelta) + 1n;
        }
      }
    }
  }
})();
await listening;
process.stdout.write(`listening ws://127.0.0.1:${(http.address() as AddressInfo).port}\n`);
process.once('SIGTERM', () => {
  running = false;
  void reading.finally(() => consumer.close(true)).then(() => process.exit(0));
});
