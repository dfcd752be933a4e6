import type { MetadataService, PartitionInfo } from '../kafka/index.js';
import type { AuthService } from '../auth/index.js';
import { principalOf } from './auth.js';
import { sendV2 } from './confluent.js';
import type { Handlers } from './contract.js';

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
 * so existing v2 clients read metadata unchanged. Errors take the v2 shape
 * in problemHandler (x-error-format in openapi.yaml).
 */
export function confluentMetadataHandlers({ metadata, auth }: { metadata: MetadataService; auth: AuthService }): Pick<Handlers, 'v2ListTopics' | 'v2GetTopic' | 'v2ListPartitions'> {
  return {
    // v2 lists topic names only, without internal topics unless asked.
    v2ListTopics: async ({ query, res }) => {
      const topics = auth.visibleTopics(principalOf(res), await metadata.topics({ internal: query.internal === true }));
      sendV2(res, 200, topics.map((t) => t.name));
    },
    // v2 shows every config of the topic, as name to value.
    v2GetTopic: async ({ path, res }) => {
      const topic = await metadata.topic(path.topic, { allConfigs: true });
      const configs = Object.fromEntries(Object.entries(topic.configs).map(([name, entry]) => [name, entry.value]));
      sendV2(res, 200, { name: topic.name, configs, partitions: topic.partitionDetails.map(v2Partition) });
    },
    v2ListPartitions: async ({ path, res }) => {
      const topic = await metadata.topic(path.topic);
      sendV2(res, 200, topic.partitionDetails.map(v2Partition));
    },
  };
}
