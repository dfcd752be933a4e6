/**
 * The naming rules of Kafka's topics and consumer groups, as every edge and
 * the Kafka layer hold clients to them. Confluent v2 instance names follow
 * the group rule too. (Names Kafka and the gateway keep for themselves are
 * in internal-names.ts.)
 */
import { GatewayError } from './errors.js';

/** What a client is told when its topic name is refused. */
export const TOPIC_NAME_RULE = "1 to 249 of a-z, A-Z, 0-9, '.', '_' and '-'";
/** What a client is told when its group (or v2 instance) name is refused. */
export const GROUP_NAME_RULE = "1 to 255 of a-z, A-Z, 0-9, '.', '_' and '-'";

const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;
const GROUP_NAME = /^[a-zA-Z0-9._-]{1,255}$/;

/** Kafka's own rule for topic names. */
export function isValidTopicName(topic: string): boolean {
  return TOPIC_NAME.test(topic) && topic !== '.' && topic !== '..';
}

/** Refuses a topic name Kafka would refuse, with GW_ERR_INVALID_TOPIC; returns it otherwise. */
export function checkTopicName(topic: string): string {
  if (!isValidTopicName(topic)) throw new GatewayError('GW_ERR_INVALID_TOPIC', `Topic name ${JSON.stringify(topic)} is not valid: use ${TOPIC_NAME_RULE}.`);
  return topic;
}

/** The gateway's rule for consumer group ids (openapi.yaml and docs/asyncapi.yaml say the same), and for v2 instance names. */
export function isValidGroupName(name: string): boolean {
  return GROUP_NAME.test(name);
}
