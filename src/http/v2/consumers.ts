/**
 * Confluent REST Proxy v2 consumer instances over HTTP: each operation
 * checks its input as Confluent does and hands it to the instance
 * (consumer-instances.ts). Instances belong to the principal that made them;
 * another principal, like another gateway process, finds none (40403).
 * docs/confluent-v2.md lists what matches Confluent and what differs.
 */
import type { Request } from 'express';
import type { AuthService } from '../../auth/index.js';
import type { Config } from '../../config.js';
import type { ConsumerInstance, ConsumerInstances, EmbeddedFormat, InstanceSettings, PartitionRef } from './consumer-instances.js';
import { GatewayError, checkTopicName, checkedRfc3339 } from '../../common/index.js';
import { principalOf } from '../request-auth.js';
import { negotiate, notAcceptable, sendV2 } from './conventions.js';
import type { Handlers, OperationInput } from '../contract.js';

export interface ConsumerRouteDeps {
  readonly instances: ConsumerInstances;
  readonly auth: AuthService;
  readonly config: Config['consumers'];
}

type CreateBody = NonNullable<OperationInput<'v2CreateConsumer'>['body']>;

const FETCH_MIN_BYTES_MAX = 10_000_000;

function invalidConfig(detail: string): GatewayError {
  return new GatewayError('GW_ERR_INVALID_CONSUMER_CONFIG', `Invalid consumer configuration: ${detail}`);
}

/** An integer setting that Confluent takes as a JSON number or a string of digits. */
function integerSetting(name: string, value: number | string | null | undefined, min: number, max: number): number | undefined {
  if (value === null || value === undefined) return undefined;
  const number = typeof value === 'number' ? value : /^-?\d+$/.test(value.trim()) ? Number(value.trim()) : NaN;
  if (!Number.isInteger(number) || number < min || number > max) throw invalidConfig(`${name} must be a whole number from ${min} to ${max}, not ${JSON.stringify(value)}.`);
  return number;
}

/** The create body as instance settings, refused as Confluent refuses it. */
function settingsOf(body: CreateBody | undefined): InstanceSettings {
  const given = body ?? {};
  const format = (given.format ?? 'binary').toLowerCase();
  if (!(format in RECORD_TYPES)) {
    throw new GatewayError('GW_ERR_VALIDATION', 'Invalid format type.', { errors: [{ pointer: '/format', message: 'must be binary, json, avro, jsonschema or protobuf' }] });
  }
  const reset = (given['auto.offset.reset'] ?? 'latest').toLowerCase();
  if (reset === 'none') throw invalidConfig('auto.offset.reset none is not offered; use earliest or latest.');
  if (reset !== 'earliest' && reset !== 'latest') throw invalidConfig(`Invalid value ${reset} for configuration auto.offset.reset: String must be one of: latest, earliest.`);
  const commit = given['auto.commit.enable'] ?? given['enable.auto.commit'];
  const autoCommit = commit === null || commit === undefined ? true : typeof commit === 'boolean' ? commit : commit.toLowerCase() === 'true' ? true : commit.toLowerCase() === 'false' ? false : undefined;
  if (autoCommit === undefined) throw invalidConfig(`auto.commit.enable must be true or false, not ${JSON.stringify(commit)}.`);
  const fetchMinBytes = integerSetting('fetch.min.bytes', given['fetch.min.bytes'] ?? given.responseMinBytes, -1, FETCH_MIN_BYTES_MAX);
  const requestTimeoutMs = integerSetting('consumer.request.timeout.ms', given['consumer.request.timeout.ms'] ?? given.requestWaitMs, 1, 600_000);
  return {
    name: given.id ?? given.name ?? undefined,
    format: format as EmbeddedFormat,
    autoOffsetReset: reset,
    autoCommit,
    fetchMinBytes: fetchMinBytes === undefined || fetchMinBytes < 0 ? undefined : fetchMinBytes,
    requestTimeoutMs,
  };
}

