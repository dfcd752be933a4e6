import { Router } from 'express';
import { GatewayError } from '../errors.js';
import { isValidTopicName } from '../kafka/index.js';
import type { SchemaRegistry } from '../schema/index.js';

export interface SchemaRouteDeps {
  readonly schemas: SchemaRegistry;
  /**
   * Fails with GW_ERR_TOPIC_NOT_FOUND for a topic that does not exist. Left
   * out (AUTO_CREATE_TOPICS=true), a schema may be put before the topic: the
   * first produce creates the topic and is checked against it.
   */
  readonly requireTopic?: (topic: string) => Promise<void>;
}

function topicOf(raw: unknown): string {
  const topic = String(raw);
  if (!isValidTopicName(topic)) throw new GatewayError('GW_ERR_INVALID_TOPIC', `Topic name ${JSON.stringify(topic)} is not valid.`);
  return topic;
}

/** PUT, GET and DELETE /v1/topics/{topic}/schema: the topic's JSON Schema (draft 2020-12). */
export function schemaRouter({ schemas, requireTopic }: SchemaRouteDeps): Router {
  const router = Router();
  const path = '/v1/topics/:topic/schema';

  // The body arrives parsed and checked against openapi.yaml (checkRequestBody); ajv compiles it in put().
  router.put(path, async (req, res) => {
    const topic = topicOf(req.params.topic);
    // A schema for a topic that does not exist is most likely a typo in its name.
    await requireTopic?.(topic).catch((error: unknown) => {
      if (!(error instanceof GatewayError && error.code === 'GW_ERR_TOPIC_NOT_FOUND')) throw error;
      throw new GatewayError('GW_ERR_TOPIC_NOT_FOUND', `Topic ${JSON.stringify(topic)} does not exist: create it first (POST /v1/topics), then put its schema.`);
    });
    const stored = await schemas.put(topic, req.body);
    res.json({ topic, version: stored.version, schema: stored.schema });
  });

  router.get(path, (req, res) => {
    const topic = topicOf(req.params.topic);
    const stored = schemas.get(topic);
    if (!stored) throw new GatewayError('GW_ERR_SCHEMA_NOT_FOUND', `Topic ${JSON.stringify(topic)} has no schema.`);
    res.json({ topic, version: stored.version, schema: stored.schema });
  });

  router.delete(path, async (req, res) => {
    const topic = topicOf(req.params.topic);
    if (!(await schemas.delete(topic))) throw new GatewayError('GW_ERR_SCHEMA_NOT_FOUND', `Topic ${JSON.stringify(topic)} has no schema.`);
    res.status(204).end();
  });

  return router;
}
