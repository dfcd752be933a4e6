/**
 * What every layer may use and that belongs to none: the one error table
 * and its field errors, logging and metrics, deadlines, the names Kafka and
 * the gateway keep for themselves, the one timestamp reading, openapi.yaml
 * compiled once (ajv), and where the project's files are. Imports nothing
 * of the gateway but the config's types.
 */
export { withDeadline } from './deadline.js';
export {
  ERRORS,
  GatewayError,
  PROBLEM_CONTENT_TYPE,
  isGatewayError,
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
export { SCHEMA_TOPIC, isInternalGroup, isInternalTopic, schemaReaderGroupPrefix } from './internal-names.js';
export { createLogger, logAnsweredFailure, type Logger } from './logger.js';
export { Metrics, type SubscriptionGauges } from './metrics.js';
export { DOCUMENT_ID, OpenApi, anchored, documentAjv, openapi } from './openapi.js';
export { asyncapiPath, openapiPath, projectRoot, publicDir } from './paths.js';
export { MAX_TIMESTAMP_MS, TIMESTAMP_RULE, parseRfc3339, parseTimestamp, parseTimestampText } from './timestamp.js';