/** The URL of an instance on this gateway: ADVERTISED_URL when set, else the host the request came to. */
function baseUri(config: Config['consumers'], req: Request, group: string, name: string): string {
  const origin = config.advertisedUrl ?? `${req.protocol}://${req.headers.host ?? 'localhost'}`;
  return `${origin}/consumers/${encodeURIComponent(group)}/instances/${encodeURIComponent(name)}`;
}

const RECORD_TYPES: Readonly<Record<EmbeddedFormat, string>> = {
  binary: 'application/vnd.kafka.binary.v2+json',
  json: 'application/vnd.kafka.json.v2+json',
  avro: 'application/vnd.kafka.avro.v2+json',
  jsonschema: 'application/vnd.kafka.jsonschema.v2+json',
  protobuf: 'application/vnd.kafka.protobuf.v2+json',
};

/**
 * The media type a read answers with: the instance's format, which an
 * Accept without an embedded format (v2's own, v1's, `application/json`, a
 * wildcard) takes too. An Accept that names only the other format is
 * Confluent's 40601.
 */
function recordMediaType(accept: string | undefined, format: EmbeddedFormat): string {
  const own = RECORD_TYPES[format];
  const chosen = negotiate(accept, [own, 'application/vnd.kafka.v2+json', 'application/vnd.kafka.v1+json', 'application/vnd.kafka+json', 'application/json']);
  if (chosen !== undefined) return own;
  if (negotiate(accept, Object.values(RECORD_TYPES).filter((type) => type !== own)) !== undefined) {
    throw new GatewayError('GW_ERR_NOT_ACCEPTABLE', `The requested embedded data format does not match the deserializer for this consumer instance: it reads ${format}; accept ${own}.`);
  }
  throw notAcceptable(accept, [own]);
}

/** The partitions a body names; a topic name Kafka would refuse is refused here (40002), before Kafka is asked about it. */
function partitionsOf(list: ReadonlyArray<{ topic: string; partition: number }> | null | undefined): PartitionRef[] {
  return (list ?? []).map(({ topic, partition }) => ({ topic: checkTopicName(topic), partition }));
}

export function confluentConsumerHandlers({
  instances,
  auth,
  config,
}: ConsumerRouteDeps): Pick<
  Handlers,
  | 'v2CreateConsumer'
  | 'v2DeleteConsumer'
  | 'v2Subscribe'
  | 'v2GetSubscription'
  | 'v2Unsubscribe'
  | 'v2Assign'
  | 'v2GetAssignments'
  | 'v2ReadRecords'
  | 'v2CommitOffsets'
  | 'v2GetCommittedOffsets'
  | 'v2Seek'
  | 'v2SeekToBeginning'
  | 'v2SeekToEnd'
