/**
 * Builds every long-lived service of one gateway instance from its config,
 * in dependency order, and closes them in reverse. startGateway and the
 * tests share this, so a test app is wired exactly as the real one.
 */
import type { AppServices } from './app.js';
import type { Config } from './config.js';
import { KafkaConnection, MetadataService, TopicAdmin } from './kafka/index.js';
import type { Logger } from './logger.js';
import { Metrics } from './metrics.js';

export interface GatewayServices extends AppServices {
  readonly kafka: KafkaConnection;
  /** Starts background work (Kafka connection, topic tails); resolves once the essentials are up or retrying. */
  start(): Promise<void>;
  close(): Promise<void>;
}

export function buildServices(config: Config, logger: Logger): GatewayServices {
  const metrics = new Metrics();
  const kafka = new KafkaConnection(config, logger);
  const metadata = new MetadataService(kafka.admin, { cacheTtlMs: config.metadata.cacheTtlMs, timeoutMs: config.metadata.timeoutMs });
  const topicAdmin = new TopicAdmin(kafka.admin, metadata);
  return {
    config,
    logger,
    metrics,
    kafka,
    metadata,
    topicAdmin,
    readiness: () => kafka.readiness(),
    async start() {
      void kafka.connect();
    },
    async close() {
      await kafka.close();
    },
  };
}
