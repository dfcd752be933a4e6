/** The real process: SIGTERM and SIGINT stop it gracefully with exit code 0. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { sharedBrokers } from './helpers/env.js';

async function runGateway() {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: { ...process.env, PORT: '0', KAFKA_BROKERS: sharedBrokers(), LOG_LEVEL: 'info', SHUTDOWN_TIMEOUT_MS: '5000' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: Array<Record<string, unknown>> = [];
  const exit = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
  const url = await new Promise<string>((res, rej) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      const entry = JSON.parse(line) as Record<string, unknown>;
      lines.push(entry);
      if (entry.msg === 'gateway listening') res(String(entry.url));
    });
    void exit.then((code) => rej(new Error(`gateway exited early with ${code}`)));
  });
  return { child, url, lines, exit };
}

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  test(`${signal} stops accepting, disconnects from Kafka and exits 0`, async () => {
    const gw = await runGateway();
    const ready = await fetch(`${gw.url}/healthz`);
    assert.equal(ready.status, 200);
    gw.child.kill(signal);
    assert.equal(await gw.exit, 0);
    const messages = gw.lines.map((l) => l.msg);
    assert.ok(messages.includes('shutting down'));
    assert.ok(messages.includes('stopped'));
    await assert.rejects(fetch(`${gw.url}/healthz`), 'the port must be closed after shutdown');
  });
}
