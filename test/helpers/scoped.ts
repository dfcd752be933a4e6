/**
 * Gateways and Kafka clients that clean up after themselves: each helper
 * starts or connects one and registers its stop on the scope it is given,
 * as platformatic/kafka's test helpers do, so no test file writes the
 * matching after block by hand.
 *
 * The scope is a test's context (`test('…', async (t) => …)`: stopped when
 * that test ends) or a file-level before hook's (`before(async (t) => …)`:
 * stopped when the file's tests are done). Cleanups registered on one scope
 * run in the order they were registered, and a file-level before hook's run
 * before the file's own `after` blocks: a file whose `after` still talks to
 * its gateway keeps stopping it there.
 */
import type { SuiteContext, TestContext } from 'node:test';
import { startGateway, type RunningGateway } from '../../src/gateway.js';
import type { Logger } from '../../src/common/logger.js';
import { quietLogger, sharedBrokers, testConfig } from './env.js';
import { testGateway, type TestGateway } from './gateway.js';
import { kafkaClient } from './kafka.js';
import type { Admin, Consumer, Producer } from './kafka-client.js';

export type Scope = TestContext | SuiteContext;

/** Runs `cleanup` when the scope ends. A describe block's own context has no end to hook, so it is refused. */
export function onEnd(scope: Scope, cleanup: () => unknown): void {
  if (!('after' in scope)) throw new Error('a cleanup needs a test context or a before hook context, not a describe block');
  scope.after(async () => {
    await cleanup();
  });
}

export interface GatewayOptions {
  /** The brokers the gateway talks to; the suite's broker unless given. */
  readonly brokers?: string;
  readonly logger?: Logger;
}

/** A gateway listening on a free port, as `startGateway` starts one; stopped when the scope ends. `overrides` are environment variable names. */
export async function gatewayFor(scope: Scope, overrides: Record<string, string> = {}, { brokers, logger }: GatewayOptions = {}): Promise<RunningGateway> {
  const gateway = await startGateway(testConfig(overrides, brokers), logger ?? quietLogger());
  onEnd(scope, () => gateway.stop());
  return gateway;
}

/** An app that does not listen (supertest drives it), as `testGateway` builds one; closed when the scope ends. */
export async function appFor(scope: Scope, overrides: Record<string, string> = {}, brokers?: string, options: { waitForKafka?: boolean } = {}): Promise<TestGateway> {
  const gateway = await testGateway(overrides, brokers, options);
  onEnd(scope, () => gateway.close());
  return gateway;
}

/** A connected admin client of the test client (test/helpers/kafka-client.ts); disconnected when the scope ends. */
export async function adminFor(scope: Scope, brokers = sharedBrokers()): Promise<Admin> {
  const admin = kafkaClient(brokers).admin();
  onEnd(scope, () => admin.disconnect());
  await admin.connect();
  return admin;
}

/** A connected producer of the test client; disconnected when the scope ends. */
export async function producerFor(scope: Scope, brokers = sharedBrokers()): Promise<Producer> {
  const producer = kafkaClient(brokers).producer();
  onEnd(scope, () => producer.disconnect());
  await producer.connect();
  return producer;
}

/** A connected consumer of the test client in `groupId`; disconnected when the scope ends. */
export async function consumerFor(scope: Scope, options: Parameters<ReturnType<typeof kafkaClient>['consumer']>[0], brokers = sharedBrokers()): Promise<Consumer> {
  const consumer = kafkaClient(brokers).consumer(options);
  onEnd(scope, () => consumer.disconnect());
  await consumer.connect();
  return consumer;
}
