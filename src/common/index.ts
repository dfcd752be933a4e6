/**
 * What every layer may use and that belongs to none: the one error table
 * and its field errors, logging and metrics, deadlines, the names Kafka and
 * the gateway keep for themselves and the rules of topic and group names,
 * the one timestamp reading (and instants as query parameters), the one
 * strict UTF-8 decoder, the one spelling of a partition as a map key, the
 * one ajv setup for client input and openapi.yaml compiled with it once,
 * and where the project's files are. Imports nothing of the gateway but the
 * config's types.
 */
export { withDeadline } from './deadline.js';
export {
  ERRORS,
  GatewayError,
  PROBLEM_CONTENT_TYPE,
  isGatewayError,
  registerFailureReader,
  toCloseReason,
  toErrorFrame,
  toGatewayError,
  toProblem,
  type ErrorCode,
  type FieldError,
  type GatewayErrorOptions,
  type Problem,
} from './errors.js';
export { describeFieldErrors, fieldErrors } from './field-errors.js';
export { edgeAjv } from './edge-ajv.js';
export { SCHEMA_TOPIC, isInternalGroup, isInternalTopic, schemaReaderGroupPrefix } from './internal-names.js';
export { GROUP_NAME_RULE, TOPIC_NAME_RULE, checkTopicName, isValidGroupName, isValidTopicName } from './kafka-names.js';
export { createLogger, logAnsweredFailure, type Logger } from './logger.js';
export { Metrics, type SubscriptionGauges } from './metrics.js';
export { DOCUMENT_ID, OpenApi, anchored, documentAjv, openapi } from './openapi.js';
export { partitionKey, splitPartitionKey } from './partition-key.js';
export { asyncapiPath, openapiPath, projectRoot, publicDir } from './paths.js';
export { MAX_TIMESTAMP_MS, TIMESTAMP_RULE, checkedRfc3339, parseRfc3339, parseTimestamp, parseTimestampText, queryInstant } from './timestamp.js';
export { JsonTextError, decodeUtf8, illFormedPointer, parseJsonText, utf8Text } from './utf8.js';
