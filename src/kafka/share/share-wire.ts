/**
 * The share group requests of KIP-932, written and read on
 * @platformatic/kafka's protocol layer: the client (2.12) has no share
 * consumer and no definitions for these APIs, so the gateway speaks them
 * itself over the client's connections, as it does Produce and Metadata.
 *
 * Layouts follow Kafka's message definitions (clients/src/main/resources/
 * common/message/*.json) at the versions named below; every version here
 * is flexible (compact strings and arrays, tagged fields after each struct).
 * Answers are returned whole, error codes included: the caller decides per
 * partition what an error means, so nothing here throws for a Kafka error.
 */
import { Reader, Writer, readRecordsBatches, type Connection, type RecordsBatch } from '@platformatic/kafka';

export const SHARE_API = { heartbeat: 76, describe: 77, fetch: 78, acknowledge: 79, describeOffsets: 90 } as const;

/** Acknowledge types as the protocol numbers them. */
export const ACK_TYPE = { gap: 0, accept: 1, release: 2, reject: 3, renew: 4 } as const;
export type AckTypeName = Exclude<keyof typeof ACK_TYPE, 'gap'>;

export interface WireBroker {
  readonly nodeId: number;
  readonly host: string;
  readonly port: number;
}

/** Sends one request and resolves with the parsed answer; a parse failure or lost connection rejects. */
function send<T>(connection: Connection, apiKey: number, version: number, request: () => Writer, parse: (reader: Reader) => T): Promise<T> {
  return new Promise((resolve, reject) => {
    connection.send(
      apiKey,
      version,
      request,
      (_correlationId: number, _key: number, _version: number, reader: Reader) => parse(reader),
      true,
      true,
      (error: Error | null, response?: unknown) => (error ? reject(error) : resolve(response as T)),
    );
  });
}

const int32s = (w: Writer, values: readonly number[]) => w.appendArray([...values], (inner, v) => inner.appendInt32(v), true, false);
const readInt32s = (r: Reader) => r.readArray((inner) => inner.readInt32(), true, false);

// ---------------------------------------------------------------- ShareGroupHeartbeat v1

export interface HeartbeatAnswer {
  readonly errorCode: number;
  readonly errorMessage: string | null;
  readonly memberId: string | null;
  readonly memberEpoch: number;
  readonly heartbeatIntervalMs: number;
  /** Null when the assignment did not change. */
  readonly assignment: ReadonlyArray<{ topicId: string; partitions: number[] }> | null;
}

/** Joins (epoch 0), heartbeats, or leaves (epoch -1). `topics` null when unchanged since the last heartbeat. */
export function shareGroupHeartbeat(connection: Connection, groupId: string, memberId: string, memberEpoch: number, topics: readonly string[] | null): Promise<HeartbeatAnswer> {
  return send(
    connection,
    SHARE_API.heartbeat,
    1,
    () =>
      Writer.create()
        .appendString(groupId)
        .appendString(memberId)
        .appendInt32(memberEpoch)
        .appendString(null)
        .appendArray(topics === null ? null : [...topics], (w, t) => w.appendString(t), true, false)
        .appendTaggedFields(),
    (r) => {
      const answer: HeartbeatAnswer = {
        errorCode: (r.readInt32(), r.readInt16()),
        errorMessage: r.readNullableString(),
        memberId: r.readNullableString(),
        memberEpoch: r.readInt32(),
        heartbeatIntervalMs: r.readInt32(),
        assignment:
          r.readNullableStruct(() => {
            const list = r.readArray((inner) => ({ topicId: inner.readUUID(), partitions: readInt32s(inner) }));
            r.readTaggedFields();
            return list;
          }) ?? null,
      };
      r.readTaggedFields();
      return answer;
    },
  );
}

// ---------------------------------------------------------------- ShareFetch v1/v2 and ShareAcknowledge v1/v2

export interface AckBatch {
  readonly firstOffset: bigint;
  readonly lastOffset: bigint;
  /** One type for the whole range, or one per offset. */
  readonly types: readonly number[];
}

export interface PartitionAcks {
  readonly topicId: string;
  readonly partition: number;
  readonly batches: readonly AckBatch[];
}

export interface AcquiredRange {
  readonly firstOffset: bigint;
  readonly lastOffset: bigint;
  readonly deliveryCount: number;
}

export interface SharePartitionAnswer {
  readonly topicId: string;
  readonly partition: number;
  readonly errorCode: number;
  readonly errorMessage: string | null;
  readonly acknowledgeErrorCode: number;
  readonly acknowledgeErrorMessage: string | null;
  readonly leaderId: number;
  readonly batches: readonly RecordsBatch[];
  readonly acquired: readonly AcquiredRange[];
}

export interface ShareFetchAnswer {
  readonly errorCode: number;
  readonly errorMessage: string | null;
  readonly lockTimeoutMs: number;
  readonly partitions: readonly SharePartitionAnswer[];
  readonly brokers: readonly WireBroker[];
}

