import { Kafka, logLevel, type KafkaConfig, type LogEntry, type SASLOptions } from 'kafkajs';
import type { Config } from '../config.js';
import { registerCompressionCodecs } from './codecs.js';
import type { KafkaLog, LibraryLevel } from './log-policy.js';

const LEVEL_NAMES: Record<number, LibraryLevel> = {
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
 * kafkajs's log lines, handed to the gateway's Kafka log policy
 * (src/kafka/log-policy.ts), which decides every level. The only
 * kafkajs-specific knowledge here: its Connection logs a socket that could
 * not be opened or was lost as "Connection error: ..." or "Connection
 * timeout", which is a failure to reach the brokers.
 */
export function kafkajsLogEntry(log: KafkaLog, { namespace, level, log: line }: LogEntry): void {
  const { message, logger: _logger, timestamp: _timestamp, ...fields } = line;
  log.library(LEVEL_NAMES[level] ?? 'info', message, { namespace, ...fields });
  if (namespace === 'Connection' && /^Connection (error|timeout)/.test(message)) {
    log.unreachable(message);
  }
}

/**
 * One kafkajs client built from the gateway's config, with kafkajs's own
 * logging sent through the Kafka log policy. `retries` is lower for health
 * probes, which must answer quickly rather than wait out a broker outage.
 */
export function createKafka(config: Config['kafka'], log: KafkaLog, overrides: Partial<KafkaConfig> = {}): Kafka {
  registerCompressionCodecs();
  return new Kafka({
    clientId: config.clientId,
    brokers: [...config.brokers],
    connectionTimeout: config.connectionTimeoutMs,
    requestTimeout: config.requestTimeoutMs,
    ssl: config.tls ? { ca: config.tls.ca, cert: config.tls.cert, key: config.tls.key, rejectUnauthorized: config.tls.rejectUnauthorized } : false,
    sasl: sasl(config),
    // Attempts and retries (everything kafkajs says below WARN) would only be logged at debug, and cost a call each.
    logLevel: logLevel.WARN,
    logCreator: () => (entry: LogEntry) => kafkajsLogEntry(log, entry),
    ...overrides,
  });
}
