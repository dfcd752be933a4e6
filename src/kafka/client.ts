import { Kafka, logLevel, type KafkaConfig, type LogEntry, type SASLOptions } from 'kafkajs';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { registerCompressionCodecs } from './codecs.js';

const LEVEL_NAMES: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

function sasl(config: Config['kafka']): SASLOptions | undefined {
  if (!config.sasl) return undefined;
  const { mechanism, username, password } = config.sasl;
  return { mechanism, username, password } as SASLOptions;
}

/**
 * One kafkajs client built from the gateway's config, with kafkajs's own
 * logging sent through ours. `retries` is lower for health probes, which
 * must answer quickly rather than wait out a broker outage.
 */
export function createKafka(config: Config['kafka'], logger: Logger, overrides: Partial<KafkaConfig> = {}): Kafka {
  registerCompressionCodecs();
  const kafkaLogger = logger.child({ component: 'kafkajs' });
  return new Kafka({
    clientId: config.clientId,
    brokers: [...config.brokers],
    connectionTimeout: config.connectionTimeoutMs,
    requestTimeout: config.requestTimeoutMs,
    ssl: config.tls ? { ca: config.tls.ca, cert: config.tls.cert, key: config.tls.key, rejectUnauthorized: config.tls.rejectUnauthorized } : false,
    sasl: sasl(config),
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ level, log }: LogEntry) => {
        const { message, ...rest } = log;
        kafkaLogger[LEVEL_NAMES[level] ?? 'info']({ ...rest, logger: undefined, timestamp: undefined }, message);
      },
    ...overrides,
  });
}
