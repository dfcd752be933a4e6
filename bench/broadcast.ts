/**
 * The physical limit of fan-out on this machine, for the WebSocket
 * benchmarks: one Kafka consumer reading the topic and a plain `ws` server
 * writing each record's frame, encoded once, to every connected socket
 * (corked per batch, as the gateway does). It has none of the gateway's
 * work: no subscriptions, positions, flow control or authentication.
 *
 *   tsx bench/broadcast.ts BROKERS TOPIC   (prints "listening <url>")
 */
import type { AddressInfo } from 'node:net';
import { Consumer } from '@platformatic/kafka';
import { WebSocketServer, type WebSocket } from 'ws';

const [brokers, topic] = process.argv.slice(2) as [string, string];
const sockets = new Set<WebSocket>();
const server = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false });
const listening = new Promise<void>((res) => server.once('listening', () => res()));
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
function broadcast(record: { partition: number; offset: bigint; timestamp: bigint; value: Buffer | null }): void {
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
            broadcast({ partition: partitionIndex, offset, timestamp: batch.firstTimestamp + record.timestampDelta, value: record.value });
          }
          positions[partitionIndex] = batch.firstOffset + BigInt(batch.lastOffsetDelta) + 1n;
        }
      }
    }
  }
})();
await listening;
process.stdout.write(`listening ws://127.0.0.1:${(server.address() as AddressInfo).port}\n`);
process.once('SIGTERM', () => {
  running = false;
  void reading.finally(() => consumer.close(true)).then(() => process.exit(0));
});
