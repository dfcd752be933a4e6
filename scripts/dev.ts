/**
 * `npm run dev`: a local Kafka broker (KRaft, from the Maven jars) and the
 * gateway against it, in one process. Ctrl-C stops both. Set KAFKA_BROKERS
 * to use a broker you already run instead.
 */
import { startBroker, type Broker } from '../kafka/broker.js';
import { ConfigError, loadConfig } from '../src/config.js';
import { startGateway } from '../src/gateway.js';
import { createLogger } from '../src/logger.js';

let broker: Broker | undefined;
const env = { ...process.env };
if (!env.KAFKA_BROKERS) {
  process.stdout.write('Starting a local Kafka broker...\n');
  broker = await startBroker({ port: env.KAFKA_PORT ? Number(env.KAFKA_PORT) : undefined });
  env.KAFKA_BROKERS = broker.brokers;
}

try {
  const config = loadConfig(env);
  const gateway = await startGateway(config, createLogger(config.logLevel));
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
  const stop = () => {
    void gateway
      .stop()
      .then(() => broker?.stop())
      .then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
} catch (error) {
  await broker?.stop();
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  }
  throw error;
}
