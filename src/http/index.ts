/**
 * The HTTP edge, the only code besides src/app.ts that imports express: the
 * contract read from openapi.yaml (matching, validation, the typed handler
 * map by operationId), problem+json answers, authentication and CORS per
 * operation, answers to requests Node's parser refuses, which upgrade
 * offers are taken, and the handlers: v1/ and v2/ (Confluent REST Proxy
 * v2) side by side, registry/ (the Confluent Schema Registry API), and here those of no API version (health, metrics,
 * the contract documents, the docs UI and the browser console).
 */
export { answerClientError } from './client-error.js';
export { Contract, checkRequestBody, dispatch, matchOperation, operationOf, type Handlers } from './contract.js';
export { docsHandlers } from './docs.js';
export { operationsHandlers } from './operations.js';
export { pageHandlers } from './page.js';
export { notFound, problemHandler } from './problems.js';
export { authorizeOperation, cors, securityHeaders } from './request-auth.js';
export { countAnswers, isWebSocketUpgrade, serveAsHttp } from './upgrade-offers.js';
export { adminHandlers, eventHandlers, metadataHandlers, produceHandlers, queueHandlers, schemaHandlers, websocketInfoHandlers, type SchemaInfo } from './v1/index.js';
export { registryHandlers, REGISTRY_PATH, SCHEMA_REGISTRY_MEDIA_TYPE } from './registry/index.js';
export { ConsumerInstances, checkV2Accept, confluentConsumerHandlers, confluentMetadataHandlers, confluentProduceHandlers } from './v2/index.js';
