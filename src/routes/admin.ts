import { Router, type Request } from 'express';
import { refuseInternalChange } from '../auth/index.js';
import type { TopicAdmin } from '../kafka/index.js';
import { noSchemas, topicDetailBody, type SchemaInfo } from './topic-shapes.js';

export interface AdminRoutesDeps {
  readonly topicAdmin: TopicAdmin;
  /** Whether a topic has a JSON Schema, for the topic bodies these routes answer with. */
  readonly schemaInfo?: SchemaInfo;
}

/** The body of createTopic, as openapi.yaml has already checked it. */
interface NewTopicBody {
  readonly name: string;
  readonly partitions?: number;
  readonly replicationFactor?: number;
  readonly configs?: Readonly<Record<string, string | number | boolean>>;
}

/** The path's topic. */
function topicParam(req: Request): string {
  return String(req.params.topic);
}

/** Config values as Kafka takes them: strings; numbers and booleans are written as their text for convenience. */
function configText(configs: Readonly<Record<string, string | number | boolean | null>>): Record<string, string | null> {
  return Object.fromEntries(Object.entries(configs).map(([name, value]) => [name, value === null ? null : String(value)]));
}

/**
 * Topic administration. Each operation is marked `x-permission: admin` in
 * openapi.yaml, and the authorization step every request passes before
 * routing (src/routes/auth.ts) enforces it, so no route here checks.
 */
export function adminRouter({ topicAdmin, schemaInfo = noSchemas }: AdminRoutesDeps): Router {
  const router = Router();
  // Bodies reach these handlers parsed and checked against openapi.yaml (checkRequestBody).
  router.post('/v1/topics', async (req, res) => {
    const body = req.body as NewTopicBody;
    // The one admin operation whose topic is in the body rather than the path.
    refuseInternalChange('admin', body.name);
    const topic = await topicAdmin.createTopic({
      name: body.name,
      partitions: body.partitions,
      replicationFactor: body.replicationFactor,
      // The spec allows no null here, so every value is text.
      configs: configText(body.configs ?? {}) as Record<string, string>,
    });
    res.status(201).location(`/v1/topics/${encodeURIComponent(topic.name)}`).json(topicDetailBody(topic, schemaInfo));
  });

  router.delete('/v1/topics/:topic', async (req, res) => {
    await topicAdmin.deleteTopic(topicParam(req));
    res.status(204).end();
  });

  router.post('/v1/topics/:topic/partitions', async (req, res) => {
    const { partitions } = req.body as { partitions: number };
    const topic = await topicAdmin.addPartitions(topicParam(req), partitions);
    res.json(topicDetailBody(topic, schemaInfo));
  });

  // A JSON Merge Patch (RFC 7396) of the topic's config overrides: a value sets, null removes.
  router.patch('/v1/topics/:topic/configs', async (req, res) => {
    const changes = configText(req.body as Record<string, string | number | boolean | null>);
    const topic = await topicAdmin.alterConfigs(topicParam(req), changes);
    res.json(topicDetailBody(topic, schemaInfo));
  });

  return router;
}
