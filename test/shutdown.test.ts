/** The real process: SIGTERM and SIGINT stop it gracefully with exit code 0. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runGateway } from './helpers/process.js';

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
