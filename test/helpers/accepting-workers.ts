/**
 * WebSocket workers of one share group that accept every record they get,
 * a moment after it arrives, and count what Kafka confirmed: a record
 * counts once its answer came back `answered`; an answer that failed
 * (an error frame) counts nothing, as its record comes back to be
 * accepted again. For tests that move Kafka under the workers and then
 * check that every record was confirmed exactly once.
 */
import assert from 'node:assert/strict';
import { eventually } from './env.js';
import { WsClient, isOp, type Frame } from './ws.js';

export interface AcceptingWorkers {
  /** How many times each value was confirmed accepted. */
  readonly confirmed: ReadonlyMap<string, number>;
  /** Error frames by code and detail. */
  readonly errors: ReadonlyMap<string, number>;
  /** What the workers saw, for a failure message. */
  seen(expected: number): string;
  /** Waits until `count` values are confirmed; fails with what was seen. */
  until(count: number, expected: number, label: string): Promise<void>;
  /** Every value confirmed, none twice (after a pause in which a second accept would arrive). */
  assertEachOnce(values: readonly string[]): Promise<void>;
  close(): Promise<void>;
}

export async function acceptingWorkers(
  gatewayUrl: string,
  topic: string,
  shareGroup: string,
  { workers = 3, credit, answerAfterMs }: { workers?: number; credit: number; answerAfterMs: number },
): Promise<AcceptingWorkers> {
  const confirmed = new Map<string, number>();
  const pending = new Map<string, string>();
  const errors = new Map<string, number>();
  let answers = 0;
  let delivered = 0;
  const url = `${gatewayUrl.replace(/^http/, 'ws')}/v1/ws`;
  const start = async () => {
    const ws = await WsClient.connect(url);
    ws.socket.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as Frame;
      if (frame.op === 'record') {
        delivered += 1;
        const id = `a${answers++}`;
        pending.set(id, String(frame.value));
        setTimeout(() => {
          ws.send({ op: 'answer', id, sub: 'w', topic: frame.topic, partition: frame.partition, offset: frame.offset, outcome: 'accept' });
          ws.send({ op: 'credit', sub: 'w', n: 1 });
        }, answerAfterMs);
      } else if (frame.op === 'answered') {
        const value = pending.get(String(frame.id))!;
        confirmed.set(value, (confirmed.get(value) ?? 0) + 1);
      } else if (frame.op === 'error') {
        const key = `${String(frame.code)}: ${String(frame.detail)}`;
        errors.set(key, (errors.get(key) ?? 0) + 1);
      }
    });
    ws.send({ op: 'subscribe', id: 'w', topics: [topic], shareGroup, credit });
    await ws.next(isOp('subscribed', 'w'), 60_000);
    return ws;
  };
  const clients = await Promise.all(Array.from({ length: workers }, start));
  const seen = (expected: number) => `${confirmed.size} of ${expected} confirmed, ${delivered} deliveries, ${answers} answers sent; errors: ${JSON.stringify([...errors])}`;
  return {
    confirmed,
    errors,
    seen,
    async until(count, expected, label) {
      await eventually(async () => confirmed.size >= count, 120_000, 250).catch((error: unknown) => {
        throw new Error(`${label}: ${String(error)}; ${seen(expected)}`);
      });
    },
    async assertEachOnce(values) {
      await new Promise((r) => setTimeout(r, 2000));
      assert.deepEqual([...confirmed.keys()].sort(), [...values].sort(), `none lost; ${seen(values.length)}`);
      assert.deepEqual(
        [...confirmed].filter(([, n]) => n > 1),
        [],
        'none accepted twice',
      );
    },
    async close() {
      await Promise.all(clients.map((ws) => ws.close()));
    },
  };
}
