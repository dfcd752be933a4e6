/**
 * `npm run dev`: a local Kafka broker (KRaft, from the Maven jars) and the
 * gateway against it, in one process. Ctrl-C, SIGTERM or the death of npm
 * stops both, in order, at any moment, start included. If this process is
 * killed outright, the broker's guard takes the broker and its data with it
 * (kafka/broker.ts). Set KAFKA_BROKERS to use a broker you already run
 * instead.
 *
 * package.json runs it with `exec node --import tsx`, so that npm's own
 * process is its parent: npm forwards SIGTERM to it, and its death shows.
 */
import { startBroker, whenParentGone, type Broker } from '../kafka/broker.js';
import { ConfigError, loadConfig } from '../src/config.js';
import { startGateway, type RunningGateway } from '../src/gateway.js';
import { createLogger } from '../src/common/logger.js';

let broker: Broker | undefined;
let gateway: RunningGateway | undefined;
let stopping = false;

/** Stops what has started so far, gateway first so that requests in flight still reach the broker. */
async function stopAll(): Promise<void> {
  await gateway?.stop().catch((error: unknown) => process.stderr.write(`stopping the gateway failed: ${String(error)}\n`));
  await broker?.stop().catch((error: unknown) => process.stderr.write(`stopping the broker failed: ${String(error)}\n`));
}

/** Stops everything once, whatever asked first; the stop is bounded by SHUTDOWN_TIMEOUT_MS. */
function stop(): void {
  if (stopping) return;
  stopping = true;
  process.stdout.write('\nStopping the gateway and the local broker...\n');
  void stopAll().then(() => process.exit(0));
}

// Installed before anything starts, so a stop during the start stops what has started (and
// the broker's guard whatever is still starting). A terminal's Ctrl-C reaches this process
// both from the terminal and forwarded by npm: the second one must not cut the stop short.
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
// `npm run dev` killed outright (SIGKILL) cannot forward anything: we notice it is gone.
whenParentGone(stop);

const env = { ...process.env };
try {
  if (!env.KAFKA_BROKERS) {
    process.stdout.write('Starting a local Kafka broker...\n');
    broker = await startBroker({ port: env.KAFKA_PORT ? Number(env.KAFKA_PORT) : undefined });
    env.KAFKA_BROKERS = broker.brokers;
  }
  const config = loadConfig(env);
  if (!stopping) gateway = await startGateway(config, createLogger(config.logLevel));
  if (gateway && !stopping) {
    process.stdout.write(
      [
        '',
        `Kafka Gateway is running against Kafka at ${config.kafka.brokers.join(',')}`,
        `  Page:       ${gateway.url}/`,
        `  API:        ${gateway.url}/v1   (reference: ${gateway.url}/docs)`,
        `  WebSocket:  ${gateway.url.replace(/^http/, 'ws')}/v1/ws`,
        `  Health:     ${gateway.url}/healthz   ${gateway.url}/readyz`,
        `  Metrics:    ${gateway.url}/metrics`,
        `  Contract:   ${gateway.url}/openapi.yaml`,
        'Press Ctrl-C to stop.',
        '',
      ].join('\n'),
    );
  }
} catch (error) {
  await stopAll();
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  }
  throw error;
}
