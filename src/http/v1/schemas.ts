import { GatewayError, checkTopicName } from '../../common/index.js';
import { MAX_JSON_DEPTH, nestsDeeperThan } from '../../records/index.js';
import type { SchemaRegistry } from '../../schema/index.js';
import type { Handlers } from '../contract.js';

export interface SchemaRouteDeps {
  readonly schemas: SchemaRegistry;
  /**
   * Fails with GW_ERR_TOPIC_NOT_FOUND for a topic that does not exist. Left
   * out (AUTO_CREATE_TOPICS=true), a schema may be put before the topic: the
   * first produce creates the topic and is checked against it.
   */
  readonly requireTopic?: (topic: string) => Promise<void>;
}

/** PUT, GET and DELETE /v1/topics/{topic}/schema: the topic's JSON Schema (draft 2020-12). */
export function schemaHandlers({ schemas, requireTopic }: SchemaRouteDeps): Pick<Handlers, 'putTopicSchema' | 'getTopicSchema' | 'deleteTopicSchema'> {
  return {
    // The body arrives parsed and checked against openapi.yaml; ajv compiles it in put().
    putTopicSchema: async ({ path, body, res }) => {
      const topic = checkTopicName(path.topic);
      // A schema for a topic that does not exist is most likely a typo in its name.
      await requireTopic?.(topic).catch((error: unknown) => {
        if (!(error instanceof GatewayError && error.code === 'GW_ERR_TOPIC_NOT_FOUND')) throw error;
        throw new GatewayError('GW_ERR_TOPIC_NOT_FOUND', `Topic ${JSON.stringify(topic)} does not exist: create it first (POST /v1/topics), then put its schema.`);
      });
      // Compiling and storing a schema walks it recursively; one deeper than any real schema could exhaust the stack.
      if (nestsDeeperThan(body, MAX_JSON_DEPTH)) throw new GatewayError('GW_ERR_INVALID_SCHEMA', `The schema nests deeper than ${MAX_JSON_DEPTH} levels.`);
      const stored = await schemas.put(topic, body);
      res.json({ topic, version: stored.version, schema: stored.schema });
    },
    getTopicSchema: ({ path, res }) => {
      const topic = checkTopicName(path.topic);
      const stored = schemas.get(topic);
      if (!stored) throw new GatewayError('GW_ERR_SCHEMA_NOT_FOUND', `Topic ${JSON.stringify(topic)} has no schema.`);
      res.json({ topic, version: stored.version, schema: stored.schema });
    },
    deleteTopicSchema: async ({ path, res }) => {
      const topic = checkTopicName(path.topic);
      if (!(await schemas.delete(topic))) throw new GatewayError('GW_ERR_SCHEMA_NOT_FOUND', `Topic ${JSON.stringify(topic)} has no schema.`);
      res.status(204).end();
    },
  };
}
