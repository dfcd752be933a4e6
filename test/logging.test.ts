/**
 * Logs that do not cry wolf. A gateway started with no broker to reach
 * says so once, in words (which brokers it tried, and to set KAFKA_BROKERS
 * or run `npm run dev`), then keeps its retries at debug; nothing is at
 * error level and nothing above debug carries a stack.
 */
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { after, test } from 'node:test';
import { freePort } from '../kafka/broker.js';
import { KafkaLog } from '../src/kafka/client/log-policy.js';
import { startGateway, type RunningGateway } from '../src/gateway.js';
import { createLogger } from '../src/common/logger.js';
import { eventually, testConfig } from './helpers/env.js';

interface Line {
  readonly level: number;
  readonly msg: string;
  readonly [field: string]: unknown;
}

/** A debug logger whose lines land, parsed, in `lines`. */
function capturingLogger(): { lines: Line[]; logger: ReturnType<typeof createLogger> } {
  const lines: Line[] = [];
  const stream = new PassThrough();
  let rest = '';
  stream.on('data', (chunk: Buffer) => {
    const text = rest + chunk.toString();
    const parts = text.split('\n');
    rest = parts.pop() ?? '';
    for (const part of parts) if (part) lines.push(JSON.parse(part) as Line);
  });
  return { lines, logger: createLogger('debug', stream) };
}

const DEBUG = 20;
const WARN = 40;
const ERROR = 50;

function hasStack(line: Line): boolean {
  return JSON.stringify(line).includes('"stack"');
}

let gateway: RunningGateway | undefined;
after(async () => {
  await gateway?.stop();
});

test('with no broker to reach, the gateway says once what it tried and what to do, and retries quietly', { timeout: 120_000 }, async () => {
  const { lines, logger } = capturingLogger();
  // A port nothing listens on: every attempt is refused at once.
  const nowhere = `127.0.0.1:${await freePort()}`;
  gateway = await startGateway(testConfig({ METADATA_TIMEOUT_MS: '1000' }, nowhere), logger);
  // Retries that are logged: the first connect gave up, and others followed.
  await eventually(async () => lines.filter((l) => l.level === DEBUG && l.msg === 'still cannot reach Kafka').length >= 2, 90_000);
  const answer = await fetch(`${gateway.url}/v1/topics`);
  assert.equal(answer.status, 503);
  await eventually(async () => lines.some((l) => l.level >= WARN && l.code === 'GW_ERR_KAFKA_UNAVAILABLE'));

  const loud = lines.filter((l) => l.level >= WARN);
  const unreachable = loud.filter((l) => /Cannot reach Kafka/.test(l.msg));
  assert.equal(unreachable.length, 1, `said once: ${JSON.stringify(loud, null, 1)}`);
  const [said] = unreachable;
  assert.match(said!.msg, new RegExp(`Cannot reach Kafka at ${nowhere.replaceAll('.', '\\.')} \\(.*ECONNREFUSED`));
  assert.match(said!.msg, /set KAFKA_BROKERS/);
  assert.match(said!.msg, /`npm run dev`/);
  assert.equal(said!.level, WARN, 'Kafka may yet come up: a warning, not an error');
  assert.deepEqual(
    lines.filter((l) => l.level >= ERROR).map((l) => l.msg),
    [],
    'nothing here needs a person beyond the one warning',
  );
  assert.deepEqual(
    lines.filter((l) => l.level > DEBUG && hasStack(l)).map((l) => l.msg),
    [],
    'no stack traces above debug',
  );
  // The request's 503 is one warning line with its reason.
  const answered = loud.filter((l) => l.code === 'GW_ERR_KAFKA_UNAVAILABLE');
  assert.equal(answered.length, 1);
  assert.equal(answered[0]!.level, WARN);
  await gateway.stop();
  gateway = undefined;
});

test('a failure to reach the brokers is said again only after they were reached in between', () => {
  const { lines, logger } = capturingLogger();
  const log = new KafkaLog(logger, ['broker-1:9092', 'broker-2:9092']);
  log.unreachable('Connection to broker-1:9092 failed.');
  log.unreachable('Connection to broker-2:9092 failed.');
  log.unreachable('Cannot connect to any broker.');
  assert.deepEqual(
    lines.filter((l) => l.level >= WARN).map((l) => l.msg.slice(0, 60)),
    ['Cannot reach Kafka at broker-1:9092, broker-2:9092 (Connecti'],
    'said once, however many attempts fail',
  );
  log.reached();
  log.unreachable('Connection error: connect ECONNRESET');
  assert.deepEqual(
    lines.filter((l) => l.level > DEBUG).map((l) => l.msg.slice(0, 26)),
    ['Cannot reach Kafka at brok', 'Kafka is reachable again', 'Cannot reach Kafka at brok'],
  );
});
