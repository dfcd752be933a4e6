import { describeConsumerGroups } from '../../src/kafka/metadata/index.js';
import type { Admin } from './kafka-client.js';

/**
 * Members of a group as the broker counts them, whichever protocol the group
 * runs: Kafka's DescribeGroups sees classic groups only, so a group of the
 * consumer protocol (KIP-848) is asked with ConsumerGroupDescribe.
 */
export async function brokerMembers(admin: Admin, group: string): Promise<number> {
  const consumer = await describeConsumerGroups(admin.client, [group]);
  const found = consumer.get(group);
  if (found) return found.members.length;
  return (await admin.describeGroups([group])).groups[0]?.members.length ?? 0;
}
