import { Router, type ErrorRequestHandler, type Response } from 'express';
import { toGatewayError } from '../errors.js';
import type { MetadataService, PartitionInfo } from '../kafka/index.js';
import type { Logger } from '../logger.js';

/** Confluent REST Proxy v2's media type for requests and answers without embedded records. */
export const CONFLUENT_V2 = 'application/vnd.kafka.v2+json';

/**
 * Confluent's error codes: the HTTP status with a digit or two appended
 * where the proxy distinguishes causes (40401 topic not found, 50003 a
 * retriable Kafka error); plain status codes otherwise.
 */
function confluentErrorCode(code: string, status: number): number {
  switch (code) {
    case 'GW_ERR_TOPIC_NOT_FOUND':
      return 40401;
    case 'GW_ERR_INVALID_PARTITION':
      return 40402;
    case 'GW_ERR_KAFKA_UNAVAILABLE':
    case 'GW_ERR_KAFKA_TIMEOUT':
      return 50003;
    default:
      return status;
  }
}

function sendV2(res: Response, status: number, body: unknown): void {
  res.status(status).type(CONFLUENT_V2).send(JSON.stringify(body));
}

/** Errors of the v2 routes in Confluent's `{error_code, message}` shape, so v2 clients parse them unchanged. */
function confluentErrors(logger: Logger): ErrorRequestHandler {
  return (error: unknown, req, res, next) => {
    if (res.headersSent) {
      next(error);
      return;
    }
    const gatewayError = toGatewayError(error);
    if (gatewayError.status >= 500) logger.error({ err: gatewayError.cause ?? gatewayError, requestId: res.locals.requestId, route: req.route?.path }, gatewayError.detail);
    if (gatewayError.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(gatewayError.retryAfterSeconds));
    sendV2(res, gatewayError.status, { error_code: confluentErrorCode(gatewayError.code, gatewayError.status), message: gatewayError.detail });
  };
}

function v2Partition(p: PartitionInfo) {
  return {
    partition: p.partition,
    leader: p.leader ?? -1,
    replicas: p.replicas.map((broker) => ({ broker, leader: broker === p.leader, in_sync: p.isr.includes(broker) })),
  };
}

/**
 * Confluent REST Proxy v2 metadata reads: `GET /topics`, `GET
 * /topics/{topic}` and `GET /topics/{topic}/partitions`, field for field,
 * so existing v2 clients read metadata unchanged.
 */
export function confluentMetadataRouter({ metadata, logger }: { metadata: MetadataService; logger: Logger }): Router {
  const router = Router();

  // v2 lists topic names only, without Kafka's internal topics.
  router.get('/topics', async (_req, res) => {
    const topics = await metadata.topics();
    sendV2(res, 200, topics.map((t) => t.name));
  });

  // v2 shows every config of the topic, as name to value.
  router.get('/topics/:topic', async (req, res) => {
    const topic = await metadata.topic(req.params.topic, { allConfigs: true });
    const configs = Object.fromEntries(Object.entries(topic.configs).map(([name, entry]) => [name, entry.value]));
    sendV2(res, 200, { name: topic.name, configs, partitions: topic.partitionDetails.map(v2Partition) });
  });

  router.get('/topics/:topic/partitions', async (req, res) => {
    const topic = await metadata.topic(req.params.topic);
    sendV2(res, 200, topic.partitionDetails.map(v2Partition));
  });

  router.use(confluentErrors(logger));
  return router;
}
