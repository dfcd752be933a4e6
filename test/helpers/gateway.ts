import { createApp, type GatewayApp } from '../../src/app.js';
import type { Config } from '../../src/config.js';
import { KafkaConnection } from '../../src/kafka/index.js';
import { quietLogger, testConfig } from './env.js';

export interface TestGateway extends GatewayApp {
  readonly config: Config;
  readonly kafka: KafkaConnection;
  close(): Promise<void>;
}

/** An app wired to a real broker, as startGateway wires it, without listening: supertest drives it. */
export async function testGateway(overrides: Record<string, string> = {}, brokers?: string): Promise<TestGateway> {
  const config = testConfig(overrides, brokers);
  const logger = quietLogger();
  const kafka = new KafkaConnection(config, logger);
  await kafka.connect();
  const gateway = createApp({ config, logger, readiness: () => kafka.readiness() });
  return { ...gateway, config, kafka, close: () => kafka.close() };
}
