/** Graceful shutdown of the real process lets a produce request in flight finish. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { after, test } from 'node:test';
import { sharedBrokers, uniqueName } from './helpers/env.js';
import { consumeAll, createTopic, deleteTopics } from './helpers/kafka.js';

const topic = uniqueName('shutdown');
after(() => deleteTopics(sharedBrokers(), [topic]));

test('a produce request in flight when SIGTERM arrives completes, and its record is in Kafka', async () => {
  await createTopic(sharedBrokers(), topic, 1);
  // A long linger keeps the request waiting inside the gateway while the signal arrives.
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: { ...process.env, PORT: '0', KAFKA_BROKERS: sharedBrokers(), LOG_LEVEL: 'info', SHUTDOWN_TIMEOUT_MS: '10000', PRODUCE_LINGER_MS: '1000' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exit = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
  const url = await new Promise<string>((res, rej) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      const entry = JSON.parse(line) as Record<string, unknown>;
      if (entry.msg === 'gateway listening') res(String(entry.url));
    });
    void exit.then((code) => rej(new Error(`gateway exited early with ${code}`)));
  });
  const pending = fetch(`${url}/v1/topics/${topic}/records`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ records: [{ value: 'during shutdown' }] }),
  });
  await new Promise((r) => setTimeout(r, 300));
  child.kill('SIGTERM');
  const res = await pending;
  const text = await res.text();
  assert.equal(res.status, 200, text);
  assert.equal((JSON.parse(text) as { offsets: { offset: string }[] }).offsets[0]!.offset, '0');
  assert.equal(await exit, 0);
  assert.equal((await consumeAll(sharedBrokers(), topic)).length, 1);
});
