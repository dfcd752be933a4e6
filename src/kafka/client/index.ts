/**
 * Plumbing every Kafka client of the gateway shares: client options built
 * from the config (TLS, SASL, the codecs the client lacks), the client's
 * failures mapped onto the gateway's error table, what the gateway
 * logs about Kafka, and answers mended before the client decodes them. Used only inside src/kafka.
 */
export { clientOptions } from './client-options.js';
export { MEMBERSHIP_LOST, commitRefusal, describeKafkaError, fromKafkaError, guardConnections, isAuthenticationFailure, isTransient, kafkaErrorCodes, protocolErrorIds } from './kafka-errors.js';
export { KafkaLog, reasonOf } from './log-policy.js';
export { decodes, mendedApi } from './mended-answers.js';
