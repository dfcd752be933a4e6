/**
 * Share groups (Kafka queues, KIP-932) as the rest of the gateway sees
 * them: members for subscriptions and pulls, the group's settings (lock
 * duration, delivery limit, dead-letter topic), and listing and describing
 * groups with their start offsets and lag.
 *
 * Dead letters: from Kafka 4.4 the broker writes rejected and over-limit
 * records to the group's dead-letter topic itself (KIP-1191; the group
 * config `errors.deadletterqueue.topic.name`, a topic whose own config
 * `errors.deadletterqueue.group.enable` is true). Older brokers with share
 * groups (4.1 to 4.3) have no such config; there the gateway writes a
 * rejected record to the dead-letter topic the subscription named, with the
 * same `__dlq.errors.*` headers, before it answers the reject.
 */
import { ConfigResourceTypes, ConnectionPool, IncrementalAlterConfigOperationTypes, type Admin, type BaseOptions } from '@platformatic/kafka';
import { GatewayError, type Logger } from '../../common/index.js';
import { describeKafkaError, fromKafkaError } from '../client/index.js';
import { coordinatorOf, shareVersions, ShareMember, type ShareMemberEvents, type ShareMemberTuning, type ShareVersions } from './share-member.js';
import { describeShareGroupOffsets, shareGroupDescribe } from './share-wire.js';

/** The group configs the API sets, by the names it uses for them. */
export const SHARE_GROUP_CONFIGS = {
  lockDurationMs: 'share.record.lock.duration.ms',
  deliveryLimit: 'share.delivery.count.limit',
  autoOffsetReset: 'share.auto.offset.reset',
  deadLetterTopic: 'errors.deadletterqueue.topic.name',
  /** Whether the broker's dead letters carry the record's key, value and headers, or only where it came from. */
  deadLetterCopyRecord: 'errors.deadletterqueue.copy.record.enable',
} as const;
export type ShareGroupSettingName = keyof typeof SHARE_GROUP_CONFIGS;
export type ShareGroupSettings = { -readonly [K in ShareGroupSettingName]?: string | number | boolean | null };

/** Where rejected records go on this cluster: the broker writes them (KIP-1191) or the gateway does. */
export type DeadLetterMode = 'broker' | 'gateway';

export interface ShareGroupSummary {
  readonly groupId: string;
  readonly state: string;
}

export interface ShareGroupDetail {
  readonly groupId: string;
  readonly state: string;
  readonly groupEpoch: number;
  readonly members: ReadonlyArray<{ memberId: string; clientId: string; host: string; topics: string[]; assignments: Array<{ topic: string; partitions: number[] }> }>;
  readonly partitions: ReadonlyArray<{ topic: string; partition: number; startOffset: string | null; lag: string | null }>;
  readonly totalLag: string;
  readonly settings: Readonly<Record<ShareGroupSettingName, string | null>>;
  readonly deadLetters: DeadLetterMode;
}

export interface DeadLetter {
  readonly topic: string;
  readonly partition: number;
  readonly offset: bigint;
  readonly deliveryCount: number;
  readonly group: string;
  readonly reason: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
}

/** Writes one dead letter (the gateway's path, for brokers without KIP-1191). */
export type DeadLetterWriter = (deadLetterTopic: string, letter: DeadLetter) => Promise<void>;

const NOT_SUPPORTED = 'This Kafka cluster has no share groups: they need Kafka 4.1 or later with the share.version feature enabled (on by default from 4.2).';

export class ShareGroups {
  readonly #control: ConnectionPool;
  #versions?: Promise<ShareVersions | undefined>;
  #deadLetterMode?: Promise<DeadLetterMode>;

  constructor(
    private readonly client: Admin,
    private readonly options: BaseOptions,
    private readonly tuning: ShareMemberTuning,
    readonly writeDeadLetter: DeadLetterWriter,
    private readonly logger: Logger,
  ) {
    this.#control = new ConnectionPool(`${options.clientId}-share-admin`, options);
    this.#control.on('connect', ({ connection }) => connection.on('error', () => undefined));
  }

