import { loadConfig, type Config } from '../../src/config.js';
import { createLogger, type Logger } from '../../src/common/logger.js';

/** The broker the suite runs against: the one scripts/test.ts started, or KAFKA_BROKERS. */
export function sharedBrokers(): string {
  const brokers = process.env.KAFKA_BROKERS;
  if (!brokers) throw new Error('KAFKA_BROKERS is not set: run the tests with `npm test`, which starts a broker');
  return brokers;
}

/** A config as the process would load it, for the given broker and overrides (env variable names). */
export function testConfig(overrides: Record<string, string> = {}, brokers = sharedBrokers()): Config {
  return loadConfig({ KAFKA_BROKERS: brokers, PORT: '0', LOG_LEVEL: 'silent', KAFKA_CONNECTION_TIMEOUT_MS: '1000', ...overrides });
}

export function quietLogger(): Logger {
  return createLogger(process.env.TEST_LOG_LEVEL === 'debug' ? 'debug' : 'silent');
}

/** Polls until `check` returns a truthy value; fails with the last error after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T | undefined | false>, timeoutMs = 30_000, intervalMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

let counter = 0;
/** A topic or group name no other test uses. */
export function uniqueName(prefix: string): string {
  counter += 1;
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${counter}`;
}
