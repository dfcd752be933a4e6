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
import { Consumer, kMetadata, type GroupPartitionsAssigner, type GroupPartitionsAssignments } from '@platformatic/kafka';

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
 * The client's Consumer, for a member that may lead a classic group. The
 * leader asks metadata for every topic any member subscribed to, and the
 * client answers a topic it keeps out of its cache (Kafka's internal ones,
 * `__consumer_offsets` and the like) with a hole; it then reads each
 * topic's partition count before calling the assignor, and a hole there is
 * a TypeError inside a socket callback: any other client of the group
 * subscribed to such a topic ended the gateway. Holes are answered as
 * topics with no partitions, which nobody is then given.
 */
export class ClassicConsumer extends Consumer {
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
