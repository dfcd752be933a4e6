import type { MetadataService, PartitionInfo } from '../../kafka/index.js';
import type { AuthService } from '../../auth/index.js';
import { GatewayError } from '../../common/index.js';
import { principalOf } from '../request-auth.js';
import { sendV2 } from './conventions.js';
import type { Handlers } from '../contract.js';

function v2Partition(p: PartitionInfo) {
  return {
    partition: p.partition,
    leader: p.leader ?? -1,
    replicas: p.replicas.map((broker) => ({ broker, leader: broker === p.leader, in_sync: p.isr.includes(broker) })),
  };
}

async function partitionOf(metadata: MetadataService, topic: string, partition: number): Promise<PartitionInfo> {
  const found = (await metadata.topic(topic)).partitionDetails.find((p) => p.partition === partition);
  if (!found) throw new GatewayError('GW_ERR_INVALID_PARTITION', `Topic ${JSON.stringify(topic)} has no partition ${partition}.`);
  return found;
}

/**
 * Confluent REST Proxy v2 metadata reads: brokers, topics, partitions and
 * a partition's offsets, field for field, so existing v2 clients read
 * metadata unchanged. Errors take the v2 shape in problemHandler
 * (x-error-format in openapi.yaml).
 */
export function confluentMetadataHandlers({
  metadata,
  auth,
}: {
  metadata: MetadataService;
  auth: AuthService;
}): Pick<Handlers, 'v2ListBrokers' | 'v2ListTopics' | 'v2GetTopic' | 'v2ListPartitions' | 'v2GetPartition' | 'v2GetPartitionOffsets'> {
  return {
    v2ListBrokers: async ({ res }) => {
      sendV2(res, 200, { brokers: (await metadata.cluster()).brokers.map((b) => b.nodeId) });
    },
    v2GetPartition: async ({ path, res }) => {
      sendV2(res, 200, v2Partition(await partitionOf(metadata, path.topic, path.partition)));
    },
    // Offsets are int64: written as JSON numbers digit for digit.
    v2GetPartitionOffsets: async ({ path, res }) => {
      const found = await partitionOf(metadata, path.topic, path.partition);
      sendV2(res, 200, { beginning_offset: BigInt(found.earliestOffset), end_offset: BigInt(found.latestOffset) });
    },
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
