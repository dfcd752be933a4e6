import kafkajs, { type Admin } from 'kafkajs';
import { GatewayError } from '../errors.js';
import type { MetadataService } from './metadata.js';
import type { NewTopic, TopicDetail } from './metadata-types.js';

const { ConfigResourceTypes } = kafkajs;

/**
 * Changes to topics: create, delete, add partitions, alter configs. Each
 * change clears the metadata cache before and after, so the gateway never
 * answers from what it knew before its own change.
 */
export class TopicAdmin {
  readonly #admin: Admin;
  readonly #metadata: MetadataService;

  constructor(admin: Admin, metadata: MetadataService) {
    this.#admin = admin;
    this.#metadata = metadata;
  }

  /** Creates a topic and answers with it as the broker now describes it; 409 if it exists. */
  async createTopic(topic: NewTopic): Promise<TopicDetail> {
    this.#metadata.invalidate();
    const created = await this.#metadata.call(
      `the creation of topic ${JSON.stringify(topic.name)}`,
      () =>
        this.#admin.createTopics({
          topics: [
            {
              topic: topic.name,
              // kafkajs sends -1 for "the broker's default" when these are left out.
              ...(topic.partitions === undefined ? {} : { numPartitions: topic.partitions }),
              ...(topic.replicationFactor === undefined ? {} : { replicationFactor: topic.replicationFactor }),
              configEntries: Object.entries(topic.configs ?? {}).map(([name, value]) => ({ name, value })),
            },
          ],
          waitForLeaders: true,
        }),
      { topic: topic.name },
    );
    this.#metadata.invalidate();
    if (!created) throw new GatewayError('GW_ERR_CONFLICT', `Topic ${JSON.stringify(topic.name)} already exists.`);
    return this.#metadata.topic(topic.name);
  }

  /** Deletes a topic; 404 if it does not exist. */
  async deleteTopic(name: string): Promise<void> {
    this.#metadata.invalidate();
    // Checked first: kafkajs retries a delete of an unknown topic for seconds before failing.
    await this.#metadata.requireTopic(name);
    try {
      await this.#metadata.call(`the deletion of topic ${JSON.stringify(name)}`, () => this.#admin.deleteTopics({ topics: [name] }), { topic: name });
    } finally {
      this.#metadata.invalidate();
    }
  }

  /** Raises the partition count to `count`; 400 if that is not more than it has. */
  async addPartitions(name: string, count: number): Promise<TopicDetail> {
    this.#metadata.invalidate();
    const current = await this.#metadata.topic(name);
    if (count <= current.partitions) {
      throw new GatewayError('GW_ERR_VALIDATION', `Topic ${JSON.stringify(name)} has ${current.partitions} partitions; Kafka can only raise the count, so ask for more than that.`, {
        errors: [{ pointer: '/partitions', message: `must be greater than ${current.partitions}` }],
        extensions: { currentPartitions: current.partitions },
      });
    }
    try {
      await this.#metadata.call(
        `the new partitions of topic ${JSON.stringify(name)}`,
        () => this.#admin.createPartitions({ topicPartitions: [{ topic: name, count }] }),
        { topic: name },
      );
      // Unlike createTopics, createPartitions has no waitForLeaders: the new
      // partitions have no leader (and no offsets to read) for a moment.
      await this.#metadata.call(`the leaders of topic ${JSON.stringify(name)}`, () => this.#leadersElected(name, count), { topic: name });
    } finally {
      this.#metadata.invalidate();
    }
    return this.#metadata.topic(name);
  }

  /** Polls until every partition has a leader; gives up after about ten seconds and lets the describe answer. */
  async #leadersElected(name: string, count: number): Promise<void> {
    for (let attempt = 0; attempt < 100; attempt++) {
      const { topics } = await this.#admin.fetchTopicMetadata({ topics: [name] });
      const partitions = topics[0]?.partitions ?? [];
      if (partitions.length >= count && partitions.every((p) => p.leader >= 0)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /**
   * Sets (string) or removes (null) topic config overrides, keeping the
   * others. Kafka's AlterConfigs (the only form kafkajs speaks) replaces a
   * topic's whole override set, so the gateway sends the current overrides
   * merged with the change. Two concurrent changes can therefore overwrite
   * each other; a sensitive override, whose value the broker hides, would be
   * lost, so a topic that has one is refused.
   */
  async alterConfigs(name: string, changes: Readonly<Record<string, string | null>>): Promise<TopicDetail> {
    this.#metadata.invalidate();
    const current = await this.#metadata.topic(name);
    const merged = new Map<string, string>();
    for (const [key, entry] of Object.entries(current.configs)) {
      if (entry.sensitive) {
        throw new GatewayError('GW_ERR_CONFLICT', `Topic ${JSON.stringify(name)} has the sensitive config ${key}, which the gateway cannot read back to preserve it; change its configs with a Kafka admin tool.`);
      }
      if (entry.value !== null) merged.set(key, entry.value);
    }
    for (const [key, value] of Object.entries(changes)) {
      if (value === null) merged.delete(key);
      else merged.set(key, value);
    }
    try {
      await this.#metadata.call(
        `the config change of topic ${JSON.stringify(name)}`,
        () =>
          this.#admin.alterConfigs({
            validateOnly: false,
            resources: [{ type: ConfigResourceTypes.TOPIC, name, configEntries: [...merged].map(([n, value]) => ({ name: n, value })) }],
          }),
        { topic: name },
      );
    } finally {
      this.#metadata.invalidate();
    }
    return this.#metadata.topic(name);
  }
}
