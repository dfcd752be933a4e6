/**
 * `npm run dev` stopped every way a user stops it leaves nothing behind: no
 * java process, no broker guard, nothing of its process group, and no
 * temporary folder. Each case runs a real `npm run dev` (its own broker)
 * in a process group of its own and a TMPDIR of its own, and looks only
 * at those, so brokers of other runs on the machine are never touched.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { eventually } from './helpers/env.js';
import { brokerOwner, brokerProcesses, cleanUp, groupProcesses, startDev, tmpLeftovers, type DevProcess } from './helpers/dev.js';

const started: DevProcess[] = [];
after(() => {
  for (const dev of started) cleanUp(dev);
});

/** Starts the command, stops it with `stop`, and checks that nothing of it is left. */
async function stopsCleanly(stop: (dev: DevProcess) => void): Promise<void> {
  const dev = await startDev();
  started.push(dev);
  assert.ok(brokerProcesses(dev).some((p) => p.includes('kafka.Kafka')), `the broker runs under ${dev.tmp}`);
  await eventually(async () => (await fetch(`${dev.url}/readyz`)).ok, 60_000);
  stop(dev);
  await eventually(
    async () => brokerProcesses(dev).length === 0 && groupProcesses(dev).length === 0 && tmpLeftovers(dev).length === 0,
    90_000,
    250,
  ).catch(() => {
    assert.fail(
      [
        'left behind:',
        ...brokerProcesses(dev).map((p) => `  broker process ${p.slice(0, 200)}`),
        ...groupProcesses(dev).map((p) => `  process of the group ${p.slice(0, 200)}`),
        ...tmpLeftovers(dev).map((f) => `  ${dev.tmp}/${f}`),
        'output:',
        dev.output(),
      ].join('\n'),
    );
  });
  await dev.exited;
}

// Two at a time: each starts a JVM, and the machine runs other test files beside these.
describe('npm run dev leaves no java process and no temporary folder', { concurrency: 2 }, () => {
  test('after Ctrl-C in its terminal (SIGINT to the whole process group)', { timeout: 240_000 }, async () => {
    await stopsCleanly((dev) => process.kill(-dev.pgid, 'SIGINT'));
  });

  test('after SIGTERM to npm', { timeout: 240_000 }, async () => {
    await stopsCleanly((dev) => process.kill(dev.pgid, 'SIGTERM'));
  });

  test('after npm is killed outright (SIGKILL)', { timeout: 240_000 }, async () => {
    await stopsCleanly((dev) => process.kill(dev.pgid, 'SIGKILL'));
  });

  test('after the process that started the broker is killed outright (SIGKILL)', { timeout: 240_000 }, async () => {
    await stopsCleanly((dev) => process.kill(brokerOwner(dev), 'SIGKILL'));
  });
});
