import { Router } from 'express';
import type { AuthService, Principal } from '../auth/index.js';
import type { GroupDetail, MetadataService } from '../kafka/index.js';
import { GatewayError } from '../errors.js';
import { principalOf } from './auth.js';
import { queryBoolean, queryOneOf, queryString, queryTimestamp } from './query.js';
import { noSchemas, topicDetailBody, topicSummaryBody, type SchemaInfo } from './topic-shapes.js';

export interface MetadataRoutesDeps {
  readonly metadata: MetadataService;
  readonly schemaInfo?: SchemaInfo;
  /** Listings show only what the caller may describe. */
  readonly auth: AuthService;
}

/**
 * A group as the principal may see it: only the topics it may describe, and
 * the lag over those. A group it may not see at all is answered exactly as
 * one that does not exist.
 */
function visibleGroup(group: GroupDetail, auth: AuthService, principal: Principal): GroupDetail {
  if (!auth.enabled) return group;
  const topics = new Set([...group.offsets.map((o) => o.topic), ...group.members.flatMap((m) => m.assignments.map((a) => a.topic))]);
  if (!auth.mayDescribeGroup(principal, [...topics])) {
    throw new GatewayError('GW_ERR_GROUP_NOT_FOUND', `Consumer group ${JSON.stringify(group.groupId)} does not exist.`);
  }
  const can = (topic: string) => auth.acl.allows(principal, 'describe', topic);
  const offsets = group.offsets.filter((o) => can(o.topic));
  return {
    ...group,
    members: group.members.map((m) => ({ ...m, assignments: m.assignments.filter((a) => can(a.topic)) })),
    offsets,
    totalLag: offsets.reduce((sum, o) => sum + BigInt(o.lag ?? '0'), 0n).toString(),
  };
}

/** Read-only cluster, topic, offset and consumer-group metadata (v1). */
export function metadataRouter({ metadata, schemaInfo = noSchemas, auth }: MetadataRoutesDeps): Router {
  const router = Router();

  router.get('/v1/cluster', async (_req, res) => {
    res.json(await metadata.cluster());
  });

  router.get('/v1/topics', async (req, res) => {
    const internal = queryBoolean(req, 'internal', false);
    const prefix = queryString(req, 'prefix');
    const topics = auth.visibleTopics(principalOf(res), await metadata.topics({ internal, prefix }));
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

  // A group is listed only to whoever may describe one of its topics (see AuthService.mayDescribeGroup).
  router.get('/v1/consumer-groups', async (req, res) => {
    const groups = await metadata.groups({ internal: queryBoolean(req, 'internal', false) });
    if (!auth.enabled) {
      res.json({ groups });
      return;
    }
    const topicsOf = await metadata.groupTopics();
    const principal = principalOf(res);
    res.json({ groups: groups.filter((g) => auth.mayDescribeGroup(principal, topicsOf.get(g.groupId) ?? [])) });
  });

  router.get('/v1/consumer-groups/:group', async (req, res) => {
    res.json(visibleGroup(await metadata.group(req.params.group), auth, principalOf(res)));
  });

  return router;
}
