/**
 * The leader's half of the classic group protocol's `roundrobin` assignor,
 * computed as Kafka's RoundRobinAssignor computes it, so a group gets the
 * same split whether a gateway member, a Java or a librdkafka consumer leads.
 *
 * The client's own assignor walks only the leader's topics and deals their
 * partitions to every member, subscribed or not: in a group whose members
 * read different topics, a member was handed partitions it never asked for
 * (and read nothing) while the partitions of topics only others read went
 * to nobody. Here every member gets partitions of its own topics only, and
 * every partition of every subscribed topic goes to exactly one member.
 *
 * It runs inside the client's socket callback, where a throw ends the
 * process, so it is total. A topic the leader has no metadata for is left
 * unassigned, as Kafka's assignors leave a topic they cannot see: Kafka's
 * internal topics, which the client's metadata cache leaves out, are such
 * topics for a gateway member, and another client in the group may well
 * subscribe to one (`ClassicConsumer` keeps that from ending the process
 * before the assignor even runs).
 */
import {
  Consumer,
  decodeConsumerProtocolAssignment,
  decodeConsumerProtocolSubscription,
  encodeConsumerProtocolAssignment,
  encodeConsumerProtocolSubscription,
  kGetApi,
  kMetadata,
  type API,
  type Callback,
  type GroupPartitionsAssigner,
  type GroupPartitionsAssignments,
} from '@platformatic/kafka';
import { decodes, mendedApi } from '../client/index.js';

/** The protocol name members offer in JoinGroup; every classic client knows it by this name. */
export const ROUNDROBIN = 'roundrobin';

/** One member's partitions of one topic, in order. */
export interface AssignedPartitions {
  readonly topic: string;
  readonly partitions: number[];
}

export interface MemberSubscription {
  readonly memberId: string;
  readonly topics: readonly string[];
}

/**
 * Each member's partitions, by member id (every member is there, possibly
 * with none). Members in member id order and the union of the subscribed
 * topics in name order (both by UTF-16 code units, as Java compares
 * strings) are laid out once; each topic's partitions, in order, go round
 * them, skipping members not subscribed to that topic.
 */
export function assignRoundRobin(members: readonly MemberSubscription[], partitionCount: (topic: string) => number | undefined): Map<string, AssignedPartitions[]> {
  const ordered = [...members].sort((a, b) => byCodeUnits(a.memberId, b.memberId));
  const subscribed = ordered.map((member) => new Set(member.topics));
  const topics = [...new Set(ordered.flatMap((member) => member.topics))].sort(byCodeUnits);
  const held = ordered.map(() => new Map<string, number[]>());
  let next = 0;
  for (const topic of topics) {
    const count = partitionCount(topic);
    if (count === undefined || !Number.isInteger(count) || count <= 0) continue;
    for (let partition = 0; partition < count; partition++) {
      // The topic comes from some member's subscription, so this stops within one turn of the members.
      while (!subscribed[next % ordered.length]!.has(topic)) next++;
      const mine = held[next % ordered.length]!;
      const list = mine.get(topic) ?? [];
      list.push(partition);
      mine.set(topic, list);
      next++;
    }
  }
  return new Map(ordered.map((member, i) => [member.memberId, [...held[i]!].map(([topic, partitions]) => ({ topic, partitions }))]));
}

/** assignRoundRobin in the shape of the client's `partitionAssigner` option. */
export const roundRobinAssigner: GroupPartitionsAssigner = (_leader, members, _leaderTopics, metadata) => {
  const subscriptions = [...members.values()].map((member) => ({
    memberId: member.memberId,
    topics: (member.topics ?? []).filter((topic): topic is string => typeof topic === 'string'),
  }));
  const assignment = assignRoundRobin(subscriptions, (topic) => metadata.topics.get(topic)?.partitionsCount);
  return [...assignment].map(
    ([memberId, held]): GroupPartitionsAssignments => ({
      memberId,
      assignments: new Map(held.map(({ topic, partitions }) => [topic, { topic, partitions: [...partitions] }])),
    }),
  );
};

function byCodeUnits(a: string, b: string): number {
  if (a === b) return 0;
  return a < b ? -1 : 1;
}

/**
 * The client's Consumer, for a member of a classic group that other
 * clients share. What they put in the group reaches this member in answers
 * the client decodes inside socket callbacks, where a throw ends the
 * process; these are mended before the client reads them.
 *
 * - The leader asks metadata for every topic any member subscribed to, and
 *   the client answers a topic it keeps out of its cache (Kafka's internal
 *   ones, `__consumer_offsets` and the like) with a hole; it then reads each
 *   topic's partition count before calling the assignor, and a hole there
 *   was a TypeError. Holes are answered as topics without partitions, which
 *   nobody is then given.
 * - The leader decodes every member's subscription from the JoinGroup
 *   answer; bytes that are no subscription threw `Out of bounds`. Such a
 *   member is read as subscribed to nothing, and given nothing.
 * - Every member decodes its assignment from the SyncGroup answer, written
 *   by whichever client leads; one that cannot be read is taken as no
 *   partitions (the member then delivers nothing rather than guessing).
 */
export class ClassicConsumer extends Consumer {
  override [kGetApi]<RequestArguments extends Array<unknown>, ResponseType>(name: string, callback: Callback<API<RequestArguments, ResponseType>>): void {
    super[kGetApi]<RequestArguments, ResponseType>(name, (error, api) => {
      if (error || !api) callback(error, api);
      // The casts name the answer each request has; the client picks the version, whose answers share these fields.
      else if (name === 'JoinGroup') callback(null, mendedApi(api, (answer) => mendJoinGroup(answer as JoinGroupAnswer)));
      else if (name === 'SyncGroup') callback(null, mendedApi(api, (answer) => mendSyncGroup(answer as SyncGroupAnswer)));
      else callback(null, api);
    });
  }

  override [kMetadata](...[options, callback]: Parameters<Consumer[typeof kMetadata]>): void {
    super[kMetadata](options, (error, metadata) => {
      if (metadata) {
        for (const [topic, found] of metadata.topics) {
          if (!found) metadata.topics.set(topic, { id: '', partitions: [], partitionsCount: 0, lastUpdate: metadata.lastUpdate });
        }
      }
      callback(error, metadata);
    });
  }
}

/** What is mended in a JoinGroup answer, in every version the client speaks. */
interface JoinGroupAnswer {
  members?: Array<{ metadata: Buffer }>;
}

/** What is mended in a SyncGroup answer, in every version the client speaks. */
interface SyncGroupAnswer {
  assignment: Buffer;
}

const NO_SUBSCRIPTION = encodeConsumerProtocolSubscription({ version: 0, topics: [] });
const NO_ASSIGNMENT = encodeConsumerProtocolAssignment({ version: 0, assignedPartitions: [], userData: null });

function mendJoinGroup(answer: JoinGroupAnswer): void {
  for (const member of answer.members ?? []) {
    if (!decodes(() => decodeConsumerProtocolSubscription(member.metadata))) member.metadata = NO_SUBSCRIPTION;
  }
}

function mendSyncGroup(answer: SyncGroupAnswer): void {
  if (!decodes(() => decodeConsumerProtocolAssignment(answer.assignment))) answer.assignment = NO_ASSIGNMENT;
}

