import type { AuthService } from '../../auth/index.js';
import type { GroupAdmin, TopicAdmin } from '../../kafka/index.js';
import type { Handlers } from '../contract.js';
import { principalOf } from '../request-auth.js';
import { noSchemas, topicDetailBody, type SchemaInfo } from './topic-bodies.js';

export interface AdminRoutesDeps {
  readonly topicAdmin: TopicAdmin;
  readonly groupAdmin: GroupAdmin;
  /** Whether a topic has a JSON Schema, for the topic bodies these routes answer with. */
  readonly schemaInfo?: SchemaInfo;
  /** For the one operation whose topic is in the body, which the step before routing cannot see. */
  readonly auth: AuthService;
}

/** Config values as Kafka takes them: strings; numbers and booleans are written as their text for convenience. */
function configText<T extends string | number | boolean | null>(configs: Readonly<Record<string, T>>): Record<string, Exclude<T, number | boolean> | string> {
  return Object.fromEntries(Object.entries(configs).map(([name, value]) => [name, value === null ? null : String(value)])) as Record<string, Exclude<T, number | boolean> | string>;
}

/**
 * Topic and consumer group administration. Each operation is marked
 * `x-permission: admin` in openapi.yaml, and the authorization step every
 * request passes before routing (src/http/request-auth.ts) enforces it on
 * the path's topic or group; creation names its topic in the body, so its
 * handler checks that name.
 */
export function adminHandlers({
  topicAdmin,
  groupAdmin,
  schemaInfo = noSchemas,
  auth,
}: AdminRoutesDeps): Pick<Handlers, 'createTopic' | 'deleteTopic' | 'addPartitions' | 'alterTopicConfigs' | 'deleteConsumerGroup'> {
  return {
    createTopic: async ({ body, res }) => {
      // The one admin operation whose topic is in the body rather than the path: admin on `b-*` does not let a
      // principal create `a-planted` in another's namespace.
      auth.authorize(principalOf(res), 'admin', body.name);
      const topic = await topicAdmin.createTopic({
        name: body.name,
        partitions: body.partitions,
        replicationFactor: body.replicationFactor,
        configs: configText(body.configs ?? {}),
      });
      res.status(201).location(`/v1/topics/${encodeURIComponent(topic.name)}`).json(topicDetailBody(topic, schemaInfo));
    },
    deleteTopic: async ({ path, res }) => {
      await topicAdmin.deleteTopic(path.topic);
      res.status(204).end();
    },
    addPartitions: async ({ path, body, res }) => {
      const topic = await topicAdmin.addPartitions(path.topic, body.partitions);
      res.json(topicDetailBody(topic, schemaInfo));
    },
    // A JSON Merge Patch (RFC 7396) of the topic's config overrides: a value sets, null removes.
    alterTopicConfigs: async ({ path, body, res }) => {
      const topic = await topicAdmin.alterConfigs(path.topic, configText(body));
      res.json(topicDetailBody(topic, schemaInfo));
    },
    deleteConsumerGroup: async ({ path, res }) => {
      await groupAdmin.deleteGroup(path.group);
      res.status(204).end();
    },
  };
}
