/**
 * Event streams under load and at the edges of their life: a reader that
 * stops reading stays within the memory bound while others go on, one that
 * takes nothing at all is dropped, a durable group commits what was sent
 * (and what a filter left out), the stream limit, and shutdown ending every
 * stream with an error event.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import type { RunningGateway } from '../src/gateway.js';
import { eventually, sharedBrokers, uniqueName } from './helpers/env.js';
import { gatewayFor } from './helpers/scoped.js';
import { createTopic } from './helpers/kafka.js';
import { SseClient } from './helpers/sse.js';

const BOUND = 1024 * 1024;
/** One fetch per partition may wait beside the bound (the per-partition fetch size: a quarter of WS_MAX_BUFFERED here), and the event that crossed it. */
const SLACK = 256 * 1024 + 16 * 1024;

let patient: RunningGateway;
let strict: RunningGateway;
/** 20 MB of records, more than any loopback socket buffers, so that a reader that stops really stalls. */
let bigTopic: string;
let bigCount = 0;

before(async (t) => {
  [patient, strict] = await Promise.all([
    gatewayFor(t, { WS_MAX_BUFFERED: String(BOUND), SSE_KEEPALIVE_MS: '60000', WS_AUTO_COMMIT_INTERVAL_MS: '100' }),
    gatewayFor(t, { WS_MAX_BUFFERED: '65536', SSE_KEEPALIVE_MS: '300', SSE_MAX_STREAMS: '3' }),
  ]);
  bigTopic = uniqueName('events-big');
  await createTopic(sharedBrokers(), bigTopic, 2);
  const value = 'x'.repeat(4000);
  for (let i = 0; i < 25; i++) {
    await produce(patient, bigTopic, Array.from({ length: 200 }, (_, n) => ({ value, partition: n % 2 })));
    bigCount += 200;
  }
});

async function produce(gateway: RunningGateway, topic: string, records: ReadonlyArray<Record<string, unknown>>): Promise<void> {
  const res = await fetch(`${gateway.url}/v1/topics/${topic}/records`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ records }) });
  assert.equal(res.status, 200, await res.text());
}

test('a reader that stops reading holds at most WS_MAX_BUFFERED and one fetch per partition, while another gets everything', async () => {
  const stalled = await SseClient.open(`${patient.url}/v1/topics/${bigTopic}/events?from=earliest`);
  stalled.stall();
  const reader = await SseClient.open(`${patient.url}/v1/topics/${bigTopic}/events?from=earliest`);
  await reader.waitRecords(bigCount, 180_000);
  const peak = patient.services.events.peakBufferedBytes();
  const now = patient.services.events.stats();
  assert.equal(now.streams, 2, 'the stalled stream is paused, not dropped');
  assert.ok(peak <= BOUND + SLACK, `a stream held ${peak} unsent bytes (bound ${BOUND} + ${SLACK})`);
  assert.ok(peak >= BOUND / 2, `the stalled stream really filled up (${peak} bytes)`);
  assert.ok(stalled.text.length < 20_000_000, 'the stalled client got less than everything');
  // Nothing past what the streams hold is queued anywhere for them: the engine's cache is bounded on its own.
  assert.ok(patient.services.subscriptions.stats().cachedBytes <= 2 * 4 * 256 * 1024);
  stalled.drop();
  reader.drop();
  await eventually(async () => patient.services.events.stats().streams === 0);
});

test('a client that takes nothing for two keep-alive intervals is dropped, though it never reads its socket', async () => {
  const stalled = await SseClient.open(`${strict.url}/v1/topics/${bigTopic}/events?from=earliest`);
  stalled.stall();
  await eventually(async () => strict.services.events.stats().streams === 0, 60_000);
  // The socket is gone although the client never read it.
  stalled.response.socket.resume();
  stalled.response.resume();
  await stalled.waitEnded();
});

test('SSE_MAX_STREAMS: past it, 503 with Retry-After', async () => {
  const open = await Promise.all([0, 1, 2].map(() => SseClient.open(`${strict.url}/v1/topics/${bigTopic}/events`)));
  assert.deepEqual(open.map((c) => c.status), [200, 200, 200]);
  const refused = await SseClient.open(`${strict.url}/v1/topics/${bigTopic}/events`);
  assert.equal(refused.status, 503);
  assert.equal(refused.headers['retry-after'], '1');
  await refused.waitEnded();
  refused.conforms();
  assert.equal(JSON.parse(refused.text).code, 'GW_ERR_OVERLOADED');
  for (const c of open) c.drop();
  await eventually(async () => strict.services.events.stats().streams === 0);
});

async function committed(gateway: RunningGateway, group: string): Promise<Record<number, string | null>> {
  const res = await fetch(`${gateway.url}/v1/consumer-groups/${group}`);
  if (res.status !== 200) return {};
  const body = (await res.json()) as { offsets: Array<{ partition: number; committedOffset: string | null }> };
  return Object.fromEntries(body.offsets.map((o) => [o.partition, o.committedOffset]));
}