export interface ShareFetchRequest {
  readonly groupId: string;
  readonly memberId: string;
  readonly epoch: number;
  readonly maxWaitMs: number;
  readonly maxBytes: number;
  readonly maxRecords: number;
  /** Partitions to fetch from, each with the acknowledgements that ride along. */
  readonly partitions: ReadonlyArray<{ topicId: string; partition: number; batches: readonly AckBatch[] }>;
  /** Partitions this session no longer fetches. */
  readonly forget: ReadonlyArray<{ topicId: string; partition: number }>;
}

function byTopic<T extends { topicId: string }>(items: readonly T[]): Array<[string, T[]]> {
  const grouped = new Map<string, T[]>();
  for (const item of items) {
    let list = grouped.get(item.topicId);
    if (!list) grouped.set(item.topicId, (list = []));
    list.push(item);
  }
  return [...grouped];
}

function writeAckBatches(w: Writer, batches: readonly AckBatch[]): Writer {
  return w.appendArray([...batches], (inner, b) =>
    inner
      .appendInt64(b.firstOffset)
      .appendInt64(b.lastOffset)
      .appendArray([...b.types], (t, type) => t.appendInt8(type), true, false),
  );
}

/** One topic's entry of a ShareFetch or ShareAcknowledge request: its id, then each partition's acknowledgements. */
function writeTopicAcks(w: Writer, [topicId, partitions]: [string, ReadonlyArray<{ partition: number; batches: readonly AckBatch[] }>]): Writer {
  return w.appendUUID(topicId).appendArray([...partitions], (pw, p) => writeAckBatches(pw.appendInt32(p.partition), p.batches));
}

function readBrokers(r: Reader): WireBroker[] {
  return r.readArray((inner) => {
    const broker = { nodeId: inner.readInt32(), host: inner.readString(), port: inner.readInt32() };
    inner.readNullableString();
    return broker;
  });
}

/** A v2 request saying whether a renew is among its acknowledgements, which the broker wants flagged. */
const hasRenew = (batches: readonly AckBatch[]) => batches.some((b) => b.types.includes(ACK_TYPE.renew));

export function shareFetch(connection: Connection, version: number, request: ShareFetchRequest): Promise<ShareFetchAnswer> {
  const renew = hasRenew(request.partitions.flatMap((p) => p.batches));
  return send(
    connection,
    SHARE_API.fetch,
    version,
    () => {
      const w = Writer.create()
        .appendString(request.groupId)
        .appendString(request.memberId)
        .appendInt32(request.epoch)
        .appendInt32(request.maxWaitMs)
        .appendInt32(1)
        .appendInt32(request.maxBytes)
        .appendInt32(request.maxRecords)
        .appendInt32(request.maxRecords);
      // Record-limit acquire mode: the broker hands out at most maxRecords, so a client's credit bounds what it holds.
      if (version >= 2) w.appendInt8(1).appendBoolean(renew);
      return w
        .appendArray(byTopic(request.partitions), writeTopicAcks)
        .appendArray(byTopic(request.forget), (fw, [topicId, partitions]) =>
          int32s(
            fw.appendUUID(topicId),
            partitions.map((p) => p.partition),
          ),
        )
        .appendTaggedFields();
    },
    (r) => {
      r.readInt32();
      const errorCode = r.readInt16();
      const errorMessage = r.readNullableString();
      const lockTimeoutMs = r.readInt32();
      const partitions: SharePartitionAnswer[] = [];
      r.readArray((tr) => {
        const topicId = tr.readUUID();
        tr.readArray((pr) => {
          const partition = pr.readInt32();
          const pErrorCode = pr.readInt16();
          const pErrorMessage = pr.readNullableString();
          const acknowledgeErrorCode = pr.readInt16();
          const acknowledgeErrorMessage = pr.readNullableString();
          const leaderId = pr.readInt32();
          pr.readInt32();
          pr.readTaggedFields();
          // COMPACT_RECORDS: length + 1, 0 for null.
          let size = pr.readUnsignedVarInt();
          let batches: RecordsBatch[] = [];
          if (size > 1) {
            size -= 1;
            batches = readRecordsBatches(Reader.from(pr.buffer.subarray(pr.position, pr.position + size)));
            pr.skip(size);
          }
          const acquired = pr.readArray((ar) => ({ firstOffset: ar.readInt64(), lastOffset: ar.readInt64(), deliveryCount: ar.readInt16() }));
          partitions.push({ topicId, partition, errorCode: pErrorCode, errorMessage: pErrorMessage, acknowledgeErrorCode, acknowledgeErrorMessage, leaderId, batches, acquired });
        });
      });
      const brokers = readBrokers(r);
      r.readTaggedFields();
      return { errorCode, errorMessage, lockTimeoutMs, partitions, brokers };
    },
  );
}

export interface ShareAcknowledgeAnswer {
  readonly errorCode: number;
  readonly errorMessage: string | null;
  readonly partitions: ReadonlyArray<{ topicId: string; partition: number; errorCode: number; errorMessage: string | null; leaderId: number }>;
  readonly brokers: readonly WireBroker[];
}

