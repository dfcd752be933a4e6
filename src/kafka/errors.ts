import kafkajs from 'kafkajs';
import { GatewayError } from '../errors.js';

// kafkajs is CommonJS and spreads its error classes into its exports, which
// Node's ESM loader cannot see as named exports: take them from the default.
const {
  KafkaJSBrokerNotFound,
  KafkaJSConnectionError,
  KafkaJSError,
  KafkaJSGroupCoordinatorNotFound,
  KafkaJSLockTimeout,
  KafkaJSNumberOfRetriesExceeded,
  KafkaJSProtocolError,
  KafkaJSRequestTimeoutError,
  KafkaJSSASLAuthenticationError,
  KafkaJSTimeout,
} = kafkajs;

/**
 * Maps a kafkajs failure onto the gateway's error table by its class and
 * protocol error type, never by message text. Anything unrecognised stays
 * an internal error so its details do not reach the client.
 */
export function fromKafkaError(error: unknown, context: { topic?: string } = {}): GatewayError {
  if (error instanceof GatewayError) return error;
  const cause = error;
  if (error instanceof KafkaJSProtocolError) {
    switch (error.type) {
      case 'UNKNOWN_TOPIC_OR_PARTITION':
        return new GatewayError('GW_ERR_TOPIC_NOT_FOUND', `Topic ${JSON.stringify(context.topic ?? '')} does not exist.`, { cause });
      case 'INVALID_TOPIC_EXCEPTION':
        return new GatewayError('GW_ERR_INVALID_TOPIC', `Topic name ${JSON.stringify(context.topic ?? '')} is not valid.`, { cause });
      case 'MESSAGE_TOO_LARGE':
      case 'RECORD_LIST_TOO_LARGE':
        return new GatewayError('GW_ERR_RECORD_TOO_LARGE', 'The broker refused the records as larger than the topic accepts (max.message.bytes).', { cause });
      case 'INVALID_TIMESTAMP':
        return new GatewayError('GW_ERR_VALIDATION', "The broker refused a record's timestamp as too far from its clock (the topic's message.timestamp.before.max.ms and message.timestamp.after.max.ms); nothing of this request was produced.", {
          cause,
          extensions: { kafkaError: error.type },
        });
      case 'CORRUPT_MESSAGE':
      case 'INVALID_RECORD':
        return new GatewayError('GW_ERR_BAD_REQUEST', `The broker refused the records as invalid (${error.type}); nothing of this request was produced.`, {
          cause,
          extensions: { kafkaError: error.type },
        });
      case 'TOPIC_AUTHORIZATION_FAILED':
      case 'GROUP_AUTHORIZATION_FAILED':
      case 'CLUSTER_AUTHORIZATION_FAILED':
        return new GatewayError('GW_ERR_FORBIDDEN', 'The broker refused the gateway access to this resource.', { cause });
      default:
        break;
    }
  }
  if (isUnavailable(error)) {
    return new GatewayError('GW_ERR_KAFKA_UNAVAILABLE', 'Kafka is not reachable right now; retry shortly.', { cause, retryAfterSeconds: 1 });
  }
  return new GatewayError('GW_ERR_INTERNAL', 'The gateway failed to handle this request; the failure is logged.', { cause });
}

const UNAVAILABLE_CLASSES = [
  KafkaJSConnectionError,
  KafkaJSRequestTimeoutError,
  KafkaJSBrokerNotFound,
  KafkaJSLockTimeout,
  KafkaJSTimeout,
  KafkaJSNumberOfRetriesExceeded,
  // kafkajs gives up on this at once, but it is what a group sees while its coordinator restarts or moves.
  KafkaJSGroupCoordinatorNotFound,
];

/** The broker is down, unreachable or slow: a later retry may succeed. */
export function isUnavailable(error: unknown): boolean {
  if (!(error instanceof KafkaJSError) || error instanceof KafkaJSSASLAuthenticationError) return false;
  if (error.retriable || UNAVAILABLE_CLASSES.some((cls) => error instanceof cls)) return true;
  // kafkajs wraps the last failure when it gives up retrying.
  const { originalError, cause } = error as { originalError?: unknown; cause?: unknown };
  return [originalError, cause].some((inner) => inner !== error && inner instanceof KafkaJSError && isUnavailable(inner));
}

/** The broker refused the gateway's credentials: no retry will help. */
export function isAuthenticationFailure(error: unknown): boolean {
  if (error instanceof KafkaJSSASLAuthenticationError) return true;
  return error instanceof KafkaJSProtocolError && ['SASL_AUTHENTICATION_FAILED', 'ILLEGAL_SASL_STATE', 'UNSUPPORTED_SASL_MECHANISM'].includes(error.type);
}
