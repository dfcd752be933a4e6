import { Router } from 'express';
import { GatewayError } from '../errors.js';
import { isValidTopicName } from '../kafka/index.js';
import type { SchemaRegistry } from '../schema/index.js';

export interface SchemaRouteDeps {
  readonly schemas: SchemaRegistry;
}

function topicOf(raw: unknown): string {
  const topic = String(raw);
  if (!isValidTopicName(topic)) throw new GatewayError('GW_ERR_INVALID_TOPIC', `Topic name ${JSON.stringify(topic)} is not valid.`);
  return topic;
}

/** PUT, GET and DELETE /v1/topics/{topic}/schema: the topic's JSON Schema (draft 2020-12). */
export function schemaRouter({ schemas }: SchemaRouteDeps): Router {
  const router = Router();
  const path = '/v1/topics/:topic/schema';

  // The body arrives parsed and checked against openapi.yaml (checkRequestBody); ajv compiles it in put().
  router.put(path, async (req, res) => {
    const topic = topicOf(req.params.topic);
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
