import { randomUUID } from 'node:crypto';
import { parse as parseQuery } from 'node:querystring';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { AuthService, ConnectionQuota } from './auth/index.js';
import type { Config } from './config.js';
import {
  adminHandlers,
  authorizeOperation,
  checkRequestBody,
  checkV2Accept,
  confluentConsumerHandlers,
  confluentMetadataHandlers,
  confluentProduceHandlers,
  Contract,
  cors,
  dispatch,
  docsHandlers,
  eventHandlers,
  matchOperation,
  metadataHandlers,
  notFound,
  operationOf,
  operationsHandlers,
  pageHandlers,
  problemHandler,
  produceHandlers,
  registryHandlers,
  queueHandlers,
  schemaHandlers,
  securityHeaders,
  websocketInfoHandlers,
  type ConsumerInstances,
  type Handlers,
  type SchemaInfo,
} from './http/index.js';
import type { GroupAdmin, MetadataService, Readiness, ShareGroups, SharePulls, SubscriptionEngine, TopicAdmin } from './kafka/index.js';
import { type Logger, Metrics, openapiPath } from './common/index.js';
import type { RecordPipeline } from './records/index.js';
import type { SchemaRegistry, SchemaSource, SubjectRegistry, WireDecoder } from './schema/index.js';
import type { EventStreams } from './sse/index.js';

/** What the app needs from the outside; tests pass their own. */
export interface AppServices {
  readonly config: Config;
  readonly logger: Logger;
  readonly readiness: () => Promise<Readiness>;
  readonly metrics?: Metrics;
  /** The compiled openapi.yaml; loaded from the file when not given. */
  readonly contract?: Contract;
  readonly auth?: AuthService;
  readonly metadata: MetadataService;
  readonly topicAdmin: TopicAdmin;
  /** Consumer group deletion. */
  readonly groupAdmin: GroupAdmin;
  /** Whether a topic has a JSON Schema and its version; no topic has one when left out. */
  readonly schemaInfo?: SchemaInfo;
  /** The one record pipeline every produce operation (and WebSocket produce frame) goes through. */
  readonly pipeline: RecordPipeline;
  readonly schemas: SchemaRegistry;
  /** The gateway's own schema registry (subjects, versions, ids), served under /schema-registry. */
  readonly subjects: SubjectRegistry;
  /** Where produce requests' registry schemas come from: the registry at SCHEMA_REGISTRY_URL, else the gateway's own. */
  readonly schemaSource?: SchemaSource;
  /** Decodes records in the schema registry wire format for partition pages. */
  readonly wire?: WireDecoder;
  /** Confluent v2 consumer instances held by this process. */
  readonly consumerInstances: ConsumerInstances;
  /** The subscription engine: event streams and partition pages read through it. */
  readonly subscriptions: SubscriptionEngine;
  readonly events: EventStreams;
  /** Share groups (queues) and their HTTP pulls. */
  readonly shareGroups: ShareGroups;
  readonly sharePulls: SharePulls;
}

export interface GatewayApp {
  readonly app: Express;
  readonly metrics: Metrics;
  /** Makes /readyz answer 503 so load balancers drain this instance. */
  beginShutdown(): void;
}

const REQUEST_ID = /^[\w.:-]{1,128}$/;

/**
 * The operation's path in openapi.yaml (e.g. /v1/topics/{topic}), so metrics
 * do not grow a series per topic name; known even for requests refused
 * before any handler ran (bad body, missing credentials).
 */
function routeLabel(res: Response): string {
  return operationOf(res)?.operation.template ?? 'unmatched';
}