  /** The share API versions, or a 400 GatewayError saying the cluster has none. */
  async versions(): Promise<ShareVersions> {
    this.#versions ??= shareVersions(this.client);
    this.#versions.catch(() => (this.#versions = undefined));
    const found = await this.#versions.catch((error: unknown) => {
      throw fromKafkaError(error);
    });
    if (!found) throw new GatewayError('GW_ERR_BAD_REQUEST', NOT_SUPPORTED);
    return found;
  }

  /** Whether the broker writes dead letters itself (it knows the group config of KIP-1191). */
  async deadLetterMode(): Promise<DeadLetterMode> {
    this.#deadLetterMode ??= (async () => {
      try {
        const [description] = await this.client.describeConfigs({ resources: [{ resourceType: ConfigResourceTypes.GROUP, resourceName: '_gateway_probe', configurationKeys: null }] });
        return description?.configs.some((c) => c.name === SHARE_GROUP_CONFIGS.deadLetterTopic || c.name === 'errors.deadletterqueue.copy.record.enable') ? 'broker' : 'gateway';
      } catch {
        return 'gateway';
      }
    })();
    this.#deadLetterMode.catch(() => (this.#deadLetterMode = undefined));
    return this.#deadLetterMode;
  }

  /** A member of `groupId` reading `topics`, not yet started. */
  async member(groupId: string, topics: readonly string[], events: ShareMemberEvents, tuning?: Partial<ShareMemberTuning>): Promise<ShareMember> {
    const versions = await this.versions();
    return new ShareMember(this.client, this.options, groupId, topics, versions, { ...this.tuning, ...tuning }, events, this.logger, this.#control);
  }

  async list(): Promise<ShareGroupSummary[]> {
    await this.versions();
    try {
      const groups = await this.client.listGroups({ types: ['share'] });
      return [...groups.values()].map((g) => ({ groupId: g.id, state: String(g.state) })).sort((a, b) => a.groupId.localeCompare(b.groupId));
    } catch (error) {
      throw fromKafkaError(error);
    }
  }

  /** The group's members, partitions (start offset and lag) and settings; 404 for a group that does not exist as a share group. */
  async describe(groupId: string): Promise<ShareGroupDetail> {
    const versions = await this.versions();
    try {
      const coordinator = await coordinatorOf(this.client, this.#control, groupId);
      const [described] = await shareGroupDescribe(coordinator, [groupId]);
      if (!described || described.errorCode !== 0) {
        const name = describeKafkaError(described?.errorCode ?? -1);
        if (name === 'GROUP_ID_NOT_FOUND' || name === 'INVALID_GROUP_ID') {
          throw new GatewayError('GW_ERR_GROUP_NOT_FOUND', `Share group ${JSON.stringify(groupId)} does not exist (or is not a share group).`);
        }
        throw new GatewayError('GW_ERR_KAFKA_UNAVAILABLE', `Kafka could not describe share group ${JSON.stringify(groupId)}: ${name}.`, { retryAfterSeconds: 1, extensions: { kafkaError: name } });
      }
      if (described.state.toLowerCase() === 'dead') throw new GatewayError('GW_ERR_GROUP_NOT_FOUND', `Share group ${JSON.stringify(groupId)} does not exist.`);
      const offsets = versions.describeOffsets >= 0 ? await describeShareGroupOffsets(coordinator, versions.describeOffsets, groupId, null) : { errorCode: 0, topics: [] };
      const partitions = offsets.topics
        .flatMap(({ topic, partitions: list }) =>
          list.map((p) => ({
            topic,
            partition: p.partition,
            startOffset: p.errorCode === 0 && p.startOffset >= 0n ? String(p.startOffset) : null,
            lag: p.errorCode === 0 && p.lag >= 0n ? String(p.lag) : null,
          })),
        )
        .sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
      const totalLag = partitions.reduce((sum, p) => sum + (p.lag === null ? 0n : BigInt(p.lag)), 0n);
      return {
        groupId,
        state: described.state,
        groupEpoch: described.groupEpoch,
        members: described.members.map((m) => ({
          memberId: m.memberId,
          clientId: m.clientId,
          host: m.clientHost,
          topics: [...m.subscribedTopics].sort(),
          assignments: m.assignment.map((a) => ({ topic: a.topic, partitions: [...a.partitions].sort((x, y) => x - y) })),
        })),
        partitions,
        totalLag: String(totalLag),
        settings: await this.settings(groupId),
        deadLetters: await this.deadLetterMode(),
      };
    } catch (error) {
      if (error instanceof GatewayError) throw error;
      throw fromKafkaError(error, { group: groupId });
    }
  }

  /** The group's settings as the broker has them (its defaults where the group sets none). */
  async settings(groupId: string): Promise<Record<ShareGroupSettingName, string | null>> {
    try {
      const [description] = await this.client.describeConfigs({ resources: [{ resourceType: ConfigResourceTypes.GROUP, resourceName: groupId, configurationKeys: Object.values(SHARE_GROUP_CONFIGS) }] });
      const value = (name: string) => description?.configs.find((c) => c.name === name)?.value ?? null;
      return {
        lockDurationMs: value(SHARE_GROUP_CONFIGS.lockDurationMs),
        deliveryLimit: value(SHARE_GROUP_CONFIGS.deliveryLimit),
        autoOffsetReset: value(SHARE_GROUP_CONFIGS.autoOffsetReset),
        deadLetterTopic: value(SHARE_GROUP_CONFIGS.deadLetterTopic) || null,
        deadLetterCopyRecord: value(SHARE_GROUP_CONFIGS.deadLetterCopyRecord),
      };
    } catch (error) {
      throw fromKafkaError(error, { group: groupId });
    }
  }

  /**
   * Sets (a value) or resets to the broker's default (null) the group's
   * settings. The broker checks them against its bounds (e.g.
   * group.share.min.record.lock.duration.ms) and refuses with 400.
   */
  async configure(groupId: string, changes: ShareGroupSettings): Promise<void> {
    await this.versions();
    const configs = Object.entries(changes).flatMap(([name, value]) => {
      const config = SHARE_GROUP_CONFIGS[name as ShareGroupSettingName];
      if (!config || value === undefined) return [];
      return [value === null ? { name: config, configOperation: IncrementalAlterConfigOperationTypes.DELETE, value: null } : { name: config, configOperation: IncrementalAlterConfigOperationTypes.SET, value: String(value) }];
    });
    if (configs.length === 0) return;
    if (changes.deadLetterTopic !== undefined && changes.deadLetterTopic !== null && (await this.deadLetterMode()) === 'gateway') {
      throw new GatewayError('GW_ERR_BAD_REQUEST', 'This Kafka cluster has no dead-letter topics for share groups (KIP-1191, Kafka 4.4): name the dead-letter topic on each subscription or take instead, and the gateway writes rejected records there.');
    }
    try {
      await this.client.incrementalAlterConfigs({ resources: [{ resourceType: ConfigResourceTypes.GROUP, resourceName: groupId, configs }] });
    } catch (error) {
      const name = describeKafkaError((error as { errors?: Array<{ errorCode?: number }> }).errors?.[0]?.errorCode ?? -1);
      const message = serverMessage(error);
      if (message || name === 'INVALID_CONFIG' || name === 'INVALID_REQUEST') {
        throw new GatewayError('GW_ERR_VALIDATION', `Kafka refused the settings of share group ${JSON.stringify(groupId)}${message ? `: ${message}` : ''}.`, { cause: error });
      }
      throw fromKafkaError(error, { group: groupId });
    }
  }

  async close(): Promise<void> {
    await this.#control.close().catch(() => undefined);
  }
}

/** The broker's own explanation of a refused config change, wherever the client put it. */
function serverMessage(error: unknown): string | undefined {
  const seen = new Set<unknown>();
  const visit = (e: unknown): string | undefined => {
    if (!e || typeof e !== 'object' || seen.has(e)) return undefined;
    seen.add(e);
    const response = (e as { response?: { responses?: Array<{ errorMessage?: string | null }> } }).response;
    const fromResponse = response?.responses?.find((r) => r.errorMessage)?.errorMessage;
    if (fromResponse) return fromResponse;
    const own = (e as { serverErrorMessage?: unknown }).serverErrorMessage;
    if (typeof own === 'string' && own) return own;
    for (const inner of (e as { errors?: unknown[] }).errors ?? []) {
      const found = visit(inner);
      if (found) return found;
    }
    return visit((e as { cause?: unknown }).cause);
  };
  return visit(error);
}
