/** The real process: SIGTERM and SIGINT stop it gracefully with exit code 0. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { sharedBrokers } from './helpers/env.js';

async function runGateway(env: Record<string, string> = {}) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: { ...process.env, PORT: '0', KAFKA_BROKERS: sharedBrokers(), LOG_LEVEL: 'info', SHUTDOWN_TIMEOUT_MS: '5000', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
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
  return { child, url, lines, exit, stderr: () => stderr };
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

test('listening beyond loopback without auth prints a loud warning', async () => {
  const gw = await runGateway({ HOST: '0.0.0.0' });
  gw.child.kill('SIGTERM');
  assert.equal(await gw.exit, 0);
  assert.match(gw.stderr(), /WARNING: authentication is off/);
  assert.ok(gw.lines.some((l) => String(l.msg).includes('authentication is off')));
});