/** Builds the express app from injected services; no globals, so tests build as many as they like. */
export function createApp(services: AppServices): GatewayApp {
  const { logger } = services;
  const metrics = services.metrics ?? new Metrics();
  const auth = services.auth ?? new AuthService(services.config.auth);
  let shuttingDown = false;
  // The request line's fields are known and carry no credential (the path without its query): its logger skips the
  // redaction paths, which every field of every line was otherwise run through.
  const requestLog = logger.child({}, { redact: [] });
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  // Node's parser keeps the first 1,000 parameters and drops the rest without a word: a filter of more keys would
  // quietly lose some. The request line's size is bounded by Node's header limit (16 KiB) instead.
  app.set('query parser', (text: string) => parseQuery(text, '&', '=', { maxKeys: 0 }));

  app.use((req: Request, res: Response, next: NextFunction) => {
    const given = req.header('x-request-id');
    const requestId = given && REQUEST_ID.test(given) ? given : randomUUID();
    res.locals.requestId = requestId;
    res.setHeader('X-Request-Id', requestId);
    if (shuttingDown) res.setHeader('Connection', 'close');
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const route = routeLabel(res);
      metrics.httpRequestDuration.observe({ method: req.method, route, status: String(res.statusCode) }, seconds);
      requestLog.info(
        { requestId, method: req.method, path: req.path, route, status: res.statusCode, durationMs: Math.round(seconds * 1e4) / 10 },
        'request',
      );
    });
    next();
  });

  app.use(securityHeaders);
  // Against DNS rebinding: only the host names this gateway serves. Probes may use any name.
  app.use((req: Request, _res: Response, next: NextFunction) => {
    if (req.path !== '/healthz' && req.path !== '/readyz') auth.checkHost(req.headers.host, req.httpVersion);
    next();
  });
  app.use(cors(auth));
  // Every request is matched to its operation in openapi.yaml before any
  // handler: paths the contract does not describe are never served, and
  // each operation's permission is checked in one place.
  const contract = services.contract ?? Contract.load(openapiPath);
  app.use(matchOperation(contract));
  app.use(authorizeOperation(auth));
  app.use(checkRequestBody(services.config.bodyLimitBytes));
  app.use(checkV2Accept(operationOf));

  const { maxStreamsPerAddress: perAddress, maxStreamsPerPrincipal: perPrincipal } = services.config.sse;
  const streamQuota = new ConnectionQuota('event streams', { perAddress, perPrincipal }, {
    perAddress: 'SSE_MAX_STREAMS_PER_ADDRESS',
    perPrincipal: 'SSE_MAX_STREAMS_PER_PRINCIPAL',
  });
  // One handler per operationId of openapi.yaml; the type lists them all, so none can be left out.
  const { metadata, topicAdmin, schemaInfo, pipeline, schemas, subscriptions, events } = services;
  const handlers: Handlers = {
    ...operationsHandlers({ readiness: services.readiness, metrics, shuttingDown: () => shuttingDown, security: services.config.auth }),
    ...docsHandlers({ authRequired: services.config.auth.mode !== 'none' }),
    ...pageHandlers(),
    ...websocketInfoHandlers(),
    ...adminHandlers({ topicAdmin, groupAdmin: services.groupAdmin, schemaInfo, auth }),
    ...metadataHandlers({ metadata, schemaInfo, auth }),
    ...confluentMetadataHandlers({ metadata, auth }),
    ...produceHandlers({ pipeline, bodyLimitBytes: services.config.bodyLimitBytes, schemaSource: services.schemaSource ?? services.subjects, subjectStrategy: services.config.schemas.subjectStrategy }),
    ...eventHandlers({ events, subscriptions, metadata, readTimeoutMs: services.config.metadata.timeoutMs, streamQuota, auth, wire: services.wire }),
    ...confluentProduceHandlers({ pipeline, logger, schemaSource: services.schemaSource ?? services.subjects, subjectStrategy: services.config.schemas.subjectStrategy }),
    ...confluentConsumerHandlers({ instances: services.consumerInstances, auth, config: services.config.consumers }),
    // With topics created on first produce, a schema may come first.
    ...registryHandlers({ subjects: services.subjects, ready: () => services.pipeline.schemasLoaded(), external: services.config.schemas.registry?.url }),
    ...queueHandlers({ shareGroups: services.shareGroups, pulls: services.sharePulls, auth, requireTopic: (topic: string) => metadata.requireTopic(topic) }),
    ...schemaHandlers({ schemas, requireTopic: services.config.produce.autoCreateTopics ? undefined : (topic: string) => metadata.requireTopic(topic) }),
  };
  app.use(dispatch(contract, handlers));

  app.use(notFound);
  app.use(problemHandler(logger));

  return {
    app,
    metrics,
    beginShutdown() {
      shuttingDown = true;
    },
  };
}
