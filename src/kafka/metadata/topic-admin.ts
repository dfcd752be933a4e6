import { GatewayError } from '../../common/index.js';
import type { KafkaAdmin } from './admin-client.js';
import { isTransient, protocolErrorIds } from '../client/index.js';
import type { MetadataService } from './metadata-service.js';
import type { NewTopic, TopicDetail } from './metadata-types.js';

/**
 * Changes to topics: create, delete, add partitions, alter configs. Each
 * change clears the metadata cache before and after, so the gateway never
 * answers from what it knew before its own change.
 */
export class TopicAdmin {
  readonly #admin: KafkaAdmin;
  readonly #metadata: MetadataService;
  readonly #readableWithinMs: number;

  /** `readableWithinMs`: how long new partitions may take to answer offset lookups (METADATA_TIMEOUT_MS). */
  constructor(admin: KafkaAdmin, metadata: MetadataService, { readableWithinMs = 10_000 } = {}) {
    this.#admin = admin;
    this.#metadata = metadata;
    this.#readableWithinMs = readableWithinMs;
  }

  /** Creates a topic and answers with it as the broker now describes it; 409 if it exists. */
  async createTopic(topic: NewTopic): Promise<TopicDetail> {
    this.#metadata.invalidate();
    try {
      await this.#metadata.call(
        `the creation of topic ${JSON.stringify(topic.name)}`,
        // Partitions and replication factor left out take the broker's defaults.
        () => this.#admin.createTopic({ name: topic.name, partitions: topic.partitions, replicationFactor: topic.replicationFactor, configs: topic.configs }),
        { topic: topic.name },
      );
    } catch (error) {
      if (protocolErrorIds((error as { cause?: unknown }).cause).includes('TOPIC_ALREADY_EXISTS')) {
        throw new GatewayError('GW_ERR_CONFLICT', `Topic ${JSON.stringify(topic.name)} already exists.`);
      }
      throw error;
    } finally {
      this.#metadata.invalidate();
    }
    const done = `Topic ${JSON.stringify(topic.name)} was created`;
    await this.#awaitReadable(topic.name, done);
    return this.#describeAfter(topic.name, done);
  }

  /** Deletes a topic; 404 if it does not exist. */
  async deleteTopic(name: string): Promise<void> {
    this.#metadata.invalidate();
    // Checked first, so that an unknown topic is a plain 404.
    await this.#metadata.requireTopic(name);
    try {
      await this.#metadata.call(`the deletion of topic ${JSON.stringify(name)}`, () => this.#admin.deleteTopic(name), { topic: name });
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
        () => this.#admin.createPartitions(name, count),
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
   * partition's leader has taken it on, and for that moment ListOffsets
   * answers NOT_LEADER, which
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
          const { topics } = await this.#admin.cluster([name]);
          const partitions = topics[0]?.partitions ?? [];
          if (partitions.length > 0 && partitions.length >= count && partitions.every((p) => p.leader >= 0)) {
            const offsets = await this.#admin.offsets(name, partitions.map((p) => p.partitionId), -1n);
            if (offsets.size >= partitions.length) return true;
          }
        } catch (error) {
          if (!isTransient(error)) throw error;
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
   * Sets (string) or removes (null) topic config overrides, leaving the
   * others as they are (Kafka's IncrementalAlterConfigs: no read, merge and
   * write, so concurrent changes to different configs do not undo each
   * other).
   */
  async alterConfigs(name: string, changes: Readonly<Record<string, string | null>>): Promise<TopicDetail> {
    this.#metadata.invalidate();
    await this.#metadata.requireTopic(name);
    try {
      await this.#metadata.call(`the config change of topic ${JSON.stringify(name)}`, () => this.#admin.alterTopicConfigs(name, changes), { topic: name });
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
