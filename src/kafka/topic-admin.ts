import kafkajs, { type Admin } from 'kafkajs';
import { GatewayError } from '../errors.js';
import type { MetadataService } from './metadata.js';
import type { NewTopic, TopicDetail } from './metadata-types.js';

const { ConfigResourceTypes } = kafkajs;

/** A Kafka error that says "not yet" (a leader moving in), as kafkajs marks it. */
function isRetriable(error: unknown): boolean {
  return (error as { retriable?: unknown } | undefined)?.retriable === true;
}

/**
 * Changes to topics: create, delete, add partitions, alter configs. Each
 * change clears the metadata cache before and after, so the gateway never
 * answers from what it knew before its own change.
 */
export class TopicAdmin {
  readonly #admin: Admin;
  readonly #metadata: MetadataService;
  readonly #readableWithinMs: number;

  /** `readableWithinMs`: how long new partitions may take to answer offset lookups (METADATA_TIMEOUT_MS). */
  constructor(admin: Admin, metadata: MetadataService, { readableWithinMs = 10_000 } = {}) {
    this.#admin = admin;
    this.#metadata = metadata;
    this.#readableWithinMs = readableWithinMs;
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
    const done = `Topic ${JSON.stringify(topic.name)} was created`;
    await this.#awaitReadable(topic.name, done);
    return this.#describeAfter(topic.name, done);
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
    } finally {
      this.#metadata.invalidate();
    }
    const done = `Topic ${JSON.stringify(name)} now has ${count} partitions`;
    await this.#awaitReadable(name, done, count);
    return this.#describeAfter(name, done);
  }

  /**
   * Waits until every partition of a topic just created or widened answers
   * an offsets lookup. Kafka acknowledges the change before each new
   * partition's leader has taken it on (waitForLeaders only sees the
   * metadata), and for that moment ListOffsets answers NOT_LEADER, which
   * would turn an applied change into a 503 and send the client into a
   * retry that gets 409 or 400. Past the metadata deadline the answer says
   * the change was made, so nobody repeats it.
   */
  async #awaitReadable(name: string, done: string, count = 0): Promise<void> {
    const deadline = Date.now() + this.#readableWithinMs;
    let last: unknown;
    const poll = async (): Promise<boolean> => {
      while (Date.now() < deadline) {
        try {
          const { topics } = await this.#admin.fetchTopicMetadata({ topics: [name] });
          const partitions = topics[0]?.partitions ?? [];
          if (partitions.length >= count && partitions.every((p) => p.leader >= 0)) {
            const offsets = await this.#admin.fetchTopicOffsets(name);
            if (offsets.length >= partitions.length) return true;
          }
        } catch (error) {
          if (!isRetriable(error)) throw error;
          last = error;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      return false;
    };
    try {
      if (await this.#metadata.call(`the partitions of topic ${JSON.stringify(name)}`, poll, { topic: name })) return;
    } catch (error) {
      // A refusal (say, the topic deleted meanwhile) is the answer; a timeout is reported below with what was done.
      if (!(error instanceof GatewayError && error.code === 'GW_ERR_KAFKA_UNAVAILABLE')) throw error;
      last ??= error;
    }
    throw new GatewayError(
      'GW_ERR_KAFKA_UNAVAILABLE',
      `${done}, but its partitions were not all readable within ${this.#readableWithinMs} ms${last instanceof Error ? ` (${last.message})` : ''}; do not repeat the change, read the topic again shortly.`,
    );
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
    return this.#describeAfter(name, `The configs of topic ${JSON.stringify(name)} were changed`);
  }

  /** The topic after a change Kafka applied; if describing it fails, the error still says the change was made. */
  async #describeAfter(name: string, done: string): Promise<TopicDetail> {
    try {
      return await this.#metadata.topic(name);
    } catch (error) {
      if (!(error instanceof GatewayError && error.code === 'GW_ERR_KAFKA_UNAVAILABLE')) throw error;
      throw new GatewayError('GW_ERR_KAFKA_UNAVAILABLE', `${done}, but describing it failed: ${error.detail} Do not repeat the change; read the topic again shortly.`, { cause: error });
    }
  }
}
