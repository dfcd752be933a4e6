/**
 * Failures of the Kafka client (@platformatic/kafka) onto the gateway's
 * error table, by the client's error classes and Kafka's protocol error
 * names, never by message text. Anything unrecognised stays an internal
 * error so its details do not reach the client.
 */
import { AuthenticationError, GenericError, MultipleErrors, NetworkError, UserError, protocolErrorsCodesById, type Base } from '@platformatic/kafka';
import { GatewayError, registerFailureReader, type ErrorCode } from '../../common/index.js';

/** Kafka's numeric error codes by their names in the protocol. */
export const kafkaErrorCodes = new Map<number, string>(Object.entries(protocolErrorsCodesById).map(([code, name]) => [Number(code), name]));

export function describeKafkaError(code: number): string {
  return kafkaErrorCodes.get(code) ?? `error code ${code}`;
}

/** The Kafka protocol error names anywhere in a client error, aggregates and causes included. */
export function protocolErrorIds(error: unknown): string[] {
  const ids: string[] = [];
  const visit = (e: unknown, depth: number) => {
    if (!(e instanceof Error) || depth > 10) return;
    const id = (e as { apiId?: unknown }).apiId;
    if (typeof id === 'string') ids.push(id);
    if (MultipleErrors.isMultipleErrors(e)) for (const inner of (e as MultipleErrors).errors) visit(inner, depth + 1);
    visit((e as { cause?: unknown }).cause, depth + 1);
  };
  visit(error, 0);
  return ids;
}

/** The first message the broker itself gave with an error, anywhere in a client error (the client wraps its answers in aggregates). */
export function serverErrorMessage(error: unknown): string | undefined {
  const visit = (e: unknown, depth: number): string | undefined => {
    if (!(e instanceof Error) || depth > 10) return undefined;
    const message = (e as { serverErrorMessage?: unknown }).serverErrorMessage;
    if (typeof message === 'string' && message !== '') return message;
    if (MultipleErrors.isMultipleErrors(e)) {
      for (const inner of (e as MultipleErrors).errors) {
        const found = visit(inner, depth + 1);
        if (found) return found;
      }
    }
    return visit((e as { cause?: unknown }).cause, depth + 1);
  };
  return visit(error, 0);
}

/**
 * The client's metadata lookup turns Kafka's UNKNOWN_TOPIC_OR_PARTITION
 * into a UserError; it raises no other UserError for a well-formed lookup.
 */
export function isUnknownTopic(error: unknown): boolean {
  return error instanceof UserError || (error as { unknownTopic?: unknown } | undefined)?.unknownTopic === true || protocolErrorIds(error).some((id) => id === 'UNKNOWN_TOPIC_OR_PARTITION' || id === 'UNKNOWN_TOPIC_ID');
}

/** The broker refused the gateway's credentials (anywhere in a chain of failures): no retry will help. */
export function isAuthenticationFailure(error: unknown): boolean {
  const visit = (e: unknown, depth: number): boolean => {
    if (!(e instanceof Error) || depth > 10) return false;
    if (e instanceof AuthenticationError) return true;
    const id = (e as { apiId?: unknown }).apiId;
    if (id === 'SASL_AUTHENTICATION_FAILED' || id === 'ILLEGAL_SASL_STATE' || id === 'UNSUPPORTED_SASL_MECHANISM') return true;
    if (MultipleErrors.isMultipleErrors(e) && (e as MultipleErrors).errors.some((inner) => visit(inner, depth + 1))) return true;
    return visit((e as { cause?: unknown }).cause, depth + 1);
  };
  return visit(error, 0);
}

/** The broker is down, unreachable, moving a leader or coordinator, or slow: a later retry may succeed. */
export function isTransient(error: unknown): boolean {
  if (isAuthenticationFailure(error)) return false;
  if (error instanceof NetworkError) return true;
  // The gateway's own requests (metadata/wire-requests.ts) mark a cluster caught mid-move so: no leader yet, a leader not yet listed.
  if ((error as { canRetry?: unknown } | undefined)?.canRetry === true) return true;
  if (!(error instanceof Error) || !GenericError.isGenericError(error)) return false;
  const generic = error as GenericError;
  return generic.findBy('canRetry', false) === null || generic.findBy('code', NetworkError.code) !== null;
}

/**
 * Kafka answered, but with a cluster in motion: a leader or a coordinator
 * moving, a group loading. The same request succeeds once it settles, so
 * these are 503 with Retry-After, whatever else the client's error says.
 */
const CLUSTER_MOVING = new Set([
  'NOT_COORDINATOR',
  'COORDINATOR_NOT_AVAILABLE',
  'COORDINATOR_LOAD_IN_PROGRESS',
  'NOT_LEADER_OR_FOLLOWER',
  'LEADER_NOT_AVAILABLE',
  'NOT_ENOUGH_REPLICAS',
  'NOT_ENOUGH_REPLICAS_AFTER_APPEND',
  'REQUEST_TIMED_OUT',
  'NETWORK_EXCEPTION',
  'REBALANCE_IN_PROGRESS',
  'FENCED_LEADER_EPOCH',
  'UNKNOWN_LEADER_EPOCH',
  'KAFKA_STORAGE_ERROR',
]);

