/**
 * Failures of @platformatic/kafka onto the gateway's error table, by the
 * client's error classes and Kafka's error codes, never by message text.
 */
import { GenericError, MultipleErrors, NetworkError, UserError, protocolErrorsCodesById, type Base } from '@platformatic/kafka';
import { GatewayError } from '../errors.js';

/** Kafka's numeric error codes by their names in the protocol. */
export const kafkaErrorCodes = new Map<number, string>(Object.entries(protocolErrorsCodesById).map(([code, name]) => [Number(code), name]));

export function describeKafkaError(code: number): string {
  return kafkaErrorCodes.get(code) ?? `error code ${code}`;
}

/** The Kafka protocol error names anywhere in a client error. */
function protocolErrorIds(error: unknown): string[] {
  if (!GenericError.isGenericError(error as Error)) return [];
  const ids: string[] = [];
  const visit = (e: unknown) => {
    const id = (e as { apiId?: unknown }).apiId;
    if (typeof id === 'string') ids.push(id);
    if (MultipleErrors.isMultipleErrors(e as Error)) for (const inner of (e as MultipleErrors).errors) visit(inner);
  };
  visit(error);
  return ids;
}

/**
 * The client's metadata lookup turns Kafka's UNKNOWN_TOPIC_OR_PARTITION
 * into a UserError; it raises no other UserError for a well-formed lookup.
 */
export function isUnknownTopic(error: unknown): boolean {
  return error instanceof UserError || protocolErrorIds(error).some((id) => id === 'UNKNOWN_TOPIC_OR_PARTITION' || id === 'UNKNOWN_TOPIC_ID');
}

/** The broker is down, unreachable, moving a coordinator or slow: a later retry may succeed. */
export function isTransient(error: unknown): boolean {
  if (error instanceof NetworkError) return true;
  if (!GenericError.isGenericError(error as Error)) return false;
  const retriable = (error as GenericError).findBy('canRetry', false) === null;
  return retriable || (error as GenericError).findBy('code', NetworkError.code) !== null;
}

export function fromPlatformaticError(error: unknown, context: { topic?: string; group?: string } = {}): GatewayError {
  if (error instanceof GatewayError) return error;
  const ids = protocolErrorIds(error);
  if (ids.includes('TOPIC_AUTHORIZATION_FAILED') || ids.includes('GROUP_AUTHORIZATION_FAILED')) {
    return new GatewayError('GW_ERR_FORBIDDEN', 'The broker refused the gateway access to this resource.', { cause: error });
  }
  if (isUnknownTopic(error)) {
    return new GatewayError('GW_ERR_TOPIC_NOT_FOUND', `Topic ${JSON.stringify(context.topic ?? '')} does not exist.`, { cause: error });
  }
  if (ids.includes('INCONSISTENT_GROUP_PROTOCOL')) {
    return new GatewayError(
      'GW_ERR_CONFLICT',
      `Group ${JSON.stringify(context.group ?? '')} has members that do not offer the roundrobin assignor the gateway uses; see docs/websocket.md.`,
      { cause: error },
    );
  }
  if (isTransient(error)) {
    return new GatewayError('GW_ERR_KAFKA_UNAVAILABLE', 'Kafka is not reachable right now; retry shortly.', { cause: error, retryAfterSeconds: 1 });
  }
  return new GatewayError('GW_ERR_INTERNAL', 'The gateway failed to handle this request; the failure is logged.', { cause: error });
}

/**
 * A broker connection that fails twice emits 'error' a second time with
 * nobody listening, which Node turns into an uncaught exception. The
 * failure is already reported through the request that used the
 * connection, so a listener that ignores it is all that is missing.
 */
export function guardConnections(client: Base): void {
  client.on('client:broker:connect', (payload: { connection: { on(event: 'error', listener: () => void): unknown } }) => {
    payload.connection.on('error', () => undefined);
  });
}
