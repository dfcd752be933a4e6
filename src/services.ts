/**
 * Builds every long-lived service of one gateway instance from its config,
 * in dependency order, and closes them in reverse. startGateway and the
 * tests share this, so a test app is wired exactly as the real one.
 */
import type { AppServices } from './app.js';
import { AuthService } from './auth/index.js';
import type { Config } from './config.js';
import { createKafkaLayer, type KafkaLayer, type ProduceService, type SubscriptionEngine, type TopicCache } from './kafka/index.js';
import { type Logger, Metrics, withDeadline } from './common/index.js';
import { ConsumerInstances } from './http/index.js';
import { RecordPipeline, type DataFormat } from './records/index.js';
import { SCHEMA_TOPIC, SchemaRegistry } from './schema/index.js';
import { EventStreams } from './sse/index.js';
import { WebSocketGateway } from './ws/index.js';

export interface GatewayServices extends AppServices {
  readonly kafka: KafkaLayer;
  readonly auth: AuthService;
  readonly webSockets: WebSocketGateway;
  readonly events: EventStreams;
  readonly subscriptions: SubscriptionEngine;
  readonly topics: TopicCache;
  readonly produce: ProduceService;
  readonly schemas: SchemaRegistry;
  /** Starts background work (Kafka connection, topic tails); resolves once the essentials are up or retrying. */
  start(): Promise<void>;
  close(): Promise<void>;
}

export function buildServices(config: Config, logger: Logger): GatewayServices {
  const metrics = new Metrics();
  const kafka = createKafkaLayer(config, logger);
  const { metadata, subscriptions, produce } = kafka;
  const topicAdmin = kafka.admin;
  const topics = metadata.topicCache;
  const auth = new AuthService(config.auth);
  const schemaTable = kafka.table(SCHEMA_TOPIC, logger.child({ component: 'schemas' }));
  const schemas = new SchemaRegistry(schemaTable, logger.child({ component: 'schemas' }), config.produce.timeoutMs);
  const pipeline = new RecordPipeline({ produce, schemas, timeoutMs: config.produce.timeoutMs, metrics });
  const consumerInstances = new ConsumerInstances({
    engine: subscriptions,
    config: config.consumers,
    logger: logger.child({ component: 'consumer-instances' }),
    topicNames: async () => (await metadata.topics()).map((t) => t.name),
  });
  const webSockets = new WebSocketGateway({
    config,
    logger,
    auth,
    subscriptions,
    shareGroups: kafka.shareGroups,
    // Existence only, from the topic cache: a subscription needs no offsets or configs to start.
    requireTopic: (topic) => metadata.requireTopic(topic),
    // The frame schema allows only the data formats; the pipeline is the same one the HTTP routes use.
    produce: (topic, records, formats) =>
      pipeline.produceBatch(topic, records, { key: (formats.keyFormat ?? 'json') as DataFormat, value: (formats.valueFormat ?? 'json') as DataFormat }),
  });
  // Event streams are held to the same memory bound per client as WebSocket connections.
  const events = new EventStreams({
    engine: subscriptions,
    logger: logger.child({ component: 'events' }),
    maxBufferedBytes: config.ws.maxBufferedBytes,
    keepaliveMs: config.sse.keepaliveMs,
    maxStreams: config.sse.maxStreams,
  });
  metrics.observeSubscriptions(() => {
    const { connections, bufferedBytes } = webSockets.stats();
    const streams = events.stats();
    return { connections, bufferedBytes, eventStreams: streams.streams, eventStreamBytes: streams.bufferedBytes, ...subscriptions.stats() };
  });
  return {
    config,
    logger,
    metrics,
    kafka,
    auth,
    webSockets,
    events,
    subscriptions,
    metadata,
    shareGroups: kafka.shareGroups,
    sharePulls: kafka.sharePulls,
    topicAdmin,
    topics,
    produce,
    pipeline,
    schemas,
    consumerInstances,
    schemaInfo: (topic) => {
      const stored = schemas.get(topic);
      return stored && { version: stored.version };
    },
    readiness: () => kafka.readiness(),
    async start() {
      // The schema table follows its topic once Kafka is reachable.
      void kafka.connect().then(() => schemas.start(), () => undefined);
      const { preloadDir } = config.schemas;
      if (preloadDir) {
        void schemas.preload(preloadDir).catch((error: unknown) => logger.error({ err: error, dir: preloadDir }, 'cannot preload schemas'));
      }
      // A broker that is down must not hold up start-up (the gateway serves
      // /healthz and a 503 /readyz meanwhile); refused credentials answer
      // fast and stop the process.
      const bound = Math.max(config.kafka.connectionTimeoutMs, 5000);
      await withDeadline(kafka.firstAttempt(), bound, () => undefined);
    },
    async close() {
      // Each close is idempotent; a gateway's stop has usually closed these three already.
      await webSockets.close();
      // Streams end (with their last events written) before the engine under them closes in kafka.close().
      await events.close();
      await consumerInstances.close();
      await schemas.stop();
      await kafka.close();
    },
  };
}
