import { GatewayError } from '../../common/index.js';
import type { KafkaAdmin } from './admin-client.js';
import { protocolErrorIds } from '../client/index.js';
import type { MetadataService } from './metadata-service.js';

/**
 * Changes to consumer groups: deleting one. The group's committed offsets
 * are the only durable state it has, and Kafka drops them with the group;
 * the gateway keeps none of its own per group, so clearing the metadata
 * cache (before and after, as for topic changes) is all that is left to do.
 */
export class GroupAdmin {
  readonly #admin: KafkaAdmin;
  readonly #metadata: MetadataService;

  constructor(admin: KafkaAdmin, metadata: MetadataService) {
    this.#admin = admin;
    this.#metadata = metadata;
  }

  /**
   * Deletes a group and its committed offsets: 404 for a group the brokers
   * do not know, 409 while it has members (Kafka's NON_EMPTY_GROUP), since
   * taking the offsets from under a member would restart it from its reset
   * position at its next rebalance.
   */
  async deleteGroup(groupId: string): Promise<void> {
    this.#metadata.invalidate();
    try {
      await this.#metadata.call(`the deletion of consumer group ${JSON.stringify(groupId)}`, () => this.#admin.deleteGroups([groupId]), { group: groupId });
    } catch (error) {
      if (protocolErrorIds((error as { cause?: unknown }).cause).includes('NON_EMPTY_GROUP')) {
        throw new GatewayError(
          'GW_ERR_CONFLICT',
          `Consumer group ${JSON.stringify(groupId)} still has members; Kafka deletes only a group without members (NON_EMPTY_GROUP). Close its subscriptions and consumers, and delete it once they are gone.`,
          { extensions: { kafkaError: 'NON_EMPTY_GROUP' } },
        );
      }
      throw error;
    } finally {
      this.#metadata.invalidate();
    }
  }
}