export function shareAcknowledge(connection: Connection, version: number, groupId: string, memberId: string, epoch: number, acks: readonly PartitionAcks[]): Promise<ShareAcknowledgeAnswer> {
  const renew = hasRenew(acks.flatMap((a) => a.batches));
  return send(
    connection,
    SHARE_API.acknowledge,
    version,
    () => {
      const w = Writer.create().appendString(groupId).appendString(memberId).appendInt32(epoch);
      if (version >= 2) w.appendBoolean(renew);
      return w
        .appendArray(byTopic(acks), writeTopicAcks)
        .appendTaggedFields();
    },
    (r) => {
      r.readInt32();
      const errorCode = r.readInt16();
      const errorMessage = r.readNullableString();
      if (version >= 2) r.readInt32();
      const partitions: Array<{ topicId: string; partition: number; errorCode: number; errorMessage: string | null; leaderId: number }> = [];
      r.readArray((tr) => {
        const topicId = tr.readUUID();
        tr.readArray((pr) => {
          const partition = pr.readInt32();
          const pErrorCode = pr.readInt16();
          const pErrorMessage = pr.readNullableString();
          const leaderId = pr.readInt32();
          pr.readInt32();
          pr.readTaggedFields();
          partitions.push({ topicId, partition, errorCode: pErrorCode, errorMessage: pErrorMessage, leaderId });
        });
      });
      const brokers = readBrokers(r);
      r.readTaggedFields();
      return { errorCode, errorMessage, partitions, brokers };
    },
  );
}

// ---------------------------------------------------------------- ShareGroupDescribe v1, DescribeShareGroupOffsets v1

export interface DescribedShareGroup {
  readonly errorCode: number;
  readonly errorMessage: string | null;
  readonly groupId: string;
  readonly state: string;
  readonly groupEpoch: number;
  readonly assignmentEpoch: number;
  readonly members: ReadonlyArray<{
    memberId: string;
    memberEpoch: number;
    clientId: string;
    clientHost: string;
    subscribedTopics: string[];
    assignment: Array<{ topicId: string; topic: string; partitions: number[] }>;
  }>;
}

export function shareGroupDescribe(connection: Connection, groupIds: readonly string[]): Promise<DescribedShareGroup[]> {
  return send(
    connection,
    SHARE_API.describe,
    1,
    () =>
      Writer.create()
        .appendArray([...groupIds], (w, g) => w.appendString(g), true, false)
        .appendBoolean(false)
        .appendTaggedFields(),
    (r) => {
      r.readInt32();
      const groups = r.readArray((gr) => {
        const errorCode = gr.readInt16();
        const errorMessage = gr.readNullableString();
        const groupId = gr.readString();
        const state = gr.readString();
        const groupEpoch = gr.readInt32();
        const assignmentEpoch = gr.readInt32();
        gr.readString();
        const members = gr.readArray((mr) => {
          const memberId = mr.readString();
          mr.readNullableString();
          const memberEpoch = mr.readInt32();
          const clientId = mr.readString();
          const clientHost = mr.readString();
          const subscribedTopics = mr.readArray((sr) => sr.readString(), true, false);
          const assignment = mr.readArray((ar) => ({ topicId: ar.readUUID(), topic: ar.readString(), partitions: readInt32s(ar) }));
          mr.readTaggedFields();
          return { memberId, memberEpoch, clientId, clientHost, subscribedTopics, assignment };
        });
        gr.readInt32();
        return { errorCode, errorMessage, groupId, state, groupEpoch, assignmentEpoch, members };
      });
      r.readTaggedFields();
      return groups;
    },
  );
}

export interface ShareGroupOffsets {
  readonly errorCode: number;
  readonly topics: ReadonlyArray<{ topic: string; partitions: Array<{ partition: number; startOffset: bigint; lag: bigint; errorCode: number }> }>;
}

/** Every topic the group has state for when `topics` is null. */
export function describeShareGroupOffsets(connection: Connection, version: number, groupId: string, topics: ReadonlyArray<{ topic: string; partitions: number[] }> | null): Promise<ShareGroupOffsets> {
  return send(
    connection,
    SHARE_API.describeOffsets,
    version,
    () =>
      Writer.create()
        .appendArray([groupId], (w, g) =>
          w.appendString(g).appendArray(topics === null ? null : [...topics], (tw, t) => int32s(tw.appendString(t.topic), t.partitions)),
        )
        .appendTaggedFields(),
    (r) => {
      r.readInt32();
      const groups = r.readArray((gr) => {
        gr.readString();
        const topicList = gr.readArray((tr) => {
          const topic = tr.readString();
          tr.readUUID();
          const partitions = tr.readArray((pr) => {
            const partition = pr.readInt32();
            const startOffset = pr.readInt64();
            pr.readInt32();
            const lag = version >= 1 ? pr.readInt64() : -1n;
            const errorCode = pr.readInt16();
            pr.readNullableString();
            return { partition, startOffset, lag, errorCode };
          });
          return { topic, partitions };
        });
        const errorCode = gr.readInt16();
        gr.readNullableString();
        return { errorCode, topics: topicList };
      });
      r.readTaggedFields();
      return groups[0] ?? { errorCode: 0, topics: [] };
    },
  );
}
