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
import { RecordPipeline, needsSchemas, resolveSchemas, type DataFormat } from './records/index.js';
import { ExternalRegistry, SCHEMA_TOPIC, SchemaRegistry, SubjectRegistry, WireDecoder, type SchemaSource } from './schema/index.js';
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
  readonly subjects: SubjectRegistry;
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
  const subjects = new SubjectRegistry(schemaTable, logger.child({ component: 'schema-registry' }), config.produce.timeoutMs);
  schemas.followRegistry((entry) => subjects.apply(entry));
  schemas.onStored((topic, schema) => subjects.carryOver(topic, schema));
  // A registry elsewhere takes over the registry formats; the gateway's own keeps the topic schemas' subjects.
  const schemaSource: SchemaSource = config.schemas.registry ? new ExternalRegistry(config.schemas.registry, logger.child({ component: 'schema-registry-client' })) : subjects;
  const wire = new WireDecoder(schemaSource);
  const pipeline = new RecordPipeline({ produce, schemas, timeoutMs: config.produce.timeoutMs, metrics });
  const consumerInstances = new ConsumerInstances({
    engine: subscriptions,
    config: config.consumers,
    logger: logger.child({ component: 'consumer-instances' }),
    topicNames: async () => (await metadata.topics()).map((t) => t.name),
    wire,
  });
  const webSockets = new WebSocketGateway({
    config,
    logger,
    auth,
    subscriptions,
    wire,
    shareGroups: kafka.shareGroups,
    // Existence only, from the topic cache: a subscription needs no offsets or configs to start.
    requireTopic: (topic) => metadata.requireTopic(topic),
    // The frame schema allows only the data formats; the pipeline is the same one the HTTP routes use.
    produce: async (topic, records, frame) => {
      const formats = { key: (frame.keyFormat ?? 'json') as DataFormat, value: (frame.valueFormat ?? 'json') as DataFormat };
      const choices = {
        key: { id: frame.keySchemaId, subject: frame.keySubject, version: frame.keySchemaVersion },
        value: { id: frame.valueSchemaId, subject: frame.valueSubject, version: frame.valueSchemaVersion },
        strategy: config.schemas.subjectStrategy,
      };
      // The topic name is checked before any schema is looked up for it.
      if (needsSchemas(formats, choices)) pipeline.checkTopic(topic);
      return pipeline.produceBatch(topic, records, needsSchemas(formats, choices) ? await resolveSchemas(schemaSource, topic, formats, choices) : formats);
    },
  });
  // Event streams are held to the same memory bound per client as WebSocket connections.
  const events = new EventStreams({
    engine: subscriptions,
    logger: logger.child({ component: 'events' }),
    maxBufferedBytes: config.ws.maxBufferedBytes,
    keepaliveMs: config.sse.keepaliveMs,
    maxStreams: config.sse.maxStreams,
    wire,
  });
  metrics.observeSubscriptions(() => {
    const { connections, bufferedBytes } = webSockets.stats();
    const streams = events.stats();
    const instances = consumerInstances.stats();
    return {
      connections,
      bufferedBytes,
      eventStreams: streams.streams,
      eventStreamBytes: streams.bufferedBytes,
      consumerInstances: instances.instances,
      consumerInstanceBytes: instances.bufferedBytes,
      ...subscriptions.stats(),
    };
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
    groupAdmin: kafka.groupAdmin,
    topics,
    produce,
    pipeline,
    schemas,
    subjects,
    schemaSource,
    wire,
    consumerInstances,
    schemaInfo: (topic) => {
      const stored = schemas.get(topic);
      return stored && { version: stored.version };
    },
    readiness: () => kafka.readiness(),
    async start() {
      // The schema table follows its topic once Kafka is reachable.
      void kafka.connect().then(() => schemas.start(), () => undefined);
      // Topic schemas stored before the registry existed (or while it was away) become subject versions; a schema already there is left as it is.
      void schemas
        .ready()
        .then(async () => {
          for (const topic of schemas.topics()) {
            await subjects.carryOver(topic, schemas.get(topic)!.schema).catch((error: unknown) => logger.error({ err: error, topic }, 'cannot carry the topic schema over to the schema registry'));
          }
        })
        .catch((error: unknown) => logger.error({ err: error }, 'cannot carry the topic schemas over to the schema registry'));
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
