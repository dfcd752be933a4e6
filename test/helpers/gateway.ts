import { createApp, type GatewayApp } from '../../src/app.js';
import { buildServices, type GatewayServices } from '../../src/services.js';
import { quietLogger, testConfig } from './env.js';

export interface TestGateway extends GatewayApp {
  readonly services: GatewayServices;
  close(): Promise<void>;
}

/**
 * An app wired to a real broker exactly as startGateway wires it, without
 * listening (supertest drives it). Waits until Kafka is connected unless
 * told not to.
 * `overrides` are environment variable names, as in production.
 */
export async function testGateway(
  overrides: Record<string, string> = {},
  brokers?: string,
  { waitForKafka = true } = {},
): Promise<TestGateway> {
  const services = buildServices(testConfig(overrides, brokers), quietLogger());
  await services.start();
  if (waitForKafka) await services.kafka.connect();
  const gateway = createApp(services);
  return { ...gateway, services, close: () => services.close() };
}