test('a durable group commits what the stream sent, and past what its filter left out; a token wins over the commits', async () => {
  const topic = uniqueName('events-group');
  await createTopic(sharedBrokers(), topic, 2);
  await produce(patient, topic, [
    { key: 'a', value: 1, partition: 0 },
    { key: 'b', value: 2, partition: 0 },
    { key: 'b', value: 3, partition: 1 },
    { key: 'a', value: 4, partition: 0 },
  ]);
  const group = uniqueName('events-group');
  const client = await SseClient.open(`${patient.url}/v1/topics/${topic}/events?from=earliest&group=${group}&key=a`);
  assert.equal(client.status, 200);
  await client.waitRecords(2);
  // Partition 1 holds no "a" at all: the group has read it to its end even so.
  await eventually(async () => {
    const offsets = await committed(patient, group);
    return offsets[0] === '3' && offsets[1] === '1';
  });
  const firstId = client.events.find((e) => e.event === 'record')!.id!;
  client.drop();
  await eventually(async () => patient.services.events.stats().streams === 0);
  // The group has committed past both records, but the client says it saw only the first: it gets the second again.
  const resumed = await SseClient.open(`${patient.url}/v1/topics/${topic}/events?group=${group}&key=a`, { headers: { 'last-event-id': firstId } });
  await resumed.waitRecords(1);
  assert.deepEqual(resumed.records.map((r) => r.value), [4]);
  resumed.drop();
});

/**
 * The partitions a stream of a group held when each of its records arrived, by its `assigned` events:
 * a record of a partition it did not hold at that point is a violation.
 */
function deliveredUnheld(client: SseClient): string[] {
  const violations: string[] = [];
  let held = new Set<number>();
  for (const event of client.events) {
    const data = event.data === undefined ? undefined : (JSON.parse(event.data) as { partition?: number; offset?: string; partitions?: Array<{ partitions: number[] }> });
    if (event.event === 'assigned') held = new Set(data!.partitions!.flatMap((p) => p.partitions));
    if (event.event === 'record' && !held.has(data!.partition!)) violations.push(`${data!.partition}@${data!.offset} delivered while holding [${[...held].join(', ')}]`);
  }
  return violations;
}

const holding = (client: SseClient): number[] | undefined => {
  const last = client.events.filter((e) => e.event === 'assigned').at(-1);
  return last && (JSON.parse(last.data!) as { partitions: Array<{ partitions: number[] }> }).partitions.flatMap((p) => p.partitions).sort((a, b) => a - b);
};

test('a stream in a group is told its partitions when it starts and whenever a rebalance changes them, and reads nothing it gave up', async () => {
  const topic = uniqueName('events-assigned');
  await createTopic(sharedBrokers(), topic, 4);
  const group = uniqueName('events-assigned');
  let producing = true;
  const writer = (async () => {
    for (let round = 0; producing; round++) {
      await produce(patient, topic, Array.from({ length: 8 }, (_, n) => ({ value: `r${round}-${n}`, partition: n % 4 })));
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  const first = await SseClient.open(`${patient.url}/v1/topics/${topic}/events?group=${group}`);
  const second = { client: undefined as SseClient | undefined };
  try {
    assert.equal(first.status, 200);
    await first.until((c) => c.events.some((e) => e.event === 'assigned'));
    assert.deepEqual(first.events[1]?.event, 'assigned', 'the assignment comes right after retry, before any record');
    assert.deepEqual(holding(first), [0, 1, 2, 3]);
    assert.equal(first.events[1]?.id, undefined, 'an assigned event leaves the last event id alone');
    await first.until((c) => c.recordCount > 0);

    second.client = await SseClient.open(`${patient.url}/v1/topics/${topic}/events?group=${group}`);
    assert.equal(second.client.status, 200);
    const other = second.client;
    await eventually(async () => {
      const [a, b] = [holding(first), holding(other)];
      return a !== undefined && b !== undefined && a.length > 0 && b.length > 0 && [...a, ...b].sort().join() === '0,1,2,3';
    });
    assert.equal(first.events.filter((e) => e.event === 'assigned').length >= 2, true, 'the first stream was told it gave partitions up');
    // Both go on reading their own partitions for a while.
    const [readA, readB] = [first.recordCount, other.recordCount];
    await first.until((c) => c.recordCount > readA + 4);
    await other.until((c) => c.recordCount > readB + 4);
    assert.deepEqual(deliveredUnheld(first), []);
    assert.deepEqual(deliveredUnheld(other), []);
    first.conforms();
    other.conforms();
  } finally {
    producing = false;
    await writer;
    first.drop();
    second.client?.drop();
  }
});

test('shutdown ends every stream with an error event saying so, then closes it', async (t) => {
  const gateway = await gatewayFor(t);
  const topic = uniqueName('events-shutdown');
  await createTopic(sharedBrokers(), topic, 1);
  const client = await SseClient.open(`${gateway.url}/v1/topics/${topic}/events`);
  assert.equal(client.status, 200);
  await gateway.stop();
  await client.waitEnded();
  const last = client.events.at(-1)!;
  assert.equal(last.event, 'error');
  const problem = JSON.parse(last.data!) as { status: number; code: string; detail: string };
  assert.equal(problem.status, 503);
  assert.equal(problem.code, 'GW_ERR_SHUTTING_DOWN');
  assert.match(problem.detail, /Last-Event-ID/);
  client.conforms();
});