> {
  /** Runs `work` on the caller's instance, after the instance's earlier requests. */
  const withInstance = <T>(input: { path: { group: string; instance: string }; res: Parameters<typeof principalOf>[0] }, work: (instance: ConsumerInstance) => Promise<T>) => {
    const instance = instances.get(input.path.group, input.path.instance, principalOf(input.res).name);
    return instance.run(() => work(instance));
  };
  const mayRead = (res: Parameters<typeof principalOf>[0], topics: Iterable<string>) => {
    for (const topic of topics) auth.authorize(principalOf(res), 'consume', topic);
  };
  return {
    v2CreateConsumer: ({ path, body, req, res }) => {
      const settings = settingsOf(body ?? undefined);
      const instance = instances.create(path.group, principalOf(res).name, settings);
      sendV2(res, 200, { instance_id: instance.name, base_uri: baseUri(config, req, path.group, instance.name) });
    },
    v2DeleteConsumer: async ({ path, res }) => {
      await instances.delete(path.group, path.instance, principalOf(res).name);
      res.status(204).end();
    },
    v2Subscribe: async (input) => {
      // The schema's anyOf/not (one of the two, not both) types the body as a union; its properties are these two.
      const { topics, topic_pattern: pattern } = input.body as { topics?: string[] | null; topic_pattern?: string | null };
      if ((topics === null || topics === undefined) === (pattern === null || pattern === undefined)) {
        throw new GatewayError('GW_ERR_VALIDATION', 'A subscription names either topics or a topic_pattern.', { errors: [{ pointer: '', message: 'must have topics or topic_pattern, not both' }] });
      }
      if (topics) mayRead(input.res, topics);
      // A pattern is resolved against the topics as they are, and takes only those the caller may read.
      const principal = principalOf(input.res);
      await withInstance(input, (instance) => instance.subscribe(topics ?? undefined, pattern ?? undefined, (topic) => auth.allows(principal, 'consume', topic)));
      input.res.status(204).end();
    },
    v2GetSubscription: (input) => withInstance(input, async (instance) => sendV2(input.res, 200, { topics: instance.subscription })),
    v2Unsubscribe: async (input) => {
      await withInstance(input, (instance) => instance.unsubscribe());
      input.res.status(204).end();
    },
    v2Assign: async (input) => {
      const partitions = partitionsOf(input.body.partitions);
      mayRead(input.res, new Set(partitions.map((p) => p.topic)));
      await withInstance(input, (instance) => instance.assign(partitions));
      input.res.status(204).end();
    },
    v2GetAssignments: (input) => withInstance(input, async (instance) => sendV2(input.res, 200, { partitions: instance.assignment })),
    v2ReadRecords: (input) =>
      withInstance(input, async (instance) => {
        const mediaType = recordMediaType(input.req.headers.accept, instance.settings.format);
        const longest = instance.settings.requestTimeoutMs ?? config.requestTimeoutMs;
        const asked = input.query.timeout;
        const timeoutMs = asked !== undefined && asked > 0 ? Math.min(asked, longest) : longest;
        const maxBytes = input.query.max_bytes !== undefined && input.query.max_bytes > 0 ? Math.min(input.query.max_bytes, config.requestMaxBytes) : config.requestMaxBytes;
        const answer = await instance.read(timeoutMs, maxBytes);
        // The answer is UTF-8 bytes already; labelled as express labels a text answer.
        input.res.status(200).set('Content-Type', `${mediaType}; charset=utf-8`).send(answer.toBuffer());
      }),
    v2CommitOffsets: async (input) => {
      const offsets = input.body?.offsets?.map(({ topic, partition, offset }) => ({ topic: checkTopicName(topic), partition, offset: BigInt(offset) }));
      await withInstance(input, (instance) => instance.commit(offsets));
      sendV2(input.res, 200, []);
    },
    v2GetCommittedOffsets: (input) =>
      withInstance(input, async (instance) => {
        const partitions = partitionsOf(input.body.partitions);
        // The group's commits for a topic are the topic's to show: only to those who may read it.
        mayRead(input.res, new Set(partitions.map((p) => p.topic)));
        const offsets = await instance.committed(partitions);
        sendV2(input.res, 200, { offsets: offsets.map(({ topic, partition, offset }) => ({ topic, partition, offset, metadata: '' })) });
      }),
    v2Seek: async (input) => {
      const { offsets, timestamps } = input.body;
      await withInstance(input, async (instance) => {
        const moves = (offsets ?? []).map(({ topic, partition, offset }) => ({ topic: checkTopicName(topic), partition, to: BigInt(offset) as bigint | 'beginning' | 'end' }));
        if (timestamps?.length) {
          for (const { topic, partition, timestamp } of timestamps) moves.push({ topic, partition, to: await instance.offsetAt(checkTopicName(topic), partition, checkedRfc3339(timestamp)) });
        }
        await instance.seek(moves);
      });
      input.res.status(204).end();
    },
    v2SeekToBeginning: async (input) => {
      await withInstance(input, (instance) => instance.seek(partitionsOf(input.body.partitions).map((p) => ({ ...p, to: 'beginning' as const }))));
      input.res.status(204).end();
    },
    v2SeekToEnd: async (input) => {
      await withInstance(input, (instance) => instance.seek(partitionsOf(input.body.partitions).map((p) => ({ ...p, to: 'end' as const }))));
      input.res.status(204).end();
    },
  };
}
