import { randomUUID } from 'node:crypto';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { AuthService } from './auth/index.js';
import type { Config } from './config.js';
import type { MetadataService, ProduceService, Readiness, TopicAdmin } from './kafka/index.js';
import type { Logger } from './logger.js';
import { Metrics } from './metrics.js';
import { openapiPath } from './paths.js';
import { authorizeOperation, cors, securityHeaders } from './routes/auth.js';
import { Contract, checkRequestBody, matchOperation, operationOf } from './routes/contract.js';
import { docsRouter } from './routes/docs.js';
import { pageRouter } from './routes/page.js';
import { websocketInfoRouter } from './routes/websocket-info.js';
import { notFound, problemHandler } from './routes/problems.js';
import { confluentRouter } from './routes/confluent-produce.js';
import { operationsRouter } from './routes/operations.js';
import { adminRouter } from './routes/admin.js';
import { confluentMetadataRouter } from './routes/confluent-metadata.js';
import { metadataRouter } from './routes/metadata.js';
import type { SchemaInfo } from './routes/topic-shapes.js';
import { produceRouter } from './routes/produce.js';
import { schemaRouter } from './routes/schemas.js';
import type { SchemaRegistry } from './schema/index.js';

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
  /** Whether a topic has a JSON Schema and its version; no topic has one when left out. */
  readonly schemaInfo?: SchemaInfo;
  /** Produce and schema routes are mounted when these are given. */
  readonly produce?: ProduceService;
  readonly schemas?: SchemaRegistry;
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
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

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
      logger.info(
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
  app.use(matchOperation(services.contract ?? Contract.load(openapiPath)));
  app.use(authorizeOperation(auth));
  app.use(checkRequestBody(services.config.bodyLimitBytes));
  app.use(operationsRouter({ readiness: services.readiness, metrics, shuttingDown: () => shuttingDown }));

  app.use(docsRouter({ authRequired: services.config.auth.mode !== 'none' }));
  app.use(pageRouter());
  app.use(websocketInfoRouter());
  const { metadata, topicAdmin, schemaInfo } = services;
  app.use(adminRouter({ topicAdmin, schemaInfo }));
  app.use(metadataRouter({ metadata, schemaInfo, auth }));
  app.use(confluentMetadataRouter({ metadata, auth }));
  if (services.produce && services.schemas) {
    const deps = {
      produce: services.produce,
      schemas: services.schemas,
      timeoutMs: services.config.produce.timeoutMs,
      bodyLimitBytes: services.config.bodyLimitBytes,
      logger,
      // With topics created on first produce, a schema may come first.
      requireTopic: services.config.produce.autoCreateTopics ? undefined : (topic: string) => metadata.requireTopic(topic),
    };
    app.use(produceRouter(deps));
    app.use(schemaRouter(deps));
    app.use(confluentRouter(deps));
  }

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
