import { Router } from 'express';
import type { MetadataService } from '../kafka/index.js';
import { queryBoolean, queryOneOf, queryString, queryTimestamp } from './query.js';
import { noSchemas, topicDetailBody, topicSummaryBody, type SchemaInfo } from './topic-shapes.js';

export interface MetadataRoutesDeps {
  readonly metadata: MetadataService;
  readonly schemaInfo?: SchemaInfo;
}

/** Read-only cluster, topic, offset and consumer-group metadata (v1). */
export function metadataRouter({ metadata, schemaInfo = noSchemas }: MetadataRoutesDeps): Router {
  const router = Router();

  router.get('/v1/cluster', async (_req, res) => {
    res.json(await metadata.cluster());
  });

  router.get('/v1/topics', async (req, res) => {
    const internal = queryBoolean(req, 'internal', false);
    const prefix = queryString(req, 'prefix');
    const topics = await metadata.topics({ internal, prefix });
    res.json({ topics: topics.map(topicSummaryBody) });
  });

  router.get('/v1/topics/:topic', async (req, res) => {
    const configs = queryOneOf(req, 'configs', ['overrides', 'all'] as const, 'overrides');
    const topic = await metadata.topic(req.params.topic, { allConfigs: configs === 'all' });
    res.json(topicDetailBody(topic, schemaInfo));
  });

  router.get('/v1/topics/:topic/offsets', async (req, res) => {
    const timestamp = queryTimestamp(req, 'timestamp');
    const offsets = await metadata.offsetsAt(req.params.topic, timestamp);
    res.json({ topic: req.params.topic, timestamp: new Date(timestamp).toISOString(), offsets });
  });

  router.get('/v1/consumer-groups', async (_req, res) => {
    res.json({ groups: await metadata.groups() });
  });

  router.get('/v1/consumer-groups/:group', async (req, res) => {
    res.json(await metadata.group(req.params.group));
  });

  return router;
}
