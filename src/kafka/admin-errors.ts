import kafkajs from 'kafkajs';
import { GatewayError } from '../errors.js';
import { fromKafkaError } from './errors.js';

// kafkajs is CommonJS: its error classes come from the default export.
const { KafkaJSProtocolError } = kafkajs;

/** Protocol errors an admin request can meet, by kafkajs error type: the broker refused what was asked. */
const REFUSALS: Readonly<Record<string, 'GW_ERR_VALIDATION' | 'GW_ERR_INVALID_TOPIC' | 'GW_ERR_CONFLICT' | 'GW_ERR_FORBIDDEN'>> = {
  INVALID_PARTITIONS: 'GW_ERR_VALIDATION',
  INVALID_REPLICATION_FACTOR: 'GW_ERR_VALIDATION',
  INVALID_REPLICA_ASSIGNMENT: 'GW_ERR_VALIDATION',
  INVALID_CONFIG: 'GW_ERR_VALIDATION',
  INVALID_REQUEST: 'GW_ERR_VALIDATION',
  POLICY_VIOLATION: 'GW_ERR_VALIDATION',
  INVALID_TOPIC_EXCEPTION: 'GW_ERR_INVALID_TOPIC',
  TOPIC_ALREADY_EXISTS: 'GW_ERR_CONFLICT',
  TOPIC_DELETION_DISABLED: 'GW_ERR_FORBIDDEN',
};

/**
 * Maps a failed admin or metadata request onto the error table. A broker's
 * refusal carries its reason (the protocol error's description and type) so
 * the caller learns what to change; everything else goes through the
 * gateway's general Kafka mapping. Classified by type, never by text.
 */
export function fromAdminError(error: unknown, context: { topic?: string; group?: string } = {}): GatewayError {
  if (error instanceof GatewayError) return error;
  // Topic creation wraps each topic's failure in an aggregate.
  const inner = (error as { errors?: unknown[] } | undefined)?.errors?.[0] ?? error;
  if (inner instanceof KafkaJSProtocolError) {
    const code = REFUSALS[inner.type];
    if (code) {
      const subject = context.topic === undefined ? 'the request' : `topic ${JSON.stringify(context.topic)}`;
      return new GatewayError(code, `Kafka refused ${subject}: ${inner.message} (${inner.type}).`, {
        cause: error,
        extensions: { kafkaError: inner.type },
      });
    }
    if (inner.type === 'GROUP_ID_NOT_FOUND' && context.group !== undefined) {
      return new GatewayError('GW_ERR_GROUP_NOT_FOUND', `Consumer group ${JSON.stringify(context.group)} does not exist.`, { cause: error });
    }
  }
  return fromKafkaError(inner, context);
}
