/**
 * Confluent REST Proxy v2, side by side with v1: its wire conventions
 * (media types, negotiation, `{error_code, message}` errors), the produce,
 * metadata and consumer handlers by operationId, and the consumer
 * instances those handlers hold between requests.
 */
export { ConsumerInstances } from './consumer-instances.js';
export { confluentConsumerHandlers } from './consumers.js';
export { checkV2Accept, isV2Path, sendV2Error } from './conventions.js';
export { confluentMetadataHandlers } from './metadata.js';
export { confluentProduceHandlers } from './produce.js';
