import type { AuthService, Principal } from '../../auth/index.js';
import type { GroupDetail, MetadataService } from '../../kafka/index.js';
import { GatewayError, queryInstant } from '../../common/index.js';
import { principalOf } from '../request-auth.js';
import type { Handlers } from '../contract.js';
import { noSchemas, topicDetailBody, topicSummaryBody, type SchemaInfo } from './topic-bodies.js';

export interface MetadataRoutesDeps {
  readonly metadata: MetadataService;
  readonly schemaInfo?: SchemaInfo;
  /** Listings show only what the caller may describe. */
  readonly auth: AuthService;
}

/**
 * A group as the principal may see it: only the topics it may describe, and
 * the lag over those. Whether it may see the group at all is asked before
 * the group is looked up (requireGroupVisible), by the group's name.
 */
function visibleGroup(group: GroupDetail, auth: AuthService, principal: Principal): GroupDetail {
  if (!auth.enabled) return group;
  const can = (topic: string) => auth.acl.allows(principal, 'describe', topic);
  const offsets = group.offsets.filter((o) => can(o.topic));
  return {
    ...group,
    members: group.members.map((m) => ({ ...m, assignments: m.assignments.filter((a) => can(a.topic)) })),
    offsets,
    totalLag: offsets.reduce((sum, o) => sum + BigInt(o.lag ?? '0'), 0n).toString(),
  };
}

/** A group the principal may not describe is answered exactly as one that does not exist, whether it does or not. */
function requireGroupVisible(auth: AuthService, principal: Principal, group: string): void {
  if (auth.enabled && !auth.mayDescribeGroup(principal, group)) {
    throw new GatewayError('GW_ERR_GROUP_NOT_FOUND', `Consumer group ${JSON.stringify(group)} does not exist.`);
  }
}

/** Read-only cluster, topic, offset and consumer-group metadata (v1). */
export function metadataHandlers({ metadata, schemaInfo = noSchemas, auth }: MetadataRoutesDeps): Pick<
  Handlers,
  'getCluster' | 'listTopics' | 'getTopic' | 'getOffsetsByTime' | 'listConsumerGroups' | 'getConsumerGroup'
> {
  return {
    getCluster: async ({ res }) => {
      res.json(await metadata.cluster());
    },
    listTopics: async ({ query, res }) => {
      const topics = auth.visibleTopics(principalOf(res), await metadata.topics({ internal: query.internal === true, prefix: query.prefix || undefined }));
      res.json({ topics: topics.map(topicSummaryBody) });
    },
    getTopic: async ({ path, query, res }) => {
      const topic = await metadata.topic(path.topic, { allConfigs: query.configs === 'all' });
      res.json(topicDetailBody(topic, schemaInfo));
    },
    getOffsetsByTime: async ({ path, query, res }) => {
      const timestamp = queryInstant('timestamp', query.timestamp);
      const offsets = await metadata.offsetsAt(path.topic, timestamp);
      res.json({ topic: path.topic, timestamp: new Date(timestamp).toISOString(), offsets });
    },
    // A group is listed only to whoever may describe it (ACL group rules; see AuthService.mayDescribeGroup).
    listConsumerGroups: async ({ query, res }) => {
      const groups = await metadata.groups({ internal: query.internal === true });
      const principal = principalOf(res);
      res.json({ groups: auth.enabled ? groups.filter((g) => auth.mayDescribeGroup(principal, g.groupId)) : groups });
    },
    getConsumerGroup: async ({ path, res }) => {
      const principal = principalOf(res);
      requireGroupVisible(auth, principal, path.group);
      res.json(visibleGroup(await metadata.group(path.group), auth, principal));
    },
  };
}
