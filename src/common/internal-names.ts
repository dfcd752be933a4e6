/**
 * The topics and consumer groups that Kafka and the gateway keep for
 * themselves, named in this one place. They are never deleted,
 * reconfigured, repartitioned, given schemas or produced to through the
 * gateway, whoever asks (src/auth decides that), and listings show them
 * only on request (src/kafka marks them). A leaf module like errors.ts:
 * every layer may import it.
 */

/** The compacted topic holding every topic's JSON Schema. */
export const SCHEMA_TOPIC = '_gateway_schemas';

/** Kafka's own topics start with `__` (`__consumer_offsets`, `__transaction_state`); the gateway's with `_gateway_`. */
const INTERNAL_TOPIC_PREFIXES = ['__', '_gateway_'] as const;

export function isInternalTopic(topic: string): boolean {
  return INTERNAL_TOPIC_PREFIXES.some((prefix) => topic.startsWith(prefix));
}

/**
 * The group each gateway instance reads the schema topic with:
 * `<client id>-schemas-<uuid>`, one per instance and process start.
 */
export function schemaReaderGroupPrefix(clientId: string): string {
  return `${clientId}-schemas-`;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Whether a consumer group is one the gateway (with this client id) made for itself. */
export function isInternalGroup(groupId: string, clientId: string): boolean {
  const prefix = schemaReaderGroupPrefix(clientId);
  return groupId.startsWith(prefix) && UUID.test(groupId.slice(prefix.length));
}
