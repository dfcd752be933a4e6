/**
 * Builds every long-lived service of one gateway instance from its config,
 * in dependency order, and closes them in reverse. startGateway and the
 * tests share this, so a test app is wired exactly as the real one.
 */
import type { AppServices } from './app.js';
import { AuthService } from './auth/index.js';
import type { Config } from './config.js';
import { KafkaConnection, MetadataService, SubscriptionFactory, TopicAdmin } from './kafka/index.js';
import type { Logger } from './logger.js';
import { Metrics } from './metrics.js';
import { WebSocketGateway } from './ws/index.js';

export interface GatewayServices extends AppServices {
  readonly kafka: KafkaConnection;
  readonly auth: AuthService;
  readonly webSockets: WebSocketGateway;
  /** Starts background work (Kafka connection, topic tails); resolves once the essentials are up or retrying. */
  start(): Promise<void>;
  close(): Promise<void>;
}

export function buildServices(config: Config, logger: Logger): GatewayServices {
  const metrics = new Metrics();
  const kafka = new KafkaConnection(config, logger);
  const metadata = new MetadataService(kafka.admin, { cacheTtlMs: config.metadata.cacheTtlMs, timeoutMs: config.metadata.timeoutMs });
  const topicAdmin = new TopicAdmin(kafka.admin, metadata);
  const auth = new AuthService(config.auth);
  const subscriptions = new SubscriptionFactory(
    kafka.kafka,
    kafka.admin,
    {
      sessionTimeoutMs: config.ws.sessionTimeoutMs,
      heartbeatIntervalMs: Math.max(100, Math.floor(config.ws.sessionTimeoutMs / 10)),
      maxWaitMs: config.ws.fetchMaxWaitMs,
      maxBytesPerPartition: Math.min(1024 * 1024, Math.max(64 * 1024, Math.floor(config.ws.maxBufferedBytes / 4))),
    },
    logger,
  );
  const webSockets = new WebSocketGateway({
    config,
    logger,
    auth,
    subscriptions,
    requireTopic: async (topic) => {
      await metadata.topic(topic);
    },
  });
  return {
    config,
    logger,
    metrics,
    kafka,
    auth,
    webSockets,
    metadata,
    topicAdmin,
    readiness: () => kafka.readiness(),
    async start() {
      // A broker that is down must not hold up start-up (the gateway serves
      // /healthz and a 503 /readyz meanwhile); refused credentials answer
      // fast and stop the process.
      const bound = Math.max(config.kafka.connectionTimeoutMs, 5000);
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([kafka.firstAttempt(), new Promise<void>((res) => (timer = setTimeout(res, bound)))]);
      clearTimeout(timer);
    },
    async close() {
      await webSockets.close();
      await kafka.close();
    },
  };
}