/** Kafka's answers to a group member whose membership or generation is not current any more (a rebalance passed it by). */
export const MEMBERSHIP_LOST = new Set(['ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID', 'FENCED_INSTANCE_ID', 'STALE_MEMBER_EPOCH', 'FENCED_MEMBER_EPOCH', 'REBALANCE_IN_PROGRESS']);

/**
 * A commit the group refused, as the client reads it: a 409 where a rebalance passed the member by (the group keeps
 * its last commit, and whichever member holds the partition next reads on from there; not the gateway's failure, and
 * not one a retry of the same ack can fix), else what the failure itself means.
 */
export function commitRefusal(error: unknown, groupId: string): GatewayError {
  const lost = protocolErrorIds(error).find((id) => MEMBERSHIP_LOST.has(id));
  if (!lost) return fromKafkaError(error, { group: groupId });
  return new GatewayError(
    'GW_ERR_CONFLICT',
    `Group ${JSON.stringify(groupId)} did not take the commit from this member (${lost}): a rebalance passed it by; nothing was committed, and records after the group's last commit are delivered again to whichever member holds their partition.`,
    { cause: error, extensions: { kafkaError: lost } },
  );
}

/** The gateway's name for what Kafka refused, where a request must change to succeed. */
const REFUSALS: Readonly<Record<string, ErrorCode>> = {
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

export function fromKafkaError(error: unknown, context: { topic?: string; group?: string } = {}): GatewayError {
  if (error instanceof GatewayError) return error;
  const cause = error;
  const ids = protocolErrorIds(error);
  const topic = JSON.stringify(context.topic ?? '');
  if (ids.some((id) => id.endsWith('_AUTHORIZATION_FAILED'))) {
    return new GatewayError('GW_ERR_FORBIDDEN', 'The broker refused the gateway access to this resource.', { cause });
  }
  if (isUnknownTopic(error)) return new GatewayError('GW_ERR_TOPIC_NOT_FOUND', `Topic ${topic} does not exist.`, { cause });
  if (ids.includes('GROUP_ID_NOT_FOUND') && context.group !== undefined) {
    return new GatewayError('GW_ERR_GROUP_NOT_FOUND', `Consumer group ${JSON.stringify(context.group)} does not exist.`, { cause });
  }
  if (ids.includes('MESSAGE_TOO_LARGE') || ids.includes('RECORD_LIST_TOO_LARGE')) {
    return new GatewayError('GW_ERR_RECORD_TOO_LARGE', 'The broker refused the records as larger than the topic accepts (max.message.bytes).', { cause });
  }
  if (ids.includes('INCONSISTENT_GROUP_PROTOCOL')) {
    return new GatewayError('GW_ERR_CONFLICT', `Group ${JSON.stringify(context.group ?? '')} has members that do not offer the roundrobin assignor the gateway uses; see docs/websocket.md.`, {
      cause,
    });
  }
  const refused = ids.find((id) => REFUSALS[id] !== undefined);
  if (refused) {
    const subject = context.topic === undefined ? 'the request' : `topic ${topic}`;
    const message = serverErrorMessage(error);
    return new GatewayError(REFUSALS[refused]!, `Kafka refused ${subject}: ${message ?? refused} (${refused}).`, { cause, extensions: { kafkaError: refused } });
  }
  const moving = ids.find((id) => CLUSTER_MOVING.has(id));
  if (moving) {
    return new GatewayError('GW_ERR_KAFKA_UNAVAILABLE', `Kafka is moving a leader or a coordinator (${moving}); retry shortly.`, { cause, retryAfterSeconds: 1, extensions: { kafkaError: moving } });
  }
  const answered = ids[0];
  if (answered !== undefined) {
    // Kafka answered, with an error this table does not name: say what it said, rather than that it is unreachable.
    const message = serverErrorMessage(error);
    const subject = context.topic === undefined ? '' : ` for topic ${topic}`;
    return new GatewayError('GW_ERR_KAFKA_UNAVAILABLE', `Kafka answered ${answered}${subject}${message ? `: ${message}` : ''}; retry shortly.`, {
      cause,
      retryAfterSeconds: 1,
      extensions: { kafkaError: answered },
    });
  }
  if (isTransient(error)) return new GatewayError('GW_ERR_KAFKA_UNAVAILABLE', 'Kafka is not reachable right now; retry shortly.', { cause, retryAfterSeconds: 1 });
  return new GatewayError('GW_ERR_INTERNAL', 'The gateway failed to handle this request; the failure is logged.', { cause });
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

// A failure of the client that reaches an edge without passing through fromKafkaError is still read as Kafka's.
registerFailureReader((error) => {
  const read = fromKafkaError(error);
  return read.code === 'GW_ERR_INTERNAL' ? undefined : read;
});
