/**
 * Builds every long-lived service of one gateway instance from its config,
 * in dependency order, and closes them in reverse. startGateway and the
 * tests share this, so a test app is wired exactly as the real one.
 */
import type { AppServices } from './app.js';
import type { Config } from './config.js';
import { CompactedTopicTable, KafkaConnection, ProduceService, TopicCache } from './kafka/index.js';
import type { Logger } from './logger.js';
import { Metrics } from './metrics.js';
import { SCHEMA_TOPIC, SchemaRegistry } from './schema/index.js';

export interface GatewayServices extends AppServices {
  readonly kafka: KafkaConnection;
  readonly topics: TopicCache;
  readonly produce: ProduceService;
  readonly schemas: SchemaRegistry;
  /** Starts background work (Kafka connection, topic tails); resolves once the essentials are up or retrying. */
  start(): Promise<void>;
  close(): Promise<void>;
}

export function buildServices(config: Config, logger: Logger): GatewayServices {
  const metrics = new Metrics();
  const kafka = new KafkaConnection(config, logger);
  const topics = new TopicCache(kafka.admin, config);
  const produce = new ProduceService(kafka.producer, topics, config.produce, logger.child({ component: 'produce' }));
  const schemaTable = new CompactedTopicTable(kafka.kafka, kafka.admin, kafka.producer, SCHEMA_TOPIC, logger.child({ component: 'schemas' }), `${config.kafka.clientId}-schemas`);
  const schemas = new SchemaRegistry(schemaTable, logger.child({ component: 'schemas' }), config.produce.timeoutMs);
  return {
    config,
    logger,
    metrics,
    kafka,
    topics,
    produce,
    schemas,
    readiness: () => kafka.readiness(),
    async start() {
      // The schema table needs the admin client, which connect() brings up.
      void kafka.connect().then(() => schemas.start());
      const { preloadDir } = config.schemas;
      if (preloadDir) {
        void schemas.preload(preloadDir).catch((error: unknown) => logger.error({ err: error, dir: preloadDir }, 'cannot preload schemas'));
      }
    },
    async close() {
      // Records already accepted are sent and acknowledged before the producer goes.
      await produce.drain();
      await schemas.stop();
      await kafka.close();
    },
  };
}
